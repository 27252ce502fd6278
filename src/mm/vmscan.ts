/**
 * Page reclaim (mm/vmscan.c), only as far as its rmap walk: shrink_folio_list() of one isolated
 * page-cache folio up to try_to_unmap(). Modelled coarsely: reclaim has already decided to reclaim
 * this folio (no folio_check_references()), unmaps without TTU_BATCH_FLUSH, and then puts the folio
 * back instead of writing it out and removing it from the page cache.
 */
import { type Pfn } from './const.js';
import { current } from './current.js';
import { PT_FILE, PT_SHMEM } from './page_alloc.js';
import { folioTrylock, folioUnlock, type KGen } from './primitives.js';
import { folioMapped, tryToUnmap } from './rmap.js';
import { folioPutRefs, folioRefAdd } from './swap.js';

/** Outcome of reclaiming one folio. */
export type ShrinkResult = 'unmapped' | 'still-mapped' | 'locked' | 'not-page-cache';

/**
 * folio_isolate_lru() + shrink_folio_list() + folio_putback_lru() of one folio. Holds the
 * isolation reference and the folio lock across the walk: the lock is what keeps a fault from
 * mapping the folio again meanwhile (finish_fault() needs it, filemap_map_pages() only trylocks).
 */
export function* shrinkFolio(head: Pfn): KGen<ShrinkResult> {
  const mem = current.k.mem;
  if (mem.type[head] !== PT_FILE && mem.type[head] !== PT_SHMEM) return 'not-page-cache';
  folioRefAdd(head, 1); // folio_isolate_lru()
  let result: ShrinkResult = 'locked';
  if (yield* folioTrylock(head)) {
    if (folioMapped(head)) yield* tryToUnmap(head);
    result = folioMapped(head) ? 'still-mapped' : 'unmapped';
    yield* folioUnlock(head);
  }
  folioPutRefs(head, 1); // folio_putback_lru()
  return result;
}
