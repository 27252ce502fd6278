/**
 * Swap space (mm/swapfile.c, include/linux/swap.h): one swap area, its `swap_map`
 * of per-slot counts, and the entry points that take and drop them: folio_alloc_swap()
 * (mm/swapfile.c, 6.18; add_to_swap() of mm/swap_state.c calls it), swap_duplicate(),
 * put_swap_folio(), swap_free_nr() and free_swap_and_cache_nr().
 *
 * A `swp_entry_t` here is the slot's offset: there is one area (type 0), as with the one swap area
 * the kernel runner creates. A slot's count is the number of swap PTEs that hold it; SWAP_HAS_CACHE
 * says a folio in the swap cache holds it too.
 *
 * The swap cache (mm/swap_state.c) maps a slot to the folio that holds its data in memory. As in
 * the kernel, a folio stays there after shrink_folio_list() wrote it out (writeback is
 * asynchronous, so reclaim leaves it cached: mm/vmscan.c, PAGE_SUCCESS with the folio under
 * writeback is `keep`) and after a read fault mapped it (should_try_to_free_swap() in mm/memory.c
 * frees it only for a write fault, VM_LOCKED or vm_swap_full()). Later it goes when the last swap
 * PTE of its slot is zapped (free_swap_and_cache_nr() → __try_to_reclaim_swap()), when a zap drops
 * its last mapping (free_swap_cache() of mm/swap_state.c), when MADV_FREE or a write fault frees
 * its swap (folio_free_swap()), or when reclaim finds it clean and unmapped (__remove_mapping()).
 * Modelled coarsely (docs/model.md): no clusters, per-CPU caches or priorities (a free slot is the
 * next free offset from a rotating cursor); writeback ends in the step that starts it; no LRU, so
 * no later reclaim pass frees a cached folio under memory pressure; where the kernel leaves a
 * folio that no swap PTE and no mapping holds to that later pass (a zap whose folio_trylock()
 * failed), the lock holder frees it when it lets go (vmscan.ts, memory/fault.ts); readahead is
 * swap_state.ts; no swap count continuation (counts stay below SWAP_MAP_MAX without fork).
 * swapoff() is in swapoff.ts.
 */
import { ModelBug } from './bug.js';
import { type Pfn } from './const.js';
import { PG_dirty, PG_swapbacked, PG_uptodate, PT_ANON } from './page_alloc.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { current } from './current.js';
import { obj, OBJ } from './objects.js';
import { pteNextSwpOffset, type Pte } from './pgtable_types.js';
import { folioTrylock, folioUnlock, ptepGet, type KGen } from './primitives.js';
import { SWAP_HAS_CACHE, SWAP_MAP_MAX, type SwapInfo } from './swap_info.js';

/** A swap slot's count changed or was read by the running step (the explorer's dependency). */
function touchSlot(offset: number, write: boolean): void {
  current.k.rec.touch(obj(OBJ.swap, offset), write);
}

/** The area's flags (SWP_WRITEOK) were read or changed: slot 0, the header, stands for them. */
export function touchArea(write: boolean): void {
  touchSlot(0, write);
}

function swapInfo(): SwapInfo {
  const si = current.k.swap;
  if (!si) throw new ModelBug('a swap entry without a swap area');
  return si;
}

/**
 * folio_alloc_swap() for an order-0 folio: a free slot, held by the swap cache (SWAP_HAS_CACHE,
 * count 0). Returns its offset, or 0 when there is no swap or it is full (add_to_swap() fails and
 * reclaim keeps the folio).
 */
export function folioAllocSwap(): number {
  const si = current.k.swap;
  if (!si) return 0;
  touchArea(false);
  if (!si.writeOk) return 0; // swapoff() took the area out of service
  const off = si.scan();
  if (!off) return 0;
  touchSlot(off, true);
  si.swapMap[off] = SWAP_HAS_CACHE;
  si.inusePages++;
  return off;
}

// ---- the swap cache (mm/swap_state.c) -----------------------------------------------------------

/** folio_test_swapcache() and folio->swap: the folio's slot, or 0 when it is not in the swap cache. */
export function folioSwapOffset(head: Pfn): number {
  touchFolio(head, false);
  return current.k.swap?.folioSwap.get(head) ?? 0;
}

/** swap_cache_get_folio(): the folio holding a slot's data, with a reference; 0 when there is none. */
export function swapCacheGetFolio(offset: number): Pfn {
  touchSlot(offset, false);
  const head = swapInfo().cache.get(offset);
  if (head === undefined) return 0 as Pfn;
  folioRefAdd(head as Pfn, 1);
  return head as Pfn;
}

/** swap_cache_add_folio(): the cache takes a reference on the folio and holds the slot. */
function swapCacheAddFolio(head: Pfn, offset: number): void {
  const si = swapInfo();
  touchSlot(offset, true);
  si.cache.set(offset, head);
  si.folioSwap.set(head, offset);
  folioRefAdd(head, 1);
}

