/**
 * The rmap walkers besides reclaim's unmapping walk (docs/audit.md #47, #48): page reclaim's
 * reference check, folio_referenced() (src/mm/rmap.ts, src/mm/vmscan.ts), and writeback's
 * folio_mkclean() (src/mm/page_writeback.ts). Each reaches the PTE table through the folio with no
 * mm lock, so a whole-block MADV_DONTNEED can reclaim the table under it.
 */
import { describe, expect, it } from 'vitest';
import { DfsScheduler, endStates } from '../../src/explore/index.js';
import { runExecution } from '../../src/explore/run.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { expectCleanAndExplained, inlineScenario as inline, shippedScenario as load } from '../support/scenarios.js';
import { PG_dirty } from '../../src/mm/page_alloc.js';
import { _PAGE_DIRTY, _PAGE_RW } from '../../src/mm/pgtable_types.js';

/** Every execution of a complete search: the walker's (task 0's) trace functions, and the results. */
function* executions(scn: Scenario, guardsOff: string[] = []): Generator<{ walk: string[]; results: string }> {
  const system = scenarioSystem(scn, guardsOff as never);
  const sched = new DfsScheduler();
  while (sched.newExecution()) {
    const ex = runExecution(system, sched, 10_000, true, true);
    if (ex.end.kind === 'abandoned') continue;
    expect(ex.end.kind).toBe('finished');
    const walk = ex.trace!.filter((t) => t.task === 0).map((t) => `${t.fn}: ${t.label}`);
    yield { walk, results: /results (.*)/.exec(ex.endState ?? '')![1] };
  }
  expect(sched.complete).toBe(true);
}

/** The walk took a PTE lock and gave the table up without checking an entry: the PMD recheck failed. */
const lostTable = (walk: string[], mapFn: string): boolean =>
  walk.some((l) => l.startsWith(`${mapFn}: lock ptl`)) && !walk.some((l) => l.startsWith('check_pte'));

describe.each(['folio_referenced_vs_dontneed', 'folio_mkclean_vs_dontneed'])('%s', (name) => {
  it('is clean with a complete search, and every outcome is explained by an order of the two calls', () => {
    expectCleanAndExplained(load(name));
  });
});

describe('folio_referenced_vs_dontneed', () => {
  const scn = load('folio_referenced_vs_dontneed');

  it('finds the young PTE or nothing; a walk whose table was reclaimed after its lockless map restarts and finds nothing', () => {
    for (const guardsOff of [[], ['rw-nolock-pmd-same']]) {
      const results = new Set<string>();
      let lost = 0;
      for (const ex of executions(scn, guardsOff)) {
        results.add(ex.results);
        // Never a young bit cleared in a table reclaim had detached.
        if (lostTable(ex.walk, 'map_pte')) {
          lost++;
          expect(ex.walk.some((l) => l.startsWith('ptep_clear_flush_young: st'))).toBe(false);
        }
      }
      // r0: the VMAs that referenced the folio (1: the read fault's young PTE); r1: the DONTNEED.
      expect([...results].sort()).toEqual(['0 0', '1 0']);
      // With the pmd_same() recheck the walk drops a reclaimed table under its lock; without it
      // check_pte() runs on the detached, empty table and matches nothing.
      if (!guardsOff.length) expect(lost).toBeGreaterThan(0);
    }
  });

  it('clears the young bit: a second check right after finds the folio unreferenced', () => {
    const twice = inline([
      'scenario referenced_twice', 'violation none', 'process P', 'file F 2M', 'map A file F 0 2M shared', 'touch A 0 4K read',
      'cpu 0 folio_referenced A 0', 'cpu 0 folio_referenced A 0',
    ]);
    const ends = endStates(scenarioSystem(twice), new DfsScheduler());
    expect([...ends.ends.keys()].map((k) => /results (.*)/.exec(k)![1])).toEqual(['1 0']);
  });
});

describe('folio_mkclean_vs_dontneed', () => {
  const scn = load('folio_mkclean_vs_dontneed');

  it('writes the folio in every order: the dirty bit moves to the folio by the zap or by the walk', () => {
    let lost = 0;
    for (const ex of executions(scn)) {
      expect(ex.results).toBe('1 0');
      if (lostTable(ex.walk, 'pte_offset_map_lock')) lost++;
    }
    expect(lost).toBeGreaterThan(0);
  });

  it('write-protects and cleans the PTE: the next write faults and dirties the folio again', () => {
    const lines = ['scenario mkclean_then_write', 'violation none', 'process P', 'file F 2M', 'map A file F 0 2M shared', 'touch A 0 4K write'];
    const end = (tasks: string[]): string => {
      const ends = endStates(scenarioSystem(inline([...lines, ...tasks])), new DfsScheduler());
      expect(ends.ends.size).toBe(1);
      return [...ends.ends.keys()][0];
    };
    // The PTE's flags (the last-level entry of F's first page) and the folio's page flags.
    const pte = (s: string): number => Number(/\.0\.0\.0=(\d+):F0:0\n/.exec(s)![1]);
    const folio = (s: string): number => Number(/ F0:0 t\d+ o0 f(\d+) /.exec(s)![1]);
    const before = end(['cpu 0 folio_referenced A 0']);
    expect(pte(before) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    const cleaned = end(['cpu 0 folio_mkclean A 0']);
    expect(/results (.*)/.exec(cleaned)![1]).toBe('1');
    expect(pte(cleaned) & (_PAGE_RW | _PAGE_DIRTY)).toBe(0);
    expect(folio(cleaned) & PG_dirty).toBe(0);
    // Writeback of a clean folio writes nothing; after a write to it (a write-protect fault), it
    // is dirty again and writable.
    expect(/results (.*)/.exec(end(['cpu 0 folio_mkclean A 0', 'cpu 0 folio_mkclean A 0']))![1]).toBe('1 0');
    const rewritten = end(['cpu 0 folio_mkclean A 0', 'cpu 0 touch A 0 4K write']);
    expect(pte(rewritten) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    expect(/results (.*)/.exec(end(['cpu 0 folio_mkclean A 0', 'cpu 0 touch A 0 4K write', 'cpu 0 folio_mkclean A 0']))![1]).toBe('1 0 1');
  });
});
