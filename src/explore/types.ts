/**
 * The explorer's view of a concurrent system, and of a schedule. Nothing here knows what the system
 * is: a system is tasks that each take one `StepInfo` at a time, and the only
 * things the explorer reads are which objects a step touches, whether it can run, and whether it
 * ended in a violation.
 *
 * Contract a system must keep, or the reduction in dfs.ts becomes unsound:
 * - Determinism: the same decisions from `create()` give the same steps and the same states.
 * - Honest dependencies: two steps of which neither writes an object the other reads or writes
 *   commute, and neither can enable or disable the other. So a blocking step (a lock acquire) must
 *   write the object it waits on, and `enabled(i)` may depend only on the state of the objects of
 *   task i's pending step. Anything that cannot say what it touches is `global`.
 *   src/explore/oracles.ts checks this on a real system.
 * - Waiting is a disabled step, never a spin loop: an execution that runs past the step limit
 *   stops unjudged, and the search that met it gives no verdict (run.ts, explore.ts).
 */

/**
 * A step a task is about to take, as the explorer needs to know it. Treat as immutable; a system
 * should hand out the same object while the task has not moved (the explorer asks often).
 * Objects are numbers the system chooses (an entry, a lock word, a CPU's TLB...), the same number
 * for the same object in every execution.
 */
export interface StepInfo {
  /** Objects the step only reads. */
  readonly reads: readonly number[];
  /** Objects the step writes (and may read). Two steps commute unless one writes what the other touches. */
  readonly writes: readonly number[];
  /** Conservatively dependent with every other step (RCU grace periods, IPIs, TLB flushes...). */
  readonly global?: boolean;
  /** A nondeterministic choice among this many values, answered by the scheduler. */
  readonly choices?: number;
  /** One line for traces: 'lock ptl', 'st pte 3'. */
  readonly label: string;
}

/** A finding of the system under test (a race, a use-after-free...), or one the explorer makes. */
export interface Finding {
  readonly kind: string;
  readonly message: string;
  /**
   * When set, what else a variant must share to be the same finding (minimize.ts): an anomaly's
   * kind says only "unexplained outcome", and a shorter schedule may fail with another outcome.
   */
  readonly identity?: string;
}

/** One execution's worth of system state. */
export interface Instance {
  readonly nTasks: number;
  /** The step task i will take next, or null when the task finished. */
  pending(i: number): StepInfo | null;
  /** Whether task i's pending step can run now (lock free, IPI targets have IRQs on...). */
  enabled(i: number): boolean;
  /**
   * Run task i's pending step, with the chosen value when the step is a choice. May throw a
   * violation (recognised by `System.isViolation`): a finding that ends the execution, not an error.
   * Anything else thrown is a bug and propagates.
   */
  step(i: number, choice?: number): void;
  /**
   * What the step just taken touched beyond what its StepInfo declared (the system saw it happen),
   * or null; optional. The explorer uses the union: an event's dependencies are what it did.
   */
  lastAccess?(): { readonly reads: readonly number[]; readonly writes: readonly number[] } | null;
  /** The explorer is done with this instance (it may recycle its state); optional. */
  dispose?(): void;
  /** Checks once every task finished: a violation, or null. */
  finalCheck(): Finding | null;
  /**
   * Findings the system reports without failing (an architecture that tolerates what another
   * forbids), seen so far in this execution; optional. The explorer counts them and keeps a token.
   */
  tolerated?(): readonly Finding[];
  /** The system state in one line, shown beside each trace step (optional). */
  describe?(): string;
  /**
   * The state up to what no check can tell apart (renamings of objects the system hands out), as
   * one string; optional. The explorer's self-checks (oracles.ts) compare end states by it.
   */
  fingerprint?(): string;
  /**
   * The whole state as a JSON value, for viewers (the web view's race view); optional. Taken
   * after each step of a trace, and once before the first. May return undefined for a step (a
   * system that bounds what its snapshots of one trace hold; the view then shows the last one);
   * `last` is the trace's violating step, which should always have one.
   */
  snapshot?(last?: boolean): unknown;
  /**
   * Where task i's pending step is in the system's code (for a kernel model: the kernel function
   * and the source line), when the instance was created with `where`; optional.
   */
  where?(i: number): { readonly fn: string; readonly loc: string } | undefined;
}

