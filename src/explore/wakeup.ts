/**
 * Wakeup trees of optimal DPOR (Abdulla, Aronis, Jonsson, Sagonas, "Source Sets: A Foundation for
 * Optimal Dynamic Partial Order Reduction", JACM 64(4), 2017, Section 6), for dfs.ts's
 * `reduction: 'optimal-dpor'`. Source-set DPOR (dfs.ts's default) records only which task should
 * start a schedule that reverses a race;
 * the schedule that task then runs may wander into a state whose every enabled task is asleep,
 * an execution that explores nothing new ("sleep-set blocked"). A wakeup tree records the whole
 * reversing sequence v = notdep(e, E).e', and the search follows it, so every execution it starts
 * ends in a new equivalence class (for programs without blocking; see dfs.ts for locks).
 *
 * A tree hangs off a node of the search: its branches are sequences of events still to explore from
 * that node, each event a task with the footprint it had when the sequence was recorded (the same
 * step at the same state, as the reordering keeps every dependency).
 */
import type { Access } from './dpor.js';

/** An event of a wakeup sequence: a task's step as it ran when the sequence was recorded. */
export interface SeqEvent {
  readonly task: number;
  /** The step's choice value. */
  readonly choice: number;
  /** Whether the step is a choice (more than one value). */
  readonly chooses: boolean;
  readonly access: Access;
}

/** One event of a wakeup tree, and the sequences that continue it. */
export interface WakeupBranch extends SeqEvent {
  readonly children: WakeupBranch[];
}

/**
 * Whether task q, whose next step is `qa`, is a weak initial of w: some reordering of w followed by
 * more steps starts with q. Either q's first event in w has no predecessor in w (no earlier event of
 * w is dependent with it; an earlier one that precedes it through others is itself preceded by a
 * dependent one), or q does not occur in w and its step is independent of all of w.
 */
export function weakInitial(q: number, qa: Access, w: readonly SeqEvent[]): boolean {
  return new Remaining(w).weakInitial(q, qa);
}

/**
 * What is left of a sequence while it is inserted: events are taken out (a task's first remaining
 * one at a time), and the questions asked of it are answered through indexes by task and by object
 * rather than by scans, because sequences run to hundreds of events (a THP split) and the walk down
 * the tree asks at every level.
 */
class Remaining {
  private readonly gone: Uint8Array;
  left: number;
  private readonly byTask: number[][] = [];
  private readonly next: number[] = [];
  private readonly writers = new Map<number, Run>();
  private readonly touchers = new Map<number, Run>();
  private readonly globals: Run = { at: [], from: 0 };
  /** Every event, for a global step (dependent with all). */
  private readonly all: Run;

  constructor(private readonly w: readonly SeqEvent[]) {
    this.gone = new Uint8Array(w.length);
    this.left = w.length;
    this.all = { at: w.map((_, i) => i), from: 0 };
    w.forEach((e, i) => {
      (this.byTask[e.task] ??= []).push(i);
      this.next[e.task] = 0;
      if (e.access.global) this.globals.at.push(i);
      for (const o of e.access.reads) push(this.touchers, o, i);
      for (const o of e.access.writes) {
        push(this.touchers, o, i);
        push(this.writers, o, i);
      }
    });
  }

  /** The index of q's first remaining event, or -1. */
  first(q: number): number {
    const l = this.byTask[q];
    return l && this.next[q] < l.length ? l[this.next[q]] : -1;
  }

  /** Take out q's first remaining event; false when that was the last event left. */
  take(q: number): boolean {
    const i = this.first(q);
    if (i < 0) return true;
    this.gone[i] = 1;
    this.next[q]++;
    return --this.left > 0;
  }

  weakInitial(q: number, qa: Access): boolean {
    const i = this.first(q);
    return i < 0 ? !this.anyDependent(qa, this.w.length) : !this.anyDependent(this.w[i].access, i);
  }

  /** The events left, in order. */
  rest(): SeqEvent[] {
    return this.w.filter((_, j) => !this.gone[j]);
  }

  /** Whether an event left before index `bound` is dependent with `a`. */
  private anyDependent(a: Access, bound: number): boolean {
    if (a.global) return this.firstLeft(this.all) < bound;
    if (this.firstLeft(this.globals) < bound) return true;
    for (const o of a.reads) {
      const r = this.writers.get(o);
      if (r && this.firstLeft(r) < bound) return true;
    }
    for (const o of a.writes) {
      const r = this.touchers.get(o);
      if (r && this.firstLeft(r) < bound) return true;
    }
    return false;
  }

  /** The first index of the run not taken out (Infinity: none); taken ones only grow, so `from` only moves on. */
  private firstLeft(r: Run): number {
    while (r.from < r.at.length && this.gone[r.at[r.from]]) r.from++;
    return r.from < r.at.length ? r.at[r.from] : Infinity;
  }
}

/** Indexes of a sequence's events in order, and how many at the front are known taken out. */
interface Run {
  readonly at: number[];
  from: number;
}

function push(m: Map<number, Run>, o: number, i: number): void {
  const r = m.get(o);
  if (r) r.at.push(i);
  else m.set(o, { at: [i], from: 0 });
}

/**
 * Whether branch b's event may start a reordering of what is left of w: it is a weak initial of it,
 * and, when it is a choice, w's event of its task took the same value. A choice touches nothing, so
 * it commutes with every step; but the value decides the task's later steps, and a sequence explored
 * after one value does not stand for w explored after another: a choice that does not occur in w is
 * no weak initial of it here (nor does a sleeping task whose step is a choice cover w: dfs.ts).
 */
function stands(b: WakeupBranch, w: readonly SeqEvent[], r: Remaining): boolean {
  const i = r.first(b.task);
  if (i < 0) return !b.chooses && r.weakInitial(b.task, b.access);
  return w[i].choice === b.choice && r.weakInitial(b.task, b.access);
}

/**
 * insert[E](w, wut) for the pending branches of a node (those not explored yet): walk down the
 * tree, at each level into the first branch whose event is a weak initial of what is left of w
 * (that event taken out of w); a leaf reached, or w used up, means a sequence already in the tree
 * will explore w's reordering; else what is left of w becomes the last branch at that level.
 * The caller has checked that no sleeping task is a weak initial of w (Algorithm 4's
 * `Sleep ∩ WI(w) = ∅`). Returns whether the tree changed.
 */
export function insertWakeup(pending: WakeupBranch[], w: readonly SeqEvent[]): boolean {
  const r = new Remaining(w);
  let level = pending;
  for (let root = true; ; root = false) {
    if (!root && level.length === 0) return false;
    const next = level.find((b) => stands(b, w, r));
    if (!next) {
      level.push(chain(r.rest()));
      return true;
    }
    if (!r.take(next.task)) return false;
    level = next.children;
  }
}

/** A sequence as a branch with one child per level. */
function chain(w: readonly SeqEvent[]): WakeupBranch {
  let b: WakeupBranch | null = null;
  for (let i = w.length - 1; i >= 0; i--) b = { task: w[i].task, choice: w[i].choice, chooses: w[i].chooses, access: w[i].access, children: b ? [b] : [] };
  return b!;
}
