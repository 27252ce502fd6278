/**
 * Parser of workload traces (docs/trace-format.md). A trace is read line by line (`traceRecords`
 * over `fileLines`), so checking or replaying one holds one line and the names it declared, never
 * the whole text (docs/limits.md). Every trace is checked whole before anything is replayed;
 * errors are `FILE:LINE:COLUMN: message (expected ...)`, at most MAX_TRACE_ERRORS of them.
 */
import { SCRIPT_SETTINGS } from '../mm/config.js';
import { MAX_FILE_SIZE } from '../mm/xarray.js';
import { LineTooLong, textLines } from '../util/lines.js';
import {
  EVENT_KINDS, TRACE_MODEL_SETTINGS, MADV_ADVICES, MMAP_FLAGS, MREMAP_FLAG_NAMES, OBSERVED_KEYS, TRACE_MAGIC, TRACE_VERSION, VMA_KINDS,
  parseProt, type Access, type EventStamp, type MadvAdvice, type MmapFlag, type MremapFlag, type ObservedKey,
  type TraceRecord, type VmaKind,
} from './records.js';
import { PAGE_SIZE } from '../mm/const.js';

export const MAX_TRACE_ERRORS = 20;

export interface TraceError {
  line: number;
  col: number;
  message: string;
  expected?: string;
}

export function formatTraceError(file: string, e: TraceError): string {
  return `${file}:${e.line}:${e.col}: ${e.message}${e.expected ? ` (expected ${e.expected})` : ''}`;
}

export type ParseTraceResult = { ok: true; records: TraceRecord[]; events: number } | { ok: false; errors: TraceError[] };

/** What a pass over a trace found: its errors (at most MAX_TRACE_ERRORS) and its events. */
export interface TraceScan {
  errors: TraceError[];
  events: number;
}

/**
 * The end of the user address space the trace's addresses must stay below (x86-64, 4-level
 * paging; src/record/convert.ts records nothing above it). A record that failed for real (`err=`)
 * is never replayed and may name any address.
 */
export const USER_END = 2 ** 47;

interface Word {
  text: string;
  col: number;
}

const UNESCAPE: Record<string, string> = { n: '\n', r: '\r', t: '\t' };

/** Split a line into words; `"..."` (with \" \\ \n \r \t escapes) may form a value after `=`. */
function words(line: string): Word[] | string {
  const out: Word[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= line.length || line[i] === '#') break;
    const start = i;
    let text = '';
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') {
      if (line[i] === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) {
            i++;
            text += UNESCAPE[line[i]] ?? line[i];
            i++;
            continue;
          }
          text += line[i++];
        }
        if (i >= line.length) return `unterminated quote at column ${start + 1}`;
        i++;
      } else {
        text += line[i++];
      }
    }
    out.push({ text, col: start + 1 });
  }
  return out;
}

const USAGE: Record<string, string> = {
  meta: 'meta KEY=VALUE ...',
  file: 'file F SIZE [path=P] [folio=4K|2M]',
  memfd: 'memfd F SIZE',
  process: 'process P [pid=N] [comm=NAME]',
  switch: 'switch P',
  vma: `vma START END PROT ${VMA_KINDS.join('|')} [file=F off=OFF] [name=NAME]`,
  'brk-base': 'brk-base START CUR',
  present: 'present START END [write]',
  observed: `observed LABEL KEY=KB ... (KEY: ${OBSERVED_KEYS.join(', ')})`,
  mmap: 'mmap ADDR LEN PROT FLAGS [file=F off=OFF]',
  munmap: 'munmap ADDR LEN',
  mremap: 'mremap OLD OLDLEN NEWLEN NEW [maymove] [fixed] [dontunmap]',
  mprotect: 'mprotect ADDR LEN PROT',
  madvise: `madvise ADDR LEN ADVICE|advice=N`,
  brk: 'brk NEW',
  fault: 'fault ADDR read|write|exec',
  touch: 'touch ADDR LEN read|write [every=STRIDE]',
  exit: 'exit',
};

class LineError extends Error {
  constructor(readonly col: number, message: string, readonly expected: string) {
    super(message);
  }
}

