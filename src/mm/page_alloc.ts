/**
 * Physical memory: one slot per 4 KiB frame, stored as a struct of typed arrays (no object per
 * page), so that tens of millions of frames fit (about 26 bytes per frame).
 *
 * Modelled coarsely (see docs/model.md): the zone's buddy allocator is two free stacks, one for
 * order-0 frames and one for naturally aligned order-9 blocks; fresh memory comes from a bump
 * pointer. In front of it, as in the kernel, each CPU keeps its own lists of free pages (struct
 * per_cpu_pages, mm/page_alloc.c, 6.18; `PcpLists` below): order-0 pages and THPs are freed to
 * the freeing CPU's lists and allocated from the allocating CPU's, and only an empty list (refilled
 * by rmqueue_bulk()) or a list over its high mark (drained by free_pcppages_bulk()) reaches the
 * zone. So a frame freed on one CPU is handed out again on that CPU, and allocations and frees on
 * different CPUs touch different state: the explorer orders them only when one of them reaches
 * the zone (objects.ts OBJ.alloc). Freed frames are poisoned (type FREE, PG_poisoned,
 * refcount/mapcount reset) and their generation is bumped, so a stale translation or pointer to a
 * reused frame is detectable.
 */
import { asPfn, HPAGE_PMD_ORDER, type Pfn } from './const.js';
import { ModelBug } from './bug.js';
import { current } from './current.js';
import { obj, OBJ, type FootprintRecorder } from './objects.js';

/** Frame types (what the page is used for). */
export const PT_FREE = 0;
export const PT_PAGETABLE = 1;
export const PT_ANON = 2;
export const PT_FILE = 3;
export const PT_SHMEM = 4;
export const PT_ZERO = 5;
export const PT_RESERVED = 6;
/**
 * A page the kernel owns and lends to a user mapping with vm_insert_page(s) (mm/memory.c): here
 * the network stack's receive pages that TCP zerocopy maps (net/ipv4/tcp.c, src/mm/tcp.ts).
 * Neither anonymous nor page cache: charged to MM_FILEPAGES (mm_counter_file()), on no LRU.
 */
export const PT_KERNEL = 7;
export const PAGE_TYPE_NAMES: readonly string[] = ['free', 'pagetable', 'anon', 'file', 'shmem', 'zero', 'reserved', 'kernel'];

/** Page flags (include/linux/page-flags.h, model subset). */
export const PG_locked = 1 << 0;
export const PG_uptodate = 1 << 1;
export const PG_dirty = 1 << 2;
/**
 * Model-only, standing for a clear PG_lru: the model keeps no LRU lists, so a user folio counts as
 * on them from its allocation on, except while a path holds it isolated (folio_isolate_lru(),
 * compaction's folio_test_clear_lru(); vmscan.ts): folio_test_lru() is !(flags & PG_isolated).
 */
export const PG_isolated = 1 << 3;
export const PG_swapbacked = 1 << 4;
export const PG_head = 1 << 5;
export const PG_tail = 1 << 6;
export const PG_anon_exclusive = 1 << 7;
export const PG_poisoned = 1 << 8;
export const PG_mlocked = 1 << 9;
export const PG_referenced = 1 << 10;
/**
 * Model-only: the frame may hold non-zero bytes. The kernel reads a page's contents where they
 * matter (try_to_map_unused_to_zeropage() after a folio split); the model remembers instead that
 * a user write reached the frame, or that it was copied from such a frame (COW, collapse) or
 * filled with data (a regular file's written pages). Cleared on allocation: new frames are zeroed.
 */
export const PG_has_data = 1 << 11;
/**
 * PG_readahead (PG_reclaim's bit in the kernel, which the model does not use otherwise): a swap
 * cache folio swap readahead read for an address other than the faulting one (swap_state.ts).
 */
export const PG_readahead = 1 << 12;

