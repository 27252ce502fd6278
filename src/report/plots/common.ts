/** What every plot shares: the font resvg has (DejaVu Sans), sizes, and one colour per run. */
import type { Config } from 'vega-lite';

export const VL_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The font the PNGs are rendered with; vega measures text with it too. */
export const FONT = 'DejaVu Sans';

export const PLOT_WIDTH = 640;
export const PLOT_HEIGHT = 280;

export const CONFIG: Config = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 12, anchor: 'start', subtitleColor: '#555' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  header: { labelFontSize: 12, labelFontWeight: 'bold', labelAnchor: 'start', labelAngle: 0, labelOrient: 'top' },
};

/** The colour channel for runs: same colour for the same run in every plot, in report order. */
export function runColor(labels: readonly string[], title: string | null = 'run') {
  return {
    field: 'run',
    type: 'nominal' as const,
    scale: { domain: [...labels] },
    legend: title === null ? null : { title, orient: 'bottom' as const, direction: 'vertical' as const },
  };
}

/** Draw points on lines only while they can be told apart. */
export function showPoints(rowsPerRun: number): boolean {
  return rowsPerRun <= 40;
}
