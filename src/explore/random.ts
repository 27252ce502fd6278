/**
 * Uniform random walk: at each step, any enabled task with equal probability, and any value of a
 * choice with equal probability. Cheap and surprisingly good at shallow bugs: two tasks racing on
 * one object interleave badly with probability 1/2 per execution.
 */
import { Prng } from '../util/prng.js';
import type { Scheduler, SchedulerView } from './types.js';

export class RandomScheduler implements Scheduler {
  private readonly rng: Prng;
  private started = 0;
  readonly coverage = 'sampled' as const;

  constructor(
    readonly seed: number,
    readonly executions: number,
  ) {
    this.rng = new Prng(seed);
  }

  newExecution(): boolean {
    return this.started++ < this.executions;
  }

  nextTask(view: SchedulerView): number | null {
    const ready: number[] = [];
    for (let t = 0; t < view.enabled.length; t++) if (view.enabled[t]) ready.push(t);
    return ready.length ? ready[this.rng.below(ready.length)] : null;
  }

  nextChoice(n: number): number {
    return this.rng.below(n);
  }
}
