/**
 * Runs fuzz cases on a pool of worker threads (worker.ts) and judges each outcome against the
 * properties of issue 15:
 * - exit code 0 to 3 only: never 4, never a crash of the thread;
 * - exit 2 (bad input) only with a located message (`FILE:LINE:COL: ... (expected ...)`, or the
 *   option, parameter or JSON path at fault);
 * - no run longer than a bound that grows with the case's modelled work (the thread is terminated);
 * - memory bounded: each thread's heap is capped (resourceLimits), and the process's resident
 *   memory is watched while cases run;
 * - `trace to-script` never writes a script the parser rejects.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Family, FuzzCase } from './families.js';
import type { CaseResult } from './worker.js';

export type Verdict = 'ok' | 'failure';

export interface Outcome {
  c: FuzzCase;
  /** The exit code, or what ended the case instead. */
  code: number | 'timeout' | 'crash' | 'memory';
  ms: number;
  err: string;
  heapUsed: number;
  /** How far the process's resident memory rose above its level at the case's start, at most, while it ran. */
  rssPeak: number;
  verdict: Verdict;
  /** Why it is a failure. */
  why?: string;
}

export interface PoolOptions {
  workers: number;
  /** Heap cap of each worker thread (MB). */
  heapMb?: number;
  /** How far a case may raise the process's resident memory (besides 100 bytes per unit of work). */
  rssAllowance?: number;
  /** The fixed part of each case's time bound (default 15 s; see timeLimitMs). */
  timeBaseMs?: number;
  onOutcome?: (o: Outcome, done: number) => void;
}

/** The time bound of a case: 15 s (or `base`), and 50 µs per unit of modelled work on top. */
export function timeLimitMs(c: FuzzCase, base = 15_000): number {
  return Math.min(base + c.work * 0.05, 30 * 60_000);
}

/** The resident memory a case may add: a fixed allowance plus 100 bytes per unit of modelled work. */
export function memoryLimit(c: FuzzCase, allowance: number): number {
  return allowance + c.work * 100;
}

/** A file named on the command line that cannot be read (cli/util.ts readWhole, and the same words elsewhere). */
const UNREADABLE = String.raw`: cannot read the [a-z ]+: [A-Z0-9_]+ \(expected .+\)`;

const LOCATED: Record<Family, RegExp> = {
  scripts: /\S+:\d+:\d+: .+\(expected .+\)/s,
  scenarios: /\S+:\d+:\d+: .+\(expected .+\)/s,
  traces: /(\S+:\d+:\d+: .+\(expected .+\)|--[a-z][a-z-]*: .+\(expected .+\))/s,
  tokens: /(--replay: .+\(expected .+\)|no scenario ')/s,
  options: new RegExp(`(--[a-z][a-z-]*|parameter \\w+|error: [a-z ]+'[^']*'|'[^']*' is not|no scenario '|${UNREADABLE})`, 's'),
  documents: /ptlab: (\/\S+: .+|--[a-z]+: .+)/s,
};

export function judge(c: FuzzCase, r: Pick<Outcome, 'code' | 'err' | 'rssPeak' | 'ms'> & { scriptProblem?: string }, allowance: number, timeBaseMs?: number): Pick<Outcome, 'verdict' | 'why'> {
  if (r.code === 'timeout' || r.code === 'memory') {
    return { verdict: 'failure', why: r.code === 'timeout' ? `ran past its bound of ${Math.round(timeLimitMs(c, timeBaseMs))} ms` : 'went past its memory bound' };
  }
  if (r.code === 'crash') return { verdict: 'failure', why: `the worker thread died: ${r.err.split('\n')[0]}` };
  if (r.code < 0 || r.code > 3) return { verdict: 'failure', why: `exit ${r.code}: ${r.err.split('\n').slice(0, 2).join(' / ')}` };
  if (/internal error/.test(r.err)) return { verdict: 'failure', why: 'an internal error was printed' };
  if (r.code === 2 && !LOCATED[c.family].test(r.err)) return { verdict: 'failure', why: `exit 2 without a located message: ${r.err.split('\n')[0]}` };
  if (r.scriptProblem) return { verdict: 'failure', why: `to-script wrote a script the parser rejects: ${r.scriptProblem}` };
  if (r.rssPeak > memoryLimit(c, allowance)) return { verdict: 'failure', why: `resident memory rose by ${Math.round(r.rssPeak / 2 ** 20)} MiB` };
  return { verdict: 'ok' };
}

/** The worker module: compiled JavaScript beside this file, or under dist/ when this runs as TypeScript (vitest). */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? '../../dist/fuzz/worker.js' : './worker.js', import.meta.url);
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
}

