/**
 * report.html: one self-contained page — inline SVG plots, the summary table, savings, observed
 * counters and notes. No scripts, no external fonts or style sheets.
 */
import type { ReplayReport } from '../workloads/report_schema.js';
import type { Plot } from './plots/index.js';
import { OBSERVED_HEADER, SUMMARY_HEADER, describeSource, formatSaving, observedCells, runNotes, savings, summaryCells, summaryRows } from './summary.js';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Make the element ids of an SVG unique to it (`clip1` → `vmpte-clip1`), so that several vega
 * SVGs inlined in one HTML page do not clip each other's marks.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  return svg.replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`).replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

function htmlTable(header: readonly string[], rows: readonly string[][]): string {
  const head = `<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`);
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

const STYLE = `body{font-family:"DejaVu Sans",system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{padding:.3em .8em;border-bottom:1px solid #ddd}
td{text-align:right;font-variant-numeric:tabular-nums}thead th{border-bottom:2px solid #888;text-align:right}thead th:first-child,tbody th{text-align:left}
figure{margin:2em 0}figcaption{color:#555;max-width:70em}svg{max-width:100%;height:auto}`;

/** `plots` with their SVGs, in page order. */
export function reportHtml(report: ReplayReport, plots: readonly { plot: Plot; svg: string }[]): string {
  const title = `ptlab replay report: ${report.source.name}`;
  const parts = [
    '<!doctype html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>`,
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>Source: ${escapeHtml(describeSource(report))}. Sizes as in /proc (kB, shown in MiB/GiB when large).</p>`,
    '<h2>Final figures</h2>',
    htmlTable(SUMMARY_HEADER, summaryRows(report).map(summaryCells)),
  ];
  const s = savings(report);
  if (s.length > 0) parts.push(`<ul class="savings">${s.map((x) => `<li>${escapeHtml(formatSaving(x))}.</li>`).join('')}</ul>`);
  if (report.observed.length > 0) parts.push('<h2>Observed on the real process</h2>', htmlTable(OBSERVED_HEADER, observedCells(report)));
  for (const { plot, svg } of plots) {
    parts.push(`<figure id="${plot.name}">`, prefixSvgIds(svg, plot.name), `<figcaption>${escapeHtml(plot.caption)}</figcaption>`, '</figure>');
  }
  const notes = runNotes(report);
  if (notes.length > 0) parts.push('<h2>Notes</h2>', `<ul>${notes.map((n) => `<li><b>${escapeHtml(n.run)}</b>: ${escapeHtml(n.note)}</li>`).join('')}</ul>`);
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}
