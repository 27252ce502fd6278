/**
 * The `ptlab` command as a function: argv in, exit code out. src/cli/main.ts runs it for the
 * process; the fuzz suite (src/fuzz) runs it in worker threads, many times per thread. Exit codes
 * scripts can trust: 0 success; 1 a failed expectation, op or diff; 2 bad usage or a bad script;
 * 3 no verdict (a search stopped at its budget, or no live kernel to compare with); 4 internal error or model bug.
 */
import { Command, CommanderError } from 'commander';
import { OutputError } from '../util/atomic.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerDiff } from './diff.js';
import { registerExplore } from './explore.js';
import { registerSwarm } from './swarm.js';
import { registerRecord } from './record.js';
import { registerReplay } from './replay.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerTrace } from './trace.js';
import { registerVersions } from './versions.js';
import { registerWeb } from './web.js';
import { registerWorker } from './worker.js';
import { EXIT, RunFailure, UsageError } from './util.js';

function buildProgram(): Command {
  const program = new Command();
  program
    .name('ptlab')
    .description(
      'An executable model of Linux user page-table management with synchronous empty PTE-table ' +
        'reclaim (CONFIG_PT_RECLAIM, Linux 6.14+), checked against the live kernel.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  ptlab demo                          the cover-letter test, PT_RECLAIM off and on
  ptlab run scripts/cover-letter.pt   run an op script on the model
  ptlab run --json --config pt_reclaim=off scripts/dense-dontneed.pt
  ptlab diff scripts/*.pt             run scripts on the model and on this machine's kernel
  ptlab scenarios                     list the race scenarios
  ptlab explore fastpath_after_unlock --guard-off   find race R6 with its guard switched off
  ptlab versions                      the kernel releases the model can be (--config version=7.0)
  ptlab swarm --guard zap-fastpath-fix=off   generated scenarios searched for violations
  ptlab worker --queue redis://db1:6379   run the jobs of \`ptlab swarm --queue redis://db1:6379\` campaigns
  ptlab record -o node.trace -- node -e '...'   record a real program's mappings and faults (perf)
  ptlab replay --generate heap --policy round-out   what PT_RECLAIM and a purge policy save on an allocator-like heap
  ptlab replay node.trace -o node.json   replay a recorded trace, PT_RECLAIM off and on
  ptlab report out/replay.json -o /tmp/r   draw a replay report as plots, HTML and Markdown
  ptlab serve race.json               the web view on 127.0.0.1: races step by step, address spaces, reports
  ptlab view race.json -o race.html   the same page with the data inside, to open offline

Exit codes: 0 ok, 1 failed expectation/op/diff, 2 bad usage or script, 3 no verdict, 4 internal error.
Op-script grammar: docs/op-scripts.md; limits on inputs: docs/limits.md`,
  );
  registerRun(program);
  registerDemo(program);
  registerDiff(program);
  registerExplore(program);
  registerSwarm(program);
  registerWorker(program);
  registerBench(program);
  registerRecord(program);
  registerReplay(program);
  registerReport(program);
  registerWeb(program);
  registerTrace(program);
  registerVersions(program);
  return program;
}

/**
 * Run one command line (`argv` as process.argv: node, script, then the arguments). Returns the
 * exit code: what the command set in process.exitCode, or the code of the error that ended it.
 * Leaves process.exitCode as it found it. Errors go to stderr as one message.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const before = process.exitCode;
  process.exitCode = undefined;
  let code: number;
  try {
    await buildProgram().parseAsync([...argv]);
    code = Number(process.exitCode ?? EXIT.OK);
  } catch (e) {
    if (e instanceof CommanderError) {
      code = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    } else if (e instanceof UsageError || e instanceof OutputError) {
      process.stderr.write(`ptlab: ${e.message}\n`);
      code = EXIT.USAGE;
    } else if (e instanceof RunFailure) {
      process.stderr.write(`ptlab: ${e.message}\n`);
      code = EXIT.FAIL;
    } else {
      process.stderr.write(`ptlab: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      code = EXIT.INTERNAL;
    }
  } finally {
    process.exitCode = before;
  }
  return code;
}
