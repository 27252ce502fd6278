/**
 * Sequential explainability (issue 13; docs/explorer.md, "Sequential explainability"): an oracle
 * beyond the sanitizers, as Knossos or Porcupine check linearizability. Each task's result and the
 * final observable state of an execution must equal what at least one *sequential* order of the
 * same tasks gives from the same setup: whole tasks one after another, each CPU's own tasks in
 * their order. An outcome no order gives is an *anomaly* (a spurious error or a state no caller
 * could have produced alone: a table vanishing mid-operation, a reclaim that did not happen).
 *
 * What is compared (the *outcome*) is what a user process can observe, nothing the model alone
 * knows: every task's return value; per process that runs a task, the /proc counters an op-script
 * `snapshot` shows (/proc/PID/status: VmSize, VmRSS, RssAnon, RssFile, RssShmem, VmPTE, VmLck, VmSwap;
 * smaps_rollup: Rss, AnonHugePages, ShmemPmdMapped, FilePmdMapped; src/script/exec.ts
 * `procCounters`); and /proc/PID/pagemap of every mapping a task names, as the snapshot codes it
 * (none, present exclusive, present shared, swap, guard marker, uffd-wp marker; `pagemapRuns`).
 * Never a frame number: which frame backs an anonymous page is not observable (and allocation is
 * not a scheduling point, so orders hand out frames differently).
 *
 * This file is pure (no model runs): the orders, the outcome's fields, the comparison and the
 * allow-list. system.ts runs the orders on copies of the set-up kernel and caches the set.
 */
import type { MmStruct } from '../mm/mm_types.js';
import { pagemapRuns, procCounters, type ModelApi } from '../script/exec.js';
import type { Scenario } from './format.js';
import { isPopulate, type TaskSpec } from './tasks.js';
import { PAGE_SIZE } from '../mm/const.js';
import { zerocopyLockSections } from '../mm/tcp.js';
import { mappingSizes } from './validate.js';

/** The explain check's settings (SystemOptions.explain): the reviewed allow-list's entries. */
export interface ExplainOptions {
  readonly allow?: readonly AllowEntry[];
}

/** One observable: a task's result (`r0`, `r1`, ... in the scenario's task order) or a process's view (`P.VmPTE`, `P.pagemap.A`). */
export type Field = readonly [name: string, value: string];

/** An execution's or an order's outcome: its fields in a fixed order, and their text as a key. */
export interface Outcome {
  readonly fields: readonly Field[];
  readonly key: string;
}

/** A sequential order: slots (indices into `scn.tasks`) in the order they ran, and the choices answered. */
export interface SequentialRun {
  readonly order: readonly number[];
  readonly choices: readonly number[];
}

/** What the sequential orders of a scenario give, computed once per system (system.ts). */
export interface SequentialOutcomes {
  /** Each distinct outcome with the first order that gave it. */
  readonly outcomes: ReadonlyMap<string, { readonly outcome: Outcome; readonly run: SequentialRun }>;
  /** Orders that ended in a sanitizer finding (a guard switched off breaks one task alone). */
  readonly failed: readonly { readonly run: SequentialRun; readonly kind: string; readonly message: string }[];
  /** Sequential executions run (orders × choice answers). */
  readonly runs: number;
  /**
   * Every answer of every choice point was tried (always, for a scenario without `choices`). The
   * set is first made with one run per order (every choice answered 0, the config's default
   * path) and completed only when an outcome is not in it.
   */
  readonly complete: boolean;
  /** The complete set was wanted but stopped at MAX_SEQUENTIAL_RUNS: an outcome outside it is not called an anomaly. */
  readonly capped: boolean;
  /** The orders are of whole tasks (pageGranular() false): an outcome outside them is not called an anomaly either. */
  readonly coarse: boolean;
}

/** Sequential executions one system may run to build its set (orders × choices); past it, the set is incomplete. */
export const MAX_SEQUENTIAL_RUNS = 5_000;

/**
 * Whether an outcome calls for the complete set: only the first set (one run per order) can be
 * completed. A set already made complete, or capped at MAX_SEQUENTIAL_RUNS, stays as it is: made
 * again for every outcome outside it, a capped set cost each such execution 5,000 sequential runs
 * (a swarm job with `choices` took minutes for 200 PCT executions).
 */