export async function runCases(cases: readonly FuzzCase[], opts: PoolOptions): Promise<Outcome[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-fuzz-'));
  const heapMb = opts.heapMb ?? 1024;
  const allowance = opts.rssAllowance ?? 1.5 * 2 ** 30;
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  let done = 0;
  /** Cases running now: the RSS when each started, the highest seen since, and how to stop it. */
  const running = new Map<number, { start: number; peak: number; limit: number; kill: (why: 'memory') => void }>();
  const watch = setInterval(() => {
    const rss = process.memoryUsage.rss();
    for (const [, r] of running) {
      r.peak = Math.max(r.peak, rss);
      // Far past its bound: stop it before the machine runs out.
      if (rss - r.start > 2 * r.limit) r.kill('memory');
    }
  }, 50);

  const spawn = (): Slot => {
    const worker = new Worker(workerUrl(), { workerData: { dir }, resourceLimits: { maxOldGenerationSizeMb: heapMb }, stdout: true, stderr: true });
    worker.stdout.resume();
    worker.stderr.resume();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return { worker, ready };
  };

  const runOne = (slot: Slot, id: number): Promise<{ slot: Slot; outcome: Omit<Outcome, 'verdict' | 'why'> & { scriptProblem?: string } }> =>
    new Promise((resolve) => {
      const c = cases[id];
      const t0 = performance.now();
      const rss0 = process.memoryUsage.rss();
      const state = { start: rss0, peak: rss0, limit: memoryLimit(c, allowance), kill: (_why: 'memory') => {} };
      let settled = false;
      const finish = (code: Outcome['code'], extra: Partial<CaseResult> = {}, replace = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        running.delete(id);
        slot.worker.removeAllListeners('message');
        slot.worker.removeAllListeners('error');
        slot.worker.removeAllListeners('exit');
        let s = slot;
        if (replace) {
          void slot.worker.terminate();
          s = spawn();
        }
        const rssPeak = Math.max(state.peak, process.memoryUsage.rss()) - state.start;
        resolve({ slot: s, outcome: { c, code, ms: extra.ms ?? performance.now() - t0, err: extra.err ?? '', heapUsed: extra.heapUsed ?? 0, rssPeak, ...(extra.scriptProblem && { scriptProblem: extra.scriptProblem }) } });
      };
      state.kill = (why) => finish(why, {}, true);
      running.set(id, state);
      const timer = setTimeout(() => finish('timeout', {}, true), timeLimitMs(c, opts.timeBaseMs));
      slot.worker.on('message', (m: CaseResult) => finish(m.code, m));
      slot.worker.on('error', (e: Error & { code?: string }) => finish(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', { err: String(e.stack ?? e) }, true));
      slot.worker.on('exit', (code) => finish('crash', { err: `worker exited with code ${code}` }, true));
      slot.worker.postMessage({ id, c });
    });

  const lane = async (): Promise<void> => {
    let slot = spawn();
    try {
      while (next < cases.length) {
        const id = next++;
        try {
          await slot.ready;
        } catch {
          slot = spawn();
          await slot.ready;
        }
        const r = await runOne(slot, id);
        slot = r.slot;
        const o = { ...r.outcome, ...judge(cases[id], r.outcome, allowance, opts.timeBaseMs) };
        delete (o as { scriptProblem?: string }).scriptProblem;
        outcomes[id] = o;
        opts.onOutcome?.(o, ++done);
      }
    } finally {
      await slot.worker.terminate();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.workers) }, lane));
  } finally {
    clearInterval(watch);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return outcomes;
}

export interface FamilyStats {
  family: Family;
  cases: number;
  byCode: Record<string, number>;
  failures: Outcome[];
  peakRss: number;
  peakHeap: number;
  slowest: Outcome | undefined;
  totalMs: number;
}

export function summarize(outcomes: readonly Outcome[]): FamilyStats[] {
  const by = new Map<Family, FamilyStats>();
  for (const o of outcomes) {
    const f = o.c.family;
    let s = by.get(f);
    if (!s) by.set(f, (s = { family: f, cases: 0, byCode: {}, failures: [], peakRss: 0, peakHeap: 0, slowest: undefined, totalMs: 0 }));
    s.cases++;
    s.byCode[String(o.code)] = (s.byCode[String(o.code)] ?? 0) + 1;
    if (o.verdict === 'failure') s.failures.push(o);
    s.peakRss = Math.max(s.peakRss, o.rssPeak);
    s.peakHeap = Math.max(s.peakHeap, o.heapUsed);
    s.totalMs += o.ms;
    if (!s.slowest || o.ms > s.slowest.ms) s.slowest = o;
  }
  return [...by.values()];
}

/** A case as a person can rerun it: the command line and its input file(s). */
export function describeCase(c: FuzzCase, maxChars = 1500): string {
  const files = Object.entries(c.files).map(([n, t]) => `--- ${n}\n${t.length > maxChars ? `${t.slice(0, maxChars)}... (${t.length} chars)` : t}`);
  const argv = c.argv.map((a) => (a.length > 80 ? `${a.slice(0, 80)}...(${a.length} chars)` : a));
  return [`ptlab ${argv.map((a) => (/^[\w$./=,+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`, ...files].join('\n');
}
