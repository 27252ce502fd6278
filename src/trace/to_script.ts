/**
 * Trace → op script (`ptlab trace to-script`, docs/trace-format.md "Conversion to op scripts").
 * Pure: records in, script text out. Every mapping of the trace becomes a named mapping placed
 * with `at=` where the kernel put it; addresses become offsets from the mapping's origin, tracked
 * as the op-script executors track them (partial unmaps keep the origin, an mremap move shifts it).
 * What the op-script language cannot say becomes a `# dropped:` comment and is counted.
 */
import { CONFIG_KEYS, fmtSize } from '../script/grammar.js';
import { formatOp, type OpValue } from '../script/format.js';
import { PROT_READ, PROT_WRITE, TRACE_MODEL_SETTINGS, type TraceRecord } from './records.js';
import { formatRecord, quoteValue } from './write.js';
import { PAGE_SIZE } from '../mm/const.js';

/** How far below a stack VMA an access may land and still grow it (replay: the default RLIMIT_STACK). */
const STACK_LIMIT = 8 * 1024 * 1024;
const DEFAULT_PROT = PROT_READ | PROT_WRITE;

export interface ToScriptOptions {
  /** Named in the header comment (the trace file, or the generator). */
  source?: string;
  /** Move the mappings as this plan says (`planRebase`). Default: the trace's own addresses. */
  rebase?: RebasePlan;
}

export interface ToScriptResult {
  text: string;
  /** Records (or parts of records) that became `# dropped:` comments. */
  dropped: number;
}

/** 512 GiB, what one PGD entry maps: the PUD, PMD and PTE tables below it serve only this span. */
export const PGD_SPAN = 2 ** 39;
/** Where a rebased script starts: the op-script placement base (16 TiB), clear of the runner. */
const REBASE_BASE = 2 ** 44;
/** ... and where it must end: the runner's own program and libraries sit at 0x55… (85 TiB) and up. */
const REBASE_LIMIT = 2 ** 46;

/** Runs of consecutive 512 GiB spans the trace uses, each moved as a whole by `shift`. */
export interface RebasePlan {
  readonly clusters: readonly { readonly start: number; readonly end: number; readonly shift: number }[];
}

/**
 * Where to move a trace so that its page tables share nothing with the kernel runner's own: a
 * recorded program's addresses (0x400000, 0x55…, 0x7f…) share PUD/PMD tables with the runner's
 * mappings, so the kernel counts fewer new tables than the model. Each run of consecutive 512 GiB
 * spans the trace touches moves, whole, to 16 TiB and up, one free span apart (so no VMAs become
 * neighbours that were not). Inside a span every offset stays, so every table is shared exactly
 * as before and the model's counts do not change. Throws when the runs do not fit below 64 TiB.
 */
export function planRebase(records: Iterable<TraceRecord>): RebasePlan {
  const used = new Set<number>();
  const span = (a: number, b: number) => {
    for (let c = Math.floor(a / PGD_SPAN); c <= Math.floor(Math.max(a, b - 1) / PGD_SPAN); c++) used.add(c);
  };
  for (const r of records) {
    if ('err' in r && r.err) continue;
    switch (r.kind) {
      case 'vma':
      case 'present':
        span(r.start, r.end);
        break;
      case 'brk-base':
        span(r.start, Math.max(r.start, r.cur) + 1);
        break;
      case 'mmap':
      case 'munmap':
      case 'mprotect':
      case 'madvise':
      case 'touch':
        span(r.addr, r.addr + r.len);
        break;
      case 'mremap':
        span(r.old, r.old + r.oldLen);
        span(r.addr, r.addr + r.newLen);
        break;
      case 'fault':
      case 'brk':
        span(r.kind === 'brk' ? r.brk : r.addr, (r.kind === 'brk' ? r.brk : r.addr) + 1);
        break;
    }
  }
  const chunks = [...used].sort((a, b) => a - b);
  const clusters: { start: number; end: number; shift: number }[] = [];
  let next = REBASE_BASE / PGD_SPAN;
  for (let i = 0; i < chunks.length; ) {
    let j = i;
    while (j + 1 < chunks.length && chunks[j + 1] === chunks[j] + 1) j++;
    clusters.push({ start: chunks[i] * PGD_SPAN, end: (chunks[j] + 1) * PGD_SPAN, shift: (next - chunks[i]) * PGD_SPAN });
    next += j - i + 2;
    i = j + 1;
  }
  if ((next - 1) * PGD_SPAN > REBASE_LIMIT) {
    throw new RangeError(`the trace uses ${chunks.length} spans of 512 GiB in ${clusters.length} runs; rebased, they would not fit between 16 and 64 TiB (expected a trace whose mappings fit 48 TiB with a free 512 GiB span between runs, or no --rebase)`);
  }
  return { clusters };
}

