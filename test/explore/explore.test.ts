import { describe, expect, it } from 'vitest';
import { assertClean, DfsScheduler, explore, ExploreFailure, RandomScheduler, replay, type Progress } from '../../src/explore/index.js';
import { countIs, incrementRacy, ld, local, lostUpdate, st, toySystem, type Task } from './toy.js';

/** The lost update padded with private work, so that random schedules switch tasks a lot. */
const padded: Task = function* (w) {
  for (let i = 0; i < 3; i++) yield* local(`work ${i}`);
  yield* incrementRacy(w);
  for (let i = 3; i < 6; i++) yield* local(`work ${i}`);
};
const paddedLostUpdate = toySystem({ name: 'padded lost update', tasks: [padded, padded], final: countIs(2) });

describe('explore', () => {
  it('shrinks a random failure to the one preemption the lost update needs', () => {
    const raw = explore(paddedLostUpdate, new RandomScheduler(3, 100), { minimize: false });
    const min = explore(paddedLostUpdate, new RandomScheduler(3, 100));
    if (raw.status !== 'violation' || min.status !== 'violation') throw new Error('expected the lost update');
    expect(raw.preemptions).toBeGreaterThan(1);
    expect(min.preemptions).toBeLessThanOrEqual(raw.preemptions);
    expect(min).toMatchObject({ preemptions: 1, minimized: true, violation: { kind: 'lost-update' } });
    expect(replay(paddedLostUpdate, min.token)).toMatchObject({ status: 'violation', token: min.token });
  });

  it('keeps an outcome while it minimizes: a violation with an identity is only traded for the same identity', () => {
    // B reads x twice, A writes 1 then 2: y = 10 * first + second. Every y but 0, 11 and 22 is
    // "unexplained", and which one is the finding: y=1 needs two preemptions, and letting A run
    // on at the second one gives y=2 with one. The shrinker must not report y=1 with y=2's token.
    const writer: Task = function* (w) {
      yield* st(w, 'x', 1);
      yield* st(w, 'x', 2);
    };
    const reader: Task = function* (w) {
      const a = yield* ld(w, 'x');
      const b = yield* ld(w, 'x');
      yield* st(w, 'y', 10 * a + b);
    };
    const final = (w: { get(x: string): number }) => {
      const y = w.get('y');
      return [0, 11, 22].includes(y) ? null : { kind: 'anomaly', message: `y=${y}`, identity: `y=${y}` };
    };
    const sys = toySystem({ name: 'two reads', tasks: [reader, writer], final });
    const r = explore(sys, new DfsScheduler({ reduction: 'none' }), { stopAtFirst: false });
    if (r.status !== 'violation') throw new Error('expected anomalies');
    const byMessage = new Map(r.failures.map((f) => [f.violation.message, f]));
    expect([...byMessage.keys()].sort()).toEqual(['y=1', 'y=12', 'y=2']);
    for (const [message, f] of byMessage) expect(replay(sys, f.token)).toMatchObject({ status: 'violation', violation: { message } });
    expect(byMessage.get('y=1')!.preemptions).toBe(2);
  });

  it('returns budget when the executions run out before the search ends', () => {
    expect(explore(paddedLostUpdate, new DfsScheduler({ reduction: 'none' }), { budget: { maxExecutions: 3 }, stopAtFirst: true })).toEqual({
      status: 'budget',
      executions: 3,
      abandoned: 0,
    });
  });

  it('calls a search that ends exactly at the budget clean, not out of budget', () => {
    const own = (x: string): Task =>
      function* (w) {
        yield* st(w, x, 1);
        yield* st(w, x, 2);
      };
    const sys = toySystem({ name: 'disjoint', tasks: [own('a'), own('b'), own('c')] });
    const naive = (max: number) => explore(sys, new DfsScheduler({ reduction: 'none' }), { budget: { maxExecutions: max } });
    expect(naive(90)).toEqual({ status: 'clean', complete: true, coverage: 'complete', executions: 90, abandoned: 0 });
    expect(naive(89)).toEqual({ status: 'budget', executions: 89, abandoned: 0 });
  });

  it('stops on the injected clock and reports progress through it', () => {
    let now = 0;
    const clock = (): number => (now += 10); // 10 ms per reading
    const seen: Progress[] = [];
    const r = explore(paddedLostUpdate, new DfsScheduler({ reduction: 'none' }), {
      budget: { maxMs: 55 },
      clock,
      progressEvery: 1,
      onProgress: (p) => seen.push(p),
    });
    // Readings: 10 at the start, then two per execution (progress, budget check); 8 steps per task.
    expect(r).toEqual({ status: 'budget', executions: 3, abandoned: 0 });
    expect(seen).toEqual([
      { executions: 1, depth: 16, elapsedMs: 10 },
      { executions: 2, depth: 16, elapsedMs: 30 },
      { executions: 3, depth: 16, elapsedMs: 50 },
    ]);
  });

  it('needs a clock for a time budget', () => {
    expect(() => explore(lostUpdate, new DfsScheduler(), { budget: { maxMs: 1 } })).toThrow(/needs a clock/);
  });

  it('reports a task that never finishes as a livelock', () => {
    const spinner: Task = function* () {
      for (;;) yield* local('cpu_relax()');
    };
    const r = explore(toySystem({ name: 'spin', tasks: [spinner] }), new DfsScheduler(), { maxSteps: 50 });
    expect(r).toMatchObject({ status: 'violation', violation: { kind: 'livelock', message: "tasks still running after 50 steps: 0 at 'cpu_relax()'" } });
  });

  it('throws a report with the replay token from assertClean', () => {
    expect(assertClean(toySystem({ name: 'one task', tasks: [incrementRacy], final: countIs(1) }), new DfsScheduler())).toMatchObject({
      status: 'clean',
      complete: true,
    });
    let err: unknown;
    try {
      assertClean(lostUpdate, new DfsScheduler());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExploreFailure);
    expect((err as Error).message).toBe(
      [
        'lost update: lost-update: x = 1 after 2 increments',
        'replay: token "0.1*2.0" (1 preemption, minimized)',
        '',
        '| step | task 0 | task 1 |',
        '| --- | --- | --- |',
        '| 1 | ld x |  |',
        '| 2 |  | ↷ ld x |',
        '| 3 |  | st x = 1 |',
        '| 4 | st x = 1 |  |',
        '',
        '✗ lost-update: x = 1 after 2 increments',
      ].join('\n'),
    );
  });
});