/** The zone: its free stacks and bump pointer (the explorer's object for rmqueue_bulk() and free_pcppages_bulk()). */
const ZONE = obj(OBJ.alloc, 0);
/** CPU c's per-CPU page lists. */
export const pcpObj = (cpu: number): number => obj(OBJ.alloc, 1 + cpu);

/**
 * The per-CPU page lists' sizes, as this machine's kernel (6.18.44) reports them for its Normal
 * zone in /proc/zoneinfo (`pagesets`: batch 63, high_min 6066): a refill takes `batch` pages from
 * the zone (nr_pcp_alloc(): the base batch for order 0, the model keeping no alloc_factor; at
 * least 2 for a THP), and a free that leaves `high` pages or more on the CPU's lists gives pages
 * back to the zone, coldest first (free_frozen_page_commit(), free_pcppages_bulk()). Simplified:
 * `high` stays at high_min (the kernel moves pcp->high between high_min and high_max), a drain
 * gives back one batch from the list just freed to (nr_pcp_free() may give more, from every
 * list), and no vmstat work drains idle lists.
 */
export const PCP_BATCH = 63;
export const PCP_HIGH = 6066;
const PCP_BATCH_THP = Math.max(PCP_BATCH >> HPAGE_PMD_ORDER, 2);

/** One CPU's free lists, hottest last (struct per_cpu_pages: one list per order the model uses). */
class PcpLists {
  f0: Int32Array = new Int32Array(64);
  n0 = 0;
  f9: Int32Array = new Int32Array(4);
  n9 = 0;
  /** Pages on both lists (pcp->count). */
  get count(): number {
    return this.n0 + (this.n9 << HPAGE_PMD_ORDER);
  }
}

/** Small to start with: the explorer copies a kernel per execution; large workloads grow it by doubling. */
const INITIAL_FRAMES = 1 << 10;

export class PhysMem {
  capacity = 0;
  /** Frames handed out so far by the bump allocator (frame 0 and the zero page are reserved). */
  top = 0;
  type = new Uint8Array(0);
  flags = new Uint16Array(0);
  order = new Uint8Array(0);
  refcount = new Int32Array(0);
  /** Number of PTE mappings of this page (0-based, unlike the kernel's _mapcount). */
  mapcount = new Int32Array(0);
  /** Head pages: number of PMD mappings of the whole folio (_entire_mapcount + 1). */
  entireMapcount = new Int32Array(0);
  /**
   * Large folios (the model's are PMD-sized and aligned: index `head >> HPAGE_PMD_ORDER`, see
   * largeIdx()): every mapping of the folio, PTE or PMD (folio_large_mapcount(), 0-based), and the
   * mm-id tracking of CONFIG_MM_ID (include/linux/mm_types.h _mm_id[2], _mm_id_mapcount[2],
   * FOLIO_MM_IDS_SHARED_BIT): the first two mms that map the folio (mm id + 1; 0 is MM_ID_DUMMY),
   * their mappings each (0-based), and whether it is maybe mapped shared. Kept by rmap.ts
   * largeMapcountAdd()/largeMapcountSub(); stale once the folio is split (order 0 asks mapcount).
   */
  largeMapcount = new Int32Array(0);
  mmId0 = new Int32Array(0);
  mmId1 = new Int32Array(0);
  mmIdMapcount0 = new Int32Array(0);
  mmIdMapcount1 = new Int32Array(0);
  mmIdsShared = new Uint8Array(0);
  /** Owner id: address space id for page cache, table id for page tables, -1 otherwise. */
  mapping = new Int32Array(0);
  /** Page index in its file (page cache), -1 otherwise. */
  index = new Int32Array(0);
  gen = new Uint16Array(0);

  private free0: Int32Array = new Int32Array(1024);
  private nfree0 = 0;
  private free9: Int32Array = new Int32Array(64);
  private nfree9 = 0;
  /** By CPU id, made on the CPU's first allocation or free. */
  private readonly pcp: PcpLists[] = [];

