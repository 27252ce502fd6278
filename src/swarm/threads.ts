/**
 * Worker threads that run swarm jobs (worker.ts), one job at a time each: the local campaign
 * (campaign.ts) and `ptlab worker` (queue.ts) both hand their jobs to these. A job is synchronous
 * model code, so it can only be stopped by terminating its thread: an aborted run rejects with
 * `JobAborted` and its thread is replaced by a fresh one on the next run.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { JobResult, JobSpec } from './job.js';

type Reply = { type: 'result'; result: JobResult } | { type: 'error'; index: number; message: string };

/** A run stopped by its signal, or by `close()`. */
export class JobAborted extends Error {}

export class JobThreads {
  private readonly idle: Worker[] = [];
  private readonly waiting: { give: (w: Worker) => void; refuse: (e: Error) => void }[] = [];
  private readonly live = new Set<Worker>();
  private closed = false;

  constructor(private readonly size: number) {}

  /** Run `spec` on a free thread (waiting for one); reject with `JobAborted` when `signal` aborts first. */
  async run(spec: JobSpec, signal?: AbortSignal): Promise<JobResult> {
    const w = await this.take();
    return new Promise<JobResult>((resolve, reject) => {
      const settle = (keep: boolean, f: () => void): void => {
        w.off('message', onMessage);
        w.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        if (keep) this.give(w);
        else this.drop(w);
        f();
      };
      const onMessage = (m: Reply): void => settle(true, () => (m.type === 'result' ? resolve(m.result) : reject(new Error(`swarm job ${m.index} failed: ${m.message}`))));
      const onError = (e: Error): void => settle(false, () => reject(e));
      const onAbort = (): void => settle(false, () => reject(new JobAborted(`swarm job ${spec.index} aborted`)));
      if (signal?.aborted || this.closed) return onAbort();
      w.on('message', onMessage);
      w.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      w.postMessage(spec);
    });
  }

  /** Terminate every thread; runs waiting for a thread reject with `JobAborted`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const x of this.waiting.splice(0)) x.refuse(new JobAborted('job threads closed'));
    await Promise.all([...this.live].map((w) => w.terminate()));
    this.live.clear();
    this.idle.length = 0;
  }

  private take(): Promise<Worker> {
    if (this.closed) return Promise.reject(new JobAborted('job threads closed'));
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.live.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((give, refuse) => this.waiting.push({ give, refuse }));
  }

  private give(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next.give(w);
    else this.idle.push(w);
  }

  /** A thread that was terminated or failed: forget it, and start a fresh one for a waiting run. */
  private drop(w: Worker): void {
    this.live.delete(w);
    void w.terminate();
    const next = this.waiting.shift();
    if (next) next.give(this.spawn());
  }

  private spawn(): Worker {
    // Under a TypeScript loader (tests) the worker is the .ts module, loaded through tsx.
    const ts = import.meta.url.endsWith('.ts');
    const url = new URL(ts ? './worker.ts' : './worker.js', import.meta.url);
    const w = ts ? new Worker(tsBootstrap(url), { eval: true }) : new Worker(url);
    this.live.add(w);
    // A thread that fails between jobs is forgotten (a failure during a job is that run's).
    w.on('error', () => {
      const i = this.idle.indexOf(w);
      if (i >= 0) {
        this.idle.splice(i, 1);
        this.live.delete(w);
      }
    });
    return w;
  }
}

/** A worker that registers tsx's loader, then imports the TypeScript worker module (tests run from src/). */
function tsBootstrap(url: URL): string {
  const api = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs'); // the ESM build of the API
  return `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
}
