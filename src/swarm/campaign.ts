/**
 * A swarm campaign (docs/swarm.md): N generated scenarios, each searched within a budget with the
 * chosen guards off, on worker threads. Each finding is written as a .scn file into the findings
 * folder the moment its job finishes (so an interruption loses no finished job); at the end a JSON
 * summary is written atomically. Findings are deduplicated by key (search.ts); of the jobs that
 * found the same key the one with the lowest index represents it, so the summary, the files and
 * every count in them are the same whatever the number of workers (a time limit only decides how
 * many jobs run).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GuardName } from '../mm/config.js';
import { writeFileAtomic } from '../util/atomic.js';
import { runJob, type JobFinding, type JobResult, type JobSpec } from './job.js';
import type { SearchBudget } from './search.js';
import type { ExplainOptions } from '../scenarios/explain.js';
import { JobAborted, JobThreads } from './threads.js';

export interface CampaignOptions {
  readonly seed: number;
  readonly scenarios: number;
  readonly budget: SearchBudget;
  readonly guardsOff: readonly GuardName[];
  /** Worker threads; 0 runs every job in this thread. Default os.availableParallelism() − 1, at least 1. */
  readonly workers?: number;
  /** Where the jobs run (default: `localJobs(workers)`; queue.ts's `queuedJobs`: ptlab worker processes). */
  readonly jobs?: JobRunner;
  /** Stop handing out jobs after this many seconds. */
  readonly seconds?: number;
  /** Findings folder (a .scn per finding) and `campaign.json`; nothing is written without it. */
  readonly out?: string;
  readonly shrink?: boolean;
  /** Sequential explainability in every job (job.ts); off by default. */
  readonly explain?: ExplainOptions;
  /** Stop handing out jobs once a finding satisfies this (the rediscovery benchmark). */
  readonly stopWhen?: (f: JobFinding) => boolean;
  /** Set [0] to 1 to stop handing out jobs (SIGINT); running jobs are abandoned. */
  readonly stopFlag?: Int32Array;
  /**
   * Called as each result arrives, and every `progressEveryMs` (default 1000) while jobs run: a
   * job can take minutes, and a progress line that waited for results would fall silent meanwhile.
   */
  readonly onProgress?: (p: CampaignProgress) => void;
  readonly progressEveryMs?: number;
  readonly clock?: () => number;
}

export interface CampaignProgress {
  readonly done: number;
  readonly total: number;
  readonly executions: number;
  readonly findings: number;
  readonly elapsedMs: number;
}

export interface CampaignFinding extends JobFinding {
  /** The job that represents the finding (the lowest index that found its key). */
  readonly index: number;
  readonly seed: number;
  /** Jobs that found the same key. */
  readonly count: number;
  /** Executions of every job before it, in index order, plus its own up to the failing one. */
  readonly executionsToFind: number;
  /** Seconds from the start until the representative job finished (wall clock: varies). */
  readonly secondsToFind: number;
  /** The .scn file, relative to the output folder, when one was written. */
  readonly file?: string;
}

export interface CampaignSummary {
  readonly format: 'ptlab-swarm';
  readonly version: 1;
  readonly seed: number;
  readonly scenarios: number;
  readonly budget: SearchBudget;
  readonly guardsOff: readonly GuardName[];
  /** Jobs that ran to their end (all of them unless stopped). */
  readonly done: number;
  readonly stopped: 'no' | 'time' | 'found' | 'interrupted';
  readonly executions: number;
  /** Jobs whose DPOR search ran out of schedules within the budget. */
  readonly complete: number;
  readonly seconds: number;
  readonly findings: readonly CampaignFinding[];
}

export function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/** A finding's file name: its kind and a digest of its key. */
export function findingFile(f: Pick<JobFinding, 'kind' | 'key'>): string {
  return `${f.kind}-${crypto.createHash('sha256').update(f.key).digest('hex').slice(0, 10)}.scn`;
}

/**
 * Where a campaign's jobs run: given the job count, each job's spec, the function that takes a
 * result (in any order, each job once) and the stop test, run jobs until all are done or
 * `shouldStop()` turns true. `localJobs` runs them in this process; queue.ts's `queuedJobs` sends
 * them through Redis to `ptlab worker` processes. Everything else (files, counts, dedup, the
 * summary) is runCampaign's, the same for both.
 */
export type JobRunner = (n: number, spec: (index: number) => JobSpec, accept: (r: JobResult) => void, shouldStop: () => boolean) => Promise<void>;

