/**
 * A scenario as a system for the explorer (src/explore/types.ts): a fresh modelled kernel per
 * execution (the setup script run alone), one task per CPU stepping the generator build of the
 * model's own kernel paths, and an RCU task that ends grace periods once they can end. Steps are
 * the primitives' yields (src/mm/primitives.ts), described to the explorer by `stepInfo`.
 */
import * as genApi from '../mm/api.js';
import { Violation as MmViolation } from '../mm/bug.js';
import type { ConfigInput, GuardName } from '../mm/config.js';
import { current, setCurrent } from '../mm/current.js';
import type { Kernel, MmStruct } from '../mm/mm_types.js';
import { stepEnabled, type KGen, type Step } from '../mm/primitives.js';
import { rcuAdvance } from '../mm/rcu.js';
import { runScript, type ModelApi } from '../script/exec.js';
import type { Instance, StepInfo, System, Violation } from '../explore/types.js';
import type { Scenario } from './format.js';
import { runTask } from './tasks.js';
import { walkEntries } from '../mm/arch/walk.js';
import { kernelSnapshot, lockName } from '../view/snapshot.js';

const GEN_API = genApi as unknown as ModelApi;

/** Page tables the snapshots of one explorer trace may describe in all (docs/limits.md). */
export const MAX_TRACE_SNAPSHOT_TABLES = 100_000;

/** A finding of the modelled kernel's sanitizers, as the explorer sees it. */
export class Finding implements Violation {
  constructor(
    readonly kind: string,
    readonly message: string,
  ) {}
}

interface CpuTask {
  cpu: number;
  /** Kernel paths still to run on this CPU, in order; the first is running. */
  queue: KGen<number>[];
  pending: Step | null;
  name: string;
}

/** Run fn; a sanitizer finding of the model becomes the explorer's Finding. */
function findings<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof MmViolation) throw new Finding(e.kind, e.message.replace(`${e.kind}: `, ''));
    throw e;
  }
}

/** Ids for objects that have no number of their own (rw-semaphores), for dependency tracking. */
const semIds = new WeakMap<object, number>();
let nextSem = 1;
function semId(o: object): number {
  let id = semIds.get(o);
  if (!id) semIds.set(o, (id = nextSem++));
  return id;
}

/**
 * What a step touches. Entry loads/stores name the entry, locks their lock word; RCU/IRQ
 * boundaries name the CPU's own section (they only matter to grace periods and IPIs, which are
 * global); TLB flushes, IPIs, hardware walks and call_rcu() are global.
 */
export function stepInfo(s: Step, cpu: number, explored: readonly string[]): StepInfo {
  const label = describeStep(s);
  switch (s.op) {
    case 'walk':
      // The hardware walk reads the slots on its path (and may set A/D bits in the leaf); its
      // TLB fills are private to the CPU, and flushes of them are global steps.
      return { objects: walkEntries(s.mm, s.addr).map((p) => `e${p}`), write: true, label };
    case 'ld':
    case 'scan':
      return { objects: [`e${s.ptr}`], write: false, label };
    case 'st':
    case 'xchg':
      return { objects: [`e${s.ptr}`], write: true, label };
    case 'lock':
    case 'trylock':
    case 'unlock':
      return { objects: [`l${s.lock}`], write: true, label };
    case 'rlock':
    case 'wlock':
    case 'rtrylock':
    case 'runlock':
    case 'wunlock':
      return { objects: [`s${semId(s.sem)}`], write: true, label };
    case 'flock':
    case 'ftrylock':
    case 'funlock':
      return { objects: [`f${s.pfn}`], write: true, label };
    case 'rcu+':
    case 'rcu-':
      return { objects: [`rcu${cpu}`], write: true, label };
    case 'irq-':
    case 'irq+':
      return { objects: [`irq${cpu}`], write: true, label };
    case 'sleep':
      return { objects: [], write: false, label };
    case 'choice':
      return explored.includes(s.what) ? { objects: [], write: false, choices: 2, label } : { objects: [], write: false, label };
    default:
      return { objects: [], write: true, global: true, label };
  }
}

const LEVEL_NAMES = ['', 'pte', 'pmd', 'pud', 'pgd'];

/** An entry pointer as `pmd[3]@T2` (entry 3 of table 2, a PMD table). */
function entryName(ptr: number): string {
  const tid = Math.floor(ptr / 512);
  return `${LEVEL_NAMES[current.k.pt.level[tid]] ?? '?'}[${ptr % 512}]@T${tid}`;
}

export function describeStep(s: Step): string {
  if ('ptr' in s) return `${s.op} ${entryName(s.ptr)}`;
  if ('lock' in s) return `${s.op} ${lockName(current.k, s.lock)}`;
  if ('pfn' in s) return `${s.op} folio ${s.pfn}`;
  if ('what' in s) return s.what;
  if ('sem' in s) return `${s.op} rwsem`;
  if (s.op === 'walk') return 'hardware walk';
  if (s.op === 'flush') return 'TLB flush IPI';
  if (s.op === 'sleep') return 'cond_resched';
  return s.op;
}

