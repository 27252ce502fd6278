/**
 * Running perf for `ptlab record`: the events, the command lines, and what perf's complaints mean.
 * The classification of perf's stderr is pure (tested on captured messages); running is not.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TRACED_SYSCALLS } from './perf_script.js';

export const PERF_EVENTS: readonly string[] = [
  ...TRACED_SYSCALLS.flatMap((s) => [`syscalls:sys_enter_${s}`, `syscalls:sys_exit_${s}`]),
  'exceptions:page_fault_user',
  'exceptions:page_fault_kernel',
];

/** Fields perf 6.1 accepts for tracepoints; `--ns` for nanosecond times. */
export const PERF_SCRIPT_FIELDS = 'trace:comm,pid,tid,time,event,trace';

export const PARANOID_FILE = '/proc/sys/kernel/perf_event_paranoid';

/**
 * `perf record` arguments. `-k mono`: timestamps on CLOCK_MONOTONIC, the clock the exec watcher
 * reads at its stops, so events can be placed before or after them. Inherit (perf's default)
 * follows every thread and fork of the command.
 */
export function perfRecordArgs(data: string, mmap: string, command: readonly string[]): string[] {
  return ['record', '-q', '-k', 'mono', '-o', data, '-m', mmap, '-e', PERF_EVENTS.join(','), '--', ...command];
}

export function perfScriptArgs(data: string): string[] {
  return ['script', '-i', data, '-F', PERF_SCRIPT_FIELDS, '--ns', '--show-lost-events'];
}

export type PerfProblem =
  | { code: 'missing'; message: string }
  | { code: 'not-permitted'; message: string }
  | { code: 'no-events'; message: string }
  | { code: 'failed'; message: string };

function paranoidValue(): string {
  try {
    return readFileSync(PARANOID_FILE, 'utf8').trim();
  } catch {
    return 'unreadable';
  }
}

/** Why `perf record` refused to start, from its stderr. Pure but for reading the paranoid level. */
export function classifyPerfFailure(stderr: string, paranoid: string = paranoidValue()): PerfProblem {
  const first = stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 6).join('\n  ');
  if (/No permissions|Permission denied|perf_event_paranoid|Access to performance monitoring/i.test(stderr)) {
    return {
      code: 'not-permitted',
      message:
        `perf may not read the syscall and page-fault tracepoints here.\n` +
        `  ${PARANOID_FILE} is ${paranoid}. Tracepoints deliver raw data, which perf allows only to root ` +
        `(or CAP_PERFMON / CAP_SYS_ADMIN), or to anyone when it is -1; perf also reads the event ` +
        `formats under /sys/kernel/tracing, which is root-only by default.\n` +
        `  Run as root (sudo), or: sysctl kernel.perf_event_paranoid=-1 and mount -o remount,mode=755 /sys/kernel/tracing\n` +
        `  perf said:\n  ${first}`,
    };
  }
  if (/perf not found for kernel|command not found/i.test(stderr)) {
    return { code: 'missing', message: `perf is not installed for this kernel: apt-get install linux-perf\n  ${first}` };
  }
  if (/event syntax error|unknown tracepoint|can't access trace events/i.test(stderr)) {
    return { code: 'no-events', message: `this kernel lacks one of the tracepoints ptlab record needs (${PERF_EVENTS.join(', ')})\n  ${first}` };
  }
  return { code: 'failed', message: `perf record failed:\n  ${first}` };
}

/** `perf` on PATH, or undefined. */
export function findPerf(): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, 'perf');
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function run(cmd: string, args: readonly string[], stdio: 'inherit' | 'pipe'): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/**
 * Can perf record our tracepoints here? A dry run on `true` (a fraction of a second), so the real
 * recording can leave stdin, stdout and stderr to the command.
 */
export async function perfPreflight(perf: string, data: string): Promise<PerfProblem | null> {
  const r = await run(perf, perfRecordArgs(data, '1', ['true']), 'pipe');
  return r.code === 0 ? null : classifyPerfFailure(r.stderr);
}

/** `perf script` line by line into `onLine`; rejects with perf's stderr when it fails. */
export function perfScript(perf: string, data: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(perf, perfScriptArgs(data), { stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine);
    child.on('error', reject);
    child.on('close', (code) => {
      // perf 6.1 warns "'trace' not valid for hardware events. Ignoring." for each other type: noise.
      if (code === 0) resolve();
      else reject(new Error(`perf script failed (exit ${code}):\n${Buffer.concat(err).toString('utf8')}`));
    });
  });
}