/** A number: decimal or 0x hex, non-negative, below 2^53 (every user address fits). */
function num(w: Word | undefined, what: string, usage: string): number {
  if (!w) throw new LineError(0, `missing ${what}`, usage);
  const t = w.text;
  const v = /^0x[0-9a-fA-F]+$/.test(t) ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(v)) throw new LineError(w.col, `bad ${what} '${t}'`, 'a decimal or 0x hex number');
  return v;
}

function name(w: Word | undefined, what: string, usage: string): string {
  if (!w) throw new LineError(0, `missing ${what}`, usage);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(w.text)) throw new LineError(w.col, `bad ${what} '${w.text}'`, 'a name [A-Za-z_][A-Za-z0-9_.-]*');
  return w.text;
}

function prot(w: Word | undefined, usage: string): number {
  if (!w) throw new LineError(0, 'missing PROT', usage);
  const p = parseProt(w.text);
  if (p === null) throw new LineError(w.col, `bad PROT '${w.text}'`, 'three characters r|-, w|-, x|- such as rw- or r-x');
  return p;
}

/** Split `key=value` options off the positional words; unknown keys are errors. */
function options(ws: Word[], allowed: readonly string[], usage: string): [Word[], Map<string, Word>] {
  const pos: Word[] = [];
  const opts = new Map<string, Word>();
  for (const w of ws) {
    const eq = w.text.indexOf('=');
    if (eq <= 0) {
      pos.push(w);
      continue;
    }
    const key = w.text.slice(0, eq);
    if (!allowed.includes(key)) throw new LineError(w.col, `unknown option '${key}'`, allowed.length ? allowed.map((a) => `${a}=`).join(', ') : usage);
    if (opts.has(key)) throw new LineError(w.col, `option '${key}' given twice`, `at most one ${key}=`);
    opts.set(key, { text: w.text.slice(eq + 1), col: w.col + eq + 1 });
  }
  return [pos, opts];
}

function noMore(pos: Word[], n: number, usage: string): void {
  if (pos.length > n) throw new LineError(pos[n].col, `unexpected '${pos[n].text}'`, usage);
}

const STAMP_KEYS = ['t', 'tid', 'err'] as const;

function stamp(opts: Map<string, Word>, usage: string): EventStamp {
  const s: EventStamp = {};
  if (opts.has('t')) s.t = num(opts.get('t'), 't', usage);
  if (opts.has('tid')) s.tid = num(opts.get('tid'), 'tid', usage);
  if (opts.has('err')) s.err = name(opts.get('err'), 'errno name', usage);
  return s;
}

/** [addr, addr + len rounded up to pages) must lie in the user address space (unless it failed: err=). */
function inUserSpace(addr: number, len: number, w: Word, stampErr: string | undefined): void {
  if (stampErr !== undefined) return;
  const end = Math.ceil((addr + len) / PAGE_SIZE) * PAGE_SIZE;
  if (end > USER_END) throw new LineError(w.col, `range [0x${addr.toString(16)}, 0x${end.toString(16)}) ends above the user address space`, `addresses below 0x${USER_END.toString(16)} (x86-64, 4-level paging)`);
}

/** A file or memfd size the model can hold (whole pages, docs/limits.md). */
function fileSize(w: Word | undefined, usage: string): number {
  const v = num(w, 'SIZE', usage);
  if (Math.ceil(v / PAGE_SIZE) * PAGE_SIZE > MAX_FILE_SIZE) throw new LineError(w!.col, `SIZE ${w!.text} is larger than the model's largest file`, `at most ${MAX_FILE_SIZE} bytes (8 TiB), the model's limit in docs/limits.md`);
  return v;
}

const META_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COUNTERS = /^(?:[^\s=]+=[0-9]+)(?: [^\s=]+=[0-9]+)*$/;
const PAGE_CACHE = /^(?:[^\s=]+=[0-9]+\/[0-9]+)(?: [^\s=]+=[0-9]+\/[0-9]+)*$/;

/**
 * The value of a meta key that something reads: the model settings replay takes (`thp=`,
 * `shmem_thp=`, `swap=`), and the recorder's structured values. Other keys are free text.
 */
