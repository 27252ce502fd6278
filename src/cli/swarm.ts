/**
 * `ptlab swarm`: a campaign of generated scenarios (src/swarm, docs/swarm.md).
 * Exit codes: 0 no findings, 1 findings, 2 bad input.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { GUARD_NAMES, type GuardName } from '../mm/config.js';
import { parseGuard } from './explore.js';
import { parseIntOption } from './options.js';

const int = (name: string, v: string, min: number, max: number): number => parseIntOption(`--${name}`, v, min, max);
import { mergeSwarmRuns, renderSwarmBench, swarmBench, type SwarmBenchResult } from '../bench/swarm.js';
import { defaultWorkers, runCampaign } from '../swarm/campaign.js';
import { queuedJobs, type RedisAddress } from '../swarm/queue.js';
import { progressLine } from './progress.js';
import { EXIT, UsageError, writeBenchResult } from './util.js';
import { queueArg, reachQueue } from './worker.js';
import { loadAllowList } from '../scenarios/registry.js';
import { writeCampaignReport } from './swarm_report.js';

interface SwarmCliOptions {
  seed: string;
  scenarios: string;
  budget: string;
  pct: string;
  guard: GuardName[];
  seconds?: string;
  out: string;
  workers?: string;
  queue?: RedisAddress;
  shrink: boolean;
  explain?: boolean;
}

export function registerSwarm(program: Command): void {
  program
    .command('swarm')
    .description('generate scenarios and search them for violations (swarm testing; docs/swarm.md)')
    .option('--seed <n>', 'campaign seed: the same seed generates the same scenarios', '1')
    .option('--scenarios <n>', 'how many scenarios to generate and search', '200')
    .option('--budget <n>', 'DPOR executions per scenario before falling back to PCT', '2000')
    .option('--pct <n>', 'PCT executions per scenario when DPOR did not finish (0: none)', '300')
    .option('--guard <NAME=off>', 'switch a guard off in every scenario (repeatable; default: all guards on)', parseGuard, [])
    .option('--seconds <s>', 'stop starting scenarios after this long (running ones are dropped)')
    .option('--out <dir>', 'findings folder: one .scn per distinct finding with its trace (.explore.json, .html race view), campaign.json and campaign.html', 'swarm-findings')
    .option('--workers <n>', `worker threads (default: available cores - 1, at least 1; here ${defaultWorkers()}); 0 runs in this thread`)
    .option('--queue <url>', 'run the scenarios on `ptlab worker` processes through this Redis server (redis://HOST:PORT) instead of here', queueArg)
    .option('--no-shrink', 'keep failing scenarios as generated')
    .option('--explain', 'also check sequential explainability (an anomaly is a finding; scenarios/anomalies.allow applies; docs/explorer.md)')
    .addHelpText(
      'after',
      `
Each scenario is generated from the campaign seed and its number, searched completely by DPOR if it
fits the budget, else sampled by PCT; a violation is minimized (schedule) and shrunk (scenario) and
written to the findings folder as a .scn with its replay token, as soon as it is found. Findings
are deduplicated by violation kind, guards off, and the message's first line without numbers.
Results do not depend on --workers (--seconds only decides how many scenarios run).
Ctrl-C stops the campaign: findings already written stay, campaign.json is written.

With --queue the scenarios become jobs in Redis, run by \`ptlab worker --queue URL\` on any
machine, and the findings folder is the same as without. The same command again takes the results
already in Redis and enqueues only what is missing, so after Ctrl-C or a crash it resumes (jobs
stay queued while no campaign waits). --seconds and Ctrl-C stop the waiting, not the workers.

Example: rediscover race R12 with its guard off, then run the finding
  ptlab swarm --guard reclaim-range-check=off --scenarios 100 --budget 500 --out /tmp/f
  ptlab explore /tmp/f/nonempty-detach-*.scn --guard-off
The same on the machines that run \`ptlab worker --queue redis://db1:6379\` (ptlab worker --help)
  ptlab swarm --queue redis://db1:6379 --guard reclaim-range-check=off --scenarios 100 --budget 500 --out /tmp/f

Exit codes: 0 no findings, 1 findings (see --out) or the --queue server cannot be reached, 2 bad input.
Guards: ${GUARD_NAMES.join(', ')}`,
    )
    .action(async (o: SwarmCliOptions) => {
      const seed = int('seed', o.seed, 0, 2 ** 32 - 1);
      const scenarios = int('scenarios', o.scenarios, 1, 1e7);
      const budget = { dpor: int('budget', o.budget, 1, 1e9), pct: int('pct', o.pct, 0, 1e9) };
      const workers = o.workers === undefined ? undefined : int('workers', o.workers, 0, 256);
      const seconds = o.seconds === undefined ? undefined : Number(o.seconds);
      if (seconds !== undefined && !(seconds > 0)) throw new UsageError(`--seconds: expected a positive number, got '${o.seconds}'`);
      if (o.queue && workers !== undefined) throw new UsageError('--workers: not with --queue (the scenarios run in `ptlab worker` processes, each with its --concurrency)');
      const allow = o.explain ? loadAllowList() : undefined;
      if (allow && !allow.ok) throw new UsageError(allow.errors.join('\n'));
      const explain = allow?.ok ? { allow: allow.entries } : undefined;
      if (o.queue) await reachQueue(o.queue);
      const jobs = o.queue ? queuedJobs(o.queue, { log: (s) => process.stderr.write(`swarm: ${s}\n`) }) : undefined;
      const stopFlag = new Int32Array(new SharedArrayBuffer(4));
      const onSigint = () => Atomics.store(stopFlag, 0, 1);
      process.once('SIGINT', onSigint);
      const progress = progressLine('swarm');
      let summary;
      try {
        summary = await runCampaign({ seed, scenarios, budget, guardsOff: o.guard, workers, jobs, seconds, out: o.out, shrink: o.shrink, explain, stopFlag, onProgress: (p) => progress.update(p) });
      } finally {
        progress.done();
        process.off('SIGINT', onSigint);
      }
      const guards = o.guard.length ? o.guard.join(', ') : 'none';
      process.stdout.write(
        `swarm seed ${seed}: ${summary.done}/${scenarios} scenarios (${summary.complete} searched completely), ` +
          `${summary.executions.toLocaleString('en-US')} executions in ${summary.seconds} s, guards off: ${guards}${summary.stopped === 'no' ? '' : `; stopped (${summary.stopped})`}\n`,
      );
      for (const f of summary.findings) {
        process.stdout.write(`\n${f.kind}: ${f.message.split('\n')[0]}\n  ${f.count} scenario(s), first job ${f.index} (seed ${f.seed}), ${f.linesBefore} -> ${f.linesAfter} lines\n  ${path.join(o.out, f.file ?? '')}\n`);
      }
      const report = writeCampaignReport(o.out, summary);
      for (const n of report.notes) process.stderr.write(`swarm: ${n}\n`);
      process.stdout.write(summary.findings.length ? `\n${summary.findings.length} finding(s); summary in ${path.join(o.out, 'campaign.json')}, report in ${report.html}\n` : 'no findings\n');
      process.exitCode = summary.findings.length ? EXIT.FAIL : EXIT.OK;
    });
}

/**
 * `ptlab bench --swarm`: the rediscovery benchmark (src/bench/swarm.ts), written to `output` (.md
 * and .json). With `only`, just those guards' campaigns, merged into the full result already in
 * the .json (mergeSwarmRuns(): same limit, seed and budget, rows marked with commit and date).
 */
