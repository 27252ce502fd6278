/**
 * Walkers that only read a PTE table, raced against a MADV_DONTNEED that reclaims the table
 * (docs/audit.md): mincore() and pagemap_read() read it under pte_offset_map_lock()
 * (src/mm/mincore.ts, src/mm/task_mmu.ts on src/mm/pagewalk.ts), ptdump with no PTE lock
 * (src/mm/ptdump.ts).
 */
import { describe, expect, it } from 'vitest';
import { expectCleanAndExplained, inlineScenario, shippedScenario } from '../support/scenarios.js';
import { DfsScheduler, endStates } from '../../src/explore/index.js';
import { runExecution } from '../../src/explore/run.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { observationPlan, type ObservationPlan, type Outcome } from '../../src/scenarios/explain.js';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';

const load = shippedScenario;

describe.each(['mincore_vs_dontneed', 'pagemap_vs_dontneed'])('%s', (name) => {
  it('is clean with a complete search, and every outcome is explained by an order of the two calls', () => {
    expectCleanAndExplained(load(name));
  });
});

describe('mincore_vs_dontneed', () => {
  const scn = load('mincore_vs_dontneed');

  it('sees both pages resident or none, never one: the table is read whole under its PTE lock', () => {
    const ends = endStates(scenarioSystem(scn), new DfsScheduler());
    expect(ends.complete).toBe(true);
    // results: r0 = mincore's resident pages, r1 = the DONTNEED's return value.
    const results = new Set([...ends.ends.keys()].map((k) => /results (\S+ \S+)/.exec(k)?.[1]));
    expect([...results].sort()).toEqual(['0 0', '2 0']);
  });
});

const inline = inlineScenario;

/** Each execution of an exhaustive search, with its trace as `task fn: label` lines. */
function* executions(scn: Scenario, settings?: Record<string, string>): Generator<{ trace: string[]; result: string | undefined; end: string }> {
  const system = scenarioSystem(scn, [], { settings });
  const sched = new DfsScheduler();
  while (sched.newExecution()) {
    const ex = runExecution(system, sched, 10_000, true, true);
    if (ex.end.kind === 'abandoned') continue;
    const end = ex.end.kind === 'violation' ? ex.end.violation.kind : ex.end.kind;
    yield { trace: ex.trace!.map((t) => `${t.task} ${t.fn}: ${t.label}`), result: /results (\S+ \S+)/.exec(ex.endState ?? '')?.[1], end };
  }
  expect(sched.complete).toBe(true);
}

describe('pagemap_vs_dontneed', () => {
  const scn = load('pagemap_vs_dontneed');

  it('reports both pages present or none; a walk that lost its table reads the PMD again (ACTION_AGAIN)', () => {
    const results = new Set<string | undefined>();
    let again = 0;
    for (const ex of executions(scn)) {
      results.add(ex.result);
      const walk = ex.trace.filter((l) => l.startsWith('0 '));
      // walk_pmd_range() reads the PMD once per visit; a second visit is the ACTION_AGAIN after
      // pte_offset_map_lock() found no table (the reclaim detached it after the first read).
      const visits = walk.filter((l) => l.startsWith('0 walk_pmd_range: ld pmd')).length;
      expect(visits).toBeLessThanOrEqual(2);
      if (visits === 2) again++;
    }
    expect([...results].sort()).toEqual(['0 0', '2 0']);
    expect(again).toBeGreaterThan(0);
  });
});

describe('ptdump_vs_dontneed', () => {
  const scn = load('ptdump_vs_dontneed');

  it('reads freed memory with the RCU-delayed free off, under the per-VMA lock; clean with it on', () => {
    const on = runScenario(scn);
    expect(on.status).toBe('clean');
    const off = runScenario(scn, { guardsOff: ['rcu-single-table-free'] });
    expect(off.status === 'violation' && off.violation.kind).toBe('pt-use-after-free');
  });

  it('never overlaps a DONTNEED under the mmap_lock (6.14-6.16): its mmap write lock keeps it out', () => {
    const settings = { dontneed_lock: 'mmap' };
    const off = runScenario(scn, { guardsOff: ['rcu-single-table-free'], settings });
    expect(off.status).toBe('clean');
    const orders = new Set<string>();
    for (const ex of executions(scn, settings)) {
      const held = (lock: string, unlock: string) => [ex.trace.findIndex((l) => l.endsWith(lock)), ex.trace.findIndex((l) => l.endsWith(unlock))];
      const [w0, w1] = held(': wlock rwsem', ': wunlock rwsem');
      const [r0, r1] = held('do_madvise: rlock rwsem', 'do_madvise: runlock rwsem');
      expect(Math.min(w0, w1, r0, r1)).toBeGreaterThanOrEqual(0);
      expect(w1 < r0 || r1 < w0).toBe(true);
      orders.add(w1 < r0 ? 'ptdump first' : 'madvise first');
    }
    // Both orders of the two lock sections, and nothing in between. Exactly two executions until
    // every allocation and free wrote the page allocator (objects.ts OBJ.alloc); steps dependent
    // through it now add executions within each order.
    expect([...orders].sort()).toEqual(['madvise first', 'ptdump first']);
  });
});

