/** `ptlab report`: a replay report (src/workloads/report_schema.ts) drawn as plots, an HTML page and a Markdown summary. */
export { writeReport, REPORT_FILES, REPORT_FORMATS, type ReportFormat, type WriteReportOptions } from './write.js';
export { safeParseReport, formatReportError, type ReportError, type ParseReportResult } from './parse.js';
export { PNG_WIDTH, renderSvg, svgToPng } from './render.js';
export { PLOTS, type Plot } from './plots/index.js';
export { summaryMarkdown } from './markdown.js';
export { reportHtml, prefixSvgIds } from './html.js';
export { savings, formatSaving, summaryRows, type Saving, type SummaryRow } from './summary.js';
export { formatKb, formatCount, formatPercent, sizeUnitFor } from './format.js';
