/**
 * Wakeup trees of optimal DPOR (Abdulla, Aronis, Jonsson, Sagonas, "Source Sets: A Foundation for
 * Optimal Dynamic Partial Order Reduction", JACM 64(4), 2017, Section 6). Source-set DPOR (dfs.ts
 * under a preemption bound) records only which task should start a schedule that reverses a race;
 * the schedule that task then runs may wander into a state whose every enabled task is asleep,
 * an execution that explores nothing new ("sleep-set blocked"). A wakeup tree records the whole
 * reversing sequence v = notdep(e, E).e', and the search follows it, so every execution it starts
 * ends in a new equivalence class (for programs without blocking; see dfs.ts for locks).
 *
 * A tree hangs off a node of the search: its branches are sequences of events still to explore from
 * that node, each event a task with the footprint it had when the sequence was recorded (the same
 * step at the same state, as the reordering keeps every dependency).
 */
import { dependent, type Access } from './dpor.js';

/** One event of a wakeup sequence, and the sequences that continue it. */
export interface WakeupBranch {
  readonly task: number;
  /** The step's choice value when the sequence was recorded. */
  readonly choice: number;
  /** Whether the step is a choice (more than one value). */
  readonly chooses: boolean;
  readonly access: Access;
  readonly children: WakeupBranch[];
}

/** An event of a sequence being inserted. */
export interface SeqEvent {
  readonly task: number;
  readonly choice: number;
  readonly chooses: boolean;
  readonly access: Access;
}

/**
 * Whether task q, whose next step is `qa`, is a weak initial of w: some reordering of w followed by
 * more steps starts with q. Either q's first event in w has no predecessor in w (no earlier event of
 * w is dependent with it; an earlier one that precedes it through others is itself preceded by a
 * dependent one), or q does not occur in w and its step is independent of all of w.
 */
export function weakInitial(q: number, qa: Access, w: readonly SeqEvent[]): boolean {
  const i = w.findIndex((e) => e.task === q);
  if (i < 0) return w.every((e) => !dependent(qa, e.access));
  for (let j = 0; j < i; j++) if (dependent(w[j].access, w[i].access)) return false;
  return true;
}

/**
 * Whether branch b's event may start a reordering of w: it is a weak initial of w, and, when it is
 * a choice, w's event of its task took the same value. A choice touches nothing, so it commutes
 * with every step; but the value decides the task's later steps, and a sequence explored after one
 * value does not stand for w explored after another: a choice that does not occur in w is no weak
 * initial of it here (a sleeping task is: every value of its choice was explored).
 */
function stands(b: WakeupBranch, w: readonly SeqEvent[]): boolean {
  const e = w.find((f) => f.task === b.task);
  if (!e) return !b.chooses && weakInitial(b.task, b.access, w);
  return e.choice === b.choice && weakInitial(b.task, b.access, w);
}

/** w without q's first event (w itself when q does not occur in it). */
function without(w: readonly SeqEvent[], q: number): SeqEvent[] {
  const i = w.findIndex((e) => e.task === q);
  return i < 0 ? w.slice() : [...w.slice(0, i), ...w.slice(i + 1)];
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
  let level = pending;
  let rest = w.slice();
  for (let root = true; ; root = false) {
    if (!root && level.length === 0) return false;
    const next = level.find((b) => stands(b, rest));
    if (!next) {
      level.push(chain(rest));
      return true;
    }
    rest = without(rest, next.task);
    if (rest.length === 0) return false;
    level = next.children;
  }
}

/** A sequence as a branch with one child per level. */
function chain(w: readonly SeqEvent[]): WakeupBranch {
  let b: WakeupBranch | null = null;
  for (let i = w.length - 1; i >= 0; i--) b = { task: w[i].task, choice: w[i].choice, chooses: w[i].chooses, access: w[i].access, children: b ? [b] : [] };
  return b!;
}
