/**
 * The explorer's checks of itself. A reduced search (DPOR) is sound only if the system keeps the
 * contract of types.ts: steps it calls independent really commute, and the same decisions give the
 * same steps. Neither is something the explorer can take on trust, so two checks test it on the
 * real system, using only `Instance.fingerprint()`:
 *
 * - `endStates` collects every end state a scheduler reaches (finished, failed, deadlocked), so
 *   that a reduced search can be held against naive enumeration of the same schedules: it must
 *   reach the same set (test/explore and test/scenarios do this for every shipped scenario).
 * - `checkCommutation` walks random executions and, at each visited state, runs every pair of
 *   enabled steps the system calls independent in both orders, then the same deterministic
 *   continuation: both orders must leave the same state, leave each other enabled, and end the
 *   same way. A step that reads or writes something it did not declare shows up here as two
 *   orders that end differently, at any depth, where naive enumeration cannot reach.
 */
import { dependent, type Access } from './dpor.js';
import { actualAccess, runExecution } from './run.js';
import { encodeToken } from './token.js';
import { Prng } from '../util/prng.js';
import type { Decision, Instance, Scheduler, System } from './types.js';

/**
 * How an execution ended, comparable across executions: the end state with the kinds of findings
 * the architecture tolerated on the way (a search that misses one under-reports it), or the
 * violation's kind.
 */
export function endKey(end: { kind: string; violation?: { kind: string } }, state: string | undefined, tolerated?: readonly { kind: string }[]): string {
  if (end.kind === 'violation') {
    const v = end.violation!;
    return v.kind === 'deadlock' ? `deadlock\n${state ?? ''}` : `violation ${v.kind}`;
  }
  if (end.kind === 'step-limit') return 'step-limit';
  const kinds = [...new Set((tolerated ?? []).map((t) => t.kind))].sort();
  return `finished${kinds.length ? ` tolerating ${kinds.join(' ')}` : ''}\n${state ?? ''}`;
}

export interface EndStates {
  /** End key → a schedule token that reaches it. */
  readonly ends: ReadonlyMap<string, string>;
  readonly executions: number;
  /** The scheduler ran out (it covered everything it covers), not the budget. */
  readonly finished: boolean;
  readonly complete: boolean;
  /** With `traces`: the Mazurkiewicz trace of every execution that ran to an end (`Scheduler.traceKey`). */
  readonly traces?: ReadonlySet<string>;
}

/** Every end state the scheduler's executions reach (abandoned executions end nowhere). */
export function endStates(system: System, sched: Scheduler, o: { maxExecutions?: number; maxSteps?: number; traces?: boolean } = {}): EndStates {
  const ends = new Map<string, string>();
  const traces = o.traces && sched.traceKey ? new Set<string>() : undefined;
  const max = o.maxExecutions ?? Infinity;
  let executions = 0;
  let finished = true;
  while (sched.newExecution()) {
    if (executions >= max) {
      finished = false;
      break;
    }
    const ex = runExecution(system, sched, o.maxSteps ?? 10_000, false, true);
    if (ex.end.kind === 'abandoned') continue;
    executions++;
    traces?.add(sched.traceKey!());
    const key = endKey(ex.end, ex.endState, ex.tolerated);
    if (!ends.has(key)) ends.set(key, encodeToken(ex.decisions));
  }
  return { ends, executions, finished, complete: finished && sched.complete === true, traces };
}

export interface NonCommuting {
  /** The schedule token of the state where the pair was tried. */
  readonly at: string;
  readonly tasks: readonly [number, number];
  readonly labels: readonly [string, string];
  /** What differed: 'state', 'enabling', or 'end'. */
  readonly what: string;
  readonly detail: string;
}

export interface CommutationResult {
  /** Pairs of independent steps run both ways. */
  readonly pairs: number;
  readonly states: number;
  readonly failures: readonly NonCommuting[];
}

export interface CommutationOptions {
  readonly seed?: number;
  readonly executions?: number;
  /** At most this many states per execution are tried, spread over it (default 200). */
  readonly statesPerExecution?: number;
  readonly maxSteps?: number;
  /** Stop after this many failures (default 5). */
  readonly maxFailures?: number;
}

/**
 * Run `prefix` (decisions that must be takeable), then the lowest enabled task with choice 0 until
 * the end. Returns the fingerprint after the prefix and how the run ended.
 */
function drive(system: System, prefix: readonly Decision[], maxSteps: number): { mid: string; end: string; enabledAfter: boolean[] } | { violationIn: number; end: string } {
  const inst: Instance = system.create();
  const n = inst.nTasks;
  const step = (t: number, choice: number | undefined): string | null => {
    try {
      inst.step(t, choice);
      return null;
    } catch (e) {
      if (!system.isViolation(e)) throw e;
      return `violation ${e.kind}`;
    }
  };
  for (let i = 0; i < prefix.length; i++) {
    const d = prefix[i];
    if (!inst.pending(d.task) || !inst.enabled(d.task)) throw new Error(`oracles: decision ${i} (task ${d.task}) cannot be taken`);
    const v = step(d.task, inst.pending(d.task)!.choices ? (d.choice ?? 0) : undefined);
    if (v) return { violationIn: i, end: v };
  }
  // The state, and what each task will do next: a task that read something it did not declare
  // may differ only in where its own code went.
  const next = Array.from({ length: n }, (_, t) => inst.pending(t)?.label ?? '(finished)').join(' | ');
  const mid = `${inst.fingerprint?.() ?? ''}\nnext: ${next}`;
  const enabledAfter = Array.from({ length: n }, (_, t) => inst.pending(t) !== null && inst.enabled(t));
  for (let depth = prefix.length; ; depth++) {
    let t = -1;
    let unfinished = false;
    for (let i = 0; i < n; i++) {
      if (!inst.pending(i)) continue;
      unfinished = true;
      if (t < 0 && inst.enabled(i)) t = i;
    }
    if (!unfinished) {
      const v = inst.finalCheck();
      return { mid, enabledAfter, end: v ? `violation ${v.kind}` : `finished\n${inst.fingerprint?.() ?? ''}` };
    }
    if (t < 0) return { mid, enabledAfter, end: `deadlock\n${inst.fingerprint?.() ?? ''}` };
    if (depth >= maxSteps) return { mid, enabledAfter, end: 'step-limit' };
    const v = step(t, inst.pending(t)!.choices ? 0 : undefined);
    if (v) return { mid, enabledAfter, end: v };
  }
}