export function needsCompleteSet(seq: SequentialOutcomes, key: string): boolean {
  return !seq.complete && !seq.capped && !seq.outcomes.has(key);
}

/** What the outcome reads: the processes that run tasks, and the mappings the tasks name. */
export interface ObservationPlan {
  readonly processes: readonly string[];
  readonly ranges: readonly { readonly process: string; readonly map: string; readonly addr: number; readonly pages: number }[];
}

export function observationPlan(scn: Scenario, maps: ReadonlyMap<string, ReadonlyMap<string, number>>): ObservationPlan {
  const processes = [...new Set(scn.tasks.map((t) => t.process))];
  const ranges: { process: string; map: string; addr: number; pages: number }[] = [];
  for (const process of processes) {
    const sizes = mappingSizes(scn.setup.ops, process);
    const named = new Set(scn.tasks.filter((t) => t.process === process).flatMap((t) => (t.spec.kind === 'uffd_move' ? [t.spec.map, t.spec.dst] : [t.spec.map])).filter((m) => m !== '')); // swapoff, clear_refs: none
    for (const map of [...named].sort()) ranges.push({ process, map, addr: maps.get(process)!.get(map)!, pages: (sizes.get(map) ?? 0) / PAGE_SIZE });
  }
  return { processes, ranges };
}

/** A task as a person reads it in a message: `cpu1 touch`, `cpu0 madvise dontneed`. */
export function taskLabel(scn: Scenario, slot: number): string {
  const t = scn.tasks[slot];
  return `cpu${t.cpu} ${specLabel(t.spec)}`;
}

function specLabel(s: TaskSpec): string {
  return s.kind === 'madvise' ? `madvise ${s.advice}` : s.kind === 'touch' ? `touch ${s.write ? 'write' : 'read'}` : s.kind;
}

/**
 * The outcome of a finished execution: `results` in the scenario's task order, and the views of
 * the plan's processes (`mmOf` gives each one's mm in the kernel observed). The caller makes the
 * observed kernel current (the /proc walks read it through `current`).
 */
export function observeOutcome(api: ModelApi, plan: ObservationPlan, results: readonly (number | undefined)[], mmOf: (process: string) => MmStruct): Outcome {
  const fields: Field[] = results.map((r, i) => [`r${i}`, r === undefined ? 'unfinished' : String(r)]);
  for (const p of plan.processes) {
    const mm = mmOf(p) as never;
    const { status, smaps_rollup } = procCounters(api, mm);
    for (const [f, v] of Object.entries(status)) fields.push([`${p}.${f}`, String(v)]);
    for (const [f, v] of Object.entries(smaps_rollup)) fields.push([`${p}.${f}`, String(v)]);
    for (const r of plan.ranges) {
      if (r.process === p) fields.push([`${p}.pagemap.${r.map}`, pagemapRuns(api, mm, r.addr, r.pages).map(([n, c]) => `${n}${c}`).join('')]);
    }
  }
  return { fields, key: fields.map(([f, v]) => `${f}=${v}`).join(' ') };
}

/**
 * A task's units in the sequential orders: a `touch` is one user access per page (a fault, then
 * the access again), and another task may run between two of them, as between two instructions
 * of a program; MADV_POPULATE_(READ|WRITE) is one fault per page (faultin_page_range()), another
 * task may run between two of them too (a per-VMA DONTNEED, or anything once the populate drops the
 * mmap_lock on VM_FAULT_RETRY); move_pages(2)'s node query is one folio walk per page, and a binder
 * transaction one page install per page (each under its own VMA lock); a TCP zerocopy receive is
 * one unit per PTE-lock section; every other task is one system call, one unit. (A zap may drop its
 * PTE lock midway: it is still one unit, a limit of the oracle.)
 */
