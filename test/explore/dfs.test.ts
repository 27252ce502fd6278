import { describe, expect, it } from 'vitest';
import { DfsScheduler, explore, formatTrace } from '../../src/explore/index.js';
import { choose, countIs, incrementRacy, ld, local, lock, lostUpdate, st, toySystem, ToyViolation, unlock, type Task, abbaSystem } from './toy.js';

const dpor = (): DfsScheduler => new DfsScheduler();
const naive = (): DfsScheduler => new DfsScheduler({ reduction: 'none' });
const all = { stopAtFirst: false, minimize: false } as const;

describe('DFS with source-DPOR', () => {
  it('finds the lost update on its second execution', () => {
    // 1. A: ld x (0)   2. A: st x = 1   3. B: ld x (1)   4. B: st x = 2     — clean, the first schedule
    // DPOR reverses B's load with A's store: A ld, B ld, B st, A st → x = 1.
    const r = explore(lostUpdate, dpor());
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violation.kind).toBe('lost-update');
    expect(r.executions).toBe(2);
    expect(r.trace.map((s) => `${s.task}:${s.label}`)).toEqual(['0:ld x', '1:ld x', '1:st x = 1', '0:st x = 1']);
  });

  it('runs 4 executions of the lost update where naive enumeration runs all 6', () => {
    // 4 = the Mazurkiewicz traces: A before B, B before A, and both loads first with either store last.
    const d = explore(lostUpdate, dpor(), all);
    const n = explore(lostUpdate, naive(), all);
    expect([d.executions, d.abandoned, n.executions]).toEqual([4, 0, 6]);
    expect(d.status === 'violation' && d.complete).toBe(true);
  });

  it('proves the lock-protected counter clean with a complete search of 2 executions', () => {
    const locked: Task = function* (w, me) {
      yield* local('prepare'); // something to interleave that does not matter
      yield* lock(w, 'L', me);
      const v = yield* ld(w, 'x');
      yield* st(w, 'x', v + 1);
      yield* unlock(w, 'L', me);
    };
    const sys = toySystem({ name: 'locked counter', tasks: [locked, locked], final: countIs(2) });
    const d = explore(sys, dpor());
    const n = explore(sys, naive());
    expect(d).toMatchObject({ status: 'clean', complete: true, executions: 2 });
    expect(n).toMatchObject({ status: 'clean', complete: true, executions: 12 });
  });

  it('finds the ABBA lock-order deadlock and shows who waits for what', () => {
    const sys = abbaSystem();
    const r = explore(sys, dpor());
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violation.kind).toBe('deadlock');
    expect(r.violation.message).toBe("no task can run; waiting: 0 at 'lock B', 1 at 'lock A'");
    expect(r.preemptions).toBe(1);
    expect(formatTrace(r.trace, 2, { names: ['A: lock A, B', 'B: lock B, A'], violation: r.violation })).toBe(
      [
        '| step | A: lock A, B | B: lock B, A |',
        '| --- | --- | --- |',
        '| 1 | lock A |  |',
        '| 2 |  | ↷ lock B |',
        '| 3 | **lock B (waits forever)** ✗ |  |',
        '| 4 |  | **lock A (waits forever)** ✗ |',
        '',
        "✗ deadlock: no task can run; waiting: 0 at 'lock B', 1 at 'lock A'",
      ].join('\n'),
    );
  });

  it('explores a choice point both ways', () => {
    const seen: string[] = [];
    const sys = toySystem({
      name: 'need_resched',
      tasks: [
        function* (w) {
          const resched = yield* choose('need_resched()');
          yield* st(w, 'x', resched ? 10 : 20);
        },
      ],
      final: (w) => (seen.push(w.describe()), null),
    });
    expect(explore(sys, dpor())).toMatchObject({ status: 'clean', complete: true, executions: 2 });
    expect(seen).toEqual(['x=20', 'x=10']);
  });

  it('runs one execution of three tasks on disjoint objects where naive runs 6!/(2!·2!·2!) = 90', () => {
    const own = (x: string): Task =>
      function* (w) {
        const v = yield* ld(w, x);
        yield* st(w, x, v + 1);
      };
    const sys = toySystem({ name: 'disjoint', tasks: [own('a'), own('b'), own('c')] });
    expect(explore(sys, dpor())).toMatchObject({ status: 'clean', complete: true, executions: 1, abandoned: 0 });
    expect(explore(sys, naive())).toMatchObject({ status: 'clean', complete: true, executions: 90 });
  });

  it('runs one execution of three readers of the same object: reads commute', () => {
    const reader: Task = function* (w) {
      yield* ld(w, 'x');
      yield* ld(w, 'x');
    };
    const sys = toySystem({ name: 'readers', tasks: [reader, reader, reader] });
    expect(explore(sys, dpor())).toMatchObject({ status: 'clean', complete: true, executions: 1 });
  });

  it('misses the lost update at preemption bound 0 and says the search was incomplete', () => {
    // Without preemptions each increment runs whole: the lost update needs A preempted after its load.
    expect(explore(lostUpdate, new DfsScheduler({ preemptionBound: 0 }))).toMatchObject({ status: 'clean', complete: false });
    const r = explore(lostUpdate, new DfsScheduler({ preemptionBound: 1 }));
    expect(r.status === 'violation' && r.violation.kind).toBe('lost-update');
  });

  it('collects every distinct failure when asked to', () => {
    // Task 0 may also take a bad branch: two kinds of failure in one system.
    const branchy: Task = function* (w) {
      if (yield* choose('bad branch?')) throw new ToyViolation('bad-branch', 'took the bad branch');
      yield* incrementRacy(w);
    };
    const sys = toySystem({ name: 'two bugs', tasks: [branchy, incrementRacy], final: countIs(2) });
    const r = explore(sys, dpor(), { stopAtFirst: false });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.failures.map((f) => f.violation.kind).sort()).toEqual(['bad-branch', 'lost-update']);
    expect(r.complete).toBe(true);
  });

  it('refuses a system that is not deterministic', () => {
    let created = 0;
    const drifting: Task = function* (w) {
      yield* ld(w, created > 0 ? 'y' : 'x'); // reads another variable from the second execution on
    };
    const sys = toySystem({ name: 'drifting', tasks: [incrementRacy, drifting], onCreate: () => created++ });
    expect(() => explore(sys, dpor())).toThrow(/not deterministic/);
  });
});
