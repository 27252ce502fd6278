/**
 * The live kernel as oracle: builds runner/ptlab-runner.c with the system C compiler and runs op
 * scripts through it. The runner prints the same JSON lines as the model (src/script/output.ts).
 *
 * Exit codes of the runner: 0 all ok, 1 an op or expect mismatched, 2 usage or parse error,
 * 3 skipped (missing privilege or kernel feature), 4 internal error.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { release } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { parseOutputLine, type OutputLine, type RunnerLine } from '../script/output.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUNNER_SOURCE = path.join(REPO_ROOT, 'runner', 'ptlab-runner.c');
export const RUNNER_BINARY = path.join(REPO_ROOT, 'runner', 'build', 'ptlab-runner');
export const RUNNER_CFLAGS: readonly string[] = ['-O2', '-Wall', '-Wextra', '-std=gnu11'];

export const RUNNER_EXIT = { ok: 0, mismatch: 1, usage: 2, skip: 3, internal: 4 } as const;
export type RunnerStatus = keyof typeof RUNNER_EXIT | 'killed';

const THP_DIR = '/sys/kernel/mm/transparent_hugepage';

export interface KernelRun {
  /** the runner's exit code; null when it was killed by a signal */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  status: RunnerStatus;
  /** every JSON line of stdout, in order; the first is the runner line */
  lines: OutputLine[];
  runner?: RunnerLine;
  stderr: string;
}

export type Availability = { ok: true; note?: string } | { ok: false; reason: string };

