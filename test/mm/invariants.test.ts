/**
 * The `quiescent` invariant (src/mm/invariants.ts): at a point where no task runs, no CPU holds a
 * spinlock or sits in an RCU read-side or IRQ-off section, no rw-semaphore is held, and every
 * callback call_rcu() queued has run exactly once. The explorer checks it at the end of every
 * execution (a `leak` violation), `ptlab run --check` after every op. With it, the mapcounts
 * invariant's other half: an anonymous folio holds no reference beyond its mappings.
 */
import { describe, expect, it } from 'vitest';
import { checkInvariants } from '../../src/mm/invariants.js';
import { createKernel, createProcess, quiesce } from '../../src/mm/kernel.js';
import { resolveConfig } from '../../src/mm/config.js';
import { callRcu } from '../../src/mm/rcu.js';
import { PT_ANON } from '../../src/mm/page_alloc.js';

const quiescentFailures = (k: ReturnType<typeof createKernel>) => checkInvariants(k).filter((f) => f.invariant === 'quiescent').map((f) => f.message);

describe('the quiescent invariant', () => {
  it('holds for a fresh kernel with a process', () => {
    const k = createKernel(resolveConfig({}));
    createProcess(k, 'P');
    expect(quiescentFailures(k)).toEqual([]);
  });

  it('names a CPU left in an RCU reader, with interrupts off, or holding a spinlock', () => {
    const k = createKernel(resolveConfig({}));
    k.cpus[1].rcuNesting = 1;
    k.cpus[0].irqDisabled = 1;
    k.cpus[1].held.push(7);
    const got = quiescentFailures(k);
    expect(got).toContain('CPU 1 is still inside an RCU read-side section (nesting 1)');
    expect(got).toContain('CPU 0 still has interrupts off (depth 1)');
    expect(got).toContain('CPU 1 still holds 1 spinlock(s): 7');
  });

  it('names an mmap_lock still held, reader or writer', () => {
    const k = createKernel(resolveConfig({}));
    const mm = createProcess(k, 'P');
    mm.mmapLock.readers = 1;
    expect(quiescentFailures(k)).toEqual(['mm P: mmap_lock is still held (1 reader(s))']);
    mm.mmapLock.readers = 0;
    mm.mmapLock.writer = 2;
    expect(quiescentFailures(k)).toEqual(['mm P: mmap_lock is still held (0 reader(s), writer CPU 1)']);
  });

  it('wants every queued RCU callback run, and run once', () => {
    const k = createKernel(resolveConfig({}));
    let runs = 0;
    callRcu(k.rcu, k.cpus, 'tlb_remove_table_rcu', () => runs++);
    expect(quiescentFailures(k)).toEqual(['1 RCU callback(s) still queued: tlb_remove_table_rcu']);
    quiesce(k);
    expect(runs).toBe(1);
    expect(quiescentFailures(k)).toEqual([]);
    // A callback that ran twice (or was dropped from the queue without running) unbalances the count.
    k.rcu.completed++;
    expect(quiescentFailures(k)).toEqual(['call_rcu() queued 1 callbacks, 0 pending, but 2 ran']);
  });
});

describe('an anonymous folio at a quiescent point', () => {
  it('holds exactly one reference per mapping: an extra one is a leak (mapcounts)', () => {
    const k = createKernel(resolveConfig({}));
    const pfn = k.mem.allocPages(0, PT_ANON); // a reference nobody maps or puts
    const got = checkInvariants(k).filter((f) => f.invariant === 'mapcounts').map((f) => f.message);
    expect(got).toEqual([`anonymous folio ${pfn}: refcount 1 above its 0 mappings (a reference leaked)`]);
  });
});