/**
 * __swap_cache_del_folio() + put_swap_folio(): the folio leaves the swap cache, which lets go of
 * its slot and its reference. The caller holds the folio lock and a reference of its own.
 */
export function swapCacheDelFolio(head: Pfn): void {
  const si = swapInfo();
  const offset = si.folioSwap.get(head);
  if (offset === undefined) throw new ModelBug(`folio ${head} is not in the swap cache`);
  touchSlot(offset, true);
  si.cache.delete(offset);
  si.folioSwap.delete(head);
  putSwapFolio(offset);
  folioPutRefs(head, 1);
}

/**
 * add_to_swap() (mm/swap_state.c; folio_alloc_swap() of mm/swapfile.c): give an anonymous folio a
 * slot and put it in the swap cache, dirty so that reclaim writes it. False without a free slot.
 */
export function addToSwap(head: Pfn): boolean {
  const offset = folioAllocSwap();
  if (!offset) return false;
  swapCacheAddFolio(head, offset);
  current.k.mem.setFlags(head, PG_dirty); // folio_mark_dirty()
  return true;
}

/**
 * folio_free_swap() (mm/swapfile.c): a folio in the swap cache whose slot no swap PTE holds any
 * more (folio_swapped()) leaves the cache and is dirtied, its data now only in memory
 * (folio_set_dirty()); folio_swapcache_freeable() holds (writeback has ended: see above). The
 * caller holds the folio lock. Returns whether it did.
 */
export function folioFreeSwap(head: Pfn): boolean {
  const offset = folioSwapOffset(head);
  if (!offset || swapCount(offset) !== 0) return false; // folio_swapped()
  swapCacheDelFolio(head); // swap_cache_del_folio()
  current.k.mem.setFlags(head, PG_dirty); // folio_set_dirty()
  return true;
}

/**
 * free_swap_cache() (mm/swap_state.c), from free_pages_and_swap_cache() as a zap frees the pages
 * it gathered: a folio in the swap cache that nothing maps any more gives up its swap if its lock
 * can be had and no swap PTE holds its slot.
 */
export function* freeSwapCache(head: Pfn): KGen<void> {
  if (!current.k.swap) return; // no swap area, no swap cache
  if (!folioSwapOffset(head) || folioMappedSmall(head)) return;
  if (!(yield* folioTrylock(head))) return;
  folioFreeSwap(head);
  yield* folioUnlock(head);
}

/** folio_mapped() of a folio in the swap cache (order 0: only those enter it here). */
function folioMappedSmall(head: Pfn): boolean {
  touchFolio(head, false);
  return current.k.mem.mapcount[head] > 0;
}

/**
 * vm_swap_full() (mm/swap.h; mem_cgroup_swap_full() without a memcg swap limit): more than half
 * of the swap space is in use.
 */
export function vmSwapFull(): boolean {
  const si = current.k.swap;
  if (!si) return false;
  return (si.slots - si.inusePages) * 2 < si.slots; // nr_swap_pages * 2 < total_swap_pages
}

/** __read_swap_cache_async()'s page_allocated: whether the call put a new folio in the swap cache. */
export class ReadSwapOut {
  allocated = false;
}

/**
 * __read_swap_cache_async() (mm/swap_state.c, 6.18): the folio holding a slot's data, with a
 * reference, from the swap cache or else a new anonymous folio read into it (at once: no I/O in the
 * model, so swap_read_folio() has ended and the folio is unlocked and uptodate when this returns).
 * 0 when the slot is no longer in use ("skip read ahead for unused swap slot": a zap freed it after
 * the caller read the entry) or there is no memory. swapcache_prepare() cannot find the slot held
 * by a folio not yet in the cache: the lookup and the add are one step here.
 */
export function __readSwapCacheAsync(offset: number, out: ReadSwapOut): Pfn | 0 {
  out.allocated = false;
  const cached = swapCacheGetFolio(offset);
  if (cached) return cached;
  const k = current.k;
  const v = swapInfo().swapMap[offset];
  if ((v & ~SWAP_HAS_CACHE) === 0) return 0; // !swap_entry_swapped()
  if (v & SWAP_HAS_CACHE) throw new ModelBug(`swap slot ${offset} held by a folio the swap cache does not hold`);
  const folio = k.mem.allocPages(0, PT_ANON);
  if (folio < 0) return 0;
  k.mem.setFlags(folio, PG_swapbacked | PG_uptodate); // __folio_set_swapbacked(); swap_read_folio()
  swapInfo().swapMap[offset] = v | SWAP_HAS_CACHE; // swapcache_prepare()
  swapCacheAddFolio(folio, offset);
  out.allocated = true;
  return folio;
}

/** read_swap_cache_async(): __read_swap_cache_async() for a caller that needs no page_allocated. */
export function readSwapCacheAsync(offset: number): Pfn | 0 {
  return __readSwapCacheAsync(offset, new ReadSwapOut());
}