  /** Pages in use, by type (the node counters behind /proc/meminfo). */
  readonly used = new Float64Array(PAGE_TYPE_NAMES.length);
  /** NR_PAGETABLE in pages: counted by the page-table constructor and destructor. */
  nrPagetable = 0;
  readonly zeroPfn: Pfn;
  hugeZeroPfn: Pfn = asPfn(-1);

  constructor(
    readonly totalPages: number,
    /** Every allocation and free writes the allocator state it uses, which the explorer must see (objects.ts OBJ.alloc). */
    private readonly rec: FootprintRecorder | null = null,
  ) {
    this.grow(INITIAL_FRAMES);
    this.top = 1; // pfn 0 is never handed out: 0 doubles as "no page"
    this.type[0] = PT_RESERVED;
    this.zeroPfn = this.allocPages(0, PT_ZERO);
    this.refcount[this.zeroPfn] = 1 << 30; // the shared zero page is never freed
  }

  private grow(min: number): void {
    let cap = Math.max(this.capacity, INITIAL_FRAMES);
    while (cap < min) cap *= 2;
    if (cap === this.capacity) return;
    const g = <T extends { length: number; set(a: ArrayLike<number>): void }>(old: T, make: (n: number) => T, n = cap): T => {
      const a = make(n);
      a.set(old as unknown as ArrayLike<number>);
      return a;
    };
    this.type = g(this.type, (n) => new Uint8Array(n));
    this.flags = g(this.flags, (n) => new Uint16Array(n));
    this.order = g(this.order, (n) => new Uint8Array(n));
    this.refcount = g(this.refcount, (n) => new Int32Array(n));
    this.mapcount = g(this.mapcount, (n) => new Int32Array(n));
    this.entireMapcount = g(this.entireMapcount, (n) => new Int32Array(n));
    // One entry per PMD-sized block (cap is a power of two, at least INITIAL_FRAMES).
    const blocks = cap >> HPAGE_PMD_ORDER;
    this.largeMapcount = g(this.largeMapcount, (n) => new Int32Array(n), blocks);
    this.mmId0 = g(this.mmId0, (n) => new Int32Array(n), blocks);
    this.mmId1 = g(this.mmId1, (n) => new Int32Array(n), blocks);
    this.mmIdMapcount0 = g(this.mmIdMapcount0, (n) => new Int32Array(n), blocks);
    this.mmIdMapcount1 = g(this.mmIdMapcount1, (n) => new Int32Array(n), blocks);
    this.mmIdsShared = g(this.mmIdsShared, (n) => new Uint8Array(n), blocks);
    const mapping = new Int32Array(cap).fill(-1);
    mapping.set(this.mapping);
    this.mapping = mapping;
    const index = new Int32Array(cap).fill(-1);
    index.set(this.index);
    this.index = index;
    this.gen = g(this.gen, (n) => new Uint16Array(n));
    this.capacity = cap;
  }

  /** Frames not handed out, counting never-used memory (MemFree). */
  get nrFree(): number {
    return this.totalPages - this.inUse;
  }
  /** Frames handed out and not freed (the sum of `used` over all types). */
  inUse = 0;

  /**
   * Allocate a folio of 2^order frames of the given type, refcount 1 on the head. Returns -1 when
   * the machine is out of memory (the caller turns that into -ENOMEM / VM_FAULT_OOM).
   */
  allocPages(order: number, type: number): Pfn {
    const nr = 1 << order;
    // The watermark check, on counters read without a lock. totalPages has no setting, so in a
    // kernel the explorer runs the check never fails, whatever the order of allocations.
    if (this.inUse + nr > this.totalPages) return asPfn(-1);
    const pcp = this.pcpOfCurrent(order);
    const pfn = pcp ? this.rmqueuePcplist(pcp, order) : this.rmqueueZone(order);
    this.used[type] += nr;
    this.inUse += nr;
    for (let i = 0; i < nr; i++) {
      const p = pfn + i;
      this.type[p] = type;
      this.flags[p] = i === 0 ? (order > 0 ? PG_head : 0) : PG_tail;
      this.order[p] = order;
      this.refcount[p] = i === 0 ? 1 : 0;
      this.mapcount[p] = 0;
      this.entireMapcount[p] = 0;
      this.mapping[p] = -1;
      this.index[p] = -1;
      this.gen[p] = (this.gen[p] + 1) & 0xffff;
    }
    if (order === HPAGE_PMD_ORDER) {
      // A new large folio: no mapping, no mm in its slots.
      const b = pfn >> HPAGE_PMD_ORDER;
      this.largeMapcount[b] = this.mmId0[b] = this.mmId1[b] = this.mmIdMapcount0[b] = this.mmIdMapcount1[b] = this.mmIdsShared[b] = 0;
    }
    return asPfn(pfn);
  }

