/**
 * Runs one op script on the model and on the live kernel and diffs the two (./diff.ts). The
 * effects (the runner process) live here; the verdict is diff.ts's. Used by `ptlab diff` and by
 * the agreement tests.
 */
import { FAST_API, runScript, scriptConfig, type RunResult } from '../script/exec.js';
import type { Script, ScriptError } from '../script/ast.js';
import { safeParseScript } from '../script/parse.js';
import { diffRuns, parseDiffDirectives, type DiffDirective, type DiffResult } from './diff.js';
import { khugepagedCollapsed, runOnKernel, type KernelRun } from './kernel.js';

export interface CompareOptions {
  /** settings over the script's `config` lines: all apply to the model, thp/shmem_thp/swap/fault_zero_page to the kernel */
  overrides?: Readonly<Record<string, string>>;
  /** check the model's invariants after every op */
  checkInvariants?: boolean;
  /**
   * Drop the script's `expect` lines on both sides (line numbers kept), so that a field the model
   * gets wrong does not stop the model's run and every later snapshot is still compared.
   */
  noExpect?: boolean;
  /** kernel runner timeout, ms */
  timeoutMs?: number;
  /**
   * Kernel runs to try while khugepaged collapses something during the run (default 3). The model
   * has no background khugepaged, so a run it disturbed is not comparable; see runKernelQuietly.
   */
  kernelAttempts?: number;
}

/** A script ready to compare: validated by the model's parser, directives read. */
export interface PreparedScript {
  file: string;
  /** the text both executors run (expect lines blanked with noExpect) */
  text: string;
  script: Script;
  directives: DiffDirective[];
}

export interface Comparison {
  file: string;
  diff: DiffResult;
  model: Pick<RunResult, 'lines' | 'exitCode'>;
  kernel: KernelRun;
  /** kernel runs made; more than 1 when khugepaged collapsed pages during an earlier one */
  kernelAttempts: number;
  /** true when even the last kernel run overlapped a khugepaged collapse */
  khugepagedInterfered: boolean;
}

/** Blanks every `expect` line, keeping the line count (snapshots keep their line numbers). */
export function stripExpects(text: string): string {
  return text.split('\n').map((l) => (/^[ \t\r\f\v]*expect(?:[ \t\r\f\v#]|$)/.test(l) ? '' : l)).join('\n');
}

/**
 * Validates a script for comparison: the op grammar (the model's parser), the `# diff:` directives,
 * and the settings (the script's and `overrides`). Every problem is a ScriptError; nothing runs.
 */
export function prepareScript(
  file: string,
  text: string,
  opts: Pick<CompareOptions, 'overrides' | 'noExpect'> = {},
): { ok: true; prepared: PreparedScript } | { ok: false; errors: ScriptError[] } {
  const runText = opts.noExpect ? stripExpects(text) : text;
  const parsed = safeParseScript(runText, file);
  if (!parsed.ok) return parsed;
  const labels = new Set(parsed.script.ops.flatMap((o) => (o.op === 'snapshot' ? [o.label] : [])));
  const d = parseDiffDirectives(text, file, labels);
  if (!d.ok) return d;
  try {
    scriptConfig(FAST_API, parsed.script, { ...opts.overrides });
  } catch (e) {
    return { ok: false, errors: [{ code: 'bad-value', loc: { file, line: 1, col: 1 }, message: (e as Error).message }] };
  }
  return { ok: true, prepared: { file, text: runText, script: parsed.script, directives: d.directives } };
}

/**
 * Runs a script on the kernel until no khugepaged collapse overlaps the run (at most `attempts`
 * runs). khugepaged scans registered mms every scan_sleep_millisecs (10 s here) and at once when
 * the first mm registers with it, and with max_ptes_none=511 it collapses any MADV_HUGEPAGE block
 * holding a single 4 KiB page: a script that leaves such a block for a few milliseconds can see
 * AnonHugePages jump. Its pages_collapsed counter tells whether that (or anything else) happened.
 */
export async function runKernelQuietly(
  script: string | { text: string },
  opts: Pick<CompareOptions, 'overrides' | 'timeoutMs' | 'kernelAttempts'> = {},
): Promise<{ run: KernelRun; attempts: number; interfered: boolean }> {
  const max = Math.max(1, opts.kernelAttempts ?? 3);
  for (let attempt = 1; ; attempt++) {
    const before = khugepagedCollapsed();
    const run = await runOnKernel(script, { timeoutMs: opts.timeoutMs, config: opts.overrides });
    const interfered = before !== undefined && khugepagedCollapsed() !== before;
    if (!interfered || attempt >= max) return { run, attempts: attempt, interfered };
  }
}

/**
 * The model's settings for a comparison with a kernel run: `overrides`, plus the kernel's answer
 * for what no setting changes there and neither the script nor `overrides` decides: `fault_zero_page`,
 * which the runner probes (a read fault maps the shared zero page, or a page of its own where
 * mm_forbids_zeropage() holds). A script that sets it keeps its value: the runner skips the run
 * when the kernel does otherwise.
 */
export function modelOverridesFor(script: Script, run: KernelRun, overrides: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out = { ...overrides };
  const decided = out.fault_zero_page !== undefined || script.ops.some((o) => o.op === 'config' && o.settings.fault_zero_page !== undefined);
  const probed = run.runner?.fault_zero_page;
  if (!decided && probed) out.fault_zero_page = probed;
  return out;
}

/** Runs a prepared script on the kernel, then on the model with the kernel's probed settings, and diffs the two. */
export async function compareScript(p: PreparedScript, opts: CompareOptions = {}): Promise<Comparison> {
  const k = await runKernelQuietly({ text: p.text }, opts);
  const model = runScript(p.script, { overrides: modelOverridesFor(p.script, k.run, opts.overrides), checkInvariants: opts.checkInvariants });
  return {
    file: p.file,
    diff: diffRuns(model.lines, k.run.lines, p.directives),
    model: { lines: model.lines, exitCode: model.exitCode },
    kernel: k.run,
    kernelAttempts: k.attempts,
    khugepagedInterfered: k.interfered,
  };
}