function metaValueProblem(key: string, v: string): string | undefined {
  if ((TRACE_MODEL_SETTINGS as readonly string[]).includes(key)) {
    const s = SCRIPT_SETTINGS[key as (typeof TRACE_MODEL_SETTINGS)[number]];
    return s.apply({}, v) ? undefined : s.values;
  }
  if (key === 'page_cache_exit') return PAGE_CACHE.test(v) ? undefined : 'FILE=CACHED/PAGES entries separated by one space';
  if (key === 'smaps_rollup_exit') return COUNTERS.test(v) ? undefined : 'FIELD=KB entries separated by one space';
  if (key === 'seed') return /^[0-9]+$/.test(v) ? undefined : 'a decimal integer';
  return undefined;
}

function pageAligned(v: number, w: Word, what: string): void {
  if (v % PAGE_SIZE) throw new LineError(w.col, `${what} ${w.text} is not 4K aligned`, 'a multiple of 4096');
}

function range(pos: Word[], usage: string): [number, number] {
  const a = num(pos[0], 'START', usage);
  const b = num(pos[1], 'END', usage);
  pageAligned(a, pos[0], 'START');
  pageAligned(b, pos[1], 'END');
  if (b <= a) throw new LineError(pos[1].col, `END ${pos[1].text} is not above START`, 'START < END');
  inUserSpace(a, b - a, pos[1], undefined);
  return [a, b];
}