  /**
   * The index of a large folio in the large-folio arrays (largeMapcount, mmId0, ...): the model's
   * large folios are PMD-sized and aligned (allocPages() aligns every order > 0).
   */
  largeIdx(head: number): number {
    if (this.order[head] !== HPAGE_PMD_ORDER) throw new ModelBug(`folio ${head} of order ${this.order[head]}: only PMD-sized folios are large in the model`);
    return head >> HPAGE_PMD_ORDER;
  }

  /** Return a folio to the allocator, poisoning every frame. */
  freePages(pfn: Pfn, order: number): void {
    const nr = 1 << order;
    const type = this.type[pfn];
    if (type === PT_FREE) throw new ModelBug(`double free of pfn ${pfn}`);
    this.used[type] -= nr;
    this.inUse -= nr;
    for (let i = 0; i < nr; i++) {
      const p = pfn + i;
      this.type[p] = PT_FREE;
      this.flags[p] = PG_poisoned;
      this.refcount[p] = 0;
      this.mapcount[p] = 0;
      this.entireMapcount[p] = 0;
      this.mapping[p] = -1;
      this.index[p] = -1;
    }
    const pcp = this.pcpOfCurrent(order);
    if (pcp) this.freePcp(pcp, pfn, order);
    else this.freeZone(pfn, order);
  }

  /**
   * The lists of the CPU running the current kernel path, for an order they keep
   * (pcp_allowed_order(): the model's orders are 0 and THP's); null when no CPU of this kernel runs
   * (the kernel being built).
   */
  private pcpOfCurrent(order: number): PcpLists | null {
    if (order !== 0 && order !== HPAGE_PMD_ORDER) return null;
    const cpu = current.k?.mem === this ? current.cpu?.id : undefined;
    if (cpu === undefined) return null;
    this.rec?.touch(pcpObj(cpu), true);
    return (this.pcp[cpu] ??= new PcpLists());
  }

  /** __rmqueue_pcplist(): the hottest page of the list, refilled from the zone when empty (rmqueue_bulk()). */
  private rmqueuePcplist(pcp: PcpLists, order: number): number {
    if (order === 0) {
      if (pcp.n0 === 0) {
        if (pcp.f0.length < PCP_BATCH) pcp.f0 = growInt32(pcp.f0, PCP_BATCH);
        for (let i = 0; i < PCP_BATCH; i++) pcp.f0[pcp.n0++] = this.rmqueueZone(0);
      }
      return pcp.f0[--pcp.n0];
    }
    if (pcp.n9 === 0) {
      if (pcp.f9.length < PCP_BATCH_THP) pcp.f9 = growInt32(pcp.f9, PCP_BATCH_THP);
      for (let i = 0; i < PCP_BATCH_THP; i++) pcp.f9[pcp.n9++] = this.rmqueueZone(HPAGE_PMD_ORDER);
    }
    return pcp.f9[--pcp.n9];
  }

