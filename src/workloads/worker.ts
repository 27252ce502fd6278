/** Worker-thread entry of runJobs(): run one job, post progress and the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, type Job } from './jobs.js';

const { job, stop } = workerData as { job: Job; stop: Int32Array };
const result = runJob(job, {
  onProgress: (done, total) => parentPort!.postMessage({ type: 'progress', done, total }),
  shouldStop: () => Atomics.load(stop, 0) !== 0,
});
parentPort!.postMessage({ type: 'result', result });
