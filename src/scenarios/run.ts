/**
 * Running a scenario: the exhaustive check within the scenario's preemption bound, or a random /
 * PCT search, with its guard on or off; or one schedule replayed from its token. No I/O.
 */
import type { GuardName } from '../mm/config.js';
import { DfsScheduler, explore, PctScheduler, RandomScheduler, replay, type DfsOptions, type ExploreOptions, type ExploreResult, type Scheduler } from '../explore/index.js';
import type { Scenario } from './format.js';
import { scenarioSystem } from './system.js';
import type { ExplainOptions } from './explain.js';

export type Mode = 'dfs' | 'random' | 'pct';

export interface RunScenarioOptions extends ExploreOptions {
  mode?: Mode;
  guardsOff?: readonly GuardName[];
  /** DFS preemption bound (default: the scenario's own); -1 for none. */
  bound?: number;
  /** DFS reduction (default 'dpor'; 'none' to cross-check a verdict). */
  reduction?: DfsOptions['reduction'];
  seed?: number;
  executions?: number;
  /** PCT bug depth. */
  depth?: number;
  /** Kernel snapshots in the trace (default true; only a JSON document shows them). */
  snapshots?: boolean;
  /** Model settings over the scenario's config lines (`version=7.0`, `arch=arm64`). */
  settings?: Readonly<Record<string, string>>;
  /** Sequential explainability (src/scenarios/explain.ts): an outcome no sequential order gives is an `anomaly`. */
  explain?: ExplainOptions;
}

export function scheduler(scn: Scenario, o: RunScenarioOptions): Scheduler {
  switch (o.mode ?? 'dfs') {
    case 'random':
      return new RandomScheduler(o.seed ?? 1, o.executions ?? 1000);
    case 'pct':
      return new PctScheduler({ seed: o.seed ?? 1, depth: o.depth ?? 2, executions: o.executions ?? 1000 });
    default: {
      const bound = o.bound ?? scn.bound;
      return new DfsScheduler({ ...(bound < 0 ? {} : { preemptionBound: bound }), reduction: o.reduction });
    }
  }
}

/**
 * A scenario whose race shows only as an anomaly (`violation anomaly`) is always judged with
 * sequential explainability, by default with an empty allow-list: its verdict must not depend on
 * remembering --explain.
 */
function explainFor(scn: Scenario, explain: ExplainOptions | undefined): ExplainOptions | undefined {
  return explain ?? (scn.violation === 'anomaly' ? {} : undefined);
}

export function runScenario(scn: Scenario, o: RunScenarioOptions = {}): ExploreResult {
  const sys = scenarioSystem(scn, o.guardsOff ?? [], { snapshots: o.snapshots, settings: o.settings, explain: explainFor(scn, o.explain) });
  return explore(sys, scheduler(scn, o), o);
}

export function replayScenario(scn: Scenario, token: string, guardsOff: readonly GuardName[] = [], opts: { snapshots?: boolean; settings?: Readonly<Record<string, string>>; explain?: ExplainOptions; maxSteps?: number } = {}) {
  return replay(scenarioSystem(scn, guardsOff, { ...opts, explain: explainFor(scn, opts.explain) }), token, { maxSteps: opts.maxSteps });
}
