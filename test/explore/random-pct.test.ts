/**
 * Detection odds of the randomized strategies on the lost update (two tasks, each `ld x; st x`).
 * Stated bounds come from the strategies' definitions, not from runs; the seeds are fixed, so the
 * counts below are pinned, and the thresholds sit well under what the bounds promise.
 */
import { describe, expect, it } from 'vitest';
import { explore, PctScheduler, RandomScheduler, replay } from '../../src/explore/index.js';
import { lostUpdate } from './toy.js';

const SEEDS = Array.from({ length: 50 }, (_, i) => 1000 + i);

describe('random walk', () => {
  it('finds the lost update in at least 45 of 50 seeds with 20 executions each', () => {
    // After the first step the other task must run next (1/2); then both loaded 0 and the bug is
    // certain. So per seed: 1 − (1 − 1/2)^20 > 99.9999%.
    const found = SEEDS.filter((seed) => explore(lostUpdate, new RandomScheduler(seed, 20)).status === 'violation');
    expect(found.length).toBeGreaterThanOrEqual(45);
  });

  it('is a function of its seed: the same seed finds the same schedule', () => {
    const a = explore(lostUpdate, new RandomScheduler(7, 20), { minimize: false });
    const b = explore(lostUpdate, new RandomScheduler(7, 20), { minimize: false });
    expect(a).toEqual(b);
    if (a.status === 'violation') expect(replay(lostUpdate, a.token).status).toBe('violation');
  });

  it('says clean but never complete when it found nothing', () => {
    expect(explore(lostUpdate, new RandomScheduler(1, 0))).toMatchObject({ status: 'clean', complete: false, executions: 0 });
  });
});

describe('PCT', () => {
  it('finds the lost update (a depth-2 bug) in at least 45 of 50 seeds with 20 executions each', () => {
    // PCT's bound: 1 / (n · k^(d−1)) per execution = 1 / (2 · 4) with n = 2 tasks, k = 4 steps,
    // d = 2 (A's load before B's store, B's load before A's store). The first execution has no
    // estimate of k yet and takes no priority change, so per seed: 1 − (1 − 1/8)^19 > 92%.
    const found = SEEDS.filter((seed) => explore(lostUpdate, new PctScheduler({ seed, depth: 2, executions: 20 })).status === 'violation');
    expect(found.length).toBeGreaterThanOrEqual(45);
  });

  it('never finds it at depth 1, which only runs whole tasks by priority', () => {
    // With no priority change a task runs until it finishes: the increments never overlap.
    const found = SEEDS.filter((seed) => explore(lostUpdate, new PctScheduler({ seed, depth: 1, executions: 20 })).status === 'violation');
    expect(found).toEqual([]);
  });
});
