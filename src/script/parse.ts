/**
 * Parser and validator of op scripts (grammar: docs/op-scripts.md).
 *
 * `safeParseScript` reads the whole text and validates it completely before anything runs: the
 * executors (model and kernel runner) rely on a validated script naming only known processes, maps
 * and files, with sizes, offsets and lengths that are 4K aligned and lie inside what they refer to.
 * Errors are collected (up to MAX_SCRIPT_ERRORS), each pointing at the offending word.
 *
 * Two passes per line: `parseLine` turns the words into a draft op (an `Op` whose fields may be
 * missing where a word was bad) and reports syntax and value errors; `Validator.check` applies the
 * draft to the script state (processes, maps, files, snapshots) and reports name, range and order
 * errors. Checks that need a field the line failed to supply are skipped, so one bad word does not
 * produce a cascade of follow-on errors.
 */
import {
  ADVICES,
  CMP_OPS,
  ERR_NAMES,
  EXPECT_FIELDS,
  formatScriptError,
  placementAddress,
  type Advice,
  type CmpOp,
  type ErrName,
  type ExpectField,
  type Loc,
  type Op,
  type OpKind,
  type Script,
  type ScriptError,
  type UffdRegisterMode,
  parseProt,
  TCP_ZEROCOPY_MAX,
  UFFD_COPY_MAX,
  UFFD_REGISTER_MODES,
} from './ast.js';
import { SCRIPT_SETTINGS } from '../mm/config.js';
import { IntervalMap } from '../util/intervals.js';
import { LineTooLong, textLines } from '../util/lines.js';
import { lineWords, type Word } from '../util/words.js';
import { MAX_FILE_SIZE } from '../mm/xarray.js';
import { TASK_SIZE } from '../mm/const.js';

/** At most this many errors are reported; parsing stops once it is reached. */
export const MAX_SCRIPT_ERRORS = 20;

/**
 * Most lines a script may have (docs/limits.md): a script is held as ops while it runs, about
 * 150 bytes each, so 4 million lines stay well inside Node's default heap.
 */
export const MAX_SCRIPT_LINES = 4_000_000;

const PAGE = 4096;
/** A mapping placed by the placement rule (no `at=`) may be at most this large. */
const MAX_PLACED_MAP = 2 ** 40;

/** One line per op: the usage, used as the `expected` text of arity errors. */
const USAGE: Record<OpKind, string> = {
  config: 'config KEY=VALUE ...',
  process: 'process P [err=NAME]',
  switch: 'switch P [err=NAME]',
  exit: 'exit P [err=NAME]',
  fork: 'fork P Q',
  memfd: 'memfd F SIZE [err=NAME]',
  file: 'file F SIZE [folio=4K|2M] [err=NAME]',
  map:
    'map M anon private|shared SIZE [at=ADDR] [prot=rw-] [hugepage|nohugepage] [locked] [align=2M] [err=NAME]' +
    ', or map M shmem|file F OFFSET SIZE shared|private [at=ADDR] [prot=rw-] [hugepage|nohugepage] [locked] [err=NAME]' +
    ', or map M tcp SIZE [at=ADDR] [err=NAME]',
  touch: 'touch M OFFSET LEN read|write [every=STRIDE] [err=NAME]',
  madvise: 'madvise M OFFSET LEN ADVICE [err=NAME]',
  unmap: 'unmap M OFFSET LEN [err=NAME]',
  mlock: 'mlock M OFFSET LEN [err=NAME]',
  munlock: 'munlock M OFFSET LEN [err=NAME]',
  mprotect: 'mprotect M OFFSET LEN PROT [err=NAME]',
  mremap: 'mremap M OFFSET OLDLEN NEWLEN [maymove] [at=ADDR] [err=NAME]',
  uffd_register: 'uffd_register M OFFSET LEN missing|wp|minor [err=NAME]',
  uffd_copy: 'uffd_copy M OFFSET LEN [err=NAME]',
  uffd_zeropage: 'uffd_zeropage M OFFSET LEN [err=NAME]',
  uffd_writeprotect: 'uffd_writeprotect M OFFSET LEN on|off [err=NAME]',
  tcp_zerocopy: 'tcp_zerocopy M OFFSET LEN [err=NAME]',
  migrate: 'migrate M OFFSET LEN',
  swapoff: 'swapoff [err=NAME]',
  snapshot: 'snapshot LABEL [M OFFSET LEN]',
  expect: 'expect FIELD [delta] [==|<=|>=|<|>|!=] N',
};
const USAGE_ANON = 'map M anon private|shared SIZE [at=ADDR] [prot=rw-] [hugepage|nohugepage] [locked] [align=2M] [err=NAME]';
const USAGE_FILE = 'map M shmem|file F OFFSET SIZE shared|private [at=ADDR] [prot=rw-] [hugepage|nohugepage] [locked] [err=NAME]';
const USAGE_TCP = 'map M tcp SIZE [at=ADDR] [err=NAME]';

/** The op words, in the order of docs/op-scripts.md. */
export const OP_WORDS = Object.keys(USAGE) as OpKind[];

/** Ops that act on the current process. */
const NEEDS_PROCESS: ReadonlySet<OpKind> = new Set<OpKind>([
  'map', 'touch', 'madvise', 'unmap', 'mlock', 'munlock', 'mprotect', 'mremap', 'uffd_register', 'uffd_copy', 'uffd_zeropage',
  'uffd_writeprotect', 'tcp_zerocopy', 'migrate', 'swapoff', 'snapshot', 'expect',
]);

/** `key=` options each op accepts (config is handled separately: all its words are settings). */
const OPTIONS: Record<Exclude<OpKind, 'config'>, readonly string[]> = {
  process: ['err'],
  switch: ['err'],
  exit: ['err'],
  fork: [],
  memfd: ['err'],
  file: ['folio', 'err'],
  map: ['at', 'align', 'prot', 'err'], // align only for anon: narrowed in parseMap
  touch: ['every', 'err'],
  madvise: ['err'],
  unmap: ['err'],
  mlock: ['err'],
  munlock: ['err'],
  mprotect: ['err'],
  mremap: ['at', 'err'],
  uffd_register: ['err'],
  uffd_copy: ['err'],
  uffd_zeropage: ['err'],
  uffd_writeprotect: ['err'],
  tcp_zerocopy: ['err'],
  migrate: [],
  swapoff: ['err'],
  snapshot: [],
  expect: [],
};

