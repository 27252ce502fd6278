/**
 * The report's samples as flat rows for the plots: one row per (run, sample), with the X value
 * chosen once for the whole report (trace time when every sample has one, else the op index).
 */
import type { ReplayReport, ReplaySample } from '../workloads/report_schema.js';

export interface XAxis {
  /** What the x value of a row is. */
  readonly kind: 'time' | 'op';
  readonly title: string;
  /** Row x = timeNs / nsPerUnit (time) or op (op). */
  readonly nsPerUnit: number;
}

/** Trace time (ms or s, by the longest run) if every sample of every run has `timeNs`, else op index. */
export function chooseXAxis(report: ReplayReport): XAxis {
  const samples = report.runs.flatMap(runSamples);
  if (samples.length === 0 || samples.some((s) => s.timeNs === null)) {
    return { kind: 'op', title: 'trace op (index)', nsPerUnit: 1 };
  }
  const maxNs = Math.max(...samples.map((s) => s.timeNs ?? 0));
  return maxNs >= 2e9 ? { kind: 'time', title: 'trace time (s)', nsPerUnit: 1e9 } : { kind: 'time', title: 'trace time (ms)', nsPerUnit: 1e6 };
}

/** A run's samples, ending with `final` when it comes after the last sample. */
export function runSamples(run: ReplayReport['runs'][number]): ReplaySample[] {
  const last = run.samples.at(-1);
  return last && last.op >= run.final.op ? run.samples : [...run.samples, run.final];
}

export function xOf(s: ReplaySample, axis: XAxis): number {
  return axis.kind === 'op' || s.timeNs === null ? s.op : s.timeNs / axis.nsPerUnit;
}

export interface SampleRow {
  readonly run: string;
  readonly x: number;
  readonly op: number;
  readonly sample: ReplaySample;
}

/** Every run's samples, in run order then time order. */
export function sampleRows(report: ReplayReport, axis: XAxis): SampleRow[] {
  return report.runs.flatMap((run) => runSamples(run).map((s) => ({ run: run.label, x: xOf(s, axis), op: s.op, sample: s })));
}

/** Run labels in report order: the colour and facet order of every plot. */
export function runLabels(report: ReplayReport): string[] {
  return report.runs.map((r) => r.label);
}
