/**
 * A made-up replay report shaped like the cover-letter test: set up a heap and a stack (ops 0..2),
 * then `rounds` times "touch 2 MiB, MADV_DONTNEED it" in a big anonymous mapping. Without
 * PT_RECLAIM every round leaves one empty PTE table (4 kB); with it, none. The figures are
 * invented to be easy to check by hand, not measured.
 *
 *   0x555555550000 heap   [512][512][100]      3 PTE tables, never empty
 *   0x7f0000000000 anon   [0][0][0]...         `rounds` empty tables (off) / none (on)
 *   0x7ffc00000000 stack  [12]                 1 PTE table
 */
import type { ReplayReport, ReplayRun, ReplaySample } from '../../src/workloads/report_schema.js';

export interface FixtureOptions {
  readonly rounds?: number;
  /** Give samples a trace time (1.5 ms per op) or leave timeNs null. */
  readonly timed?: boolean;
  /** Samples at most this many ops (evenly spaced). */
  readonly maxSamples?: number;
}

const SETUP_OPS = 3;
const BASE_TABLES = 4; // heap 3 + stack 1
const UPPER_KB = 24; // PUD and PMD tables of heap and stack
const ANON_UPPER_KB = 8; // PUD and PMD table of the big mapping
const HEAP_RSS_KB = 2 * 512 * 4 + 100 * 4;

function state(op: number, rounds: number, reclaim: boolean, timed: boolean): ReplaySample {
  const done = Math.max(0, Math.min(rounds, Math.floor((op - SETUP_OPS + 1) / 2))); // rounds with DONTNEED done
  const touched = op >= SETUP_OPS && (op - SETUP_OPS) % 2 === 0 && done < rounds ? 1 : 0; // a round's 2 MiB resident now
  const roundsStarted = done + touched;
  const anonTables = reclaim ? touched : roundsStarted;
  const anonEmpty = reclaim ? 0 : done;
  const rssAnon = (op >= 1 ? HEAP_RSS_KB : 0) + touched * 2048;
  return {
    op,
    timeNs: timed ? op * 1_500_000 : null,
    VmPTE: UPPER_KB + BASE_TABLES * 4 + (roundsStarted > 0 ? ANON_UPPER_KB : 0) + anonTables * 4,
    VmRSS: rssAnon + 1200 + 64,
    RssAnon: rssAnon,
    RssFile: 1200,
    RssShmem: 64,
    pteTables: BASE_TABLES + anonTables,
    pteTablesEmpty: anonEmpty,
    ptesReclaimed: reclaim ? done : 0,
    faults: 700 + roundsStarted * 512 + (reclaim ? done * 3 : 0),
    tlbFlushes: 5 + done * (reclaim ? 2 : 1),
    tlbFlushPages: done * 512,
    tlbFlushFreedTables: reclaim ? done : 0,
    rcuCallbacks: reclaim ? done : 0,
  };
}

function run(label: string, reclaim: boolean, rounds: number, timed: boolean, maxSamples: number): ReplayRun {
  const lastOp = SETUP_OPS + 2 * rounds - 1;
  const step = Math.max(1, Math.ceil((lastOp + 1) / maxSamples));
  const ops: number[] = [];
  for (let op = 0; op < lastOp; op += step) ops.push(op);
  const histogram = new Array<number>(513).fill(0);
  histogram[512] = 2;
  histogram[100] = 1;
  histogram[12] = 1;
  if (!reclaim) histogram[0] = rounds;
  return {
    label,
    config: { pt_reclaim: reclaim ? 'on' : 'off' },
    policies: [],
    samples: ops.map((op) => state(op, rounds, reclaim, timed)),
    final: state(lastOp, rounds, reclaim, timed),
    entriesHistogram: histogram,
    regions: [
      { start: 0x5555_5555_0000, end: 0x5555_5585_0000, label: 'heap', pteTables: 3, pteTablesEmpty: 0, ptePages: 1124 },
      { start: 0x7f00_0000_0000, end: 0x7f00_0000_0000 + rounds * 2 * 1024 * 1024, label: 'anon', pteTables: reclaim ? 0 : rounds, pteTablesEmpty: reclaim ? 0 : rounds, ptePages: 0 },
      { start: 0x7ffc_0000_0000, end: 0x7ffc_0002_1000, label: 'stack', pteTables: 1, pteTablesEmpty: 0, ptePages: 12 },
    ],
    interrupted: false,
    opsSkipped: 0,
    notes: reclaim ? ['every round\'s PTE table freed on the fast path'] : [],
    elapsedMs: 12.5,
  };
}

export function fixtureReport(opts: FixtureOptions = {}): ReplayReport {
  const rounds = opts.rounds ?? 8;
  const timed = opts.timed ?? true;
  const maxSamples = opts.maxSamples ?? 64;
  return {
    type: 'ptlab-replay-report',
    version: 1,
    source: { kind: 'generator', name: 'cover-letter', params: { rounds } },
    ops: SETUP_OPS + 2 * rounds,
    observed: [{ label: 'exit', VmPTE: 40 + rounds * 4, VmRSS: 5000, RssAnon: 3700, RssFile: 1236, RssShmem: 64 }],
    runs: [run('pt_reclaim=off', false, rounds, timed, maxSamples), run('pt_reclaim=on', true, rounds, timed, maxSamples)],
  };
}
