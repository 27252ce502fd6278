/**
 * gup_fast() (mm/gup.c gup_fast_pte_range(), 6.18) loads the PTE and then takes its reference on
 * the folio with try_grab_folio_fast(): two accesses with nothing held between them that keeps the
 * entry, which is race R1b's window. The model makes the reference a step of its own
 * (folioRefAccess()), so a zap can land in between; the recheck after the reference is what turns
 * that into a back-off (guard `gup-fast-recheck`).
 */
import { describe, expect, it } from 'vitest';
import { shippedScenario } from '../support/scenarios.js';
import { DfsScheduler } from '../../src/explore/index.js';
import { runExecution } from '../../src/explore/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import type { GuardName } from '../../src/mm/config.js';

/** Every execution of gup_fast_vs_reclaim whose zap clears the PTE between gup_fast's load of it and its reference. */
function zappedBetweenLoadAndReference(guardsOff: GuardName[]): { ends: string[]; executions: number } {
  const system = scenarioSystem(shippedScenario('gup_fast_vs_reclaim'), guardsOff);
  const sched = new DfsScheduler();
  const ends: string[] = [];
  let executions = 0;
  while (sched.newExecution()) {
    const ex = runExecution(system, sched, 10_000, true);
    executions++;
    const tr = ex.trace!.map((t) => `${t.task} ${t.fn}: ${t.label}`);
    const load = tr.findIndex((l) => /^1 gup_fast: ld pte\[0\]/.test(l));
    const ref = tr.findIndex((l) => /^1 gup_fast: folio_ref_try_add\(folio \d+\)/.test(l));
    const zap = tr.findIndex((l) => /^0 \w+: xchg pte\[0\]/.test(l));
    // An abandoned (sleep-set blocked) execution is covered by another one: not an end.
    if (load >= 0 && ref > load && zap > load && zap < ref && ex.end.kind !== 'abandoned') ends.push(ex.end.kind === 'violation' ? ex.end.violation.kind : ex.end.kind);
  }
  return { ends, executions };
}

describe('gup_fast: the PTE load and the folio reference are two accesses', () => {
  it('a zap between them is a schedule the search runs; the recheck makes gup_fast back off', () => {
    const on = zappedBetweenLoadAndReference([]);
    expect(on.ends.length).toBeGreaterThan(0);
    expect(new Set(on.ends)).toEqual(new Set(['finished']));
  });

  it('without the recheck, a zap between them gives a stale pin', () => {
    const off = zappedBetweenLoadAndReference(['gup-fast-recheck']);
    expect(off.ends).toContain('stale-pin');
  });
});