/** An address of the trace, moved by its cluster's shift (unchanged outside every cluster). */
export function rebased(plan: RebasePlan | undefined, addr: number): number {
  if (!plan) return addr;
  for (const c of plan.clusters) if (addr >= c.start && addr < c.end) return addr + c.shift;
  return addr;
}

/** A script mapping: offsets are relative to `origin`, and must stay below `size`. */
interface Mapping {
  name: string;
  origin: number;
  size: number;
  /**
   * Left behind when mremap moved another part of the same mapping: the script's name now has its
   * origin at the new place, so this part can no longer be addressed (nor unmapped) by a script op.
   */
  orphan: boolean;
}

interface Extent {
  start: number;
  end: number;
  map: Mapping;
}

/** The live address ranges of one process and the mapping each belongs to (sorted, disjoint). */
class Space {
  private ext: Extent[] = [];

  /** Index of the first extent that ends above `a`. */
  private first(a: number): number {
    let lo = 0;
    let hi = this.ext.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ext[mid].end <= a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The parts of [lo, hi) that are mapped, clipped, adjacent parts of one mapping joined. */
  pieces(lo: number, hi: number): Extent[] {
    const out: Extent[] = [];
    for (let i = this.first(lo); i < this.ext.length && this.ext[i].start < hi; i++) {
      const e = this.ext[i];
      const start = Math.max(e.start, lo);
      const end = Math.min(e.end, hi);
      const last = out[out.length - 1];
      if (last && last.map === e.map && last.end === start) last.end = end;
      else out.push({ start, end, map: e.map });
    }
    return out;
  }

  remove(lo: number, hi: number): void {
    const i = this.first(lo);
    let j = i;
    const keep: Extent[] = [];
    for (; j < this.ext.length && this.ext[j].start < hi; j++) {
      const e = this.ext[j];
      if (e.start < lo) keep.push({ ...e, end: lo });
      if (e.end > hi) keep.push({ ...e, start: hi });
    }
    this.ext.splice(i, j - i, ...keep);
  }

  add(start: number, end: number, map: Mapping): void {
    this.remove(start, end);
    this.ext.splice(this.first(start), 0, { start, end, map });
  }

  /** Give every extent of `map` outside [lo, hi) to `to`. */
  reassign(map: Mapping, lo: number, hi: number, to: Mapping): void {
    for (const e of this.ext) if (e.map === map && (e.end <= lo || e.start >= hi)) e.map = to;
  }
}

interface Proc {
  name: string;
  space: Space;
  /** The stack VMA ([low, high), grows down), when the trace declared one. */
  stack: [number, number] | null;
  /** vdso/vvar ranges: not mapped by the script; accesses there are dropped. */
  special: [number, number][];
  /** The program break (from brk-base, then brk), or null before brk-base. */
  brk: number | null;
  exited: boolean;
  /** The last op emitted for this process was a snapshot (no need for a final one). */
  snapshotted: boolean;
}

/** A run of accesses: `n` pages, `stride` apart (a multiple of 4K), from page `base`. */
interface AccessRun {
  base: number;
  stride: number;
  n: number;
}

const hex = (v: number) => `0x${v.toString(16)}`;
const pageUp = (v: number) => Math.ceil(v / PAGE_SIZE) * PAGE_SIZE;
const pageDown = (v: number) => v - (v % PAGE_SIZE);
/** A private anonymous `map` at an address (the heap or the stack growing). */
const anonMap = (name: string, size: number, at: number): OpValue => ({ op: 'map', name, kind: 'anon', offset: 0, size, shared: false, at, locked: false });

/** The pages a `touch ADDR LEN every=STRIDE` record accesses, as runs with page-multiple strides. */
function touchRuns(addr: number, len: number, every: number): AccessRun[] {
  const n = Math.ceil(len / every);
  if (n <= 0) return [];
  if (every % PAGE_SIZE === 0) return [{ base: pageDown(addr), stride: every, n }];
  const first = pageDown(addr);
  const last = pageDown(addr + (n - 1) * every);
  // A stride below a page leaves no page between the first and the last access untouched.
  if (every < PAGE_SIZE) return [{ base: first, stride: PAGE_SIZE, n: (last - first) / PAGE_SIZE + 1 }];
  return Array.from({ length: n }, (_, i) => ({ base: pageDown(addr + i * every), stride: PAGE_SIZE, n: 1 }));
}

class Converter {
  dropped = 0;
  /** The trace line of the record being converted (for tracing a script line back to it). */
  traceLine: number | undefined;
  private readonly procs = new Map<string, Proc>();
  private cur: Proc | null = null;
  private nextMap = 0;
  private sawProcess = false;
  /** Declared files and memfds: kind and the size the script declares (whole pages). */
  private readonly files = new Map<string, { kind: 'file' | 'memfd'; size: number }>();

