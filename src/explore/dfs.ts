/**
 * Exhaustive search: stateless depth-first search that re-executes from the initial state for each
 * execution (systems are generators and cannot be snapshotted), with DPOR and sleep sets over the
 * dependency relation of `StepInfo`: source sets by default (Abdulla, Aronis, Jonsson, Sagonas,
 * POPL 2014 / JACM 2017, Algorithm 2). `reduction: 'optimal-dpor'` runs the same paper's optimal
 * DPOR (Algorithm 4) when unbounded: each race of an execution is reversed, once the execution has
 * ended, by inserting its reversing sequence into the wakeup tree (wakeup.ts) of the state before
 * the race, and the search follows those sequences. It starts fewer executions that end with every
 * enabled task asleep (sleep-set blocked: a third of `migration_wait_reclaimed`'s with source sets),
 * but was no faster on the shipped scenarios, and on `migration_wait_reclaimed` the two ran
 * different sets of traces (bench/EXPLORER.md, 2026-12-07): not the default until that is
 * explained. test/scenarios/soundness.test.ts holds the two to the same traces where every
 * execution finishes.
 *
 * The tree is the stack `nodes`: node d is the state after d steps, with the decision taken there,
 * its backtrack set or wakeup tree (what is still to try) and its sleep set (tasks whose schedules
 * from here are covered elsewhere). Choice values (`StepInfo.choices`) are branches too: a task is
 * done at a node only once all of its values were tried.
 *
 * Blocking. DPOR reverses races between executed events, but a lock acquire that waited for a
 * release races "irreversibly" with that release and only reversibly with the earlier acquire, which
 * the release hides. So at every new state the steps of *disabled* tasks are raced too (as
 * Flanagan–Godefroid 2005 do for all tasks): a task waiting on lock L races with the acquire of L
 * that made it wait, and that race is reversible. The optimal search also leaves alone a race whose
 * later step waited, after the earlier one, for something only it or a later step released
 * (`enabledBy`). Locks and choices are outside the paper's model, so the search is not optimal
 * for them: some executions still end with every enabled task asleep. test/explore/dpor.test.ts
 * checks both reductions against naive enumeration, and each against the other, on random programs
 * with locks and choices.
 *
 * With `reduction: 'none'` every interleaving and every choice value is run (for comparison).
 *
 * With a preemption bound, schedules over the bound are cut and the search reports itself
 * incomplete. DPOR under a bound uses source sets and follows Coons, Musuvathi, McKinley ("Bounded
 * partial-order reduction", OOPSLA 2013) loosely: sleep sets are off (the schedule that covers a
 * sleeper may be one the bound forbids), every initial of a reversed race is tried, both at the race
 * and where the racing task's run of steps began. That this reaches every end state that bounded
 * naive enumeration reaches is checked on random programs in test/explore/dpor.test.ts, not proven.
 */
import { EventLog, dependent, sameAccess, type Access } from './dpor.js';
import { insertWakeup, type SeqEvent, type WakeupBranch } from './wakeup.js';
import type { Coverage, Decision, Scheduler, SchedulerView, StepInfo } from './types.js';

type Recorded = Pick<StepInfo, 'reads' | 'writes' | 'global' | 'choices'>;