/** Settings `config` accepts: the model's own table (src/mm/config.ts), one source of truth. */
export const CONFIG_KEYS = SCRIPT_SETTINGS;

const MAP_FLAGS = ['hugepage', 'nohugepage', 'locked'] as const;
type MapFlag = (typeof MAP_FLAGS)[number];

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const OPTION_RE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const SIZE_RE = /^(?:0[xX]([0-9a-fA-F]+)|([0-9]+))([KMGTkmgt])?$/;
const INT_RE = /^-?[0-9]+$/;
const UNIT_SHIFT: Record<string, bigint> = { K: 10n, M: 20n, G: 30n, T: 40n };

const EXPECT_SIZE = 'a size like 4K, 2M or 0x1000';
const EXPECT_NAME = 'a name like A, heap or P2 ([A-Za-z_][A-Za-z0-9_.-]*)';
const EXPECT_INT = 'an integer like 12 or -4';
const EXPECT_PROT = 'a protection like rw-, r--, --- or rwx';

/**
 * A size, offset or address: decimal or `0x` hex, with an optional binary unit `K`, `M`, `G` or
 * `T` (one letter, either case; 1K = 1024). Undefined when malformed or above 2^53 - 1.
 */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text);
  if (!m) return undefined;
  let v = m[1] !== undefined ? BigInt(`0x${m[1]}`) : BigInt(m[2]);
  if (m[3] !== undefined) v <<= UNIT_SHIFT[m[3].toUpperCase()];
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

/** Renders a byte count the way a script would spell it: `50G`, `4K`, `12345`. */
export function fmtSize(n: number): string {
  const units: Array<[string, number]> = [['T', 40], ['G', 30], ['M', 20], ['K', 10]];
  for (const [u, shift] of units) if (n !== 0 && n % 2 ** shift === 0) return `${n / 2 ** shift}${u}`;
  return String(n);
}

function fmtAddr(n: number): string {
  return `0x${n.toString(16)}`;
}

