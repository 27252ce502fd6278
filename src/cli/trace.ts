/** `ptlab trace to-script`: a workload trace as an equivalent op script (docs/trace-format.md). */
import fs from 'node:fs';
import type { Command } from 'commander';
import { planRebase, traceToScript } from '../trace/to_script.js';
import { loadTraceFile, TraceInputError } from '../workloads/jobs.js';
import { EXIT, UsageError } from './util.js';

export function registerTrace(program: Command): void {
  const trace = program.command('trace').description('work with workload traces (docs/trace-format.md)');
  trace
    .command('to-script')
    .description('convert a trace into the equivalent op script, to run it with ptlab run or compare it with the kernel with ptlab diff')
    .argument('<trace>', 'a ptlab-trace file (from ptlab record or ptlab generate)')
    .option('-o, --out <file>', 'write the script to FILE instead of stdout')
    .option('--rebase', "move the mappings to 16 TiB and up, each 512 GiB span whole (every page table stays shared as before): a recorded program's addresses share tables with the kernel runner's own, and ptlab diff's VmPTE then disagrees")
    .addHelpText(
      'after',
      `
Every mapping becomes a named mapping (M0, M1, ...) placed with at= where the trace says the
kernel put it, every access a touch of it, every range operation one op per mapping it covers.
What op scripts cannot express (vdso/vvar, hugetlb, failed calls, unknown madvise advice,
MREMAP_DONTUNMAP, ...) becomes a "# dropped:" comment; the count is printed and in the header.
Each live process ends with "snapshot end", so ptlab diff compares the end state.

Examples:
  ptlab generate heap arena=16M ops=500 -o h.trace && ptlab trace to-script h.trace -o h.pt && ptlab diff h.pt
  ptlab record -o py.trace -- python3 -c 'x = bytearray(8 << 20)' && ptlab trace to-script --rebase py.trace -o py.pt && ptlab diff py.pt

Exit codes: 0 converted; 2 bad trace (FILE:LINE:COL) or option.`,
    )
    .action((tracePath: string, opts: { out?: string; rebase?: boolean }) => {
      let records;
      try {
        records = loadTraceFile(tracePath).records;
      } catch (e) {
        if (e instanceof TraceInputError) throw new UsageError(e.message);
        throw e;
      }
      let rebase;
      try {
        rebase = opts.rebase ? planRebase(records) : undefined;
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(`--rebase: ${e.message}`);
        throw e;
      }
      const { text, dropped } = traceToScript(records, { source: tracePath, rebase });
      if (opts.out) {
        fs.writeFileSync(opts.out, text);
        process.stderr.write(`wrote ${opts.out} (${dropped} record(s) dropped)\n`);
      } else {
        process.stdout.write(text);
        if (dropped) process.stderr.write(`${dropped} record(s) dropped (see the "# dropped:" lines)\n`);
      }
      process.exitCode = EXIT.OK;
    });
}
