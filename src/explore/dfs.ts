/**
 * Exhaustive search: stateless depth-first search that re-executes from the initial state for each
 * execution (systems are generators and cannot be snapshotted), with source-set DPOR and sleep sets
 * (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014 / JACM 2017, Algorithm 2) over the dependency
 * relation of `StepInfo`.
 *
 * The tree is the stack `nodes`: node d is the state after d steps, with the decision taken there,
 * its backtrack set (what is still to try) and its sleep set (tasks whose schedules from here are
 * covered elsewhere). Choice values (`StepInfo.choices`) are branches too: a task is done at a node
 * only once all of its values were tried.
 *
 * Footprints that depend on the state. A model step touches what it finds: a zap frees a folio
 * only if its count drops to zero, a fault allocates only if the entry is none. The paper's events
 * have footprints fixed in advance, and sleep sets lean on that: a task asleep is woken by a step
 * dependent with its step as it was explored, and from then on the search reasons with the step it
 * takes now, which may no longer touch what made it sleep (it read the waking step's write and took
 * another branch). Races that the static footprint would have shown are then never reversed, and
 * traces were lost: fast-check found a three-task program of four steps, and the shipped scenarios
 * lost traces too (docs/explorer.md). So a task woken from a sleep counts its next step as touching
 * what it slept with as well (`carry`), and a reversed step is an initial of its reversal only when
 * nothing else comes before it (dpor.ts `initials`: it may touch more where it moves to).
 * test/explore/dpor.test.ts checks this against naive enumeration on random programs whose steps
 * load and store conditionally; it is not proven.
 *
 * Blocking. DPOR reverses races between executed events, but a lock acquire that waited for a
 * release races "irreversibly" with that release and only reversibly with the earlier acquire, which
 * the release hides. So at every new state the steps of *disabled* tasks are raced too (as
 * Flanagan–Godefroid 2005 do for all tasks): a task waiting on lock L races with the acquire of L
 * that made it wait, and that race is reversible.
 *
 * With `reduction: 'none'` every interleaving and every choice value is run (for comparison).
 *
 * With a preemption bound, schedules over the bound are cut and the search reports itself
 * incomplete. DPOR under a bound follows Coons, Musuvathi, McKinley ("Bounded partial-order
 * reduction", OOPSLA 2013) loosely: sleep sets are off (the schedule that covers a sleeper may be
 * one the bound forbids), every initial of a reversed race is tried, both at the race and where the
 * racing task's run of steps began. That this reaches every end state that bounded naive
 * enumeration reaches is checked on random programs in test/explore/dpor.test.ts, not proven.
 *
 * Optimal DPOR (wakeup trees, the paper's Algorithm 4) was built here and removed: it lost end
 * states on those random programs, with or without `carry`, and was no faster (docs/explorer.md).
 */
import { EventLog, dependent, sameAccess, unionAccess, type Access } from './dpor.js';
import type { Coverage, Decision, Scheduler, SchedulerView, StepInfo } from './types.js';

type Recorded = Pick<StepInfo, 'reads' | 'writes' | 'global' | 'choices'>;

export interface DfsOptions {
  /** 'dpor' (default): source-set DPOR with sleep sets; 'none': every interleaving. */
  readonly reduction?: 'dpor' | 'none';
  /** At most this many preemptions per execution; unbounded by default. */
  readonly preemptionBound?: number;
}

interface Node {
  /** Footprints only: a StepInfo may hold its whole system state alive (a lazy label). */
  readonly pending: readonly (Recorded | null)[];
  readonly choices: readonly number[];
  readonly enabled: number;
  /** The task that stepped into this state, -1 at the root. */
  readonly last: number;
  /** Preemptions taken before this state. */
  readonly preemptions: number;
  backtrack: number;
  sleep: number;
  /** For each sleeping task, the footprint its step had when it was explored (declared and recorded). */
  sleepAccess: (Access | undefined)[];
  /**
   * For each task that woke from a sleep on the way here and has not stepped since, the footprint
   * it slept with: its next step counts as touching that too (see the header).
   */
  readonly carry: readonly (Access | undefined)[];
  task: number;
  choice: number;
}

const bit = (t: number): number => 1 << t;

/** The system broke the determinism contract of types.ts: an internal error, not a finding. */
export class NondeterminismError extends Error {
  override name = 'NondeterminismError';
}

/** A footprint in an error message. */
function footprint(a: Access): string {
  return a.global ? 'global' : `reads [${a.reads.join(', ')}] writes [${a.writes.join(', ')}]`;
}
const MAX_TASKS = 31; // task sets are bitmasks

export class DfsScheduler implements Scheduler {
  private readonly dpor: boolean;
  private readonly bound: number;
  private nodes: Node[] = [];
  private log: EventLog | null = null;
  private started = false;
  private exhausted = false;
  private cut = false;

  constructor(opts: DfsOptions = {}) {
    const reduction = opts.reduction ?? 'dpor';
    this.dpor = reduction !== 'none';
    this.bound = opts.preemptionBound ?? Infinity;
  }