describe('pagemapRead() (the pagemap task) against procPagemap() (the snapshots)', () => {
  it('reports as present exactly the pages the snapshot codes x or p, over THPs, holes, swap entries and guard markers', () => {
    const scn = inline([
      'scenario pagemap_sequential',
      'about one pagemap read over varied tables, alone on a CPU',
      'violation none',
      'config swap=1M',
      'process P',
      'map A anon private 4M hugepage',
      'map B anon private 4M nohugepage',
      'touch A 0 4K write',
      'touch B 0 64K write',
      'touch B 2M 8K read',
      'madvise B 16K 8K pageout',
      'madvise B 40K 4K guard_install',
      'madvise B 48K 4K dontneed',
      'cpu 0 pagemap A 0 4M',
      'cpu 0 pagemap B 0 4M',
    ]);
    const system = scenarioSystem(scn);
    const inst = system.create() as unknown as { step(i: number): void; pending(i: number): unknown; outcome(p: ObservationPlan): Outcome; template: { maps: ReadonlyMap<string, ReadonlyMap<string, number>> } };
    while (inst.pending(0)) inst.step(0);
    const got = inst.outcome(observationPlan(scn, inst.template.maps));
    const field = (name: string) => got.fields.find(([f]) => f === name)?.[1] ?? expect.fail(`no field ${name} in ${got.key}`);
    const present = (runs: string) => [...runs.matchAll(/(\d+)([a-z-])/g)].reduce((n, [, k, c]) => n + (c === 'x' || c === 'p' ? Number(k) : 0), 0);
    expect(field('P.pagemap.B')).toMatch(/s.*g/); // the setup made swap entries and a guard marker
    expect(Number(field('r0'))).toBe(present(field('P.pagemap.A')));
    expect(Number(field('r1'))).toBe(present(field('P.pagemap.B')));
    expect(Number(field('r0'))).toBe(512); // the THP
  });
});

describe('mglru_vs_dontneed (candidate finding: the MGLRU walk maps through a PMD copy read outside RCU)', () => {
  const scn = load('mglru_vs_dontneed');

  it('frees the table between the walk reading the PMD and its rcu_read_lock(); the remedy (map through the PMD itself) is clean', () => {
    const r = runScenario(scn);
    expect(r.status === 'violation' && r.violation.kind).toBe('ptl-use-after-free');
    const fixed = runScenario(scn, { settings: { mglru_real_pmd: 'on' }, explain: { allow: [] } });
    if (fixed.status !== 'clean') expect.fail(fixed.status === 'violation' ? `${fixed.violation.kind}: ${fixed.violation.message}` : fixed.status);
    expect(fixed.coverage).toBe('complete');
  });

  it('in every failing execution the walk read its PMD copy before the detach, and entered RCU only after the table was queued for freeing', () => {
    let failing = 0;
    for (const ex of executions(scn)) {
      if (ex.end !== 'ptl-use-after-free') continue;
      failing++;
      const at = (re: RegExp) => ex.trace.findIndex((l) => re.test(l));
      const copy = at(/^0 walk_pmd_range: ld pmd/); // pmdp_get_lockless(pmd + i)
      const detach = at(/^1 try_get_and_clear_pmd: st pmd/);
      const queued = at(/^1 .*call_rcu/);
      const enter = at(/^0 walk_pte_range: rcu\+/);
      const gp = at(/grace period ends/);
      expect([copy, detach, queued, enter, gp].every((i) => i >= 0), ex.trace.join('\n')).toBe(true);
      // The grace period need not wait for a reader that entered after call_rcu(): the copy was
      // read outside any read section, so nothing kept the table.
      expect(copy < detach && detach < queued && queued < enter && enter < gp).toBe(true);
    }
    expect(failing).toBeGreaterThan(0);
  });

  it('predates PT_RECLAIM: in 6.13 a MADV_COLLAPSE of a shmem block frees the table under the walk the same way', () => {
    const scn = inline([
      'scenario mglru_vs_collapse',
      'about R14 through collapse_pte_mapped_thp() and pte_free_defer(), before the series',
      'violation none',
      'config version=6.13 fault_around_bytes=4096',
      'memfd F 2M',
      'process P',
      'map A shmem F 0 2M shared',
      'touch A 0 4K read',
      'cpu 0 mglru_walk A 0 8K',
      'cpu 1 madvise A 0 2M collapse',
    ]);
    const r = runScenario(scn);
    expect(r.status === 'violation' && r.violation.kind).toBe('ptl-use-after-free');
    const fixed = runScenario(scn, { settings: { mglru_real_pmd: 'on' } });
    if (fixed.status !== 'clean') expect.fail(fixed.status === 'violation' ? `${fixed.violation.kind}: ${fixed.violation.message}` : fixed.status);
    expect(fixed.coverage).toBe('complete');
  });
});

