/** `ptlab bench`: model speed and memory, side by side with the live kernel; writes bench/RESULTS.md. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { prepareRunner, renderResults, runBench } from '../bench/bench.js';
import { productionBench, renderWorkloadResults, shardSpeedup } from '../bench/workloads.js';
import { explorerBench, renderExplorerBench } from '../bench/explorer.js';
import { spinBench, renderSpin } from '../bench/spin.js';
import { benchSwarm } from './swarm.js';
import { loadScenario } from '../scenarios/registry.js';
import { EXIT, UsageError, writeBenchResult } from './util.js';
import { intArg, intListArg, numberArg } from './options.js';
import { readMutationSummary, renderMutation } from '../bench/mutation.js';

const MUTATION_REPORT = 'bench/mutation/report.json';
const MUTATION_EQUIVALENT = 'bench/mutation/equivalent.txt';
const MUTATION_FILES = 'bench/mutation/files.json';
/** A later run of the survivors' lines only (src/bench/mutation.ts mergeRerun()), when there is one. */
const MUTATION_RERUN = 'bench/mutation/rerun.json';

function benchMutation(out: string): void {
  if (!fs.existsSync(MUTATION_REPORT)) throw new UsageError(`--mutation: no ${MUTATION_REPORT} (expected the report of a StrykerJS run: npm run mutation)`);
  let s: ReturnType<typeof readMutationSummary>;
  try {
    s = readMutationSummary(MUTATION_REPORT, MUTATION_EQUIVALENT, MUTATION_RERUN);
  } catch (e) {
    // A malformed report, rerun or equivalent list is bad input, not an internal error.
    throw new UsageError(`--mutation: ${(e as Error).message}`);
  }
  const configured = JSON.parse(fs.readFileSync(MUTATION_FILES, 'utf8')) as string[];
  const dateOf = (f: string) => new Date(fs.statSync(f).mtime).toISOString().slice(0, 10);
  const rerun = s.rerun && { ...s.rerun, date: dateOf(MUTATION_RERUN) };
  const md = renderMutation(s, { date: dateOf(MUTATION_REPORT), mutated: s.files.map((f) => f.file), equivalentFile: MUTATION_EQUIVALENT, configured, rerun });
  writeBenchResult(out, md, s);
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure the model (and the live kernel, when available) and write bench/RESULTS.md')
    .option('--reps <n>', 'repetitions per measurement, 1 to 50 (medians are reported)', intArg('--reps', 1, 50), 5)
    .option('--sizes <gib,...>', 'dense benchmark sizes in GiB, each 1 to 64', intListArg('--sizes', 1, 64), [1, 4, 8])
    .option('--no-kernel', 'do not run the live-kernel side')
    .option('-o, --output <file>', 'where to write the Markdown results (default bench/RESULTS.md, bench/WORKLOADS.md with --production, bench/EXPLORER.md with --explorer)')
    .option('--production', 'instead: replay the production case of the series (generator production) and measure shards on worker threads')
    .option('--scale <s>', 'with --production: size of the production case, above 0 and at most 1 (1 = VIRT 55 TiB, RES 590 GiB)', numberArg('--scale', 0, 1, { exclusiveMin: true }), 1)
    .option('--explorer', 'instead: the explorer on every shipped scenario (complete searches, DPOR vs naive, SPIN when installed); writes bench/EXPLORER.md')
    .option('--baseline <dir>', 'with --explorer: a built checkout of an older ptlab (git worktree + npm run build) to run side by side')
    .option('--scenario <name>', 'with --explorer: only this scenario')
    .option('--swarm', 'instead: rediscover each guard with swarm campaigns (docs/swarm.md) and write bench/SWARM.md')
    .option('--per-guard <s>', 'with --swarm: time limit of each guard\'s campaign in seconds', '600')
    .option('--workers <n>', 'with --swarm: worker threads (default: cores - 1, at least 1)')
    .option('--guard <name>', 'with --swarm: only this guard\'s campaign (repeatable), merged into the full result already in the output\'s .json (same limit; rows marked with commit and date)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--mutation', 'instead: summarize the last StrykerJS run (`npm run mutation`: bench/mutation/report.json, with the reviewed bench/mutation/equivalent.txt) into bench/MUTATION.md')
    .addHelpText('after', '\nProgress goes to stderr; the results table to the output file and stdout.')
    .action(async (opts: { reps: number; sizes: number[]; kernel: boolean; output?: string; production?: boolean; scale: number; explorer?: boolean; baseline?: string; scenario?: string; swarm?: boolean; perGuard: string; workers?: string; guard: string[]; mutation?: boolean }) => {
      const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
      if (!opts.swarm && opts.guard.length) throw new UsageError('--guard: only with --swarm');
      if (opts.swarm) return benchSwarm(opts.output ?? 'bench/SWARM.md', opts.perGuard, opts.workers, log, opts.guard);
      if (opts.mutation) return benchMutation(opts.output ?? 'bench/MUTATION.md');
      if (opts.baseline && !fs.existsSync(`${opts.baseline}/dist/explore/index.js`)) throw new UsageError(`--baseline: expected a built ptlab checkout (no ${opts.baseline}/dist/explore/index.js; run npm run build there)`);
      if (opts.explorer) {
        let only: string | undefined;
        if (opts.scenario !== undefined) {
          const r = loadScenario(opts.scenario);
          if (!r.ok) throw new UsageError(`--scenario: ${r.errors[0]}`);
          only = r.scenario.name;
        }
        const b = await explorerBench({ baseline: opts.baseline, reps: opts.reps, sideBound: 2, log, only });
        const spin = spinBench(log);
        const out = opts.output ?? 'bench/EXPLORER.md';
        const md = renderExplorerBench(b, spin ? renderSpin(spin, b) : undefined);
        writeBenchResult(out, md, { ...b, spin });
        return;
      }
      if (opts.production) {
        const scale = opts.scale;
        log(`production case at scale ${scale}, PT_RECLAIM off and on, 2 shards on 2 workers`);
        const p = await productionBench(scale, 2, 2, log);
        log('shard speed-up at scale 0.02, 3 repetitions');
        const s = await shardSpeedup(0.02, 3);
        const out = opts.output ?? 'bench/WORKLOADS.md';
        const md = renderWorkloadResults(p, s);
        writeBenchResult(out, md, { production: p, speedup: s });
        return;
      }
      opts.output ??= 'bench/RESULTS.md';
      const { reps, sizes: gibs } = opts;
      if (opts.kernel) await prepareRunner();
      const r = runBench({ reps, kernel: opts.kernel, gibs, log });
      const md = renderResults(r);
      writeBenchResult(opts.output, md, r);
      process.exitCode = EXIT.OK;
    });
}
