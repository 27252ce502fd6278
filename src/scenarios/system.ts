/**
 * A scenario as a system for the explorer (src/explore/types.ts): a fresh modelled kernel per
 * execution (the setup script run alone), one task per CPU stepping the generator build of the
 * model's own kernel paths, and an RCU task that ends grace periods once they can end. Steps are
 * the primitives' yields (src/mm/primitives.ts), described to the explorer by `stepInfo`.
 */
import * as genApi from '../mm/api.js';
import { ModelBug, Violation as MmViolation } from '../mm/bug.js';
import type { ConfigInput, GuardName } from '../mm/config.js';
import { setCurrent } from '../mm/current.js';
import type { Kernel, MmStruct } from '../mm/mm_types.js';
import { stepEnabled, type KGen, type Step } from '../mm/primitives.js';
import { rcuAdvance, rcuCallbackReady } from '../mm/rcu.js';
import { stackWhere, type StepWhere } from '../mm/where.js';
import { runScript, type ModelApi } from '../script/exec.js';
import type { Instance, StepInfo, System, Finding } from '../explore/types.js';
import type { Scenario } from './format.js';
import { runTask } from './tasks.js';
import { footprint, gracePeriodFootprint, objectName, type Footprint } from './footprint.js';
import { kernelSnapshot, lockName } from '../view/snapshot.js';
import { canonicalState } from './state.js';
import { ForkError, Restorer } from './fork.js';
import { observe, privateTables, undeclaredReads, undeclaredWrites, watchTlbReads } from './footprint_check.js';
import { AccessCheck } from './access_check.js';
import { explain, forEachChoiceVector, MAX_SEQUENTIAL_RUNS, needsCompleteSet, observationPlan, observeOutcome, pageGranular, sequentialOrders, type ExplainOptions, type ObservationPlan, type Outcome, type SequentialOutcomes, type SequentialRun } from './explain.js';

const GEN_API: ModelApi = genApi;

/** Page tables the snapshots of one explorer trace may describe in all (docs/limits.md). */
export const MAX_TRACE_SNAPSHOT_TABLES = 100_000;

/** A finding of the modelled kernel (its sanitizers, the end checks, sequential explainability), thrown out of a step or returned by the checks. */
export class KernelFinding implements Finding {
  constructor(
    readonly kind: string,
    readonly message: string,
    readonly identity?: string,
  ) {}
}

interface CpuTask {
  cpu: number;
  /** The explorer's view of `pending`, kept while the task does not move if it cannot change. */
  info: ModelStepInfo | null;
  /** Kernel paths still to run on this CPU, in order; the first is running. */
  queue: KGen<number>[];
  /** Where each path's result goes in `results` (the scenario's task order). */
  slots: number[];
  pending: Step | null;
  name: string;
}

/** Run fn; a sanitizer finding of the model becomes the explorer's KernelFinding. */
function findings<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof MmViolation) throw new KernelFinding(e.kind, e.message.replace(`${e.kind}: `, ''));
    throw e;
  }
}

/** Ops whose footprint depends only on the step itself, not on the kernel state: computed once. */
const STATIC_FOOTPRINT: ReadonlySet<Step['op']> = new Set<Step['op']>(['ld', 'scan', 'lock', 'trylock', 'unlock', 'rlock', 'wlock', 'rtrylock', 'runlock', 'wunlock', 'wdowngrade', 'flock', 'ftrylock', 'funlock', 'fwait', 'fref', 'rcu+', 'rcu-', 'irq-', 'irq+', 'sleep', 'choice', 'ipi-sync', 'ptlock-free', 'deposit', 'mt-walk', 'mt-store', 'seq', 'seq-end', 'vma-get', 'detach']);

/** The RCU task with nothing queued: it waits for a call_rcu(), reading the queue. */
const RCU_IDLE: StepInfo = Object.freeze({ ...gracePeriodFootprint(null), label: 'waits for call_rcu()' });

/** A model step as the explorer sees it: its footprint (footprint.ts), and a label made only when read. */
class ModelStepInfo implements StepInfo {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  readonly global?: boolean;
  readonly choices?: number;
  private text?: string;
  constructor(
    private readonly step: Step,
    private readonly k: Kernel,
    fp: Footprint,
    choices: boolean,
  ) {
    this.reads = fp.reads;
    this.writes = fp.writes;
    if (fp.global) this.global = true;
    if (choices) this.choices = 2;
  }
  get label(): string {
    return (this.text ??= describeStep(this.step, this.k));
  }
}

