/** writeReport(): the one module of src/report/ that touches files. Everything it writes is built by pure functions. */
import fs from 'node:fs';
import path from 'node:path';
import type { ReplayReport } from '../workloads/report_schema.js';
import { reportHtml } from './html.js';
import { summaryMarkdown } from './markdown.js';
import { PLOTS } from './plots/index.js';
import { PNG_WIDTH, renderSvg, svgToPng } from './render.js';

export const REPORT_FORMATS = ['png', 'svg', 'html', 'md'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Every name writeReport() may write into its directory. */
export const REPORT_FILES: readonly string[] = ['report.json', 'report.html', 'summary.md', ...PLOTS.flatMap((p) => [`${p.name}.svg`, `${p.name}.png`])];

export interface WriteReportOptions {
  /** Which outputs to write (report.json is always written). Default: all. */
  readonly formats?: ReadonlySet<ReportFormat>;
  /** Width of the PNGs in pixels. Default PNG_WIDTH. */
  readonly pngWidth?: number;
}

/** Write the report's files into `outDir` (created if missing); returns the paths written, in order. */
export async function writeReport(report: ReplayReport, outDir: string, opts: WriteReportOptions = {}): Promise<string[]> {
  const formats = opts.formats ?? new Set(REPORT_FORMATS);
  // Synchronous writes: no file operation is ever in flight on libuv's thread pool when a SIGTERM
  // handler removes the half-written directory (src/util/atomic.ts), so none can recreate a file in
  // it behind the handler's back (measured: ENOTEMPTY from rmdir, and the temporary directory left).
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string | Buffer) => {
    const file = path.join(outDir, name);
    fs.writeFileSync(file, data);
    written.push(file);
  };
  put('report.json', JSON.stringify(report, null, 2) + '\n');
  const needSvg = formats.has('svg') || formats.has('png') || formats.has('html');
  const plots = needSvg ? await Promise.all(PLOTS.map(async (plot) => ({ plot, svg: await renderSvg(plot.spec(report)) }))) : [];
  for (const { plot, svg } of plots) {
    if (formats.has('svg')) put(`${plot.name}.svg`, svg);
    if (formats.has('png')) put(`${plot.name}.png`, svgToPng(svg, opts.pngWidth ?? PNG_WIDTH));
  }
  if (formats.has('html')) put('report.html', reportHtml(report, plots));
  if (formats.has('md')) put('summary.md', summaryMarkdown(report));
  return written;
}
