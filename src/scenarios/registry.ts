/**
 * The shipped scenarios (scenarios/*.scn), found on disk. Running one is ./run.ts (no I/O, so
 * that the web view runs scenarios in the browser too).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario, type Scenario } from './format.js';
import { parseAllowList, type AllowEntry } from './explain.js';

export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scenarios');

export function listScenarioFiles(dir = SCENARIO_DIR): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.scn')).sort().map((f) => path.join(dir, f));
}

/** A scenario by file path or by name (a file of that name in scenarios/). */
/** Largest scenario file (docs/limits.md): a setup and a few kernel paths, read whole. */
export const MAX_SCENARIO_BYTES = 1 << 20;

export function loadScenario(nameOrPath: string): { ok: true; scenario: Scenario } | { ok: false; errors: string[] } {
  let file = nameOrPath;
  if (!fs.existsSync(file)) file = path.join(SCENARIO_DIR, `${nameOrPath}.scn`);
  if (!fs.existsSync(file)) return { ok: false, errors: [`no scenario '${nameOrPath}' (not a file, and not a name in ${SCENARIO_DIR}; see 'ptlab scenarios')`] };
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_SCENARIO_BYTES) return { ok: false, errors: [`${file}:1:1: the scenario is ${size} bytes (expected at most ${MAX_SCENARIO_BYTES} bytes, the limit in docs/limits.md)`] };
    return parseScenario(fs.readFileSync(file, 'utf8'), file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    return { ok: false, errors: [`${file}: cannot read the scenario: ${code} (expected a readable text file)`] };
  }
}

export { runScenario, replayScenario, scheduler, type Mode, type RunScenarioOptions } from './run.js';

/** The reviewed allow-list of sequential explainability (explain.ts, docs/explorer.md). */
export const ALLOW_FILE = path.join(SCENARIO_DIR, 'anomalies.allow');

/** An allow-list file's entries, or its errors as `FILE:LINE:COL: ... (expected ...)`. */
export function loadAllowList(file = ALLOW_FILE): { ok: true; entries: AllowEntry[] } | { ok: false; errors: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    return { ok: false, errors: [`${file}: cannot read the allow-list: ${code} (expected a readable text file)`] };
  }
  return parseAllowList(text, path.relative(process.cwd(), file) || file);
}
