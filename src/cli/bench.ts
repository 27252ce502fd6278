/** `ptlab bench`: model speed and memory, side by side with the live kernel; writes bench/RESULTS.md. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { prepareRunner, renderResults, runBench } from '../bench/bench.js';
import { EXIT, UsageError } from './util.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure the model (and the live kernel, when available) and write bench/RESULTS.md')
    .option('--reps <n>', 'repetitions per measurement (medians are reported)', '5')
    .option('--sizes <gib,...>', 'dense benchmark sizes in GiB', '1,4,8')
    .option('--no-kernel', 'do not run the live-kernel side')
    .option('-o, --output <file>', 'where to write the Markdown results', 'bench/RESULTS.md')
    .addHelpText('after', '\nProgress goes to stderr; the results table to the output file and stdout.')
    .action(async (opts: { reps: string; sizes: string; kernel: boolean; output: string }) => {
      const reps = Number(opts.reps);
      if (!Number.isInteger(reps) || reps < 1 || reps > 50) throw new UsageError(`--reps: expected 1..50, got '${opts.reps}'`);
      const gibs = opts.sizes.split(',').map(Number);
      if (gibs.some((g) => !Number.isInteger(g) || g < 1 || g > 64)) throw new UsageError(`--sizes: expected GiB counts from 1 to 64, got '${opts.sizes}'`);
      if (opts.kernel) await prepareRunner();
      const r = runBench({ reps, kernel: opts.kernel, gibs, log: (s) => process.stderr.write(`bench: ${s}\n`) });
      const md = renderResults(r);
      fs.mkdirSync(opts.output.replace(/\/[^/]*$/, '') || '.', { recursive: true });
      fs.writeFileSync(opts.output, md);
      fs.writeFileSync(opts.output.replace(/\.md$/, '.json'), JSON.stringify(r, null, 2) + '\n');
      process.stdout.write(md);
      process.exitCode = EXIT.OK;
    });
}
