/**
 * The explorer's verdicts on the shipped scenarios rest on the reduction being sound for the real
 * model, not only for toy programs. For every scenario, with its guard on and off:
 * - DPOR reaches exactly the end states (final kernel state up to renaming, every violation kind,
 *   every deadlock) that naive enumeration reaches, at preemption bound 1, where naive enumeration
 *   is small enough to run here, and the complete (unbounded) search reaches all of them too;
 * - every step writes only what its footprint says (declared, or recorded as it ran), and reads no
 *   CPU's TLB it does not name, checked
 *   along seeded random executions: the check digests the whole kernel around each step, far too
 *   slow to run under every naive execution, and the steps of a scenario are the same few kinds
 *   in every schedule; and every word (frame counts, flag bits, entries) two tasks really touch,
 *   one of them writing, is ordered by the footprints (access_check.ts), along more executions;
 * - pairs of steps the model calls independent commute when run both ways from states along random
 *   executions, at any depth (src/explore/oracles.ts).
 * Either failing means a step's footprint lies, and a "clean" could be false.
 */
import { describe, expect, it } from 'vitest';
import { checkCommutation, DfsScheduler, endStates, RandomScheduler, replay } from '../../src/explore/index.js';

import { scenarioSystem } from '../../src/scenarios/system.js';
import { scheduler } from '../../src/scenarios/run.js';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import { generate, parse } from '../../src/swarm/generate.js';
import { undeclaredReads, watchTlbReads } from '../../src/scenarios/footprint_check.js';
import { current } from '../../src/mm/current.js';
import { shippedScenarios } from '../support/scenarios.js';

const scenarios: Scenario[] = shippedScenarios();
/** Random executions per scenario and guard setting under the race check of real accesses. */
const ACCESS_EXECUTIONS = 20;

describe('the reduction on the shipped scenarios', () => {
  for (const scn of scenarios) {
    for (const guardsOff of scn.guards.length ? [[], scn.guards] : [[]]) {
      const which = guardsOff.length ? `guard ${guardsOff.join('+')} off` : 'guards on';
      // A scenario with a `bound` line is searched within it (migration_wait_reclaimed: three CPUs,
      // no complete search): there DPOR must reach exactly what naive enumeration reaches within
      // the same bound.
      if (scn.bound >= 0) {
        it(`${scn.name}, ${which}: DPOR reaches what naive enumeration reaches within its bound ${scn.bound}`, () => {
          const sys = scenarioSystem(scn, guardsOff);
          const n = endStates(sys, new DfsScheduler({ reduction: 'none', preemptionBound: scn.bound }), { maxExecutions: 50_000 });
          const d = endStates(sys, scheduler(scn, {}), { maxExecutions: 50_000 });
          expect([n.finished, d.finished]).toEqual([true, true]);
          expect([...n.ends].filter(([k]) => !d.ends.has(k)).map(([k, token]) => `${k.split('\n')[0]} (naive token ${token})`)).toEqual([]);
          expect([...d.ends.keys()].sort()).toEqual([...n.ends.keys()].sort());
        });
      } else it(`${scn.name}, ${which}: DPOR reaches what naive enumeration reaches (bound 1), and the complete search more`, () => {
        const sys = scenarioSystem(scn, guardsOff);
        const d = endStates(sys, new DfsScheduler({ preemptionBound: 1 }), { maxExecutions: 20_000 });
        const n = endStates(sys, new DfsScheduler({ reduction: 'none', preemptionBound: 1 }), { maxExecutions: 20_000 });
        expect(n.finished).toBe(true);
        const missing = [...n.ends].filter(([k]) => !d.ends.has(k)).map(([k, token]) => `${k.split('\n')[0]} (naive token ${token})`);
        expect(missing).toEqual([]);
        expect([...d.ends.keys()].sort()).toEqual([...n.ends.keys()].sort());
        expect(d.executions).toBeLessThanOrEqual(n.executions);
        const all = endStates(sys, new DfsScheduler(), { maxExecutions: 50_000 });
        expect(all.complete).toBe(true);
        expect([...n.ends.keys()].filter((k) => !all.ends.has(k))).toEqual([]);
      });

      it(`${scn.name}, ${which}: every step writes only what its footprint declares`, () => {
        // The system throws a ModelBug naming the step and the undeclared objects it wrote, or the
        // TLBs it read (footprint_check.ts).
        const r = endStates(scenarioSystem(scn, guardsOff, { checkFootprints: true }), new RandomScheduler(7, 3));
        expect(r.executions).toBe(3);
      });

      it(`${scn.name}, ${which}: the footprints order every pair of real conflicting accesses`, () => {
        // The read side: each frame word, page-flag bit and entry a step really reads or writes,
        // against the other tasks' accesses to it (access_check.ts throws a ModelBug naming both
        // steps and the word). Cheaper than the digest above, so along more executions.
        const r = endStates(scenarioSystem(scn, guardsOff, { checkFootprints: 'accesses' }), new RandomScheduler(11, ACCESS_EXECUTIONS));
        expect(r.executions).toBe(ACCESS_EXECUTIONS);
      });
    }
    it(`${scn.name}: independent steps commute along random executions`, () => {
      const r = checkCommutation(scenarioSystem(scn), { seed: 12, executions: 2, statesPerExecution: 80 });
      expect(r.failures).toEqual([]);
      expect(r.states).toBeGreaterThan(0);
    });
  }
});

