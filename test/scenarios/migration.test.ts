/**
 * Migration and swap entries against the paths that free PTE tables (issue 18): page-cache
 * migration against a shmem collapse (retract_page_tables()) and against whole-block DONTNEED,
 * a swap-in fault against retract, and a fault waiting on a migration entry whose table a third
 * CPU reclaims (audit #53). docs/audit.md, "What the races established".
 */
import { describe, expect, it } from 'vitest';
import { expectCleanAndExplained, shippedAllowList, shippedScenario } from '../support/scenarios.js';
import { DfsScheduler, endStates } from '../../src/explore/index.js';
import { runExecution } from '../../src/explore/run.js';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';

const load = shippedScenario;
const allow = shippedAllowList;

/** Every end state of a complete search, as `results r0 r1` and each mm's line (rss=..., pt=...). */
function ends(name: string): { results: Set<string>; mms: string[][] } {
  const e = endStates(scenarioSystem(load(name)), new DfsScheduler());
  expect(e.complete).toBe(true);
  const keys = [...e.ends.keys()];
  return {
    results: new Set(keys.map((k) => /results (\S+ \S+)/.exec(k)?.[1] ?? '?')),
    mms: keys.map((k) => k.split('\n').filter((l) => l.startsWith('mm ')).map((l) => l.replace(/ brk=.*/, ''))),
  };
}

describe.each(['migrate_file_vs_collapse', 'migrate_file_vs_dontneed', 'swapin_vs_retract'])('%s', (name) => {
  it('is clean with a complete search, and every outcome is explained or allow-listed', () => {
    expectCleanAndExplained(load(name), allow());
  });
});

describe('migrate_file_vs_collapse', () => {
  it('either moves the folio or collapses the block; one side backs off, never both', () => {
    const { results, mms } = ends('migrate_file_vs_collapse');
    // r0: compaction (0 moved, -16 skipped: the collapse held the folio isolated, -22: the collapse
    // freed it first); r1: MADV_COLLAPSE (0, or -EAGAIN while compaction held the folio).
    expect([...results].sort()).toEqual(['-16 0', '-22 0', '0 -11', '0 0']);
    for (const [p, q] of mms) {
      // Collapsed: P maps the THP by PMD (its table gone), Q's table retracted; or neither.
      const collapsed = p.includes('rss=0,0,0,512 pt=8192');
      expect(collapsed ? q.includes('rss=0,0,0,0 pt=8192') : p.includes('pt=12288') && q.includes('pt=12288')).toBe(true);
    }
  });
});

describe('swapin_vs_retract', () => {
  it("keeps P's table, with its swapped-in and anonymous pages, whatever the order; Q's table is retracted", () => {
    const { results, mms } = ends('swapin_vs_retract');
    expect([...results]).toEqual(['0 0']);
    for (const [p, q] of mms) {
      expect(p).toMatch(/rss=0,2,0,0 pt=12288/); // two anonymous pages, no swap entry left, the table kept
      expect(q).toMatch(/rss=0,0,0,512 pt=8192/); // Q: the THP by PMD, no table
    }
  });
});

describe('migration_wait_reclaimed (audit #53, three CPUs)', () => {
  it('is clean within its bound of two preemptions, and every outcome is explained or allow-listed', () => {
    const r = runScenario(load('migration_wait_reclaimed'), { explain: { allow: allow() } });
    if (r.status !== 'clean') expect.fail(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status);
    expect(r.coverage).toBe('bounded');
  });

  it("loses the table between the fault's read of the migration entry and migration_entry_wait()'s map of it", () => {
    // An existence claim: a bounded search with traces that stops at the first such execution.
    const system = scenarioSystem(load('migration_wait_reclaimed'));
    const sched = new DfsScheduler({ preemptionBound: 2 });
    let found: string[] | undefined;
    while (!found && sched.newExecution()) {
      const tr = runExecution(system, sched, 10_000, true).trace!.map((t) => `${t.task} ${t.fn}: ${t.label}`);
      const at = (re: RegExp, from = 0) => tr.findIndex((l, i) => i >= from && re.test(l));
      const migrated = at(/^0 try_to_migrate_one: st pte\[0\]/); // the migration entry is set
      const read = at(/^1 handle_pte_fault: ld pte\[0\]/, migrated); // the fault reads it, without a lock
      const restored = at(/^0 remove_migration_pte: st pte\[0\]/);
      const zapped = at(/^2 zap_nonpresent_ptes: st pte\[0\]/);
      const detached = at(/^2 try_get_and_clear_pmd: st pmd\[0\]/);
      if (migrated < 0 || read < 0 || (restored >= 0 && restored < read) || (zapped >= 0 && zapped < read)) continue;
      // migration_entry_wait(): pte_offset_map_lock() reads the PMD after the reclaim, finds none
      // and leaves RCU without taking the PTE lock.
      const map = at(/^1 __pte_offset_map: ld pmd\[0\]/, read);
      const next = tr.slice(map + 1).find((l) => l.startsWith('1 '));
      if (map > 0 && detached > read && detached < map && next === '1 __pte_offset_map: rcu-') found = tr;
    }
    expect(found).toBeDefined();
  });
});
