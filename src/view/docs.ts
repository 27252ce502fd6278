/**
 * Building the web view's documents (schema.ts) from the explorer's result and from an op-script
 * run. Pure: used by the CLI (`ptlab explore --json`, `ptlab run --timeline`) and by the page when
 * it runs a scenario or a script itself, so both produce the same JSON.
 */
import type { ExploreResult } from '../explore/index.js';
import { runScript, type RunOptions, type RunResult } from '../script/exec.js';
import { safeParseScript } from '../script/parse.js';
import { formatScriptError } from '../script/ast.js';
import { VIEW_VERSION, type ExploreDoc, type KernelSnapshot, type RunDoc } from './schema.js';
import { kernelSnapshot } from './snapshot.js';

/**
 * `ptlab explore --json`: the result with its type tag and column names. The first failure's trace
 * keeps its snapshots; the other failures (with --all) keep their traces without them, to keep the
 * file small.
 */
export function exploreDoc(scenario: string, guardsOff: readonly string[], taskNames: readonly string[], result: ExploreResult): ExploreDoc & Record<string, unknown> {
  const head = { type: 'ptlab-explore' as const, version: VIEW_VERSION, scenario, guardsOff: [...guardsOff], taskNames: [...taskNames] };
  if (result.status === 'clean') return { ...head, ...result, tolerated: result.tolerated?.slice(), trace: result.trace as ExploreDoc['trace'] };
  if (result.status === 'step-limit') {
    const { trace, nTasks: _, ...overrun } = result.overrun;
    return { ...head, ...result, overrun, tolerated: result.tolerated?.slice(), trace: trace as ExploreDoc['trace'] };
  }
  if (result.status !== 'violation') return { ...head, ...result, tolerated: result.tolerated?.slice() };
  const failures = result.failures.map((f) => ({ ...f, initial: undefined, trace: f.trace.map((s) => ({ ...s, snapshot: undefined })) }));
  return { ...head, ...result, tolerated: result.tolerated?.slice(), failures, initial: result.initial as KernelSnapshot | undefined, trace: result.trace as ExploreDoc['trace'] };
}

/**
 * A timeline keeps the first this many ops: a snapshot is a few kB to a few MB, and a converted
 * trace can have millions of ops. The rest still run; the document counts them.
 */
export const MAX_TIMELINE_STEPS = 5000;

/** Ops that leave the kernel as it was get no snapshot of their own. */
const NO_SNAPSHOT = new Set(['config', 'expect', 'snapshot']);

/**
 * A timeline being recorded: pass `onOp` to runScript, then `doc()` makes the document. `text` is
 * the script's source, for each step's line.
 */
export function timelineRecorder(text: string, file: string, maxSteps = MAX_TIMELINE_STEPS): { onOp: NonNullable<RunOptions['onOp']>; doc(result: RunResult): RunDoc } {
  const lines = text.split('\n');
  const steps: RunDoc['steps'] = [];
  let dropped = 0;
  return {
    onOp: (op, k) => {
      if (NO_SNAPSHOT.has(op.op)) return;
      if (steps.length >= maxSteps) {
        dropped++;
        return;
      }
      // The op as written, without its trailing comment.
      const text = (lines[op.loc.line - 1] ?? op.op).replace(/\s#.*$/, '').trim();
      steps.push({ line: op.loc.line, text, snapshot: kernelSnapshot(k) });
    },
    doc: (r) => {
      const err = r.lines.find((l) => l.type === 'error');
      const error = err && 'message' in err ? `line ${err.line}: ${err.message}` : undefined;
      return { type: 'ptlab-run', version: VIEW_VERSION, script: file, exitCode: r.exitCode, error, steps, opsNotRecorded: dropped || undefined };
    },
  };
}

/**
 * Run an op script and photograph the kernel after every op that changes it. Returns the script's
 * errors (file:line:col: what was expected) instead of a document when it does not validate.
 */
export function runDoc(text: string, file: string, opts: Pick<RunOptions, 'overrides'> = {}): { ok: true; doc: RunDoc } | { ok: false; errors: string[] } {
  const parsed = safeParseScript(text, file);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map(formatScriptError) };
  const rec = timelineRecorder(text, file);
  return { ok: true, doc: rec.doc(runScript(parsed.script, { overrides: opts.overrides, onOp: rec.onOp })) };
}
