/**
 * Failure minimization: a schedule with fewer preemptions is easier to read and closer to the race
 * as people tell it ("A is preempted right after reading P"). Greedy, as in CHESS's and shuttle's
 * shrinkers: at each preemption, let the preempted task continue instead — until it blocks or
 * finishes, or for just its next run of steps — then follow the rest of the schedule as closely as
 * it still applies. Keep a variant when it fails with the same violation kind (and identity, if
 * it has one: an anomaly's outcome) and has fewer preemptions, or as many and fewer steps; restart
 * from it; stop at a local minimum.
 */
import { runExecution, type Execution } from './run.js';
import type { Decision, Scheduler, SchedulerView, System, Finding } from './types.js';

export interface Failing {
  readonly decisions: readonly Decision[];
  readonly preemptedAt: readonly number[];
  readonly violation: Finding;
}

export interface Minimized {
  readonly best: Failing;
  /** A local minimum was reached (false: the run budget ran out first). */
  readonly minimized: boolean;
}

export function minimizeFailure(system: System, start: Failing, maxSteps: number, maxRuns: number): Minimized {
  let best = start;
  let runs = 0;
  search: for (;;) {
    for (const k of best.preemptedAt) {
      const preempted = best.decisions[k - 1].task;
      for (const stickFor of [Infinity, runLength(best.decisions, k, preempted)]) {
        if (runs++ >= maxRuns) return { best, minimized: false };
        const ex = runExecution(system, new Guided(best.decisions, k, stickFor), maxSteps);
        const v = ex.end.kind === 'violation' ? ex.end.violation : null;
        if (v && v.kind === best.violation.kind && v.identity === best.violation.identity && smaller(ex, best)) {
          best = { decisions: ex.decisions, preemptedAt: ex.preemptedAt, violation: v };
          continue search;
        }
      }
    }
    return { best, minimized: true };
  }
}

/** Fewest preemptions, then fewest steps. */
export function smaller(a: Pick<Execution, 'decisions' | 'preemptedAt'>, b: Pick<Execution, 'decisions' | 'preemptedAt'>): boolean {
  const dp = a.preemptedAt.length - b.preemptedAt.length;
  return dp < 0 || (dp === 0 && a.decisions.length < b.decisions.length);
}

/** How many steps task t takes in a row at its next turn from position k on. */
function runLength(ds: readonly Decision[], k: number, t: number): number {
  let i = k;
  while (i < ds.length && ds[i].task !== t) i++;
  let n = 0;
  while (i + n < ds.length && ds[i + n].task === t) n++;
  return Math.max(1, n);
}

/**
 * Follows a schedule loosely: at step k the task preempted there keeps running (up to `stickFor`
 * steps, while it can), then the remaining decisions are taken in order, each task's next
 * occurrence consumed as it steps, skipping those that cannot run. Each task's choice values are
 * replayed in its own order. Past the schedule's end, no more preemptions.
 */
class Guided implements Scheduler {
  private readonly order: number[];
  private readonly choices: number[][] = [];
  private started = false;
  readonly coverage = 'replayed' as const;
  private stick = -1;
  private stuck = 0;
  private chosen = -1;

  constructor(
    ds: readonly Decision[],
    private readonly k: number,
    private readonly stickFor: number,
  ) {
    this.order = ds.map((d) => d.task);
    for (const d of ds) if (d.choice !== undefined) (this.choices[d.task] ??= []).push(d.choice);
  }

  newExecution(): boolean {
    if (this.started) return false;
    return (this.started = true);
  }

  nextTask(view: SchedulerView): number | null {
    if (view.depth === this.k) this.stick = view.last;
    let t = -1;
    if (this.stick >= 0 && this.stuck < this.stickFor && view.enabled[this.stick]) {
      t = this.stick;
      this.stuck++;
    } else {
      this.stick = -1;
      t = this.order.find((u) => view.enabled[u]) ?? (view.last >= 0 && view.enabled[view.last] ? view.last : view.enabled.indexOf(true));
    }
    if (t < 0) return null;
    const i = this.order.indexOf(t);
    if (i >= 0) this.order.splice(i, 1);
    this.chosen = t;
    return t;
  }

  nextChoice(n: number): number {
    const c = this.choices[this.chosen]?.shift() ?? 0;
    return c < n ? c : 0;
  }
}
