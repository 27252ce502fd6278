/**
 * Vega-Lite → Vega → SVG (vega's headless View, no canvas), and SVG → PNG (resvg, with the DejaVu
 * fonts this machine has). No file I/O here.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { FONT } from './plots/common.js';

/** Width of every PNG, in pixels; the SVG is scaled to it, height follows the aspect ratio. */
export const PNG_WIDTH = 1200;

export const FONT_DIRS = ['/usr/share/fonts/truetype/dejavu'];

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string, width: number = PNG_WIDTH): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'width', value: width },
    background: 'white',
    font: { loadSystemFonts: true, fontDirs: FONT_DIRS, defaultFontFamily: FONT, sansSerifFamily: FONT },
  });
  return resvg.render().asPng();
}
