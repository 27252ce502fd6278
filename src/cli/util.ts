/** Shared bits of the CLI: exit codes, errors, script loading, --config parsing, tables. */
import fs from 'node:fs';
import { formatScriptError, type Script } from '../script/ast.js';
import { safeParseScript } from '../script/parse.js';

export const EXIT = { OK: 0, FAIL: 1, USAGE: 2, SKIPPED: 3, INTERNAL: 4 } as const;

/** Bad input from the user: printed as one message, exit code 2. */
export class UsageError extends Error {}

/** Read and validate an op script; every problem is reported as file:line:col. */
export function loadScript(path: string): Script {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read script ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const r = safeParseScript(text, path);
  if (!r.ok) throw new UsageError(`${r.errors.length} error(s) in ${path}:\n${r.errors.map(formatScriptError).join('\n')}`);
  return r.script;
}

/** `--config pt_reclaim=off,thp=always` (repeatable) into a settings record. */
export function parseConfigOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const out = { ...previous };
  for (const part of value.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config: '${part}' is not key=value (e.g. pt_reclaim=off)`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** A plain text table with right-aligned numbers. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toLocaleString('en-US') : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[], isHeader: boolean) =>
    r.map((c, i) => (i === 0 || isHeader ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(cells[0], true), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map((r) => line(r, false))].join('\n');
}

/** Write a whole file or nothing: a private name in the same directory, then rename. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