  /** Every execution was covered: the tree is exhausted and the bound cut nothing. */
  get complete(): boolean {
    return this.exhausted && !this.cut;
  }
  get coverage(): Coverage {
    return !this.exhausted ? 'sampled' : this.cut ? 'bounded' : 'complete';
  }

  newExecution(): boolean {
    if (!this.started) return (this.started = true);
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const node = this.nodes[k];
      // Asleep, a task explored here stands for every value of its choice: its footprint is what
      // any of them touched (values differ: one allocates, another does not).
      if (this.log!.length > k) node.sleepAccess[node.task] = unionAccess(node.sleepAccess[node.task], this.log!.access[k]);
      if (node.choice + 1 < node.choices[node.task]) {
        node.choice++;
        this.nodes.length = k + 1;
        this.log!.truncate(k); // another value may touch other objects: event k is made again
        return true;
      }
      node.sleep |= bit(node.task);
      const todo = node.backtrack & node.enabled & ~node.sleep;
      const q = this.pick(node, todo);
      if (q >= 0) {
        this.nodes.length = k + 1;
        this.take(k, node, q);
        return true;
      }
      if (todo) this.cut = true; // left untried for the bound
    }
    this.nodes.length = 0;
    this.exhausted = true;
    return false;
  }

  replaying(depth: number): Decision | null {
    if (depth >= this.nodes.length) return null;
    const node = this.nodes[depth];
    return node.choices[node.task] > 1 ? { task: node.task, choice: node.choice } : { task: node.task };
  }

  nextTask(view: SchedulerView): number | null {
    const d = view.depth;
    if (d < this.nodes.length) return this.replay(d, view);
    const node = this.newNode(view);
    if (node.enabled === 0) return null; // deadlock: newNode raced the waiting steps
    const pool = this.dpor ? node.enabled & ~node.sleep : node.enabled;
    if (pool === 0) return null; // sleep-set blocked: every continuation is covered elsewhere
    const q = this.pick(node, pool);
    if (q < 0) {
      this.cut = true;
      return null;
    }
    if (!this.dpor) node.backtrack = node.enabled;
    this.nodes.push(node);
    this.take(d, node, q);
    return q;
  }

  /**
   * The Mazurkiewicz trace of the execution just run, as a string: per task, each event's choice
   * value and vector clock (how many events of each task happen before it). Executions that differ
   * only in the order of independent steps have the same key, as long as footprints are fixed
   * (`carry` adds dependencies that depend on the path). For the self-check that compares the
   * reduction with naive enumeration trace by trace (test/explore/dpor.test.ts).
   */
  traceKey(): string {
    const log = this.log!;
    const per: string[][] = Array.from({ length: log.nTasks }, () => []);
    for (let j = 0; j < log.length; j++) per[log.task[j]].push(`${this.nodes[j]?.choice ?? 0}:${log.clock[j].join(',')}`);
    return per.map((l) => l.join(' ')).join(' | ');
  }

  nextChoice(_n: number, view: SchedulerView): number {
    return this.nodes[view.depth].choice;
  }

  private newNode(view: SchedulerView): Node {
    const n = view.pending.length;
    if (n > MAX_TASKS) throw new Error(`dfs: at most ${MAX_TASKS} tasks, got ${n}`);
    if (!this.log) this.log = new EventLog(n);
    let enabled = 0;
    for (let t = 0; t < n; t++) if (view.enabled[t]) enabled |= bit(t);
    const pending = view.pending.map((s) => (s ? { reads: s.reads, writes: s.writes, global: s.global, choices: s.choices } : null));
    const d = view.depth;
    const parent = d > 0 ? this.nodes[d - 1] : null;
    let sleep = 0;
    const sleepAccess: (Access | undefined)[] = [];
    const carry: (Access | undefined)[] = parent ? parent.carry.slice() : [];
    if (parent) carry[parent.task] = undefined;
    if (parent && this.dpor && this.bound === Infinity) {
      // A sleeping task stays asleep while the steps taken are independent of its step (as it ran
      // when it was explored: what it declared and what it recorded). Not under a bound: the
      // schedule that covers a sleeper may be one the bound forbids.
      const taken = this.log!.access[d - 1];
      for (let t = 0; t < n; t++) {
        if (!(parent.sleep & bit(t))) continue;
        const a = parent.sleepAccess[t] ?? parent.pending[t]!;
        if (dependent(a, taken)) {
          carry[t] = unionAccess(carry[t], a);
          continue;
        }
        sleep |= bit(t);
        sleepAccess[t] = a;
      }
    }
    const node: Node = {
      pending,
      choices: view.pending.map((s) => s?.choices ?? 1),
      enabled,
      last: view.last,
      preemptions: parent ? parent.preemptions + this.cost(parent, parent.task) : 0,
      backtrack: 0,
      sleep,
      sleepAccess,
      carry,
      task: -1,
      choice: 0,
    };
    if (this.dpor) {
      for (let t = 0; t < n; t++) if (pending[t] && !(enabled & bit(t))) this.race(d, t, carry[t] ? unionAccess(carry[t], pending[t]!) : pending[t]!);
    }
    return node;
  }

  /** Take task q at node k; its event is made once the step ran (`stepped`). */
  private take(k: number, node: Node, q: number): void {
    node.task = q;
    node.choice = 0;
    node.backtrack |= bit(q);
    this.log!.truncate(k);
  }

  /**
   * The step at `depth` ran and touched `access` (what it declared and what it recorded). A step
   * of the replayed prefix must have touched exactly what it did before; a new one becomes an
   * event, raced against the prefix (DPOR's main step).
   */
  stepped(depth: number, task: number, ran: Access): void {
    const log = this.log!;
    const carried = this.nodes[depth]?.carry[task];
    const access = carried ? unionAccess(carried, ran) : ran;
    if (depth < log.length) {
      if (!sameAccess(log.access[depth], access)) {
        throw new NondeterminismError(`the system is not deterministic: at step ${depth}, task ${task} touched ${footprint(access)}; the recorded execution touched ${footprint(log.access[depth])}`);
      }
      return;
    }
    // Naive enumeration keeps clocks too, for traceKey(): it reverses no race.
    const clock = this.dpor ? this.race(depth, task, access) : log.races(task, access).clock;
    log.push(task, access, clock);
  }

  /** Reverse each race of task p's step `a` at depth d: a backtrack point for one initial. */
  private race(d: number, p: number, a: Access): Int32Array {
    const log = this.log!;
    if (log.length !== d) throw new Error(`dfs: event log out of step (${log.length} events at depth ${d})`);
    const { races, clock } = log.races(p, a);
    for (const k of races) {
      const init = log.initials(k, d, p);
      this.reverse(this.nodes[k], init);
      if (this.bound === Infinity) continue;
      // Coons et al.: under a bound, also where the racing task's run of steps began, for the
      // reversal that costs no preemption there when it would cost one at node k.
      let b = k;
      while (b > 0 && log.task[b - 1] === log.task[k]) b--;
      if (b < k) this.reverse(this.nodes[b], init);
    }
    return clock;
  }

  /**
   * Make sure one of `init` is tried from `node`. A task that cannot run there is no use: that is an
   * irreversible release→acquire race, and the waiting task's reversible race with the acquire is
   * found at the state where it waits. Under a bound, try every one that fits: which of them a
   * covering schedule starts with decides what it costs in preemptions.
   */
  private reverse(node: Node, init: number): void {
    const ready = init & node.enabled;
    if (this.bound !== Infinity) {
      // None of the initials can run here: conservatively, every task that can (Coons et al.).
      if (!ready) {
        this.reverseAll(node);
        return;
      }
      for (let t = 0; ready >> t; t++) {
        if (!(ready & bit(t))) continue;
        if (node.preemptions + this.cost(node, t) <= this.bound) node.backtrack |= bit(t);
        else this.cut = true;
      }
      return;
    }
    if (init & (node.backtrack | node.sleep)) return; // covered from here already
    const q = this.pick(node, ready);
    if (q >= 0) node.backtrack |= bit(q);
  }

  private reverseAll(node: Node): void {
    for (let t = 0; node.enabled >> t; t++) {
      if (!(node.enabled & bit(t))) continue;
      if (node.preemptions + this.cost(node, t) <= this.bound) node.backtrack |= bit(t);
      else this.cut = true;
    }
  }

  /** The task to run among `pool`: the last one if it can continue, else the lowest; within the bound. */
  private pick(node: Node, pool: number): number {
    if (node.last >= 0 && pool & bit(node.last)) return node.last;
    for (let t = 0; pool >> t; t++) if (pool & bit(t) && node.preemptions + this.cost(node, t) <= this.bound) return t;
    return -1;
  }

  private cost(node: Node, t: number): number {
    return node.last >= 0 && t !== node.last && node.enabled & bit(node.last) ? 1 : 0;
  }

  /**
   * Re-run the prefix of an earlier execution. The step must be the one recorded there, footprint
   * included: the search raced new steps against the recorded events, so an object that changed
   * identity between executions would hide races (as rw-semaphores numbered by a module-level
   * counter once did).
   */
  private replay(d: number, view: SchedulerView): number {
    const t = this.nodes[d].task;
    this.checkReplayed(d, t, view.pending[t], view.enabled[t]);
    return t;
  }

  checkReplayed(d: number, t: number, now: StepInfo | null, enabled: boolean): void {
    const was = this.nodes[d].pending[t]!;
    if (!now || !enabled || !sameAccess(now, was) || (now.choices ?? 1) !== (was.choices ?? 1)) {
      throw new NondeterminismError(
        `the system is not deterministic: at step ${d}, task ${t} now takes '${now?.label ?? '(finished)'}' ${now ? footprint(now) : ''}` +
          `${enabled ? '' : ' (disabled)'}; the recorded execution took ${footprint(was)}`,
      );
    }
  }
}
