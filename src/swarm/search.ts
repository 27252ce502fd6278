/**
 * One generated scenario's search, as the swarm runs it (docs/swarm.md): DPOR within an execution
 * budget; if the budget runs out first, PCT for a few hundred executions. A violation is the
 * explorer's (its schedule already minimized); an exception of the model that is not a violation
 * (a `ModelBug`, an internal error) is a finding of kind `model-bug`, never swallowed.
 * Pure and deterministic: the outcome is a function of the scenario, the guards and the budgets.
 */
import type { GuardName } from '../mm/config.js';
import type { ExploreResult } from '../explore/index.js';
import { runScenario } from '../scenarios/run.js';
import type { Scenario } from '../scenarios/format.js';
import type { ExplainOptions } from '../scenarios/explain.js';

export interface SearchBudget {
  /** DPOR executions before falling back to PCT. */
  readonly dpor: number;
  /** PCT executions after an unfinished DPOR search (0: none). */
  readonly pct: number;
  /** Minimize the failing schedule (the explorer's minimization). */
  readonly minimize?: boolean;
  /** Sequential explainability (src/scenarios/explain.ts): an unexplained outcome is a finding of kind `anomaly`. */
  readonly explain?: ExplainOptions;
}

export type SearchOutcome =
  | { readonly status: 'clean'; readonly complete: boolean; readonly executions: number }
  | {
      readonly status: 'violation';
      readonly kind: string;
      readonly message: string;
      /** Absent for a `model-bug` or a violation in the setup (no schedule to replay). */
      readonly token?: string;
      /** Which search found it; `setup`: running the setup script alone already fails. */
      readonly phase: 'dpor' | 'pct' | 'setup';
      /** Executions of the whole search, up to the failing one. */
      readonly executions: number;
      /**
       * The model functions (kernel spelling) of the violating step, several for a deadlock (one
       * per waiting task); absent when no step raised it (the end-of-execution checks, the setup).
       */
      readonly at?: string;
    };

/** The step limit of the second search when the first stopped at the explorer's default (10 000). */
export const LONG_PATH_STEPS = 100_000;

/**
 * The kind of finding a search makes of executions still running at LONG_PATH_STEPS: not a
 * verdict of the explorer (explore.ts, status 'step-limit'), kept so that a campaign does not lose
 * a possible livelock (docs/swarm.md).
 */
export const STEP_LIMIT = 'step-limit';

/** The kind of finding an exception of the model makes (not a sanitizer violation). */
export const MODEL_BUG = 'model-bug';

export function searchScenario(scn: Scenario, guardsOff: readonly GuardName[], b: SearchBudget, seed: number): SearchOutcome {
  let executions = 0;
  try {
    const common = { guardsOff, stopAtFirst: true, minimize: b.minimize ?? true, explain: b.explain };
    let dpor = runScenario(scn, { ...common, mode: 'dfs', bound: -1, budget: { maxExecutions: b.dpor } });
    // An execution past the step limit may be a path that is only long: search again with a
    // larger limit (its token then replays with `ptlab explore --max-steps`).
    if (dpor.status === 'step-limit') {
      executions += dpor.executions + dpor.abandoned;
      dpor = runScenario(scn, { ...common, mode: 'dfs', bound: -1, budget: { maxExecutions: b.dpor }, maxSteps: LONG_PATH_STEPS });
    }
    executions += dpor.executions + dpor.abandoned;
    if (dpor.status === 'step-limit') return { status: 'violation', kind: STEP_LIMIT, message: dpor.overrun.message, token: dpor.overrun.token, phase: 'dpor', executions };
    if (dpor.status === 'violation') return { status: 'violation', kind: dpor.violation.kind, message: dpor.violation.message, token: dpor.token, phase: 'dpor', executions, ...violatingAt(dpor) };
    if (dpor.status === 'clean' || b.pct === 0) return { status: 'clean', complete: dpor.status === 'clean', executions };
    const pct = runScenario(scn, { ...common, mode: 'pct', seed, depth: 2 + (seed % 2), executions: b.pct });
    executions += pct.executions + pct.abandoned;
    if (pct.status === 'violation') return { status: 'violation', kind: pct.violation.kind, message: pct.violation.message, token: pct.token, phase: 'pct', executions, ...violatingAt(pct) };
    return { status: 'clean', complete: false, executions };
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    // The setup runs alone, as a script: a sanitizer violation there is a finding without a schedule.
    const inSetup = /scenario setup failed: Violation: ([a-z-]+): (.*)/.exec(message);
    if (inSetup) return { status: 'violation', kind: inSetup[1], message: `in the setup: ${inSetup[2]}`, phase: 'setup', executions };
    return { status: 'violation', kind: MODEL_BUG, message, phase: 'dpor', executions };
  }
}

/** The kernel functions of a result's violating step(s), from its trace (recorded with `where`). */
function violatingAt(r: ExploreResult): { at?: string } {
  if (r.status !== 'violation') return {};
  const fns = [...new Set(r.trace.flatMap((s) => (s.violating && s.fn ? [s.fn] : [])))].sort();
  return fns.length ? { at: fns.join('+') } : {};
}

/**
 * What makes two findings the same (docs/swarm.md, dedup): kind, guards off, and where the model
 * raised it: the kernel function of the violating step when a step did, else (the end-of-execution
 * checks, the setup, a model bug) the message's first line without numbers.
 */
export function findingKey(kind: string, guardsOff: readonly string[], message: string, at?: string): string {
  const msg = (message.split('\n')[0] ?? '').replace(/\S+\.scn: /, '').replace(/0x[0-9a-f]+|\d+/gi, 'N');
  return `${kind} | ${[...guardsOff].sort().join('+') || 'all guards on'} | ${at ? `at ${at}` : msg}`;
}
