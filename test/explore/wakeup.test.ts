/**
 * Wakeup trees (src/explore/wakeup.ts) on hand-made sequences: what counts as a weak initial, and
 * when inserting a sequence adds a branch or finds it covered by one already there.
 */
import { describe, expect, it } from 'vitest';
import { insertWakeup, weakInitial, type SeqEvent, type WakeupBranch } from '../../src/explore/wakeup.js';

const X = 1;
const Y = 2;
const ld = (task: number, o: number): SeqEvent => ({ task, choice: 0, chooses: false, access: { reads: [o], writes: [] } });
const st = (task: number, o: number): SeqEvent => ({ task, choice: 0, chooses: false, access: { reads: [], writes: [o] } });
const choose = (task: number, choice: number): SeqEvent => ({ task, choice, chooses: true, access: { reads: [], writes: [] } });
/** The tree as nested task lists, for comparison. */
const shape = (bs: readonly WakeupBranch[]): unknown[] => bs.map((b) => [b.task, b.choice, shape(b.children)]);

describe('weak initials', () => {
  it('a task whose first event has no dependent predecessor in the sequence', () => {
    expect(weakInitial(1, st(1, X).access, [ld(0, Y), st(1, X)])).toBe(true);
    expect(weakInitial(1, st(1, X).access, [ld(0, X), st(1, X)])).toBe(false);
  });
  it('a task absent from the sequence whose step is independent of all of it', () => {
    expect(weakInitial(2, ld(2, X).access, [ld(0, X), st(1, Y)])).toBe(true);
    expect(weakInitial(2, ld(2, Y).access, [ld(0, X), st(1, Y)])).toBe(false);
  });
});

describe('insertion into a wakeup tree', () => {
  it('adds a sequence, then finds it and its reorderings covered', () => {
    const tree: WakeupBranch[] = [];
    expect(insertWakeup(tree, [ld(0, X), st(1, Y)])).toBe(true);
    expect(shape(tree)).toEqual([[0, 0, [[1, 0, []]]]]);
    expect(insertWakeup(tree, [ld(0, X), st(1, Y)])).toBe(false);
    // The same two independent events in the other order: one trace, already in the tree.
    expect(insertWakeup(tree, [st(1, Y), ld(0, X)])).toBe(false);
    // A longer sequence through the whole branch: its leaf explores on from there.
    expect(insertWakeup(tree, [ld(0, X), st(1, Y), st(2, X)])).toBe(false);
  });

  it('adds a branch below the first event the sequences share, or beside the tree', () => {
    const tree: WakeupBranch[] = [];
    insertWakeup(tree, [ld(0, X), st(1, Y)]);
    // Starts with task 0's event too, then a step of task 2 that task 1's event does not commute with.
    expect(insertWakeup(tree, [ld(0, X), ld(2, Y)])).toBe(true);
    expect(shape(tree)).toEqual([[0, 0, [[1, 0, []], [2, 0, []]]]]);
    // Task 0's load must follow task 1's store to X: no branch starts it, a new one does.
    expect(insertWakeup(tree, [st(1, X), ld(0, X)])).toBe(true);
    expect(shape(tree)).toEqual([
      [0, 0, [[1, 0, []], [2, 0, []]]],
      [1, 0, [[0, 0, []]]],
    ]);
  });

  it('keeps the values of a choice apart', () => {
    const tree: WakeupBranch[] = [];
    insertWakeup(tree, [choose(0, 0), st(0, X)]);
    // The same task, another value: another event, whatever the footprints say.
    expect(insertWakeup(tree, [choose(0, 1), ld(0, X)])).toBe(true);
    expect(shape(tree)).toEqual([
      [0, 0, [[0, 0, []]]],
      [0, 1, [[0, 0, []]]],
    ]);
    // A choice commutes with every step, but a branch that begins with one stands only for
    // sequences with that value: not for one without the task.
    expect(insertWakeup(tree, [st(1, Y)])).toBe(true);
    expect(shape(tree).length).toBe(3);
  });
});