  /** The zone's buddy allocator: a freed block of the order, else fresh memory. */
  private rmqueueZone(order: number): number {
    this.rec?.touch(ZONE, true);
    const nr = 1 << order;
    if (order === 0 && this.nfree0 > 0) return this.free0[--this.nfree0];
    if (order === HPAGE_PMD_ORDER && this.nfree9 > 0) return this.free9[--this.nfree9];
    let start = this.top;
    if (order > 0) {
      const aligned = Math.ceil(start / nr) * nr;
      for (let p = start; p < aligned; p++) this.pushFree0(p);
      start = aligned;
    }
    if (start + nr > this.capacity) this.grow(start + nr);
    this.top = start + nr;
    return start;
  }

  /** free_frozen_page_commit(): onto the hot end; at `high` pages, the coldest go back to the zone. */
  private freePcp(pcp: PcpLists, pfn: number, order: number): void {
    if (order === 0) {
      if (pcp.n0 === pcp.f0.length) pcp.f0 = growInt32(pcp.f0);
      pcp.f0[pcp.n0++] = pfn;
    } else {
      if (pcp.n9 === pcp.f9.length) pcp.f9 = growInt32(pcp.f9);
      pcp.f9[pcp.n9++] = pfn;
    }
    if (pcp.count < PCP_HIGH) return;
    // free_pcppages_bulk() from the list just freed to, coldest first: a batch of pages, or a THP.
    if (order === 0) {
      const n = Math.min(PCP_BATCH, pcp.n0);
      for (let i = 0; i < n; i++) this.freeZone(pcp.f0[i], 0);
      pcp.f0.copyWithin(0, n, pcp.n0);
      pcp.n0 -= n;
    } else {
      this.freeZone(pcp.f9[0], HPAGE_PMD_ORDER);
      pcp.f9.copyWithin(0, 1, pcp.n9);
      pcp.n9--;
    }
  }

  private freeZone(pfn: number, order: number): void {
    this.rec?.touch(ZONE, true);
    if (order === HPAGE_PMD_ORDER) {
      if (this.nfree9 === this.free9.length) this.free9 = growInt32(this.free9);
      this.free9[this.nfree9++] = pfn;
    } else {
      for (let i = 0; i < 1 << order; i++) this.pushFree0(pfn + i);
    }
  }

  /** The zone's state as a string (footprint_check.ts digests it as OBJ.alloc 0). */
  zoneState(): string {
    return `${this.top} ${this.free0.subarray(0, this.nfree0).join(',')} ${this.free9.subarray(0, this.nfree9).join(',')}`;
  }

  /** CPU `cpu`'s lists as a string (footprint_check.ts digests it as pcpObj(cpu)). */
  pcpState(cpu: number): string {
    const p = this.pcp[cpu];
    return p ? `${p.f0.subarray(0, p.n0).join(',')} ${p.f9.subarray(0, p.n9).join(',')}` : '';
  }

  private pushFree0(p: number): void {
    if (this.nfree0 === this.free0.length) this.free0 = growInt32(this.free0);
    this.free0[this.nfree0++] = p;
  }

  /** compound_head(): folios are naturally aligned, so the head is found by masking. */
  folioHead(pfn: Pfn): Pfn {
    if (this.testFlags(pfn, PG_tail) === 0) return pfn;
    const nr = 1 << this.order[pfn];
    return asPfn(pfn - (pfn % nr));
  }
  /**
   * Page flags, bit by bit as the kernel's test_bit()/set_bit()/clear_bit() on folio->flags: every
   * access outside the allocator goes through these three, so that the explorer's race check
   * (src/scenarios/access_check.ts) sees which bits a step reads and writes.
   */
  testFlags(pfn: number, bits: number): number {
    return this.flags[pfn] & bits;
  }
  setFlags(pfn: number, bits: number): void {
    this.flags[pfn] |= bits;
  }
  clearFlags(pfn: number, bits: number): void {
    this.flags[pfn] &= ~bits;
  }
  folioNr(head: Pfn): number {
    return 1 << this.order[head];
  }
  isFree(pfn: Pfn): boolean {
    return this.type[pfn] === PT_FREE;
  }
}

function growInt32(a: Int32Array, min = 0): Int32Array {
  const b = new Int32Array(Math.max(a.length * 2, min));
  b.set(a);
  return b;
}
