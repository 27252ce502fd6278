/**
 * The explorer's benchmark (`ptlab bench --explorer`, bench/EXPLORER.md): per shipped scenario,
 * the complete search with guards on (executions, complete or not, executions/s) and off (does it
 * find the violation, after how many executions); DPOR against naive enumeration at preemption
 * bound 1, where naive enumeration is computable; and, given `--baseline DIR` (a built checkout of
 * an older ptlab), the same bounded search on that engine and this one, alternately in this run,
 * so the ratio is measured rather than quoted. `bench/spin` adds SPIN's states/s when `spin` is
 * installed (spin.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DfsScheduler, explore } from '../explore/index.js';
import { listScenarioFiles, loadScenario } from '../scenarios/registry.js';
import { scenarioSystem } from '../scenarios/system.js';
import type { Scenario } from '../scenarios/format.js';

export interface ExplorerRow {
  scenario: string;
  /** The complete search, guards on (source-set DPOR, the default). */
  executions: number;
  /** Executions the search started and gave up on: every enabled task asleep (sleep-set blocked). */
  abandoned?: number;
  complete: boolean;
  ms: number;
  /**
   * Guards off (or, for a scenario of an open race, its remedy off: `remedy` true): the violation
   * found (null: clean, as the scenario may expect), after how many executions.
   */
  guardOff: { status: string; kind: string | null; executions: number; ms: number; remedy?: boolean } | null;
  /** Preemption bound 1: DPOR and naive executions. */
  dpor1: number;
  naive1: number;
  /** Side by side at `sideBound`, medians of `reps` alternate runs. */
  side?: { bound: number; executions: number; ms: number; baselineExecutions: number; baselineMs: number };
}

export interface ExplorerBench {
  date: string;
  node: string;
  baseline?: string;
  reps: number;
  /** The 1-minute load average when the run started and ended: other work on the machine skews every time here. */
  load: [number, number];
  rows: ExplorerRow[];
}

/** The three entry points a ptlab engine needs to be benchmarked; both this tree and a baseline's dist have them. */
interface Engine {
  explore: typeof explore;
  DfsScheduler: typeof DfsScheduler;
  scenarioSystem: (scn: never, guardsOff: string[], o?: { settings?: Readonly<Record<string, string>>; explain?: object }) => unknown;
  loadScenario: (name: string) => { ok: boolean; scenario?: unknown };
}

const HERE: Engine = { explore, DfsScheduler, scenarioSystem: scenarioSystem as Engine['scenarioSystem'], loadScenario };

/** A baseline engine from a built checkout (its dist/), loaded beside this one. */
export async function loadBaseline(dir: string): Promise<Engine> {
  const mod = (p: string) => import(pathToFileURL(path.resolve(dir, 'dist', p)).href);
  const [ex, sys, reg] = await Promise.all([mod('explore/index.js'), mod('scenarios/system.js'), mod('scenarios/registry.js')]);
  return { explore: ex.explore, DfsScheduler: ex.DfsScheduler, scenarioSystem: sys.scenarioSystem, loadScenario: reg.loadScenario };
}

/** Executions a search may take, abandoned ones included: room for the largest complete one (migration_wait_reclaimed, 229,578 and its abandoned ones on 2026-12-08). */
const MAX = 1_000_000;

