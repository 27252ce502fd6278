/** The shipped op scripts, for the tests that run them all. */
import fs from 'node:fs';
import { formatScriptError } from '../../src/script/ast.js';
import { runScript, type RunOptions } from '../../src/script/exec.js';
import { safeParseScript } from '../../src/script/parse.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Repository-relative paths of scripts/*.pt, scripts/kernel-probe/*.pt and scripts/selftests/*.pt
 * (the kernel's own selftests as op scripts, docs/fidelity.md), sorted.
 */
export function shippedScripts(): string[] {
  const out: string[] = [];
  for (const dir of ['scripts', 'scripts/kernel-probe', 'scripts/selftests']) {
    for (const f of fs.readdirSync(path.join(REPO, dir)).sort()) if (f.endsWith('.pt')) out.push(`${dir}/${f}`);
  }
  return out;
}

export function readScript(rel: string): string {
  return fs.readFileSync(path.join(REPO, rel), 'utf8');
}

/**
 * Runs a shipped script on the model, its invariants checked after every op: the problems (parse
 * errors, ops that failed or whose `expect` line did not hold), each as `file:line: message`, or
 * none. The scripts' numbers were measured on the live kernel. `api` is the build of the model
 * (default: the fast one, as `ptlab run` uses).
 */
export function modelProblems(rel: string, api?: RunOptions['api']): string[] {
  const parsed = safeParseScript(readScript(rel), rel);
  if (!parsed.ok) return parsed.errors.map(formatScriptError);
  const r = runScript(parsed.script, { checkInvariants: true, api });
  const errors = r.lines.flatMap((l) => (l.type === 'error' ? [`${rel}:${l.line}: ${l.message}`] : []));
  return r.exitCode === 0 ? [] : errors.length ? errors : [`${rel}: exit ${r.exitCode}`];
}
