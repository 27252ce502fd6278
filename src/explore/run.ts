/**
 * One execution: a fresh instance driven step by step by a scheduler. The explorer detects the two
 * failures no system can see from inside, deadlock and livelock; everything else is the system's.
 */
import type { Decision, Scheduler, SchedulerView, StepInfo, System, TraceStep, Violation } from './types.js';

export type ExecutionEnd =
  | { readonly kind: 'finished' }
  | { readonly kind: 'violation'; readonly violation: Violation }
  /** The scheduler gave up on it (sleep set, preemption bound): neither clean nor failing. */
  | { readonly kind: 'abandoned' };

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
}

export function runExecution(system: System, sched: Scheduler, maxSteps: number, withTrace = false): Execution {
  const inst = system.create();
  const n = inst.nTasks;
  const decisions: Decision[] = [];
  const trace: TraceStep[] = [];
  const pending: (StepInfo | null)[] = new Array<StepInfo | null>(n).fill(null);
  const enabled: boolean[] = new Array<boolean>(n).fill(false);
  let last = -1;
  const preemptedAt: number[] = [];
  const initial = withTrace ? inst.snapshot?.() : undefined;
  const done = (end: ExecutionEnd): Execution => ({ nTasks: n, decisions, end, preemptedAt, trace: withTrace ? trace : undefined, initial });

  for (let depth = 0; ; depth++) {
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
      return done({ kind: 'violation', violation: { kind: 'livelock', message: `tasks still running after ${maxSteps} steps: ${running.join(', ')}` } });
    }
    const view: SchedulerView = { depth, pending, enabled, last };
    const t = sched.nextTask(view);
    if (nEnabled === 0) {
      // Asked anyway so that DPOR sees what waits on what; the answer cannot matter.
      const waits = pending.flatMap((p, i) => (p ? [i] : []));
      if (withTrace) {
        const snapshot = inst.snapshot?.(true);
        for (const i of waits) trace.push({ task: i, label: `${pending[i]!.label} (waits forever)`, preemption: false, violating: true, snapshot });
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
    try {
      inst.step(t, choice);
    } catch (e) {
      if (!system.isViolation(e)) throw e;
      if (withTrace) trace.push({ task: t, label: info.label, choice, preemption, violating: true, snapshot: inst.snapshot?.(true) });
      return done({ kind: 'violation', violation: { kind: e.kind, message: e.message } });
    }
    if (withTrace) trace.push({ task: t, label: info.label, choice, preemption, state: inst.describe?.(), snapshot: inst.snapshot?.() });
  }
}
