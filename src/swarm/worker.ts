/** Worker-thread entry of a swarm campaign (campaign.ts): run each job it is sent, post its result. */
import { parentPort } from 'node:worker_threads';
import { runJob, type JobSpec } from './job.js';

parentPort!.on('message', (job: JobSpec) => {
  try {
    parentPort!.postMessage({ type: 'result', result: runJob(job) });
  } catch (e) {
    parentPort!.postMessage({ type: 'error', index: job.index, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
