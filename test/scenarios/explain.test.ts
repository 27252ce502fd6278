/**
 * Sequential explainability (src/scenarios/explain.ts): the sequential orders of a scenario, their
 * outcomes derived from the kernel's rules, an injected outcome no order gives (an anomaly), the
 * allow-list, and every shipped scenario with --explain (bounded searches, to stay fast).
 */
import { describe, expect, it } from 'vitest';
import { explain, forEachChoiceVector, needsCompleteSet, pageGranular, parseAllowList, sequentialOrders, type AllowEntry, type Outcome, type SequentialOutcomes } from '../../src/scenarios/explain.js';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import { listScenarioFiles, loadAllowList, loadScenario, runScenario } from '../../src/scenarios/registry.js';
import { sequentialOutcomesOf } from '../../src/scenarios/system.js';
import { runJob } from '../../src/swarm/job.js';
import { BOUNDED_FACES, CANDIDATE_ANOMALIES } from '../support/scenarios.js';

function scenario(text: string): Scenario {
  const r = parseScenario(text, 'test.scn');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

const shipped = (name: string): Scenario => {
  const r = loadScenario(name);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
};

const allowList = (): AllowEntry[] => {
  const r = loadAllowList();
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.entries;
};

/** A page of one anonymous mapping zapped by CPU 0's DONTNEED while CPU 1 writes another page of it. */
const SMALL = `scenario explain_small
about a whole-block DONTNEED against a write fault in the same block
violation none
config thp=never
process P
map A anon private 2M
touch A 0 4K write
cpu 0 madvise A 0 2M dontneed
cpu 1 touch A 8K 4K write
`;

const asRecord = (o: Outcome): Record<string, string> => Object.fromEntries(o.fields);

describe('sequential orders', () => {
  it("interleave whole tasks, each CPU's own in order", () => {
    const scn = scenario(`${SMALL}cpu 1 madvise A 0 4K dontneed\n`);
    // slots: 0 = cpu0 dontneed, 1 = cpu1 touch, 2 = cpu1 dontneed; 1 before 2 always
    expect(sequentialOrders(scn)).toEqual([
      [0, 1, 2],
      [1, 0, 2],
      [1, 2, 0],
    ]);
  });

  it('a touch is one unit per page: another task may run between two of its pages', () => {
    const two = scenario('scenario touch_two\nabout t\nprocess P\nmap A anon private 2M\ncpu 0 touch A 0 8K write\ncpu 1 madvise A 0 2M dontneed\n');
    expect(pageGranular(two)).toBe(true);
    expect(sequentialOrders(two)).toEqual([
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    // The DONTNEED between the two pages leaves page 0 zapped and page 1 mapped (swarm seed 14,
    // job 33): whole-task orders called that an anomaly.
    const r = runScenario(two, { explain: {}, snapshots: false });
    expect(r.status === 'violation' ? r.violation.message : r.status).toBe('clean');
    if (r.status === 'clean') expect(r.complete).toBe(true);
    // 512 pages against two tasks: 131,841 orders, too many; whole tasks, and no anomaly is called.
    const big = scenario('scenario touch_big\nabout t\nprocess P\nmap A anon private 2M\ncpu 0 touch A 0 2M write\ncpu 1 madvise A 0 2M dontneed\ncpu 1 madvise A 0 4K dontneed\n');
    expect(pageGranular(big)).toBe(false);
    expect(sequentialOrders(big)).toHaveLength(3);
    expect(sequentialOutcomesOf(big).coarse).toBe(true);
  });

  it('MADV_POPULATE is one unit per page too: a DONTNEED between two of its faults is explained', () => {
    // Swarm seed 7, job 84: the populate faulted pages 1 and 2, the DONTNEED zapped them and
    // reclaimed the table, and the populate faulted page 3 into a new one.
    const pop = scenario('scenario populate_three\nabout t\nprocess P\nmap B anon private 2M\ncpu 0 madvise B 4K 12K populate_read\ncpu 1 madvise B 0 2M dontneed\n');
    expect(sequentialOrders(pop)).toHaveLength(4);
    const r = runScenario(pop, { explain: {}, snapshots: false });
    expect(r.status === 'violation' ? r.violation.message : r.status).toBe('clean');
    if (r.status === 'clean') expect(r.complete).toBe(true);
    // The other advice stays one unit.
    const cold = scenario('scenario cold_three\nabout t\nprocess P\nmap B anon private 2M\ncpu 0 madvise B 4K 12K cold\ncpu 1 madvise B 0 2M dontneed\n');
    expect(sequentialOrders(cold)).toHaveLength(2);
  });

  it('choice vectors are enumerated depth-first, each once', () => {
    const seen: string[] = [];
    const runs = forEachChoiceVector((choose) => {
      const a = choose(2);
      seen.push(a === 1 ? `${a}${choose(3)}` : `${a}`);
    }, 100);
    expect(seen).toEqual(['0', '10', '11', '12']);
    expect(runs).toEqual({ runs: 4, complete: true });
    expect(forEachChoiceVector((choose) => void choose(2), 1)).toEqual({ runs: 1, complete: false });
    expect(forEachChoiceVector(() => {}, 1)).toEqual({ runs: 1, complete: true });
  });
});

describe('the sequential outcomes of a small scenario follow the kernel rules', () => {
  it('DONTNEED ‖ write fault: two orders, two outcomes', () => {
    const scn = scenario(SMALL);
    const seq = sequentialOutcomesOf(scn);
    expect(seq.failed).toEqual([]);
    expect(seq).toMatchObject({ runs: 2, complete: true, capped: false });
    // The setup's tables: one PUD, one PMD and one PTE table of 4 kB each (mm_pgtables_bytes).
    const base = { 'P.VmSize': '2048', 'P.VmLck': '0', 'P.VmSwap': '0', 'P.RssFile': '0', 'P.RssShmem': '0', 'P.AnonHugePages': '0', 'P.ShmemPmdMapped': '0', 'P.FilePmdMapped': '0', r0: '0', r1: '0' };
    // touch, then DONTNEED: the zap empties the whole table and PT_RECLAIM frees it
    // (zap_pte_range() → try_get_and_clear_pmd()): nothing mapped, one PTE table less.
    const touchFirst = { ...base, 'P.VmRSS': '0', 'P.RssAnon': '0', 'P.Rss': '0', 'P.VmPTE': '8', 'P.pagemap.A': '512-' };
    // DONTNEED, then touch: the table is freed, then the fault allocates a new one
    // (__pte_alloc()) and maps one exclusive anonymous page at 8K (do_anonymous_page()).
    const dontneedFirst = { ...base, 'P.VmRSS': '4', 'P.RssAnon': '4', 'P.Rss': '4', 'P.VmPTE': '12', 'P.pagemap.A': '2-1x509-' };
    const got = [...seq.outcomes.values()].map((s) => ({ order: s.run.order, outcome: asRecord(s.outcome) }));
    expect(got).toEqual([
      { order: [0, 1], outcome: dontneedFirst },
      { order: [1, 0], outcome: touchFirst },
    ]);
  });
});

describe('choices of a sequential order', () => {
  // Swarm seed 21: a read fault of the second page maps it but not the first (the DONTNEED zapped
  // that between the fault's fault-around and its own page). Fault-around is opportunistic, so an
  // order where the second fault maps no neighbour explains it.
  const scn = scenario('scenario shmem_read_vs_dontneed\nabout swarm seed 21\nprocess P\nmap A anon shared 2M\ncpu 0 madvise A 0 2M dontneed\ncpu 1 touch A 0 8K read');

  it('include a read fault that maps no neighbour (fault-around skipped)', () => {
    const pagemaps = [...sequentialOutcomesOf(scn).outcomes.values()].map((o) => o.outcome.fields.find(([f]) => f === 'P.pagemap.A')?.[1]);
    // touch first: both mapped; DONTNEED between the pages, the second fault with or without its neighbour.
    // (And DONTNEED last: nothing mapped.)
    expect(new Set(pagemaps)).toEqual(new Set(['2x510-', '1-1x510-', '512-']));
  });

  it('include a NUMA scan or MGLRU walk whose mmap_read_trylock() fails (the pass skipped, -EBUSY)', () => {
    for (const name of ['numa_vs_mprotect', 'mglru_vs_mprotect']) {
      const r0 = [...sequentialOutcomesOf(shipped(name)).outcomes.values()].map((o) => o.outcome.fields[0][1]);
      expect(r0, name).toContain('-16');
      expect(r0.filter((v) => v !== '-16').length, name).toBeGreaterThan(0);
    }
  });

  it('so every interleaving is explainable, by a complete search (the swarm found an anomaly in it before)', () => {
    const r = runScenario(scn, { explain: { allow: [] }, snapshots: false });
    expect(r.status).toBe('clean');
    if (r.status === 'clean') expect(r.complete).toBe(true);
  });
});

describe('anomalies and the allow-list', () => {
  const scn = scenario(SMALL);
  const seq = sequentialOutcomesOf(scn);
  const first = [...seq.outcomes.values()][0].outcome;
  /** The first order's outcome with the fault failing: no order gives a failing fault here. */
  const fields = first.fields.map(([f, v]) => [f, f === 'r1' ? '-12' : v] as const);
  const injected: Outcome = { fields, key: fields.map(([f, v]) => `${f}=${v}`).join(' ') };
  const entry = (text: string): AllowEntry[] => {
    const r = parseAllowList(text, 'test.allow');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.entries;
  };

  it('an outcome of an order is explained; an injected one is an anomaly naming the closest order', () => {
    expect(explain(scn, seq, first).verdict).toBe('explained');
    const v = explain(scn, seq, injected);
    expect(v.verdict).toBe('anomaly');
    if (v.verdict !== 'anomaly') return;
    expect(v.message).toContain('r1 (cpu1 touch write) = -12');
    expect(v.message).toContain('no sequential order (of 2) gives r1=-12; closest: r0 → r1 gives r1=0');
  });

  it('an allow-list entry that matches makes it allowed; one for another scenario or other fields does not', () => {
    const ok = entry('allow explain_*\nwhen r1=-12\ndiffers r1\nkernel mm/memory.c: f()\nreason a test\n');
    const v = explain(scn, seq, injected, ok);
    expect(v.verdict).toBe('allowed');
    if (v.verdict === 'allowed') expect(v.message).toContain('allowed by test.allow:1: mm/memory.c: f()');
    expect(explain(scn, seq, injected, entry('allow other\nwhen r1=-12\nkernel k\nreason r\n')).verdict).toBe('anomaly');
    expect(explain(scn, seq, injected, entry('allow explain_small\ndiffers *.VmPTE\nkernel k\nreason r\n')).verdict).toBe('anomaly');
    expect(explain(scn, seq, injected, entry('allow explain_small\nwhen r1=0\nkernel k\nreason r\n')).verdict).toBe('anomaly');
  });

  it('an entry with task lines matches any scenario running those tasks, its r0 naming the task wherever it is', () => {
    // In SMALL the touch is r1: the entry's r0 is its first `task` line.
    const byTask = entry('allow *\ntask touch *\nwhen r0=-12\ndiffers r0\nkernel k\nreason r\n');
    expect(explain(scn, seq, injected, byTask).verdict).toBe('allowed');
    // The value pinned to the other task, a task the scenario does not run, or two lines wanting
    // the one touch: no match.
    expect(explain(scn, seq, injected, entry('allow *\ntask madvise dontneed\nwhen r0=-12\nkernel k\nreason r\n')).verdict).toBe('anomaly');
    expect(explain(scn, seq, injected, entry('allow *\ntask uffd_move\nwhen r0=-12\nkernel k\nreason r\n')).verdict).toBe('anomaly');
    expect(explain(scn, seq, injected, entry('allow *\ntask touch *\ntask touch *\nwhen r0=-12\nkernel k\nreason r\n')).verdict).toBe('anomaly');
    // A glob in `when` must match a field, and every field it matches must have the value.
    expect(explain(scn, seq, injected, entry('allow *\ntask touch *\nwhen r0=-12 *.VmSwap=0\ndiffers r0\nkernel k\nreason r\n')).verdict).toBe('allowed');
    expect(explain(scn, seq, injected, entry('allow *\ntask touch *\nwhen r0=-12 *.NoSuchField=0\ndiffers r0\nkernel k\nreason r\n')).verdict).toBe('anomaly');
  });

  it('a malformed allow-list is refused at its line', () => {
    const r = parseAllowList('# c\nallow x\nwhen r1\nkernel k\nfoo\nallow y\nwhen r0=1\n', 'bad.allow');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      "bad.allow:3:1: bad condition 'r1' (expected FIELD=VALUE, e.g. r1=-11 or P.VmPTE=12)",
      "bad.allow:5:1: unknown line 'foo' (expected allow, task, when, differs, kernel or reason)",
      "bad.allow:2:1: allow entry for 'x' lacks reason, when or differs (expected lines: when/differs, kernel, reason)",
      "bad.allow:6:1: allow entry for 'y' lacks kernel, reason (expected lines: when/differs, kernel, reason)",
    ]);
  });

  it('rmap_walk_vs_dontneed, complete search: reclaim still-mapped is an anomaly, allowed by the shipped list', () => {
    const scn = shipped('rmap_walk_vs_dontneed');
    const bare = runScenario(scn, { explain: { allow: [] }, snapshots: false });
    expect(bare.status).toBe('violation');
    if (bare.status === 'violation') {
      expect(bare.violation.kind).toBe('anomaly');
      expect(bare.violation.message).toMatch(/^results r0 \(cpu0 rmap_walk\) = 1, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=1/);
    }
    const allowed = runScenario(scn, { explain: { allow: allowList() }, snapshots: false });
    expect(allowed.status).toBe('clean');
    if (allowed.status !== 'clean') return;
    expect(allowed.complete).toBe(true);
    const t = allowed.tolerated?.find((x) => x.violation.kind.startsWith('allowed-anomaly@'));
    expect(t?.executions).toBeGreaterThan(0);
    expect(t?.violation.message).toContain('mm/vmscan.c: shrink_folio_list()');
  });
});

// Compaction and the reclaim walker find their folio in their first step (migrate.ts, tasks.ts): the
// zap that holds the folio's reference while they check it comes a preemption later.
const BOUND_2 = new Set(['migrate_vs_dontneed', 'migration_wait_vs_dontneed', 'rmap_walk_vs_dontneed']);

describe('every shipped scenario with --explain, guards on (preemption bound 1, or 2)', () => {
  const allow = allowList();
  const used = new Set<string>();
  const candidates = CANDIDATE_ANOMALIES;
  for (const file of listScenarioFiles()) {
    const scn = shipped(file);
    it(`${scn.name}: ${candidates[scn.name] ? 'only the pinned candidate anomalies' : 'no anomaly the allow-list does not accept'}`, () => {
      const bound = BOUND_2.has(scn.name) ? 2 : 1;
      const r = runScenario(scn, { bound, explain: { allow }, stopAtFirst: false, minimize: false, snapshots: false });
      for (const t of r.tolerated ?? []) if (t.violation.kind.startsWith('allowed-anomaly@')) used.add(t.violation.kind);
      const found = r.status === 'violation' ? r.failures.map((f) => f.violation) : [];
      const anomalies = found.filter((v) => v.kind === 'anomaly');
      // A race open upstream keeps its sanitizer violation with every guard on.
      const kinds = [...new Set(found.filter((v) => v.kind !== 'anomaly').map((v) => v.kind))];
      expect(kinds).toEqual(scn.remedy && scn.violation && scn.violation !== 'anomaly' ? [BOUNDED_FACES[scn.name] ?? scn.violation] : []);
      const pinned = candidates[scn.name] ?? [];
      expect(anomalies.length).toBe(pinned.length);
      for (const re of pinned) expect(anomalies.map((a) => a.message).filter((m) => re.test(m))).toHaveLength(1);
    });
  }
  // Generated scenarios (ptlab swarm, all guards on, shrunk) whose anomaly only an `allow *`
  // entry accepts: each is an anomaly without the list and clean with it.
  // `open`: the anomalies that stay, as the candidates of shipped scenarios do.
  const generated: Record<string, { body: string; open: RegExp[] }> = {
    mprotect_vs_private_write_fault: { body: 'memfd F1 2M\nprocess P\nmap B shmem F1 0 2M private\ncpu 0 mprotect B 0 2M r\ncpu 1 touch B 64K 4K write', open: [] },
    unmap_vs_collapse_shared_anon: { body: 'process P\nmap A anon shared 2M\ntouch A 4K 12K read\ncpu 0 unmap A 4K 4K\ncpu 1 madvise A 0 2M collapse', open: [] },
    // Swarm seed 21 (shrunk by hand): -EAGAIN is allowed; before C7 (docs/fidelity.md) the
    // second collapse also failed with -EINVAL, which no order gives.
    collapse_vs_collapse_shmem: { body: 'memfd F0 2M\nprocess P\nmap A shmem F0 0 2M shared\ntouch A 0 8K write\ncpu 0 madvise A 0 2M collapse\ncpu 1 madvise A 0 2M collapse', open: [] },
    // Campaign seed 1, job 23: munmap detached the VMA (the touch segfaults) before its zap reached
    // the page GUP-fast pins.
    gup_fast_vs_munmap: { body: 'process P\nmap B anon private 2M\ntouch B 4K 8K write\ncpu 0 touch B 12K 4K write\ncpu 0 gup_fast B 4K 4K\ncpu 1 unmap B 0 2M', open: [] },
    // Swarm seed 182 (the rmap group), shrunk by hand: munmap holds i_mmap_rwsem for write while
    // reclaim's reference check trylocks it.
    folio_referenced_vs_munmap: { body: 'file F 2M\nprocess P\nmap A file F 0 2M shared\ntouch A 0 4K read\ncpu 0 unmap A 0 2M\ncpu 1 folio_referenced A 0', open: [] },
    // Reclaim's reference check against writeback holding the folio lock (-EAGAIN), and against
    // compaction, which isolates the folio (-EBUSY), locks it (-EAGAIN) and leaves migration
    // entries where the check looks for it (-EINVAL): the kinds the fork-vma-write campaign met.
    folio_referenced_vs_mkclean: { body: 'file F 2M\nprocess P\nmap A file F 0 2M shared\ntouch A 0 4K write\ncpu 0 folio_referenced A 0\ncpu 1 folio_mkclean A 0', open: [] },
    folio_referenced_vs_migrate: { body: 'process P\nmap A anon private 2M\ntouch A 0 4K write\ncpu 0 folio_referenced A 0\ncpu 1 migrate A 0', open: [] },
    // munmap() zaps after it took the VMAs out: a fault finds no VMA, then an access to a page not
    // zapped yet succeeds. Campaign seed 1 with fork-vma-write off (2026-12-07), job and shrink by
    // ptlab swarm (madvise populate_read said -ENOMEM), and the same with two touches.
    unmap_vs_populate_and_touch: { body: 'config shmem_thp=always nr_cpus=3\nmemfd F0 2M\nprocess P\nmap A shmem F0 0 2M shared\ncpu 0 unmap A 0 2M\ncpu 2 madvise A 0 12K populate_read\ncpu 2 touch A 2044K 4K read', open: [] },
    unmap_vs_two_touches: { body: 'process P\nmap A anon private 4M\ntouch A 0 4K write\ntouch A 2M 4K write\ncpu 0 unmap A 0 4M\ncpu 1 touch A 0 4K read\ncpu 1 touch A 2M 4K read', open: [] },
    // Campaign seed 1 with fork-vma-write off (2026-12-07), shrunk by ptlab swarm: MGLRU's walk
    // finds the PTE lock held by the zap and skips the table (young 0 where either order gives 1).
    mglru_walk_vs_dontneed_of_a_neighbour: { body: 'process P\nmap A anon private 2M\ntouch A 8K 4K write\ncpu 0 mglru_walk A 4K 12K\ncpu 1 madvise A 4K 4K dontneed', open: [] },
    // Campaign seed 1 with fork-vma-write off (2026-12-07), shrunk by hand: MADV_COLLAPSE meets a
    // folio that reclaim's reference check holds isolated or locked.
    collapse_vs_folio_referenced_shmem: { body: 'memfd F0 2M\nprocess P\nmap A shmem F0 0 2M shared\ntouch A 0 8K write\ncpu 0 madvise A 0 2M collapse\ncpu 1 folio_referenced A 0', open: [] },
    // Campaign seed 1 with fork-vma-write off (2026-12-07), shrunk by ptlab swarm: mremap to a fixed
    // address inside the block unmaps the destination's page while collapse_file() counts references.
    mremap_into_collapse_shmem: { body: 'memfd F0 4M\nprocess P\nmap A shmem F0 0 4M shared\ntouch A 4K 8K read\ncpu 0 madvise A 0 2M collapse\ncpu 1 mremap A 2056K 4K A 8K', open: [] },
    // Campaign seed 1 with fork-vma-write off (2026-12-07), shrunk by hand: a pagemap read of a shmem
    // block while MADV_COLLAPSE's collapse_file() has unmapped its small pages.
    pagemap_vs_collapse_shmem: { body: 'process P\nmap A anon shared 2M\ntouch A 0 12K write\ncpu 0 pagemap A 0 12K\ncpu 1 madvise A 0 2M collapse', open: [] },
    // The same window seen by the PAGEMAP_SCAN ioctl and by smaps_rollup.
    pagemap_scan_vs_collapse_shmem: { body: 'process P\nmap A anon shared 2M\ntouch A 0 12K write\ncpu 0 pagemap_scan A 0 12K\ncpu 1 madvise A 0 2M collapse', open: [] },
    smaps_rollup_vs_collapse_shmem: { body: 'process P\nmap A anon shared 2M\ntouch A 0 12K write\ncpu 0 smaps_rollup\ncpu 1 madvise A 0 2M collapse', open: [] },
    // POSIX_FADV_DONTNEED against a zap of the pages it evicts: the zap's mmu_gather holds some of
    // their references (written with the fadvise op, 2026-12-08; the evict group generates it).
    fadvise_vs_dontneed: { body: 'config read_ahead_kb=16\nfile F 2M\nprocess P\nmap A file F 0 2M shared\ntouch A 0 16K read\ncpu 0 fadvise A 0 16K dontneed\ncpu 1 madvise A 0 2M dontneed', open: [] },
    uffd_move_vs_dontneed_of_source: {
      body: 'process P\nmap A anon private 4M\ntouch A 4K 12K write\nuffd_register A 0 4M missing\ncpu 0 uffd_move A 8K A 2052K\ncpu 1 madvise A 0 2M dontneed',
      open: [/^results r0 \(cpu0 uffd_move\) = -22, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-22/], // as uffd_move_vs_dontneed
    },
  };
  for (const [name, { body, open }] of Object.entries(generated)) {
    it(`generated ${name}: anomalies an entry for every scenario accepts${open.length ? ', and the open ones' : ''}`, () => {
      const scn = scenario(`scenario ${name}\nabout swarm finding\n${body}`);
      const r = runScenario(scn, { explain: { allow }, stopAtFirst: false, minimize: false, snapshots: false });
      const found = r.status === 'violation' ? r.failures.map((f) => f.violation.message) : [];
      expect(found.filter((m) => !open.some((re) => re.test(m)))).toEqual([]);
      const allowed = (r.tolerated ?? []).filter((t) => t.violation.kind.startsWith('allowed-anomaly@'));
      expect(allowed.length).toBeGreaterThan(0);
      for (const t of allowed) used.add(t.violation.kind);
    });
  }
  it('every entry of the shipped allow-list is used', () => {
    expect([...used].sort()).toEqual(allow.map((e) => `allowed-anomaly@${e.line}`).sort());
  });
});

describe('swarm jobs with explain', () => {
  it('campaign seed 1, jobs 12 and 16 (a task that ends without a scheduling point): the same result as without', () => {
    for (const index of [12, 16]) {
      const job = { campaignSeed: 1, index, guardsOff: [], budget: { dpor: 1000, pct: 200 } };
      expect(runJob({ ...job, explain: { allow: allowList() } })).toEqual(runJob(job));
    }
  });
});

describe('when the set of sequential outcomes is made again', () => {
  const set = (complete: boolean, capped: boolean): SequentialOutcomes => ({ outcomes: new Map([['known', { outcome: { key: 'known', fields: [] }, run: { order: [0], choices: [] } }]]), failed: [], runs: 1, complete, capped, coarse: false });

  it('completes the first set (one run per order) for an outcome outside it, and only that set', () => {
    expect(needsCompleteSet(set(false, false), 'other')).toBe(true);
    expect(needsCompleteSet(set(false, false), 'known')).toBe(false);
    expect(needsCompleteSet(set(true, false), 'other')).toBe(false);
    // A set capped at MAX_SEQUENTIAL_RUNS is as complete as it gets: not made again per execution.
    expect(needsCompleteSet(set(false, true), 'other')).toBe(false);
  });
});