/**
 * Steps one task may take alone, in a sequential run, before it counts as a livelock: alone, only
 * its own loop can keep it running; a 512-page collapse across processes takes 12,367 steps.
 */
const ALONE_MAX_STEPS = 100_000;

const LEVEL_NAMES: readonly string[] = ['', 'pte', 'pmd', 'pud', 'pgd'];

/** An entry pointer as `pmd[3]@T2` (entry 3 of table 2, a PMD table). */
function entryName(k: Kernel, ptr: number): string {
  const tid = Math.floor(ptr / 512);
  return `${LEVEL_NAMES[k.pt.level[tid]] ?? '?'}[${ptr % 512}]@T${tid}`;
}

export function describeStep(s: Step, k: Kernel): string {
  switch (s.op) {
    case 'mt-walk':
      return 'mas_walk (VMA tree, RCU)';
    case 'mt-store':
      return 'VMA tree store';
    case 'seq':
      return `ld vm_lock_seq (VMA ${s.vma.name})`;
    case 'seq-end':
      return 'vma_end_write_all';
    case 'vma-get':
      return `vm_refcnt get (VMA ${s.vma.name})`;
    case 'detach':
      return `vma_mark_detached (VMA ${s.vma.name})`;
    case 'wdowngrade':
      return 'downgrade rwsem';
    case 'walk':
      return 'hardware access (TLB, walk)';
    case 'flush':
      return 'TLB flush IPI';
    case 'ipi-sync':
      return 'tlb_remove_table_sync_one IPI';
    case 'sleep':
      return 'cond_resched';
    case 'call-rcu':
      return 'call_rcu';
    case 'ptlock-free':
      return `ptlock_free(T${s.tid})`;
    case 'deposit':
      return `deposit T${s.tid}`;
    case 'fref':
      return `folio_ref_try_add(folio ${s.pfn})`;
  }
  if ('ptr' in s) return `${s.op} ${entryName(k, s.ptr)}`;
  if ('lock' in s) return `${s.op} ${lockName(k, s.lock)}`;
  if ('pfn' in s) return `${s.op} folio ${s.pfn}`;
  if ('what' in s) return s.what;
  if ('sem' in s) return `${s.op} rwsem`;
  return s.op;
}

/**
 * The kernel a scenario's setup leaves, run once: every execution starts from a copy of it
 * (fork.ts), and each task's process from the copy of its mm.
 */
interface Template {
  readonly k: Kernel;
  /** Copies of k no execution uses any more, to be put back in place and reused. */
  readonly free: Restorer<Kernel>[];
  readonly processes: ReadonlyMap<string, MmStruct>;
  readonly maps: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Sequential explainability (explain.ts): what the outcome reads, and the orders' outcomes, made on first use. */
  plan?: ObservationPlan;
  sequential?: SequentialOutcomes;
}

function setUp(scn: Scenario, guardsOff: readonly GuardName[], settings: Readonly<Record<string, string>> = {}): Template {
  const overrides: Record<string, string> = { ...settings };
  if (guardsOff.length) overrides.guard_off = guardsOff.join('+');
  const setup = runScript(scn.setup, { api: GEN_API, overrides });
  if (setup.exitCode !== 0) {
    const errs = setup.lines.filter((l) => l.type === 'error').map((l) => ('message' in l ? l.message : ''));
    throw new Error(`${scn.file}: scenario setup failed: ${errs.join('; ')}`);
  }
  const k = setup.kernel;
  if (k.rcu.pending.length) throw new ForkError(`${scn.file}: the setup left RCU callbacks queued`);
  k.checkTreeWrites = true;
  for (const t of scn.tasks) setup.processes.get(t.process)!.cpumask |= 1 << t.cpu;
  // Each CPU that runs a path of a process runs one of its threads: mm_users (task_numa_work()'s
  // single-threaded test reads it).
  for (const mm of setup.processes.values()) mm.users = Math.max(1, new Set(scn.tasks.filter((t) => setup.processes.get(t.process) === mm).map((t) => t.cpu)).size);
  return { k, free: [], processes: setup.processes, maps: setup.maps };
}

class ModelInstance implements Instance {
  readonly k: Kernel;
  readonly tasks: CpuTask[] = [];
  /** Each kernel path's return value once it finished, in the scenario's task order. */
  readonly results: (number | undefined)[] = [];
  /** Units each task finished (explain.ts, taskUnits()): a sequential run stops a touch between pages. */
  private readonly unitsDone: number[] = [];