export interface DfsOptions {
  /**
   * 'dpor' (default): source-set DPOR with sleep sets; 'optimal-dpor': optimal DPOR with wakeup
   * trees when unbounded (source sets under a bound); 'none': every interleaving.
   */
  readonly reduction?: 'dpor' | 'optimal-dpor' | 'none';
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
  task: number;
  choice: number;
  /**
   * Optimal DPOR: per task, for how many states up to this one it has been able to run without a
   * step of its own in between (0: it cannot run here): where a wait ended, for `enabledBy`.
   */
  readonly run: Int32Array | null;
  /** Optimal DPOR: the wakeup tree's branches still to explore from here, in order. */
  wakeup: WakeupBranch[];
  /**
   * Optimal DPOR: where the wakeup sequences of the task being explored continue below this node,
   * per choice value (all its branches are taken together: each value is explored in turn).
   */
  below: Map<number, WakeupBranch[]> | null;
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
  /** Wakeup trees ('optimal-dpor', unbounded). */
  private readonly optimal: boolean;
  private readonly bound: number;
  /** The wakeup subtree the next new node, at depth `passDepth`, starts from. */
  private passDown: readonly WakeupBranch[] | null = null;
  private passDepth = -1;
  /**
   * Optimal DPOR: the races of this execution, reversed once it has ended. The reversing sequence
   * is notdep(e, E).e' over the whole execution E (Abdulla et al., Algorithm 4, race detection at
   * a maximal execution): the events after e' that do not happen after e belong to it too, and the
   * sleep-set test of a sequence cut at e' can wrongly find it covered.
   */
  private deferred: { k: number; ran: number; e: SeqEvent }[] = [];
  private nodes: Node[] = [];
  private log: EventLog | null = null;
  private started = false;
  private exhausted = false;
  private cut = false;

  constructor(opts: DfsOptions = {}) {
    const reduction = opts.reduction ?? 'dpor';
    this.dpor = reduction !== 'none';
    this.bound = opts.preemptionBound ?? Infinity;
    this.optimal = reduction === 'optimal-dpor' && this.bound === Infinity;
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
    for (const r of this.deferred) this.insertReversal(r.k, r.ran, r.e);
    this.deferred = [];
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const node = this.nodes[k];
      if (node.choice + 1 < node.choices[node.task]) {
        node.choice++;
        this.nodes.length = k + 1;
        this.log!.truncate(k); // another value may touch other objects: event k is made again
        this.follow(k, node.below?.get(node.choice) ?? null);
        return true;
      }
      if (this.log!.length > k) node.sleepAccess[node.task] = this.log!.access[k];
      node.sleep |= bit(node.task);
      if (this.optimal) {
        const q = this.nextBranch(node);
        if (q < 0) continue;
        this.nodes.length = k + 1;
        this.take(k, node, q);
        this.follow(k, node.below!.get(0) ?? null);
        return true;
      }
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
    if (this.optimal && this.passDown && this.passDepth === d) node.wakeup = this.passDown.slice();
    this.passDown = null;
    const wq = this.optimal ? this.nextBranch(node) : -1;
    if (wq >= 0) {
      this.nodes.push(node);
      this.take(d, node, wq);
      this.follow(d, node.below!.get(0) ?? null);
      return wq;
    }
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
   * only in the order of independent steps have the same key. For the self-checks that compare
   * reductions trace by trace (test/scenarios/soundness.test.ts, test/explore/dpor.test.ts).
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
    if (parent && this.dpor && this.bound === Infinity) {
      // A sleeping task stays asleep while the steps taken are independent of its step (as it ran
      // when it was explored: what it declared and what it recorded). Not under a bound: the
      // schedule that covers a sleeper may be one the bound forbids.
      const taken = this.log!.access[d - 1];
      for (let t = 0; t < n; t++) {
        if (!(parent.sleep & bit(t))) continue;
        const a = parent.sleepAccess[t] ?? parent.pending[t]!;
        if (dependent(a, taken)) continue;
        sleep |= bit(t);
        sleepAccess[t] = a;
      }
    }
    // Only the optimal search reads it: the default search's hot path allocates nothing for it.
    const run = this.optimal ? new Int32Array(n) : null;
    if (run) for (let t = 0; t < n; t++) if (enabled & bit(t)) run[t] = parent && parent.task !== t ? parent.run![t] + 1 : 1;
    const node: Node = {
      run,
      pending,
      choices: view.pending.map((s) => s?.choices ?? 1),
      enabled,
      last: view.last,
      preemptions: parent ? parent.preemptions + this.cost(parent, parent.task) : 0,
      backtrack: 0,
      sleep,
      sleepAccess,
      task: -1,
      choice: 0,
      wakeup: [],
      below: null,
    };
    if (this.dpor) {
      for (let t = 0; t < n; t++) if (pending[t] && !(enabled & bit(t))) this.race(d, t, pending[t]!, (pending[t]!.choices ?? 1) > 1);
    }
    return node;
  }

