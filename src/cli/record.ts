/** `ptlab record -- CMD ARGS...`: record a real program's mappings and page faults as a trace. */
import type { Command } from 'commander';
import { record } from '../record/record.js';
import { MAX_SWAP_MIB, SCRIPT_SETTINGS } from '../mm/config.js';
import type { RecordSummary } from '../record/convert.js';
import { EXIT } from './util.js';
import { optionError } from './options.js';

/** Exit codes of `ptlab record` beyond the common ones (docs/recording.md). */
export const RECORD_EXIT = {
  /** trace written, CMD exited 0 */
  OK: EXIT.OK,
  /** trace written, CMD failed (non-zero exit or killed); or events lost and no trace written */
  CMD_FAILED: EXIT.FAIL,
  USAGE: EXIT.USAGE,
  /** cannot record here: perf missing, not permitted, or tracepoints missing */
  CANNOT_RECORD: EXIT.NO_VERDICT,
  NOT_EXECUTABLE: 126,
  NOT_FOUND: 127,
  INTERRUPTED: 130,
} as const;

interface RecordCliOptions {
  output?: string;
  mmap: string;
  allowLost?: boolean;
  swap?: string;
}

function summaryLine(s: RecordSummary): string {
  const kinds = Object.entries(s.counts).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`);
  return `${kinds.join(', ') || 'no events'} in ${(s.duration / 1e9).toFixed(3)} s`;
}

export function registerRecord(program: Command): void {
  program
    .command('record')
    .usage('[-o TRACE] [-m SIZE] [--allow-lost] [--swap SIZE] -- CMD [ARGS...]')
    .description('record what a real program does to its address space (mmap, munmap, mremap, mprotect, madvise, brk, page faults) as a ptlab trace')
    .argument('<cmd...>', 'the command to run and record (put it after --)')
    .option('-o, --output <trace>', 'where to write the trace (default ptlab-<comm>-<pid>.trace here)')
    .option('-m, --mmap <size>', "perf's ring buffer per CPU (perf record -m); raise it when events are lost", '64M')
    .option('--allow-lost', 'write the trace even when perf lost events (it then has gaps)')
    .option('--swap <size>', `run the command with a swap area of SIZE (1M to ${MAX_SWAP_MIB}M; root), which the kernel runner creates and removes, so that it can swap; replay then models the same`)
    .addHelpText(
      'after',
      `
What it records: the command's exec image (/proc/PID/maps, present pages from pagemap, VmPTE/VmRSS
counters), every mmap, munmap, mremap, mprotect, madvise and brk of all its threads with results
and errors, the files it maps, every user page fault (and kernel faults on user addresses) with
read/write/exec, and the counters again at exit (\`observed exec\` / \`observed exit\`). Processes it
forks are not recorded (a warning names them). Format: docs/trace-format.md; details and known gaps:
docs/recording.md.

Needs perf (apt-get install linux-perf) and permission to read tracepoints: root, or CAP_PERFMON,
or kernel.perf_event_paranoid=-1 plus a readable /sys/kernel/tracing. A C compiler (cc) builds the
small ptrace helper runner/ptlab-exec-watch.c on first use.

With --swap SIZE the command runs with a swap area of its own (a loop device over a file in
/dev/shm, made by the kernel runner as for \`config swap=\` in op scripts; root; the run is pinned
to one CPU), so that MADV_PAGEOUT swaps; the trace then says \`meta swap=SIZE\` and replay gives the
model the same area, and compares VmSwap at exit. Swap-outs by memory pressure are not events: a
trace cannot replay them.

Examples:
  ptlab record -o /tmp/node.trace -- node -e 'const b = Buffer.alloc(64 << 20, 1)'
  # 21 is MADV_PAGEOUT; os._exit() keeps the mapping in place for the counters at exit
  ptlab record --swap 64M -o /tmp/py.trace -- python3 -c 'import mmap, os; m = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS); m.write(b"x" * (8 << 20)); m.madvise(21); os._exit(0)'

Exit codes: 0 trace written and CMD exited 0; 1 trace written but CMD failed (its status is
printed), or events were lost (no trace; retry with a bigger -m or --allow-lost); 2 bad usage;
3 cannot record here (perf missing or not permitted, or --swap could not create its area); 126/127 CMD not executable / not found;
130 interrupted (no trace written).`,
    )
    .action(async (cmd: string[], opts: RecordCliOptions) => {
      if (!/^[1-9]\d{0,5}[KMG]?$/i.test(opts.mmap)) throw optionError('--mmap', opts.mmap, "a ring-buffer size", 'pages (1 to 999999) or a size like 64M');
      if (opts.swap !== undefined && (!SCRIPT_SETTINGS.swap.apply({}, opts.swap) || opts.swap === 'off')) {
        throw optionError('--swap', opts.swap, 'a swap area size', `a size from 1M to ${MAX_SWAP_MIB}M, e.g. 64M`);
      }
      const tty = process.stderr.isTTY;
      const r = await record({
        swap: opts.swap,
        command: cmd,
        output: opts.output,
        mmap: opts.mmap,
        allowLost: opts.allowLost ?? false,
        progress: (m) => {
          if (tty) process.stderr.write(`ptlab record: ${m}\n`);
        },
      });
      switch (r.kind) {
        case 'perf':
          process.stderr.write(`ptlab record: ${r.problem.message}\n`);
          process.exitCode = RECORD_EXIT.CANNOT_RECORD;
          return;
        case 'no-swap':
          process.stderr.write('ptlab record: --swap: the kernel runner could not create the swap area (its message is above); nothing recorded\n');
          process.exitCode = RECORD_EXIT.CANNOT_RECORD;
          return;
        case 'exec-failed':
          process.stderr.write(`ptlab record: ${r.error}\n`);
          process.exitCode = r.exitCode;
          return;
        case 'lost':
          process.stderr.write(
            `ptlab record: perf lost ${r.lost.toLocaleString('en-US')} events (its buffer filled up); no trace written.\n` +
              `  Retry with a bigger buffer (e.g. -m ${biggerMmap(opts.mmap)}), or --allow-lost to keep a trace with gaps.\n`,
          );
          process.exitCode = RECORD_EXIT.CMD_FAILED;
          return;
        case 'interrupted':
          process.stderr.write('ptlab record: interrupted; no trace written\n');
          process.exitCode = RECORD_EXIT.INTERRUPTED;
          return;
        case 'written': {
          const s = r.summary;
          for (const w of s.warnings) process.stderr.write(`ptlab record: warning: ${w}\n`);
          if (s.forked.length) {
            const who = s.forked.map((f) => `${f.comm} (pid ${f.pid}, ${f.events} events)`).join(', ');
            process.stderr.write(`ptlab record: warning: forked processes are not recorded: ${who}\n`);
          }
          process.stderr.write(`ptlab record: wrote ${r.file}: ${summaryLine(s)}\n`);
          if ('signal' in r.cmd) {
            process.stderr.write(`ptlab record: the command was killed by signal ${r.cmd.signal}\n`);
            process.exitCode = RECORD_EXIT.CMD_FAILED;
          } else if (r.cmd.code !== 0) {
            process.stderr.write(`ptlab record: the command exited with status ${r.cmd.code}\n`);
            process.exitCode = RECORD_EXIT.CMD_FAILED;
          } else {
            process.exitCode = RECORD_EXIT.OK;
          }
        }
      }
    });
}

function biggerMmap(m: string): string {
  const x = /^(\d+)([KMG]?)$/i.exec(m);
  return x ? `${Number(x[1]) * 4}${x[2]}` : '256M';
}