  private readonly copy: Restorer<Kernel>;
  /** With checkFootprints: the race check of real accesses against the footprints (access_check.ts). */
  private readonly accesses: AccessCheck | null;
  private disposed = false;
  /** Anomalies the allow-list accepted, or outcomes a capped set could not explain, in this execution (reported through `tolerated()`). */
  private allowed: KernelFinding[] | null = null;

  constructor(
    private readonly scn: Scenario,
    private readonly template: Template,
    private readonly checkFootprints: boolean | 'accesses' = false,
    /** Whether trace steps get snapshots (only a JSON document shows them). */
    private readonly snapshots = true,
    /** Compare the end with the sequential orders' outcomes (explain.ts); undefined: no such check. */
    private readonly explainWith?: ExplainOptions,
    /** Keep each step's stack, so that `where()` names its kernel function (a recorded trace). */
    whereOn = false,
    /**
     * A sequential run of explain.ts (runSequentially()): answers its choice points, from the start,
     * since each task runs to its first step here. A read fault may map its neighbours or not, a
     * trylock of the mmap_lock by the NUMA scan or the MGLRU walk may fail (primitives.ts
     * faultAroundSkipped(), trylockContendedElsewhere()).
     */
    private readonly choose?: (n: number) => number,
  ) {
    const reused = template.free.pop();
    this.copy = reused ?? new Restorer(template.k);
    this.k = reused ? reused.restore() : this.copy.copy;
    this.k.stepStacks = whereOn ? [] : null;
    this.k.explainChoice = choose ? () => choose(2) === 1 : null;
    for (const [slot, t] of scn.tasks.entries()) {
      this.results.push(undefined);
      const mm = this.copy.of(template.processes.get(t.process)!);
      const maps = template.maps.get(t.process)!;
      this.unitsDone.push(0);
      const gen = runTask(mm, maps, t.spec, () => this.unitsDone[slot]++);
      const name = `${t.spec.kind}${'advice' in t.spec ? ' ' + t.spec.advice : ''}`;
      const existing = this.tasks.find((x) => x.cpu === t.cpu);
      if (existing) {
        existing.queue.push(gen);
        existing.slots.push(slot);
        existing.name += `; ${name}`;
      } else {
        this.tasks.push({ cpu: t.cpu, queue: [gen], slots: [slot], pending: null, info: null, name });
      }
    }
    this.tasks.sort((a, b) => a.cpu - b.cpu);
    this.accesses = checkFootprints ? new AccessCheck(this.k, this.nTasks) : null;
    for (const t of this.tasks) this.start(t);
  }

  /**
   * Run task t to its first step. What it does before that runs here, before every step of every
   * task, in no step the search can reorder: so it may read the kernel (the task starts where
   * setup left it) but never write it, or the search would miss the orders in which another task
   * runs first (a task's later tasks on its CPU start inside a step, and are not held to this).
   */
  private start(t: CpuTask): void {
    const rec = this.k.rec;
    rec.start();
    this.accesses?.begin();
    try {
      this.advance(t, undefined);
    } finally {
      rec.stop();
      this.accesses?.endStart(this.tasks.indexOf(t), t.name);
    }
    if (rec.writes.length) {
      throw new ModelBug(`task '${t.name}' on CPU ${t.cpu} writes the kernel before its first step (${rec.writes.map(objectName).join(', ')}): give it a scheduling point first`);
    }
  }

  /** Resume task t with `v` (the answer to its pending step) until its next yield or its end. */
  private advance(t: CpuTask, v: unknown): void {
    setCurrent(this.k, t.cpu);
    this.k.treeWriter = null; // a VMA tree change is allowed only in the step right after a store
    t.info = null;
    findings(() => {
      while (t.queue.length) {
        const r = t.queue[0].next(v);
        if (!r.done) {
          t.pending = r.value;
          return;
        }
        this.results[t.slots[0]] = r.value;
        t.queue.shift();
        t.slots.shift();
        v = undefined;
      }
      t.pending = null;
    });
  }

  get nTasks(): number {
    return this.tasks.length + 1;
  }
  private get rcuIdx(): number {
    return this.tasks.length;
  }

  pending(i: number): StepInfo | null {
    if (i === this.rcuIdx) {
      if (!this.k.rcu.pending.length) return this.tasks.every((t) => t.pending === null) ? null : RCU_IDLE;
      const fp = gracePeriodFootprint(this.k);
      return { reads: fp.reads, writes: fp.writes, label: 'grace period ends, callbacks run' };
    }
    const t = this.tasks[i];
    if (!t.pending) return null;
    if (t.info) return t.info;
    const p = t.pending;
    const info = new ModelStepInfo(p, this.k, footprint(p, this.k.cpus[t.cpu], this.k), this.branches(p));
    if (STATIC_FOOTPRINT.has(p.op)) t.info = info;
    return info;
  }

