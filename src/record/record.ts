/**
 * `ptlab record`: run a command under perf and the exec watcher, and write what it did to its
 * address space as a `ptlab-trace 1` file (docs/recording.md). The effects live here; the pieces
 * (perf_script.ts, watch.ts, convert.ts) are pure.
 *
 *   perf record -k mono -e <syscalls, faults> -- ptlab-exec-watch WATCH.jsonl CMD ARGS...
 *   perf script ... | PerfScriptParser        exec-watch JSON | parseWatchOutput
 *                      \_______ convertRecording _______/
 *                                   |
 *                      .TRACE.tmp-PID  → rename →  TRACE
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCHelper, buildRunner, RUNNER_EXIT } from '../oracle/kernel.js';
import { formatTrace } from '../trace/write.js';
import { AtomicFile } from '../util/atomic.js';
import { convertRecording, type RecordSummary } from './convert.js';
import { findPerf, perfPreflight, perfRecordArgs, perfScript, run, type PerfProblem } from './perf.js';
import { PerfScriptParser } from './perf_script.js';
import { parseWatchOutput } from './watch.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WATCH_SOURCE = path.join(REPO_ROOT, 'runner', 'ptlab-exec-watch.c');
export const WATCH_BINARY = path.join(REPO_ROOT, 'runner', 'build', 'ptlab-exec-watch');

export interface RecordOptions {
  command: string[];
  /** output path; default ptlab-<comm>-<pid>.trace in the cwd */
  output?: string;
  /** perf's ring buffer per CPU (`perf record -m`), e.g. `64M` */
  mmap: string;
  allowLost: boolean;
  /**
   * A swap area for the recording (`config swap=` sizes, e.g. `64M`): the kernel runner creates it
   * and runs perf under it (`ptlab-runner --swap=SIZE --exec`), so that MADV_PAGEOUT swaps on a
   * machine without swap of its own; the trace's `meta swap=` tells replay.
   */
  swap?: string;
  progress: (msg: string) => void;
}

export type RecordOutcome =
  | { kind: 'written'; file: string; summary: RecordSummary; lost: number; cmd: { code: number } | { signal: number } }
  | { kind: 'perf'; problem: PerfProblem }
  | { kind: 'no-swap' }
  | { kind: 'exec-failed'; error: string; exitCode: 126 | 127 }
  | { kind: 'lost'; lost: number }
  | { kind: 'interrupted' };

function thpSetting(file: string): string {
  try {
    return /\[([a-z_]+)\]/.exec(readFileSync(`/sys/kernel/mm/transparent_hugepage/${file}`, 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function statSize(p: string): number | undefined {
  try {
    const s = statSync(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An argument as a shell would need it. Control characters (a newline in `python3 -c` code) take
 * bash's $'...' form: a trace's meta value must stay on one line.
 */
export function shellQuote(a: string): string {
  if (/^[\w@%+=:,./-]+$/.test(a)) return a;
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f]/.test(a)) return `'${a.replace(/'/g, `'\\''`)}'`;
  const esc: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', "'": "\\'", '\\': '\\\\' };
  // eslint-disable-next-line no-control-regex
  return `$'${a.replace(/[\x00-\x1f\x7f'\\]/g, (c) => esc[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

export async function record(opts: RecordOptions): Promise<RecordOutcome> {
  const perf = findPerf();
  if (!perf) return { kind: 'perf', problem: { code: 'missing', message: 'perf is not installed: apt-get install linux-perf' } };
  const watcher = await buildCHelper(WATCH_SOURCE, WATCH_BINARY, 'the exec watcher');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ptlab-record-'));
  // ^C reaches perf and the command too; perf then stops and we only have to not write a trace.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const problem = await perfPreflight(perf, path.join(tmp, 'preflight.data'));
    if (problem) return { kind: 'perf', problem };

    const data = path.join(tmp, 'perf.data');
    const watchOut = path.join(tmp, 'watch.jsonl');
    opts.progress(`recording ${opts.command.map(shellQuote).join(' ')} (perf record -m ${opts.mmap})`);
    const start = Date.now();
    const perfArgs = perfRecordArgs(data, opts.mmap, [watcher, watchOut, ...opts.command]);
    const r = opts.swap
      ? await run(await buildRunner(), [`--swap=${opts.swap}`, '--exec', '--', perf, ...perfArgs], 'inherit')
      : await run(perf, perfArgs, 'inherit');
    if (interrupted) return { kind: 'interrupted' };
    const watchText = await readFile(watchOut, 'utf8').catch(() => '');
    // The runner could not create the swap area (it said why on stderr) and ran nothing.
    if (opts.swap && r.code === RUNNER_EXIT.skip && !watchText) return { kind: 'no-swap' };
    const watch = parseWatchOutput(watchText);
    if (watch.execFailed) {
      return { kind: 'exec-failed', error: `${opts.command[0]}: ${watch.execFailed.error}`, exitCode: watch.execFailed.errno === 2 ? 127 : 126 };
    }
    if (!watch.exec || !watch.end) {
      throw new Error(`the recording did not complete (perf exit ${r.code ?? r.signal}); exec-watch reported ${watch.exec ? 'no end' : 'nothing'}`);
    }
    opts.progress(`decoding perf data (${((Date.now() - start) / 1000).toFixed(1)} s of recording)`);
    const parser = new PerfScriptParser();
    await perfScript(perf, data, (l) => parser.line(l));
    const script = parser.result();
    if (interrupted) return { kind: 'interrupted' };
    if (script.lost > 0 && !opts.allowLost) return { kind: 'lost', lost: script.lost };
    if (script.unknown > 0) throw new Error(`perf script printed ${script.unknown} line(s) ptlab cannot read, e.g.:\n${script.unknownSample.join('\n')}`);

    const converted = convertRecording(watch, script, {
      command: opts.command.map(shellQuote).join(' '),
      kernel: os.release(),
      thp: thpSetting('enabled'),
      shmemThp: thpSetting('shmem_enabled'),
      recorded: new Date(start).toISOString(),
      swap: opts.swap,
      statSize,
    });
    if (script.lost > 0) converted.summary.warnings.push(`${script.lost} events were lost (--allow-lost): the trace has gaps`);
    const file = opts.output ?? `ptlab-${watch.exec.comm.replace(/[^\w.-]/g, '_')}-${watch.exec.pid}.trace`;
    opts.progress(`writing ${file}`);
    // A private name in the same directory, then rename (util/atomic.ts): an interrupted record leaves no half trace.
    const out = new AtomicFile(file);
    try {
      for (const line of formatTrace(converted.records)) out.write(line + '\n');
      if (interrupted) return { kind: 'interrupted' };
      out.commit();
    } finally {
      out.abort();
    }
    return { kind: 'written', file, summary: converted.summary, lost: script.lost, cmd: watch.end };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rm(tmp, { recursive: true, force: true });
  }
}
