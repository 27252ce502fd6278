/**
 * NUMA hinting on one node (src/mm/numa_balancing.ts): which entries a scan makes PAGE_NONE, as
 * measured on this machine's 6.18 (docs/model.md, "NUMA hinting, measured"), and the scan and its hinting
 * fault raced against a MADV_DONTNEED that reclaims the table (scenarios/numa_vs_dontneed.scn).
 */
import { describe, expect, it } from 'vitest';
import { expectCleanAndExplained, inlineScenario, shippedScenario } from '../support/scenarios.js';
import { DfsScheduler, endStates } from '../../src/explore/index.js';
import { runExecution } from '../../src/explore/run.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { scenarioSystem } from '../../src/scenarios/system.js';

const inline = inlineScenario;

/** The first task's result (the scan's updates) in every end state of a complete search. */
function scanResults(scn: Scenario): number[] {
  const ends = endStates(scenarioSystem(scn), new DfsScheduler());
  expect(ends.complete).toBe(true);
  return [...new Set([...ends.ends.keys()].map((k) => Number(/results (-?\d+)/.exec(k)?.[1])))].sort((a, b) => a - b);
}

/** P scans its mapping A on CPU 0; `other` is what runs on CPU 1 (P's second thread, or Q's). */
const scan = (map: string, other: readonly string[]) =>
  inline(['scenario numa_scan_only', 'violation none', 'memfd F 2M', 'process P', map, 'touch A 0 8K write', 'cpu 0 numa_scan A 0 2M', ...other]);
const otherProcess = ['process Q', 'map B anon private 2M', 'cpu 1 touch B 0 4K write'];
const secondThread = ['cpu 1 touch A 1M 4K read'];

describe('a NUMA scan on one node makes PAGE_NONE what 6.18 does (measured: docs/model.md)', () => {
  it("skips a single-threaded process's private pages: they are on its node already", () => {
    expect(scanResults(scan('map A anon private 2M', otherProcess))).toEqual([0]);
  });
  it("takes a two-threaded process's private pages", () => {
    expect(scanResults(scan('map A anon private 2M', secondThread))).toEqual([2]);
  });
  it("takes a single-threaded process's THP: change_huge_pmd() has no target-node check", () => {
    expect(scanResults(scan('map A anon private 2M hugepage', otherProcess))).toEqual([512]);
  });
  it('skips a shmem VMA: vma_policy_mof() asks its shared policy, which is none', () => {
    expect(scanResults(scan('map A shmem F 0 2M shared', secondThread))).toEqual([0]);
  });
});

/**
 * Each execution within one preemption (a trace of every step costs a complete search a minute):
 * its trace as `task fn: label` lines, and its results.
 */
function* executions(scn: Scenario): Generator<{ trace: string[]; results: string }> {
  const system = scenarioSystem(scn, [], { snapshots: false });
  const sched = new DfsScheduler({ preemptionBound: 1 });
  while (sched.newExecution()) {
    const ex = runExecution(system, sched, 10_000, true, true);
    if (ex.end.kind === 'abandoned') continue;
    expect(ex.end.kind).toBe('finished');
    yield { trace: ex.trace!.map((t) => `${t.task} ${t.fn}: ${t.label}`), results: /results ([^\n|;]*)/.exec(ex.endState ?? '')?.[1] ?? '' };
  }
}

describe('numa_vs_dontneed', () => {
  const scn = shippedScenario('numa_vs_dontneed');

  it('is clean with a complete search, and every outcome is explained by an order of the paths', () => {
    expectCleanAndExplained(scn);
  });

  it('meets the reclaim in both places: the scan loses its table after reading the PMD, the hinting fault its PAGE_NONE entry', () => {
    let scanAgain = 0;
    let faultLost = 0;
    const results = new Set<string>();
    for (const ex of executions(scn)) {
      results.add(ex.results);
      const scanTrace = ex.trace.filter((l) => l.startsWith('0 '));
      // pte_offset_map_lock() failed its recheck: -EAGAIN, and change_pmd_range() read the PMD again.
      const pmdReads = scanTrace.filter((l) => /^0 change_pmd_range: ld pmd/.test(l)).length;
      if (pmdReads > 2) {
        scanAgain++;
        expect(ex.results.split(' ')[0]).toBe('0');
      }
      // do_numa_page() took the PTE lock and found another entry: no rebuild.
      if (scanTrace.some((l) => l.includes('do_numa_page: lock ptl')) && !scanTrace.some((l) => l.includes('numa_rebuild_single_mapping'))) faultLost++;
    }
    expect(scanAgain).toBeGreaterThan(0);
    expect(faultLost).toBeGreaterThan(0);
    // The scan made both pages PAGE_NONE, or found no table; the fault and the DONTNEED succeed
    // (every end state of the complete search, without traces).
    const ends = endStates(scenarioSystem(scn), new DfsScheduler());
    expect(ends.complete).toBe(true);
    expect([...new Set([...ends.ends.keys()].map((k) => /results ([^\n|;]*)/.exec(k)?.[1]))].sort()).toEqual(['0 0 0', '2 0 0']);
    expect([...results].every((r) => r === '0 0 0' || r === '2 0 0')).toBe(true);
  });
});
