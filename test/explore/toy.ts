/**
 * Toy systems for the explorer's tests: tasks are generators that `yield*` into a handful of
 * primitives, the same shape as src/mm/primitives.ts (yield the step, act when resumed), over a
 * world of named integer variables and locks. Nothing here is a page table.
 */
import type { Instance, StepInfo, System, Finding } from '../../src/explore/index.js';

export class ToyViolation extends Error implements Finding {
  override name = 'ToyViolation';
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a task yields: the step it is about to take and when it can take it. */
export interface Op {
  readonly info: StepInfo;
  readonly enabled?: () => boolean;
}
export type Task = (w: World, me: number) => Generator<Op, void, number | undefined>;
type Gen<T> = Generator<Op, T, number | undefined>;

/** Names are fixed strings of the tests: numbering them once for the whole run is stable. */
const OBJECTS = new Map<string, number>();

export class World {
  readonly vars = new Map<string, number>();
  readonly owner = new Map<string, number>();
  /** What the running step touched beyond its declared footprint (as src/mm/objects.ts records). */
  readonly recorded = { reads: [] as number[], writes: [] as number[] };
  /** Object numbers for the explorer, by name ('var:x', 'lock:L'), the same in every execution. */
  id(name: string): number {
    let n = OBJECTS.get(name);
    if (n === undefined) OBJECTS.set(name, (n = OBJECTS.size));
    return n;
  }
  get(x: string): number {
    return this.vars.get(x) ?? 0;
  }
  describe(): string {
    // Sorted: the same state reads the same whichever order the tasks created its entries in.
    const vs = [...this.vars].sort().map(([k, v]) => `${k}=${v}`);
    const ls = [...this.owner].sort().map(([l, o]) => `${l}:${o}`);
    return [...vs, ...ls].join(' ');
  }
}

// ---- primitives -------------------------------------------------------------------------------

export function* ld(w: World, x: string): Gen<number> {
  yield { info: { reads: [w.id(`var:${x}`)], writes: [], label: `ld ${x}` } };
  return w.get(x);
}
export function* st(w: World, x: string, v: number): Gen<void> {
  yield { info: { reads: [], writes: [w.id(`var:${x}`)], label: `st ${x} = ${v}` } };
  w.vars.set(x, v);
}
export function* lock(w: World, l: string, me: number): Gen<void> {
  // A write to the lock: acquires on the same lock never commute (one of them waits).
  yield { info: { reads: [], writes: [w.id(`lock:${l}`)], label: `lock ${l}` }, enabled: () => !w.owner.has(l) };
  w.owner.set(l, me);
}
export function* unlock(w: World, l: string, me: number): Gen<void> {
  yield { info: { reads: [], writes: [w.id(`lock:${l}`)], label: `unlock ${l}` } };
  if (w.owner.get(l) !== me) throw new Error(`toy: task ${me} unlocks ${l}, not its own`);
  w.owner.delete(l);
}
export function* choose(what: string, n = 2): Gen<number> {
  const c = yield { info: { reads: [], writes: [], choices: n, label: what } };
  return c ?? 0;
}
/**
 * `if (r == 0) x = v` as one step, whose write happens only when the read sees 0: it declares the
 * read and records the write as it runs, as model code records a folio freed or a frame allocated
 * (src/mm/objects.ts). Its footprint depends on what it reads, the case that made sleep sets
 * unsound (docs/explorer.md).
 */
export function* condSt(w: World, r: string, x: string, v: number): Gen<void> {
  yield { info: { reads: [w.id(`var:${r}`)], writes: [], label: `if ${r} == 0: st ${x} = ${v}` } };
  if (w.get(r) !== 0) return;
  w.recorded.writes.push(w.id(`var:${x}`));
  w.vars.set(x, v);
}
/** `r == 0 ? x : -1` as one step: it reads x only when it reads 0 from r (recorded, as condSt()). */
export function* condLd(w: World, r: string, x: string): Gen<number> {
  yield { info: { reads: [w.id(`var:${r}`)], writes: [], label: `if ${r} == 0: ld ${x}` } };
  if (w.get(r) !== 0) return -1;
  w.recorded.reads.push(w.id(`var:${x}`));
  return w.get(x);
}
/** A step that touches nothing shared (a task's own work). */
export function* local(label = 'local'): Gen<void> {
  yield { info: { reads: [], writes: [], label } };
}
/** A step the explorer must order against everything (an IPI, a grace period). */
export function* fence(label = 'fence'): Gen<void> {
  yield { info: { reads: [], writes: [], global: true, label } };
}

// ---- systems ----------------------------------------------------------------------------------

export interface ToySpec {
  readonly name: string;
  readonly tasks: readonly Task[];
  /** The invariant checked once every task finished. */
  readonly final?: (w: World) => Finding | null;
  /** Called with each instance as it is created (tests that look at end states). */
  readonly onCreate?: (inst: ToyInstance) => void;
}

export class ToyInstance implements Instance {
  readonly world = new World();
  readonly nTasks: number;
  private readonly gens: Generator<Op, void, number | undefined>[];
  private readonly cur: (Op | null)[];

