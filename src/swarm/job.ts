/**
 * One job of a swarm campaign: generate the scenario of job `index`, search it, and for a finding
 * shrink the scenario and search the smallest one again with schedule minimization, giving a
 * ready-to-run .scn text. Pure (no I/O, no clock): the result is a function of the job, so a
 * campaign's results do not depend on how many workers ran it. Runs in a worker thread
 * (worker.ts) or in the calling thread.
 */
import type { GuardName } from '../mm/config.js';
import { emit, generate, jobSeed, parse, type Feature } from './generate.js';
import { findingKey, LONG_PATH_STEPS, MODEL_BUG, searchScenario, STEP_LIMIT, type SearchBudget } from './search.js';
import { shrink } from './shrink.js';
import type { ExplainOptions } from '../scenarios/explain.js';

export interface JobSpec {
  readonly campaignSeed: number;
  readonly index: number;
  readonly guardsOff: readonly GuardName[];
  readonly budget: SearchBudget;
  /** Shrink a failing scenario (default true). */
  readonly shrink?: boolean;
  /**
   * Sequential explainability (src/scenarios/explain.ts) with this allow-list: an outcome no
   * sequential order gives is a finding of kind `anomaly`. Off by default (docs/swarm.md: its cost).
   */
  readonly explain?: ExplainOptions;
}

export interface JobFinding {
  readonly kind: string;
  readonly message: string;
  /** Dedup key (search.ts findingKey). */
  readonly key: string;
  /** Replay token of the minimized schedule in the shrunk scenario; absent for a model-bug. */
  readonly token?: string;
  readonly phase: 'dpor' | 'pct' | 'setup';
  /** Executions of this job's first search up to the failing one. */
  readonly executionsToFind: number;
  /** The shrunk scenario, ready to run. */
  readonly scn: string;
  readonly linesBefore: number;
  readonly linesAfter: number;
  readonly shrinkSteps: number;
}

export interface JobResult {
  readonly index: number;
  readonly seed: number;
  readonly features: readonly Feature[];
  /** Executions of the job's search (shrinking not counted). */
  readonly executions: number;
  /** DPOR ran out of schedules within the budget. */
  readonly complete: boolean;
  readonly finding?: JobFinding;
}

const taskLines = (text: string): number => text.split('\n').filter((l) => l && !l.startsWith('#') && !/^(scenario|about|guard|violation) /.test(l)).length;

export function runJob(job: JobSpec): JobResult {
  const seed = jobSeed(job.campaignSeed, job.index);
  const g = generate(seed);
  const budget = job.explain ? { ...job.budget, explain: job.explain } : job.budget;
  const found = searchScenario(g.scenario, job.guardsOff, budget, seed);
  const base = { index: job.index, seed, features: g.features, executions: found.executions };
  if (found.status === 'clean') return { ...base, complete: found.complete };
  const s = job.shrink === false ? { gen: g.gen, outcome: found, steps: 0 } : shrink(g.gen, found, job.guardsOff, budget, seed);
  // The saved scenario's token: the shrunk scenario searched again, its schedule minimized.
  let final = s.outcome;
  if (s.steps > 0 || !final.token) {
    const again = searchScenario(parse(emit(s.gen, { name: 'x', about: 'x' }), 'x.scn'), job.guardsOff, budget, seed);
    if (again.status === 'violation' && again.kind === found.kind) final = again;
  }
  const scn = findingText(s.gen, { seed, campaignSeed: job.campaignSeed, index: job.index, guardsOff: job.guardsOff, kind: final.kind, message: final.message, token: final.token, phase: final.phase, explain: !!job.explain });
  const finding: JobFinding = {
    kind: final.kind,
    message: final.message,
    key: findingKey(final.kind, job.guardsOff, final.message, final.at),
    ...(final.token !== undefined && { token: final.token }),
    phase: found.phase,
    executionsToFind: found.executions,
    scn,
    linesBefore: taskLines(g.text),
    linesAfter: taskLines(scn),
    shrinkSteps: s.steps,
  };
  return { ...base, complete: false, finding };
}

interface FindingInfo {
  seed: number;
  campaignSeed: number;
  index: number;
  guardsOff: readonly GuardName[];
  kind: string;
  message: string;
  token?: string;
  phase: string;
  explain: boolean;
}

/** A finding as a .scn file: header naming how it was made, the replay command, the scenario. */
function findingText(g: Parameters<typeof emit>[0], f: FindingInfo): string {
  const name = `swarm_${f.seed}_${f.kind.replace(/-/g, '_')}`;
  const guardsOff = f.guardsOff.length ? f.guardsOff.join(' ') : 'none';
  const replay = f.token
    ? `replay: ptlab explore ${name}.scn${f.guardsOff.map((x) => ` --guard ${x}=off`).join('')}${f.explain ? ' --explain' : ''}${f.kind === STEP_LIMIT ? ` --max-steps ${LONG_PATH_STEPS}` : ''} --replay '${f.token}'`
    : f.phase === 'setup'
      ? 'no replay token: the setup alone fails (ptlab explore FILE shows the violation)'
      : 'no replay token: the model threw (not a sanitizer violation); ptlab explore FILE shows the error';
  const header = {
    name,
    about: `generated by ptlab swarm (campaign seed ${f.campaignSeed}, job ${f.index}, scenario seed ${f.seed}), shrunk; guards off: ${guardsOff}; found by ${f.phase}: ${f.kind}: ${f.message.split('\n')[0]}`,
    guards: f.guardsOff,
    comments: [`token ${f.token ?? '-'}`, replay],
  };
  // `violation` takes only the sanitizers' kinds; a model-bug is said in the header alone.
  if (f.kind !== MODEL_BUG) {
    const text = emit(g, { ...header, violation: f.kind });
    try {
      parse(text, `${name}.scn`);
      return text;
    } catch {
      // a kind the format does not know: leave the line out
    }
  }
  return emit(g, header);
}
