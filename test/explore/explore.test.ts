import { describe, expect, it } from 'vitest';
import { assertClean, DfsScheduler, explore, ExploreFailure, RandomScheduler, replay, verdictLine, type Progress } from '../../src/explore/index.js';
import { choose, countIs, incrementRacy, ld, local, lostUpdate, st, toySystem, type Task } from './toy.js';

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

  it('gives no verdict when an execution runs past the step limit: a livelock or only a long path', () => {
    const spinner: Task = function* () {
      for (;;) yield* local('cpu_relax()');
    };
    const r = explore(toySystem({ name: 'spin', tasks: [spinner] }), new DfsScheduler(), { maxSteps: 50 });
    expect(r).toMatchObject({ status: 'step-limit', executions: 1, overrun: { message: "tasks still running after 50 steps: 0 at 'cpu_relax()'", token: '0*50', executions: 1, maxSteps: 50 } });
    expect(verdictLine(r)).toMatch(/^no violation, but the execution ran past the 50-step limit .*: not a verdict$/);
    // The same path is judged under a limit it fits in.
    const steps = (n: number): Task =>
      function* () {
        for (let i = 0; i < n; i++) yield* local(`step ${i}`);
      };
    expect(explore(toySystem({ name: 'long', tasks: [steps(60)] }), new DfsScheduler(), { maxSteps: 50 }).status).toBe('step-limit');
    expect(explore(toySystem({ name: 'long', tasks: [steps(60)] }), new DfsScheduler(), { maxSteps: 60 })).toMatchObject({ status: 'clean', complete: true });
  });

  it('keeps searching past a step-limit execution: the other executions count, and a violation still wins', () => {
    // Task 0 spins only when it chose 1; the other branch finishes (clean) or, with a final check, fails.
    const maybeSpin: Task = function* (w) {
      if ((yield* choose('spin?')) === 1) for (;;) yield* local('cpu_relax()');
      yield* st(w, 'x', 1);
    };
    const clean = explore(toySystem({ name: 'maybe spin', tasks: [maybeSpin] }), new DfsScheduler(), { maxSteps: 50 });
    expect(clean).toMatchObject({ status: 'step-limit', executions: 2, overrun: { executions: 1 } });
    expect(verdictLine(clean)).toMatch(/^no violation, but 1 of 2 executions ran past the 50-step limit/);
    const failing = explore(toySystem({ name: 'maybe spin', tasks: [maybeSpin], final: countIs(0) }), new DfsScheduler(), { maxSteps: 50, stopAtFirst: false });
    expect(failing).toMatchObject({ status: 'violation', complete: false });
    // A replay of the spinning schedule shows its steps.
    const r = replay(toySystem({ name: 'maybe spin', tasks: [maybeSpin] }), '0c1.0*49', { maxSteps: 50 });
    expect(r.status === 'step-limit' && r.overrun.trace?.length).toBe(50);
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