  /**
   * The task of the node's next wakeup branch that can start there, with every pending branch of
   * that task taken out into `node.below` (-1: none left). A branch whose task is asleep or cannot
   * run is dropped: asleep, its task was explored here with every choice value after the branch was
   * inserted (a sequence for another value than the first); unable to run, it waits for what only a
   * reversed step would have released (a lock: see `enabledBy`), and the schedule cannot be had.
   */
  private nextBranch(node: Node): number {
    for (let b = node.wakeup.shift(); b; b = node.wakeup.shift()) {
      if (!(node.enabled & ~node.sleep & bit(b.task))) continue;
      const below = new Map<number, WakeupBranch[]>();
      const add = (x: WakeupBranch): void => {
        const l = below.get(x.choice);
        if (l) l.push(...x.children);
        else below.set(x.choice, x.children.slice());
      };
      add(b);
      node.wakeup = node.wakeup.filter((x) => (x.task === b.task ? (add(x), false) : true));
      node.below = below;
      return b.task;
    }
    return -1;
  }

  /** The new node below node k starts from `branches`, what follows its event in its wakeup sequences. */
  private follow(k: number, branches: readonly WakeupBranch[] | null): void {
    this.passDown = branches;
    this.passDepth = k + 1;
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
  stepped(depth: number, task: number, access: Access): void {
    const log = this.log!;
    if (depth < log.length) {
      if (!sameAccess(log.access[depth], access)) {
        throw new NondeterminismError(`the system is not deterministic: at step ${depth}, task ${task} touched ${footprint(access)}; the recorded execution touched ${footprint(log.access[depth])}`);
      }
      return;
    }
    // Naive enumeration keeps clocks too, for traceKey(): it reverses no race.
    const clock = this.dpor ? this.race(depth, task, access, this.nodes[depth].choices[task] > 1) : log.races(task, access).clock;
    log.push(task, access, clock);
  }

  /**
   * Reverse each race of task p's step `a` at depth d: source sets add backtrack points now; the
   * optimal search notes the race and reverses it when the execution has ended.
   */
  private race(d: number, p: number, a: Access, chooses: boolean): Int32Array {
    const log = this.log!;
    if (log.length !== d) throw new Error(`dfs: event log out of step (${log.length} events at depth ${d})`);
    const { races, clock } = log.races(p, a);
    for (const k of races) {
      if (this.optimal) {
        // The step ran at depth d, or it waits there (newNode) and is no event yet.
        const now = d < this.nodes.length && this.nodes[d].task === p ? this.nodes[d] : null;
        this.deferred.push({ k, ran: now ? d : -1, e: { task: p, choice: now?.choice ?? 0, chooses, access: a } });
        continue;
      }
      const init = log.initials(k, d, p, clock);
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

  /**
   * Optimal DPOR's handling of the race of event k with step e' (event `ran`, or -1 for the step of a
   * task that waits; Algorithm 4): v = notdep(e_k, E).e', the events of the whole execution after k
   * that do not happen after e_k, then e'. Nothing to do when a task asleep at node k is a weak
   * initial of v: every schedule from there that starts with it was explored, and one of them
   * reorders v (not for a choice step). Else v goes into node k's wakeup tree, starting with one of
   * its initials that can run at node k (none can: the race is a release's with an acquire that
   * waited for it, irreversible; the waiting step's own race is reversed where it waits).
   */
  private insertReversal(k: number, ran: number, e: SeqEvent): void {
    const log = this.log!;
    const node = this.nodes[k];
    const et = log.task[k];
    const el = log.local[k];
    if (ran >= 0 && this.enabledBy(k, ran, e.task)) return;
    // e' itself (event `ran`, when it ran) happens after e_k, as does all that follows it.
    const notdep = (j: number): boolean => j !== ran && log.clock[j][et] < el;
    // A sleeping task whose step is a choice covers nothing here: its values were explored apart,
    // and letting it cover lost traces (test/explore/dpor.test.ts, trace by trace against naive
    // enumeration).
    for (let s = 0; node.sleep >> s; s++) {
      if (!(node.sleep & bit(s)) || node.choices[s] > 1) continue;
      if (this.sleeperCovers(k, notdep, s, node.sleepAccess[s] ?? node.pending[s]!, e)) return;
    }
    const v: SeqEvent[] = [];
    for (let j = k + 1; j < log.length; j++) if (notdep(j)) v.push(this.seqEvent(j));
    v.push(e);
    // An initial that can run at node k goes first (an initial's first event can move to the front):
    // a task's first event in v with no dependent event of v before it.
    const isInitial = (x: SeqEvent, i: number): boolean =>
      v.findIndex((f) => f.task === x.task) === i && v.slice(0, i).every((f) => !dependent(f.access, x.access));
    const start = v.findIndex((x, i) => node.enabled & bit(x.task) && isInitial(x, i));
    if (start < 0) return;
    insertWakeup(node.wakeup, [v[start], ...v.slice(0, start), ...v.slice(start + 1)]);
  }

  /**
   * Whether sleeping task s, whose step is `sa`, is a weak initial of v = notdep(e_k, E).e'
   * (`weakInitial` of wakeup.ts, without making v): its first event in v has no dependent event of v
   * before it, or it has none in v and its step is dependent with none of v.
   */
  private sleeperCovers(k: number, notdep: (j: number) => boolean, s: number, sa: Access, e: SeqEvent): boolean {
    const log = this.log!;
    const n = log.length;
    // Once one of s's events happens after e_k, so do all later ones: its first one after k decides.
    let first = k + 1;
    while (first < n && log.task[first] !== s) first++;
    if (first < n && notdep(first)) return !log.anyDependent(log.access[first], k, first, notdep);
    if (s === e.task) return !log.anyDependent(e.access, k, n, notdep);
    return !dependent(sa, e.access) && !log.anyDependent(sa, k, n, notdep);
  }

  /**
   * Whether event d of task p could run only because of e_k or an event after it: p waited (its
   * step disabled) at some state after e_k's, and the step that ended the wait happens after e_k.
   * Then the race cannot be reversed (a lock release and the acquire that waited for it: Abdulla
   * et al. reverse only races whose later event can run without the earlier); reversing it anyway
   * starts a schedule in which p still waits and every other task is asleep. The acquire's race
   * with the acquire that made it wait is reversed where it waited (newNode).
   */
  private enabledBy(k: number, d: number, p: number): boolean {
    // The state before p's run of states where it could run: where it waited, or took its last step.
    const m = d - this.nodes[d].run![p];
    if (m < k || this.nodes[m].enabled & bit(p)) return false;
    const log = this.log!;
    return m === k || log.clock[m][log.task[k]] >= log.local[k];
  }

  /** Event j of the log as a wakeup sequence's event, made once per event (races share them). */
  private seqEvent(j: number): SeqEvent {
    const a = this.log!.access[j];
    const node = this.nodes[j];
    let e = this.seqEvents[j];
    if (e?.access !== a || e.task !== node.task || e.choice !== node.choice) {
      e = this.seqEvents[j] = { task: node.task, choice: node.choice, chooses: node.choices[node.task] > 1, access: a };
    }
    return e;
  }
  private readonly seqEvents: SeqEvent[] = [];

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