/** Parse one non-empty line (words already split; ws[0] is the record kind). */
function parseRecord(ws: Word[]): TraceRecord {
  const kind = ws[0].text;
  const usage = USAGE[kind];
  if (!usage) throw new LineError(ws[0].col, `unknown record '${kind}'`, Object.keys(USAGE).join(', '));
  const rest = ws.slice(1);
  switch (kind) {
    case 'meta': {
      const values: Record<string, string> = {};
      for (const w of rest) {
        const eq = w.text.indexOf('=');
        const key = w.text.slice(0, Math.max(eq, 0));
        if (eq <= 0 || !META_KEY.test(key)) throw new LineError(w.col, `bad meta word '${w.text}'`, 'KEY=VALUE with KEY a name like thp or command');
        if (Object.hasOwn(values, key)) throw new LineError(w.col, `meta key '${key}' given twice`, `at most one ${key}= per line`);
        const value = w.text.slice(eq + 1);
        const problem = metaValueProblem(key, value);
        if (problem) throw new LineError(w.col + eq + 1, `bad value '${value}' for meta ${key}`, problem);
        values[key] = value;
      }
      return { kind, values };
    }
    case 'file': {
      const [pos, o] = options(rest, ['path', 'folio'], usage);
      noMore(pos, 2, usage);
      const folio = o.get('folio')?.text ?? '4K';
      if (folio !== '4K' && folio !== '2M') throw new LineError(o.get('folio')!.col, `bad folio '${folio}'`, '4K or 2M');
      const path = o.get('path')?.text;
      return { kind, name: name(pos[0], 'file name', usage), size: fileSize(pos[1], usage), folio, ...(path !== undefined && { path }) };
    }
    case 'memfd': {
      noMore(rest, 2, usage);
      return { kind, name: name(rest[0], 'memfd name', usage), size: fileSize(rest[1], usage) };
    }
    case 'process': {
      const [pos, o] = options(rest, ['pid', 'comm'], usage);
      noMore(pos, 1, usage);
      const r: TraceRecord = { kind, name: name(pos[0], 'process name', usage) };
      if (o.has('pid')) r.pid = num(o.get('pid'), 'pid', usage);
      if (o.has('comm')) r.comm = o.get('comm')!.text;
      return r;
    }
    case 'switch':
      noMore(rest, 1, usage);
      return { kind, name: name(rest[0], 'process name', usage) };
    case 'vma': {
      const [pos, o] = options(rest, ['file', 'off', 'name'], usage);
      noMore(pos, 4, usage);
      const [start, end] = range(pos, usage);
      const p = prot(pos[2], usage);
      const k = pos[3]?.text;
      if (!k) throw new LineError(0, 'missing KIND', usage);
      if (!(VMA_KINDS as readonly string[]).includes(k)) throw new LineError(pos[3].col, `unknown KIND '${k}'`, VMA_KINDS.join(', '));
      const vmaKind = k as VmaKind;
      const isFile = vmaKind === 'file-private' || vmaKind === 'file-shared';
      if (isFile !== o.has('file')) throw new LineError(pos[3].col, isFile ? 'a file mapping needs file=F' : `file= is only for file-private and file-shared`, isFile ? `${k} file=F off=OFF` : `${k} without file=`);
      if (vmaKind === 'anon-shared') sharedAnonSize(end - start, pos[1]);
      const r: TraceRecord = { kind, start, end, prot: p, vmaKind, off: o.has('off') ? num(o.get('off'), 'off', usage) : 0 };
      if (o.has('file')) r.file = name(o.get('file'), 'file name', usage);
      if (o.has('name')) r.name = o.get('name')!.text;
      return r;
    }
    case 'brk-base':
      noMore(rest, 2, usage);
      return { kind, start: num(rest[0], 'START', usage), cur: num(rest[1], 'CUR', usage) };
    case 'present': {
      const [start, end] = range(rest, usage);
      if (rest[2] && rest[2].text !== 'write') throw new LineError(rest[2].col, `unexpected '${rest[2].text}'`, 'write or nothing');
      noMore(rest, 3, usage);
      return { kind, start, end, write: rest[2] !== undefined };
    }
    case 'observed': {
      const label = name(rest[0], 'LABEL', usage);
      const values: Partial<Record<ObservedKey, number>> = {};
      for (const w of rest.slice(1)) {
        const eq = w.text.indexOf('=');
        const key = w.text.slice(0, eq);
        if (eq <= 0 || !(OBSERVED_KEYS as readonly string[]).includes(key)) throw new LineError(w.col, `bad counter '${w.text}'`, OBSERVED_KEYS.map((x) => `${x}=KB`).join(', '));
        values[key as ObservedKey] = num({ text: w.text.slice(eq + 1), col: w.col + eq + 1 }, key, usage);
      }
      return { kind, label, values };
    }
    case 'mmap': {
      const [pos, o] = options(rest, ['file', 'off', ...STAMP_KEYS], usage);
      noMore(pos, 4, usage);
      const addr = num(pos[0], 'ADDR', usage);
      pageAligned(addr, pos[0], 'ADDR');
      const len = num(pos[1], 'LEN', usage);
      const p = prot(pos[2], usage);
      if (!pos[3]) throw new LineError(0, 'missing FLAGS', usage);
      const flags: MmapFlag[] = [];
      for (const f of pos[3].text.split(',')) {
        if (!(MMAP_FLAGS as readonly string[]).includes(f)) throw new LineError(pos[3].col, `unknown mmap flag '${f}'`, MMAP_FLAGS.join(', '));
        flags.push(f as MmapFlag);
      }
      if (flags.includes('private') === flags.includes('shared')) throw new LineError(pos[3].col, 'FLAGS must hold exactly one of private, shared', 'comma-separated flags with private or shared, e.g. private,anon');
      if (flags.includes('anon') === o.has('file')) {
        throw new LineError(pos[3].col, flags.includes('anon') ? 'an anon mapping takes no file=' : 'a file mapping needs file=F (or the anon flag)', flags.includes('anon') ? 'no file= with anon' : 'file=F off=OFF, or anon in FLAGS');
      }
      const st = stamp(o, usage);
      inUserSpace(addr, len, pos[1], st.err);
      if (flags.includes('anon') && flags.includes('shared') && st.err === undefined) sharedAnonSize(len, pos[1]);
      const r: TraceRecord = { kind, addr, len, prot: p, flags, off: o.has('off') ? num(o.get('off'), 'off', usage) : 0, ...st };
      if (o.has('file')) r.file = name(o.get('file'), 'file name', usage);
      return r;
    }
    case 'munmap':
    case 'mprotect': {
      const [pos, o] = options(rest, STAMP_KEYS, usage);
      noMore(pos, kind === 'munmap' ? 2 : 3, usage);
      const addr = num(pos[0], 'ADDR', usage);
      const len = num(pos[1], 'LEN', usage);
      const st = stamp(o, usage);
      inUserSpace(addr, len, pos[1], st.err);
      if (kind === 'munmap') return { kind, addr, len, ...st };
      return { kind, addr, len, prot: prot(pos[2], usage), ...st };
    }
    case 'mremap': {
      const [pos, o] = options(rest, STAMP_KEYS, usage);
      const flags: MremapFlag[] = [];
      for (const w of pos.slice(4)) {
        if (!(MREMAP_FLAG_NAMES as readonly string[]).includes(w.text)) throw new LineError(w.col, `unknown mremap flag '${w.text}'`, MREMAP_FLAG_NAMES.join(', '));
        flags.push(w.text as MremapFlag);
      }
      const r = { kind, old: num(pos[0], 'OLD', usage), oldLen: num(pos[1], 'OLDLEN', usage), newLen: num(pos[2], 'NEWLEN', usage), addr: num(pos[3], 'NEW', usage), flags, ...stamp(o, usage) } as const;
      inUserSpace(r.old, r.oldLen, pos[1], r.err);
      inUserSpace(r.addr, r.newLen, pos[3], r.err);
      return r;
    }
    case 'madvise': {
      const [pos, o] = options(rest, ['advice', ...STAMP_KEYS], usage);
      const addr = num(pos[0], 'ADDR', usage);
      const len = num(pos[1], 'LEN', usage);
      inUserSpace(addr, len, pos[1], o.has('err') ? '' : undefined);
      if (o.has('advice')) {
        noMore(pos, 2, usage);
        return { kind, addr, len, advice: null, raw: num(o.get('advice'), 'advice', usage), ...stamp(o, usage) };
      }
      noMore(pos, 3, usage);
      const a = pos[2]?.text;
      if (!a) throw new LineError(0, 'missing ADVICE', usage);
      if (!(MADV_ADVICES as readonly string[]).includes(a)) throw new LineError(pos[2].col, `unknown advice '${a}'`, `${MADV_ADVICES.join(', ')} or advice=N`);
      return { kind, addr, len, advice: a as MadvAdvice, ...stamp(o, usage) };
    }
    case 'brk': {
      const [pos, o] = options(rest, STAMP_KEYS, usage);
      noMore(pos, 1, usage);
      const r = { kind, brk: num(pos[0], 'NEW', usage), ...stamp(o, usage) } as const;
      inUserSpace(r.brk, 0, pos[0], r.err);
      return r;
    }
    case 'fault': {
      const [pos, o] = options(rest, STAMP_KEYS, usage);
      noMore(pos, 2, usage);
      const addr = num(pos[0], 'ADDR', usage);
      const a = pos[1]?.text;
      if (a !== 'read' && a !== 'write' && a !== 'exec') throw new LineError(pos[1]?.col ?? 0, a ? `bad access '${a}'` : 'missing access', 'read, write or exec');
      const st = stamp(o, usage);
      inUserSpace(addr, 1, pos[0], st.err);
      return { kind, addr, access: a as Access, ...st };
    }
    case 'touch': {
      const [pos, o] = options(rest, ['every', ...STAMP_KEYS], usage);
      noMore(pos, 3, usage);
      const addr = num(pos[0], 'ADDR', usage);
      const len = num(pos[1], 'LEN', usage);
      const a = pos[2]?.text;
      if (a !== 'read' && a !== 'write') throw new LineError(pos[2]?.col ?? 0, a ? `bad access '${a}'` : 'missing access', 'read or write');
      const every = o.has('every') ? num(o.get('every'), 'every', usage) : PAGE_SIZE;
      if (every <= 0) throw new LineError(o.get('every')!.col, 'every= must be positive', 'a stride of at least 1 byte');
      const st = stamp(o, usage);
      inUserSpace(addr, len, pos[1], st.err);
      return { kind, addr, len, write: a === 'write', every, ...st };
    }
    case 'exit': {
      const [pos, o] = options(rest, STAMP_KEYS, usage);
      noMore(pos, 0, usage);
      return { kind, ...stamp(o, usage) };
    }
  }
  throw new LineError(ws[0].col, `unknown record '${kind}'`, Object.keys(USAGE).join(', '));
}

