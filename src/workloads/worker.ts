/** Worker-thread entry of runJobs(): run one job, post progress and the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, TraceInputError, type Job } from './jobs.js';

const { job, stop } = workerData as { job: Job; stop: Int32Array };
try {
  const result = runJob(job, {
    onProgress: (done, total) => parentPort!.postMessage({ type: 'progress', done, total }),
    shouldStop: () => Atomics.load(stop, 0) !== 0,
  });
  parentPort!.postMessage({ type: 'result', result });
} catch (e) {
  // The trace changed since it was checked: bad input, reported by the main thread.
  if (!(e instanceof TraceInputError)) throw e;
  parentPort!.postMessage({ type: 'input-error', message: e.message });
}