describe('willneed_vs_dontneed (MADV_WILLNEED swap-in walk, audit #35)', () => {
  const scn = load('willneed_vs_dontneed');

  it('is clean with a complete search, and every outcome is explained by an order of the two calls', () => {
    const r = runScenario(scn, { explain: { allow: [] } });
    if (r.status !== 'clean') expect.fail(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status);
    expect(r.coverage).toBe('complete');
  });

  it('loses its table between two swap entries: the relock after the first read fails, and the walk ends the block', () => {
    const reads = new Set<number>();
    // Task 0 loads PTEs in its swap-in walk (swapin_walk_pmd_entry()) and nowhere else.
    for (const ex of executions(scn)) {
      const loads = ex.trace.filter((l) => /^0 \S+: ld pte/.test(l));
      expect(loads.filter((l) => !l.startsWith('0 swapin_walk_pmd_entry: '))).toEqual([]);
      reads.add(loads.length);
    }
    // 0: the table was gone before the walk; 2: the walk read both entries; 1: only the relock failed.
    expect([...reads].sort()).toEqual([0, 1, 2]);
  });
});

describe('swap_readahead_vs_dontneed (swap_vma_readahead(), audit #57)', () => {
  const scn = load('swap_readahead_vs_dontneed');

  it('is clean with a complete search, and every outcome is explained by an order of the two calls', () => {
    const r = runScenario(scn, { explain: { allow: [] } });
    if (r.status !== 'clean') expect.fail(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status);
    expect(r.coverage).toBe('complete');
  });

  it('loses its table after either swap entry: the next pte_offset_map() fails and readahead ends', () => {
    // An existence claim, so a bounded search that stops once it has seen every case: a complete
    // search with traces (35K executions) would take half an hour.
    const system = scenarioSystem(scn);
    const sched = new DfsScheduler({ preemptionBound: 1 });
    const loads = new Set<number>();
    while (sched.newExecution() && !(loads.has(1) && loads.has(2) && loads.has(5))) {
      const ex = runExecution(system, sched, 10_000, true);
      // Task 0's readahead walk loads PTEs without a lock (pte_offset_map(), ptep_get_lockless()).
      loads.add(ex.trace!.filter((t) => t.task === 0 && t.fn === 'swap_vma_readahead' && t.label.startsWith('ld pte')).length);
    }
    // 5: the whole window (pages 0-4: two swap entries, three none); 1 and 2: the table was
    // reclaimed while the walk read the first or the second entry into the swap cache.
    expect([...loads].filter((n) => [1, 2, 5].includes(n)).sort()).toEqual([1, 2, 5]);
  });
});

describe('move_pages_vs_dontneed (folio_walk_start(), audit #29)', () => {
  const scn = shippedScenario('move_pages_vs_dontneed');

  it('is clean with a complete search, in both DONTNEED lock modes, and every outcome is explained', () => {
    expectCleanAndExplained(scn);
    expectCleanAndExplained(scn, [], { dontneed_lock: 'mmap' });
  });

  it('reports the page on its node or not present; a walk whose table was reclaimed after its lockless PMD read finds nothing', () => {
    const results = new Set<string | undefined>();
    let lost = 0;
    for (const ex of executions(scn)) {
      results.add(ex.result);
      const walk = ex.trace.filter((l) => l.startsWith('0 '));
      // pte_offset_map_lock() took the lock, its pmd_same() failed, and the retry found no table.
      if (walk.some((l) => l.startsWith('0 pte_offset_map_lock: lock ptl')) && !walk.some((l) => l.startsWith('0 folio_walk_start: ld pte'))) lost++;
    }
    // r0: pages found on a node (status 0); r1: the DONTNEED.
    expect([...results].sort()).toEqual(['0 0', '1 0']);
    expect(lost).toBeGreaterThan(0);
  });

  it('asks page by page: over two pages it may find one, which an order with the DONTNEED between the pages explains', () => {
    const two = inlineScenario(['scenario move_pages_two', 'violation none', 'process P', 'map A anon private 2M', 'touch A 0 8K write', 'cpu 0 move_pages A 0 8K', 'cpu 1 madvise A 0 2M dontneed']);
    const ends = endStates(scenarioSystem(two), new DfsScheduler());
    expect(ends.complete).toBe(true);
    expect(new Set([...ends.ends.keys()].map((k) => /results (\S+ \S+)/.exec(k)?.[1]))).toEqual(new Set(['0 0', '1 0', '2 0']));
    expectCleanAndExplained(two);
  });
});
