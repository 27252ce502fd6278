/**
 * The shipped scenarios (scenarios/*.scn) and running one: the exhaustive check within the
 * scenario's preemption bound, or a random / PCT search, with its guard on or off.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuardName } from '../mm/config.js';
import { DfsScheduler, explore, PctScheduler, RandomScheduler, replay, type ExploreOptions, type ExploreResult, type Scheduler } from '../explore/index.js';
import { parseScenario, type Scenario } from './format.js';
import { scenarioSystem } from './system.js';

export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scenarios');

export function listScenarioFiles(dir = SCENARIO_DIR): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.scn')).sort().map((f) => path.join(dir, f));
}

/** A scenario by file path or by name (a file of that name in scenarios/). */
export function loadScenario(nameOrPath: string): { ok: true; scenario: Scenario } | { ok: false; errors: string[] } {
  let file = nameOrPath;
  if (!fs.existsSync(file)) file = path.join(SCENARIO_DIR, `${nameOrPath}.scn`);
  if (!fs.existsSync(file)) return { ok: false, errors: [`no scenario '${nameOrPath}' (not a file, and not a name in ${SCENARIO_DIR}; see 'ptlab scenarios')`] };
  return parseScenario(fs.readFileSync(file, 'utf8'), file);
}

export type Mode = 'dfs' | 'random' | 'pct';

export interface RunScenarioOptions extends ExploreOptions {
  mode?: Mode;
  guardsOff?: readonly GuardName[];
  /** DFS preemption bound (default: the scenario's own); -1 for none. */
  bound?: number;
  seed?: number;
  executions?: number;
  /** PCT bug depth. */
  depth?: number;
}

export function scheduler(scn: Scenario, o: RunScenarioOptions): Scheduler {
  switch (o.mode ?? 'dfs') {
    case 'random':
      return new RandomScheduler(o.seed ?? 1, o.executions ?? 1000);
    case 'pct':
      return new PctScheduler({ seed: o.seed ?? 1, depth: o.depth ?? 2, executions: o.executions ?? 1000 });
    default: {
      const bound = o.bound ?? scn.bound;
      return new DfsScheduler(bound < 0 ? {} : { preemptionBound: bound });
    }
  }
}

export function runScenario(scn: Scenario, o: RunScenarioOptions = {}): ExploreResult {
  const sys = scenarioSystem(scn, o.guardsOff ?? []);
  return explore(sys, scheduler(scn, o), o);
}

export function replayScenario(scn: Scenario, token: string, guardsOff: readonly GuardName[] = []) {
  return replay(scenarioSystem(scn, guardsOff), token);
}
