/**
 * The explorer's checks of itself (src/explore/oracles.ts) must catch the two ways a system can
 * make a reduced search unsound: a step that touches something it did not declare, and an object
 * whose identity changes from one execution to the next. Each test builds the faulty system on
 * purpose and checks that it is caught, and that its honest twin is not.
 */
import { describe, expect, it } from 'vitest';
import { checkCommutation, DfsScheduler, endStates, explore, NondeterminismError, type StepInfo } from '../../src/explore/index.js';
import { ld, local, st, toySystem, type Op, type Task, type World } from './toy.js';

/** A load of x that declares nothing (a read outside any scheduling point's footprint). */
function* hiddenLoad(w: World, x: string): Generator<Op, number, number | undefined> {
  yield { info: { reads: [], writes: [], label: `ld ${x} (undeclared)` } };
  return w.get(x);
}

/** Reads x, then records what it saw: the outcome depends on where the load falls. */
const reader =
  (honest: boolean): Task =>
  function* (w) {
    yield* local('before');
    const v = honest ? yield* ld(w, 'x') : yield* hiddenLoad(w, 'x');
    yield* st(w, 'seen', v);
  };
const writer: Task = function* (w) {
  yield* st(w, 'x', 1);
};

describe('checkCommutation', () => {
  it('finds a step that reads what it did not declare', () => {
    const sys = toySystem({ name: 'hidden read', tasks: [reader(false), writer] });
    const r = checkCommutation(sys, { seed: 3, executions: 20 });
    expect(r.failures.length).toBeGreaterThan(0);
    expect(r.failures[0].labels).toContain('ld x (undeclared)');
    // The unsound search agrees it is clean in fewer end states than naive enumeration reaches.
    const d = endStates(sys, new DfsScheduler());
    const n = endStates(sys, new DfsScheduler({ reduction: 'none' }));
    expect(d.ends.size).toBeLessThan(n.ends.size);
  });

  it('passes the same system with the load declared, and DPOR then reaches every end state', () => {
    const sys = toySystem({ name: 'declared read', tasks: [reader(true), writer] });
    const r = checkCommutation(sys, { seed: 3, executions: 20 });
    expect(r.pairs).toBeGreaterThan(0);
    expect(r.failures).toEqual([]);
    const d = endStates(sys, new DfsScheduler());
    const n = endStates(sys, new DfsScheduler({ reduction: 'none' }));
    expect([...d.ends.keys()].sort()).toEqual([...n.ends.keys()].sort());
  });
});

describe('the DFS replay check', () => {
  it('stops with an internal error naming the step when an object changes identity between executions', () => {
    // The lock's name comes from a counter that survives across executions, as the rw-semaphores'
    // module-level ids once did: the first execution calls it 'lock:1', the replay 'lock:2'.
    let created = 0;
    const sys = toySystem({
      name: 'unstable id',
      tasks: [
        function* (w, me) {
          const id = 1000 + ++created;
          const info: StepInfo = { reads: [], writes: [id], label: 'lock L' };
          yield { info, enabled: () => !w.owner.has('L') };
          w.owner.set('L', me);
          yield* st(w, 'x', 1);
          yield { info: { reads: [], writes: [id], label: 'unlock L' } };
          w.owner.delete('L');
        },
        writer,
      ],
    });
    expect(() => explore(sys, new DfsScheduler())).toThrow(NondeterminismError);
    expect(() => explore(sys, new DfsScheduler())).toThrow(/step 0, task 0 now takes 'lock L' reads \[\] writes \[(\d+)\];.*recorded execution took reads \[\] writes \[(?!\1\])\d+\]/);
  });
});
