/** `ptlab bench`: model speed and memory, side by side with the live kernel; writes bench/RESULTS.md. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { prepareRunner, renderResults, runBench } from '../bench/bench.js';
import { productionBench, renderWorkloadResults, shardSpeedup } from '../bench/workloads.js';
import { benchSwarm } from './swarm.js';
import { EXIT, UsageError } from './util.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure the model (and the live kernel, when available) and write bench/RESULTS.md')
    .option('--reps <n>', 'repetitions per measurement (medians are reported)', '5')
    .option('--sizes <gib,...>', 'dense benchmark sizes in GiB', '1,4,8')
    .option('--no-kernel', 'do not run the live-kernel side')
    .option('-o, --output <file>', 'where to write the Markdown results (default bench/RESULTS.md, or bench/WORKLOADS.md with --production)')
    .option('--production', 'instead: replay the production case of the series (generator production) and measure shards on worker threads')
    .option('--scale <s>', 'with --production: size of the production case (1 = VIRT 55 TiB, RES 590 GiB)', '1')
    .option('--swarm', 'instead: rediscover each guard with swarm campaigns (docs/swarm.md) and write bench/SWARM.md')
    .option('--per-guard <s>', 'with --swarm: time limit of each guard\'s campaign in seconds', '600')
    .option('--workers <n>', 'with --swarm: worker threads (default: cores - 1, at least 1)')
    .addHelpText('after', '\nProgress goes to stderr; the results table to the output file and stdout.')
    .action(async (opts: { reps: string; sizes: string; kernel: boolean; output?: string; production?: boolean; scale: string; swarm?: boolean; perGuard: string; workers?: string }) => {
      const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
      if (opts.swarm) return benchSwarm(opts.output ?? 'bench/SWARM.md', opts.perGuard, opts.workers, log);
      if (opts.production) {
        const scale = Number(opts.scale);
        if (!(scale > 0 && scale <= 1)) throw new UsageError(`--scale: expected a number in (0, 1], got '${opts.scale}'`);
        log(`production case at scale ${scale}, PT_RECLAIM off and on, 2 shards on 2 workers`);
        const p = await productionBench(scale, 2, 2, log);
        log('shard speed-up at scale 0.02, 3 repetitions');
        const s = await shardSpeedup(0.02, 3);
        const out = opts.output ?? 'bench/WORKLOADS.md';
        const md = renderWorkloadResults(p, s);
        fs.writeFileSync(out, md);
        fs.writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify({ production: p, speedup: s }, null, 2) + '\n');
        process.stdout.write(md);
        return;
      }
      opts.output ??= 'bench/RESULTS.md';
      const reps = Number(opts.reps);
      if (!Number.isInteger(reps) || reps < 1 || reps > 50) throw new UsageError(`--reps: expected 1..50, got '${opts.reps}'`);
      const gibs = opts.sizes.split(',').map(Number);
      if (gibs.some((g) => !Number.isInteger(g) || g < 1 || g > 64)) throw new UsageError(`--sizes: expected GiB counts from 1 to 64, got '${opts.sizes}'`);
      if (opts.kernel) await prepareRunner();
      const r = runBench({ reps, kernel: opts.kernel, gibs, log });
      const md = renderResults(r);
      fs.mkdirSync(opts.output.replace(/\/[^/]*$/, '') || '.', { recursive: true });
      fs.writeFileSync(opts.output, md);
      fs.writeFileSync(opts.output.replace(/\.md$/, '.json'), JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(md);
      process.exitCode = EXIT.OK;
    });
}