function oneOf(list: readonly string[]): string {
  return `one of: ${list.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Words and lines


interface OptWord extends Word {
  key: string;
  value: string;
}

/** Splits a line into words (blanks: space, tab, CR, FF, VT), dropping a `#` comment. */

/** Error sink and helpers for one line. */
class LineCtx {
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
    if (opts.aligned && v % PAGE !== 0) {
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
function splitOptions(
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

type DraftOf<T> = T extends Op ? Pick<T, 'op' | 'loc'> & Partial<Omit<T, 'op' | 'loc'>> : never;
type Draft = DraftOf<Op>;
type DraftFor<K extends OpKind> = DraftOf<Extract<Op, { op: K }>>;

/** Columns of the words a draft came from, for validation errors. */
interface Cols {
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
}

interface Parsed {
  draft: Draft;
  cols: Cols;
  /** Options present on the line, even when their value was bad (e.g. `at=` with a bad address). */
  hasAt: boolean;
}

function parseErr(c: LineCtx, opts: Map<string, OptWord>): ErrName | undefined {
  const w = opts.get('err');
  return w ? c.choice(w, ERR_NAMES, 'err= name', w.value) : undefined;
}

function parseLine(c: LineCtx, opw: Word, op: OpKind, rest: readonly Word[]): Parsed {
  const loc = c.loc(opw.col);
  const cols: Cols = { op: opw.col };
  const base = { loc, cols };
  switch (op) {
    case 'config':
      return { draft: parseConfig(c, opw, rest), cols, hasAt: false };
    case 'process':
    case 'switch':
    case 'exit': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const w = c.need(pos, 0, 'process name P', USAGE[op]);
      c.noExtra(pos, 1, USAGE[op]);
      const d: DraftFor<'process' | 'switch' | 'exit'> = { op, loc };
      const name = c.name(w, 'process name');
      if (name !== undefined) d.name = name;
      cols.name = w?.col;
      const err = parseErr(c, opts);
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'fork': {
      const { pos } = splitOptions(c, op, rest, OPTIONS[op]);
      const pw = c.need(pos, 0, 'parent process name P', USAGE[op]);
      const qw = c.need(pos, 1, 'child process name Q', USAGE[op]);
      c.noExtra(pos, 2, USAGE[op]);
      const d: DraftFor<'fork'> = { op, loc };
      const parent = c.name(pw, 'process name');
      const name = c.name(qw, 'process name');
      if (parent !== undefined) d.parent = parent;
      if (name !== undefined) d.name = name;
      cols.parent = pw?.col;
      cols.name = qw?.col;
      return { draft: d, cols, hasAt: false };
    }
    case 'swapoff': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      c.noExtra(pos, 0, USAGE[op]);
      const d: DraftFor<'swapoff'> = { op, loc };
      const err = parseErr(c, opts);
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'memfd':
    case 'file': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const nw = c.need(pos, 0, `${op} name F`, USAGE[op]);
      const sw = c.need(pos, 1, 'SIZE', USAGE[op]);
      c.noExtra(pos, 2, USAGE[op]);
      const name = c.name(nw, `${op} name`);
      const size = c.fileSize(sw, `${op} size`);
      cols.name = nw?.col;
      cols.size = sw?.col;
      const err = parseErr(c, opts);
      if (op === 'memfd') {
        const d: DraftFor<'memfd'> = { op, loc };
        if (name !== undefined) d.name = name;
        if (size !== undefined) d.size = size;
        if (err) d.err = err;
        return { draft: d, cols, hasAt: false };
      }
      const d: DraftFor<'file'> = { op, loc, folio: PAGE };
      if (name !== undefined) d.name = name;
      if (size !== undefined) d.size = size;
      const fw = opts.get('folio');
      if (fw) {
        const folio = c.size(fw, 'folio=', { text: fw.value });
        if (folio !== undefined && folio !== PAGE && folio !== 2 ** 21) {
          c.error('bad-value', fw.col, `bad folio size '${fw.value}'`, '4K or 2M');
          delete d.folio;
        } else if (folio === undefined) {
          delete d.folio;
        } else {
          d.folio = folio;
        }
      }
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'map':
      return parseMap(c, opw, rest, base);
    case 'touch':
    case 'madvise':
    case 'unmap':
    case 'mlock':
    case 'munlock':
    case 'uffd_register':
    case 'uffd_copy':
    case 'uffd_zeropage':
    case 'uffd_writeprotect':
    case 'tcp_zerocopy':
    case 'migrate': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const extra =
        op === 'touch' ? 'read|write' : op === 'madvise' ? 'ADVICE' : op === 'uffd_register' ? 'missing|wp|minor' : op === 'uffd_writeprotect' ? 'on|off' : undefined;
      const { xw, fields } = parseRangeWords(c, op, pos, opts, cols, 'LEN', extra);
      if (op === 'touch') {
        const d: DraftFor<'touch'> = { op, loc, ...fields };
        const rw = c.choice(xw, ['read', 'write'] as const, 'access');
        if (rw) d.write = rw === 'write';
        const ew = opts.get('every');
        if (ew) {
          const every = c.size(ew, 'every= stride', { aligned: true, positive: true, text: ew.value });
          if (every !== undefined) d.every = every;
        }
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'madvise') {
        const d: DraftFor<'madvise'> = { op, loc, ...fields };
        const advice = c.choice<Advice>(xw, ADVICES, 'advice');
        if (advice) d.advice = advice;
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'uffd_writeprotect') {
        const d: DraftFor<'uffd_writeprotect'> = { op, loc, ...fields };
        const on = c.choice(xw, ['on', 'off'] as const, 'protection switch');
        if (on) d.wp = on === 'on';
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'uffd_register') {
        const d: DraftFor<'uffd_register'> = { op, loc, ...fields };
        const mode = c.choice<UffdRegisterMode>(xw, UFFD_REGISTER_MODES, 'registration mode');
        if (mode) d.mode = mode;
        return { draft: d, cols, hasAt: false };
      }
      const d: DraftFor<'unmap' | 'mlock' | 'munlock' | 'uffd_copy' | 'uffd_zeropage' | 'tcp_zerocopy' | 'migrate'> = { op, loc, ...fields };
      return { draft: d, cols, hasAt: false };
    }
    case 'mprotect':
    case 'mremap':
      return parseRemapOrProtect(c, op, rest, base);
    case 'snapshot': {
      const { pos } = splitOptions(c, op, rest, OPTIONS[op]);
      const lw = c.need(pos, 0, 'LABEL', USAGE[op]);
      const d: DraftFor<'snapshot'> = { op, loc };
      if (lw) d.label = lw.text;
      if (pos.length > 1) {
        const mw = c.need(pos, 1, 'mapping name M', USAGE[op]);
        const ow = c.need(pos, 2, 'OFFSET', USAGE[op]);
        const lenw = c.need(pos, 3, 'LEN', USAGE[op]);
        c.noExtra(pos, 4, USAGE[op]);
        const map = c.name(mw, 'mapping name');
        const offset = c.size(ow, 'offset', { aligned: true });
        const len = c.size(lenw, 'length', { aligned: true, positive: true });
        Object.assign(cols, { map: mw?.col, offset: ow?.col, len: lenw?.col });
        if (map !== undefined && offset !== undefined && len !== undefined) d.range = { map, offset, len };
      }
      return { draft: d, cols, hasAt: false };
    }
    case 'expect':
      return { draft: parseExpect(c, opw, rest), cols, hasAt: false };
  }
}

/**
 * The words `M OFFSET LEN [X]` shared by the range ops, and `err=`: the fields that parsed, and the
 * word X (undefined when the op has none, or it is missing).
 */
function parseRangeWords(
  c: LineCtx,
  op: Exclude<OpKind, 'config'>,
  pos: readonly Word[],
  opts: Map<string, OptWord>,
  cols: Cols,
  lenName: string,
  extra: string | undefined,
): { xw: Word | undefined; fields: { map?: string; offset?: number; len?: number; err?: ErrName } } {
  const n = extra ? 4 : 3;
  const mw = c.need(pos, 0, 'mapping name M', USAGE[op]);
  const ow = c.need(pos, 1, 'OFFSET', USAGE[op]);
  const lw = c.need(pos, 2, lenName, USAGE[op]);
  const xw = extra ? c.need(pos, 3, extra, USAGE[op]) : undefined;
  c.noExtra(pos, n, USAGE[op]);
  const map = c.name(mw, 'mapping name');
  const offset = c.size(ow, 'offset', { aligned: true });
  const len = c.size(lw, 'length', { aligned: true, positive: true });
  Object.assign(cols, { map: mw?.col, offset: ow?.col, len: lw?.col });
  const err = parseErr(c, opts);
  const fields = {
    ...(map !== undefined ? { map } : {}),
    ...(offset !== undefined ? { offset } : {}),
    ...(len !== undefined ? { len } : {}),
    ...(err ? { err } : {}),
  };
  return { xw, fields };
}

/** `mprotect M OFFSET LEN PROT` and `mremap M OFFSET OLDLEN NEWLEN [maymove] [at=ADDR]`. */
function parseRemapOrProtect(c: LineCtx, op: 'mprotect' | 'mremap', rest: readonly Word[], base: { loc: Loc; cols: Cols }): Parsed {
  const { loc, cols } = base;
  const { pos: all, opts } = splitOptions(c, op, rest, OPTIONS[op]);
  const maymoveWord = op === 'mremap' && all.length === 5 && all[4].text === 'maymove';
  const pos = maymoveWord ? all.slice(0, 4) : all;
  const { xw, fields } = parseRangeWords(c, op, pos, opts, cols, op === 'mremap' ? 'OLDLEN' : 'LEN', op === 'mremap' ? 'NEWLEN' : 'PROT');
  if (op === 'mprotect') {
    const d: DraftFor<'mprotect'> = { op, loc, ...fields };
    if (xw) {
      const prot = parseProt(xw.text);
      if (prot === undefined) c.error('bad-value', xw.col, `bad protection '${xw.text}'`, EXPECT_PROT);
      else d.prot = prot;
    }
    return { draft: d, cols, hasAt: false };
  }
  const d: DraftFor<'mremap'> = { op, loc, ...fields, maymove: maymoveWord };
  const newLen = c.size(xw, 'new length', { aligned: true, positive: true });
  if (newLen !== undefined) d.newLen = newLen;
  cols.size = xw?.col;
  const aw = opts.get('at');
  if (aw) {
    cols.at = aw.col;
    const at = c.size(aw, 'at= address', { aligned: true, text: aw.value });
    if (at !== undefined) d.at = at;
  }
  return { draft: d, cols, hasAt: aw !== undefined };
}

function parseConfig(c: LineCtx, opw: Word, rest: readonly Word[]): DraftFor<'config'> {
  const settings: Record<string, string> = {};
  if (rest.length === 0) c.error('syntax', c.endCol, 'missing KEY=VALUE', USAGE.config);
  const keys = Object.keys(CONFIG_KEYS);
  for (const w of rest) {
    const m = OPTION_RE.exec(w.text);
    if (!m) {
      c.error('syntax', w.col, `expected KEY=VALUE, got '${w.text}'`, USAGE.config);
      continue;
    }
    const [, key, value] = m;
    if (!Object.hasOwn(CONFIG_KEYS, key)) {
      c.error('bad-value', w.col, `unknown config key '${key}'`, oneOf(keys));
      continue;
    }
    if (Object.hasOwn(settings, key)) {
      c.error('syntax', w.col, `config key '${key}' given twice`, `at most one ${key}=`);
      continue;
    }
    if (!CONFIG_KEYS[key].apply({}, value)) {
      c.error('bad-value', w.col, `bad value '${value}' for config ${key}`, CONFIG_KEYS[key].values);
      continue;
    }
    settings[key] = value;
  }
  return { op: 'config', loc: c.loc(opw.col), settings };
}

function parseExpect(c: LineCtx, opw: Word, rest: readonly Word[]): DraftFor<'expect'> {
  const { pos } = splitOptions(c, 'expect', rest, OPTIONS.expect);
  const d: DraftFor<'expect'> = { op: 'expect', loc: c.loc(opw.col), delta: false, cmp: '==' };
  const fw = c.need(pos, 0, 'FIELD', USAGE.expect);
  const field = c.choice<ExpectField>(fw, EXPECT_FIELDS, 'expect field');
  if (field) d.field = field;
  let i = 1;
  let sawDelta = false;
  let sawCmp = false;
  if (pos[i]?.text === 'delta') {
    d.delta = true;
    sawDelta = true;
    i++;
  }
  if (pos[i] && (CMP_OPS as readonly string[]).includes(pos[i].text)) {
    d.cmp = pos[i].text as CmpOp;
    sawCmp = true;
    i++;
  }
  // A non-integer word followed by another word sits where delta or the operator goes: report it
  // as a bad operator and read the value from the next word.
  if (!sawCmp && pos[i] && pos[i + 1] && !INT_RE.test(pos[i].text)) {
    const expected = sawDelta ? oneOf(CMP_OPS) : `delta or ${oneOf(CMP_OPS)}`;
    c.error('bad-value', pos[i].col, `bad comparison '${pos[i].text}'`, expected);
    sawCmp = true;
    i++;
  }
  const nw = c.need(pos, i, 'value N', USAGE.expect);
  if (nw) {
    if (INT_RE.test(nw.text) && Number.isSafeInteger(Number(nw.text))) {
      d.value = Number(nw.text) || 0; // no -0
    } else {
      const expected = sawCmp
        ? EXPECT_INT
        : sawDelta
          ? `a comparison (${CMP_OPS.join(' ')}) or ${EXPECT_INT}`
          : `delta, a comparison (${CMP_OPS.join(' ')}) or ${EXPECT_INT}`;
      c.error('bad-value', nw.col, `bad expect value '${nw.text}'`, expected);
    }
  }
  c.noExtra(pos, i + 1, USAGE.expect);
  return d;
}

function parseMap(c: LineCtx, opw: Word, rest: readonly Word[], base: { loc: Loc; cols: Cols }): Parsed {
  const { loc, cols } = base;
  // Unknown keys are reported after the kind is known (align= is for anon only).
  const pos: Word[] = [];
  const optWords: Word[] = [];
  for (const w of rest) (OPTION_RE.test(w.text) ? optWords : pos).push(w);

  // Flags are bare words accepted anywhere after the op word, except in a name slot (M, and F of
  // shmem/file mappings), where the word is the name.
  const slots: Word[] = [];
  const flags = new Map<MapFlag, Word>();
  let kindText: string | undefined;
  for (const w of pos) {
    const i = slots.length;
    const nameSlot = i === 0 || (i === 2 && (kindText === 'shmem' || kindText === 'file'));
    if (!nameSlot && (MAP_FLAGS as readonly string[]).includes(w.text)) {
      const f = w.text as MapFlag;
      if (flags.has(f)) c.error('syntax', w.col, `flag '${f}' given twice`, `at most one ${f}`);
      else flags.set(f, w);
      continue;
    }
    slots.push(w);
    if (i === 1) kindText = w.text;
  }

  const d: DraftFor<'map'> = { op: 'map', loc, locked: flags.has('locked') };
  const nw = c.need(slots, 0, 'mapping name M', USAGE.map);
  const name = c.name(nw, 'mapping name');
  if (name !== undefined) d.name = name;
  cols.name = nw?.col;
  const kw = c.need(slots, 1, 'anon|shmem|file|tcp', USAGE.map);
  const kind = c.choice(kw, ['anon', 'shmem', 'file', 'tcp'] as const, 'mapping kind');
  const usage = kind === 'anon' ? USAGE_ANON : kind === 'tcp' ? USAGE_TCP : kind ? USAGE_FILE : USAGE.map;
  const allowed = kind === 'anon' ? ['at', 'align', 'prot', 'err'] : kind === 'tcp' ? ['at', 'err'] : ['at', 'prot', 'err'];
  const { opts } = splitOptions(c, 'map', optWords, allowed);

  if (kind === 'anon') {
    d.kind = kind;
    d.offset = 0;
    const shw = c.need(slots, 2, 'private|shared', usage);
    const sw = c.need(slots, 3, 'SIZE', usage);
    c.noExtra(slots, 4, usage);
    const sh = c.choice(shw, ['private', 'shared'] as const, 'sharing');
    if (sh) d.shared = sh === 'shared';
    // MAP_SHARED|MAP_ANONYMOUS is backed by a shmem file of the mapping's size (shmem_zero_setup()).
    const size = (sh === 'shared' ? c.fileSize : c.size).call(c, sw, 'mapping size', { aligned: true, positive: true });
    if (size !== undefined) d.size = size;
    cols.size = sw?.col;
  } else if (kind === 'tcp') {
    // tcp_mmap() refuses PROT_WRITE and PROT_EXEC: always PROT_READ, MAP_SHARED, offset 0.
    Object.assign(d, { kind, offset: 0, shared: true, prot: 1 });
    const sw = c.need(slots, 2, 'SIZE', usage);
    c.noExtra(slots, 3, usage);
    const size = c.size(sw, 'mapping size', { aligned: true, positive: true });
    if (size !== undefined) d.size = size;
    cols.size = sw?.col;
    for (const f of flags.values()) c.error('syntax', f.col, `flag '${f.text}' on a tcp mapping`, USAGE_TCP);
  } else if (kind) {
    d.kind = kind;
    const fw = c.need(slots, 2, `${kind === 'shmem' ? 'memfd' : 'file'} name F`, usage);
    const ow = c.need(slots, 3, 'OFFSET', usage);
    const sw = c.need(slots, 4, 'SIZE', usage);
    const shw = c.need(slots, 5, 'shared|private', usage);
    c.noExtra(slots, 6, usage);
    const file = c.name(fw, `${kind === 'shmem' ? 'memfd' : 'file'} name`);
    if (file !== undefined) d.file = file;
    const offset = c.size(ow, 'file offset', { aligned: true });
    if (offset !== undefined) d.offset = offset;
    const size = c.size(sw, 'mapping size', { aligned: true, positive: true });
    if (size !== undefined) d.size = size;
    const sh = c.choice(shw, ['shared', 'private'] as const, 'sharing');
    if (sh) d.shared = sh === 'shared';
    Object.assign(cols, { file: fw?.col, offset: ow?.col, size: sw?.col });
  }

  const hp = flags.get('hugepage');
  const nhp = flags.get('nohugepage');
  if (hp && nhp) {
    const second = hp.col > nhp.col ? hp : nhp;
    c.error('syntax', second.col, 'conflicting flags hugepage and nohugepage', 'at most one of hugepage, nohugepage');
  } else if (hp || nhp) {
    d.huge = hp ? 'hugepage' : 'nohugepage';
  }

  const aw = opts.get('at');
  if (aw) {
    cols.at = aw.col;
    const at = c.size(aw, 'at= address', { aligned: true, text: aw.value });
    if (at !== undefined) {
      if (d.size !== undefined && !Number.isSafeInteger(at + d.size)) {
        c.error('out-of-range', aw.col, `mapping at ${fmtAddr(at)} of size ${fmtSize(d.size)} ends beyond 2^53`, 'a lower address');
      } else {
        d.at = at;
      }
    }
  } else if (d.size !== undefined && d.size > MAX_PLACED_MAP) {
    c.error(
      'out-of-range',
      cols.size ?? opw.col,
      `mapping size ${fmtSize(d.size)} is larger than 1T`,
      'at most 1T without at= (the placement rule gives each mapping 1 TiB)',
    );
  }
  const alw = opts.get('align');
  if (alw) c.size(alw, 'align=', { text: alw.value });
  const pw = opts.get('prot');
  if (pw) {
    const prot = parseProt(pw.value);
    if (prot === undefined) c.error('bad-value', pw.col, `bad protection '${pw.value}'`, EXPECT_PROT);
    else d.prot = prot;
  }
  const err = parseErr(c, opts);
  if (err) d.err = err;
  return { draft: d, cols, hasAt: aw !== undefined };
}

// ---------------------------------------------------------------------------------------------
// Validation: the script state as the lines apply to it

interface MapInfo {
  line: number;
  /** Size as mapped; undefined when the map line had a bad size. */
  size?: number;
  /** Start address; undefined when unknown (bad at=). */
  start?: number;
  /** MAP_SHARED (VM_SHARED): anonymous shared, or a shared memfd or file mapping. */
  shared?: boolean;
  /** `anon private`, `shmem shared`, ...: the map line's kind and sharing. */
  kind?: string;
  /**
   * The map line expects its mmap() to fail (`err=`, with no flag whose call could fail instead,
   * or over another mapping): the name exists, the mapping never does.
   */
  failed?: ErrName;
}

interface Proc {
  name: string;
  line: number;
  maps: Map<string, MapInfo>;
  /** Address ranges mapped, [start, end), and the mapping each belongs to: for overlap checks. */
  space: IntervalMap<string>;
  /** Maps executed so far in this process: the next one goes at placementAddress(k). */
  k: number;
  snapshots: number;
  exited: boolean;
  /** Set when a line that should have defined something failed: unknown names are not reported. */
  lenient: boolean;
  /** The first line of a uffd_* op in this process (a process that used userfaultfd is not forked). */
  uffd?: number;
}

interface FileInfo {
  kind: 'memfd' | 'file';
  line: number;
  size?: number;
}

function newProc(name: string, line: number, lenient = false): Proc {
  return { name, line, maps: new Map(), space: new IntervalMap(), k: 0, snapshots: 0, exited: false, lenient };
}

class Validator {
  private readonly procs = new Map<string, Proc>();
  private current: Proc | undefined;
  private firstProcessLine: number | undefined;
  private lastExit: { name: string; line: number } | undefined;
  private readonly files = new Map<string, FileInfo>();
  private filesLenient = false;
  /** The config line that gave the script a swap area, and the swapoff that took it away. */
  private swapLine: number | undefined;
  private swapoffLine: number | undefined;

  check(c: LineCtx, p: Parsed): void {
    const d = p.draft;
    const cols = p.cols;
    if (d.op === 'config') {
      if (this.firstProcessLine !== undefined)
        c.error('order', cols.op, 'config after the first process', `config lines before line ${this.firstProcessLine}`);
      const swap = d.settings?.swap;
      if (swap !== undefined) this.swapLine = swap === 'off' ? undefined : c.line;
      return;
    }
    if (d.op === 'process' || d.op === 'switch' || d.op === 'exit') return this.processOp(c, d, cols);
    if (d.op === 'fork') return this.forkOp(c, d, cols);
    if (d.op === 'memfd' || d.op === 'file') return this.fileOp(c, d, cols);

    const proc = this.needProcess(c, d.op, cols.op);
    if (!proc) return;
    if (d.op.startsWith('uffd_')) proc.uffd ??= c.line;
    switch (d.op) {
      case 'swapoff':
        if (this.swapLine === undefined) c.error('order', cols.op, 'swapoff without a swap area', 'config swap=SIZE before the first process');
        else if (this.swapoffLine !== undefined) c.error('order', cols.op, `swapoff: the swap area is already off (line ${this.swapoffLine})`, 'one swapoff per script');
        else if (!d.err) this.swapoffLine = c.line;
        return;
      case 'map':
        return this.mapOp(c, proc, d, p);
      case 'touch':
      case 'madvise':
      case 'unmap':
      case 'mlock':
      case 'munlock': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        if (d.op === 'mlock' || d.op === 'munlock' || (d.op === 'madvise' && d.advice !== 'dontneed' && d.advice !== 'dontneed_locked')) {
          this.refuseOnTcp(c, info, d.op === 'madvise' ? `madvise ${d.advice}` : d.op, d.map, cols);
        }
        if (d.op === 'unmap' && info?.start !== undefined && d.offset !== undefined && d.len !== undefined && !d.err) {
          const lo = info.start + d.offset;
          proc.space.remove(lo, lo + d.len);
        }
        return;
      }
      case 'mprotect':
      case 'uffd_register':
      case 'migrate':
        this.refuseOnTcp(c, this.range(c, proc, d.map, d.offset, d.len, cols), d.op, d.map, cols);
        return;
      case 'tcp_zerocopy': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        if (info?.kind !== undefined && info.kind !== 'tcp shared') {
          c.error('bad-value', cols.map ?? cols.op, `tcp_zerocopy into the ${info.kind} mapping ${d.map}`, 'a tcp mapping (map M tcp SIZE)');
        } else if (info?.start !== undefined && d.offset !== undefined && d.len !== undefined) {
          // The range must be mapped whole: the kernel maps up to the end of the VMA at OFFSET and
          // returns success for the part, which the kernel runner cannot tell the model about. A
          // range that starts in a hole is EINVAL (find_tcp_vma() finds no VMA).
          const lo = info.start + d.offset;
          for (let a = lo; a < lo + d.len; ) {
            const iv = proc.space.at(a);
            if (!iv || iv.owner !== d.map) {
              if (a > lo || !d.err)
                c.error('out-of-range', cols.offset ?? cols.op, `[${fmtSize(a - info.start)}, ...) of mapping ${d.map} is not mapped`, 'a range of the mapping that is still mapped (no unmap inside it), or one starting in a hole with err=EINVAL');
              break;
            }
            a = iv.end;
          }
        }
        if (d.len !== undefined && d.len > TCP_ZEROCOPY_MAX)
          c.error('out-of-range', cols.len ?? cols.op, `tcp_zerocopy of ${fmtSize(d.len)}`, `at most ${fmtSize(TCP_ZEROCOPY_MAX)} (the kernel runner's receive buffer)`);
        return;
      }
      case 'uffd_writeprotect': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        // Anonymous private mappings only: uffd-wp markers in none slots (shmem) are not modelled.
        if (info && info.kind !== 'anon private')
          c.error('bad-value', cols.map ?? cols.op, `uffd_writeprotect of the ${info.kind ?? 'unknown'} mapping ${d.map}`, 'an anonymous private mapping (the model writes no uffd-wp markers)');
        return;
      }
      case 'uffd_copy':
      case 'uffd_zeropage': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        // shmem_mfill_atomic_pte() is not modelled: the fills are for private mappings only.
        if (info?.shared) c.error('bad-value', cols.map ?? cols.op, `${d.op} of the shared mapping ${d.map}`, 'a private mapping (the model fills no shmem page cache)');
        if (d.op === 'uffd_copy' && d.len !== undefined && d.len > UFFD_COPY_MAX)
          c.error('out-of-range', cols.len ?? cols.op, `uffd_copy of ${fmtSize(d.len)}`, `at most ${fmtSize(UFFD_COPY_MAX)} (the kernel runner's source buffer)`);
        return;
      }
      case 'mremap':
        this.refuseOnTcp(c, proc.maps.get(d.map ?? ''), d.op, d.map, cols);
        return this.mremapOp(c, proc, d, cols);
      case 'snapshot':
        proc.snapshots++;
        if (d.range) this.range(c, proc, d.range.map, d.range.offset, d.range.len, cols);
        return;
      case 'expect':
        if (proc.snapshots === 0 && !proc.lenient)
          c.error('order', cols.op, `expect before any snapshot of process ${proc.name}`, `a snapshot in process ${proc.name} first`);
        return;
    }
  }

  private needProcess(c: LineCtx, op: OpKind, col: number): Proc | undefined {
    if (!NEEDS_PROCESS.has(op)) return undefined;
    if (this.current) return this.current;
    if (this.lastExit === undefined) {
      c.error('order', col, `${op} before the first process`, 'a process line first');
    } else {
      const { name, line } = this.lastExit;
      c.error('order', col, `${op} with no current process (${name} exited at line ${line})`, 'a switch or process line first');
    }
    return undefined;
  }

  private liveNames(): string {
    const names = [...this.procs.values()].filter((q) => !q.exited).map((q) => q.name);
    return names.length ? `a live process: ${names.join(', ')}` : 'a process created earlier with process P';
  }

  private processOp(c: LineCtx, d: DraftFor<'process' | 'switch' | 'exit'>, cols: Cols): void {
    const name = d.name;
    const col = cols.name ?? cols.op;
    if (d.op === 'process') {
      this.firstProcessLine ??= c.line;
      if (name === undefined) {
        this.current = newProc('?', c.line, true);
        return;
      }
      const old = this.procs.get(name);
      if (old) {
        c.error('duplicate-name', col, `process ${name} already exists (line ${old.line})`, 'a new process name');
        this.current = newProc(name, c.line);
        return;
      }
      const proc = newProc(name, c.line);
      this.procs.set(name, proc);
      this.current = proc;
      return;
    }
    if (name === undefined) {
      if (d.op === 'switch') this.current = newProc('?', c.line, true);
      return;
    }
    const proc = this.procs.get(name);
    if (!proc || proc.exited) {
      const why = proc ? `process ${name} has exited` : `unknown process ${name}`;
      c.error('unknown-name', col, why, this.liveNames());
      if (d.op === 'switch') this.current = newProc(name, c.line, true);
      return;
    }
    if (d.op === 'switch') {
      this.current = proc;
      return;
    }
    proc.exited = true;
    if (this.current === proc) {
      this.current = undefined;
      this.lastExit = { name, line: c.line };
    }
  }

  /**
   * `fork P Q`: Q starts with a copy of P's mappings, under the same names and at the same
   * addresses, and P's placement count (its next map goes where P's would). The kernel runner
   * forks the child that runs P; what it cannot carry into the copy is refused here for both
   * executors: a tcp mapping (the child would share P's sockets) and userfaultfd (the runner's
   * child keeps P's userfaultfd, registered for P's mm).
   */
  private forkOp(c: LineCtx, d: DraftFor<'fork'>, cols: Cols): void {
    const parent = d.parent === undefined ? undefined : this.procs.get(d.parent);
    if (d.parent !== undefined && (!parent || parent.exited)) {
      c.error('unknown-name', cols.parent ?? cols.op, parent ? `process ${d.parent} has exited` : `unknown process ${d.parent}`, this.liveNames());
    }
    if (parent && !parent.exited) {
      const tcp = [...parent.maps].find(([, m]) => m.kind === 'tcp shared' && !m.failed);
      if (tcp) c.error('bad-value', cols.parent ?? cols.op, `fork of process ${parent.name}, which has the tcp mapping ${tcp[0]}`, 'a process without tcp mappings (the child would share its sockets)');
      if (parent.uffd !== undefined) c.error('bad-value', cols.parent ?? cols.op, `fork of process ${parent.name}, which used userfaultfd (line ${parent.uffd})`, 'a process that ran no uffd_* op (userfaultfd events are not modelled)');
    }
    if (d.name === undefined) {
      this.current = newProc('?', c.line, true);
      return;
    }
    const old = this.procs.get(d.name);
    if (old) {
      c.error('duplicate-name', cols.name ?? cols.op, `process ${d.name} already exists (line ${old.line})`, 'a new process name');
      this.current = newProc(d.name, c.line, true);
      return;
    }
    const child = newProc(d.name, c.line, !parent || parent.exited || parent.lenient);
    if (parent && !parent.exited) {
      for (const [name, m] of parent.maps) child.maps.set(name, { ...m });
      child.space = parent.space.clone();
      child.k = parent.k;
    }
    this.procs.set(d.name, child);
    this.current = child;
  }

  private fileOp(c: LineCtx, d: DraftFor<'memfd' | 'file'>, cols: Cols): void {
    if (d.name === undefined) {
      this.filesLenient = true;
      return;
    }
    const old = this.files.get(d.name);
    if (old) {
      c.error('duplicate-name', cols.name ?? cols.op, `${old.kind} ${d.name} already exists (line ${old.line})`, 'a new memfd/file name');
      return;
    }
    this.files.set(d.name, { kind: d.op, line: c.line, size: d.size });
  }

  private mapOp(c: LineCtx, proc: Proc, d: DraftFor<'map'>, p: Parsed): void {
    const { cols } = p;
    const k = proc.k++;
    if (d.name === undefined) {
      proc.lenient = true;
      return;
    }
    if (proc.maps.has(d.name)) {
      const old = proc.maps.get(d.name);
      c.error(
        'duplicate-name',
        cols.name ?? cols.op,
        `mapping ${d.name} already exists in process ${proc.name} (line ${old?.line})`,
        'a new mapping name',
      );
      return;
    }
    const info: MapInfo = { line: c.line, size: d.size, shared: d.shared, kind: `${d.kind} ${d.shared ? 'shared' : 'private'}` };
    if (d.err) info.failed = d.err; // until the err= branch below finds that the mmap() itself may succeed
    proc.maps.set(d.name, info);

    if ((d.kind === 'shmem' || d.kind === 'file') && d.file !== undefined) {
      const want = d.kind === 'shmem' ? 'memfd' : 'file';
      const f = this.files.get(d.file);
      const fileCol = cols.file ?? cols.op;
      if (!f) {
        if (!this.filesLenient) c.error('unknown-name', fileCol, `unknown ${want} ${d.file}`, this.fileNames(want));
      } else if (f.kind !== want) {
        c.error('unknown-name', fileCol, `${d.file} is a ${f.kind}, not a ${want}`, this.fileNames(want));
      } else if (f.size !== undefined && d.offset !== undefined && d.size !== undefined && d.offset + d.size > f.size) {
        const col = d.offset >= f.size ? cols.offset : cols.size;
        c.error(
          'out-of-range',
          col ?? cols.op,
          `range [${fmtSize(d.offset)}, ${fmtSize(d.offset + d.size)}) is outside ${want} ${d.file} (size ${fmtSize(f.size)})`,
          `OFFSET + SIZE <= ${fmtSize(f.size)}`,
        );
      }
    }

    if (d.size === undefined || (p.hasAt && d.at === undefined)) return;
    const start = d.at ?? placementAddress(k);
    info.start = start;
    const end = start + d.size;
    if (d.err) {
      // Expected to fail. The op is mmap(), then madvise() for hugepage/nohugepage, then mlock()
      // for locked, and its outcome is the first call that fails (exec.ts, the kernel runner): with
      // one of those flags the failure may come after the mapping is made, which then stays
      // (scripts/map-locked-fails.pt), so its name may be used. Unless it overlaps a mapping:
      // then mmap() fails (EEXIST, as MAP_FIXED_NOREPLACE) and, as without those flags, the
      // mapping never exists and occupies nothing. Nor does one that reaches past TASK_SIZE: mmap()
      // refuses it (ENOMEM, get_unmapped_area()) before any flag is looked at.
      if ((d.locked || d.huge) && end <= TASK_SIZE && !proc.space.firstOverlap(start, end)) {
        info.failed = undefined;
        proc.space.add(start, end, d.name);
      }
      return;
    }
    const hit = proc.space.firstOverlap(start, end);
    if (hit) {
      const where = d.at !== undefined ? `at ${fmtAddr(start)}` : `placed at ${fmtAddr(start)} (map #${k} of ${proc.name})`;
      c.error(
        'out-of-range',
        d.at !== undefined ? (cols.at ?? cols.op) : (cols.name ?? cols.op),
        `mapping ${d.name} ${where} overlaps mapping ${hit.owner} [${fmtAddr(hit.start)}, ${fmtAddr(hit.end)})`,
        'an address range not mapped in this process',
      );
      return;
    }
    proc.space.add(start, end, d.name);
  }

  /**
   * A successful mremap makes M reachable up to OFFSET + NEWLEN; a move (at=, or `maymove` when the
   * mapping cannot grow in place among the script's mappings) puts M's origin at the new address
   * minus OFFSET. `maymove` without at= takes the next placement slot, moved or not.
   */
  private mremapOp(c: LineCtx, proc: Proc, d: DraftFor<'mremap'>, cols: Cols): void {
    const info = this.range(c, proc, d.map, d.offset, d.len, cols);
    const slot = d.maymove && d.at === undefined ? placementAddress(proc.k++) : undefined;
    const map = d.map;
    if (!info || d.err || map === undefined || info.start === undefined || d.offset === undefined || d.len === undefined || d.newLen === undefined) return;
    if (info.size !== undefined) info.size = Math.max(info.size, d.offset + d.newLen);
    const lo = info.start + d.offset;
    const oldEnd = lo + d.len;
    const grow = d.newLen - d.len;
    // Growing in place needs M's own range to end at oldEnd and the range after it to be free.
    const tail = proc.space.at(oldEnd - 1);
    const inPlace = tail !== undefined && tail.owner === map && tail.end === oldEnd && !proc.space.firstOverlap(oldEnd, oldEnd + grow);
    let target = d.at ?? lo;
    if (d.at === undefined && grow > 0 && !inPlace) target = slot ?? lo;
    if (d.at !== undefined) proc.space.remove(d.at, d.at + d.newLen); // MREMAP_FIXED replaces what was there
    proc.space.remove(lo, oldEnd);
    proc.space.add(target, target + d.newLen, map);
    info.start = target - d.offset;
  }

  /** Ops whose effect on a socket mapping (VM_MIXEDMAP, no ->fault) the model does not run. */
  private refuseOnTcp(c: LineCtx, info: MapInfo | undefined, what: string, map: string | undefined, cols: Cols): void {
    if (info?.kind === 'tcp shared')
      c.error('bad-value', cols.map ?? cols.op, `${what} of the tcp mapping ${map}`, 'touch, madvise dontneed|dontneed_locked, unmap, tcp_zerocopy or snapshot (the model runs no other op on a socket mapping)');
  }

  private fileNames(kind: 'memfd' | 'file'): string {
    const names = [...this.files].filter(([, f]) => f.kind === kind).map(([n]) => n);
    return names.length ? `a ${kind}: ${names.join(', ')}` : `a ${kind} created earlier with ${kind} F SIZE`;
  }

  /** Checks that `map` names a mapping of `proc` and [offset, offset+len) lies inside it. */
  private range(
    c: LineCtx,
    proc: Proc,
    map: string | undefined,
    offset: number | undefined,
    len: number | undefined,
    cols: Cols,
  ): MapInfo | undefined {
    if (map === undefined) return undefined;
    const info = proc.maps.get(map);
    if (!info) {
      if (!proc.lenient) {
        const names = [...proc.maps.keys()];
        const expected = names.length
          ? `a mapping of process ${proc.name}: ${names.join(', ')}`
          : `a mapping created earlier in process ${proc.name}`;
        c.error('unknown-name', cols.map ?? cols.op, `unknown mapping ${map} in process ${proc.name}`, expected);
      }
      return undefined;
    }
    if (info.failed) {
      c.error('unknown-name', cols.map ?? cols.op, `mapping ${map} does not exist: its map at line ${info.line} expects err=${info.failed}`, 'a mapping whose map line succeeds');
      return undefined;
    }
    if (info.size === undefined || offset === undefined || len === undefined) return info;
    if (offset + len > info.size) {
      const col = offset >= info.size ? cols.offset : cols.len;
      c.error(
        'out-of-range',
        col ?? cols.op,
        `range [${fmtSize(offset)}, ${fmtSize(offset + len)}) is outside mapping ${map} (size ${fmtSize(info.size)})`,
        `OFFSET + LEN <= ${fmtSize(info.size)}`,
      );
    }
    return info;
  }
}

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
