/**
 * The explorer: runs executions of a system under a scheduler until the scheduler has nothing left,
 * the budget runs out, or (by default) the first violation. Pure: time comes from an injected clock,
 * progress goes to a callback, and the result is a value.
 */
import { minimizeFailure, smaller, type Failing } from './minimize.js';
import { ReplayError, ReplayScheduler } from './replay.js';
import { DEFAULT_MAX_STEPS, runExecution } from './run.js';
import { encodeToken } from './token.js';
import { formatTrace } from './trace.js';
import type { Coverage, Scheduler, System, TraceStep, Finding } from './types.js';

export interface ExploreOptions {
  /** Stop after this many executions (abandoned ones included) or this much clock time. */
  readonly budget?: { readonly maxExecutions?: number; readonly maxMs?: number };
  /** Milliseconds from any origin; needed for `budget.maxMs` and `Progress.elapsedMs`. */
  readonly clock?: () => number;
  /** Stop at the first violation (default), or collect every distinct one (by kind and message). */
  readonly stopAtFirst?: boolean;
  /** Steps per execution before it stops unjudged (default DEFAULT_MAX_STEPS, 10 000). */
  readonly maxSteps?: number;
  /** Shrink each failure's schedule (default true), trying at most `minimizeRuns` variants (200). */
  readonly minimize?: boolean;
  readonly minimizeRuns?: number;
  readonly onProgress?: (p: Progress) => void;
  /** Call `onProgress` every this many executions (default 1000). */
  readonly progressEvery?: number;
}

export interface Progress {
  readonly executions: number;
  /** Steps of the latest execution. */
  readonly depth: number;
  readonly elapsedMs: number;
}

export interface Failure {
  readonly violation: Finding;
  /** Replays the failing execution exactly: `replay(system, token)`. */
  readonly token: string;
  readonly trace: readonly TraceStep[];
  /** `Instance.snapshot()` before the trace's first step, when the system provides it. */
  readonly initial?: unknown;
  /** Columns for `formatTrace`. */
  readonly nTasks: number;
  readonly preemptions: number;
  /** The schedule is a local minimum of (preemptions, steps); false when not minimized. */
  readonly minimized: boolean;
}

/** Executions that ran past the step limit (run.ts): the first one's message and token. */
export interface Overrun {
  readonly message: string;
  /** Replays the first such execution; with `replay`, the steps it ran. */
  readonly token: string;
  readonly executions: number;
  readonly maxSteps: number;
  readonly trace?: readonly TraceStep[];
  readonly nTasks?: number;
}

interface Counts {
  /** Executions run to their end: finished, deadlocked, failed or stopped at the step limit. */
  readonly executions: number;
  /** Executions the scheduler cut short (sleep-set blocked, over the preemption bound). */
  readonly abandoned: number;
  /** Findings the system tolerates (`Instance.tolerated()`), by kind; absent when none was seen. */
  readonly tolerated?: readonly Tolerated[];
}

/** A kind of tolerated finding: how many executions showed it, and the first one's. */
export interface Tolerated {
  readonly violation: Finding;
  /** Replays the first execution that showed it. */
  readonly token: string;
  readonly executions: number;
}

export type ExploreResult =
  | ({
      readonly status: 'clean';
      readonly complete: boolean;
      readonly coverage: Coverage;
      /** A replay's trace (coverage 'replayed' only), to show what it tolerated. */
      readonly trace?: readonly TraceStep[];
      readonly nTasks?: number;
    } & Counts)
  /** The first failure found (minimized) is spread in; `failures` lists every distinct one. */
  | ({ readonly status: 'violation'; readonly failures: readonly Failure[]; readonly complete: boolean } & Failure & Counts)
  | ({ readonly status: 'budget' } & Counts)
  /** No violation, but executions ran past the step limit: a livelock or a long path, not a verdict. */
  | ({ readonly status: 'step-limit'; readonly overrun: Overrun } & Counts);

/** Options resolved once into a complete value. */
type Resolved = Required<Omit<ExploreOptions, 'budget' | 'clock' | 'onProgress'>> &
  Pick<ExploreOptions, 'clock' | 'onProgress'> & { readonly budget: { readonly maxExecutions: number; readonly maxMs: number } };

