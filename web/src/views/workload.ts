/**
 * The workload view: a replay report (`ptlab replay -o REPORT.json`). The runs side by side (one
 * column each, PT_RECLAIM off next to on), what each saves against the first, and the report's
 * four plots: the same Vega-Lite specs `ptlab report` renders to PNG (src/report/plots), drawn
 * here by vega as SVG, each followed by its numbers as text.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { PLOTS } from '../../../src/report/plots/index.js';
import { describeSource, formatSaving, savings, SUMMARY_HEADER, summaryCells, summaryRows } from '../../../src/report/summary.js';
import type { ReplayReport } from '../../../src/workloads/report_schema.js';
import { h, kb } from '../dom.js';
import { onStepKeys } from './keys.js';

export function renderWorkload(report: ReplayReport): HTMLElement {
  onStepKeys(null);
  const rows = summaryRows(report).map(summaryCells);
  const side = h(
    'table',
    { class: 'side-by-side', 'data-testid': 'side-by-side' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), ...rows.map((r) => h('th', { scope: 'col' }, r[0])))),
    h('tbody', {}, ...SUMMARY_HEADER.slice(1).map((name, i) => h('tr', {}, h('th', { scope: 'row' }, name), ...rows.map((r) => h('td', {}, r[i + 1]))))),
  );
  const plots = PLOTS.map((p) => {
    const box = h('div', { class: 'plot-canvas' });
    const fig = h('figure', { class: 'plot', 'data-testid': `plot-${p.name}`, 'data-series': JSON.stringify(report.runs.map((r) => r.label)) }, box, h('figcaption', {}, p.caption));
    const view = new vega.View(vega.parse(compile(p.spec(report)).spec), { renderer: 'svg', container: box, hover: true });
    view
      .runAsync()
      .then(() => fig.setAttribute('data-rendered', 'true'))
      .catch((e: unknown) => box.replaceChildren(h('p', { class: 'error', role: 'alert' }, `This plot could not be drawn: ${(e as Error).message}`)));
    return fig;
  });
  return h(
    'section',
    { class: 'workload', 'data-testid': 'workload' },
    h('h2', {}, `Replay of ${report.source.name}`),
    h('p', {}, `${describeSource(report)}; ${report.ops} trace operations, ${report.runs.length} run${report.runs.length > 1 ? 's' : ''}.`),
    side,
    h('ul', { class: 'savings' }, ...savings(report).map((s) => h('li', {}, `${formatSaving(s)}.`))),
    plots[0],
    seriesTable(report),
    ...plots.slice(1),
  );
}

/** The VmPTE plot's series as text: first, peak and final value per run. */
function seriesTable(report: ReplayReport): HTMLElement {
  return h(
    'details',
    { class: 'series-text' },
    h('summary', {}, 'VmPTE series as text'),
    h(
      'table',
      { 'data-testid': 'vmpte-series' },
      h('thead', {}, h('tr', {}, ...['run', 'samples', 'first', 'peak', 'final'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        ...report.runs.map((r) => {
          const v = r.samples.map((s) => s.VmPTE);
          return h('tr', { 'data-run': r.label }, h('th', { scope: 'row' }, r.label), h('td', {}, String(v.length)), h('td', {}, kb(v[0] ?? 0)), h('td', {}, kb(Math.max(0, ...v))), h('td', { 'data-final': r.final.VmPTE }, kb(r.final.VmPTE)));
        }),
      ),
    ),
  );
}
