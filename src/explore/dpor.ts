/**
 * Happens-before bookkeeping for source-set DPOR (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014):
 * the events of the current execution with their vector clocks, the races of a next step against
 * them, and the initials of the reversed sequence `notdep(e, E).e'`. The search tree lives in
 * dfs.ts; this file only answers "which earlier events race with this step, and which tasks could
 * start a schedule that reverses the race".
 *
 * Clocks: clock[e][t] = how many of task t's events happen-before-or-equal e. Event e of task t
 * with local index l (1-based) happens before f iff clock[f][t] >= l.
 */
import type { StepInfo } from './types.js';

/** What dependency needs of a step: the objects it reads and those it writes. */
export type Access = Pick<StepInfo, 'reads' | 'writes' | 'global'>;

/**
 * Two steps commute unless one is global, or one writes an object the other reads or writes.
 * Steps of one task are ordered anyway; this is asked of steps of different tasks.
 */
export function dependent(a: Access, b: Access): boolean {
  if (a.global || b.global) return true;
  return meets(a.writes, b.writes) || meets(a.writes, b.reads) || meets(a.reads, b.writes);
}

function meets(x: readonly number[], y: readonly number[]): boolean {
  if (x.length === 0 || y.length === 0) return false;
  for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) if (x[i] === y[j]) return true;
  return false;
}

/**
 * The footprint of a step that may run either way: what a choice step touches with any of the
 * values explored (a sleeping choice task must wake when a step is dependent with any of them).
 */
export function unionAccess(a: Access | undefined, b: Access): Access {
  if (!a) return b;
  return { reads: [...new Set([...a.reads, ...b.reads])], writes: [...new Set([...a.writes, ...b.writes])], global: a.global || b.global };
}

