/**
 * Page reclaim (mm/vmscan.c), as far as page tables see it: shrink_folio_list() of isolated folios
 * up to try_to_unmap(), for one page-cache folio (the explorer's rmap walker) and for the folios
 * MADV_PAGEOUT isolates (reclaim_pages()). Modelled coarsely: reclaim has already decided to
 * reclaim the folio (ignore_references, as MADV_PAGEOUT asks; no folio_check_references()), unmaps
 * without TTU_BATCH_FLUSH, and writes a dirty anonymous folio out at once: pageout() →
 * swap_writeout() (mm/page_io.c), whose writeback ends in the same step. As in the kernel, whose
 * writeback is asynchronous (PAGE_SUCCESS with the folio under writeback: `keep`), the written folio
 * stays in the swap cache, clean, held by the cache alone once the isolation reference is dropped
 * (swapfile.ts); a clean one already in the swap cache is freed (__remove_mapping()). A page-cache
 * folio is put back instead of written out and removed from the page cache (its PTEs are gone
 * either way, which is what page tables see).
 */
import { EAGAIN, EBUSY, HPAGE_PMD_ORDER, type Pfn, type Vaddr } from './const.js';
import { splitAnonFolioAt, tryToUnmapSplitHugePmd } from './huge_memory.js';
import { current } from './current.js';
import type { Vma } from './mm_types.js';
import { PG_dirty, PG_has_data, PG_isolated, PG_swapbacked, PT_ANON, PT_FILE, PT_SHMEM } from './page_alloc.js';
import { folioTrylock, folioUnlock, type KGen } from './primitives.js';
import { folioMapped, folioReferenced, tryToUnmap } from './rmap.js';
import { folioPutRefs, touchFolio } from './swap.js';
import { addToSwap, folioFreeSwap, folioSwapOffset, swapCacheDelFolio, swapCount } from './swapfile.js';

/** Outcome of reclaiming one folio. */
export type ShrinkResult = 'unmapped' | 'still-mapped' | 'locked' | 'not-page-cache' | 'no-swap' | 'isolated';

/**
 * folio_isolate_lru() (mm/vmscan.c, 6.18): take the folio off the LRU, with a reference, unless
 * another path holds it isolated already (reclaim, compaction, a file collapse): then false. The
 * caller holds a reference. One step: the kernel tests and clears PG_lru atomically.
 */
export function folioIsolateLru(head: Pfn): boolean {
  const mem = current.k.mem;
  touchFolio(head, true);
  if (mem.testFlags(head, PG_isolated)) return false; // folio_test_clear_lru()
  mem.setFlags(head, PG_isolated);
  mem.refcount[head]++; // folio_get()
  return true;
}

/** folio_putback_lru() (mm/vmscan.c, 6.18): back on the LRU (folio_add_lru()), and drop the isolation reference. */
export function folioPutbackLru(head: Pfn): void {
  touchFolio(head, true);
  current.k.mem.clearFlags(head, PG_isolated);
  folioPutRefs(head, 1);
}

/** A folio MADV_PAGEOUT isolated, with where it found it (its anon rmap walk; see rmap.ts). */
export interface IsolatedFolio {
  readonly head: Pfn;
  readonly vma: Vma;
  readonly address: Vaddr;
}

/**
 * folio_isolate_lru() + shrink_folio_list() + folio_putback_lru() of one page-cache folio. Holds the
 * isolation reference and the folio lock across the walk: the lock is what keeps a fault from
 * mapping the folio again meanwhile (finish_fault() needs it, filemap_map_pages() only trylocks).
 */
export function* shrinkFolio(head: Pfn): KGen<ShrinkResult> {
  const mem = current.k.mem;
  touchFolio(head, false);
  if (mem.type[head] !== PT_FILE && mem.type[head] !== PT_SHMEM) return 'not-page-cache';
  if (!folioIsolateLru(head)) return 'isolated';
  return yield* shrinkIsolatedFolio(head, undefined);
}

/**
 * Page reclaim's reference check of one folio it met on the LRU (mm/vmscan.c, 6.18):
 * folio_isolate_lru(), shrink_folio_list()'s folio_trylock() and folio_check_references()'s
 * folio_referenced(folio, 1, ...), then folio_unlock() and folio_putback_lru(): the rmap walk that
 * clears young bits, without acting on its verdict. `anonAt` stands for an anonymous folio's
 * anon_vma walk (rmap.ts). Result: the VMAs that referenced it, -1 when i_mmap_rwsem was contended,
 * -EBUSY when another path holds it isolated, -EAGAIN when its lock was taken (reclaim keeps it).
 */
export function* folioCheckReferences(head: Pfn, anonAt?: IsolatedFolio): KGen<number> {
  if (!folioIsolateLru(head)) return -EBUSY;
  let r = -EAGAIN;
  if (yield* folioTrylock(head)) {
    r = (yield* folioReferenced(head, true, anonAt)).referenced;
    yield* folioUnlock(head);
  }
  folioPutbackLru(head);
  return r;
}

/**
 * reclaim_pages() → reclaim_folio_list() → shrink_folio_list() of the folios MADV_PAGEOUT isolated
 * (each holding the isolation reference the walk took). Returns how many were unmapped.
 */
