/**
 * Page-table pages ("ptdesc", include/linux/mm_types.h) and their entries, for every level.
 *
 * A table is identified by a table id (tid). Each table owns a frame of type PT_PAGETABLE (so it is
 * counted in NR_PAGETABLE and poisoned when freed); entries that point to it carry that frame's pfn,
 * as on x86, and `frame.mapping` maps the pfn back to the tid.
 *
 * Memory follows populated entries, not 512 × 8 bytes per table: a table's entries live in a
 * sparse block (indexes + values) of capacity 8 or 32, and become a dense 512-entry array only
 * when more are populated (upper-level tables are dense from the start: there are few of them,
 * and every walk reads them); a PTE table that empties again gives its storage back. The populated
 * count `n` is the store's own bookkeeping for that purpose. The modelled kernel never reads it:
 * the kernel has no per-table entry count (docs/kernel-rules.md, "Tables"), and emptiness is always established by
 * scanning entries under the PTE lock (see `scanNone`).
 *
 * Entry pointers (`pte_t *`, `pmd_t *`) are numbers: tid * 512 + index.
 */
import { asPfn, LEVEL_PTE, PTRS_PER_PTE, type Pfn, type Vaddr } from './const.js';
import { ModelBug, Violation } from './bug.js';
import { PhysMem, PT_PAGETABLE } from './page_alloc.js';
import { obj, OBJ, type FootprintRecorder } from './objects.js';

/** Table life cycle (docs/kernel-rules.md, "Tables"). */
export const T_UNUSED = 0;
export const T_ALLOCATED = 1;
export const T_LINKED = 2;
export const T_DETACHED = 3;
export const T_QUEUED = 4;
export const T_DEPOSITED = 5;
export const T_FREED = 6;
export const TABLE_STATE_NAMES: readonly string[] = ['unused', 'allocated', 'linked', 'detached', 'queued', 'deposited', 'freed'];

/** Storage classes: capacity of the sparse block, or dense. */
const CLS_NONE = 0;
const CLS_DENSE = 3;

/** Freed tids are reused only after this many later frees, so stale ids stay detectably freed. */
const TID_QUARANTINE = 1024;

export type Ptep = number;

class SparsePool {
  keys: Uint16Array;
  vals: Float64Array;
  nblocks = 0;
  private freeBlocks: number[] = [];
  constructor(readonly cap: number) {
    // Small to start with (the explorer copies a kernel per execution); doubled as tables fill.
    this.keys = new Uint16Array(cap * 16);
    this.vals = new Float64Array(cap * 16);
  }
  alloc(): number {
    const b = this.freeBlocks.pop();
    if (b !== undefined) return b;
    const blk = this.nblocks++;
    if (this.nblocks * this.cap > this.keys.length) {
      const k = new Uint16Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
      const v = new Float64Array(this.vals.length * 2);
      v.set(this.vals);
      this.vals = v;
    }
    return blk;
  }
  free(blk: number): void {
    this.freeBlocks.push(blk);
  }
}

export class TableStore {
  cap = 0;
  pfn = new Int32Array(0);
  level = new Uint8Array(0);
  state = new Uint8Array(0);
  cls = new Uint8Array(0);
  off = new Int32Array(0);
  n = new Uint16Array(0);
  /** Spinlock word of the table's split lock: 0 free, else owner CPU + 1. */
  lockOwner = new Int16Array(0);
  /** The split lock's storage is gone (destructor ran). Normally equals state === T_FREED. */
  lockDead = new Uint8Array(0);
  /** Owning mm id. */
  mm = new Int32Array(0);
  /** First virtual address the table maps. */
  addr = new Float64Array(0);
  /** Link for lists of tables (deposit list of a PMD table, batches). */
  next = new Int32Array(0);
  /** PMD tables: head of the deposited PTE tables (pmd_huge_pte), -1 if none. */
  deposit = new Int32Array(0);

  private ntids = 1; // tid 0 is never used, so that 0 can mean "no table"
  private freeTids: number[] = [];
  private freeTidsHead = 0;
  /** Pools per storage class; class 0 (no storage) has a placeholder that is never used. */
  private sparse: SparsePool[] = [new SparsePool(1), new SparsePool(8), new SparsePool(32)];
  private dense: Float64Array[] = [];
  private freeDense: number[] = [];

  /** Tables in each life-cycle state (for statistics and invariants). */
  readonly countByState = new Float64Array(TABLE_STATE_NAMES.length);