export async function benchSwarm(output: string, perGuard: string, workersOpt: string | undefined, log: (s: string) => void, only: readonly string[] = []): Promise<void> {
  const seconds = Number(perGuard);
  if (!(seconds > 0)) throw new UsageError(`--per-guard: expected a positive number of seconds, got '${perGuard}'`);
  const workers = workersOpt === undefined ? defaultWorkers() : int('workers', workersOpt, 0, 256);
  const progress = progressLine('swarm');
  const allow = loadAllowList();
  if (!allow.ok) throw new UsageError(allow.errors.join('\n'));
  for (const g of only) if (!GUARD_NAMES.includes(g as GuardName)) throw new UsageError(`--guard: expected a guard name (${GUARD_NAMES.join(', ')}), got '${g}'`);
  const json = output.replace(/\.md$/, '.json');
  const earlier = only.length ? readEarlierResult(json) : undefined;
  if (earlier && earlier.seconds !== seconds) throw new UsageError(`--guard: ${json} was made with --per-guard ${earlier.seconds}; its rows compare only with runs of the same limit (got ${seconds})`);
  const r = await swarmBench({ seconds, seed: 1, budget: { dpor: 1000, pct: 200 }, ...(only.length && { only: only as GuardName[] }), workers, out: `${path.dirname(output)}/swarm-findings`, explain: { allow: allow.entries }, log, onProgress: (p) => progress.update(p) }, os.availableParallelism());
  progress.done();
  const result = earlier ? mergeSwarmRuns(earlier, r, { commit: headCommit(), date: new Date().toISOString().slice(0, 10) }) : r;
  writeBenchResult(output, renderSwarmBench(result), result);
  process.exitCode = EXIT.OK;
}

/** The full result a `--guard` run is merged into: an earlier full `bench --swarm` at `json`. */
function readEarlierResult(json: string): SwarmBenchResult {
  if (!fs.existsSync(json)) throw new UsageError(`--guard: re-runs some guards of an earlier full run, but ${json} does not exist (run bench --swarm without --guard first)`);
  let r: Partial<SwarmBenchResult> | null;
  try {
    r = JSON.parse(fs.readFileSync(json, 'utf8')) as Partial<SwarmBenchResult> | null;
  } catch (e) {
    throw new UsageError(`--guard: ${json}: ${(e as Error).message} (expected the JSON of a full bench --swarm run)`);
  }
  if (!r || !Array.isArray(r.runs) || !r.control || typeof r.seconds !== 'number') throw new UsageError(`--guard: ${json} is not the result of a full bench --swarm run (expected its runs, control campaign and limit)`);
  return r as SwarmBenchResult;
}

/** The checked-out commit (short), for the rows a `--guard` run replaces; `unknown` outside git. */
function headCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