export function* reclaimPages(list: readonly IsolatedFolio[]): KGen<number> {
  let unmapped = 0;
  for (const f of list) if ((yield* shrinkIsolatedFolio(f.head, f)) === 'unmapped') unmapped++;
  return unmapped;
}

/**
 * shrink_folio_list() for one isolated folio, then folio_putback_lru() or the free: the isolation
 * reference is dropped at the end, which frees a folio nothing else holds.
 */
function* shrinkIsolatedFolio(head: Pfn, anonAt: IsolatedFolio | undefined): KGen<ShrinkResult> {
  const mem = current.k.mem;
  let result: ShrinkResult = 'locked';
  if (yield* folioTrylock(head)) {
    touchFolio(head, false);
    const anon = mem.type[head] === PT_ANON;
    let locked = true;
    // Anonymous process memory has backing store? (A lazyfree folio needs none.)
    const needsSwap = anon && mem.testFlags(head, PG_swapbacked) && !folioSwapOffset(head);
    if (needsSwap && mem.folioNr(head) > 1 && anonAt) {
      // folio_alloc_swap() of a THP: only tried here without a swap area (madvise.ts
      // madviseColdOrPageoutHugePmd()), so it fails. "Fallback to swap normal pages":
      // split_folio_to_list(); then the first page's folio_alloc_swap() fails as well
      // (activate_locked_split), as would that of each page the split put on the list.
      yield* splitAnonFolioAt(anonAt.vma, anonAt.address, head);
    }
    if (needsSwap && !addToSwap(head)) {
      result = 'no-swap'; // activate_locked_split: no swap space
    } else {
      if (folioMapped(head)) {
        // TTU_SPLIT_HUGE_PMD for a PMD-mappable folio (folio_test_pmd_mappable()): only page-cache
        // ones get here whole (madvise.ts madviseColdOrPageoutHugePmd()).
        if (!anon && mem.order[head] >= HPAGE_PMD_ORDER) yield* tryToUnmapSplitHugePmd(head, 0);
        else yield* tryToUnmap(head, anonAt);
      }
      result = folioMapped(head) ? 'still-mapped' : 'unmapped';
      if (anon && folioSwapOffset(head)) {
        if (result === 'still-mapped') {
          // activate_locked: "Not a candidate for swapping, so reclaim swap space" when the folio
          // is mlocked or swap is full; coarsely always here: the model's still-mapped cases are a
          // VM_LOCKED mapping (try_to_unmap_one() mlocks the folio) and a folio UFFDIO_MOVE took
          // out of the VMA the walk looks at (rmap.ts).
          folioFreeSwap(head);
        } else if (mem.testFlags(head, PG_dirty)) {
          locked = yield* pageoutAnon(head);
        } else {
          removeSwapMapping(head);
        }
      }
    }
    if (locked) yield* folioUnlock(head);
    // The kernel leaves an unmapped folio whose slot a zap freed while we held its lock (its
    // folio_trylock() failed) to a later reclaim pass; the model has none and frees it now.
    if (anon && result === 'unmapped' && folioSwapOffset(head) && swapCount(folioSwapOffset(head)) === 0) {
      if (yield* folioTrylock(head)) {
        if (!folioMapped(head)) folioFreeSwap(head);
        yield* folioUnlock(head);
      }
    }
  }
  folioPutbackLru(head); // or, for the last reference, free_it
  return result;
}

/**
 * __remove_mapping() of a clean anonymous folio in the swap cache: it leaves the cache unless
 * someone holds a reference besides the swap cache and our isolation (folio_ref_freeze(folio,
 * 1 + nr_pages)), e.g. a fault that found it there; then keep_locked.
 */
function removeSwapMapping(head: Pfn): void {
  touchFolio(head, false);
  if (current.k.mem.refcount[head] === 2) swapCacheDelFolio(head); // __swap_cache_del_folio(), put_swap_folio()
}

/**
 * pageout() → writeout() → swap_writeout() (mm/page_io.c) of an unmapped dirty anonymous folio in
 * the swap cache, and what shrink_folio_list() does with its PAGE_SUCCESS. Returns whether the
 * folio is still locked (false: swap_writeout() unlocked it).
 */
function* pageoutAnon(head: Pfn): KGen<boolean> {
  const mem = current.k.mem;
  mem.clearFlags(head, PG_dirty); // folio_clear_dirty_for_io()
  // swap_writeout(): a folio no swap PTE holds any more (a zap freed its slot meanwhile) gives up
  // its swap instead (folio_free_swap(), which dirties it), then out_unlock; PAGE_SUCCESS, not
  // under writeback but dirty: keep, and the isolation reference is the last.
  if (folioFreeSwap(head)) {
    yield* folioUnlock(head);
    return false;
  }
  // is_folio_zero_filled(): swap_zeromap_folio_set() and no I/O; the folio is clean and not under
  // writeback, so reclaim frees it at once (folio_trylock(), __remove_mapping()).
  if (!mem.testFlags(head, PG_has_data)) {
    yield* folioUnlock(head);
    if (!(yield* folioTrylock(head))) return false; // keep
    if (mem.testFlags(head, PG_dirty)) return true; // keep_locked
    removeSwapMapping(head);
    return true;
  }
  // __swap_writepage(): the folio under writeback, unlocked; writeback ends at once in the model.
  // Under writeback: keep. The folio stays in the swap cache, clean.
  yield* folioUnlock(head);
  return false;
}