/** How the explorer wants an instance: `where` when it records a trace that names functions. */
export interface CreateOptions {
  readonly where?: boolean;
}

export interface System {
  readonly name: string;
  /** A fresh initial state. Called once per execution: the explorer is stateless and re-executes. */
  create(o?: CreateOptions): Instance;
  isViolation(e: unknown): e is Finding;
  /** Column headers for traces, e.g. 'CPU0: zap' (default 'task i'). */
  taskNames?: readonly string[];
}

/** One schedule decision: which task stepped, and the value when its step was a choice. */
export interface Decision {
  readonly task: number;
  readonly choice?: number;
}

/** One executed step, for reports and `formatTrace`. */
export interface TraceStep {
  readonly task: number;
  readonly label: string;
  readonly choice?: number;
  /** The scheduler switched away from a task that could have continued. */
  readonly preemption: boolean;
  /** This step raised the violation (or, for a deadlock, is a step that waits forever). */
  readonly violating?: boolean;
  /** `Instance.describe()` after the step, when the system provides it. */
  readonly state?: string;
  /** `Instance.snapshot()` after the step (for the violating step: as the step left it). */
  readonly snapshot?: unknown;
  /** `Instance.where()` of the step: the function of the system it runs in, and its source line. */
  readonly fn?: string;
  readonly loc?: string;
}

/**
 * What a scheduler sees before each step. Arrays are indexed by task, and reused from step to step:
 * copy what you keep.
 */
export interface SchedulerView {
  /** Steps taken so far in this execution. */
  readonly depth: number;
  readonly pending: readonly (StepInfo | null)[];
  readonly enabled: readonly boolean[];
  /** The task that took the previous step, or -1 at the start. */
  readonly last: number;
}

/**
 * A search strategy (shuttle's three methods). The explorer calls `newExecution` before each
 * execution, then `nextTask` before each step and `nextChoice` when the chosen step is a choice.
 * `nextTask` is also called when some task is unfinished but none is enabled (a deadlock), so that
 * DPOR can see which steps wait; it must return null then. Returning null while tasks are enabled
 * abandons the execution (a sleep-set or bound cut: the schedule is covered elsewhere or not wanted).
 */
export interface Scheduler {
  /** False when the strategy has nothing left to run. */
  newExecution(): boolean;
  nextTask(view: SchedulerView): number | null;
  nextChoice(n: number, view: SchedulerView): number;
  /**
   * The decision at `depth` when it is one the scheduler took before (DFS re-running a prefix), or
   * null: then the explorer looks only at that task and calls `checkReplayed` instead of
   * `nextTask`. Optional, for speed.
   */
  replaying?(depth: number): Decision | null;
  /** Throw if the replayed step is not the one taken before (with `replaying`). */
  checkReplayed?(depth: number, task: number, info: StepInfo | null, enabled: boolean): void;
  /**
   * The step chosen at `depth` ran (or raised a violation) and touched `access`: the declared
   * footprint with whatever the system recorded while it ran. Optional (DPOR needs it).
   */
  stepped?(depth: number, task: number, access: Pick<StepInfo, 'reads' | 'writes' | 'global'>): void;
  /** The Mazurkiewicz trace of the execution just run, as a key (DPOR schedulers; self-checks only). */
  traceKey?(): string;
  /** Whether every execution was covered (exhaustive strategies only). */
  readonly complete?: boolean;
  /**
   * What a run that ended without a violation established: every schedule ('complete'), every
   * schedule within a preemption bound ('bounded'), or nothing beyond the executions it ran
   * ('sampled', random and PCT). Read once `newExecution()` returned false.
   */
  readonly coverage: Coverage;
}

export type Coverage = 'complete' | 'bounded' | 'sampled' | 'replayed';