/** The C compiler: $CC when set, else `cc` found on PATH; undefined when there is none. */
function findCompiler(): string | undefined {
  const name = process.env.CC?.trim() || 'cc';
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function noCompiler(): string {
  return `no C compiler (${process.env.CC?.trim() ? `CC=${process.env.CC}` : '`cc`'} not found on PATH)`;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function run(cmd: string, args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/**
 * Compiles runner/ptlab-runner.c into runner/build/ptlab-runner when the binary is missing or
 * older than the source, and returns the binary's path. Throws when there is no C compiler or the
 * compilation fails (with the compiler's messages).
 */
export function buildRunner(): Promise<string> {
  return buildCHelper(RUNNER_SOURCE, RUNNER_BINARY, 'the kernel runner');
}

/**
 * Compiles one of the C helpers of runner/ (SOURCE into BINARY, with RUNNER_CFLAGS) when the binary
 * is missing or older than the source or a header of its folder; `what` names it in messages. Used
 * for the kernel runner and for `ptlab record`'s exec watcher.
 */
export async function buildCHelper(source: string, binary: string, what: string): Promise<string> {
  const src = await stat(source).catch(() => {
    throw new Error(`ptlab: the source of ${what}, ${source}, is missing`);
  });
  const dir = path.dirname(source);
  const headers = (await readdir(dir)).filter((f) => f.endsWith('.h'));
  const newest = Math.max(src.mtimeMs, ...(await Promise.all(headers.map(async (h) => (await stat(path.join(dir, h))).mtimeMs))));
  const bin = await stat(binary).catch(() => undefined);
  if (bin && bin.mtimeMs >= newest) return binary;

  const cc = findCompiler();
  if (!cc) {
    throw new Error(`ptlab: cannot build ${what}: ${noCompiler()}. Install one (e.g. \`apt-get install gcc\`) or set CC.`);
  }
  await mkdir(path.dirname(binary), { recursive: true });
  // Build under a private name and rename: a concurrent build or run never sees a partial binary.
  const tmp = `${binary}.${process.pid}.tmp`;
  const r = await run(cc, [...RUNNER_CFLAGS, '-o', tmp, source]);
  if (r.code !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`ptlab: building ${what} failed: ${cc} ${[...RUNNER_CFLAGS, '-o', tmp, source].join(' ')}\n${r.stderr}`);
  }
  await rename(tmp, binary);
  return binary;
}

/** The kernel config text from /proc/config.gz or /boot/config-$(uname -r), if readable. */
function readKernelConfig(): { text: string; from: string } | undefined {
  try {
    return { text: gunzipSync(readFileSync('/proc/config.gz')).toString('utf8'), from: '/proc/config.gz' };
  } catch {
    // not built with CONFIG_IKCONFIG_PROC, or unreadable: try /boot
  }
  const boot = `/boot/config-${release()}`;
  try {
    return { text: readFileSync(boot, 'utf8'), from: boot };
  } catch {
    return undefined;
  }
}

/**
 * Whether this machine can serve as the oracle: Linux, pagemap readable (root or not: the runner
 * uses the flag bits only), a C compiler, writable THP sysfs and CONFIG_PT_RECLAIM=y. When the
 * kernel config cannot be read, the answer is ok with a note saying so. A kernel whose read faults
 * map no zero page serves too: the runner probes it (kernelFaultZeroPage()).
 */
export function kernelOracleAvailable(): Availability {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (platform ${process.platform})` };
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    try {
      accessSync('/proc/self/pagemap', constants.R_OK);
    } catch {
      return { ok: false, reason: 'not root and /proc/self/pagemap is not readable' };
    }
  }
  if (!findCompiler()) return { ok: false, reason: `${noCompiler()} to build runner/ptlab-runner.c` };
  for (const f of ['enabled', 'shmem_enabled']) {
    const p = `${THP_DIR}/${f}`;
    try {
      accessSync(p, constants.W_OK);
    } catch (e) {
      return { ok: false, reason: `${p} is not writable (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
  }
  const cfg = readKernelConfig();
  if (!cfg) {
    return { ok: true, note: `kernel config not readable (no /proc/config.gz, no /boot/config-${release()}): CONFIG_PT_RECLAIM assumed on` };
  }
  if (!/^CONFIG_PT_RECLAIM=y$/m.test(cfg.text)) {
    return { ok: false, reason: `CONFIG_PT_RECLAIM is not set in ${cfg.from}: the kernel frees no empty PTE tables on MADV_DONTNEED` };
  }
  return { ok: true };
}

const KHUGEPAGED_COLLAPSED = `${THP_DIR}/khugepaged/pages_collapsed`;

/**
 * khugepaged's running count of collapsed pages (`khugepaged/pages_collapsed`), or undefined when
 * the kernel has no khugepaged. MADV_COLLAPSE does not count here: a change across a run means
 * khugepaged itself collapsed something meanwhile, in the run's processes or any other.
 */
export function khugepagedCollapsed(): number | undefined {
  try {
    const n = Number(readFileSync(KHUGEPAGED_COLLAPSED, 'utf8').trim());
    return Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

const DAMON_KDAMONDS = '/sys/kernel/mm/damon/admin/kdamonds';

/**
 * The DAMON worker threads (kdamonds) running on this machine, by index; empty when none or no
 * DAMON. A kdamond samples accesses by walking the rmap of the folios it checks, under their
 * folio lock, and a DAMOS `pageout` scheme reclaims on its own: either can make the kernel keep or
 * drop pages the model's MADV_PAGEOUT and MADV_COLD decide otherwise. There is no counter that
 * says whether one did during a run (as khugepaged's pages_collapsed does), so `ptlab diff` only
 * names them next to a mismatch of a script that reclaims.
 */
export function runningKdamonds(): number[] {
  try {
    const n = Number(readFileSync(`${DAMON_KDAMONDS}/nr_kdamonds`, 'utf8').trim());
    const on: number[] = [];
    for (let i = 0; i < n; i++) if (readFileSync(`${DAMON_KDAMONDS}/${i}/state`, 'utf8').trim() === 'on') on.push(i);
    return on;
  } catch {
    return [];
  }
}

function statusOf(code: number | null): RunnerStatus {
  for (const [k, v] of Object.entries(RUNNER_EXIT)) if (v === code) return k as RunnerStatus;
  return code === null ? 'killed' : 'internal';
}

export interface KernelRunOptions {
  /** default 120 s */
  timeoutMs?: number;
  /**
   * Settings over the script's own `config` lines (`ptlab diff --config`). Only `thp`, `shmem_thp`,
   * `swap` and `fault_zero_page` (checked, not set) mean anything to the kernel; the other (model-only)
   * keys are ignored here.
   */
  config?: Readonly<Record<string, string>>;
}

/** Runner arguments for the settings of `config` that the kernel honours. */
export function runnerConfigArgs(config: Readonly<Record<string, string>> = {}): string[] {
  const args: string[] = [];
  if (config.thp !== undefined) args.push(`--thp=${config.thp}`);
  if (config.shmem_thp !== undefined) args.push(`--shmem-thp=${config.shmem_thp}`);
  if (config.swap !== undefined) args.push(`--swap=${config.swap}`);
  if (config.fault_zero_page !== undefined) args.push(`--fault-zero-page=${config.fault_zero_page}`);
  return args;
}

/**
 * Runs an op script on the live kernel (building the runner first if needed) and returns its
 * JSON lines and exit code. `script` is a file path, or `{ text }` to pipe the script in (a
 * generated script, or one rewritten in memory). The script should have been validated by the
 * model's parser: the runner parses it again but reports only the first problem, without a column.
 * `timeoutMs` (default 120 s) ends the runner with SIGTERM; it then restores sysfs, swaps off and
 * detaches the swap area of `config swap=`, and removes its temp files before dying.
 */
export async function runOnKernel(script: string | { text: string }, opts: KernelRunOptions = {}): Promise<KernelRun> {
  const bin = await buildRunner();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const fromText = typeof script !== 'string';
  return new Promise((resolve, reject) => {
    const args = [...runnerConfigArgs(opts.config), fromText ? '-' : script];
    // Timing lines (PTLAB_RUNNER_TIMING, for `ptlab bench`) are not part of the diff schema.
    const env = { ...process.env };
    delete env.PTLAB_RUNNER_TIMING;
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    // EPIPE when the runner exits before reading everything (e.g. it cannot start): the exit code
    // and stdout tell what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(fromText ? script.text : undefined);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      try {
        const lines = Buffer.concat(out).toString('utf8').split('\n').filter((l) => l.trim() !== '').map(parseOutputLine);
        const first = lines[0];
        resolve({
          exitCode,
          signal,
          status: statusOf(exitCode),
          lines,
          runner: first?.type === 'runner' ? first : undefined,
          stderr: Buffer.concat(err).toString('utf8'),
        });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * Whether read faults map the shared zero page on this kernel ('on'), or a page of their own
 * ('off': as on a vendor 6.18.44 booted with pvm_no_zero_page=1, docs/fidelity.md), as the
 * runner probes it at start; undefined when the runner cannot say. The model's `fault_zero_page` setting follows it for comparisons (compare.ts, modelOverridesFor()).
 */
export async function kernelFaultZeroPage(): Promise<'on' | 'off' | undefined> {
  const run = await runOnKernel({ text: '' });
  return run.runner?.fault_zero_page;
}