  enabled(i: number): boolean {
    if (i === this.rcuIdx) return this.k.rcu.pending.some((cb) => rcuCallbackReady(cb, this.k.cpus));
    const t = this.tasks[i];
    if (!t.pending) return false;
    setCurrent(this.k, t.cpu);
    return stepEnabled(t.pending);
  }

  step(i: number, choice?: number): void {
    if (!this.checkFootprints) return this.run(i, choice);
    const declared = this.pending(i)!;
    if (this.checkFootprints === 'accesses') return this.runChecked(i, choice, declared);
    const before = observe(this.k);
    const mine = privateTables(this.k);
    const tlbs = watchTlbReads(this.k);
    let read: number[];
    try {
      this.runChecked(i, choice, declared);
    } finally {
      read = tlbs.stop();
    }
    const rec = this.k.rec;
    if (declared.global) return;
    const bad = undeclaredWrites(mine, before, observe(this.k), [...declared.writes, ...rec.writes]);
    if (bad.length) throw new ModelBug(`step '${declared.label}' of task ${i} wrote what its footprint does not declare: ${bad.join(', ')}`);
    const unread = undeclaredReads(read, [...declared.reads, ...declared.writes, ...rec.reads, ...rec.writes]);
    if (unread.length) throw new ModelBug(`step '${declared.label}' of task ${i} read what its footprint does not declare: ${unread.join(', ')}`);
  }

  /** Run step i under the race check of its real accesses (access_check.ts). */
  private runChecked(i: number, choice: number | undefined, declared: StepInfo): void {
    const check = this.accesses!;
    check.begin();
    try {
      this.run(i, choice);
    } catch (e) {
      check.abort();
      throw e;
    }
    const rec = this.k.rec;
    check.endStep(i, { reads: [...declared.reads, ...rec.reads], writes: [...declared.writes, ...rec.writes], global: declared.global }, declared.label);
  }

  /** What the last step touched beyond its footprint, as model code recorded it (src/mm/objects.ts). */
  lastAccess(): { reads: readonly number[]; writes: readonly number[] } {
    return this.k.rec;
  }

  private run(i: number, choice?: number): void {
    this.k.rec.start();
    try {
      this.runStep(i, choice);
    } finally {
      this.k.rec.stop();
    }
  }

  private runStep(i: number, choice?: number): void {
    if (i === this.rcuIdx) {
      setCurrent(this.k, 0);
      findings(() => rcuAdvance(this.k.rcu, this.k.cpus));
      return;
    }
    const t = this.tasks[i];
    const p = t.pending;
    const v = p && this.branches(p) ? choice === 1 : undefined;
    this.advance(t, v);
  }

  /** A choice the scenario asks the explorer to branch on (`choices ...`), unless it is no choice (`fresh`). */
  private branches(p: Step): boolean {
    return p.op === 'choice' && this.scn.choices.includes(p.what) && !p.fresh;
  }

  /**
   * What the configured architecture tolerated in this execution (x86's TLB conflicts), and the
   * anomalies the allow-list accepted (kind `allowed-anomaly@LINE`).
   */
  tolerated(): readonly Finding[] {
    return this.allowed ? [...this.k.tolerated, ...this.allowed] : this.k.tolerated;
  }

  /**
   * After every task finished: let grace periods end, then check the model's invariants; with
   * `explain`, then compare the outcome with the sequential orders' (explain.ts).
   */
  finalCheck(): Finding | null {
    const bad = this.endCheck();
    if (bad || !this.explainWith) return bad;
    const plan = (this.template.plan ??= observationPlan(this.scn, this.template.maps));
    const got = this.outcome(plan);
    let seq = (this.template.sequential ??= sequentialOutcomes(this.scn, this.template, plan, false));
    if (needsCompleteSet(seq, got.key)) seq = this.template.sequential = sequentialOutcomes(this.scn, this.template, plan, true);
    setCurrent(this.k, 0);
    const v = explain(this.scn, seq, got, this.explainWith.allow);
    if (v.verdict === 'explained') return null;
    // An anomaly is this outcome: minimizing must not trade it for another unexplained one.
    if (v.verdict === 'anomaly' && !seq.capped && !seq.coarse) return new KernelFinding('anomaly', v.message, got.key);
    const why = seq.capped ? `among the first ${seq.runs} sequential runs only` : 'whole-task orders only: page by page there are too many';
    const f = v.verdict === 'anomaly' ? new KernelFinding('unexplained', `${v.message} (${why}: not called an anomaly)`) : new KernelFinding(`allowed-anomaly@${v.entry.line}`, v.message);
    (this.allowed ??= []).push(f);
    return null;
  }

