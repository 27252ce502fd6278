/**
 * The shipped scenarios (scenarios/*.scn), found on disk. Running one is ./run.ts (no I/O, so
 * that the web view runs scenarios in the browser too).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario, type Scenario } from './format.js';

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

export { runScenario, replayScenario, scheduler, type Mode, type RunScenarioOptions } from './run.js';
