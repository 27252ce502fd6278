/** `ptlab report REPORT.json`: draw a replay report as PNG/SVG plots, an HTML page and a Markdown summary. */
import path from 'node:path';
import type { Command } from 'commander';
import { REPORT_FILES, REPORT_FORMATS, formatReportError, safeParseReport, writeReport, PNG_WIDTH, type ReportFormat, type WriteReportOptions } from '../report/index.js';
import { writeDirAtomic } from '../util/atomic.js';
import type { ReplayReport } from '../workloads/report_schema.js';
import { MAX_DOCUMENT_BYTES, UsageError, readWhole } from './util.js';

/**
 * Write a report's files as one directory: into a temporary one beside `dir`, renamed into place
 * whole (util/atomic.ts), so an interrupted run leaves the earlier report, never a mix. An existing
 * `dir` is replaced only when it holds nothing but what a report writes.
 */
export async function writeReportDir(report: ReplayReport, dir: string, opts: WriteReportOptions = {}): Promise<string[]> {
  const names = await writeDirAtomic(
    dir,
    (old) => {
      const foreign = old.filter((n) => !REPORT_FILES.includes(n));
      if (!foreign.length) return undefined;
      return `it holds ${foreign.length} file(s) a report does not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}), and a report replaces its directory whole: give a new directory, an empty one or an earlier report's`;
    },
    async (tmp) => (await writeReport(report, tmp, opts)).map((f) => path.basename(f)),
  );
  return names.map((n) => path.join(dir, n));
}

function parseFormats(v: string): Set<ReportFormat> {
  const out = new Set<ReportFormat>();
  for (const f of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(REPORT_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format: '${f}' is not one of ${REPORT_FORMATS.join(', ')}`);
    out.add(f as ReportFormat);
  }
  if (out.size === 0) throw new UsageError(`--format: expected a list such as ${REPORT_FORMATS.join(',')}`);
  return out;
}

/** REPORT.json → REPORT-report/ beside it. */
function defaultOutDir(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file).replace(/\.json$/i, '')}-report`);
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('draw a replay report (the JSON `ptlab replay` writes) as plots, an HTML page and a Markdown summary')
    .argument('<report.json>', 'a replay report: type "ptlab-replay-report", one run per what-if variant (src/workloads/report_schema.ts)')
    .option('-o, --out <dir>', 'directory to write into, created if missing (default: REPORT-report/ beside the input)')
    .option('--format <list>', `what to write, comma-separated: ${REPORT_FORMATS.join(',')}`, parseFormats, new Set(REPORT_FORMATS))
    .addHelpText(
      'after',
      `
Reads one replay report and writes into the output directory:
  vmpte.svg/png          VmPTE over time, one line per run (with and without PT_RECLAIM on one axis)
  rss.svg/png            RssAnon + RssFile + RssShmem over time, one panel per run
  entries.svg/png        live entries per PTE table at the end (0..512), one panel per run, log count axis
  empty-tables.svg/png   empty PTE tables per address-space region at the end, one panel per run
  report.html            one self-contained page: the plots inline, the final figures, savings, notes
  summary.md             the final figures and what each run saves or costs against the first run
  report.json            the input, validated (always written)
PNGs are ${PNG_WIDTH} px wide. The x axis is trace time when every sample has one, else the op index.
How to read the plots: docs/reports.md

Example:
  ptlab report out/firefox.json -o /tmp/firefox      then open /tmp/firefox/report.html

Exit codes: 0 written; 2 unreadable or invalid report (FILE: path.of.first.problem: message)
or a bad --format; 4 internal error.`,
    )
    .action(async (file: string, opts: { out?: string; format: Set<ReportFormat> }) => {
      const text = readWhole(file, MAX_DOCUMENT_BYTES, 'the report');
      const r = safeParseReport(text, file);
      if (!r.ok) throw new UsageError(formatReportError(r.error));
      const written = await writeReportDir(r.report, opts.out ?? defaultOutDir(file), { formats: opts.format });
      for (const f of written) process.stdout.write(`${f}\n`);
    });
}
