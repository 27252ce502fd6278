/** `ptlab trace to-script`: a workload trace as an equivalent op script (docs/trace-format.md). */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { ScriptError } from '../script/ast.js';
import { safeParseScriptLines } from '../script/parse.js';
import type { TraceRecord } from '../trace/records.js';
import { convertTrace, planRebase, type ToScriptOptions } from '../trace/to_script.js';
import { AtomicFile } from '../util/atomic.js';
import { fileLines } from '../util/file_lines.js';
import { checkTraceFile, traceFileRecords } from '../workloads/jobs.js';
import { inputErrors } from './replay.js';
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
      inputErrors(() => checkTraceFile(tracePath));
      // The trace is read again for each pass, a line at a time: nothing holds it whole (D15).
      const records = () => traceFileRecords(tracePath);
      let rebase;
      try {
        rebase = opts.rebase ? inputErrors(() => planRebase(records())) : undefined;
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(`--rebase: ${e.message}`);
        throw e;
      }
      const convert: ToScriptOptions = { source: tracePath, rebase };
      // First pass: the header counts the dropped records.
      const { header, dropped } = inputErrors(() => convertTrace(records(), convert, () => {}));
      const file = new AtomicFile(opts.out ?? path.join(os.tmpdir(), `ptlab-to-script-${process.pid}.pt`));
      try {
        for (const l of header) file.write(l + '\n');
        inputErrors(() => convertTrace(records(), convert, (l) => file.write(l + '\n')));
        file.finish();
        // Then the script must be one ptlab run accepts: a trace the language cannot express is refused, not written (D14).
        const checked = safeParseScriptLines(fileLines(file.partialPath), 'script', { keepOps: false });
        if (!checked.ok) throw new UsageError(refusal(tracePath, checked.errors, header.length, () => records(), convert));
        if (opts.out) {
          file.commit();
          process.stderr.write(`wrote ${opts.out} (${dropped} record(s) dropped)\n`);
        } else {
          let buf = '';
          for (const l of fileLines(file.partialPath)) {
            buf += l + '\n';
            if (buf.length < 1 << 16) continue;
            process.stdout.write(buf);
            buf = '';
          }
          process.stdout.write(buf);
          file.abort();
          if (dropped) process.stderr.write(`${dropped} record(s) dropped (see the "# dropped:" lines)\n`);
        }
      } catch (e) {
        file.abort();
        throw e;
      }
      process.exitCode = EXIT.OK;
    });
}

/**
 * Why no script is written: each error of the converted script, located at the trace line it came
 * from (found by converting again and counting lines: only on this path).
 */
function refusal(tracePath: string, errors: readonly ScriptError[], headerLines: number, records: () => Iterable<TraceRecord>, convert: ToScriptOptions): string {
  const wanted = new Map(errors.map((e) => [e.loc.line, 0]));
  let n = headerLines;
  convertTrace(records(), convert, (_l, traceLine) => {
    if (wanted.has(++n)) wanted.set(n, traceLine ?? 0);
  });
  const lines = errors.map((e) => {
    const from = wanted.get(e.loc.line) || 0;
    return `${tracePath}:${from || 1}:1: its op-script line ${e.loc.line} would be refused: ${e.message}${e.expected ? ` (expected ${e.expected})` : ''}`;
  });
  return `the trace converts to an op script that ptlab run would refuse, so none is written:\n${lines.join('\n')}`;
}