  constructor(
    readonly mem: PhysMem,
    /** A table's life changing is a write the explorer must see (src/mm/objects.ts). */
    private readonly rec: FootprintRecorder | null = null,
  ) {
    this.grow(64);
  }

  private grow(min: number): void {
    let c = Math.max(this.cap, 64);
    while (c < min) c *= 2;
    if (c === this.cap) return;
    const g8 = (a: Uint8Array) => { const b = new Uint8Array(c); b.set(a); return b; };
    const g16 = (a: Uint16Array) => { const b = new Uint16Array(c); b.set(a); return b; };
    const g32 = (a: Int32Array) => { const b = new Int32Array(c); b.set(a); return b; };
    this.pfn = g32(this.pfn);
    this.level = g8(this.level);
    this.state = g8(this.state);
    this.cls = g8(this.cls);
    this.off = g32(this.off);
    this.n = g16(this.n);
    const lo = new Int16Array(c);
    lo.set(this.lockOwner);
    this.lockOwner = lo;
    this.lockDead = g8(this.lockDead);
    this.mm = g32(this.mm);
    const ad = new Float64Array(c);
    ad.set(this.addr);
    this.addr = ad;
    this.next = g32(this.next);
    this.deposit = g32(this.deposit);
    this.cap = c;
  }

  /**
   * pagetable_alloc() + pagetable_*_ctor(): a zeroed table with an initialised, unlocked lock.
   * Returns 0 on allocation failure.
   */
  alloc(level: number, mmId: number, addr: Vaddr): number {
    const pfn = this.mem.allocPages(0, PT_PAGETABLE);
    if (pfn < 0) return 0;
    let tid: number;
    if (this.freeTids.length - this.freeTidsHead > TID_QUARANTINE) {
      tid = this.freeTids[this.freeTidsHead++];
      if (this.freeTidsHead > 4096 && this.freeTidsHead * 2 > this.freeTids.length) {
        this.freeTids = this.freeTids.slice(this.freeTidsHead);
        this.freeTidsHead = 0;
      }
    } else {
      tid = this.ntids++;
      if (tid >= this.cap) this.grow(tid + 1);
    }
    this.pfn[tid] = pfn;
    this.level[tid] = level;
    this.setState(tid, T_ALLOCATED);
    this.cls[tid] = CLS_NONE;
    this.off[tid] = 0;
    this.n[tid] = 0;
    this.lockOwner[tid] = 0;
    this.lockDead[tid] = 0;
    this.mm[tid] = mmId;
    this.addr[tid] = addr;
    this.next[tid] = -1;
    this.deposit[tid] = -1;
    this.mem.mapping[pfn] = tid;
    this.mem.nrPagetable++;
    if (level !== LEVEL_PTE) this.makeDense(tid);
    return tid;
  }

  /** pagetable_dtor() + pagetable_free(): the lock storage dies and the frame is poisoned. */
  free(tid: number): void {
    const st = this.state[tid];
    if (st === T_FREED || st === T_UNUSED) throw new Violation('double-free', `page table ${tid} freed twice`);
    this.releaseStorage(tid);
    this.lockDead[tid] = 1;
    this.mem.nrPagetable--;
    this.mem.freePages(asPfn(this.pfn[tid]), 0);
    this.setState(tid, T_FREED);
    this.freeTids.push(tid);
  }

  setState(tid: number, st: number): void {
    this.rec?.touch(obj(OBJ.table, tid), true);
    this.countByState[this.state[tid]]--;
    this.state[tid] = st;
    this.countByState[st]++;
  }

  /** pmd_pgtable() / pud_pgtable(): the table an entry points to, via its frame. */
  tidOfPfn(pfn: Pfn): number {
    if (this.mem.type[pfn] !== PT_PAGETABLE) return 0;
    return this.mem.mapping[pfn];
  }
  pfnOf(tid: number): Pfn {
    return asPfn(this.pfn[tid]);
  }

  // ---- entries -------------------------------------------------------------------------------

  /** Load an entry. A load from a freed table is a use-after-free. */
  get(ptep: Ptep): number {
    const tid = tidOf(ptep);
    if (this.state[tid] >= T_FREED) this.useAfterFree(tid, 'load from');
    const c = this.cls[tid];
    if (c === CLS_DENSE) return this.dense[this.off[tid]][ptep & (PTRS_PER_PTE - 1)];
    if (c === CLS_NONE) return 0;
    return this.peekSparse(tid, ptep & (PTRS_PER_PTE - 1));
  }

