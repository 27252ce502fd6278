/**
 * Walkers that only read a PTE table under pte_offset_map_lock(), raced against a MADV_DONTNEED
 * that reclaims the table (docs/audit.md): mincore() stands for them (src/mm/mincore.ts).
 */
import { describe, expect, it } from 'vitest';
import { DfsScheduler, endStates } from '../../src/explore/index.js';
import { loadScenario } from '../../src/scenarios/registry.js';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';

const load = (name: string) => {
  const r = loadScenario(name);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
};

describe('mincore_vs_dontneed', () => {
  const scn = load('mincore_vs_dontneed');

  it('is clean with a complete search, and every outcome is explained by an order of the two calls', () => {
    const r = runScenario(scn, { explain: { allow: [] } });
    if (r.status !== 'clean') expect.fail(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status);
    expect(r.coverage).toBe('complete');
  });

  it('sees both pages resident or none, never one: the table is read whole under its PTE lock', () => {
    const ends = endStates(scenarioSystem(scn), new DfsScheduler());
    expect(ends.complete).toBe(true);
    // results: r0 = mincore's resident pages, r1 = the DONTNEED's return value.
    const results = new Set([...ends.ends.keys()].map((k) => /results (\S+ \S+)/.exec(k)?.[1]));
    expect([...results].sort()).toEqual(['0 0', '2 0']);
  });
});
