/**
 * `ptlab versions`: the kernel releases `version=` accepts (src/mm/versions.ts), what each changes
 * in the modelled paths, the guards it lacks and the races it shipped (docs/versions.md).
 */
import type { Command } from 'commander';
import { VERSION_ALIASES, VERSIONS } from '../mm/versions.js';
import { table } from './util.js';

export function registerVersions(program: Command): void {
  program
    .command('versions')
    .description('list the kernel releases the model can be (--config version=V), what each changes and the races it shipped')
    .option('--json', 'print the table as JSON')
    .addHelpText(
      'after',
      `
Pick one for any command that takes --config, e.g.
  ptlab explore wrong_flush_addr --config version=7.0      R9 is in 7.0 to 7.1.8
  ptlab explore deferred_flush_bbm --config arch=x86       R8, tolerated on x86
  ptlab run scripts/cover-letter.pt --config version=6.13  before PT_RECLAIM
The default is 6.18, the kernel of this machine.`,
    )
    .action((o: { json?: boolean }) => {
      const aliases = (name: string) => Object.entries(VERSION_ALIASES).filter(([, v]) => v === name).map(([a]) => a);
      if (o.json) {
        process.stdout.write(JSON.stringify(VERSIONS.map((v) => ({ ...v, aliases: aliases(v.name) })), null, 2) + '\n');
        return;
      }
      const rows = VERSIONS.map((v) => [
        [v.name, ...aliases(v.name)].join(' = '),
        v.ptReclaimArchs.join(', ') || 'none',
        v.dontneedVmaLock ? (v.freeVmaLock ? 'VMA lock (DONTNEED, FREE)' : 'VMA lock (DONTNEED)') : 'mmap_lock',
        v.guardsOff.join(', ') || '-',
        v.races.join(', ') || '-',
        v.commits.join(' ') || '-',
      ]);
      process.stdout.write(table(['version', 'PT_RECLAIM on', 'MADV_DONTNEED under', 'guards it lacks', 'races shipped', 'commits'], rows) + '\n\n');
      for (const v of VERSIONS) process.stdout.write(`${v.name}: ${v.changes}\n`);
    });
}
