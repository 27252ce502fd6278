/** `ptlab demo`: the cover-letter test with PT_RECLAIM off and on, side by side. */
import type { Command } from 'commander';
import { coverLetterRun } from '../workloads/cover_letter.js';
import { EXIT, UsageError, table } from './util.js';
import { intArg } from './options.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the series\' cover-letter test (50 GiB; 25,600 × touch 2 MiB + MADV_DONTNEED) with PT_RECLAIM off and on')
    .option('--rounds <n>', 'rounds of touch + DONTNEED (1 to 500000)', intArg('--rounds', 1, 500_000), 25_600)
    .option('--touch <all|one>', '"touch 2 MiB" as every page of it (512 faults a round) or one byte (1 fault)', 'all')
    .option('--json', 'print the figures as JSON')
    .addHelpText('after', '\nExpected from the series: VmPTE grows by 102,400 kB without reclaim and stays flat with it,\nwhichever way the 2 MiB are touched (--touch one runs 512 times fewer faults).')
    .action((opts: { rounds: number; touch: string; json?: boolean }) => {
      const rounds = opts.rounds;
      if (opts.touch !== 'all' && opts.touch !== 'one') throw new UsageError(`--touch: '${opts.touch}' is not a way to touch (expected all or one)`);
      const touch = opts.touch;
      const rows = (['off', 'on'] as const).map((reclaim) => {
        if (process.stderr.isTTY) process.stderr.write(`running ${rounds.toLocaleString('en-US')} rounds with PT_RECLAIM ${reclaim}...\n`);
        return coverLetterRun(rounds, reclaim, touch, () => performance.now());
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ rounds, touch, rows }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`Cover-letter test: map ${(rounds * 2) / 1024} GiB, then ${rounds.toLocaleString('en-US')} × (touch ${touch === 'all' ? '2 MiB' : 'one byte of 2 MiB'}, MADV_DONTNEED 2 MiB)\n\n`);
      const h = ['PT_RECLAIM', 'VmPTE delta (kB)', 'VmRSS (kB)', 'PTE tables left', 'reclaimed fast', 'reclaimed slow', 'PageTables (kB)', 'TLB flushes', 'model time (ms)'];
      process.stdout.write(table(h, rows.map((r) => [r.reclaim, r.vmPteKb, r.rssKb, r.pteTables, r.reclaimedFast, r.reclaimedSlow, r.pageTablesKb, r.tlbFlushes, Math.round(r.ms)])) + '\n\n');
      const [off, on] = rows;
      process.stdout.write(`PT_RECLAIM saves ${(off.vmPteKb - on.vmPteKb).toLocaleString('en-US')} kB of page tables here (the series reports 102,640 kB → 240 kB).\n`);
      process.exitCode = EXIT.OK;
    });
}
