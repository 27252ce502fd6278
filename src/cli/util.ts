/** Shared bits of the CLI: exit codes, errors, script loading, --config parsing, tables. */
import fs from 'node:fs';
import path from 'node:path';
import { formatScriptError, type Script } from '../script/ast.js';
import { safeParseScriptLines, type ParseScriptResult } from '../script/parse.js';
import { fileLines } from '../util/file_lines.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The exit codes of every command (README.md, the paragraph "Exit codes, the same for every command"; docs/architecture.md, "Conventions"). 3 is one meaning everywhere: the
 * command ran but could not reach a verdict, because a search stopped at its budget (explore) or
 * because this machine's kernel cannot be used (diff, record).
 */
export const EXIT = { OK: 0, FAIL: 1, USAGE: 2, NO_VERDICT: 3, INTERNAL: 4 } as const;

/** Bad input from the user: printed as one message, exit code 2. */
export class UsageError extends Error {}

/** A failure of the run, not of the input (e.g. a server that cannot be reached): one message, exit code 1. */
export class RunFailure extends Error {}

/** Read and validate an op script a line at a time; every problem is reported as file:line:col. */
export function loadScript(path: string): Script {
  let r: ParseScriptResult;
  try {
    r = safeParseScriptLines(fileLines(path), path);
  } catch (e) {
    throw unreadable(path, e);
  }
  if (!r.ok) throw new UsageError(`${r.errors.length} error(s) in ${path}:\n${r.errors.map(formatScriptError).join('\n')}`);
  return r.script;
}

/** Most bytes of a script read whole, as text (ptlab diff hands it to the kernel runner; --timeline quotes its lines). */
export const MAX_SCRIPT_BYTES = 256 * 2 ** 20;
/** Most bytes of a JSON document (ptlab view, serve, report): parsed whole, several times its size in memory. */
export const MAX_DOCUMENT_BYTES = 64 * 2 ** 20;

/** An op script's text, for the commands that need it whole; refused beyond MAX_SCRIPT_BYTES (docs/limits.md). */
export function readScriptText(path: string): string {
  return readWhole(path, MAX_SCRIPT_BYTES, 'the script');
}

/**
 * A file read whole, refused beyond `max` bytes (docs/limits.md) and when it cannot be read, as
 * bad input naming the file: `FILE:1:1: ...` for the size, `FILE: cannot read WHAT: CODE` else.
 */
export function readWhole(path: string, max: number, what: string): string {
  try {
    const size = fs.statSync(path).size;
    if (size > max) throw new UsageError(`${path}:1:1: ${what} is ${size} bytes (expected at most ${max} bytes where it is read whole, the limit in docs/limits.md)`);
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw e instanceof UsageError ? e : unreadable(path, e, what);
  }
}

function unreadable(path: string, e: unknown, what = 'the script'): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  return code === undefined ? e : new UsageError(`${path}: cannot read ${what}: ${code} (expected a readable text file)`);
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

/**
 * A benchmark's result: its Markdown at `out` (FILE.md), the data beside it (FILE.json), each
 * written whole or not at all (src/util/atomic.ts), the directory made if missing; then the
 * Markdown on stdout.
 */
export function writeBenchResult(out: string, md: string, data: unknown): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  writeFileAtomic(out, md);
  writeFileAtomic(out.replace(/\.md$/, '.json'), JSON.stringify(data, null, 2) + '\n');
  process.stdout.write(md);
}
