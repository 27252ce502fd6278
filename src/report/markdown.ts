/** summary.md: the summary table, the savings against the first run, observed counters, notes. */
import type { ReplayReport } from '../workloads/report_schema.js';
import { OBSERVED_HEADER, SUMMARY_HEADER, describeSource, formatSaving, observedCells, runNotes, savings, summaryCells, summaryRows } from './summary.js';

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(mdEscape).join(' | ')} |`;
  const rule = `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function summaryMarkdown(report: ReplayReport): string {
  const out = [`# ptlab replay report: ${report.source.name}`, '', `Source: ${describeSource(report)}.`, '', '## Final figures', ''];
  out.push(markdownTable(SUMMARY_HEADER, summaryRows(report).map(summaryCells)), '');
  const s = savings(report);
  if (s.length > 0) out.push('## Against the first run', '', ...s.map((x) => `- ${formatSaving(x)}.`), '');
  if (report.observed.length > 0) out.push('## Observed on the real process', '', markdownTable(OBSERVED_HEADER, observedCells(report)), '');
  const notes = runNotes(report);
  if (notes.length > 0) out.push('## Notes', '', ...notes.map((n) => `- ${n.run}: ${n.note}`), '');
  return out.join('\n');
}
