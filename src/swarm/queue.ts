/**
 * Campaigns on many machines (docs/swarm.md): a campaign's jobs go through a BullMQ queue on a
 * Redis server to `ptlab worker` processes anywhere, and their results come back as the jobs'
 * return values. `queuedJobs` is the campaign's JobRunner (campaign.ts assembles the results as it
 * does for local jobs); `startQueueWorker` takes jobs and runs them on worker threads.
 *
 * One BullMQ job per job of the campaign, with the id `CAMPAIGN-INDEX`, where CAMPAIGN is a digest
 * of everything a job's result depends on but its index (`campaignId`). BullMQ adds nothing for an
 * id it holds, and finished jobs are kept, so running the same campaign again enqueues only what is
 * missing and takes the results already there: an interrupted campaign resumes where it was, and a
 * longer one (more scenarios, same options) reuses the jobs of the shorter.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { z } from 'zod';
import { GUARD_NAMES } from '../mm/config.js';
import type { JobRunner } from './campaign.js';
import type { JobResult, JobSpec } from './job.js';
import { JobAborted, JobThreads } from './threads.js';

/** The one queue every ptlab campaign and worker uses (Redis keys `bull:ptlab-swarm:*`). */
export const QUEUE_NAME = 'ptlab-swarm';

/** A Redis server as `--queue redis://[USER:PASSWORD@]HOST[:PORT][/DB]` names it (`rediss://`: TLS). */
export interface RedisAddress {
  /** The URL as shown in messages (password hidden). */
  readonly shown: string;
  readonly connection: ConnectionOptions;
}

/** A URL that does not name a Redis server. */
export class QueueUrlError extends Error {}
/** The server named cannot be reached or used. */
export class QueueUnreachable extends Error {}

export function parseRedisUrl(text: string): RedisAddress {
  const bad = (why: string) => new QueueUrlError(`'${text}' is not a Redis URL: ${why} (expected redis://HOST:PORT, e.g. redis://127.0.0.1:6379)`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw bad('it does not parse as a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`the scheme is '${u.protocol.slice(0, -1)}'`);
  if (!u.hostname) throw bad('no host');
  if (u.search || u.hash) throw bad('a query or fragment');
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d{1,2}$/.test(db)) throw bad(`the path '${u.pathname}' is not a database number`);
  const port = u.port ? Number(u.port) : 6379;
  if (u.password) u.password = '***';
  const connection: ConnectionOptions = {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db: db ? Number(db) : 0,
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(new URL(text).password) }),
    ...(u.protocol === 'rediss:' && { tls: {} }),
  };
  return { shown: u.href, connection };
}

