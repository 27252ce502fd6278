/**
 * Random op scripts for the differential test (kernel-agreement.test.ts) and its model-only twin
 * (random-scripts-model.test.ts): every op of the language (docs/op-scripts.md), with arguments at
 * and past the kernel's limits — mappings and moves next to TASK_SIZE or past it, lengths beyond
 * TASK_SIZE, protections that forbid the access, locked ranges, ranges across VMAs and holes,
 * targets that overlap other mappings or the source.
 *
 * A script is data (GenScript) rendered to text; `errs` (per op id) marks the ops the kernel refused
 * with the failure it produced, so that the run goes on past them. An op on a mapping whose `map`
 * failed, or of a process that exited, is rendered as a comment: line numbers (and so snapshot
 * pairing) never depend on which ops failed.
 */
import fc from 'fast-check';
import { MAX_FILE_SIZE } from '../../src/mm/xarray.js';
import { ADVICES, ERR_NAMES, placementAddress, UFFD_COPY_MAX, UFFD_REGISTER_MODES, type Advice, type ScriptError, type UffdRegisterMode } from '../../src/script/ast.js';

/** TASK_SIZE of x86-64 with 4-level paging (arch/x86/include/asm/page_64_types.h). */
export const TASK_SIZE = 2 ** 47 - 4096;
const PAGE = 4096;
export const BLOCK = 512; // pages per 2 MiB block
/**
 * The runner's own mappings (PIE binary near 0x55..., libraries and stack near 0x7f...) must not be
 * met by anything that may succeed: successful mappings stay below this, or in the last pages
 * below TASK_SIZE (the stack sits up to 16 GiB lower, at random).
 */
const FREE_BELOW = 0x500000000000;
/** Where `far` targets go: above the placement slots of a few maps, below FREE_BELOW. */
const FAR_BASE = 0x400000000000;
/** The top 512 GiB, which the runner's stack shares: no new PUD table (maybe no PMD) there. */
const TOP_REGION = 2 ** 47 - 2 ** 39;

export type MapKind = 'anon private' | 'anon shared' | 'shmem shared' | 'shmem private' | 'file shared' | 'file private';
const PROTS = ['rw-', 'r--', '---', 'rwx', 'r-x', '-w-', '--x'] as const;
type Prot = (typeof PROTS)[number];

/** Where a `map` or an `mremap ... at=` goes. */
export type At =
  | { k: 'place' }
  /** last pages below TASK_SIZE: the range ends `past` pages after TASK_SIZE (<= 0: fits) */
  | { k: 'top'; past: number }
  /** an address no mapping of the script uses */
  | { k: 'far'; slot: number }
  /** `page` pages into (or, past its size, after) the j-th map's first placement */
  | { k: 'near'; map: number; page: number };

/** A length in pages, or one of the hostile byte lengths (past TASK_SIZE: always refused). */
export type Len = { k: 'pages'; n: number } | { k: 'huge'; bytes: number };

export interface GenMap {
  kind: MapKind;
  len: Len;
  at: At;
  prot: Prot | '';
  flag: '' | 'hugepage' | 'nohugepage' | 'locked';
  /** page offset into the memfd / file */
  fileOff: number;
}

export type GenWhat =
  | { k: 'touch'; write: boolean; every: number }
  | { k: 'madvise'; advice: Advice }
  | { k: 'unmap' }
  /** mlock, or mlock2(MLOCK_ONFAULT) */
  | { k: 'mlock'; onfault: boolean }
  /** a write to the process's clear_refs (its mapping is only where the snapshot after it looks) */
  | { k: 'clear_refs'; type: 1 | 2 | 3 | 5 }
  | { k: 'munlock' }
  | { k: 'mprotect'; prot: Prot }
  | { k: 'mremap'; newLen: Len; mode: 'none' | 'maymove' | 'at'; at: At }
  | { k: 'uffd_register'; mode: UffdRegisterMode }
  | { k: 'uffd_copy' }
  | { k: 'uffd_zeropage' }
  | { k: 'uffd_writeprotect'; wp: boolean }
  /** UFFDIO_MOVE of the op's range to `dstStart` of the process's map `dst` (modulo, as `map`) */
  | { k: 'uffd_move'; dst: number; dstStart: number; holes: boolean }
  | { k: 'exit' }
  /** `fork P Q`: the op's process forks a new one, which becomes current */
  | { k: 'fork' };