  constructor(private readonly spec: ToySpec) {
    this.nTasks = spec.tasks.length;
    this.gens = spec.tasks.map((t, i) => t(this.world, i));
    this.cur = this.gens.map((g) => next(g, undefined));
  }
  pending(i: number): StepInfo | null {
    return this.cur[i]?.info ?? null;
  }
  enabled(i: number): boolean {
    const op = this.cur[i];
    return op !== null && (op.enabled?.() ?? true);
  }
  step(i: number, choice?: number): void {
    this.world.recorded.reads.length = 0;
    this.world.recorded.writes.length = 0;
    this.cur[i] = null; // a violation ends the execution mid-step
    this.cur[i] = next(this.gens[i], choice);
  }
  lastAccess(): { reads: readonly number[]; writes: readonly number[] } {
    return this.world.recorded;
  }
  finalCheck(): Finding | null {
    return this.spec.final?.(this.world) ?? null;
  }
  describe(): string {
    return this.world.describe();
  }
  /** The world, and where each task waits (two deadlocks in the same world can differ there). */
  fingerprint(): string {
    return `${this.world.describe()} | ${this.cur.map((op) => op?.info.label ?? '-').join(', ')}`;
  }
}

function next(g: Generator<Op, void, number | undefined>, v: number | undefined): Op | null {
  const r = g.next(v);
  return r.done ? null : r.value;
}

export function toySystem(spec: ToySpec): System {
  return {
    name: spec.name,
    create: () => {
      const inst = new ToyInstance(spec);
      spec.onCreate?.(inst);
      return inst;
    },
    isViolation: (e): e is Finding => e instanceof ToyViolation,
  };
}

// ---- the scenarios the tests share --------------------------------------------------------------

/** counter++ as a load and a store: two tasks can both load 0 and both store 1. */
export function* incrementRacy(w: World): Gen<void> {
  const v = yield* ld(w, 'x');
  yield* st(w, 'x', v + 1);
}

/** The final count must equal the number of increments. */
export const countIs =
  (n: number) =>
  (w: World): Finding | null =>
    w.get('x') === n ? null : new ToyViolation('lost-update', `x = ${w.get('x')} after ${n} increments`);

export const lostUpdate = toySystem({
  name: 'lost update',
  tasks: [incrementRacy, incrementRacy],
  final: countIs(2),
});

/** Two tasks taking locks A and B in opposite orders (the ABBA deadlock). */
export function abbaSystem() {
  const ab = (a: string, b: string): Task =>
    function* (w, me) {
      yield* lock(w, a, me);
      yield* lock(w, b, me);
      yield* unlock(w, b, me);
      yield* unlock(w, a, me);
    };
  return toySystem({ name: 'ABBA', tasks: [ab('A', 'B'), ab('B', 'A')] });
}