/** Connect once, without retrying, and fail with a message naming the server if that does not work. */
export async function probeRedis(addr: RedisAddress): Promise<void> {
  const q = new Queue(QUEUE_NAME, { connection: { ...addr.connection, retryStrategy: () => null, connectTimeout: 5000 } as ConnectionOptions });
  q.on('error', () => {}); // the rejected wait below says it
  try {
    await q.waitUntilReady();
  } catch (e) {
    throw new QueueUnreachable(`cannot connect to the Redis server at ${addr.shown}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await q.close().catch(() => {});
  }
}

/** Report a BullMQ object's connection errors (it reconnects by itself), each distinct message once in a row. */
function reportErrors(x: { on(event: 'error', listener: (e: Error) => void): unknown }, addr: RedisAddress, log: (s: string) => void): void {
  let last = '';
  x.on('error', (e: Error) => {
    if (e.message !== last) log(`${addr.shown}: ${e.message} (retrying)`);
    last = e.message;
  });
}

let digest: string | undefined;

/**
 * A digest of the running ptlab's code: every module of its build (dist/*.js, or src/*.ts when run
 * from source). A job's result depends on the model's code as much as on its spec, so campaigns of
 * different builds do not share jobs, and a worker refuses a job enqueued by another build.
 */
export function codeDigest(): string {
  if (digest) return digest;
  const self = fileURLToPath(import.meta.url);
  const root = path.dirname(path.dirname(self));
  const ext = path.extname(self);
  const h = crypto.createHash('sha256');
  const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(ext)).sort();
  for (const f of files) h.update(`${f.split(path.sep).join('/')}\0`).update(fs.readFileSync(path.join(root, f))).update('\0');
  digest = h.digest('hex').slice(0, 16);
  return digest;
}

/** The campaign's identity: a digest of what its jobs' results depend on (all of a JobSpec but the index, and the code). */
export function campaignId(spec: JobSpec): string {
  const what = {
    format: 'ptlab-swarm-job',
    version: 1,
    code: codeDigest(),
    seed: spec.campaignSeed,
    guardsOff: spec.guardsOff,
    budget: { dpor: spec.budget.dpor, pct: spec.budget.pct, minimize: spec.budget.minimize ?? true },
    shrink: spec.shrink !== false,
    ...(spec.explain && { explain: spec.explain }),
  };
  return crypto.createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

const jobIdOf = (campaign: string, index: number): string => `${campaign}-${index}`;

/** A job's data as a worker receives it from Redis, checked before it reaches the model. */
const jobData = z.object({
  campaign: z.string(),
  code: z.string(),
  campaignSeed: z.number().int().min(0).max(2 ** 32 - 1),
  index: z.number().int().min(0),
  guardsOff: z.array(z.enum(GUARD_NAMES)),
  budget: z.object({ dpor: z.number().int().min(1), pct: z.number().int().min(0), minimize: z.boolean().optional() }),
  shrink: z.boolean().optional(),
  explain: z
    .object({
      allow: z
        .array(z.object({ file: z.string(), line: z.number().int(), scenario: z.string(), tasks: z.array(z.string()), when: z.array(z.tuple([z.string(), z.string()])), differs: z.array(z.string()), kernel: z.string(), reason: z.string() }))
        .optional(),
    })
    .optional(),
});
/** What a BullMQ job holds: the job's spec, its campaign's id and the enqueuing build's `codeDigest`. */
type QueuedJob = JobSpec & { readonly campaign: string; readonly code: string };

const isResult = (r: unknown, index: number): r is JobResult => typeof r === 'object' && r !== null && (r as JobResult).index === index && typeof (r as JobResult).executions === 'number';

export interface QueuedJobsOptions {
  /** Messages: what was enqueued, connection trouble. */
  readonly log?: (s: string) => void;
}

/**
 * The campaign's JobRunner through the queue: enqueue the jobs Redis does not hold yet (a failed
 * one is retried), take the results of finished ones, then wait for the rest (completion events,
 * and a look at every pending job each minute in case events were missed). A stop (time, Ctrl-C)
 * stops the waiting only: the jobs stay queued and the workers go on.
 */
export function queuedJobs(addr: RedisAddress, o: QueuedJobsOptions = {}): JobRunner {
  const log = o.log ?? (() => {});
  return async (n, spec, accept, shouldStop) => {
    if (n === 0) return;
    const campaign = campaignId(spec(0));
    const queue = new Queue<QueuedJob, JobResult>(QUEUE_NAME, { connection: addr.connection });
    // From the oldest event Redis keeps: no gap between the look at the jobs and the first read.
    const events = new QueueEvents(QUEUE_NAME, { connection: addr.connection, lastEventId: '0' });
    reportErrors(queue, addr, log);
    reportErrors(events, addr, log);
    const pending = new Set<number>();
    let failure: Error | undefined;
    let scanned = false;
    const indexOf = (jobId: string): number | undefined => {
      const m = /^([0-9a-f]+)-(\d+)$/.exec(jobId);
      const i = m && m[1] === campaign ? Number(m[2]) : undefined;
      return i !== undefined && pending.has(i) ? i : undefined;
    };
    const take = (i: number, value: unknown): void => {
      if (!pending.delete(i)) return;
      if (isResult(value, i)) accept(value);
      else failure ??= new Error(`swarm job ${i} (${jobIdOf(campaign, i)}): a worker returned a malformed result`);
    };
    /** Look at one job: take a finished one's result; a failed one fails the campaign, or is retried (`retry`). */
    const look = async (i: number, retry: boolean): Promise<'missing' | 'done' | 'retried' | 'pending'> => {
      const job = await queue.getJob(jobIdOf(campaign, i));
      if (!job) return 'missing';
      const state = await job.getState();
      if (state === 'completed') {
        take(i, job.returnvalue);
        return 'done';
      }
      if (state === 'failed') {
        if (retry) {
          await job.retry('failed');
          return 'retried';
        }
        failure ??= new Error(`swarm job ${i} (${job.id}) failed on a worker: ${job.failedReason}`);
      }
      return 'pending';
    };
    const lookAll = async (indexes: readonly number[], retry: boolean): Promise<Map<string, number[]>> => {
      const by = new Map<string, number[]>();
      for (let k = 0; k < indexes.length; k += 200) {
        const chunk = indexes.slice(k, k + 200);
        const states = await Promise.all(chunk.map((i) => look(i, retry)));
        states.forEach((s, j) => {
          const list = by.get(s) ?? [];
          list.push(chunk[j]);
          by.set(s, list);
        });
      }
      return by;
    };
    try {
      events.on('completed', ({ jobId, returnvalue }) => {
        const i = indexOf(jobId);
        if (i !== undefined) take(i, returnvalue);
      });
      // A failure is checked against the job's state: an old event may name a job retried since.
      events.on('failed', ({ jobId }) => {
        const i = indexOf(jobId);
        if (i !== undefined && scanned) void look(i, false).catch(() => {});
      });
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      for (let i = 0; i < n; i++) pending.add(i);
      const first = await lookAll([...pending], true);
      scanned = true;
      const missing = first.get('missing') ?? [];
      for (let k = 0; k < missing.length; k += 1000) {
        const add = missing.slice(k, k + 1000).map((i) => ({
          name: campaign,
          data: { campaign, code: codeDigest(), ...spec(i) },
          opts: { jobId: jobIdOf(campaign, i), removeOnComplete: false, removeOnFail: false, attempts: 1 },
        }));
        await queue.addBulk(add);
      }
      const count = (s: string) => first.get(s)?.length ?? 0;
      log(
        `queue ${addr.shown}: campaign ${campaign}: ${n} job(s): ${missing.length} enqueued, ${count('done')} already finished, ` +
          `${count('pending')} waiting or running${count('retried') ? `, ${count('retried')} failed before and retried` : ''}`,
      );
      let lastLook = Date.now();
      while (pending.size && !failure && !shouldStop()) {
        await new Promise((r) => setTimeout(r, 200));
        if (Date.now() - lastLook > 60_000) {
          await lookAll([...pending], false);
          lastLook = Date.now();
        }
      }
      if (failure) throw failure;
    } finally {
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
    }
  };
}

export interface QueueWorkerOptions {
  /** Jobs at once, each on its own worker thread. */
  readonly concurrency: number;
  readonly log?: (s: string) => void;
  /** A job starts (its spec checked). */
  readonly onStart?: (spec: JobSpec) => void;
  /** A job finished; its result goes back to Redis. */
  readonly onDone?: (r: JobResult) => void;
}

export interface QueueWorker {
  /** Stop taking jobs; a job in flight is stopped and put back in the queue for any worker. */
  close(): Promise<void>;
}

/** Take jobs from the queue at `addr` until closed. Call `probeRedis` first for a clear error on a bad server. */
export async function startQueueWorker(addr: RedisAddress, o: QueueWorkerOptions): Promise<QueueWorker> {
  const threads = new JobThreads(o.concurrency);
  let closing = false;
  const putBack = async (job: Job<unknown, JobResult>, token: string | undefined): Promise<never> => {
    await job.moveToWait(token);
    throw new WaitingError();
  };
  const worker = new Worker<unknown, JobResult>(
    QUEUE_NAME,
    async (job, token, signal) => {
      if (closing) return putBack(job, token);
      const data = jobData.safeParse(job.data);
      if (!data.success) throw new UnrecoverableError(`job ${job.id}: not a ptlab swarm job: ${data.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      const spec: QueuedJob = data.data;
      if (spec.code !== codeDigest()) throw new UnrecoverableError(`job ${job.id} was enqueued by another ptlab build (code ${spec.code}, this worker's ${codeDigest()}): run the same ptlab on every machine`);
      o.onStart?.(spec);
      try {
        const r = await threads.run(spec, signal);
        o.onDone?.(r);
        return r;
      } catch (e) {
        if (e instanceof JobAborted) return putBack(job, token);
        throw e;
      }
    },
    { connection: addr.connection, concurrency: o.concurrency },
  );
  if (o.log) reportErrors(worker, addr, o.log);
  else worker.on('error', () => {});
  await worker.waitUntilReady();
  return {
    async close() {
      closing = true;
      const closed = worker.close();
      worker.cancelAllJobs('ptlab worker closing');
      await closed;
      await threads.close();
    },
  };
}