  constructor(
    private readonly out: (line: string) => void,
    private readonly plan?: RebasePlan,
  ) {}

  /** An `at=` address: where the trace had it, or where the rebase plan moves it. */
  private at(addr: number): number {
    return rebased(this.plan, addr);
  }

  private emit(line: string): void {
    this.out(line);
    if (this.cur) this.cur.snapshotted = false;
  }

  /** An op line (script/format.ts prints it), with a comment; `changes`: it may change the process. */
  private op(o: OpValue, comment?: string, changes = true): void {
    const line = comment ? `${formatOp(o)} # ${comment}` : formatOp(o);
    if (changes) this.emit(line);
    else this.out(line);
  }

  private drop(r: TraceRecord, why: string): void {
    this.dropped++;
    this.out(`# dropped: ${formatRecord(r)} (${r.line !== undefined ? `line ${r.line}: ` : ''}${why})`);
  }

  private refuse(r: TraceRecord, why: string): null {
    this.drop(r, why);
    return null;
  }

  private newMapping(origin: number, size: number): Mapping {
    return { name: `M${this.nextMap++}`, origin, size, orphan: false };
  }

  record(r: TraceRecord): void {
    this.traceLine = r.line;
    switch (r.kind) {
      case 'meta':
        return this.meta(r);
      case 'file':
      case 'memfd': {
        // Whole pages: the page cache holds the same pages, and mappings may reach the page holding EOF.
        const size = Math.max(PAGE_SIZE, pageUp(r.size));
        this.files.set(r.name, { kind: r.kind, size });
        if (r.kind === 'memfd') this.op({ op: 'memfd', name: r.name, size }, undefined, false);
        else this.op({ op: 'file', name: r.name, size, folio: r.folio === '2M' ? 2 ** 21 : PAGE_SIZE }, r.path !== undefined ? `path=${quoteValue(r.path)}` : undefined, false);
        return;
      }
      case 'process': {
        this.sawProcess = true;
        const p: Proc = { name: r.name, space: new Space(), stack: null, special: [], brk: null, exited: false, snapshotted: false };
        this.procs.set(r.name, p);
        this.cur = p;
        const about = [r.pid !== undefined ? `pid=${r.pid}` : '', r.comm !== undefined ? `comm=${r.comm}` : ''].filter(Boolean).join(' ');
        this.op({ op: 'process', name: r.name }, about || undefined);
        return;
      }
      case 'switch':
        this.cur = this.procs.get(r.name)!;
        this.op({ op: 'switch', name: r.name }, undefined, false);
        return;
      case 'observed': {
        const values = Object.entries(r.values).map(([k, v]) => `${k}=${v}`).join(' ');
        this.op({ op: 'snapshot', label: r.label });
        this.out(`# observed ${r.label} ${values} (the real process, kB)`);
        this.cur!.snapshotted = true;
        return;
      }
    }
    const p = this.cur!;
    if ('err' in r && r.err !== undefined) return this.drop(r, `failed with ${r.err}: nothing to do`);
    switch (r.kind) {
      case 'vma':
        return this.vma(p, r);
      case 'brk-base':
        p.brk = r.cur;
        this.out(`# ${formatRecord(r)} (brk is emulated by map/unmap at the break)`);
        return;
      case 'brk':
        return this.brk(p, r);
      case 'present':
        return this.access(p, r, [{ base: r.start, stride: PAGE_SIZE, n: (r.end - r.start) / PAGE_SIZE }], r.write);
      case 'fault':
        return this.access(p, r, [{ base: pageDown(r.addr), stride: PAGE_SIZE, n: 1 }], r.access === 'write');
      case 'touch':
        return this.access(p, r, touchRuns(r.addr, r.len, r.every), r.write);
      case 'mmap': {
        if (r.flags.includes('hugetlb')) return this.drop(r, 'hugetlb mappings have no op');
        const shared = r.flags.includes('shared');
        const m = this.map(p, r, r.addr, pageUp(r.len), r.prot, shared, r.file, r.off);
        if (m && r.flags.includes('populate')) {
          const write = (r.prot & PROT_WRITE) !== 0 && !shared;
          this.op({ op: 'madvise', map: m.name, offset: 0, len: m.size, advice: write ? 'populate_write' : 'populate_read' }, 'MAP_POPULATE');
        }
        return;
      }
      case 'munmap':
        return this.rangeOp(p, r, r.addr, r.len, (map, offset, len) => ({ op: 'unmap', map, offset, len }), true);
      case 'mprotect':
        return this.rangeOp(p, r, r.addr, r.len, (map, offset, len) => ({ op: 'mprotect', map, offset, len, prot: r.prot }), false);
      case 'madvise': {
        if (r.advice === null) return this.drop(r, `advice ${r.raw} is not one the model knows`);
        const advice = r.advice;
        return this.rangeOp(p, r, r.addr, r.len, (map, offset, len) => ({ op: 'madvise', map, offset, len, advice }), false);
      }
      case 'mremap':
        return this.mremap(p, r);
      case 'exit':
        if (!p.snapshotted) this.op({ op: 'snapshot', label: 'end' });
        this.op({ op: 'exit', name: p.name });
        p.exited = true;
        this.cur = null;
        return;
    }
  }