  /** Grace periods end, then the model's invariants: a finding, or null. */
  private endCheck(): KernelFinding | null {
    setCurrent(this.k, 0);
    try {
      findings(() => rcuAdvance(this.k.rcu, this.k.cpus));
    } catch (e) {
      if (e instanceof KernelFinding) return e;
      throw e;
    }
    const bad = genApi.checkInvariants(this.k);
    if (!bad.length) return null;
    const b = bad[0];
    const kind =
      b.invariant === 'mapcounts' ? 'lost-pte' : b.invariant === 'no-freed-reachable' ? 'pt-use-after-free' : b.invariant === 'tlb-no-freed' ? 'stale-tlb' : b.invariant === 'table-states' || b.invariant === 'quiescent' || b.invariant === 'driver-refs' ? 'leak' : 'counter-imbalance';
    return new KernelFinding(kind, `[${b.invariant}] ${b.message}`);
  }

  /** The observable outcome of this execution (explain.ts), once every task finished. */
  outcome(plan: ObservationPlan): Outcome {
    setCurrent(this.k, 0);
    return observeOutcome(GEN_API, plan, this.results, (p) => this.copy.of(this.template.processes.get(p)!));
  }

  /**
   * Run the tasks one whole task at a time in `order` (slots of the scenario's task order), each
   * on its own CPU, grace periods ending between tasks (as between the ops of a script), then
   * the end check: the sequential execution of explain.ts. A step that cannot run while its task
   * is alone waits for a grace period; `choose` answers the scenario's choice points.
   */
  runSequentially(order: readonly number[]): KernelFinding | null {
    const choose = this.choose;
    if (!choose) throw new Error('runSequentially(): the instance was made without a chooser');
    try {
      for (const slot of order) {
        // Done without a scheduling point when its CPU reached it, or failed before its last unit.
        if (this.results[slot] !== undefined) continue;
        const i = this.tasks.findIndex((t) => t.slots[0] === slot);
        if (i < 0) throw new Error(`sequential order ${order.join(',')}: task ${slot} is not next on its CPU`);
        const unit = this.unitsDone[slot];
        for (let steps = 0; this.results[slot] === undefined && this.unitsDone[slot] === unit; steps++) {
          if (steps > ALONE_MAX_STEPS) return new KernelFinding('livelock', `task ${slot} alone still running after ${ALONE_MAX_STEPS} steps`);
          if (this.enabled(i)) {
            const info = this.pending(i)!;
            this.step(i, info.choices ? choose(info.choices) : undefined);
          } else if (this.enabled(this.rcuIdx)) this.step(this.rcuIdx);
          else return new KernelFinding('deadlock', `task ${slot} alone cannot run at '${this.pending(i)?.label}'`);
        }
        setCurrent(this.k, 0);
        findings(() => rcuAdvance(this.k.rcu, this.k.cpus));
      }
    } catch (e) {
      if (e instanceof KernelFinding) return e;
      throw e;
    } finally {
      this.k.explainChoice = null;
    }
    return this.endCheck();
  }

  /** The execution is over: its kernel copy goes back to the template's pool. */
  /** The kernel function task i's pending step runs in (src/mm/where.ts); none for the RCU task. */
  where(i: number): StepWhere | undefined {
    const t = this.tasks[i];
    const stack = t?.pending ? this.k.stepStacks?.[t.cpu] : undefined;
    return stack ? stackWhere(stack) : undefined;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.k.explainChoice = null;
    this.template.free.push(this.copy);
  }

  /** The kernel up to renaming, and every finished path's result (state.ts). */
  fingerprint(): string {
    return canonicalState(this.k, this.results);
  }

  describe(): string {
    const mms = this.k.mms.map((m) => `${m.name}: VmPTE ${m.pgtablesBytes / 1024} kB`).join(', ');
    return `${mms}; RCU callbacks pending ${this.k.rcu.pending.length}`;
  }

  /** Page tables the snapshots of this execution's trace have described so far. */
  private snapshotTables = 0;

