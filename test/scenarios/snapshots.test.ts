/**
 * The kernel snapshots of an explorer trace are bounded: a setup of a thousand page tables and a
 * trace of 10,000 steps held a snapshot of every table at every step (gigabytes, issue 15).
 */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenarios/format.js';
import { replayScenario } from '../../src/scenarios/run.js';
import { MAX_TRACE_SNAPSHOT_TABLES } from '../../src/scenarios/system.js';

const TEXT = [
  'scenario big',
  'about a thousand tables, and a path that runs past the step limit',
  'guard reclaim-range-check',
  'violation none',
  'process P',
  'map M1 anon private 1T',
  'map M2 anon private 4M',
  'touch M1 0 1T write every=1G',
  'cpu 0 touch M2 64K 2M write',
].join('\n');

describe('explorer trace snapshots', () => {
  const r = parseScenario(TEXT + '\n', 'big.scn');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const scn = r.scenario;
  type Snap = { processes: { tables: unknown[]; offTree: unknown[] }[] };
  const tables = (s: unknown) => (s as Snap).processes.reduce((n, p) => n + p.tables.length + p.offTree.length, 0);

  it('describe at most MAX_TRACE_SNAPSHOT_TABLES tables in all, plus one snapshot; the later steps have none', () => {
    const res = replayScenario(scn, '0*10000');
    expect(res.status).toBe('step-limit');
    if (res.status !== 'step-limit') return;
    const trace = res.overrun.trace!;
    expect(trace).toHaveLength(10_000);
    const snaps = trace.map((s) => s.snapshot).filter((s) => s !== undefined);
    expect(snaps.length).toBeGreaterThan(0);
    expect(snaps.length).toBeLessThan(trace.length);
    let total = 0;
    for (const s of snaps) total += tables(s);
    expect(total).toBeLessThan(MAX_TRACE_SNAPSHOT_TABLES + tables(snaps[snaps.length - 1]) + 1);
  });

  it('take none when asked for none (text output)', () => {
    const res = replayScenario(scn, '0*10000', [], { snapshots: false });
    expect(res.status === 'step-limit' && res.overrun.trace!.every((s) => s.snapshot === undefined)).toBe(true);
  });
});
