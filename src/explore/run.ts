/**
 * One execution: a fresh instance driven step by step by a scheduler. The explorer detects the
 * failure no system can see from inside, deadlock, and stops an execution at its step limit;
 * everything else is the system's.
 */
import type { Decision, Instance, Scheduler, SchedulerView, StepInfo, System, TraceStep, Finding } from './types.js';

export type ExecutionEnd =
  | { readonly kind: 'finished' }
  | { readonly kind: 'violation'; readonly violation: Finding }
  /** The scheduler gave up on it (sleep set, preemption bound): neither clean nor failing. */
  | { readonly kind: 'abandoned' }
  /**
   * It ran past the step limit with tasks still running: it may spin forever or only be longer
   * than the limit (a 512-page collapse across two processes takes 12,367 steps), which the limit
   * cannot tell apart. Not judged: a search that meets one has no verdict (explore.ts).
   */
  | { readonly kind: 'step-limit'; readonly message: string };

export interface Execution {
  readonly nTasks: number;
  readonly decisions: readonly Decision[];
  readonly end: ExecutionEnd;
  /** Steps at which the scheduler switched away from a task that could have continued. */
  readonly preemptedAt: readonly number[];
  /** Only when asked for: traces cost a row per step and a `describe()` and `snapshot()` call each. */
  readonly trace?: readonly TraceStep[];
  /** `Instance.snapshot()` before the first step, with the trace. */
  readonly initial?: unknown;
  /** `Instance.fingerprint()` where the execution ended (finished, failed or deadlocked), when asked. */
  readonly endState?: string;
  /** `Instance.tolerated()` where the execution ended, when it ran to its end and saw any. */
  readonly tolerated?: readonly Finding[];
}

/** The step limit of an execution unless a caller sets `maxSteps` (explore.ts). */
export const DEFAULT_MAX_STEPS = 10_000;

export function runExecution(system: System, sched: Scheduler, maxSteps: number, withTrace = false, withEndState = false): Execution {
  const inst = system.create(withTrace ? { where: true } : undefined);
  try {
    return run(inst, system, sched, maxSteps, withTrace, withEndState);
  } finally {
    inst.dispose?.();
  }
}

