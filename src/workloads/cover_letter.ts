/**
 * The test program of the series' cover letter (README.md, "Quick start"): map 50 GiB, then for i in
 * 0..25,599 touch 2 MiB and MADV_DONTNEED the same 2 MiB. Built as an op script in memory, and run
 * on the model by `coverLetterRun` (for `ptlab demo` and the benchmarks; the caller's clock times it).
 */
import type { Loc, Op, Script } from '../script/ast.js';
import { countPteTables, FAST_API, runScript } from '../script/exec.js';
import type { SnapshotLine } from '../script/output.js';

export interface CoverLetterOptions {
  /** Rounds of touch + DONTNEED (default 25,600: 50 GiB / 2 MiB). */
  rounds?: number;
  /** Settings for the model (`config` line). */
  settings?: Record<string, string>;
  /**
   * "touch 2M memory" of the cover letter: every page of the 2 MiB (`all`, the default: 512 faults
   * per round), or one byte of it (`one`: one fault, as docs/kernel-facts.md measures the 50 GiB case).
   * VmPTE comes out the same; the work differs 512-fold.
   */
  touch?: 'all' | 'one';
}

const MiB = 2 ** 20;

export function coverLetterScript(opts: CoverLetterOptions = {}): Script {
  const rounds = opts.rounds ?? 25_600;
  const file = '<cover-letter>';
  let line = 0;
  const loc = (): Loc => ({ file, line: ++line, col: 1 });
  const ops: Op[] = [];
  if (opts.settings && Object.keys(opts.settings).length) ops.push({ op: 'config', loc: loc(), settings: opts.settings });
  ops.push({ op: 'process', loc: loc(), name: 'P' });
  ops.push({ op: 'map', loc: loc(), name: 'A', kind: 'anon', offset: 0, size: Math.max(rounds, 1) * 2 * MiB, shared: false, locked: false });
  ops.push({ op: 'snapshot', loc: loc(), label: 'mapped' });
  for (let i = 0; i < rounds; i++) {
    ops.push({ op: 'touch', loc: loc(), map: 'A', offset: i * 2 * MiB, len: 2 * MiB, write: true, every: opts.touch === 'one' ? 2 * MiB : undefined });
    ops.push({ op: 'madvise', loc: loc(), map: 'A', offset: i * 2 * MiB, len: 2 * MiB, advice: 'dontneed' });
  }
  ops.push({ op: 'snapshot', loc: loc(), label: 'after' });
  return { file, ops };
}

/** One run of the cover-letter test, as `ptlab demo` and the benchmarks report it. */
export interface CoverLetterRow {
  reclaim: 'off' | 'on';
  vmPteKb: number;
  rssKb: number;
  pteTables: number;
  reclaimedFast: number;
  reclaimedSlow: number;
  pageTablesKb: number;
  tlbFlushes: number;
  ms: number;
}

/** The cover-letter test on the straight-line build; `now` is the caller's clock (ms), for `ms`. */
export function coverLetterRun(rounds: number, reclaim: 'off' | 'on', touch: 'all' | 'one', now: () => number): CoverLetterRow {
  const script = coverLetterScript({ rounds, settings: { pt_reclaim: reclaim }, touch });
  const t0 = now();
  const r = runScript(script);
  const ms = now() - t0;
  if (r.exitCode !== 0) throw new Error(`demo run failed: ${JSON.stringify(r.lines.filter((l) => l.type === 'error'))}`);
  const after = r.lines.filter((l): l is SnapshotLine => l.type === 'snapshot').pop()!;
  const mm = r.processes.get('P')!;
  const [tables] = countPteTables(FAST_API, r.kernel, mm);
  return {
    reclaim,
    vmPteKb: after.delta.VmPTE,
    rssKb: after.status.VmRSS,
    pteTables: tables,
    reclaimedFast: mm.stats.ptesReclaimedFast,
    reclaimedSlow: mm.stats.ptesReclaimedSlow,
    pageTablesKb: r.kernel.mem.nrPagetable * 4,
    tlbFlushes: mm.stats.tlbFlushes,
    ms,
  };
}
