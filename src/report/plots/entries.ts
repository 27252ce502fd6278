/**
 * Plot (c): how full the PTE tables are at the end — for each n = 0..512, how many tables hold
 * exactly n live entries. One panel per run. The count axis is symlog: the 0 (empty) and 512
 * (full) buckets dwarf the rest, and a linear axis would flatten everything between them.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReplayReport } from '../../workloads/report_schema.js';
import { formatCount } from '../format.js';
import { CONFIG, PLOT_WIDTH, VL_SCHEMA, runColor } from './common.js';

/** The facet header of a run: its label and how many tables it has, empty among them. */
export function entriesPanelTitle(run: ReplayReport['runs'][number]): string {
  const total = run.entriesHistogram.reduce((a, b) => a + b, 0);
  return `${run.label}: ${formatCount(total)} PTE tables, ${formatCount(run.entriesHistogram[0])} empty`;
}

/** 0, 1, 10, 100, ... up to the first power of ten at or above `max`. */
function decades(max: number): number[] {
  const out = [0, 1];
  while (out[out.length - 1] < max) out.push(out[out.length - 1] * 10);
  return out;
}

export function entriesSpec(report: ReplayReport): TopLevelSpec {
  const panels = report.runs.map(entriesPanelTitle);
  const values = report.runs.flatMap((run, i) => {
    const rows = run.entriesHistogram.flatMap((count, n) => (count > 0 ? [{ run: run.label, panel: panels[i], entries: n, count }] : []));
    // A run with no tables left still gets its (empty) panel.
    return rows.length > 0 ? rows : [{ run: run.label, panel: panels[i], entries: 0, count: 0 }];
  });
  const ticks = decades(Math.max(1, ...values.map((v) => v.count)));
  const top = ticks[ticks.length - 1];
  return {
    $schema: VL_SCHEMA,
    config: CONFIG,
    title: { text: 'Live entries per PTE table (at the end)', subtitle: '0 = an empty table (what PT_RECLAIM frees), 512 = a full one; count axis is logarithmic' },
    data: { values },
    facet: { row: { field: 'panel', type: 'nominal', sort: panels, title: null } },
    spec: {
      width: PLOT_WIDTH,
      height: 110,
      encoding: {
        x: {
          field: 'entries',
          type: 'quantitative',
          scale: { domain: [-4, 516], nice: false },
          axis: { values: [0, 64, 128, 192, 256, 320, 384, 448, 512] },
          title: 'live entries in the table (of 512)',
        },
        y: { field: 'count', type: 'quantitative', scale: { type: 'symlog', domain: [0, top] }, axis: { values: ticks, labelExpr: "format(datum.value, ',')" }, title: 'PTE tables' },
      },
      layer: [
        {
          mark: { type: 'bar', width: 3 },
          encoding: {
            color: runColor(report.runs.map((r) => r.label), null),
            tooltip: [{ field: 'run' }, { field: 'entries' }, { field: 'count', title: 'tables', format: ',' }],
          },
        },
        {
          // The two buckets that matter most carry their count: empty (0) and full (512) tables.
          transform: [{ filter: 'datum.count > 0 && (datum.entries === 0 || datum.entries === 512)' }],
          mark: { type: 'text', dy: -7, fontSize: 11 },
          encoding: { text: { field: 'count', type: 'quantitative', format: ',' } },
        },
      ],
    },
    resolve: { scale: { y: 'shared' } },
  };
}
