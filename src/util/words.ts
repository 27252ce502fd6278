/**
 * The one lexer of ptlab's line languages (op scripts, race scenarios, `# diff:` directives): a
 * line is words separated by blanks, and `#` starts a comment wherever it stands (a `# diff:`
 * directive, itself a comment, is read with `words`). Columns are
 * 1-based, so that every parser reports FILE:LINE:COL the same way. (Traces, whose values may be
 * quoted, have their own lexer in trace/parse.ts: `"a b"` is one word there.)
 */

export interface Word {
  text: string;
  /** 1-based column of the word's first character. */
  col: number;
}

/** The words of `raw` before any `#`. */
export function lineWords(raw: string): Word[] {
  const hash = raw.indexOf('#');
  return words(hash >= 0 ? raw.slice(0, hash) : raw);
}

/** The blank-separated words of `text`, comment marks included; `firstCol` is its first column. */
export function words(text: string, firstCol = 1): Word[] {
  return [...text.matchAll(/[^ \t\r\f\v]+/g)].map((m) => ({ text: m[0], col: (m.index ?? 0) + firstCol }));
}