export interface GenOp {
  proc: number;
  /** index into the process's maps (taken modulo their number) */
  map: number;
  what: GenWhat;
  /** range in pages, relative to the mapping and clamped to its size */
  start: number;
  len: number;
}

export interface GenScript {
  thp: '' | 'always' | 'never';
  shmemThp: '' | 'always' | 'advise' | 'within_size';
  memfdPages: number;
  filePages: number;
  fileFolio: '4K' | '2M';
  procs: GenMap[][];
  ops: GenOp[];
}

const pagesArb = fc.oneof(
  fc.constantFrom(1, 16, BLOCK, 2 * BLOCK, 3 * BLOCK, 4 * BLOCK),
  fc.integer({ min: 1, max: 4 * BLOCK }),
);

/** Hostile byte lengths: TASK_SIZE exactly, one page past it, 2^47, and issue 15's D4. */
const HUGE = [TASK_SIZE, TASK_SIZE + PAGE, 2 ** 47, 0x1ffffffffff000];

const lenArb: fc.Arbitrary<Len> = fc.oneof(
  { weight: 12, arbitrary: pagesArb.map((n) => ({ k: 'pages', n }) as const) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE).map((bytes) => ({ k: 'huge', bytes }) as const) },
);

const atArb: fc.Arbitrary<At> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ k: 'place' } as const) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 2 }).map((past) => ({ k: 'top', past }) as const) },
  { weight: 2, arbitrary: fc.nat(3).map((slot) => ({ k: 'far', slot }) as const) },
  { weight: 3, arbitrary: fc.record({ map: fc.nat(2), page: fc.oneof(fc.constantFrom(0, 1, BLOCK, 4 * BLOCK), fc.nat(5 * BLOCK)) }).map((r) => ({ k: 'near', ...r }) as const) },
);

const mapArb: fc.Arbitrary<GenMap> = fc.record({
  kind: fc.constantFrom<MapKind>('anon private', 'anon private', 'anon shared', 'shmem shared', 'shmem private', 'file shared', 'file private'),
  len: lenArb,
  at: atArb,
  prot: fc.oneof({ weight: 6, arbitrary: fc.constant('' as const) }, { weight: 2, arbitrary: fc.constantFrom(...PROTS) }),
  flag: fc.constantFrom('', '', '', 'hugepage', 'hugepage', 'nohugepage', 'locked') as fc.Arbitrary<GenMap['flag']>,
  fileOff: fc.oneof(fc.constant(0), fc.constantFrom(1, BLOCK), fc.nat(2 * BLOCK)),
});

/**
 * Advice, weighted toward what frees or fills tables. Not `pageout`: the generated scripts run
 * without swap, where MADV_PAGEOUT reclaims only page-cache folios, and the model leaves large ones
 * (THPs, 2M file folios) alone where the kernel reclaims them (docs/model.md, "Simplified (and why)": Swap).
 */
const adviceArb = fc.constantFrom<Advice>(...ADVICES.filter((a) => a !== 'pageout'), 'dontneed', 'dontneed', 'populate_write', 'collapse');

/** A page offset within a mapping: block boundaries and their neighbours are favoured. */
const edgeArb = fc.oneof(
  fc.integer({ min: 0, max: 4 }).map((b) => b * BLOCK),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1, 256)).map(([b, d]) => Math.max(0, b * BLOCK + d)),
  fc.integer({ min: 0, max: 4 * BLOCK }),
);

const whatArb: fc.Arbitrary<GenWhat> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('touch' as const), write: fc.boolean(), every: fc.constantFrom(1, 1, 1, 7, BLOCK) }) },
  { weight: 6, arbitrary: adviceArb.map((advice) => ({ k: 'madvise', advice }) as const) },
  { weight: 1, arbitrary: fc.constant({ k: 'unmap' } as const) },
  { weight: 1, arbitrary: fc.boolean().map((onfault) => ({ k: 'mlock', onfault }) as const) },
  { weight: 1, arbitrary: fc.constantFrom(1, 2, 3, 5).map((type) => ({ k: 'clear_refs', type }) as const) },
  { weight: 1, arbitrary: fc.constant({ k: 'munlock' } as const) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTS).map((prot) => ({ k: 'mprotect', prot }) as const) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('mremap' as const),
      newLen: lenArb,
      mode: fc.constantFrom('none', 'maymove', 'maymove', 'at') as fc.Arbitrary<'none' | 'maymove' | 'at'>,
      at: atArb,
    }),
  },
  { weight: 2, arbitrary: fc.constantFrom(...UFFD_REGISTER_MODES).map((mode) => ({ k: 'uffd_register', mode }) as const) },
  { weight: 2, arbitrary: fc.constant({ k: 'uffd_copy' } as const) },
  { weight: 1, arbitrary: fc.constant({ k: 'uffd_zeropage' } as const) },
  { weight: 2, arbitrary: fc.boolean().map((wp) => ({ k: 'uffd_writeprotect', wp }) as const) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('uffd_move' as const), dst: fc.nat(2), dstStart: edgeArb, holes: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'exit' } as const) },
  { weight: 2, arbitrary: fc.constant({ k: 'fork' } as const) },
);

