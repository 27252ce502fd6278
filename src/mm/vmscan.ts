/**
 * Page reclaim (mm/vmscan.c), as far as page tables see it: shrink_folio_list() of isolated folios
 * up to try_to_unmap(), for one page-cache folio (the explorer's rmap walker) and for the folios
 * MADV_PAGEOUT isolates (reclaim_pages()). Modelled coarsely: reclaim has already decided to
 * reclaim the folio (ignore_references, as MADV_PAGEOUT asks; no folio_check_references()), unmaps
 * without TTU_BATCH_FLUSH, and writes an anonymous folio out at once: pageout() and the end of its
 * writeback are one step, after which __remove_mapping() takes the folio out of the swap cache and
 * it is freed. A page-cache folio is put back instead of written out and removed from the page
 * cache (its PTEs are gone either way, which is what page tables see).
 */
import { type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import type { Vma } from './mm_types.js';
import { PG_swapbacked, PT_ANON, PT_FILE, PT_SHMEM } from './page_alloc.js';
import { folioTrylock, folioUnlock, type KGen } from './primitives.js';
import { folioMapped, tryToUnmap } from './rmap.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { addToSwap, folioFreeSwap, folioSwapOffset, swapCacheDelFolio } from './swapfile.js';

/** Outcome of reclaiming one folio. */
export type ShrinkResult = 'unmapped' | 'still-mapped' | 'locked' | 'not-page-cache' | 'no-swap';

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
  if (mem.type[head] !== PT_FILE && mem.type[head] !== PT_SHMEM) return 'not-page-cache';
  folioRefAdd(head, 1); // folio_isolate_lru()
  return yield* shrinkIsolatedFolio(head, undefined);
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
    // Anonymous process memory has backing store? (A lazyfree folio needs none.)
    if (anon && mem.flags[head] & PG_swapbacked && !folioSwapOffset(head) && !addToSwap(head)) {
      result = 'no-swap'; // activate_locked_split: no swap space
    } else {
      if (folioMapped(head)) yield* tryToUnmap(head, anonAt);
      result = folioMapped(head) ? 'still-mapped' : 'unmapped';
      if (anon && folioSwapOffset(head)) {
        if (result === 'still-mapped') {
          // activate_locked: the model's swap cache holds no folio past reclaim (swapfile.ts).
          folioFreeSwap(head);
        } else if (mem.refcount[head] === 2) {
          // pageout() + writeback done; __remove_mapping(): the swap cache's and our references
          // only (a fault that found the folio in the swap cache holds one more: it stays there).
          swapCacheDelFolio(head);
        }
      }
    }
    yield* folioUnlock(head);
  }
  folioPutRefs(head, 1); // folio_putback_lru(), or the last reference: free_it
  return result;
}