export function taskUnits(spec: TaskSpec): number {
  // A zerocopy receive's PTE-lock sections, counted from the offset: scenario mappings are
  // placed 2 MiB aligned (docs/op-scripts.md, placement rule), so offsets meet PMD boundaries where
  // addresses do.
  if (spec.kind === 'tcp_zerocopy') return zerocopyLockSections(spec.offset, spec.len).length;
  // move_pages(2)'s query walks each page with folio_walk_start() under its own PTE lock, and the
  // mmap_lock it holds for read does not keep a DONTNEED out: another task may run between pages.
  // A binder transaction installs each page under its own VMA lock (binder_page_insert()).
  const pageByPage = spec.kind === 'touch' || spec.kind === 'move_pages' || spec.kind === 'binder_transaction' || (spec.kind === 'madvise' && isPopulate(spec.advice));
  return pageByPage ? Math.max(1, spec.len / PAGE_SIZE) : 1;
}

/** Past this many orders of units, the orders are of whole tasks (pageGranular() is false). */
export const MAX_UNIT_ORDERS = 2_000;

/** Whether sequentialOrders() orders units (pages of a touch) rather than whole tasks: not when there would be too many orders. */
export function pageGranular(scn: Scenario): boolean {
  return countOrders(cpuLists(scn, true)) <= MAX_UNIT_ORDERS;
}

/** Each CPU's list of units (slots, a slot once per unit), by CPU number. */
function cpuLists(scn: Scenario, units: boolean): number[][] {
  const perCpu = new Map<number, number[]>();
  scn.tasks.forEach((t, slot) => {
    const l = perCpu.get(t.cpu) ?? perCpu.set(t.cpu, []).get(t.cpu)!;
    for (let u = units ? taskUnits(t.spec) : 1; u > 0; u--) l.push(slot);
  });
  return [...perCpu.keys()].sort((a, b) => a - b).map((c) => perCpu.get(c)!);
}

/** The number of interleavings of lists (a multinomial coefficient), stopping once past MAX_UNIT_ORDERS. */
function countOrders(lists: readonly (readonly number[])[]): number {
  let n = 1;
  let placed = 0;
  for (const l of lists) {
    for (let k = 1; k <= l.length; k++) {
      n = (n * (placed + k)) / k; // C(placed + len, len), one factor at a time: stays an integer
      if (n > MAX_UNIT_ORDERS) return Infinity;
    }
    placed += l.length;
  }
  return n;
}

/**
 * The sequential orders of a scenario's tasks: every interleaving of the CPUs' lists of units
 * (taskUnits(); of whole tasks when pageGranular() is false), each CPU's tasks in their file
 * order. Slots are indices into `scn.tasks`, a slot once per unit.
 */
export function sequentialOrders(scn: Scenario): number[][] {
  const lists = cpuLists(scn, pageGranular(scn));
  const total = lists.reduce((n, l) => n + l.length, 0);
  const out: number[][] = [];
  const next = lists.map(() => 0);
  const order: number[] = [];
  const visit = (): void => {
    if (order.length === total) return void out.push([...order]);
    lists.forEach((l, i) => {
      if (next[i] === l.length) return;
      order.push(l[next[i]++]);
      visit();
      next[i]--;
      order.pop();
    });
  };
  visit();
  return out;
}

/**
 * Every answer vector of the choice points a deterministic run meets (DFS over them): `run` is
 * called once per vector with a `choose(n)` that answers 0..n-1. At most `max` runs: `complete`
 * says whether every vector ran.
 */
export function forEachChoiceVector(run: (choose: (n: number) => number) => void, max: number): { runs: number; complete: boolean } {
  const path: { v: number; n: number }[] = [];
  let runs = 0;
  for (;;) {
    if (runs++ >= max) return { runs: max, complete: false };
    let depth = 0;
    run((n) => {
      if (depth < path.length) return path[depth++].v;
      path.push({ v: 0, n });
      depth++;
      return 0;
    });
    path.length = depth;
    while (path.length && path[path.length - 1].v + 1 >= path[path.length - 1].n) path.pop();
    if (!path.length) return { runs, complete: true };
    path[path.length - 1].v++;
  }
}

/** The fields where two outcomes of one scenario differ. */
function differing(a: Outcome, b: Outcome): number[] {
  const out: number[] = [];
  a.fields.forEach(([, v], i) => {
    if (b.fields[i][1] !== v) out.push(i);
  });
  return out;
}