/** The same footprint (the replay check): the same objects in the same roles. */
export function sameAccess(a: Access, b: Access): boolean {
  return a === b || (!!a.global === !!b.global && sameList(a.reads, b.reads) && sameList(a.writes, b.writes));
}
function sameList(x: readonly number[], y: readonly number[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export class EventLog {
  readonly task: number[] = [];
  readonly local: number[] = [];
  readonly access: Access[] = [];
  readonly clock: Int32Array[] = [];
  /** Per event, the previous event of the same task (-1: none). */
  private readonly prevSame: number[] = [];
  private readonly lastByTask: number[];
  /** Per object, the events that read or wrote it and those that wrote it, ascending; the global events. */
  private readonly touched = new Map<number, number[]>();
  private readonly written = new Map<number, number[]>();
  private readonly globals: number[] = [];

  constructor(readonly nTasks: number) {
    this.lastByTask = new Array<number>(nTasks).fill(-1);
  }

  get length(): number {
    return this.task.length;
  }

  truncate(n: number): void {
    for (let k = this.length - 1; k >= n; k--) {
      const a = this.access[k];
      if (a.global) this.globals.pop();
      for (const o of a.reads) this.touched.get(o)!.pop();
      for (const o of a.writes) {
        this.touched.get(o)!.pop();
        this.written.get(o)!.pop();
      }
      this.lastByTask[this.task[k]] = this.prevSame[k];
    }
    this.task.length = this.local.length = this.access.length = this.clock.length = this.prevSame.length = Math.min(n, this.length);
  }

  /**
   * Races of a step `a` of task p, were it taken next: the earlier events of other tasks that are
   * dependent with it and not ordered before it through any other event (Abdulla et al.'s e ⋖ e').
   * Scanning the dependent events backwards and joining each one's clock makes "ordered through
   * another event" a clock lookup. Also returns the step's clock.
   */
  races(p: number, a: Access): { races: number[]; clock: Int32Array } {
    const covered = new Int32Array(this.nTasks);
    const prev = this.lastByTask[p];
    if (prev >= 0) covered.set(this.clock[prev]);
    const races: number[] = [];
    for (const k of this.dependentEvents(a)) {
      const t = this.task[k];
      if (t === p) continue;
      if (covered[t] < this.local[k]) races.push(k);
      join(covered, this.clock[k]);
    }
    covered[p] = (prev >= 0 ? this.local[prev] : 0) + 1;
    return { races, clock: covered };
  }

  /** Append the step `races` was asked about, with the clock it returned. */
  push(p: number, a: Access, clock: Int32Array): void {
    const k = this.length;
    const prev = this.lastByTask[p];
    this.task.push(p);
    this.local.push(prev >= 0 ? this.local[prev] + 1 : 1);
    this.access.push(a);
    this.clock.push(clock);
    this.prevSame.push(prev);
    this.lastByTask[p] = k;
    if (a.global) this.globals.push(k);
    // Reads first, so that truncate() (writes, then reads, popping) undoes them in reverse.
    for (const o of a.reads) listOf(this.touched, o).push(k);
    for (const o of a.writes) {
      listOf(this.touched, o).push(k);
      listOf(this.written, o).push(k);
    }
  }

  /**
   * The earlier events dependent with `a` that can matter, latest first. Every event that touched an
   * object before its last write is ordered before that write, and every event before the last
   * global one is ordered before it: their clocks are inside those events' clocks and they cannot be
   * direct races. So per object: the last write, and for a write also the reads since; for a global
   * step, everything since the last global one.
   */
  private dependentEvents(a: Access): number[] {
    const g = this.globals.length ? this.globals[this.globals.length - 1] : -1;
    const ks = new Set<number>();
    if (g >= 0) ks.add(g);
    if (a.global) {
      for (let k = this.length - 1; k > g; k--) ks.add(k);
      return [...ks];
    }
    const lastWrite = (o: number): number => {
      const w = this.written.get(o);
      return w?.length ? w[w.length - 1] : -1;
    };
    for (const o of a.reads) {
      const lastW = lastWrite(o);
      if (lastW > g) ks.add(lastW);
    }
    for (const o of a.writes) {
      const lastW = lastWrite(o);
      if (lastW > g) ks.add(lastW);
      const t = this.touched.get(o) ?? [];
      for (let i = t.length - 1; i >= 0 && t[i] > lastW && t[i] > g; i--) ks.add(t[i]);
    }
    return [...ks].sort((x, y) => y - x);
  }

  /**
   * I(v) for v = notdep(e_k, E).e' with E the first `depth` events and e' a step of task p: the
   * tasks whose first step in v has no predecessor in v, so that some reordering of v starts with
   * them (Abdulla et al., Def. "initials"). A task's events in v are a contiguous run (once one is
   * after e_k, all its later ones are), so "has a predecessor in v" is a lookup in `first`, the
   * local index of each task's first event in v. Returns a bitmask.
   *
   * e' counts as dependent with every event of v before it: moved before e_k it no longer reads
   * what e_k wrote and may touch more than it did in E (model footprints depend on what a step
   * reads: dfs.ts), so p is an initial by e' only when v holds nothing else.
   */
  initials(k: number, depth: number, p: number): number {
    const et = this.task[k];
    const el = this.local[k];
    const first = new Int32Array(this.nTasks);
    const hasPred = (clk: Int32Array, t: number): boolean => {
      for (let u = 0; u < this.nTasks; u++) if (u !== t && first[u] !== 0 && clk[u] >= first[u]) return true;
      return false;
    };
    let init = 0;
    for (let j = k + 1; j < depth; j++) {
      const t = this.task[j];
      if (this.clock[j][et] >= el || first[t] !== 0) continue; // after e_k, or not t's first in v
      first[t] = this.local[j];
      if (!hasPred(this.clock[j], t)) init |= 1 << t;
    }
    if (first.every((f) => f === 0)) init |= 1 << p;
    return init;
  }
}

function listOf(m: Map<number, number[]>, o: number): number[] {
  let l = m.get(o);
  if (!l) m.set(o, (l = []));
  return l;
}

function join(into: Int32Array, from: Int32Array): void {
  for (let i = 0; i < into.length; i++) if (from[i] > into[i]) into[i] = from[i];
}
