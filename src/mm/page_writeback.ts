/**
 * Writeback's part that walks page tables (mm/page-writeback.c, 6.18): before a dirty page-cache
 * folio is written, folio_clear_dirty_for_io() write-protects and cleans every shared PTE that
 * maps it (folio_mkclean(), an rmap walk under i_mmap_rwsem with no mm lock), so that a write
 * after the I/O started faults and dirties the folio again. The I/O itself is not modelled.
 */
import { EINVAL, type Pfn } from './const.js';
import { current } from './current.js';
import { PG_dirty, PT_FILE } from './page_alloc.js';
import { folioLock, folioUnlock, type KGen } from './primitives.js';
import { folioMkclean } from './rmap.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';

/**
 * folio_clear_dirty_for_io() of a locked folio of a mapping that can write back: the dirty bits of
 * its PTEs move to the folio (folio_mkclean(), then folio_mark_dirty() if it cleaned any), and the
 * folio's dirty bit is cleared for the I/O. True when the folio was dirty (it is to be written).
 */
export function* folioClearDirtyForIo(head: Pfn): KGen<boolean> {
  const mem = current.k.mem;
  if (yield* folioMkclean(head)) mem.setFlags(head, PG_dirty); // folio_mark_dirty()
  touchFolio(head, true);
  const dirty = mem.testFlags(head, PG_dirty) !== 0; // folio_test_clear_dirty()
  mem.clearFlags(head, PG_dirty);
  return dirty;
}

/**
 * writeback_iter()'s steps for one folio of the file it is found in (mm/page-writeback.c): the
 * lookup in the mapping (writeback_get_folio()), folio_lock(), skip
 * a folio truncated meanwhile (folio->mapping changed), folio_clear_dirty_for_io(), and the unlock
 * that the I/O's submission would do. Result: 1 when the folio was dirty and would be written, 0
 * when it was clean or truncated, -EINVAL for a folio of a mapping that cannot write back (shmem,
 * anonymous memory).
 */
export function* writebackFolio(head: Pfn): KGen<number> {
  const mem = current.k.mem;
  touchFolio(head, false);
  if (mem.type[head] !== PT_FILE) return -EINVAL;
  const mappingId = mem.mapping[head];
  folioRefAdd(head, 1); // the batch's reference (filemap_get_folios_tag())
  yield* folioLock(head);
  let written = 0;
  if (mem.mapping[head] === mappingId && (yield* folioClearDirtyForIo(head))) written = 1;
  yield* folioUnlock(head);
  folioPutRefs(head, 1); // folio_batch_release()
  return written;
}
