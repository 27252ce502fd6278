/**
 * Parser and validator of op scripts (grammar: docs/op-scripts.md).
 *
 * `safeParseScript` reads the whole text and validates it completely before anything runs: the
 * executors (model and kernel runner) rely on a validated script naming only known processes, maps
 * and files, with sizes, offsets and lengths that are 4K aligned and lie inside what they refer to.
 * Errors are collected (up to MAX_SCRIPT_ERRORS), each pointing at the offending word.
 *
 * Two passes per line: `parseLine` (parse_line.ts) turns the words into a draft op (an `Op` whose
 * fields may be missing where a word was bad) and reports syntax and value errors; `Validator.check`
 * (validate.ts) applies the draft to the script state (processes, maps, files, snapshots) and
 * reports name, range and order errors. Checks that need a field the line failed to supply are
 * skipped, so one bad word does not produce a cascade of follow-on errors. The vocabulary (usage
 * lines, options, value spellings, limits) is grammar.ts's; a line's error sink is line.ts's.
 */
import {
  formatScriptError,
  type Op,
  type OpKind,
  type Script,
  type ScriptError,
} from './ast.js';
import { LineTooLong, textLines } from '../util/lines.js';
import { lineWords, type Word } from '../util/words.js';
import { type Draft, LineCtx, type Parsed } from './line.js';
import { MAX_SCRIPT_ERRORS, MAX_SCRIPT_LINES, OP_WORDS, oneOf } from './grammar.js';
import { Validator } from './validate.js';
import { parseLine } from './parse_line.js';

// ---------------------------------------------------------------------------------------------
// Entry points

/** Parses and validates a whole script. Never throws on bad input. */
export function safeParseScript(text: string, file: string): ParseScriptResult {
  return safeParseScriptLines(textLines(text), file);
}

export type ParseScriptResult = { ok: true; script: Script } | { ok: false; errors: ScriptError[] };

/**
 * Parses and validates a script a line at a time (util/lines.ts `fileLines`): what it holds is the
 * ops (none with `keepOps: false`, a check only) and the validator's names and address ranges,
 * never the text. More than MAX_SCRIPT_LINES lines, or a line longer than the reader allows, is an
 * error at that line (docs/limits.md). Errors of the reader itself (a file that cannot be read)
 * are thrown.
 */
export function safeParseScriptLines(lines: Iterable<string>, file: string, opts: { keepOps?: boolean } = {}): ParseScriptResult {
  const errors: ScriptError[] = [];
  const drafts: Draft[] = [];
  const keep = opts.keepOps ?? true;
  const validator = new Validator();
  let i = 0;
  const limit = (line: number, col: number, message: string, expected: string) =>
    errors.push({ code: 'out-of-range', loc: { file, line, col }, message, expected });
  try {
    for (const text of lines) {
      if (errors.length >= MAX_SCRIPT_ERRORS) break;
      if (++i > MAX_SCRIPT_LINES) {
        limit(i, 1, `the script goes on past ${MAX_SCRIPT_LINES} lines`, `at most ${MAX_SCRIPT_LINES} lines, the limit in docs/limits.md`);
        break;
      }
      const words = lineWords(text);
      if (words.length === 0) continue;
      const last = words[words.length - 1];
      const c = new LineCtx(file, i, last.col + last.text.length, errors);
      const parsed = parseWords(c, words);
      if (!parsed) continue;
      validator.check(c, parsed);
      if (keep) drafts.push(parsed.draft);
    }
  } catch (e) {
    if (!(e instanceof LineTooLong)) throw e;
    limit(e.line, e.max + 1, `line ${e.line} is longer than ${e.max} characters`, `lines of at most ${e.max} characters, the limit in docs/limits.md`);
  }
  if (errors.length > 0) {
    // Stable sort: by line, then column; errors at one place keep the order they were found in.
    errors.sort((a, b) => a.loc.line - b.loc.line || a.loc.col - b.loc.col);
    return { ok: false, errors: errors.slice(0, MAX_SCRIPT_ERRORS) };
  }
  // Without errors every draft is complete: each field is missing only where an error was reported.
  return { ok: true, script: { file, ops: drafts as Op[] } };
}

/**
 * One line's op, by the grammar alone: no validation against the lines before it (names, ranges,
 * order). For printers and their tests (format.ts); a script is read by `safeParseScript`.
 */
export function parseOpLine(text: string, file = '<line>'): { ok: true; op: Op } | { ok: false; errors: ScriptError[] } {
  const errors: ScriptError[] = [];
  const words = lineWords(text);
  if (words.length === 0) return { ok: false, errors: [{ code: 'syntax', loc: { file, line: 1, col: 1 }, message: 'no op on the line', expected: oneOf(OP_WORDS) }] };
  const last = words[words.length - 1];
  const parsed = parseWords(new LineCtx(file, 1, last.col + last.text.length, errors), words);
  return parsed && !errors.length ? { ok: true, op: parsed.draft as Op } : { ok: false, errors };
}

/** The op of a line's words (at least one), by the grammar alone; undefined for an unknown op word. */
function parseWords(c: LineCtx, words: readonly Word[]): Parsed | undefined {
  const [opw, ...rest] = words;
  if (!(OP_WORDS as readonly string[]).includes(opw.text)) {
    c.error('unknown-op', opw.col, `unknown op '${opw.text}'`, oneOf(OP_WORDS));
    return undefined;
  }
  return parseLine(c, opw, opw.text as OpKind, rest);
}

/** Parses and validates a whole script; throws an Error listing every error, one per line. */
export function parseScript(text: string, file: string): Script {
  const r = safeParseScript(text, file);
  if (!r.ok) throw new Error(r.errors.map(formatScriptError).join('\n'));
  return r.script;
}
