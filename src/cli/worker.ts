/**
 * `ptlab worker`: take swarm jobs from a Redis queue and run them (src/swarm/queue.ts, docs/swarm.md,
 * "Campaigns on many machines"); and the `--queue` option it shares with `ptlab swarm`.
 * Exit codes: 0 closed on request, 1 the server cannot be reached, 2 bad input.
 */
import os from 'node:os';
import type { Command } from 'commander';
import { parseRedisUrl, probeRedis, QUEUE_NAME, QueueUnreachable, QueueUrlError, startQueueWorker, type RedisAddress } from '../swarm/queue.js';
import { intArg } from './options.js';
import { progressLine } from './progress.js';
import { EXIT, RunFailure, UsageError } from './util.js';

/** The `--queue` option's parser: a Redis URL, else bad input naming it (exit 2). */
export function queueArg(value: string): RedisAddress {
  try {
    return parseRedisUrl(value);
  } catch (e) {
    throw e instanceof QueueUrlError ? new UsageError(`--queue: ${e.message}`) : e;
  }
}

/** Connect once: a server that cannot be reached is a failure of the run naming it (exit 1). */
export async function reachQueue(addr: RedisAddress): Promise<void> {
  try {
    await probeRedis(addr);
  } catch (e) {
    throw e instanceof QueueUnreachable ? new RunFailure(e.message) : e;
  }
}

const log = (s: string): void => void process.stderr.write(`ptlab worker: ${s}\n`);

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('take swarm jobs from a Redis queue and run them (campaigns on many machines; docs/swarm.md)')
    .requiredOption('--queue <url>', 'the Redis server campaigns are enqueued on: redis://HOST:PORT', queueArg)
    .option('--concurrency <n>', `jobs at once, each on its own worker thread (default: available cores, here ${os.availableParallelism()})`, intArg('--concurrency', 1, 256))
    .addHelpText(
      'after',
      `
A campaign started with \`ptlab swarm --queue URL\` puts its jobs (one per scenario) in the queue
'${QUEUE_NAME}' on that Redis server and waits; workers on any machine that reaches the server
take them, run them as \`ptlab swarm\` would, and leave each result in Redis, where the campaign
collects it and writes its findings folder as a local campaign does. A worker serves every
campaign on the server and runs until stopped.

Example: a Redis server on host db1, two machines working, the campaign started from a third
  redis-server --port 6379 --requirepass PW --save ''                # on db1
  ptlab worker --queue redis://:PW@db1:6379                          # on each working machine
  ptlab swarm --queue redis://:PW@db1:6379 --guard reclaim-range-check=off --scenarios 1000 --out /tmp/f
(Redis trusts whoever connects: a password, or a private network, keeps others out.)

Ctrl-C or SIGTERM closes the worker: the jobs it is running are stopped and put back in the
queue for any worker (a second signal exits at once; the queue then takes such a job back after
its lock expires, about 30 s). Every machine must run the same ptlab: a job's result is a
function of its spec and of the model's code.

Exit codes: 0 closed on request, 1 the server cannot be reached, 2 bad input.`,
    )
    .action(async (o: { queue: RedisAddress; concurrency?: number }) => {
      const addr = o.queue;
      const concurrency = o.concurrency ?? os.availableParallelism();
      await reachQueue(addr);
      const progress = progressLine('worker');
      const t0 = performance.now();
      let done = 0;
      let executions = 0;
      let findings = 0;
      const report = (): void => progress.update({ done, executions, findings, elapsedMs: performance.now() - t0 });
      const worker = await startQueueWorker(addr, {
        concurrency,
        log,
        onDone: (r) => {
          done++;
          executions += r.executions;
          if (r.finding) findings++;
          report();
        },
      });
      // A job can run for minutes: report on a timer too, as runCampaign() does, or a progress
      // line in a pipe falls silent until the job ends.
      const heartbeat = setInterval(report, 1000);
      log(`taking jobs from ${addr.shown} (queue ${QUEUE_NAME}) on ${concurrency} thread(s); Ctrl-C or SIGTERM stops`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        const stop = (sig: NodeJS.Signals): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          // A second signal while closing: exit now.
          process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
          resolve(sig);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      log(`${signal}: closing (a job in flight goes back to the queue)`);
      await worker.close();
      clearInterval(heartbeat);
      progress.done();
      log(`closed after ${done} job(s)`);
      process.exitCode = EXIT.OK;
    });
}
