/**
 * A small time series (VmPTE and RSS per step) with a marker at the current step. Hand-drawn SVG:
 * two polylines do not need a plotting library; the report plots (workload view) use vega.
 */
import { h, kb, s } from '../dom.js';

export interface Series {
  readonly label: string;
  readonly values: readonly number[];
  readonly color: string;
}

const W = 320;
const H = 60;

/** `current` indexes the values; `where` says what it is in words ('after op 3'). Each series is scaled to its own maximum (they differ by orders of magnitude); the text says the values. */
export function sparkline(series: readonly Series[], current: number, caption: string, where: string): HTMLElement {
  const n = Math.max(...series.map((x) => x.values.length));
  const xAt = (i: number) => (n <= 1 ? W / 2 : (i / (n - 1)) * (W - 4) + 2);
  const lines = series.map((x) => {
    const max = Math.max(1, ...x.values);
    const pts = x.values.map((v, i) => `${xAt(i).toFixed(1)},${(H - 4 - (v / max) * (H - 8)).toFixed(1)}`).join(' ');
    return s('polyline', { points: pts, fill: 'none', stroke: x.color, 'stroke-width': 1.5, 'data-series': x.label });
  });
  const marker = s('line', { x1: xAt(current), x2: xAt(current), y1: 0, y2: H, stroke: '#d62828', 'stroke-dasharray': '2 2' });
  const words = series.map((x) => `${x.label} ${kb(x.values[current] ?? 0)} (from ${kb(x.values[0] ?? 0)} to ${kb(x.values[x.values.length - 1] ?? 0)})`).join('; ');
  const legend = h('ul', { class: 'legend' }, ...series.map((x) => h('li', {}, h('span', { class: 'swatch', style: `background:${x.color}`, 'aria-hidden': 'true' }), x.label)));
  return h(
    'figure',
    { class: 'sparkline', 'data-testid': 'sparkline' },
    s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${caption}: ${words}` }, ...lines, marker),
    h('figcaption', {}, `${caption}, ${where}: ${words}`),
    legend,
  );
}
