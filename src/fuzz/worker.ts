/**
 * A fuzz worker thread: runs `ptlab` in-process (src/cli/program.ts runCli), one case at a time,
 * many cases per thread, with its stdout and stderr captured. The runner (runner.ts) bounds each
 * case's time (terminating the thread) and the thread's heap (resourceLimits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { runCli } from '../cli/program.js';
import { formatScriptError } from '../script/ast.js';
import { safeParseScriptLines } from '../script/parse.js';
import { fileLines } from '../util/file_lines.js';
import type { FuzzCase } from './families.js';

export interface CaseResult {
  id: number;
  code: number;
  out: string;
  err: string;
  ms: number;
  heapUsed: number;
  /** `trace to-script` exited 0 but wrote a script the parser rejects (issue 15, D14). */
  scriptProblem?: string;
}

const { dir } = workerData as { dir: string };
/** Kept of each stream per case: enough to judge the message, never the whole output. */
const CAP = 1 << 14;
let out = '';
let err = '';
const capture = (which: 'out' | 'err') =>
  ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (which === 'out' && out.length < CAP) out += s.slice(0, CAP - out.length);
    if (which === 'err' && err.length < CAP) err += s.slice(0, CAP - err.length);
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') done();
    return true;
  }) as typeof process.stdout.write;
process.stdout.write = capture('out');
process.stderr.write = capture('err');

parentPort!.on('message', async ({ id, c }: { id: number; c: FuzzCase }) => {
  const caseDir = path.join(dir, String(id));
  fs.mkdirSync(caseDir, { recursive: true });
  const paths: Record<string, string> = { $OUT: path.join(caseDir, 'out') };
  for (const [name, text] of Object.entries(c.files)) {
    paths[name] = path.join(caseDir, name.slice(1));
    fs.writeFileSync(paths[name], text);
  }
  // Own keys only: an argument such as 'valueOf' or 'constructor' is not a placeholder (a plain
  // lookup handed ptlab Object.prototype.valueOf for `--replay valueOf`).
  const argv = c.argv.map((a) => (Object.hasOwn(paths, a) ? paths[a] : a));
  out = '';
  err = '';
  const t0 = performance.now();
  const code = await runCli(['node', 'ptlab', ...argv]);
  const ms = performance.now() - t0;
  let scriptProblem: string | undefined;
  if (c.checkScript && code === 0 && fs.existsSync(paths.$OUT)) {
    const r = safeParseScriptLines(fileLines(paths.$OUT), 'converted.pt', { keepOps: false });
    if (!r.ok) scriptProblem = r.errors.slice(0, 3).map(formatScriptError).join('; ');
  }
  fs.rmSync(caseDir, { recursive: true, force: true });
  const result: CaseResult = { id, code, out, err, ms, heapUsed: process.memoryUsage().heapUsed, ...(scriptProblem && { scriptProblem }) };
  parentPort!.postMessage(result);
});
parentPort!.postMessage({ ready: true });
