/**
 * The `ptlab` process (bin/ptlab.js imports this): runs the command line (program.ts) and owns
 * what belongs to the process: the exit code, a closed stdout pipe, and SIGINT/SIGTERM.
 */
import { removePendingTemps, watchPendingTemps } from '../util/atomic.js';
import { runCli } from './program.js';

// A reader that stops early (`ptlab explore ... | head`) closes the pipe: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

// While an output is being written (a temporary name is pending, src/util/atomic.ts), SIGINT and
// SIGTERM end the process (130, 143) after removing the temporary names, so an interrupted run
// leaves the old output whole. Otherwise they keep their default action, which ends even a long
// synchronous model run at once (a JS handler would wait for it). A command that listens for the
// signal itself (replay stops its worker jobs and writes what it has, record lets perf finish,
// serve closes) handles it instead.
const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
  if (process.listenerCount(sig) > 1) return;
  removePendingTemps();
  process.exit(sig === 'SIGINT' ? 130 : 143);
};
watchPendingTemps((writing) => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    if (writing) process.on(sig, onSignal);
    else process.off(sig, onSignal);
  }
});

process.exitCode = await runCli(process.argv);