function resolve(o: ExploreOptions): Resolved {
  if (o.budget?.maxMs !== undefined && !o.clock) throw new Error('explore: budget.maxMs needs a clock');
  return {
    budget: { maxExecutions: o.budget?.maxExecutions ?? Infinity, maxMs: o.budget?.maxMs ?? Infinity },
    clock: o.clock,
    stopAtFirst: o.stopAtFirst ?? true,
    maxSteps: o.maxSteps ?? DEFAULT_MAX_STEPS,
    minimize: o.minimize ?? true,
    minimizeRuns: o.minimizeRuns ?? 200,
    onProgress: o.onProgress,
    progressEvery: o.progressEvery ?? 1000,
  };
}

export function explore(system: System, sched: Scheduler, options: ExploreOptions = {}): ExploreResult {
  const o = resolve(options);
  const t0 = o.clock?.() ?? 0;
  const elapsed = (): number => (o.clock ? o.clock() - t0 : 0);
  const found = new Map<string, Failing>(); // by kind and message, the smallest schedule of each
  let executions = 0;
  let abandoned = 0;
  let outOfBudget = false;
  let overrun: Overrun | undefined;
  const tolerated = new Map<string, { violation: Finding; token: string; executions: number }>();
  while (sched.newExecution()) {
    const ex = runExecution(system, sched, o.maxSteps);
    if (ex.end.kind === 'abandoned') abandoned++;
    else executions++;
    if (ex.tolerated) noteTolerated(tolerated, ex.tolerated, ex.decisions);
    if (ex.end.kind === 'violation') {
      const v = ex.end.violation;
      const key = `${v.kind}\n${v.message}`;
      const prev = found.get(key);
      if (!prev || smaller(ex, prev)) found.set(key, { decisions: ex.decisions, preemptedAt: ex.preemptedAt, violation: v });
      if (o.stopAtFirst) break;
    }
    if (ex.end.kind === 'step-limit') {
      overrun = overrun ? { ...overrun, executions: overrun.executions + 1 } : { message: ex.end.message, token: encodeToken(ex.decisions), executions: 1, maxSteps: o.maxSteps };
    }
    const runs = executions + abandoned;
    if (o.onProgress && runs % o.progressEvery === 0) o.onProgress({ executions, depth: ex.decisions.length, elapsedMs: elapsed() });
    if (runs >= o.budget.maxExecutions || elapsed() >= o.budget.maxMs) {
      outOfBudget = sched.newExecution(); // out of budget only if there was more to run
      break;
    }
  }
  const counts = { executions, abandoned, ...(tolerated.size ? { tolerated: [...tolerated.values()] } : {}) };
  if (found.size === 0) {
    if (overrun) return { status: 'step-limit', overrun, ...counts };
    return outOfBudget ? { status: 'budget', ...counts } : { status: 'clean', complete: sched.complete === true, coverage: sched.coverage, ...counts };
  }
  const failures = [...found.values()].map((f) => report(system, f, o));
  const complete = !outOfBudget && !overrun && !o.stopAtFirst && sched.complete === true;
  return { status: 'violation', ...failures[0], failures, complete, ...counts };
}

/** Count each kind once per execution; keep the first execution's finding and token. */
function noteTolerated(into: Map<string, { violation: Finding; token: string; executions: number }>, seen: readonly Finding[], decisions: Failing['decisions']): void {
  for (const kind of new Set(seen.map((v) => v.kind))) {
    const prev = into.get(kind);
    if (prev) prev.executions++;
    else into.set(kind, { violation: seen.find((v) => v.kind === kind)!, token: encodeToken(decisions), executions: 1 });
  }
}

function report(system: System, f: Failing, o: Resolved): Failure {
  const m = o.minimize ? minimizeFailure(system, f, o.maxSteps, o.minimizeRuns) : { best: f, minimized: false };
  const token = encodeToken(m.best.decisions);
  const ex = runExecution(system, new ReplayScheduler(m.best.decisions), o.maxSteps, true);
  return { violation: m.best.violation, token, trace: ex.trace!, initial: ex.initial, nTasks: ex.nTasks, preemptions: m.best.preemptedAt.length, minimized: m.minimized };
}