/** A shared anonymous mapping is a shmem file of its size (shmem_zero_setup()): the model's file limit. */
function sharedAnonSize(len: number, w: Word): void {
  if (len > MAX_FILE_SIZE) throw new LineError(w.col, `a shared anonymous mapping of ${len} bytes is larger than the model's largest file`, `at most ${MAX_FILE_SIZE} bytes (8 TiB), the model's limit in docs/limits.md`);
}

/** Names and order: files declared before use, events inside a process, known processes. */
class Checker {
  files = new Set<string>();
  processes = new Set<string>();
  current: string | null = null;

  check(r: TraceRecord, col: number): void {
    const needFile = (f: string | undefined) => {
      if (f !== undefined && !this.files.has(f)) throw new LineError(col, `unknown file '${f}'`, 'a file or memfd declared on an earlier line');
    };
    switch (r.kind) {
      case 'file':
      case 'memfd':
        if (this.files.has(r.name)) throw new LineError(col, `file '${r.name}' declared twice`, 'a new file or memfd name');
        this.files.add(r.name);
        return;
      case 'process':
        if (this.processes.has(r.name)) throw new LineError(col, `process '${r.name}' declared twice`, 'switch to return to it');
        this.processes.add(r.name);
        this.current = r.name;
        return;
      case 'switch':
        if (!this.processes.has(r.name)) throw new LineError(col, `unknown process '${r.name}'`, 'a process declared on an earlier line');
        this.current = r.name;
        return;
      case 'meta':
        return;
    }
    if (this.current === null) throw new LineError(col, `'${r.kind}' before the first process`, 'process P first');
    if (r.kind === 'vma' || r.kind === 'mmap') needFile(r.file);
    if (r.kind === 'exit') this.current = null;
  }
}