  /** Read without sanitizer checks (invariants, /proc views). */
  peek(tid: number, idx: number): number {
    if (this.cls[tid] === CLS_DENSE) return this.dense[this.off[tid]][idx];
    return this.peekSparse(tid, idx);
  }

  private peekSparse(tid: number, idx: number): number {
    const c = this.cls[tid];
    if (c === CLS_NONE) return 0;
    const pool = this.sparse[c];
    const base = this.off[tid] * pool.cap;
    const end = base + this.n[tid];
    const keys = pool.keys;
    for (let j = base; j < end; j++) if (keys[j] === idx) return pool.vals[j];
    return 0;
  }

  /**
   * Store an entry. A store into a freed table is a use-after-free; a non-none store into a
   * detached or queued PTE table is a lost PTE (docs/kernel-rules.md, "Invariants", 3).
   */
  set(ptep: Ptep, v: number): void {
    const tid = tidOf(ptep);
    const st = this.state[tid];
    if (st >= T_FREED) this.useAfterFree(tid, 'store to');
    if (v !== 0 && (st === T_DETACHED || st === T_QUEUED) && this.level[tid] === LEVEL_PTE) {
      throw new Violation('lost-pte', `entry ${ptep & 511} written into detached PTE table ${tid} (${describeState(st)})`);
    }
    this.poke(tid, ptep & (PTRS_PER_PTE - 1), v);
  }

  poke(tid: number, idx: number, v: number): void {
    const c = this.cls[tid];
    if (c === CLS_DENSE) {
      const arr = this.dense[this.off[tid]];
      const old = arr[idx];
      arr[idx] = v;
      if (old === 0) {
        if (v !== 0) this.n[tid]++;
      } else if (v === 0 && --this.n[tid] === 0 && this.level[tid] === LEVEL_PTE) {
        this.releaseStorage(tid);
      }
      return;
    }
    if (c === CLS_NONE) {
      if (v === 0) return;
      const pool = this.sparse[1];
      const blk = pool.alloc();
      this.cls[tid] = 1;
      this.off[tid] = blk;
      pool.keys[blk * pool.cap] = idx;
      pool.vals[blk * pool.cap] = v;
      this.n[tid] = 1;
      return;
    }
    const pool = this.sparse[c];
    const base = this.off[tid] * pool.cap;
    const cnt = this.n[tid];
    const keys = pool.keys;
    for (let j = base; j < base + cnt; j++) {
      if (keys[j] !== idx) continue;
      if (v !== 0) {
        pool.vals[j] = v;
      } else {
        const last = base + cnt - 1;
        keys[j] = keys[last];
        pool.vals[j] = pool.vals[last];
        this.n[tid] = cnt - 1;
        if (cnt === 1) this.releaseStorage(tid);
      }
      return;
    }
    if (v === 0) return;
    if (cnt < pool.cap) {
      keys[base + cnt] = idx;
      pool.vals[base + cnt] = v;
      this.n[tid] = cnt + 1;
      return;
    }
    this.promote(tid);
    this.poke(tid, idx, v);
  }

  /** Give an empty table dense storage. */
  private makeDense(tid: number): void {
    const slot = this.freeDense.pop() ?? this.dense.length;
    if (slot === this.dense.length) this.dense.push(new Float64Array(PTRS_PER_PTE));
    this.cls[tid] = CLS_DENSE;
    this.off[tid] = slot;
  }

  /** Move a full sparse block to the next class (or to dense storage). */
  private promote(tid: number): void {
    const c = this.cls[tid];
    const pool = this.sparse[c];
    const base = this.off[tid] * pool.cap;
    const cnt = this.n[tid];
    if (c + 1 < CLS_DENSE) {
      const np = this.sparse[c + 1];
      const blk = np.alloc();
      const nb = blk * np.cap;
      for (let j = 0; j < cnt; j++) {
        np.keys[nb + j] = pool.keys[base + j];
        np.vals[nb + j] = pool.vals[base + j];
      }
      pool.free(this.off[tid]);
      this.cls[tid] = c + 1;
      this.off[tid] = blk;
      return;
    }
    const slot = this.freeDense.pop() ?? this.dense.length;
    if (slot === this.dense.length) this.dense.push(new Float64Array(PTRS_PER_PTE));
    const arr = this.dense[slot];
    for (let j = 0; j < cnt; j++) arr[pool.keys[base + j]] = pool.vals[base + j];
    pool.free(this.off[tid]);
    this.cls[tid] = CLS_DENSE;
    this.off[tid] = slot;
  }

