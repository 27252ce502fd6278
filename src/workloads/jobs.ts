/**
 * A replay job — one variant of one trace source, or one shard of it — and how to run many of
 * them: in this thread, or on worker threads (variants and shards are independent, so two cores
 * replay two of them at once). Reading a trace file is the only I/O here.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseTrace, formatTraceError } from '../trace/parse.js';
import type { TraceRecord } from '../trace/records.js';
import { GENERATORS } from './generators/index.js';
import { POLICIES } from './policies/index.js';
import { replay, type ReplayResult } from './replay.js';
import type { Variant } from './variants.js';

export type TraceSource = { kind: 'file'; path: string } | { kind: 'generator'; name: string; params: Record<string, number | string> };

export interface Job {
  source: TraceSource;
  variant: Variant;
  shard: number;
  shards: number;
  samples: number;
}

/** A trace file that does not parse: every error as FILE:LINE:COL. */
export class TraceInputError extends Error {}

export function loadTraceFile(path: string): { records: TraceRecord[]; events: number } {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new TraceInputError(`cannot read trace ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const r = parseTrace(text);
  if (!r.ok) throw new TraceInputError(`${r.errors.length} error(s) in ${path}:\n${r.errors.map((e) => formatTraceError(path, e)).join('\n')}`);
  return r;
}

/** The records of a job's source (its shard of a generator), and their event count. */
export function openSource(job: Pick<Job, 'source' | 'shard' | 'shards'>): { records: Iterable<TraceRecord>; events: number } {
  if (job.source.kind === 'file') return loadTraceFile(job.source.path);
  const gen = GENERATORS[job.source.name];
  const params = { ...job.source.params };
  if (job.shards > 1) Object.assign(params, { shard: job.shard, shards: job.shards });
  return gen.generate(params);
}

export interface JobHooks {
  onProgress?: (done: number, total: number | undefined) => void;
  shouldStop?: () => boolean;
}

export function runJob(job: Job, hooks: JobHooks = {}): ReplayResult {
  const src = openSource(job);
  return replay(src.records, {
    label: job.variant.label,
    config: job.variant.config,
    policies: job.variant.policies.map((p) => POLICIES[p].make()),
    events: src.events,
    samples: job.samples,
    now: () => performance.now(),
    ...hooks,
  });
}

export interface PoolHooks {
  /** Called with (job index, events done, events total). */
  onProgress?: (job: number, done: number, total: number | undefined) => void;
  /** Set [0] to 1 to make every job stop and report what it has. */
  stopFlag?: Int32Array;
}

/**
 * Run jobs on up to `workers` worker threads, or one after another in this thread (`workers` 0).
 * Only jobs on workers can be stopped (stopFlag) while they run: this thread stays free to take
 * the signal. Worker threads need the compiled build (dist/): the worker module is loaded next to
 * this file as JavaScript.
 */
export async function runJobs(jobs: Job[], workers: number, hooks: PoolHooks = {}): Promise<ReplayResult[]> {
  const stop = hooks.stopFlag ?? new Int32Array(new SharedArrayBuffer(4));
  const shouldStop = () => Atomics.load(stop, 0) !== 0;
  if (workers === 0) return jobs.map((job, i) => runJob(job, { onProgress: (d, t) => hooks.onProgress?.(i, d, t), shouldStop }));
  const workerUrl = new URL('./worker.js', import.meta.url);
  const results: ReplayResult[] = new Array(jobs.length);
  let next = 0;
  const runOne = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (next >= jobs.length) return resolve();
      const index = next++;
      const w = new Worker(workerUrl, { workerData: { job: jobs[index], stop } });
      w.on('message', (m: { type: 'progress'; done: number; total?: number } | { type: 'result'; result: ReplayResult }) => {
        if (m.type === 'progress') hooks.onProgress?.(index, m.done, m.total);
        else results[index] = m.result;
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (code !== 0 || !results[index]) return reject(new Error(`replay worker for job ${index} exited with code ${code}`));
        runOne().then(resolve, reject);
      });
    });
  await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, runOne));
  return results;
}
