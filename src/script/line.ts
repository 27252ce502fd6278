/**
 * One line of an op script being parsed: its error sink (LineCtx: every error points at a word,
 * with what was expected), `key=value` options, and the draft op a line becomes (an Op whose
 * fields may be missing where a word was bad).
 */
import {
  ERR_NAMES,
  type ErrName,
  type Loc,
  type Op,
  type OpKind,
  type ScriptError,
} from './ast.js';
import type { Word } from '../util/words.js';
import { MAX_FILE_SIZE } from '../mm/xarray.js';
import { PAGE_SIZE } from '../mm/const.js';
import { EXPECT_NAME, EXPECT_SIZE, NAME_RE, OPTION_RE, USAGE, fmtSize, oneOf, parseSize } from './grammar.js';

// ---------------------------------------------------------------------------------------------
// Words and lines

export interface OptWord extends Word {
  key: string;
  value: string;
}

/** Error sink and helpers for one line. */
export class LineCtx {
  private missingReported = false;
  private extraReported = false;

  constructor(
    readonly file: string,
    readonly line: number,
    /** Column just past the last word: where a missing word is reported. */
    readonly endCol: number,
    private readonly sink: ScriptError[],
  ) {}

  loc(col: number): Loc {
    return { file: this.file, line: this.line, col };
  }

  error(code: ScriptError['code'], col: number, message: string, expected: string): void {
    this.sink.push({ code, loc: this.loc(col), message, expected });
  }

  /** Positional word `i`, or a (single, per line) "missing" error naming `what`. */
  need(pos: readonly Word[], i: number, what: string, usage: string): Word | undefined {
    if (i < pos.length) return pos[i];
    if (!this.missingReported) this.error('syntax', this.endCol, `missing ${what}`, usage);
    this.missingReported = true;
    return undefined;
  }

  /** Reports the first word beyond the `n` positional words an op takes. */
  noExtra(pos: readonly Word[], n: number, usage: string): void {
    if (pos.length <= n || this.extraReported) return;
    this.extraReported = true;
    this.error('syntax', pos[n].col, `unexpected word '${pos[n].text}'`, usage);
  }

  name(w: Word | undefined, what: string): string | undefined {
    if (!w) return undefined;
    if (NAME_RE.test(w.text)) return w.text;
    this.error('bad-value', w.col, `bad ${what} '${w.text}'`, EXPECT_NAME);
    return undefined;
  }

  /**
   * A size-valued word. `aligned`: must be a multiple of 4K; `positive`: must not be 0.
   * `text` overrides the spelling checked (the value of a `key=value` word).
   */
  size(
    w: Word | undefined,
    what: string,
    opts: { aligned?: boolean; positive?: boolean; text?: string } = {},
  ): number | undefined {
    if (!w) return undefined;
    const text = opts.text ?? w.text;
    const v = parseSize(text);
    if (v === undefined) {
      this.error('bad-value', w.col, `bad ${what} '${text}'`, EXPECT_SIZE);
      return undefined;
    }
    if (opts.positive && v === 0) {
      this.error('bad-value', w.col, `${what} must not be 0`, 'a positive multiple of 4K');
      return undefined;
    }
    if (opts.aligned && v % PAGE_SIZE !== 0) {
      this.error('bad-value', w.col, `${what} ${text} is not a multiple of 4K`, 'a multiple of 4K (4096 bytes)');
      return undefined;
    }
    return v;
  }

  /** A file or memfd size, or a shared anonymous mapping's (a shmem file too): at most MAX_FILE_SIZE. */
  fileSize(w: Word | undefined, what: string, opts: { aligned?: boolean; positive?: boolean } = {}): number | undefined {
    const v = this.size(w, what, opts);
    if (v === undefined || v <= MAX_FILE_SIZE || !w) return v;
    this.error('out-of-range', w.col, `${what} ${w.text} is larger than the model's largest file`, `at most ${fmtSize(MAX_FILE_SIZE)}, the model's limit in docs/limits.md`);
    return undefined;
  }

  choice<T extends string>(w: Word | undefined, list: readonly T[], what: string, text?: string): T | undefined {
    if (!w) return undefined;
    const t = text ?? w.text;
    if ((list as readonly string[]).includes(t)) return t as T;
    this.error('bad-value', w.col, `bad ${what} '${t}'`, oneOf(list));
    return undefined;
  }
}

/** Separates `key=value` options from positional words, rejecting unknown and repeated keys. */
export function splitOptions(
  c: LineCtx,
  op: Exclude<OpKind, 'config'>,
  words: readonly Word[],
  allowed: readonly string[],
): { pos: Word[]; opts: Map<string, OptWord> } {
  const pos: Word[] = [];
  const opts = new Map<string, OptWord>();
  for (const w of words) {
    const m = OPTION_RE.exec(w.text);
    if (!m) {
      pos.push(w);
      continue;
    }
    const ow: OptWord = { ...w, key: m[1], value: m[2] };
    if (!allowed.includes(ow.key)) {
      if (allowed.length === 0) c.error('syntax', w.col, `${op} takes no options, got '${w.text}'`, USAGE[op]);
      else c.error('syntax', w.col, `unknown option '${ow.key}=' for ${op}`, oneOf(allowed.map((k) => `${k}=`)));
    } else if (opts.has(ow.key)) {
      c.error('syntax', w.col, `option '${ow.key}=' given twice`, `at most one ${ow.key}=`);
    } else {
      opts.set(ow.key, ow);
    }
  }
  return { pos, opts };
}

// ---------------------------------------------------------------------------------------------
// Drafts: ops whose fields may be missing where the line had a bad word

export type DraftOf<T> = T extends Op ? Pick<T, 'op' | 'loc'> & Partial<Omit<T, 'op' | 'loc'>> : never;
export type Draft = DraftOf<Op>;
export type DraftFor<K extends OpKind> = DraftOf<Extract<Op, { op: K }>>;

/** Columns of the words a draft came from, for validation errors. */
export interface Cols {
  op: number;
  name?: number;
  /** fork: the parent's name */
  parent?: number;
  file?: number;
  map?: number;
  offset?: number;
  len?: number;
  size?: number;
  at?: number;
  /** uffd_move: the destination mapping and its offset */
  dst?: number;
  dstOffset?: number;
}

export interface Parsed {
  draft: Draft;
  cols: Cols;
  /** Options present on the line, even when their value was bad (e.g. `at=` with a bad address). */
  hasAt: boolean;
}

export function parseErr(c: LineCtx, opts: Map<string, OptWord>): ErrName | undefined {
  const w = opts.get('err');
  return w ? c.choice(w, ERR_NAMES, 'err= name', w.value) : undefined;
}