describe('collapse_vs_vma_lock: the schedule that made a false "clean" (issue 12)', () => {
  // CPU1's per-VMA DONTNEED passes the lockless vm_lock_seq check (3 steps: rcu_read_lock,
  // mas_walk, the check); CPU0's MADV_COLLAPSE then takes the mmap_lock, write-locks the VMA and
  // rechecks the PMD; CPU1 resumes and takes its VMA reference while the VMA is write-locked.
  // Before vma_start_read() rechecked vm_lock_seq with the reference held, CPU1 zapped and
  // reclaimed the table inside collapse's section and collapse restored a table from a none PMD.
  const scn = scenarios.find((s) => s.name === 'collapse_vs_vma_lock')!;
  const token = '1*3.0*526.1*4.0*1040.1*11';

  it('is clean with every guard on: the reader sees the write lock on its recheck and falls back to the mmap_lock', () => {
    const r = replay(scenarioSystem(scn), token);
    expect(r.status).toBe('clean');
  });

  it('the recheck is what decides it: the step after the reference is the vm_lock_seq load, then the reference is dropped', () => {
    const sys = scenarioSystem(scn);
    const inst = sys.create();
    const labels: string[] = [];
    const take = (t: number, n: number): void => {
      for (let i = 0; i < n; i++) {
        labels.push(`${t}: ${inst.pending(t)!.label}`);
        inst.step(t);
      }
    };
    take(1, 3);
    take(0, 526);
    take(1, 4);
    expect(labels.slice(-4)).toEqual(['1: vm_refcnt get (VMA A)', '1: ld vm_lock_seq (VMA A)', '1: runlock rwsem', '1: rcu-']);
    expect(inst.pending(1)!.label).toBe('rlock rwsem'); // the mmap_lock fallback, held off by collapse
    expect(inst.enabled(1)).toBe(false);
  });

  it('R10 is still found with its guard off', () => {
    const sys = scenarioSystem(scn, ['vma-write-before-recheck']);
    const r = endStates(sys, new DfsScheduler({ preemptionBound: 1 }));
    expect([...r.ends.keys()]).toContain('violation pmd-from-none');
  });
});

describe('mremap_vs_dontneed: the schedule that was a lost PTE before vma_link() write-locked the new VMA (issue 16)', () => {
  // CPU0's mremap has unmapped B, linked the new VMA at B's place, allocated its PTE table and
  // mapped it with pte_offset_map_rw_nolock() (52 steps: CPU0 is about to lock the new table).
  // The model's vma_link() once stored the new VMA without vma_start_write(): CPU1's per-VMA
  // DONTNEED then read-locked it, reclaimed the new table, and move_ptes() wrote the moved page
  // into the detached table (found by `ptlab explore mremap_vs_dontneed`, token 0*52.1*27.0*4).
  const scn = scenarios.find((s) => s.name === 'mremap_vs_dontneed')!;

  it('the per-VMA reader sees the new VMA write-locked and falls back to the mmap_lock, held by mremap', () => {
    const sys = scenarioSystem(scn);
    const inst = sys.create();
    for (let i = 0; i < 52; i++) inst.step(0);
    const labels: string[] = [];
    while (inst.enabled(1)) {
      labels.push(inst.pending(1)!.label);
      inst.step(1);
    }
    expect(labels).toEqual(['rcu+', 'mas_walk (VMA tree, RCU)', 'ld vm_lock_seq (VMA A)', 'rcu-']);
    expect(inst.pending(1)!.label).toBe('rlock rwsem');
  });
});