  private releaseStorage(tid: number): void {
    const c = this.cls[tid];
    if (c === CLS_DENSE) {
      this.dense[this.off[tid]].fill(0);
      this.freeDense.push(this.off[tid]);
    } else if (c !== CLS_NONE) {
      this.sparse[c].free(this.off[tid]);
    }
    this.cls[tid] = CLS_NONE;
    this.n[tid] = 0;
  }

  /**
   * Length of the run of none entries starting at `ptep`, at most `max`. Stands for the kernel's
   * loop of ptep_get() calls over none entries: callers hold the table's PTE lock, so no software
   * writer can fill an entry during the scan and hardware never writes a none entry (docs/kernel-rules.md,
   * "The zap").
   */
  /**
   * Length of the run of entries starting at `ptep`, at most `max`, that `keep` accepts (a
   * lockless scan's run; the caller's step reads every entry it may cover: primitives.ts).
   */
  scanWhile(ptep: Ptep, max: number, keep: (v: number) => boolean): number {
    const tid = tidOf(ptep);
    if (this.state[tid] >= T_FREED) this.useAfterFree(tid, 'scan of');
    let i = 0;
    while (i < max && keep(this.peek(tid, (ptep & (PTRS_PER_PTE - 1)) + i))) i++;
    return i;
  }

  scanNone(ptep: Ptep, max: number): number {
    const tid = tidOf(ptep);
    if (this.state[tid] >= T_FREED) this.useAfterFree(tid, 'scan of');
    const idx = ptep & (PTRS_PER_PTE - 1);
    const c = this.cls[tid];
    if (c === CLS_NONE) return max;
    if (c === CLS_DENSE) {
      const arr = this.dense[this.off[tid]];
      let i = 0;
      while (i < max && arr[idx + i] === 0) i++;
      return i;
    }
    const pool = this.sparse[c];
    const base = this.off[tid] * pool.cap;
    let first = max;
    for (let j = base; j < base + this.n[tid]; j++) {
      const k = pool.keys[j] - idx;
      if (k >= 0 && k < first) first = k;
    }
    return first;
  }

  /** Populated entries of a table (store bookkeeping; see the file comment). */
  populated(tid: number): number {
    return this.n[tid];
  }

  /** Calls fn(index, value) for every non-none entry, in no particular order. */
  forEachEntry(tid: number, fn: (idx: number, v: number) => void): void {
    const c = this.cls[tid];
    if (c === CLS_NONE) return;
    if (c === CLS_DENSE) {
      const arr = this.dense[this.off[tid]];
      for (let i = 0; i < PTRS_PER_PTE; i++) if (arr[i] !== 0) fn(i, arr[i]);
      return;
    }
    const pool = this.sparse[c];
    const base = this.off[tid] * pool.cap;
    const cnt = this.n[tid];
    const idx = Array.from(pool.keys.subarray(base, base + cnt));
    const vals = Array.from(pool.vals.subarray(base, base + cnt));
    for (let j = 0; j < cnt; j++) fn(idx[j], vals[j]);
  }

  get nrTids(): number {
    return this.ntids;
  }

  /**
   * Bytes the store holds (metadata of every table id, and its entry pools including blocks free
   * for reuse), for the memory benchmark: what the store costs, not only what live tables use.
   */
  bytesInUse(): number {
    let b = this.ntids * 36;
    for (let c = 1; c < CLS_DENSE; c++) b += this.sparse[c].nblocks * this.sparse[c].cap * 10;
    return b + this.dense.length * PTRS_PER_PTE * 8;
  }

  private useAfterFree(tid: number, what: string): never {
    throw new Violation('pt-use-after-free', `${what} page table ${tid} after it was freed`);
  }

  assertLevel(tid: number, level: number): void {
    if (this.level[tid] !== level) throw new ModelBug(`table ${tid} has level ${this.level[tid]}, expected ${level}`);
  }
}

/** The entry pointer (`pte_t *`, `pmd_t *`, ...) of slot `index` of table `tid`. */
export function entryPtr(tid: number, index: number): Ptep {
  return tid * PTRS_PER_PTE + index;
}

/** The table id of an entry pointer (tid * 512 + index); pointers may exceed 2^31. */
export function tidOf(ptep: Ptep): number {
  return ptep < 2147483648 ? ptep >> 9 : Math.floor(ptep / PTRS_PER_PTE);
}

/** The slot index of an entry pointer within its table. */
export function slotOf(ptep: Ptep): number {
  return ptep % PTRS_PER_PTE;
}

export function describeState(st: number): string {
  return TABLE_STATE_NAMES[st] ?? `state ${st}`;
}
