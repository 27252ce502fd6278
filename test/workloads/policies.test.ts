/**
 * Purge policies rewrite a trace's purges; round-out and coalesce must keep what is resident at
 * the end (the same pages present, so the same RSS) while changing how many PTE tables survive.
 * Seeds are drawn by fast-check, so the claim is checked on many heaps, not one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GENERATORS, resolveParams } from '../../src/workloads/generators/index.js';
import { POLICIES } from '../../src/workloads/policies/index.js';
import { replay } from '../../src/workloads/replay.js';

function heapRun(seed: number, chunk: string, policies: string[]) {
  const params = resolveParams(GENERATORS.heap, { arena: '64M', ops: '3000', decay: '300', chunk, seed: String(seed) });
  if (typeof params === 'string') throw new Error(params);
  const g = GENERATORS.heap.generate(params);
  return replay(g.records, { config: { pt_reclaim: 'on' }, events: g.events, policies: policies.map((p) => POLICIES[p].make()) }).run;
}

describe('purge policies on an allocator-like heap', () => {
  it('round-out and coalesce keep the final RSS and never leave more PTE tables than the trace did', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom('16K', '64K', '2M'), (seed, chunk) => {
        const base = heapRun(seed, chunk, []);
        for (const p of ['round-out', 'coalesce']) {
          const r = heapRun(seed, chunk, [p]);
          expect(r.final.VmRSS).toBe(base.final.VmRSS);
          expect(r.final.RssAnon).toBe(base.final.RssAnon);
          expect(r.final.pteTables).toBeLessThanOrEqual(base.final.pteTables);
        }
      }),
      { numRuns: 8 },
    );
  }, 120_000);

  it('round-out frees every table whose block a purge emptied, and causes no extra fault', () => {
    const base = heapRun(42, '16K', []);
    const r = heapRun(42, '16K', ['round-out']);
    expect(base.final.pteTablesEmpty).toBeGreaterThan(0);
    expect(r.final.pteTablesEmpty).toBe(0);
    expect(r.final.faults).toBe(base.final.faults);
  });

  it('madv-free keeps lazily freed pages resident (no memory pressure in the model)', () => {
    const base = heapRun(7, '64K', []);
    const r = heapRun(7, '64K', ['madv-free']);
    expect(r.final.VmRSS).toBeGreaterThan(base.final.VmRSS);
    expect(r.final.ptesReclaimed).toBe(0);
  });
});