export type ExplainVerdict =
  | { readonly verdict: 'explained' }
  | { readonly verdict: 'anomaly'; readonly message: string }
  | { readonly verdict: 'allowed'; readonly entry: AllowEntry; readonly message: string };

/**
 * Compare an execution's outcome with the sequential set. An anomaly's message names the task
 * results, the fields no order gives, and the closest sequential outcome (fewest fields apart;
 * the first order on a tie) with its order.
 */
export function explain(scn: Scenario, seq: SequentialOutcomes, got: Outcome, allow: readonly AllowEntry[] = []): ExplainVerdict {
  if (seq.outcomes.has(got.key)) return { verdict: 'explained' };
  let best: { outcome: Outcome; run: SequentialRun; diff: number[] } | undefined;
  for (const s of seq.outcomes.values()) {
    const diff = differing(got, s.outcome);
    if (!best || diff.length < best.diff.length) best = { ...s, diff };
  }
  const results = scn.tasks.map((_, i) => `r${i} (${taskLabel(scn, i)}) = ${got.fields[i][1]}`).join(', ');
  const orders = sequentialOrders(scn).length;
  const failed = seq.failed.length ? `; ${seq.failed.length} sequential run${seq.failed.length === 1 ? '' : 's'} failed (${seq.failed[0].kind})` : '';
  let message: string;
  if (!best) {
    message = `results ${results}: no sequential order ends without a finding to compare with${failed}`;
  } else {
    const show = (o: Outcome) => best!.diff.map((i) => `${o.fields[i][0]}=${o.fields[i][1]}`).join(', ');
    // A touch's pages run as units: r1 → r0 → r1 is r0 between two pages of r1.
    const order = best.run.order.filter((s, i, o) => i === 0 || o[i - 1] !== s).map((s) => `r${s}`).join(' → ') + (best.run.choices.length ? ` (choices ${best.run.choices.join('')})` : '');
    message = `results ${results}; no sequential order (of ${orders}) gives ${show(got)}; closest: ${order} gives ${show(best.outcome)}${failed}`;
  }
  for (const entry of allow) {
    if (allows(entry, scn, got, seq)) return { verdict: 'allowed', entry, message: `${message} [allowed by ${entry.file}:${entry.line}: ${entry.kernel}]` };
  }
  return { verdict: 'anomaly', message };
}

// ---------------------------------------------------------------------------------------------
// The allow-list (scenarios/anomalies.allow): anomalies the kernel accepts by design, reviewed.

/**
 * One entry of the allow-list:
 *
 *   allow SCENARIO-PATTERN          a scenario name, or a glob (* and ?) over names
 *   task LABEL-PATTERN              optional, repeatable: the scenario runs a task with this label
 *                                   (`madvise collapse`, `touch *`, `uffd_move`: a glob); then r0,
 *                                   r1, ... in `when` and `differs` name the tasks of these lines,
 *                                   whatever their places in the scenario (other tasks may run too),
 *                                   so that one entry covers generated scenarios (ptlab swarm)
 *   when FIELD=VALUE ...            optional: the anomalous outcome has these values (r1=-11,
 *                                   *.AnonHugePages=0: every field the glob matches)
 *   differs FIELD-PATTERN ...       optional: it differs from some sequential outcome only in
 *                                   fields matching these globs (*.VmPTE, P.pagemap.*)
 *   kernel FUNCTION ...             the kernel function that makes it acceptable (free text)
 *   reason TEXT ...                 why (free text; more `reason` lines continue it)
 *
 * `#` starts a comment. An entry needs `kernel`, `reason` and at least one of `when`/`differs`.
 */
export interface AllowEntry {
  readonly file: string;
  readonly line: number;
  readonly scenario: string;
  readonly tasks: readonly string[];
  readonly when: readonly Field[];
  readonly differs: readonly string[];
  readonly kernel: string;
  readonly reason: string;
}

