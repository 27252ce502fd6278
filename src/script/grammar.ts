/**
 * The op-script grammar's vocabulary (docs/op-scripts.md): each op's usage line and options, the
 * value spellings (sizes, names, integers, protections) and the limits of a script. The parser
 * (parse_line.ts) and the validator (validate.ts) read it; printers (format.ts) spell values with it.
 */
import type { OpKind } from './ast.js';
import { SCRIPT_SETTINGS } from '../mm/config.js';

/** At most this many errors are reported; parsing stops once it is reached. */
export const MAX_SCRIPT_ERRORS = 20;

/**
 * Most lines a script may have (docs/limits.md): a script is held as ops while it runs, about
 * 150 bytes each, so 4 million lines stay well inside Node's default heap.
 */
export const MAX_SCRIPT_LINES = 4_000_000;

/** A mapping placed by the placement rule (no `at=`) may be at most this large. */
export const MAX_PLACED_MAP = 2 ** 40;

/** One line per op: the usage, used as the `expected` text of arity errors. */
export const USAGE: Record<OpKind, string> = {
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
    ', or map M tcp|binder SIZE [at=ADDR] [err=NAME]',
  touch: 'touch M OFFSET LEN read|write [every=STRIDE] [err=NAME]',
  madvise: 'madvise M OFFSET LEN ADVICE [err=NAME]',
  fadvise: 'fadvise M OFFSET LEN dontneed [err=NAME]',
  unmap: 'unmap M OFFSET LEN [err=NAME]',
  mlock: 'mlock M OFFSET LEN [onfault] [err=NAME]',
  munlock: 'munlock M OFFSET LEN [err=NAME]',
  mprotect: 'mprotect M OFFSET LEN PROT [err=NAME]',
  mremap: 'mremap M OFFSET OLDLEN NEWLEN [maymove] [at=ADDR] [err=NAME]',
  uffd_register: 'uffd_register M OFFSET LEN missing|wp|minor [err=NAME]',
  uffd_copy: 'uffd_copy M OFFSET LEN [err=NAME]',
  uffd_zeropage: 'uffd_zeropage M OFFSET LEN [err=NAME]',
  uffd_writeprotect: 'uffd_writeprotect M OFFSET LEN on|off [err=NAME]',
  uffd_move: 'uffd_move M OFFSET LEN DST DST_OFFSET [allow_src_holes] [err=NAME]',
  tcp_zerocopy: 'tcp_zerocopy M OFFSET LEN [err=NAME]',
  binder_transaction: 'binder_transaction M OFFSET LEN [err=NAME]',
  migrate: 'migrate M OFFSET LEN',
  swapoff: 'swapoff [err=NAME]',
  clear_refs: 'clear_refs 1|2|3|5 [err=NAME]',
  snapshot: 'snapshot LABEL [M OFFSET LEN]',
  expect: 'expect FIELD [delta] [==|<=|>=|<|>|!=] N',
};
export const USAGE_ANON = 'map M anon private|shared SIZE [at=ADDR] [prot=rw-] [hugepage|nohugepage] [locked] [align=2M] [err=NAME]';
export const USAGE_FILE = 'map M shmem|file F OFFSET SIZE shared|private [at=ADDR] [prot=rw-] [hugepage|nohugepage] [locked] [err=NAME]';
export const USAGE_DRIVER = 'map M tcp|binder SIZE [at=ADDR] [err=NAME]';

/** The op words, in the order of docs/op-scripts.md. */
export const OP_WORDS = Object.keys(USAGE) as OpKind[];

/** Ops that act on the current process. */
export const NEEDS_PROCESS: ReadonlySet<OpKind> = new Set<OpKind>([
  'map', 'touch', 'madvise', 'fadvise', 'unmap', 'mlock', 'munlock', 'mprotect', 'mremap', 'uffd_register', 'uffd_copy', 'uffd_zeropage',
  'uffd_writeprotect', 'uffd_move', 'tcp_zerocopy', 'binder_transaction', 'migrate', 'swapoff', 'clear_refs', 'snapshot', 'expect',
]);

/** `key=` options each op accepts (config is handled separately: all its words are settings). */
export const OPTIONS: Record<Exclude<OpKind, 'config'>, readonly string[]> = {
  process: ['err'],
  switch: ['err'],
  exit: ['err'],
  fork: [],
  memfd: ['err'],
  file: ['folio', 'err'],
  map: ['at', 'align', 'prot', 'err'], // align only for anon: narrowed in parseMap
  touch: ['every', 'err'],
  madvise: ['err'],
  fadvise: ['err'],
  unmap: ['err'],
  mlock: ['err'],
  munlock: ['err'],
  mprotect: ['err'],
  mremap: ['at', 'err'],
  uffd_register: ['err'],
  uffd_copy: ['err'],
  uffd_zeropage: ['err'],
  uffd_writeprotect: ['err'],
  uffd_move: ['err'],
  tcp_zerocopy: ['err'],
  binder_transaction: ['err'],
  migrate: [],
  swapoff: ['err'],
  clear_refs: ['err'],
  snapshot: [],
  expect: [],
};

/** Settings `config` accepts: the model's own table (src/mm/config.ts), one source of truth. */
export const CONFIG_KEYS = SCRIPT_SETTINGS;

export const MAP_FLAGS = ['hugepage', 'nohugepage', 'locked'] as const;
export type MapFlag = (typeof MAP_FLAGS)[number];

export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const OPTION_RE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
export const SIZE_RE = /^(?:0[xX]([0-9a-fA-F]+)|([0-9]+))([KMGTkmgt])?$/;
export const INT_RE = /^-?[0-9]+$/;
export const UNIT_SHIFT: Record<string, bigint> = { K: 10n, M: 20n, G: 30n, T: 40n };

export const EXPECT_SIZE = 'a size like 4K, 2M or 0x1000';
export const EXPECT_NAME = 'a name like A, heap or P2 ([A-Za-z_][A-Za-z0-9_.-]*)';
export const EXPECT_INT = 'an integer like 12 or -4';
export const EXPECT_PROT = 'a protection like rw-, r--, --- or rwx';

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

export function fmtAddr(n: number): string {
  return `0x${n.toString(16)}`;
}

export function oneOf(list: readonly string[]): string {
  return `one of: ${list.join(', ')}`;
}
