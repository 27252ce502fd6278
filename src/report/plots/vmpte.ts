/** Plot (a): VmPTE over time, one line per run, all runs on one axis. */
import type { TopLevelSpec } from 'vega-lite';
import type { ReplayReport } from '../../workloads/report_schema.js';
import { sizeUnitFor } from '../format.js';
import { chooseXAxis, runLabels, sampleRows } from '../series.js';
import { CONFIG, PLOT_HEIGHT, PLOT_WIDTH, VL_SCHEMA, runColor, showPoints } from './common.js';

export function vmpteSpec(report: ReplayReport): TopLevelSpec {
  const axis = chooseXAxis(report);
  const rows = sampleRows(report, axis);
  const unit = sizeUnitFor(Math.max(0, ...rows.map((r) => r.sample.VmPTE)));
  const values = rows.map((r) => ({ run: r.run, x: r.x, op: r.op, VmPTE: r.sample.VmPTE / unit.kB, kB: r.sample.VmPTE }));
  return {
    $schema: VL_SCHEMA,
    config: CONFIG,
    title: { text: 'VmPTE over time', subtitle: 'memory in page tables (VmPTE of /proc/PID/status), one line per run' },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2, point: showPoints(rows.length / report.runs.length) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: axis.title },
      y: { field: 'VmPTE', type: 'quantitative', title: `VmPTE (${unit.name})` },
      color: runColor(runLabels(report)),
      tooltip: [{ field: 'run' }, { field: 'op' }, { field: 'kB', title: 'VmPTE (kB)', format: ',' }],
    },
  };
}