describe('populate of a page CPU 0 caches: the TLB-conflict check reads every TLB (issue 12)', () => {
  // populate_vs_dontneed at page 0, which the setup's touch left in CPU 0's TLB. CPU 1's DONTNEED
  // zaps the block and clears the PMD (32 steps), its flush still to come; CPU 0's MADV_POPULATE
  // then faults page 0 into a new table while its own TLB still maps the old frame: R8's
  // break-before-make breach. The flush writes only TLBs and the store only the new slot, so
  // until the check recorded its TLB reads DPOR saw them independent, never ran the store before
  // the flush, and called the search clean within bound 1 where naive enumeration fails.
  const text = (arch: string): string =>
    [
      'scenario populate_page0',
      'about populate_vs_dontneed at the page CPU 0 caches',
      'violation tlb-conflict',
      `config arch=${arch}`,
      'config version=7.0',
      'process P',
      'map A anon private 2M',
      'touch A 0 8K write',
      'cpu 0 madvise A 0 4K populate_write',
      'cpu 1 madvise A 0 2M dontneed',
    ].join('\n');
  const load = (arch: string): Scenario => {
    const r = parseScenario(text(arch), 'populate_page0.scn');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.scenario;
  };

  it('arm64: the schedule fails, and DPOR within bound 1 finds it as naive enumeration does', () => {
    const sys = scenarioSystem(load('arm64'), []);
    expect(replay(sys, '1*32.0*20')).toMatchObject({ status: 'violation', violation: { kind: 'tlb-conflict' } });
    const d = endStates(sys, new DfsScheduler({ preemptionBound: 1 }));
    const n = endStates(sys, new DfsScheduler({ reduction: 'none', preemptionBound: 1 }));
    expect([...n.ends.keys()]).toContain('violation tlb-conflict');
    expect([...d.ends.keys()].sort()).toEqual([...n.ends.keys()].sort());
    expect(d.executions).toBeLessThan(n.executions);
  });

  it('the footprint check sees a TLB read the step does not record', () => {
    // The check that caught the gap: TLB reads go through a proxy while a step runs.
    const inst = scenarioSystem(load('arm64'), []).create();
    inst.step(1); // any step: it sets the kernel the model code runs on
    const k = current.k;
    const real = k.cpus[1].tlb;
    const watch = watchTlbReads(k);
    expect(k.cpus[1].tlb).not.toBe(real);
    const live = k.cpus[1].tlb.live; // what a sanitizer reading CPU 1's TLB does
    const read = watch.stop();
    expect(live).toBeGreaterThanOrEqual(0);
    expect(undeclaredReads(read, [])).toEqual(['tlb CPU1']);
    expect(undeclaredReads(read, read)).toEqual([]);
    expect(k.cpus[1].tlb).toBe(real); // the real TLBs are back
    const again = watchTlbReads(k);
    expect(again.stop()).toEqual([]);
  });

  it('x86: the conflict is tolerated, and the reduced search still reports it', () => {
    const sys = scenarioSystem(load('x86'), []);
    const d = endStates(sys, new DfsScheduler({ preemptionBound: 1 }));
    const n = endStates(sys, new DfsScheduler({ reduction: 'none', preemptionBound: 1 }));
    const tolerating = (ends: ReadonlyMap<string, string>): string[] => [...ends.keys()].filter((k) => k.startsWith('finished tolerating tlb-conflict'));
    expect(tolerating(n.ends).length).toBeGreaterThan(0);
    expect(tolerating(d.ends).sort()).toEqual(tolerating(n.ends).sort());
  });
});

describe('the reduction on generated scenarios (ptlab swarm), x86 and arm64', () => {
  // The shipped scenarios were each written around one race; generated ones put other paths and
  // setups side by side, where a footprint gap shows up as an end state DPOR misses. Odd seeds run
  // on arm64 7.0 (break-before-make breaches are violations there; the added config lines come
  // last and win over the generator's), even ones as generated: x86 (tolerated conflicts, part of
  // the end state) or, where the generator's arm64 group is on, arm64 7.1.9. Seeds whose naive
  // enumeration at bound 1 exceeds the cap are left out; enough must remain for the comparison
  // to mean something.
  const CAP = 600;
  it('DPOR within preemption bound 1 reaches every end state naive enumeration reaches', () => {
    let compared = 0;
    const missed: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const g = generate(seed);
      const text = seed % 2 ? g.text.replace(/^process /m, 'config arch=arm64\nconfig version=7.0\nprocess ') : g.text;
      const sys = scenarioSystem(parse(text, `swarm_${seed}.scn`), []);
      const n = endStates(sys, new DfsScheduler({ reduction: 'none', preemptionBound: 1 }), { maxExecutions: CAP });
      if (!n.finished) continue;
      const d = endStates(sys, new DfsScheduler({ preemptionBound: 1 }));
      compared++;
      for (const [k, token] of n.ends) if (!d.ends.has(k)) missed.push(`seed ${seed}: ${k.split('\n')[0]} (naive token ${token})`);
    }
    expect(missed).toEqual([]);
    expect(compared).toBeGreaterThanOrEqual(25);
  }, 300_000);
});