function run(inst: Instance, system: System, sched: Scheduler, maxSteps: number, withTrace: boolean, withEndState: boolean): Execution {
  const n = inst.nTasks;
  const decisions: Decision[] = [];
  const trace: TraceStep[] = [];
  const pending: (StepInfo | null)[] = new Array<StepInfo | null>(n).fill(null);
  const enabled: boolean[] = new Array<boolean>(n).fill(false);
  let last = -1;
  const preemptedAt: number[] = [];
  const initial = withTrace ? inst.snapshot?.() : undefined;
  const done = (end: ExecutionEnd): Execution => ({
    nTasks: n,
    decisions,
    end,
    preemptedAt,
    trace: withTrace ? trace : undefined,
    initial,
    endState: withEndState && end.kind !== 'abandoned' ? (inst.fingerprint?.() ?? '') : undefined,
    tolerated: end.kind !== 'abandoned' ? nonEmpty(inst.tolerated?.()) : undefined,
  });

  for (let depth = 0; ; depth++) {
    // A step the scheduler already took in an earlier execution (a replayed prefix): only that
    // task is looked at, and the scheduler checks it is the same step.
    const again = sched.replaying?.(depth);
    if (again) {
      const t = again.task;
      const info = inst.pending(t);
      const en = info !== null && inst.enabled(t);
      sched.checkReplayed!(depth, t, info, en);
      const preemption = last >= 0 && t !== last && inst.pending(last) !== null && inst.enabled(last);
      if (preemption) preemptedAt.push(depth);
      decisions.push(again);
      last = t;
      const where = withTrace ? inst.where?.(t) : undefined;
      try {
        inst.step(t, again.choice);
      } catch (e) {
        if (!system.isViolation(e)) throw e;
        sched.stepped?.(depth, t, actualAccess(info!, inst));
        if (withTrace) trace.push({ task: t, label: info!.label, choice: again.choice, preemption, violating: true, snapshot: inst.snapshot?.(), ...where });
        return done({ kind: 'violation', violation: { kind: e.kind, message: e.message } });
      }
      sched.stepped?.(depth, t, actualAccess(info!, inst));
      if (withTrace) trace.push({ task: t, label: info!.label, choice: again.choice, preemption, state: inst.describe?.(), snapshot: inst.snapshot?.(), ...where });
      continue;
    }
    let unfinished = 0;
    let nEnabled = 0;
    for (let i = 0; i < n; i++) {
      const p = inst.pending(i);
      pending[i] = p;
      enabled[i] = p !== null && inst.enabled(i);
      if (p) unfinished++;
      if (enabled[i]) nEnabled++;
    }
    if (unfinished === 0) {
      const v = inst.finalCheck();
      return done(v ? { kind: 'violation', violation: v } : { kind: 'finished' });
    }
    if (depth >= maxSteps) {
      const running = pending.flatMap((p, i) => (p ? [`${i} at '${p.label}'`] : []));
      return done({ kind: 'step-limit', message: `tasks still running after ${maxSteps} steps: ${running.join(', ')}` });
    }
    const view: SchedulerView = { depth, pending, enabled, last };
    const t = sched.nextTask(view);
    if (nEnabled === 0) {
      // Asked anyway so that DPOR sees what waits on what; the answer cannot matter.
      const waits = pending.flatMap((p, i) => (p ? [i] : []));
      if (withTrace) {
        const snapshot = inst.snapshot?.(true);
        for (const i of waits) trace.push({ task: i, label: `${pending[i]!.label} (waits forever)`, preemption: false, violating: true, snapshot, ...inst.where?.(i) });
      }
      const message = `no task can run; waiting: ${waits.map((i) => `${i} at '${pending[i]!.label}'`).join(', ')}`;
      return done({ kind: 'violation', violation: { kind: 'deadlock', message } });
    }
    if (t === null) return done({ kind: 'abandoned' });
    if (!enabled[t]) throw new Error(`scheduler chose task ${t}, which cannot run at depth ${depth}`);
    const info = pending[t]!;
    const choice = info.choices ? sched.nextChoice(info.choices, view) : undefined;
    const preemption = last >= 0 && t !== last && enabled[last];
    if (preemption) preemptedAt.push(depth);
    decisions.push(choice === undefined ? { task: t } : { task: t, choice });
    last = t;
    const where = withTrace ? inst.where?.(t) : undefined;
    try {
      inst.step(t, choice);
    } catch (e) {
      if (!system.isViolation(e)) throw e;
      sched.stepped?.(depth, t, actualAccess(info, inst));
      if (withTrace) trace.push({ task: t, label: info.label, choice, preemption, violating: true, snapshot: inst.snapshot?.(true), ...where });
      return done({ kind: 'violation', violation: { kind: e.kind, message: e.message } });
    }
    sched.stepped?.(depth, t, actualAccess(info, inst));
    if (withTrace) trace.push({ task: t, label: info.label, choice, preemption, state: inst.describe?.(), snapshot: inst.snapshot?.(), ...where });
  }
}

/** A step's footprint as it ran: what it declared, and what the system saw it touch beyond that. */
export function actualAccess(info: StepInfo, inst: Instance): Pick<StepInfo, 'reads' | 'writes' | 'global'> {
  const extra = inst.lastAccess?.();
  if (!extra || (extra.reads.length === 0 && extra.writes.length === 0)) return info;
  return { reads: union(info.reads, extra.reads), writes: union(info.writes, extra.writes), global: info.global };
}

function union(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a as number[];
  const out = a.slice();
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

function nonEmpty<T>(a: readonly T[] | undefined): readonly T[] | undefined {
  return a && a.length ? a.slice() : undefined;
}