/** swap_duplicate(): one more swap PTE holds the slot (try_to_unmap_one() writing it). */
export function swapDuplicate(offset: number): void {
  const si = swapInfo();
  touchSlot(offset, true);
  const v = si.swapMap[offset];
  if (v === 0) throw new ModelBug(`swap_duplicate() of free slot ${offset}`);
  if ((v & ~SWAP_HAS_CACHE) >= SWAP_MAP_MAX) throw new ModelBug(`swap slot ${offset}: count continuation is not modelled`);
  si.swapMap[offset] = v + 1;
}

/** swap_entries_put_map() of one slot by `what`: the slot is freed when nothing holds it any more. */
function putSlot(si: SwapInfo, offset: number, drop: number, what: string): void {
  touchSlot(offset, true);
  const v = si.swapMap[offset];
  const count = v & ~SWAP_HAS_CACHE;
  if (drop === SWAP_HAS_CACHE ? !(v & SWAP_HAS_CACHE) : count === 0) {
    throw new ModelBug(`${what} of swap slot ${offset} that holds ${v.toString(16)} (bad swap entry)`);
  }
  const nv = v - drop;
  si.swapMap[offset] = nv;
  if (nv === 0) si.inusePages--; // swap_entries_free()
}

/** put_swap_folio(): the swap cache lets go of the folio's slot. */
export function putSwapFolio(offset: number): void {
  putSlot(swapInfo(), offset, SWAP_HAS_CACHE, 'put_swap_folio()');
}

/** swap_free_nr(): nr swap PTEs from `offset` no longer hold their slots (do_swap_page()). */
export function swapFreeNr(offset: number, nr: number): void {
  const si = swapInfo();
  for (let i = 0; i < nr; i++) putSlot(si, offset + i, 1, 'swap_free_nr()');
}

/**
 * free_swap_and_cache_nr() (mm/swapfile.c): zapped swap PTEs drop their slots
 * (swap_entries_put_map_nr()); then each slot left held only by the swap cache has its folio taken
 * out of the cache if its lock can be had (__try_to_reclaim_swap() with TTRS_UNMAPPED | TTRS_FULL:
 * folio_trylock(), the folio unmapped or vm_swap_full(), swap_only_has_cache(),
 * swap_cache_del_folio(), folio_set_dirty()). Called under the PTE lock. A folio whose lock another
 * path holds stays in the cache: that path frees it (see the head comment).
 */
export function* freeSwapAndCacheNr(offset: number, nr: number): KGen<void> {
  const si = swapInfo();
  for (let i = 0; i < nr; i++) putSlot(si, offset + i, 1, 'free_swap_and_cache_nr()');
  for (let i = 0; i < nr; i++) {
    touchSlot(offset + i, false);
    if (si.swapMap[offset + i] !== SWAP_HAS_CACHE) continue;
    yield* tryToReclaimSwap(offset + i);
  }
}

/** __try_to_reclaim_swap(si, offset, TTRS_UNMAPPED | TTRS_FULL) for an order-0 folio. */
function* tryToReclaimSwap(offset: number): KGen<void> {
  const si = swapInfo();
  const head = swapCacheGetFolio(offset);
  if (!head) return;
  if (yield* folioTrylock(head)) {
    // folio_matches_swap_entry(): it may have left the swap cache before we locked it.
    const needReclaim = folioSwapOffset(head) === offset && (!folioMappedSmall(head) || vmSwapFull());
    touchSlot(offset, false);
    if (needReclaim && si.swapMap[offset] === SWAP_HAS_CACHE) {
      // swap_only_has_cache(): no PTE holds the slot
      swapCacheDelFolio(head); // swap_cache_del_folio()
      current.k.mem.setFlags(head, PG_dirty); // folio_set_dirty()
    }
    yield* folioUnlock(head);
  }
  folioPutRefs(head, 1);
}

/** READ_ONCE(si->swap_map[offset]) & SWAP_HAS_CACHE: a folio holds the slot in the swap cache. */
export function swapHasCache(offset: number): boolean {
  touchSlot(offset, false);
  return (swapInfo().swapMap[offset] & SWAP_HAS_CACHE) !== 0;
}

/** __swap_count(): how many swap PTEs hold the slot. */
export function swapCount(offset: number): number {
  touchSlot(offset, false);
  return swapInfo().swapMap[offset] & ~SWAP_HAS_CACHE;
}

/**
 * swap_pte_batch() (mm/internal.h): how many swap PTEs from `ptep` (at most maxNr) hold
 * consecutive slots with the same swap PTE bits as `pte` (the swap cgroup is not modelled). The
 * caller holds the PTE lock.
 */
export function* swapPteBatch(ptep: number, maxNr: number, pte: Pte): KGen<number> {
  let expected = pteNextSwpOffset(pte);
  let n = 1;
  while (n < maxNr) {
    if ((yield* ptepGet(ptep + n)) !== expected) break;
    expected = pteNextSwpOffset(expected);
    n++;
  }
  return n;
}
