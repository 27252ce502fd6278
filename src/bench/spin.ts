/**
 * SPIN on the same machine (issue 12, "Also"): the Promela model of race R3,
 * bench/spin/retract_vs_dontneed.pml, which mirrors scenarios/retract_vs_dontneed.scn step for step
 * (MADV_COLLAPSE's retract_page_tables() against MADV_DONTNEED with PT_RECLAIM, and the RCU task),
 * checked exhaustively by SPIN so that its states/s is measured here, next to the explorer's
 * executions/s, rather than quoted.
 *
 * What is measured. Each run is `spin -a` (with -D switches), `gcc -O2 -DSAFETY -o pan pan.c` (safety
 * properties only: assertions and invalid end states; partial-order reduction left on, as it is
 * sound for safety and is SPIN's normal mode; no -DBITSTATE: every state is stored, the search is
 * exhaustive), then `./pan -m100000`. Figures are pan's own: "states, stored", "transitions",
 * "errors:" and "pan: elapsed time" (the search alone: not the translation, the compilation or the
 * allocation of the 128 MiB hash table, which `wallSeconds` includes).
 *
 * - `scenario`: the scenario's size (one 2 MiB block, one CPU each side), guard on (must be 0
 *   errors) and with `-DGUARD_OFF` (pan stops at the first error: 1), with the counterexample's
 *   steps. About a thousand states, which pan times as 0-0.01 s: too little time to be a rate.
 * - `scaled`: the same model with NBLK=8 (8 blocks, 16 MiB, the same two CPUs; 3.24 M states,
 *   2.5-3.4 s on this 2-core shared machine), guard on: the states/s and transitions/s reported at
 *   the top level come from it, median time of `reps` runs.
 *
 * -DNOREDUCE is not used: SPIN's partial-order reduction is part of what SPIN is, as DPOR is part of
 * the explorer. Without it NBLK=8 stores 4.14 M states and 11.06 M transitions in about 5 s (measured
 * once, by hand), so states/s is of the same order either way.
 *
 * Returns null when `spin` or `gcc` is not on PATH (Debian package `spin`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExplorerBench } from './explorer.js';

/** The model, relative to the repository root (this file runs from src/bench or dist/bench). */
export const SPIN_MODEL = 'bench/spin/retract_vs_dontneed.pml';
/** The scaled variant used for throughput. */
export const SPIN_SCALED = ['-DNBLK=8'];

export interface SpinRun {
  /** The spin -D switches. */
  defines: string[];
  states: number;
  transitions: number;
  /** pan's "elapsed time": the search only. */
  seconds: number;
  /** Wall clock of ./pan. */
  wallSeconds: number;
  errors: number;
  depth: number;
  stateVectorBytes: number;
  /** No depth or memory limit hit (a search stopped at its first error is complete for that purpose). */
  complete: boolean;
  /** pan's first "pan:1: ..." line for an error (e.g. the failed assertion). */
  firstError?: string;
}

export interface SpinBench {
  version: string;
  model: string;
  /** The scaled guard-on run (see the header): states, transitions, median seconds, rates. */
  states: number;
  transitions: number;
  seconds: number;
  statesPerSecond: number;
  transitionsPerSecond: number;
  /** Errors over every guard-on run (the scenario's size and the scaled one): 0 when the guard holds. */
  errorsGuardOn: number;
  /** Errors of the scenario-size run with -DGUARD_OFF (pan stops at the first: 1 when found). */
  errorsGuardOff: number;
  scenario: { on: SpinRun; off: SpinRun; trailGuardOff: string[] };
  scaled: SpinRun & { reps: number; secondsAll: number[] };
}

function onPath(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return null;
  }
}

function modelPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', SPIN_MODEL);
}

const num = (re: RegExp, s: string): number => {
  const m = re.exec(s);
  return m ? Number(m[1]) : NaN;
};

