/**
 * The `ptlab` process (bin/ptlab.js imports this): runs the command line (program.ts) and owns
 * what belongs to the process: the exit code, a closed stdout pipe, and SIGINT/SIGTERM.
 */
import { removePendingTemps } from '../util/atomic.js';
import { runCli } from './program.js';

// A reader that stops early (`ptlab explore ... | head`) closes the pipe: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

// SIGINT and SIGTERM end the process (130, 143) after removing the temporary names of outputs not
// yet renamed into place (src/util/atomic.ts), so an interrupted run leaves the old output whole.
// A command that listens for the signal itself (replay stops its jobs and writes what it has,
// record lets perf finish, serve closes) handles it instead; a second signal then ends it here.
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => {
    if (process.listenerCount(sig) > 1) return;
    removePendingTemps();
    process.exit(code);
  });
}

process.exitCode = await runCli(process.argv);