const opArb: fc.Arbitrary<GenOp> = fc.record({
  proc: fc.nat(3), // modulo the processes so far: those of the script's start, then forked ones
  map: fc.nat(2),
  what: whatArb,
  start: edgeArb,
  len: fc.oneof(fc.constantFrom(1, 256, BLOCK, 2 * BLOCK), edgeArb),
});

export const scriptArb: fc.Arbitrary<GenScript> = fc.record({
  thp: fc.constantFrom('', '', '', 'always', 'never') as fc.Arbitrary<GenScript['thp']>,
  shmemThp: fc.constantFrom('', '', '', 'always', 'advise', 'within_size') as fc.Arbitrary<GenScript['shmemThp']>,
  memfdPages: fc.constantFrom(BLOCK, 2 * BLOCK, 4 * BLOCK),
  filePages: fc.constantFrom(BLOCK, 2 * BLOCK, 4 * BLOCK),
  fileFolio: fc.constantFrom('4K', '2M') as fc.Arbitrary<'4K' | '2M'>,
  procs: fc.array(fc.array(mapArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 14 }),
});

const hex = (n: number) => `0x${n.toString(16)}`;
const kb = (pages: number) => `${pages * 4}K`;

/** Bytes of a length. */
function lenBytes(l: Len): number {
  return l.k === 'pages' ? l.n * PAGE : l.bytes;
}

/**
 * A map's length. A shared anonymous mapping is a shmem file of its size, and the model's largest
 * file (8 TiB, docs/limits.md) is below every hostile length: it takes a block instead.
 */
function mapLen(m: GenMap): Len {
  return m.kind === 'anon shared' && lenBytes(m.len) > MAX_FILE_SIZE ? { k: 'pages', n: BLOCK } : m.len;
}

/** The address of an At (undefined: the placement rule), for a range of `bytes`. */
function atAddress(at: At, bytes: number, mapPages: number[]): number | undefined {
  switch (at.k) {
    case 'place':
      return undefined;
    case 'top':
      // The range ends `past` pages beyond TASK_SIZE; a range larger than TASK_SIZE starts at 0.
      return Math.max(0, TASK_SIZE - bytes + at.past * PAGE);
    case 'far':
      return FAR_BASE + at.slot * 2 ** 36;
    case 'near': {
      const j = at.map % mapPages.length;
      return placementAddress(j) + Math.min(at.page, mapPages[j] + 1) * PAGE;
    }
  }
}

/** One rendered script: its text, and for each 1-based line the op id written there (if any). */
export interface Rendered {
  text: string;
  ids: Array<number | undefined>;
}

/**
 * The script text. Op ids: the maps of process p are numbered first (in order), then the ops;
 * `errs` maps an op id to the err= the kernel produced there.
 */