export async function runCampaign(o: CampaignOptions): Promise<CampaignSummary> {
  const clock = o.clock ?? (() => performance.now());
  const t0 = clock();
  const elapsed = () => clock() - t0;
  const stopFlag = o.stopFlag ?? new Int32Array(new SharedArrayBuffer(4));
  const results: (JobResult | undefined)[] = new Array(o.scenarios);
  const foundAt = new Map<number, number>(); // job index → ms when its result arrived
  const written = new Map<string, number>(); // finding file → index of the job whose text it holds
  let stopped: CampaignSummary['stopped'] = 'no';
  let done = 0;
  let executions = 0;
  const keys = new Set<string>();
  if (o.out) fs.mkdirSync(o.out, { recursive: true });

  const spec = (index: number): JobSpec => ({ campaignSeed: o.seed, index, guardsOff: o.guardsOff, budget: o.budget, shrink: o.shrink, ...(o.explain && { explain: o.explain }) });
  const shouldStop = (): boolean => {
    if (stopped !== 'no') return true;
    if (Atomics.load(stopFlag, 0) !== 0) stopped = 'interrupted';
    else if (o.seconds !== undefined && elapsed() >= o.seconds * 1000) stopped = 'time';
    return stopped !== 'no';
  };
  const accept = (r: JobResult): void => {
    if (results[r.index]) return; // a queue may deliver a result twice
    results[r.index] = r;
    done++;
    executions += r.executions;
    const f = r.finding;
    if (f) {
      foundAt.set(r.index, elapsed());
      keys.add(f.key);
      const file = findingFile(f);
      const prev = written.get(file);
      if (o.out && (prev === undefined || r.index < prev)) {
        writeFileAtomic(path.join(o.out, file), f.scn);
        written.set(file, r.index);
      }
      if (o.stopWhen?.(f) && stopped === 'no') stopped = 'found';
    }
    report();
  };
  const report = (): void => o.onProgress?.({ done, total: o.scenarios, executions, findings: keys.size, elapsedMs: elapsed() });

  const heartbeat = o.onProgress ? setInterval(report, o.progressEveryMs ?? 1000) : undefined;
  try {
    await (o.jobs ?? localJobs(o.workers ?? defaultWorkers()))(o.scenarios, spec, accept, shouldStop);
  } finally {
    clearInterval(heartbeat);
  }
  if (stopped === 'no' && Atomics.load(stopFlag, 0) !== 0) stopped = 'interrupted';

  const summary = summarize(o, results, foundAt, stopped, elapsed());
  if (o.out) writeFileAtomic(path.join(o.out, 'campaign.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** Jobs in this process, handed out in index order: on `workers` threads, or in this thread for 0. */
export function localJobs(workers: number): JobRunner {
  if (workers > 0) return (n, spec, accept, shouldStop) => runOnThreads(n, Math.min(workers, n), spec, accept, shouldStop);
  return (n, spec, accept, shouldStop) => {
    for (let i = 0; i < n && !shouldStop(); i++) accept(runJob(spec(i)));
    return Promise.resolve();
  };
}

/**
 * One job at a time per thread, in index order. When `shouldStop` turns true no new job starts;
 * jobs still running are abandoned (their threads terminated).
 */
async function runOnThreads(n: number, threads: number, spec: (i: number) => JobSpec, accept: (r: JobResult) => void, shouldStop: () => boolean): Promise<void> {
  const pool = new JobThreads(threads);
  const stop = new AbortController();
  // A stop while every thread is busy with a long job should not wait for them.
  const poll = setInterval(() => {
    if (shouldStop()) stop.abort();
  }, 200);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n && !shouldStop()) accept(await pool.run(spec(next++), stop.signal));
  };
  try {
    await Promise.all(Array.from({ length: threads }, lane));
  } catch (e) {
    if (!(e instanceof JobAborted)) throw e;
  } finally {
    stop.abort();
    clearInterval(poll);
    await pool.close();
  }
}

function summarize(o: CampaignOptions, results: readonly (JobResult | undefined)[], foundAt: ReadonlyMap<number, number>, stopped: CampaignSummary['stopped'], ms: number): CampaignSummary {
  const byKey = new Map<string, CampaignFinding>();
  let before = 0;
  let executions = 0;
  let done = 0;
  let complete = 0;
  for (const r of results) {
    if (!r) continue;
    done++;
    executions += r.executions;
    if (r.complete) complete++;
    const f = r.finding;
    if (f) {
      const prev = byKey.get(f.key);
      if (prev) byKey.set(f.key, { ...prev, count: prev.count + 1 });
      else {
        const file = o.out ? findingFile(f) : undefined;
        byKey.set(f.key, { ...f, index: r.index, seed: r.seed, count: 1, executionsToFind: before + f.executionsToFind, secondsToFind: (foundAt.get(r.index) ?? 0) / 1000, ...(file && { file }) });
      }
    }
    before += r.executions;
  }
  return {
    format: 'ptlab-swarm',
    version: 1,
    seed: o.seed,
    scenarios: o.scenarios,
    budget: o.budget,
    guardsOff: o.guardsOff,
    done,
    stopped,
    executions,
    complete,
    seconds: Math.round(ms / 100) / 10,
    findings: [...byKey.values()],
  };
}
