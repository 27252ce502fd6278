/**
 * The footprints of RCU boundaries (src/scenarios/footprint.ts, docs/explorer.md "Dependencies"):
 * what another CPU can see of a CPU's readers is whether it is inside one (call_rcu() reads that)
 * and whether the reader a callback waits for has ended (the grace period reads that). Nested
 * boundaries and a CPU's later readers change neither, so DPOR may treat them as independent; the
 * boundaries that do change them must stay dependent, or a grace period could be moved past the
 * exit it waits for. Soundness on whole scenarios is test/scenarios/soundness.test.ts's job.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mm/api.js';
import { resolveConfig } from '../../src/mm/config.js';
import { setCurrent } from '../../src/mm/current.js';
import { callRcu, rcuCallbackReady } from '../../src/mm/rcu.js';
import { irqOff, irqOn, rcuEnter, rcuExit } from '../../src/mm/sync.js';
import { dependent } from '../../src/explore/dpor.js';
import { footprint, gracePeriodFootprint, type Footprint } from '../../src/scenarios/footprint.js';

const k = (): api.Kernel => api.createKernel(resolveConfig());
const fp = (kern: api.Kernel, cpu: number, op: 'rcu+' | 'rcu-' | 'irq-' | 'irq+'): Footprint => footprint({ op }, kern.cpus[cpu], kern);
const callRcuFp = (kern: api.Kernel, cpu: number): Footprint => footprint({ op: 'call-rcu', tables: [] }, kern.cpus[cpu], kern);

describe('footprints of RCU read-side boundaries', () => {
  it("a nested rcu_read_lock() is independent of call_rcu(); the outermost one is not; the outermost unlock commutes with it", () => {
    const kern = k();
    setCurrent(kern, 1);
    expect(dependent(fp(kern, 1, 'rcu+'), callRcuFp(kern, 0))).toBe(true);
    rcuEnter();
    expect(dependent(fp(kern, 1, 'rcu+'), callRcuFp(kern, 0))).toBe(false);
    rcuEnter();
    expect(dependent(fp(kern, 1, 'rcu-'), callRcuFp(kern, 0))).toBe(false); // leaves the inner one
    rcuExit();
    // The end of the reader: a callback queued just before it waits for a reader that ends at
    // once, so it is as ready after the exit as one queued after it (footprint.ts outermost()).
    expect(dependent(fp(kern, 1, 'rcu-'), callRcuFp(kern, 0))).toBe(false);
    callRcu(kern.rcu, kern.cpus, 'before', () => {});
    expect(rcuCallbackReady(kern.rcu.pending[0], kern.cpus)).toBe(false);
    rcuExit();
    callRcu(kern.rcu, kern.cpus, 'after', () => {});
    expect(kern.rcu.pending.map((cb) => rcuCallbackReady(cb, kern.cpus))).toEqual([true, true]);
  });

  it('interrupts off count as a reader: its beginning is dependent with call_rcu(), an rcu_read_lock() inside and the end are not', () => {
    const kern = k();
    setCurrent(kern, 1);
    expect(dependent(fp(kern, 1, 'irq-'), callRcuFp(kern, 0))).toBe(true);
    irqOff();
    expect(dependent(fp(kern, 1, 'rcu+'), callRcuFp(kern, 0))).toBe(false);
    rcuEnter();
    // Interrupts on again with the RCU section still open: still inside a reader, but an IPI can now land.
    const on = fp(kern, 1, 'irq+');
    expect(dependent(on, callRcuFp(kern, 0))).toBe(false);
    expect(on.writes.length).toBe(1);
    irqOn();
    expect(dependent(fp(kern, 1, 'rcu-'), callRcuFp(kern, 0))).toBe(false); // ends the reader: commutes
    expect(fp(kern, 1, 'rcu-').writes.length).toBe(1); // the end of the reader, which the grace period reads
    rcuExit();
  });

  it('the grace period depends on the end of the reader it waits for, and not on the readers after it', () => {
    const kern = k();
    setCurrent(kern, 1);
    rcuEnter();
    callRcu(kern.rcu, kern.cpus, 'cb', () => {});
    const gp = gracePeriodFootprint(kern);
    expect(dependent(fp(kern, 1, 'rcu-'), gp)).toBe(true); // the exit that lets the callback run
    rcuExit();
    expect(dependent(gracePeriodFootprint(kern), gp)).toBe(true); // the same objects: both read the ended reader
    expect(dependent(fp(kern, 1, 'rcu+'), gracePeriodFootprint(kern))).toBe(false); // a later reader
    rcuEnter();
    expect(dependent(fp(kern, 1, 'rcu-'), gracePeriodFootprint(kern))).toBe(false); // and its end
    rcuExit();
  });
});