class ModelInstance implements Instance {
  readonly k: Kernel;
  readonly tasks: CpuTask[] = [];

  constructor(
    private readonly scn: Scenario,
    guardsOff: readonly GuardName[],
    /** Whether trace steps get snapshots (only a JSON document shows them). */
    private readonly snapshots = true,
  ) {
    const overrides: Record<string, string> = {};
    if (guardsOff.length) overrides.guard_off = guardsOff.join('+');
    const setup = runScript(scn.setup, { api: GEN_API, overrides });
    if (setup.exitCode !== 0) {
      const errs = setup.lines.filter((l) => l.type === 'error').map((l) => ('message' in l ? l.message : ''));
      throw new Error(`${scn.file}: scenario setup failed: ${errs.join('; ')}`);
    }
    this.k = setup.kernel as unknown as Kernel;
    for (const t of scn.tasks) {
      const mm = setup.processes.get(t.process)! as unknown as MmStruct;
      const maps = setup.maps.get(t.process)!;
      mm.cpumask |= 1 << t.cpu;
      const gen = runTask(mm, maps, t.spec);
      const name = `${t.spec.kind}${'advice' in t.spec ? ' ' + t.spec.advice : ''}`;
      const existing = this.tasks.find((x) => x.cpu === t.cpu);
      if (existing) {
        existing.queue.push(gen);
        existing.name += `; ${name}`;
      } else {
        this.tasks.push({ cpu: t.cpu, queue: [gen], pending: null, name });
      }
    }
    this.tasks.sort((a, b) => a.cpu - b.cpu);
    for (const t of this.tasks) this.advance(t, undefined);
  }

  /** Resume task t with `v` (the answer to its pending step) until its next yield or its end. */
  private advance(t: CpuTask, v: unknown): void {
    setCurrent(this.k, t.cpu);
    findings(() => {
      while (t.queue.length) {
        const r = t.queue[0].next(v);
        if (!r.done) {
          t.pending = r.value;
          return;
        }
        t.queue.shift();
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

  private rcuReady(): boolean {
    return this.k.rcu.pending.some((cb) => !cb.waitFor || [...cb.waitFor].every(([id, qs]) => this.k.cpus[id].rcuQs !== qs));
  }

  pending(i: number): StepInfo | null {
    if (i === this.rcuIdx) {
      if (this.k.rcu.pending.length) return { objects: [], write: true, global: true, label: 'grace period ends, callbacks run' };
      // Nothing queued: the task waits on call_rcu(), itself a global step, so it names nothing.
      return this.tasks.every((t) => t.pending === null) ? null : { objects: ['rcu-queue'], write: false, label: 'waits for call_rcu()' };
    }
    const t = this.tasks[i];
    if (!t.pending) return null;
    setCurrent(this.k, t.cpu);
    return stepInfo(t.pending, t.cpu, this.scn.choices);
  }

  enabled(i: number): boolean {
    if (i === this.rcuIdx) return this.k.rcu.pending.length > 0 && this.rcuReady();
    const t = this.tasks[i];
    if (!t.pending) return false;
    setCurrent(this.k, t.cpu);
    return stepEnabled(t.pending);
  }

  step(i: number, choice?: number): void {
    if (i === this.rcuIdx) {
      setCurrent(this.k, 0);
      findings(() => rcuAdvance(this.k.rcu, this.k.cpus));
      return;
    }
    const t = this.tasks[i];
    const p = t.pending;
    const v = p?.op === 'choice' && this.scn.choices.includes(p.what) ? choice === 1 : undefined;
    this.advance(t, v);
  }

  /** After every task finished: let grace periods end, then check the model's invariants. */
  finalCheck(): Violation | null {
    setCurrent(this.k, 0);
    try {
      findings(() => rcuAdvance(this.k.rcu, this.k.cpus));
    } catch (e) {
      if (e instanceof Finding) return e;
      throw e;
    }
    const bad = genApi.checkInvariants(this.k as unknown as genApi.Kernel);
    if (!bad.length) return null;
    const b = bad[0];
    const kind =
      b.invariant === 'mapcounts' ? 'lost-pte' : b.invariant === 'no-freed-reachable' ? 'pt-use-after-free' : b.invariant === 'tlb-no-freed' ? 'stale-tlb' : b.invariant === 'table-states' ? 'leak' : 'counter-imbalance';
    return new Finding(kind, `[${b.invariant}] ${b.message}`);
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

/**
 * The explorer's view of a scenario, with the given guards switched off; `snapshots: false` when
 * no trace will be shown as a JSON document (the text trace has no use for them).
 */
export function scenarioSystem(scn: Scenario, guardsOff: readonly GuardName[] = [], opts: { snapshots?: boolean } = {}): System {
  const names = new ModelInstance(scn, guardsOff, false).names();
  return {
    name: scn.name,
    create: () => new ModelInstance(scn, guardsOff, opts.snapshots ?? true),
    isViolation: (e: unknown): e is Violation => e instanceof Finding,
    taskNames: names,
  };
}

export type { ConfigInput };