/** The first line where two multi-line states differ, for the report. */
function firstDifference(a: string, b: string): string {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return `'${la[i] ?? '(end)'}' vs '${lb[i] ?? '(end)'}'`;
  return 'no line differs';
}

/**
 * Run the enabled steps of tasks p and q from the state `prefix` reaches, in both orders, then the
 * same continuation; null when both orders agree (see the file comment), else what differed.
 */
export function checkPair(system: System, prefix: readonly Decision[], p: number, q: number, maxSteps = 10_000): NonCommuting | null {
  const probe = system.create();
  for (const dec of prefix) probe.step(dec.task, probe.pending(dec.task)!.choices ? (dec.choice ?? 0) : undefined);
  const sp = probe.pending(p)!;
  const sq = probe.pending(q)!;
  const dp: Decision = sp.choices ? { task: p, choice: 0 } : { task: p };
  const dq: Decision = sq.choices ? { task: q, choice: 0 } : { task: q };
  const ab = drive(system, [...prefix, dp, dq], maxSteps);
  const ba = drive(system, [...prefix, dq, dp], maxSteps);
  const fail = (what: string, detail: string): NonCommuting => ({ at: encodeToken(prefix), tasks: [p, q], labels: [sp.label, sq.label], what, detail });
  if ('violationIn' in ab || 'violationIn' in ba) {
    // A violation inside the pair: both orders must raise the same kind.
    return ab.end === ba.end ? null : fail('end', `${ab.end.split('\n')[0]} vs ${ba.end.split('\n')[0]}`);
  }
  if (ab.mid !== ba.mid) return fail('state', firstDifference(ab.mid, ba.mid));
  if (ab.enabledAfter.join() !== ba.enabledAfter.join()) return fail('enabling', `enabled after ${p},${q}: ${ab.enabledAfter} vs after ${q},${p}: ${ba.enabledAfter}`);
  if (ab.end !== ba.end) return fail('end', firstDifference(ab.end, ba.end));
  return null;
}

/** The footprint task t's next step has when it runs from the state `prefix` reaches. */
function ranAccess(system: System, prefix: readonly Decision[], t: number): Access {
  const inst = system.create();
  for (const dec of prefix) inst.step(dec.task, inst.pending(dec.task)!.choices ? (dec.choice ?? 0) : undefined);
  const info = inst.pending(t)!;
  try {
    inst.step(t, info.choices ? 0 : undefined);
  } catch (e) {
    if (!system.isViolation(e)) throw e;
  }
  return actualAccess(info, inst);
}

/** See the file comment. Executions are random walks (seeded); steps that are choices take value 0. */
export function checkCommutation(system: System, o: CommutationOptions = {}): CommutationResult {
  const rng = new Prng(o.seed ?? 1);
  const maxSteps = o.maxSteps ?? 10_000;
  const perExecution = o.statesPerExecution ?? 200;
  const maxFailures = o.maxFailures ?? 5;
  const failures: NonCommuting[] = [];
  let pairs = 0;
  let states = 0;
  for (let e = 0; e < (o.executions ?? 1) && failures.length < maxFailures; e++) {
    // One random execution, remembering what could run at each state.
    const inst = system.create();
    const n = inst.nTasks;
    const path: { decision: Decision; ready: number[] }[] = [];
    for (let depth = 0; depth < maxSteps; depth++) {
      const ready: number[] = [];
      for (let t = 0; t < n; t++) if (inst.pending(t) && inst.enabled(t)) ready.push(t);
      if (!ready.length) break;
      const t = ready[rng.below(ready.length)];
      const choice = inst.pending(t)!.choices ? 0 : undefined;
      path.push({ decision: choice === undefined ? { task: t } : { task: t, choice }, ready });
      try {
        inst.step(t, choice);
      } catch (err) {
        if (!system.isViolation(err)) throw err;
        break;
      }
    }
    const stride = Math.max(1, Math.ceil(path.length / perExecution));
    for (let d = rng.below(stride); d < path.length && failures.length < maxFailures; d += stride) {
      const prefix = path.slice(0, d).map((p) => p.decision);
      const probe = system.create();
      for (const dec of prefix) probe.step(dec.task, probe.pending(dec.task)!.choices ? (dec.choice ?? 0) : undefined);
      states++;
      const ready = path[d].ready;
      for (let i = 0; i < ready.length; i++) {
        for (let j = i + 1; j < ready.length; j++) {
          const [p, q] = [ready[i], ready[j]];
          const sp = probe.pending(p)!;
          const sq = probe.pending(q)!;
          if (dependent(sp, sq)) continue;
          // What each step really touches once it runs (declared and recorded) decides.
          if (dependent(ranAccess(system, prefix, p), ranAccess(system, prefix, q))) continue;
          pairs++;
          const f = checkPair(system, prefix, p, q, maxSteps);
          if (f) failures.push(f);
        }
      }
    }
  }
  return { pairs, states, failures };
}