export function parseAllowList(text: string, file: string): { ok: true; entries: AllowEntry[] } | { ok: false; errors: string[] } {
  const entries: AllowEntry[] = [];
  const errors: string[] = [];
  type Draft = { -readonly [K in keyof AllowEntry]: AllowEntry[K] extends readonly (infer E)[] ? E[] : AllowEntry[K] };
  let cur: Draft | undefined;
  const close = (): void => {
    if (!cur) return;
    const missing = [!cur.kernel && 'kernel', !cur.reason && 'reason', !cur.when.length && !cur.differs.length && 'when or differs'].filter(Boolean);
    if (missing.length) errors.push(`${file}:${cur.line}:1: allow entry for '${cur.scenario}' lacks ${missing.join(', ')} (expected lines: when/differs, kernel, reason)`);
    else entries.push(cur);
    cur = undefined;
  };
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (!body) return;
    const [head, ...rest] = body.split(/\s+/);
    const arg = body.slice(head.length).trim();
    const bad = (message: string, expected: string) => errors.push(`${file}:${line}:${raw.indexOf(head) + 1}: ${message} (expected ${expected})`);
    if (head === 'allow') {
      close();
      if (rest.length !== 1 || !/^[A-Za-z0-9_.*?-]+$/.test(rest[0])) return void bad(`bad scenario pattern '${arg}'`, 'allow NAME or a glob like swarm_*');
      cur = { file, line, scenario: rest[0], tasks: [], when: [], differs: [], kernel: '', reason: '' };
      return;
    }
    if (!cur) return void bad(`'${head}' outside an entry`, "an 'allow SCENARIO' line first");
    switch (head) {
      case 'task':
        if (!rest.length) return void bad('missing task label', 'task LABEL-PATTERN, e.g. task madvise dontneed or task touch *');
        cur.tasks.push(arg);
        return;
      case 'when':
        for (const w of rest) {
          const eq = w.indexOf('=');
          if (eq <= 0) return void bad(`bad condition '${w}'`, 'FIELD=VALUE, e.g. r1=-11 or P.VmPTE=12');
          cur.when.push([w.slice(0, eq), w.slice(eq + 1)]);
        }
        return;
      case 'differs':
        if (!rest.length) return void bad('missing field pattern', 'differs FIELD-PATTERN ..., e.g. *.VmPTE');
        cur.differs.push(...rest);
        return;
      case 'kernel':
        cur.kernel = cur.kernel ? `${cur.kernel} ${arg}` : arg;
        return;
      case 'reason':
        cur.reason = cur.reason ? `${cur.reason} ${arg}` : arg;
        return;
      default:
        bad(`unknown line '${head}'`, 'allow, task, when, differs, kernel or reason');
    }
  });
  close();
  return errors.length ? { ok: false, errors } : { ok: true, entries };
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Whether an allow-list entry covers this anomalous outcome of scenario `scn`. */
export function allows(e: AllowEntry, scn: Scenario, got: Outcome, seq: SequentialOutcomes): boolean {
  if (!glob(e.scenario).test(scn.name)) return false;
  if (!e.tasks.length) return allowsAs(e, (f) => f, got, seq);
  const labels = scn.tasks.map((t) => specLabel(t.spec));
  const patterns = e.tasks.map(glob);
  // Every way to give each `task` line a task of its own (tasks are few: at most 3 per CPU).
  const assign = (k: number, slots: number[]): boolean => {
    if (k === patterns.length) return allowsAs(e, (f) => f.replace(/^r(\d+)$/, (m, n: string) => (Number(n) < slots.length ? `r${slots[Number(n)]}` : m)), got, seq);
    return labels.some((l, slot) => !slots.includes(slot) && patterns[k].test(l) && assign(k + 1, [...slots, slot]));
  };
  return assign(0, []);
}

/** allows() once the entry's field names are renamed into the scenario's (`rename`: r0 → r2). */
function allowsAs(e: AllowEntry, rename: (field: string) => string, got: Outcome, seq: SequentialOutcomes): boolean {
  const when = e.when.map(([f, v]) => [glob(rename(f)), v] as const);
  for (const [f, v] of when) {
    const matched = got.fields.filter(([name]) => f.test(name));
    if (!matched.length || matched.some(([, value]) => value !== v)) return false;
  }
  if (!e.differs.length) return true;
  const patterns = e.differs.map((d) => glob(rename(d)));
  for (const s of seq.outcomes.values()) {
    if (differing(got, s.outcome).every((i) => patterns.some((p) => p.test(got.fields[i][0])))) return true;
  }
  return false;
}