  /**
   * The web view's picture of the kernel (src/view/snapshot.ts), after each step of a trace. A
   * snapshot lists every page table, so a trace of 10,000 steps over a setup of a thousand tables
   * held ten million of them (gigabytes, issue 15's unbounded memory): once the trace's snapshots
   * have described MAX_TRACE_SNAPSHOT_TABLES tables, the steps get none (the view shows the last
   * one taken), except the violating step.
   */
  snapshot(last = false): unknown {
    if (!this.snapshots || (this.snapshotTables >= MAX_TRACE_SNAPSHOT_TABLES && !last)) return undefined;
    const s = kernelSnapshot(this.k);
    for (const p of s.processes) this.snapshotTables += p.tables.length + p.offTree.length;
    return s;
  }

  names(): string[] {
    return [...this.tasks.map((t) => `CPU${t.cpu}: ${t.name}`), 'RCU'];
  }
}

export interface SystemOptions {
  /** Model settings over the scenario's own config lines (`version=7.0`, `arch=arm64`). */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * Check after every step that it wrote only objects its footprint declares (footprint_check.ts),
   * and that every word it really read or wrote is ordered by the footprints against the other
   * tasks' accesses to it (access_check.ts); a step that did not is an internal error. `accesses`:
   * the second check alone, which is several times cheaper. Slow: for tests.
   */
  readonly checkFootprints?: boolean | 'accesses';
  /** Trace steps get kernel snapshots (default); false when no trace will be shown as a JSON document. */
  readonly snapshots?: boolean;
  /**
   * Sequential explainability (explain.ts): after the invariants, an execution whose outcome no
   * sequential order of its tasks gives is a violation of kind `anomaly`, unless `allow` accepts it.
   */
  readonly explain?: ExplainOptions;
}

/**
 * Every sequential order's outcome (explain.ts), run on copies of the set-up kernel: the orders
 * with every choice answered 0 (`all` false: complete only if no run met a choice point), or
 * times every answer of the scenario's choice points, up to MAX_SEQUENTIAL_RUNS in all.
 */
function sequentialOutcomes(scn: Scenario, template: Template, plan: ObservationPlan, all: boolean): SequentialOutcomes {
  const outcomes = new Map<string, { outcome: Outcome; run: SequentialRun }>();
  const failed: { run: SequentialRun; kind: string; message: string }[] = [];
  let runs = 0;
  let complete = true;
  let capped = false;
  for (const order of sequentialOrders(scn)) {
    const r = forEachChoiceVector((choose) => {
      const choices: number[] = [];
      const inst = new ModelInstance(scn, template, false, false, undefined, false, (n) => {
        const c = choose(n);
        choices.push(c);
        return c;
      });
      try {
        const bad = inst.runSequentially(order);
        const run = { order, choices };
        if (bad) failed.push({ run, kind: bad.kind, message: bad.message });
        else {
          const outcome = inst.outcome(plan);
          if (!outcomes.has(outcome.key)) outcomes.set(outcome.key, { outcome, run });
        }
      } finally {
        inst.dispose();
      }
    }, all ? MAX_SEQUENTIAL_RUNS - runs : 1);
    runs += r.runs;
    if (!r.complete) {
      complete = false;
      if (all) {
        capped = true;
        break;
      }
    }
  }
  return { outcomes, failed, runs, complete, capped, coarse: !pageGranular(scn) };
}

/**
 * The outcomes of a scenario's sequential orders (explain.ts), as `--explain` compares with them:
 * for tests and reports. The explorer's systems compute the same set once, on first use.
 */
export function sequentialOutcomesOf(scn: Scenario, guardsOff: readonly GuardName[] = [], o: Pick<SystemOptions, 'settings'> = {}): SequentialOutcomes {
  const template = setUp(scn, guardsOff, o.settings);
  return sequentialOutcomes(scn, template, observationPlan(scn, template.maps), true);
}

/** The explorer's view of a scenario, with the given guards switched off. */
export function scenarioSystem(scn: Scenario, guardsOff: readonly GuardName[] = [], o: SystemOptions = {}): System {
  const template = setUp(scn, guardsOff, o.settings);
  const names = new ModelInstance(scn, template, false, false).names();
  return {
    name: scn.name,
    create: (c) => new ModelInstance(scn, template, o.checkFootprints, o.snapshots ?? true, o.explain, c?.where),
    isViolation: (e: unknown): e is Finding => e instanceof KernelFinding,
    taskNames: names,
  };
}

export type { ConfigInput };