  private meta(r: Extract<TraceRecord, { kind: 'meta' }>): void {
    this.out(`# ${formatRecord(r)}`);
    const settings: Record<string, string> = {};
    for (const key of TRACE_MODEL_SETTINGS) {
      const v = r.values[key];
      if (v === undefined) continue;
      if (this.sawProcess) this.drop(r, `${key}= after the first process: config must come first`);
      else if (!CONFIG_KEYS[key].apply({}, v)) this.drop(r, `${key}=${v} is not a model setting (${CONFIG_KEYS[key].values})`);
      else settings[key] = v;
    }
    if (Object.keys(settings).length) this.op({ op: 'config', settings }, undefined, false);
  }

  private vma(p: Proc, r: Extract<TraceRecord, { kind: 'vma' }>): void {
    if (r.vmaKind === 'special') {
      p.special.push([r.start, r.end]);
      return this.drop(r, 'vdso/vvar: the kernel installs its own in every process (replay maps it but never faults it)');
    }
    const shared = r.vmaKind === 'anon-shared' || r.vmaKind === 'file-shared';
    const m = this.map(p, r, r.start, r.end - r.start, r.prot, shared, r.file, r.off);
    if (!m) return;
    if (r.vmaKind === 'stack') p.stack = [r.start, r.end];
    if (r.vmaKind === 'stack' || r.vmaKind === 'heap') this.out(`# ${m.name} is the ${r.vmaKind} ${r.vmaKind === 'stack' ? '(growth below it: a new map, as replay does)' : '(brk: map/unmap at its end)'}`);
  }

  /** A `map` at ADDR, after unmapping what it replaces (MAP_FIXED); null if it cannot be said. */
  private map(p: Proc, r: TraceRecord, addr: number, size: number, prot: number, shared: boolean, file: string | undefined, off: number): Mapping | null {
    if (addr % PAGE_SIZE) return this.refuse(r, 'the address is not 4K aligned');
    if (size === 0) return this.refuse(r, 'zero length');
    let kind: 'anon' | 'shmem' | 'file' = 'anon';
    if (file !== undefined) {
      const f = this.files.get(file)!;
      if (off % PAGE_SIZE) return this.refuse(r, 'the file offset is not 4K aligned');
      if (off >= f.size) return this.refuse(r, `the offset is beyond the end of ${file} (${fmtSize(f.size)}): every access would be SIGBUS`);
      if (off + size > f.size) {
        this.drop(r, `the part beyond the end of ${file} (${fmtSize(f.size)}) is left out: accesses there would be SIGBUS`);
        size = f.size - off;
      }
      kind = f.kind === 'memfd' ? 'shmem' : 'file';
    }
    const over = p.space.pieces(addr, addr + size);
    const orphan = over.find((e) => e.map.orphan);
    if (orphan) return this.refuse(r, `it replaces part of ${orphan.map.name} that an mremap left behind, which no op can unmap`);
    for (const e of over) this.op({ op: 'unmap', map: e.map.name, offset: e.start - e.map.origin, len: e.end - e.start }, 'replaced by the next map (MAP_FIXED)');
    p.space.remove(addr, addr + size);
    const m = this.newMapping(addr, size);
    const source = kind === 'anon' ? { offset: 0 } : { file, offset: off };
    this.op({ op: 'map', name: m.name, kind, ...source, size, shared, at: this.at(addr), locked: false, ...(prot === DEFAULT_PROT ? {} : { prot }) });
    p.space.add(addr, addr + size, m);
    return m;
  }