/** Parse pan's report. */
export function parsePan(out: string, defines: string[], wallSeconds: number): SpinRun {
  const run: SpinRun = {
    defines,
    states: num(/(\d+) states, stored/, out),
    transitions: num(/(\d+) transitions \(/, out),
    seconds: num(/pan: elapsed time ([\d.e+-]+) seconds/, out),
    wallSeconds,
    errors: num(/errors: (\d+)/, out),
    depth: num(/depth reached (\d+)/, out),
    stateVectorBytes: num(/State-vector (\d+) byte/, out),
    complete: !/max search depth too small|out of memory|pan: reached -DMEMLIM bound/.test(out),
  };
  const err = /^pan:\d+: (.*)$/m.exec(out);
  if (err) run.firstError = err[1];
  if ([run.states, run.transitions, run.seconds, run.errors].some(Number.isNaN)) throw new Error(`spin bench: cannot parse pan's output:\n${out}`);
  return run;
}

/** Translate, compile and run one variant in `dir`; the model is copied there first. */
function runPan(dir: string, defines: string[]): { run: SpinRun; out: string } {
  const opt = { cwd: dir, encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 };
  for (const f of fs.readdirSync(dir)) if (f !== 'model.pml') fs.rmSync(path.join(dir, f));
  execFileSync('spin', [...defines, '-a', 'model.pml'], opt);
  execFileSync('gcc', ['-O2', '-DSAFETY', '-o', 'pan', 'pan.c'], opt);
  const t0 = performance.now();
  let out: string;
  try {
    out = execFileSync('./pan', ['-m100000'], opt);
  } catch (e) {
    // pan's exit status is not a verdict; keep its report.
    const o = (e as { stdout?: string }).stdout;
    if (typeof o !== 'string' || !o.includes('errors:')) throw e;
    out = o;
  }
  return { run: parsePan(out, defines, (performance.now() - t0) / 1000), out };
}

/** Steps that only branch on a CPU's own locals (or bookkeeping of the setup): left out of summaries. */
const LOCAL = /^(else|\(\(batch!=0\)\)|\((direct|ok|ptev|unflushed)\)|\(\(b<\d+\)\)|b = \(b\+1\)|direct = 1|\.\(goto\)|IF|DO|break|goto :b\d+|sub-sequence|D_STEP\d*|q[ijk] = .*)$/;

/** What source line `line` (1-based) of the model does: the inline it belongs to, or its own comment. */
function describe(src: readonly string[], line: number, stmts: string[]): string | null {
  const kept = stmts.filter((x) => !LOCAL.test(x));
  if (!kept.length) return null;
  for (let i = line - 1; i >= 0 && i >= line - 30; i--) {
    const m = /^inline (\w+)\(/.exec(src[i] ?? '');
    if (m) return `${m[1]}  [${kept.filter((x) => !x.startsWith('assert')).join('; ')}]`;
    if (/^(proctype|init|\})/.test(src[i] ?? '') && i < line - 1) break;
  }
  const c = /\/\*\s*(.*?)\s*(\*\/|$)/.exec(src[line - 1] ?? '');
  return `${kept.join('; ')}${c ? `  (${c[1]})` : ''}`;
}

/**
 * The counterexample, one line per step that touches shared state, from `spin -t -p`: step number,
 * CPU, what the model line does (the primitive, or the statement and the kernel step its comment
 * names). The setup (init) and steps on a CPU's own locals are left out.
 */
export function summarizeTrail(trail: string, model: string): string[] {
  const src = model.split('\n');
  const steps: { n: number; who: string; line: number; stmts: string[] }[] = [];
  let failed: string | null = null;
  for (const ln of trail.split('\n')) {
    const m = /^\s*(\d+):\s+proc\s+\d+ \((\w+):\d+\) [^:]+:(\d+) \(state \d+\)\s+\[(.*)\]$/.exec(ln);
    if (m) {
      const [, n, proc, line, stmt] = m;
      if (proc === 'init') continue;
      const who = proc === 'Collapse' ? 'CPU0' : proc === 'Zap' ? 'CPU1' : proc;
      const last = steps[steps.length - 1];
      if (last && last.n === Number(n) && last.who === who) last.stmts.push(stmt);
      else steps.push({ n: Number(n), who, line: Number(line), stmts: [stmt] });
      continue;
    }
    const a = /^spin: text of failed assertion: (.*)$/.exec(ln);
    if (a) failed = a[1];
  }
  const out: string[] = [];
  for (const s of steps) {
    const d = describe(src, s.line, s.stmts);
    if (d) out.push(`${s.n} ${s.who}: ${d}`);
  }
  if (failed) out.push(`✗ ${failed}`);
  return out;
}

/** True when `spin` and `gcc` are on PATH. */
export function spinAvailable(): boolean {
  return onPath('spin', ['-V']) !== null && onPath('gcc', ['--version']) !== null;
}

/** One exhaustive check of the model at the scenario's size, guard on or off (tests use it). */
export function spinCheck(defines: string[]): SpinRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-spin-'));
  try {
    fs.copyFileSync(modelPath(), path.join(dir, 'model.pml'));
    return runPan(dir, defines).run;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function spinBench(log: (s: string) => void = () => {}, opts: { reps?: number } = {}): SpinBench | null {
  const v = onPath('spin', ['-V']);
  if (v === null || onPath('gcc', ['--version']) === null) {
    log('spin: `spin` or `gcc` not on PATH; skipped (Debian: apt-get install spin)');
    return null;
  }
  const reps = opts.reps ?? 3;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-spin-'));
  try {
    fs.copyFileSync(modelPath(), path.join(dir, 'model.pml'));
    const on = runPan(dir, []).run;
    log(`spin ${SPIN_MODEL}, guard on: ${on.states} states, ${on.transitions} transitions, ${on.seconds} s, errors ${on.errors}`);
    const offR = runPan(dir, ['-DGUARD_OFF']);
    const off = offR.run;
    let trailGuardOff: string[] = [];
    if (off.errors > 0) {
      const t = execFileSync('spin', ['-DGUARD_OFF', '-t', '-p', 'model.pml'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
      trailGuardOff = summarizeTrail(t, fs.readFileSync(path.join(dir, 'model.pml'), 'utf8'));
    }
    log(`spin guard off: errors ${off.errors}${off.firstError ? ` (${off.firstError})` : ''}, trail of ${trailGuardOff.length} steps`);
    const runs: SpinRun[] = [];
    for (let i = 0; i < reps; i++) {
      runs.push(runPan(dir, SPIN_SCALED).run);
      log(`spin scaled ${SPIN_SCALED.join(' ')} (${i + 1}/${reps}): ${runs[i].states} states in ${runs[i].seconds} s`);
    }
    const secondsAll = runs.map((r) => r.seconds);
    const sorted = [...secondsAll].sort((a, b) => a - b);
    const m = sorted.length >> 1;
    const seconds = sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    const scaled = { ...runs[0], seconds, wallSeconds: runs.map((r) => r.wallSeconds).sort((a, b) => a - b)[m], reps, secondsAll };
    return {
      version: v.trim(),
      model: SPIN_MODEL,
      states: scaled.states,
      transitions: scaled.transitions,
      seconds,
      statesPerSecond: scaled.states / seconds,
      transitionsPerSecond: scaled.transitions / seconds,
      errorsGuardOn: on.errors + runs.reduce((s, r) => s + r.errors, 0),
      errorsGuardOff: off.errors,
      scenario: { on, off, trailGuardOff },
      scaled,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const f = (x: number): string => Math.round(x).toLocaleString('en-US');

/** A Markdown section: SPIN's figures, and the explorer's on the same scenario when `b` has it. */
export function renderSpin(r: SpinBench, b?: ExplorerBench): string {
  const { on, off, trailGuardOff } = r.scenario;
  const s = r.scaled;
  const failed = trailGuardOff.find((x) => x.startsWith('✗ '))?.slice(2) ?? off.firstError;
  const lines = [
    `## SPIN on the same machine (\`${r.model}\`)`,
    '',
    `${r.version}; \`spin -a\`, \`gcc -O2 -DSAFETY\`, \`./pan -m100000\`: exhaustive (every state stored, no bitstate),`,
    'partial-order reduction on. The model mirrors `retract_vs_dontneed` at the explorer\'s scheduling points; the',
    'scaled run is the same model over 8 blocks (NBLK=8) so that the search lasts long enough to be a rate.',
    `Time is pan's search time${s.reps > 1 ? `, median of ${s.reps} runs` : ''}.`,
    '',
    '| run | states | transitions | time (s) | states/s | errors |',
    '|---|---|---|---|---|---|',
    `| scenario size, guard on | ${f(on.states)} | ${f(on.transitions)} | ${on.seconds} | (too short) | ${on.errors} |`,
    `| scenario size, \`-DGUARD_OFF\` | ${f(off.states)} | ${f(off.transitions)} | ${off.seconds} | (stops at the first error) | ${off.errors}${failed ? `: \`${failed}\` fails (pte_lockptr() of a none PMD), ${trailGuardOff.length - 1} steps` : ''} |`,
    `| scaled \`${s.defines.join(' ')}\`, guard on | ${f(s.states)} | ${f(s.transitions)} | ${s.seconds} | ${f(r.statesPerSecond)} | ${s.errors} |`,
    '',
  ];
  const row = b?.rows.find((x) => x.scenario === 'retract_vs_dontneed');
  if (row && row.ms > 0) {
    const eps = (row.executions / row.ms) * 1000;
    lines.push(
      `The explorer on \`retract_vs_dontneed\`, guards on: ${f(row.executions)} executions in ${f(row.ms)} ms, ${f(eps)} executions/s`,
      `(${row.complete ? 'complete' : 'not complete'}). SPIN stores ${f(r.statesPerSecond)} states/s: ${(r.statesPerSecond / eps).toFixed(0)}× as many states per second`,
      'as the explorer runs executions; the units differ (an execution is a whole schedule of tens to hundreds of steps, each a state),',
      'so this is the ratio the issue quotes, now measured on this machine.',
      '',
    );
  }
  return lines.join('\n');
}