export function renderScript(g: GenScript, errs: ReadonlyMap<number, string> = new Map()): Rendered {
  const lines: string[] = [];
  const ids: Array<number | undefined> = [undefined];
  const push = (l: string, id?: number) => {
    const err = id === undefined ? undefined : errs.get(id);
    lines.push(err ? `${l} err=${err}` : l);
    ids.push(id);
  };
  let top = false;
  const settings = [g.thp && `thp=${g.thp}`, g.shmemThp && `shmem_thp=${g.shmemThp}`].filter(Boolean);
  if (settings.length) push(`config ${settings.join(' ')}`);
  push(`memfd F ${kb(g.memfdPages)}`);
  push(`file G ${kb(g.filePages)} folio=${g.fileFolio}`);
  let id = 0;
  // Per process: each map's size in pages (as addressed by later ops), or undefined if it failed.
  const sizes: Array<Array<number | undefined>> = [];
  g.procs.forEach((maps, p) => {
    push(`process P${p}`);
    const placed = maps.map((m) => {
      const len = mapLen(m);
      return len.k === 'pages' ? len.n : 1;
    });
    sizes.push(
      maps.map((m, i) => {
        const myId = id++;
        const fileKind = m.kind.startsWith('shmem') ? 'shmem' : m.kind.startsWith('file') ? 'file' : undefined;
        const filePages = fileKind === 'shmem' ? g.memfdPages : g.filePages;
        const fileOff = fileKind ? Math.min(m.fileOff, filePages - 1) : 0;
        // A file mapping must lie inside its file (the parser's rule): lengths are clamped.
        const len = mapLen(m);
        const bytes = fileKind ? Math.min(lenBytes(len), (filePages - fileOff) * PAGE) : lenBytes(len);
        const pages = bytes / PAGE;
        let at = atAddress(m.at, bytes, placed);
        // A successful mapping must not meet the runner's own: keep it low, or in the top pages.
        // Too large for a slot, or for the parser beyond its address: refused at 0 (past TASK_SIZE).
        if ((at === undefined && bytes > 2 ** 40) || (at !== undefined && !Number.isSafeInteger(at + bytes))) at = 0;
        if (at !== undefined && at + bytes <= TASK_SIZE && at + bytes > FREE_BELOW && at < TASK_SIZE - 16 * 2 ** 20) at = FAR_BASE;
        if (at !== undefined && at + bytes > TOP_REGION) top = true;
        const opts = [at !== undefined ? `at=${hex(at)}` : '', m.prot ? `prot=${m.prot}` : '', m.flag].filter(Boolean).join(' ');
        const tail = opts ? ` ${opts}` : '';
        if (fileKind) push(`map M${i} ${fileKind} ${fileKind === 'shmem' ? 'F' : 'G'} ${kb(fileOff)} ${kb(pages)} ${m.kind.split(' ')[1]}${tail}`, myId);
        else push(`map M${i} ${m.kind} ${kb(pages)}${tail}`, myId);
        return errs.has(myId) ? undefined : pages;
      }),
    );
  });
  const exited = new Set<number>();
  // Processes made by fork follow those of g.procs: P<n> with a copy of its parent's maps.
  const mapsOf = [...g.procs];
  /** Processes that ran a uffd_* op: the parser refuses to fork them. */
  const uffdUsed = new Set<number>();
  let cur = g.procs.length - 1;
  for (const op of g.ops) {
    const myId = id++;
    const p = op.proc % mapsOf.length;
    if (exited.has(p)) {
      push(`# (P${p} has exited)`);
      continue;
    }
    if (op.what.k === 'exit') {
      push(`exit P${p}`);
      exited.add(p);
      continue;
    }
    if (op.what.k === 'fork') {
      if (uffdUsed.has(p)) {
        push(`# (P${p} used userfaultfd: no fork)`);
        continue;
      }
      cur = mapsOf.length;
      mapsOf.push(mapsOf[p]);
      sizes.push([...sizes[p]]);
      push(`fork P${p} P${cur}`);
      continue;
    }
    if (p !== cur || exited.has(cur)) {
      push(`switch P${p}`);
      cur = p;
    }
    const i = op.map % mapsOf[p].length;
    const pages = sizes[p][i];
    if (pages === undefined) {
      push(`# (M${i} of P${p} was not mapped)`);
      continue;
    }
    // Ranges stay within the size as first mapped: a shrink or move leaves holes there.
    const start = Math.min(op.start, pages - 1);
    const len = Math.max(1, Math.min(op.len, pages - start));
    const range = `M${i} ${kb(start)} ${kb(len)}`;
    const w = op.what;
    if (w.k.startsWith('uffd_')) uffdUsed.add(p);
    switch (w.k) {
      case 'touch':
        push(`touch ${range} ${w.write ? 'write' : 'read'}${w.every > 1 ? ` every=${kb(w.every)}` : ''}`, myId);
        break;
      case 'madvise':
        push(`madvise ${range} ${w.advice}`, myId);
        break;
      case 'mprotect':
        push(`mprotect ${range} ${w.prot}`, myId);
        break;
      case 'mlock':
        push(`mlock ${range}${w.onfault ? ' onfault' : ''}`, myId);
        break;
      case 'clear_refs':
        push(`clear_refs ${w.type}`, myId);
        break;
      case 'uffd_register':
        push(`uffd_register ${range} ${w.mode}`, myId);
        break;
      case 'uffd_writeprotect':
        // Anonymous private mappings only (the parser's rule: no uffd-wp markers in the model).
        if (mapsOf[p][i].kind !== 'anon private') push(`# (M${i} of P${p} is not anonymous private: no uffd_writeprotect)`);
        else push(`uffd_writeprotect ${range} ${w.wp ? 'on' : 'off'}`, myId);
        break;
      case 'uffd_move': {
        // Both ranges within their mappings as first mapped (the parser's rule); one length.
        const j = w.dst % mapsOf[p].length;
        const dstPages = sizes[p][j];
        if (dstPages === undefined) {
          push(`# (M${j} of P${p} was not mapped: no uffd_move)`);
          break;
        }
        const dStart = Math.min(w.dstStart, dstPages - 1);
        const n = Math.min(len, dstPages - dStart);
        push(`uffd_move M${i} ${kb(start)} ${kb(n)} M${j} ${kb(dStart)}${w.holes ? ' allow_src_holes' : ''}`, myId);
        break;
      }
      case 'uffd_copy':
      case 'uffd_zeropage':
        // Fills of shared mappings are refused by the parser (no shmem fill in the model); a copy
        // takes at most the runner's source buffer.
        if (mapsOf[p][i].kind.endsWith('shared')) push(`# (M${i} of P${p} is shared: no ${w.k})`);
        else push(`${w.k} M${i} ${kb(start)} ${kb(w.k === 'uffd_copy' ? Math.min(len, UFFD_COPY_MAX / PAGE) : len)}`, myId);
        break;
      case 'mremap': {
        const newBytes = lenBytes(w.newLen);
        let tail = '';
        if (w.mode === 'maymove') tail = ' maymove';
        if (w.mode === 'at') {
          const placed = sizes[p].map((s) => s ?? 1);
          let at = atAddress(w.at.k === 'place' ? { k: 'near', map: i, page: 0 } : w.at, newBytes, placed)!;
          if (at + newBytes <= TASK_SIZE && at + newBytes > FREE_BELOW && at < TASK_SIZE - 16 * 2 ** 20) at = FAR_BASE;
          if (at + newBytes > TOP_REGION && at < TASK_SIZE) top = true;
          tail = ` at=${hex(at)}`;
        }
        push(`mremap ${range} ${newBytes}${tail}`, myId);
        break;
      }
      default:
        push(`${w.k} ${range}`, myId);
    }
    push(`snapshot s${lines.length + 1} M${i} 0 ${kb(pages)}`);
  }
  if (top) {
    lines.unshift('# diff: tolerance VmPTE 8 kB the runner\'s stack shares the top 512 GiB: its PUD table (and maybe the PMD table) already exist there');
    ids.splice(1, 0, undefined);
  }
  return { text: lines.join('\n') + '\n', ids };
}

/** Rounds of err= marking before a script is taken as it is. */
export const MAX_MARK_ROUNDS = 40;

/**
 * The validator's complaint about a `map` that overlaps another mapping becomes err=EEXIST on that
 * map (MAP_FIXED_NOREPLACE's answer); true when a map was marked.
 */
export function markOverlap(r: Rendered, errors: readonly ScriptError[], errs: Map<number, string>): boolean {
  const e = errors.find((x) => / overlaps mapping /.test(x.message) && r.ids[x.loc.line] !== undefined);
  if (!e) return false;
  errs.set(r.ids[e.loc.line]!, 'EEXIST');
  return true;
}

/**
 * An executor stopped at `line` because the op there ended with `got` (an errno or signal name, or
 * `success`) instead of what the script said: state that outcome on the op. True when the marks
 * changed; false when the line holds no generated op or `got` cannot be stated with err=.
 */
export function markOutcome(r: Rendered, line: number, got: string, errs: Map<number, string>): boolean {
  const id = r.ids[line];
  if (id === undefined || errs.get(id) === got || (got !== 'success' && !(ERR_NAMES as readonly string[]).includes(got))) return false;
  if (got === 'success') errs.delete(id);
  else errs.set(id, got);
  return true;
}
