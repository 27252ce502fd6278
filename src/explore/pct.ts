/**
 * PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010).
 * Each execution gives the n tasks random distinct priorities d..d+n-1 and always runs the
 * highest-priority enabled task; at d−1 random steps out of k it drops the running task below every
 * other (to priority 1..d−1). A bug that needs d ordering constraints is then found with probability
 * at least 1 / (n · k^(d−1)) per execution, whatever the schedule space looks like.
 *
 * k, the number of steps of an execution, is not known up front: it starts at `steps` and grows to
 * the longest execution seen (as shuttle's PCT does); while it is 0 (the first execution, by
 * default) there are no priority changes. Choice values are uniform.
 */
import { Prng } from '../util/prng.js';
import type { Scheduler, SchedulerView } from './types.js';

export interface PctOptions {
  readonly seed: number;
  /** Bug depth d ≥ 1: how many ordering constraints the bug needs. */
  readonly depth: number;
  readonly executions: number;
  /** First estimate of the steps per execution (default 0: learn it from the first execution). */
  readonly steps?: number;
}

export class PctScheduler implements Scheduler {
  readonly coverage = 'sampled' as const;
  private readonly rng: Prng;
  private started = 0;
  private k: number;
  private priority: number[] = [];
  /** Step index → the priority the running task drops to there. */
  private changes = new Map<number, number>();
  private depthSeen = 0;

  constructor(private readonly opts: PctOptions) {
    if (opts.depth < 1) throw new Error('pct: depth must be ≥ 1');
    this.rng = new Prng(opts.seed);
    this.k = Math.max(0, opts.steps ?? 0);
  }

  newExecution(): boolean {
    if (this.started >= this.opts.executions) return false;
    this.started++;
    this.k = Math.max(this.k, this.depthSeen);
    this.depthSeen = 0;
    this.priority = [];
    this.changes.clear();
    const d = this.opts.depth;
    if (this.k > 0) for (let j = 1; j < d; j++) this.changes.set(this.rng.below(this.k), d - j); // a clash just loses one point
    return true;
  }

  nextTask(view: SchedulerView): number | null {
    const n = view.enabled.length;
    if (this.priority.length !== n) this.priority = this.shuffledPriorities(n);
    this.depthSeen = Math.max(this.depthSeen, view.depth + 1);
    let t = this.highest(view);
    const drop = this.changes.get(view.depth);
    if (t >= 0 && drop !== undefined) {
      this.priority[t] = drop;
      t = this.highest(view);
    }
    return t >= 0 ? t : null;
  }

  nextChoice(n: number): number {
    return this.rng.below(n);
  }

  private highest(view: SchedulerView): number {
    let best = -1;
    for (let t = 0; t < view.enabled.length; t++) if (view.enabled[t] && (best < 0 || this.priority[t] > this.priority[best])) best = t;
    return best;
  }

  /** A uniform permutation of d..d+n−1 (Fisher–Yates). */
  private shuffledPriorities(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => this.opts.depth + i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.rng.below(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}