/** Run one schedule token exactly (see token.ts). Throws ReplayError if it does not fit the system. */
export function replay(system: System, token: string, options: Pick<ExploreOptions, 'maxSteps'> = {}): ExploreResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const sched = new ReplayScheduler(token, maxSteps);
  sched.newExecution();
  const ex = runExecution(system, sched, maxSteps, true);
  if (ex.decisions.length !== sched.decisions.length) throw new ReplayError(`the execution ended after ${ex.decisions.length} steps; the token has ${sched.decisions.length}`);
  const tolerated = new Map<string, { violation: Finding; token: string; executions: number }>();
  if (ex.tolerated) noteTolerated(tolerated, ex.tolerated, ex.decisions);
  const counts = { executions: 1, abandoned: 0, complete: false, ...(tolerated.size ? { tolerated: [...tolerated.values()] } : {}) };
  if (ex.end.kind === 'step-limit') {
    return { status: 'step-limit', overrun: { message: ex.end.message, token: encodeToken(ex.decisions), executions: 1, maxSteps, trace: ex.trace, nTasks: ex.nTasks }, ...counts };
  }
  if (ex.end.kind !== 'violation') return { status: 'clean', coverage: 'replayed', trace: ex.trace, nTasks: ex.nTasks, ...counts };
  const f: Failure = { violation: ex.end.violation, token: encodeToken(ex.decisions), trace: ex.trace!, initial: ex.initial, nTasks: ex.nTasks, preemptions: ex.preemptedAt.length, minimized: false };
  return { status: 'violation', ...f, failures: [f], ...counts };
}

/**
 * What a result establishes, in one line: a verdict only where a search established it. "clean"
 * alone is reserved for a complete search; a bounded one says its bound, a sampling one what it ran.
 */
export function verdictLine(r: VerdictInput, bound?: number): string {
  if (r.status === 'violation') return `violation found (${r.violation?.kind ?? 'see the trace'})`;
  if (r.status === 'budget') return `no violation in ${r.executions} executions, but the budget ran out before the search ended: not a verdict`;
  if (r.status === 'step-limit') {
    const n = r.overrun?.executions ?? 1;
    const which = r.executions === 1 ? 'the execution' : `${n} of ${r.executions} executions`;
    return `no violation, but ${which} ran past the ${r.overrun?.maxSteps ?? DEFAULT_MAX_STEPS}-step limit with tasks still running (a livelock, or only a long path): not a verdict`;
  }
  const b = bound === undefined ? 'the preemption bound' : `preemption bound ${bound}`;
  switch (r.coverage) {
    case 'complete':
      return `clean: the search is complete (every interleaving, up to reordering independent steps; ${r.executions} executions)`;
    case 'bounded':
      return `clean within ${b}: every schedule within it was run (${r.executions} executions); schedules beyond it were not`;
    case 'sampled':
      return `no violation in ${r.executions} sampled executions: sampling, not a proof`;
    case 'replayed':
      return 'no violation in this schedule';
    default:
      return `no violation in ${r.executions} executions`;
  }
}

/** What `verdictLine` reads: an ExploreResult, or the `ptlab explore --json` document made of one. */
export interface VerdictInput {
  readonly status: 'clean' | 'violation' | 'budget' | 'step-limit';
  readonly executions: number;
  readonly overrun?: Pick<Overrun, 'executions' | 'maxSteps'>;
  readonly coverage?: Coverage;
  readonly violation?: Finding;
}

/** The failure as a person needs it: what broke, how to replay it, and the interleaving. */
export function formatFailure(system: System, f: Failure): string {
  return [
    `${system.name}: ${f.violation.kind}: ${f.violation.message}`,
    `replay: token "${f.token}" (${f.preemptions} preemption${f.preemptions === 1 ? '' : 's'}${f.minimized ? ', minimized' : ''})`,
    '',
    formatTrace(f.trace, f.nTasks, { names: system.taskNames, violation: f.violation }),
  ].join('\n');
}

/** The throwing wrapper for tests: returns a clean result, throws ExploreFailure otherwise. */
export function assertClean(system: System, sched: Scheduler, options: ExploreOptions = {}): ExploreResult & { status: 'clean' } {
  const res = explore(system, sched, options);
  if (res.status === 'clean') return res;
  if (res.status === 'budget') throw new ExploreFailure(`${system.name}: budget exhausted after ${res.executions} executions, nothing found`, res);
  if (res.status === 'step-limit') throw new ExploreFailure(`${system.name}: ${res.overrun.message} (token ${res.overrun.token})`, res);
  throw new ExploreFailure(res.failures.map((f) => formatFailure(system, f)).join('\n\n'), res);
}

export class ExploreFailure extends Error {
  override name = 'ExploreFailure';
  constructor(
    message: string,
    readonly result: ExploreResult,
  ) {
    super(message);
  }
}
