/**
 * Replay one schedule exactly: the token's decisions, in order, and nothing else. A decision that
 * cannot be taken means the token belongs to another scenario or the system is not deterministic;
 * either way it is an error, not a finding.
 */
import { decodeToken } from './token.js';
import type { Decision, Scheduler, SchedulerView } from './types.js';

export class ReplayScheduler implements Scheduler {
  readonly decisions: readonly Decision[];
  private started = false;
  readonly coverage = 'replayed' as const;

  /** `maxDecisions`: the longest token accepted, the step limit the replay runs under. */
  constructor(token: string | readonly Decision[], maxDecisions?: number) {
    this.decisions = typeof token === 'string' ? decodeToken(token, maxDecisions) : token;
  }

  /** A replay covers the one schedule it was asked for. */
  get complete(): boolean {
    return this.started;
  }

  newExecution(): boolean {
    if (this.started) return false;
    return (this.started = true);
  }

  nextTask(view: SchedulerView): number | null {
    if (!view.enabled.includes(true)) return null;
    const d = this.decisions[view.depth];
    if (!d) throw new ReplayError(`the schedule ended after ${view.depth} steps but tasks can still run`);
    if (!view.enabled[d.task]) throw new ReplayError(`step ${view.depth}: task ${d.task} cannot run (${view.pending[d.task]?.label ?? 'finished'})`);
    if (d.choice !== undefined && !view.pending[d.task]!.choices) throw new ReplayError(`step ${view.depth}: task ${d.task}'s step '${view.pending[d.task]!.label}' is not a choice`);
    return d.task;
  }

  nextChoice(n: number, view: SchedulerView): number {
    const c = this.decisions[view.depth].choice;
    if (c === undefined || c >= n) throw new ReplayError(`step ${view.depth}: a choice among ${n} needs a value in [0, ${n}), token has ${c ?? 'none'}`);
    return c;
  }
}

export class ReplayError extends Error {
  override name = 'ReplayError';
}