  private brk(p: Proc, r: Extract<TraceRecord, { kind: 'brk' }>): void {
    if (p.brk === null) return this.drop(r, 'no brk-base before it: the old break is unknown');
    const from = pageUp(p.brk);
    const to = pageUp(r.brk);
    p.brk = r.brk;
    if (to > from) {
      if (p.space.pieces(from, to).length) return this.drop(r, 'the heap would grow over another mapping');
      const m = this.newMapping(from, to - from);
      this.op(anonMap(m.name, to - from, this.at(from)), `brk ${hex(r.brk)}: the heap grows`);
      p.space.add(from, to, m);
    } else if (to < from) {
      this.rangeOp(p, r, to, from - to, (map, offset, len) => ({ op: 'unmap', map, offset, len }), true, `brk ${hex(r.brk)}: the heap shrinks`);
    }
  }

  /** One op per mapping piece of [addr, addr+len) (rounded to pages, as the kernel does); holes are skipped. */
  private rangeOp(p: Proc, r: TraceRecord, addr: number, len: number, op: (map: string, offset: number, len: number) => OpValue, unmaps: boolean, comment?: string): void {
    if (addr % PAGE_SIZE) return this.drop(r, 'the address is not 4K aligned');
    const end = addr + pageUp(len);
    if (end === addr) return this.drop(r, 'zero length: a no-op');
    const pieces = p.space.pieces(addr, end);
    const orphans = pieces.filter((e) => e.map.orphan);
    for (const e of pieces) {
      if (e.map.orphan) continue;
      this.op(op(e.map.name, e.start - e.map.origin, e.end - e.start), comment);
      if (unmaps) p.space.remove(e.start, e.end);
    }
    if (orphans.length) this.drop(r, `part of it is in ${orphans[0].map.name} where an mremap left it behind, which no op can address`);
  }

  private mremap(p: Proc, r: Extract<TraceRecord, { kind: 'mremap' }>): void {
    if (r.flags.includes('dontunmap')) return this.drop(r, 'MREMAP_DONTUNMAP has no op');
    if (r.old % PAGE_SIZE || r.addr % PAGE_SIZE) return this.drop(r, 'an address is not 4K aligned');
    const oldLen = pageUp(r.oldLen);
    const newLen = pageUp(r.newLen);
    if (oldLen === 0 || newLen === 0) return this.drop(r, 'a zero length (old_len 0 duplicates a shared mapping) has no op');
    const oldEnd = r.old + oldLen;
    const pieces = p.space.pieces(r.old, oldEnd);
    if (pieces.length !== 1 || pieces[0].start !== r.old || pieces[0].end !== oldEnd) {
      return this.drop(r, pieces.length > 1 ? `the range spans ${pieces.map((e) => e.map.name).join(', ')} (one mapping in the kernel, several in the script)` : 'the range is not all mapped');
    }
    const m = pieces[0].map;
    if (m.orphan) return this.drop(r, `the range is part of ${m.name} that an earlier mremap left behind, which no op can address`);
    const off = r.old - m.origin;
    const remap = { op: 'mremap', map: m.name, offset: off, len: oldLen, newLen, maymove: false } as const;
    if (r.addr === r.old) {
      if (newLen > oldLen && p.space.pieces(oldEnd, r.old + newLen).length) return this.drop(r, 'it grows in place over another mapping of the script');
      this.op(remap);
      if (newLen < oldLen) p.space.remove(r.old + newLen, oldEnd);
      else if (newLen > oldLen) p.space.add(oldEnd, r.old + newLen, m);
    } else {
      this.op({ ...remap, at: this.at(r.addr) });
      p.space.remove(r.old, oldEnd);
      p.space.remove(r.addr, r.addr + newLen); // MREMAP_FIXED replaces what was there
      p.space.reassign(m, r.old, oldEnd, { ...m, orphan: true });
      m.origin = r.addr - off;
      p.space.add(r.addr, r.addr + newLen, m);
    }
    m.size = Math.max(m.size, off + newLen);
  }

