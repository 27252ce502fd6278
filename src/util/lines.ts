/**
 * Text as lines, for the parsers of traces and op scripts: they take any iterable of lines, so a
 * file is read a line at a time (file_lines.ts) and a string in memory is split (`textLines`). A
 * reader refuses a line longer than `MAX_LINE` characters with LineTooLong. Pure: no I/O (the web
 * view bundles the parsers).
 */

/** Longest line a trace or op script may have (docs/limits.md). */
export const MAX_LINE = 1 << 20;

export class LineTooLong extends Error {
  constructor(
    /** 1-based number of the line. */
    readonly line: number,
    readonly max: number,
  ) {
    super(`line ${line} is longer than ${max} characters`);
  }
}

/** The lines of a string, as `fileLines` yields them (tests, and text already in memory). */
export function* textLines(text: string, maxLine = MAX_LINE): Generator<string> {
  let from = 0;
  let line = 0;
  for (;;) {
    let nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    if (nl === text.length && from === text.length) return;
    if (nl - from > maxLine) throw new LineTooLong(line + 1, maxLine);
    line++;
    yield text.slice(from, nl);
    from = nl + 1;
    if (from > text.length) return;
  }
}
