/** Plot (b): resident memory over time, one panel per run, stacked RssAnon + RssFile + RssShmem (= VmRSS). */
import type { TopLevelSpec } from 'vega-lite';
import type { ReplayReport } from '../../workloads/report_schema.js';
import { sizeUnitFor } from '../format.js';
import { chooseXAxis, runLabels, sampleRows } from '../series.js';
import { CONFIG, PLOT_HEIGHT, VL_SCHEMA } from './common.js';

const COMPONENTS = ['RssAnon', 'RssFile', 'RssShmem'] as const;

export function rssSpec(report: ReplayReport): TopLevelSpec {
  const axis = chooseXAxis(report);
  const rows = sampleRows(report, axis);
  const unit = sizeUnitFor(Math.max(0, ...rows.map((r) => r.sample.VmRSS)));
  const values = rows.flatMap((r) =>
    COMPONENTS.map((c, order) => ({ run: r.run, x: r.x, op: r.op, component: c, order, value: r.sample[c] / unit.kB, kB: r.sample[c] })),
  );
  const columns = Math.min(report.runs.length, 3);
  return {
    $schema: VL_SCHEMA,
    config: CONFIG,
    title: { text: 'Resident memory over time', subtitle: 'RssAnon + RssFile + RssShmem, stacked (their sum is VmRSS), one panel per run' },
    data: { values },
    facet: { field: 'run', type: 'nominal', sort: runLabels(report), title: null },
    columns,
    spec: {
      width: Math.round(660 / columns),
      height: PLOT_HEIGHT * 0.8,
      mark: { type: 'area', interpolate: 'step-after', opacity: 0.85 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: axis.title },
        y: { field: 'value', type: 'quantitative', stack: 'zero', title: `resident (${unit.name})` },
        color: {
          field: 'component',
          type: 'nominal',
          sort: [...COMPONENTS],
          scale: { domain: [...COMPONENTS], range: ['#4c78a8', '#f58518', '#54a24b'] },
          legend: { title: null, orient: 'bottom', direction: 'horizontal' },
        },
        order: { field: 'order' },
        tooltip: [{ field: 'run' }, { field: 'op' }, { field: 'component' }, { field: 'kB', title: 'kB', format: ',' }],
      },
    },
  };
}