/**
 * The records of a trace's lines, checked one line at a time: errors go to `scan.errors` (the
 * reading stops at MAX_TRACE_ERRORS, or at a line longer than util/lines.ts allows), events are
 * counted in `scan.events`. Records of lines with errors are not yielded.
 */
export function* traceRecords(lines: Iterable<string>, scan: TraceScan): Generator<TraceRecord> {
  const checker = new Checker();
  let sawMagic = false;
  let i = 0;
  try {
    for (const text of lines) {
      i++;
      if (scan.errors.length >= MAX_TRACE_ERRORS) return;
      const ws = words(text);
      if (typeof ws === 'string') {
        scan.errors.push({ line: i, col: 1, message: ws, expected: 'a closing " on the same line' });
        continue;
      }
      if (!ws.length) continue;
      if (!sawMagic) {
        sawMagic = true;
        if (ws[0].text !== TRACE_MAGIC || ws[1]?.text !== String(TRACE_VERSION) || ws.length !== 2) {
          scan.errors.push({ line: i, col: 1, message: `not a ptlab trace (or an unsupported version)`, expected: `${TRACE_MAGIC} ${TRACE_VERSION} as the first line` });
          return;
        }
        continue;
      }
      let r: TraceRecord;
      try {
        r = parseRecord(ws);
        checker.check(r, ws[0].col);
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        scan.errors.push({ line: i, col: e.col || text.trimEnd().length + 1, message: e.message, expected: e.expected });
        continue;
      }
      r.line = i;
      if (EVENT_KINDS.has(r.kind)) scan.events++;
      yield r;
    }
  } catch (e) {
    if (!(e instanceof LineTooLong)) throw e;
    scan.errors.push({ line: e.line, col: e.max + 1, message: `line ${e.line} is longer than ${e.max} characters`, expected: `lines of at most ${e.max} characters (docs/limits.md)` });
    return;
  }
  if (!sawMagic) scan.errors.push({ line: 1, col: 1, message: 'empty trace', expected: `${TRACE_MAGIC} ${TRACE_VERSION} as the first line` });
}

/** A whole trace in memory (tests, small traces): its records, or its errors. */
export function parseTrace(text: string): ParseTraceResult {
  const scan: TraceScan = { errors: [], events: 0 };
  const records = [...traceRecords(textLines(text), scan)];
  return scan.errors.length ? { ok: false, errors: scan.errors } : { ok: true, records, events: scan.events };
}
