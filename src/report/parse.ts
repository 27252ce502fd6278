/** Reading a replay report from JSON text: a result value with the first problem's path, never a throw. */
import type { z } from 'zod';
import { ReplayReport } from '../workloads/report_schema.js';

export type ReportError =
  | { readonly code: 'json'; readonly file: string; readonly message: string }
  | { readonly code: 'schema'; readonly file: string; readonly path: string; readonly message: string; readonly issues: number };

export type ParseReportResult = { readonly ok: true; readonly report: ReplayReport } | { readonly ok: false; readonly error: ReportError };

/** `['runs', 0, 'final', 'VmPTE']` → `runs[0].final.VmPTE` (`(top level)` for the root). */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

export function safeParseReport(text: string, file: string): ParseReportResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: { code: 'json', file, message: `not JSON: ${(e as Error).message}` } };
  }
  const r = ReplayReport.safeParse(json);
  if (r.success) return { ok: true, report: r.data };
  const first: z.core.$ZodIssue = r.error.issues[0];
  return { ok: false, error: { code: 'schema', file, path: formatIssuePath(first.path), message: first.message, issues: r.error.issues.length } };
}

/** "FILE: runs[0].final.VmPTE: Invalid input: expected number, received undefined (and 2 more problems)". */
export function formatReportError(e: ReportError): string {
  if (e.code === 'json') return `${e.file}: ${e.message}`;
  const more = e.issues > 1 ? ` (and ${e.issues - 1} more problem${e.issues > 2 ? 's' : ''})` : '';
  return `${e.file}: ${e.path}: ${e.message}${more}`;
}
