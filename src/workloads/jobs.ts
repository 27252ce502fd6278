/**
 * A replay job — one variant of one trace source, or one shard of it — and how to run many of
 * them: in this thread, or on worker threads (variants and shards are independent, so two cores
 * replay two of them at once). Reading a trace file is the only I/O here: line by line, once to
 * check it and once per job to replay it, so no pass holds more than a line of it (D15).
 */
import { Worker } from 'node:worker_threads';
import { formatTraceError, traceRecords, type TraceScan } from '../trace/parse.js';
import type { TraceRecord } from '../trace/records.js';
import { fileLines } from '../util/file_lines.js';
import { GENERATORS } from './generators/index.js';
import { POLICIES } from './policies/index.js';
import { replay, type ReplayResult } from './replay.js';
import type { Variant } from './variants.js';

export type TraceSource =
  /** `events`: the count `checkTraceFile` found (sampling and progress), so jobs need not count again. */
  | { kind: 'file'; path: string; events?: number }
  | { kind: 'generator'; name: string; params: Record<string, number | string> };

export interface Job {
  source: TraceSource;
  variant: Variant;
  shard: number;
  shards: number;
  samples: number;
}

/** A trace file that does not parse: every error as FILE:LINE:COL. */
export class TraceInputError extends Error {}

/** A file's records as traceRecords() reads them; a file that cannot be read is a TraceInputError. */
function* readTrace(path: string, scan: TraceScan): Generator<TraceRecord> {
  try {
    yield* traceRecords(fileLines(path), scan);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new TraceInputError(`${path}: cannot read the trace: ${code} (expected a readable text file)`);
  }
}

function scanError(path: string, scan: TraceScan): TraceInputError {
  return new TraceInputError(`${scan.errors.length} error(s) in ${path}:\n${scan.errors.map((e) => formatTraceError(path, e)).join('\n')}`);
}

/** Check a whole trace file, a line at a time; its event count. Throws TraceInputError naming every error. */
export function checkTraceFile(path: string): { events: number } {
  const scan: TraceScan = { errors: [], events: 0 };
  for (const _ of readTrace(path, scan));
  if (scan.errors.length) throw scanError(path, scan);
  return { events: scan.events };
}

/**
 * The records of a checked trace file, read a line at a time as they are consumed. A file that
 * changed since it was checked and no longer parses stops with a TraceInputError.
 */
export function* traceFileRecords(path: string): Generator<TraceRecord> {
  const scan: TraceScan = { errors: [], events: 0 };
  for (const r of readTrace(path, scan)) {
    if (scan.errors.length) break;
    yield r;
  }
  if (scan.errors.length) throw scanError(path, scan);
}

/** The records of a job's source (its shard of a generator), and their event count. */
export function openSource(job: Pick<Job, 'source' | 'shard' | 'shards'>): { records: Iterable<TraceRecord>; events: number } {
  if (job.source.kind === 'file') return { records: traceFileRecords(job.source.path), events: job.source.events ?? checkTraceFile(job.source.path).events };
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
      let inputError: string | undefined;
      w.on('message', (m: { type: 'progress'; done: number; total?: number } | { type: 'result'; result: ReplayResult } | { type: 'input-error'; message: string }) => {
        if (m.type === 'progress') hooks.onProgress?.(index, m.done, m.total);
        else if (m.type === 'input-error') inputError = m.message;
        else results[index] = m.result;
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (inputError !== undefined) return reject(new TraceInputError(inputError));
        if (code !== 0 || !results[index]) return reject(new Error(`replay worker for job ${index} exited with code ${code}`));
        runOne().then(resolve, reject);
      });
    });
  await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, runOne));
  return results;
}