  /** The stack grows down to `low` when an access lands below it (expand_stack, as replay models it). */
  private growStack(p: Proc, low: number): void {
    if (!p.stack || low >= p.stack[0] || low < p.stack[1] - STACK_LIMIT) return;
    if (p.space.pieces(low, p.stack[0]).length) return;
    const m = this.newMapping(low, p.stack[0] - low);
    this.op(anonMap(m.name, m.size, this.at(low)), 'the stack grows down');
    p.space.add(low, p.stack[0], m);
    p.stack[0] = low;
  }

  /** touch ops for runs of page accesses, one per mapping piece; accesses that hit no mapping are dropped. */
  private access(p: Proc, r: TraceRecord, runs: AccessRun[], write: boolean): void {
    let missed = 0;
    let inSpecial = false;
    for (const { base, stride, n } of runs) {
      if (n <= 0) continue;
      const end = base + (n - 1) * stride + PAGE_SIZE;
      this.growStack(p, base);
      let covered = 0;
      for (const e of p.space.pieces(base, end)) {
        if (e.map.orphan) continue;
        const i0 = Math.max(0, Math.ceil((e.start - base) / stride));
        const i1 = Math.min(n - 1, Math.floor((e.end - PAGE_SIZE - base) / stride));
        if (i1 < i0) continue;
        covered += i1 - i0 + 1;
        const every = stride !== PAGE_SIZE && i1 > i0 ? { every: stride } : {};
        this.op({ op: 'touch', map: e.map.name, offset: base + i0 * stride - e.map.origin, len: (i1 - i0) * stride + PAGE_SIZE, write, ...every });
      }
      missed += n - covered;
      if (n > covered && p.special.some(([s, t]) => s < end && t > base)) inSpecial = true;
    }
    if (missed) {
      const why = inSpecial ? 'in a special mapping (vdso/vvar), or no mapping of the script' : 'no mapping of the script there (or a part an mremap left behind)';
      this.drop(r, `${missed} page access(es) ${why}`);
    }
  }

  /** A final snapshot of every live process, so that `ptlab diff` compares the end state. */
  finish(): void {
    for (const p of this.procs.values()) {
      if (p.exited || p.snapshotted) continue;
      if (this.cur !== p) {
        this.cur = p;
        this.op({ op: 'switch', name: p.name }, undefined, false);
      }
      this.op({ op: 'snapshot', label: 'end' });
      p.snapshotted = true;
    }
  }
}

/**
 * Convert a trace, handing each line of the script's body to `out` as it is made; the header
 * (which counts the dropped records, known only at the end) comes back with the count. `onLine`
 * sees the trace line each body line came from.
 */
export function convertTrace(records: Iterable<TraceRecord>, opts: ToScriptOptions, out: (line: string, traceLine: number | undefined) => void): { header: string[]; dropped: number } {
  const c: Converter = new Converter((line) => out(line, c.traceLine), opts.rebase);
  for (const r of records) c.record(r);
  c.traceLine = undefined;
  c.finish();
  const header = [
    `# op script converted from ${opts.source ?? 'a trace'} by ptlab trace to-script (docs/trace-format.md, "Conversion to op scripts")`,
    ...(opts.rebase?.clusters ?? []).map((k) => `# rebased: ${hex(k.start)}–${hex(k.end)} of the trace is at ${hex(k.start + k.shift)} (brk comments keep the trace's addresses)`),
    `# ${c.dropped} trace record(s) dropped: the "# dropped:" lines say which and why`,
  ];
  return { header, dropped: c.dropped };
}

/** The whole script as text (tests, small traces). */
export function traceToScript(records: Iterable<TraceRecord>, opts: ToScriptOptions = {}): ToScriptResult {
  const lines: string[] = [];
  const { header, dropped } = convertTrace(records, opts, (l) => lines.push(l));
  return { text: [...header, ...lines].join('\n') + '\n', dropped };
}
