/** The final figures of each run, and what each run saves or costs against the first (the baseline). */
import type { ObservedCounters, ReplayReport } from '../workloads/report_schema.js';
import { formatCount, formatKb, formatPercent } from './format.js';

export interface SummaryRow {
  readonly run: string;
  readonly VmPTE: number;
  readonly VmRSS: number;
  readonly pteTables: number;
  readonly pteTablesEmpty: number;
  readonly ptesReclaimed: number;
  readonly faults: number;
  readonly tlbFlushes: number;
  readonly rcuCallbacks: number;
}

export function summaryRows(report: ReplayReport): SummaryRow[] {
  return report.runs.map(({ label, final: f }) => ({
    run: label,
    VmPTE: f.VmPTE,
    VmRSS: f.VmRSS,
    pteTables: f.pteTables,
    pteTablesEmpty: f.pteTablesEmpty,
    ptesReclaimed: f.ptesReclaimed,
    faults: f.faults,
    tlbFlushes: f.tlbFlushes,
    rcuCallbacks: f.rcuCallbacks,
  }));
}

/** The summary table as header + text cells, for both the Markdown and the HTML. */
export const SUMMARY_HEADER = ['run', 'VmPTE', 'VmRSS', 'PTE tables', 'empty', 'reclaimed', 'faults', 'TLB flushes', 'RCU callbacks'] as const;

export function summaryCells(r: SummaryRow): string[] {
  return [
    r.run,
    formatKb(r.VmPTE),
    formatKb(r.VmRSS),
    formatCount(r.pteTables),
    formatCount(r.pteTablesEmpty),
    formatCount(r.ptesReclaimed),
    formatCount(r.faults),
    formatCount(r.tlbFlushes),
    formatCount(r.rcuCallbacks),
  ];
}

export interface Saving {
  readonly run: string;
  readonly baseline: string;
  /** kB of VmPTE saved against the baseline (negative: used more). */
  readonly vmPteSavedKb: number;
  readonly baselineVmPteKb: number;
  /** Extra faults and TLB flushes against the baseline (negative: fewer). */
  readonly extraFaults: number;
  readonly extraTlbFlushes: number;
}

/** Each run after the first against the first. */
export function savings(report: ReplayReport): Saving[] {
  const [base, ...rest] = report.runs;
  return rest.map((run) => ({
    run: run.label,
    baseline: base.label,
    vmPteSavedKb: base.final.VmPTE - run.final.VmPTE,
    baselineVmPteKb: base.final.VmPTE,
    extraFaults: run.final.faults - base.final.faults,
    extraTlbFlushes: run.final.tlbFlushes - base.final.tlbFlushes,
  }));
}

function delta(n: number, what: string): string {
  if (n === 0) return `no extra ${what}`;
  return n > 0 ? `${formatCount(n)} extra ${what}` : `${formatCount(-n)} fewer ${what}`;
}

/** "pt_reclaim=on saves 100.0 MiB of page tables (99.8 %) and costs 3 extra faults and 2 extra TLB flushes (against pt_reclaim=off)". */
export function formatSaving(s: Saving): string {
  const pt =
    s.vmPteSavedKb >= 0
      ? `saves ${formatKb(s.vmPteSavedKb)} of page tables (${formatPercent(s.vmPteSavedKb, s.baselineVmPteKb)})`
      : `uses ${formatKb(-s.vmPteSavedKb)} more page tables (${formatPercent(-s.vmPteSavedKb, s.baselineVmPteKb)})`;
  const verb = s.extraFaults > 0 || s.extraTlbFlushes > 0 ? 'costs' : 'needs';
  return `${s.run} ${pt} and ${verb} ${delta(s.extraFaults, 'faults')} and ${delta(s.extraTlbFlushes, 'TLB flushes')} (against ${s.baseline})`;
}

/** Notes worth a reader's attention: per-run notes, interruptions, skipped ops. */
export function runNotes(report: ReplayReport): { run: string; note: string }[] {
  return report.runs.flatMap((run) => [
    ...(run.interrupted ? [{ run: run.label, note: 'stopped early: the figures are those up to that point' }] : []),
    ...(run.opsSkipped > 0 ? [{ run: run.label, note: `${formatCount(run.opsSkipped)} trace ops not applied by the model` }] : []),
    ...run.notes.map((note) => ({ run: run.label, note })),
  ]);
}

export const OBSERVED_HEADER = ['when', 'counted by', 'VmPTE', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmSwap'] as const;

/** The real process's counters at each observed point, each followed by every run's model counters at that point. */
export function observedCells(report: ReplayReport): string[][] {
  const cells = (label: string, by: string, o: ObservedCounters) =>
    [label, by, formatKb(o.VmPTE), formatKb(o.VmRSS), formatKb(o.RssAnon), formatKb(o.RssFile), formatKb(o.RssShmem), o.VmSwap === undefined ? '' : formatKb(o.VmSwap)];
  return report.observed.flatMap((o) => [
    cells(o.label, 'the kernel', o),
    ...report.runs.flatMap((run) => {
      const cp = run.checkpoints?.find((c) => c.label === o.label);
      return cp ? [cells(o.label, `model, ${run.label}`, cp)] : [];
    }),
  ]);
}

/** "trace foo.json, 12,345 ops" / "generator cover-letter (rounds=100), 100 ops". */
export function describeSource(report: ReplayReport): string {
  const params = report.source.params ? Object.entries(report.source.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`) : [];
  return `${report.source.kind} ${report.source.name}${params.length ? ` (${params.join(', ')})` : ''}, ${formatCount(report.ops)} ops`;
}
