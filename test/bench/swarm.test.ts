import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acceptedKinds, goneWithGuardOn, guardTargets, mergeSwarmRuns, renderSwarmBench, type SwarmBenchResult } from '../../src/bench/swarm.js';
import { loadAllowList } from '../../src/scenarios/registry.js';

describe('swarm rediscovery targets (bench/SWARM.md)', () => {
  const targets = new Map(guardTargets().map((t) => [t.guard, t]));

  it('takes what each guard expects from its shipped scenarios', () => {
    expect(targets.get('rcu-single-table-free')?.expected).toEqual(['pt-use-after-free']);
    expect(targets.get('ptlock-rcu-free')?.expected).toEqual(['ptl-use-after-free']);
    expect(targets.get('fork-vma-write')?.expected).toEqual(['anomaly']);
    expect(targets.get('rw-nolock-pmd-same')?.expected).toEqual([]);
  });

  it('accepts a freed table met through its lock, and not a lock freed before its table', () => {
    expect(acceptedKinds(targets.get('rcu-single-table-free')!)).toEqual(['pt-use-after-free', 'ptl-use-after-free']);
    expect(acceptedKinds(targets.get('ptlock-rcu-free')!)).toEqual(['ptl-use-after-free']);
    expect(acceptedKinds(targets.get('rw-nolock-pmd-same')!)).toEqual([]);
  });
});

describe('a rediscovery must go away with every guard on', () => {
  const budget = { dpor: 1000, pct: 0 };
  const text = (name: string) => fs.readFileSync(`scenarios/${name}.scn`, 'utf8');

  it('counts a stale pin that only the guard prevents', () => {
    expect(goneWithGuardOn({ kind: 'stale-pin', scn: text('gup_fast_vs_reclaim') }, budget, 1)).toBe(true);
  });

  it('rejects an anomaly the scenario shows with every guard on', () => {
    // gup_fast's prefix of a range is unexplained without the allow-list's entry for it.
    const scn = text('gup_fast_pages_vs_dontneed');
    expect(goneWithGuardOn({ kind: 'anomaly', scn }, { ...budget, explain: { allow: [] } }, 1)).toBe(false);
    const allow = loadAllowList();
    if (!allow.ok) throw new Error(allow.errors.join('\n'));
    expect(goneWithGuardOn({ kind: 'anomaly', scn }, { ...budget, explain: { allow: allow.entries } }, 1)).toBe(true);
  });
});

describe('the rediscovery table', () => {
  it('marks the findings of the expected kind that every guard on shows too, and counts each group', () => {
    const finding = (key: string) => ({ kind: 'anomaly', key, count: 1, message: 'm', scn: 's', index: 1, executionsToFind: 1, secondsToFind: 1, linesBefore: 1, linesAfter: 1 });
    const summary = { done: 2, executions: 10, seconds: 300, findings: [finding('a'), finding('b'), { ...finding('c'), count: 3 }, finding('d')] };
    const target = { guard: 'fork-vma-write', expected: ['anomaly'], scenarios: ['fork_vs_dontneed'] };
    const md = renderSwarmBench({
      seconds: 300, seed: 1, budget: { dpor: 1000, pct: 200 }, workers: 1, cores: 2,
      runs: [{ target, summary, rejected: ['a', 'c'] }],
      control: { done: 0, executions: 0, seconds: 300, findings: [] },
    } as unknown as SwarmBenchResult);
    expect(md).toContain('| `fork-vma-write` | anomaly | **no** |');
    // Findings of one kind are counted together, those every guard on shows too apart.
    expect(md).toContain('anomaly ×4 (2 distinct; also with every guard on), anomaly ×2 (2 distinct) |');
  });

  it('merges guards run alone into the full result, marked, and refuses other settings', () => {
    const run = (guard: string, done: number) => ({ target: { guard, expected: ['stale-pin'], scenarios: ['x'] }, summary: { done, executions: done, seconds: 300, findings: [] } });
    const full = {
      seconds: 300, seed: 1, budget: { dpor: 1000, pct: 200 }, workers: 1, cores: 2,
      runs: [run('gup-fast-recheck', 5), run('collapse-ipi', 6)],
      control: { done: 7, executions: 70, seconds: 300, findings: [] },
    } as unknown as SwarmBenchResult;
    const partial = { ...full, runs: [run('collapse-ipi', 9)], control: undefined } as unknown as SwarmBenchResult;
    const merged = mergeSwarmRuns(full, partial, { commit: 'abc1234', date: '2026-12-07' });
    expect(merged.runs.map((r) => [r.target.guard, r.summary.done, r.rerun?.commit])).toEqual([['gup-fast-recheck', 5, undefined], ['collapse-ipi', 9, 'abc1234']]);
    expect(merged.control).toBe(full.control);
    const md = renderSwarmBench(merged);
    expect(md).toContain('| `collapse-ipi` (run alone at abc1234, 2026-12-07) | stale-pin | **no** | - | - | 9 |');
    expect(md).toContain('| `gup-fast-recheck` | stale-pin | **no** | - | - | 5 |');
    expect(md).toContain('Rows marked "run alone"');
    expect(() => mergeSwarmRuns(full, { ...partial, seconds: 600 }, { commit: 'x', date: 'y' })).toThrow(/other settings/);
    expect(() => renderSwarmBench(partial)).toThrow(/without its control/);
  });
});