function search(e: Engine, scn: Scenario, guardsOff: string[], o: { bound?: number; reduction?: 'dpor' | 'none'; settings?: Readonly<Record<string, string>> }) {
  const t0 = performance.now();
  // A scenario whose violation is an anomaly runs with sequential explainability, as `ptlab
  // explore` runs it (src/scenarios/run.ts): without it the anomaly is never seen.
  const explain = scn.violation === 'anomaly' ? {} : undefined;
  const sys = e.scenarioSystem(scn as never, guardsOff, { settings: o.settings, explain });
  const r = e.explore(sys as never, new e.DfsScheduler({ preemptionBound: o.bound ?? Infinity, reduction: o.reduction ?? 'dpor' }), { budget: { maxExecutions: MAX } });
  return { r, ms: performance.now() - t0 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function explorerBench(o: { baseline?: string; reps: number; sideBound: number; log: (s: string) => void; only?: string }): Promise<ExplorerBench> {
  const load0 = os.loadavg()[0];
  const base = o.baseline ? await loadBaseline(o.baseline) : undefined;
  const rows: ExplorerRow[] = [];
  for (const f of listScenarioFiles()) {
    const loaded = loadScenario(f);
    if (!loaded.ok) continue;
    const scn: Scenario = loaded.scenario;
    if (o.only && scn.name !== o.only) continue;
    // A scenario of a race still open upstream (R8) is clean only with its proposed remedy; its
    // "guard off" is the remedy off, as in test/scenarios/scenarios.test.ts.
    const settings = scn.remedy ?? undefined;
    const on = search(HERE, scn, [], { settings });
    const off = scn.guards.length ? search(HERE, scn, scn.guards, {}) : settings ? search(HERE, scn, [], {}) : null;
    const d1 = search(HERE, scn, [], { bound: 1, settings });
    const n1 = search(HERE, scn, [], { bound: 1, reduction: 'none', settings });
    const row: ExplorerRow = {
      scenario: scn.name,
      executions: on.r.executions,
      abandoned: on.r.abandoned,
      complete: on.r.status === 'clean' && on.r.coverage === 'complete',
      ms: on.ms,
      guardOff: off && { status: off.r.status, kind: off.r.status === 'violation' ? off.r.violation.kind : null, executions: off.r.executions, ms: off.ms, remedy: !scn.guards.length },
      dpor1: d1.r.executions,
      naive1: n1.r.executions,
    };
    o.log(
      `explorer ${scn.name}: ${on.r.status} (${row.complete ? 'complete' : 'not complete'}) in ${on.r.executions} executions (+${on.r.abandoned} blocked), ${on.ms.toFixed(0)} ms; ` +
        `guard off: ${off ? `${off.r.status} after ${off.r.executions}` : 'none'}`,
    );
    const theirs = base?.loadScenario(scn.name);
    if (base && theirs?.ok) {
      const ours: number[] = [];
      const old: number[] = [];
      let oursN = 0;
      let oldN = 0;
      for (let i = 0; i < o.reps; i++) {
        const a = search(HERE, scn, [], { bound: o.sideBound, settings });
        const b = search(base, theirs.scenario as Scenario, [], { bound: o.sideBound, settings });
        ours.push(a.ms);
        old.push(b.ms);
        oursN = a.r.executions;
        oldN = b.r.executions;
      }
      row.side = { bound: o.sideBound, executions: oursN, ms: median(ours), baselineExecutions: oldN, baselineMs: median(old) };
      o.log(`  side by side at bound ${o.sideBound}: ${oursN} executions in ${median(ours).toFixed(0)} ms; baseline ${oldN} in ${median(old).toFixed(0)} ms`);
    }
    rows.push(row);
  }
  return { date: new Date().toISOString(), node: process.version, baseline: o.baseline, reps: o.reps, load: [load0, os.loadavg()[0]], rows };
}

const f = (x: number): string => Math.round(x).toLocaleString('en-US');
const rate = (n: number, ms: number): string => f((n / ms) * 1000);

export function renderExplorerBench(b: ExplorerBench, spin?: string): string {
  const lines = [
    '# Explorer benchmark',
    '',
    `Measured ${b.date.slice(0, 10)} on Node ${b.node} by \`ptlab bench --explorer\`${b.baseline ? ` with \`--baseline ${b.baseline}\`` : ''}. One run; times are wall clock on a ${os.availableParallelism()}-core machine, load average ${b.load[0].toFixed(1)} at the start and ${b.load[1].toFixed(1)} at the end.`,
    '',
    '## Complete search of every shipped scenario (no preemption bound)',
    '',
    `Guards on: the DPOR search (source sets, sleep sets; src/explore/dfs.ts) runs until no schedule is left, or ${f(MAX)}`,
    'executions; "blocked" are the executions it started and gave up on, every enabled task asleep (they count in the time,',
    'not in "executions").',
    'Guards off: the default search until the first violation. Bound 1: executions of DPOR and of naive enumeration.',
    '',
    '| scenario | executions | blocked | complete | time (ms) | executions/s | guard off | bound 1: DPOR / naive |',
    '|---|---|---|---|---|---|---|---|',
    ...b.rows.map((r) => {
      const found = r.guardOff && (r.guardOff.status === 'violation' ? `${r.guardOff.kind} after ${f(r.guardOff.executions)}` : `${r.guardOff.status} in ${f(r.guardOff.executions)}`);
      const off = !r.guardOff ? 'no guard' : r.guardOff.remedy ? `remedy off: ${found}` : found;
      return `| ${r.scenario} | ${f(r.executions)} | ${r.abandoned === undefined ? '-' : f(r.abandoned)} | ${r.complete ? 'yes' : 'no'} | ${f(r.ms)} | ${rate(r.executions, r.ms)} | ${off} | ${f(r.dpor1)} / ${f(r.naive1)} (${(r.naive1 / r.dpor1).toFixed(1)}×) |`;
    }),
    '',
  ];
  const side = b.rows.filter((r) => r.side);
  if (side.length) {
    const s0 = side[0].side!;
    lines.push(
      `## Side by side with the baseline engine (preemption bound ${s0.bound}, medians of ${b.reps} alternate runs)`,
      '',
      'Both engines search the same scenario files at the same bound, each with its own model code: the baseline is a',
      'whole older checkout. Time to finish the search is the figure that matters; executions/s is shown because the',
      'engines run different numbers of executions (different reductions and step granularity).',
      '',
      '| scenario | this: executions | this: ms | this: exec/s | baseline: executions | baseline: ms | baseline: exec/s | time, baseline / this |',
      '|---|---|---|---|---|---|---|---|',
      ...side.map((r) => {
        const s = r.side!;
        return `| ${r.scenario} | ${f(s.executions)} | ${f(s.ms)} | ${rate(s.executions, s.ms)} | ${f(s.baselineExecutions)} | ${f(s.baselineMs)} | ${rate(s.baselineExecutions, s.baselineMs)} | ${(s.baselineMs / s.ms).toFixed(2)}× |`;
      }),
      '',
    );
  }
  if (spin) lines.push(spin, '');
  return lines.join('\n');
}
