/**
 * The explorer's verdicts on the shipped scenarios rest on the reduction being sound for the real
 * model, not only for toy programs. For every scenario, with its guard on and off:
 * - DPOR reaches exactly the end states (final kernel state up to renaming, every violation kind,
 *   every deadlock) that naive enumeration reaches, at preemption bound 1, where naive enumeration
 *   is small enough to run here, and the complete (unbounded) search reaches all of them too;
 * - every step writes only what its footprint says (declared, or recorded as it ran), checked
 *   along seeded random executions: the check digests the whole kernel around each step, far too
 *   slow to run under every naive execution, and the steps of a scenario are the same few kinds
 *   in every schedule;
 * - pairs of steps the model calls independent commute when run both ways from states along random
 *   executions, at any depth (src/explore/oracles.ts).
 * Either failing means a step's footprint lies, and a "clean" could be false.
 */
import { describe, expect, it } from 'vitest';
import { checkCommutation, DfsScheduler, endStates, RandomScheduler, replay } from '../../src/explore/index.js';

import { scenarioSystem } from '../../src/scenarios/system.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { shippedScenarios } from '../support/scenarios.js';

const scenarios: Scenario[] = shippedScenarios();

describe('the reduction on the shipped scenarios', () => {
  for (const scn of scenarios) {
    for (const guardsOff of scn.guards.length ? [[], scn.guards] : [[]]) {
      const which = guardsOff.length ? `guard ${guardsOff.join('+')} off` : 'guards on';
      it(`${scn.name}, ${which}: DPOR reaches what naive enumeration reaches (bound 1), and the complete search more`, () => {
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
        // The system throws a ModelBug naming the step and the undeclared objects (footprint_check.ts).
        const r = endStates(scenarioSystem(scn, guardsOff, { checkFootprints: true }), new RandomScheduler(7, 3));
        expect(r.executions).toBe(3);
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
