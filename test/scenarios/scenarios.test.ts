/**
 * Every shipped race scenario: with its guard switched off the explorer finds the historical
 * violation; with the guard on, the complete search (DPOR, no preemption bound) is clean. A race
 * open upstream has no guard but a remedy: its violation is found with every guard on, and the
 * remedy's settings make the complete search clean. The execution counts are printed, not
 * asserted: they change with the model's step granularity, while the verdicts must not.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, replayScenario } from '../../src/scenarios/registry.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { shippedScenarios } from '../support/scenarios.js';

const scenarios: Scenario[] = shippedScenarios();

describe('race scenarios', () => {
  it('ships the scenarios of issue 4 that the model can express', () => {
    const names = scenarios.map((s) => s.name);
    for (const n of ['retract_vs_dontneed', 'semi_rcu_vs_pte_offset_map', 'fastpath_after_unlock', 'fastpath_blocking_pml', 'markers_vs_reclaim', 'range_underflow', 'ptl_freed_early', 'wrong_flush_addr', 'rmap_walk_vs_dontneed', 'mprotect_vs_dontneed', 'mremap_vs_dontneed', 'uffd_copy_vs_dontneed', 'uffd_wp_vs_dontneed', 'swapin_vs_dontneed']) {
      expect(names).toContain(n);
    }
  });

  for (const scn of scenarios) {
    describe(scn.name, () => {
      it(`${scn.violation ? `finds ${scn.violation}` : 'stays clean'} with ${scn.guards.length ? `guard ${scn.guards.join('+')} off` : 'no guard to switch off'}`, () => {
        const r = runScenario(scn, { guardsOff: scn.guards, budget: { maxExecutions: 50_000 } });
        console.log(`${scn.name}, guard off: ${r.status} after ${r.executions} executions`);
        if (scn.violation === null) {
          expect(r.status).toBe('clean');
          return;
        }
        expect(r.status).toBe('violation');
        if (r.status !== 'violation') return;
        expect(r.violation.kind).toBe(scn.violation);
        // The token replays the same violation, exactly.
        const again = replayScenario(scn, r.token, scn.guards);
        expect(again.status).toBe('violation');
        if (again.status === 'violation') expect(again.violation).toEqual(r.violation);
      });

      const remedy = scn.remedy ? ` and the remedy ${Object.entries(scn.remedy).map(([k, v]) => `${k}=${v}`).join(' ')}` : '';
      // A `bound` line makes the search complete within the bound only (migration_wait_reclaimed).
      const search = scn.bound < 0 ? 'a complete search' : `every schedule within preemption bound ${scn.bound}`;
      it(`is clean with every guard on${remedy}, by ${search}`, () => {
        const r = runScenario(scn, { budget: { maxExecutions: 50_000 }, settings: scn.remedy ?? {} });
        console.log(`${scn.name}, guards on: ${r.status} after ${r.executions} executions`);
        expect(r.status).toBe('clean');
        if (r.status === 'clean') expect(r.coverage).toBe(scn.bound < 0 ? 'complete' : 'bounded');
      });
    });
  }
});
