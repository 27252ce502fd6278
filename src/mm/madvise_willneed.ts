/**
 * MADV_WILLNEED (mm/madvise.c, 6.18: madvise_willneed() and its swap-in walk), apart from
 * madvise.ts for length. On anonymous memory it reads every swapped-out page of the range into the
 * swap cache and maps nothing: the PTEs stay swap entries (VmSwap and RSS do not change). The walk
 * drops the PTE lock before each read and maps the table again for the next entry, so a
 * MADV_DONTNEED may zap and reclaim the table in between: pte_offset_map_lock() then fails and the
 * walk ends the block (docs/audit.md #35).
 *
 * Not modelled: shmem's shmem_swapin_range() (the model never swaps shmem: nothing to read) and a
 * regular file's vfs_fadvise(POSIX_FADV_WILLNEED) readahead, which fills only the page cache
 * (nothing the model compares with the kernel shows it); both keep the kernel's lock drop.
 */
import { PAGE_SIZE, type Vaddr } from './const.js';
import type { MmStruct, Vma } from './mm_types.js';
import { walkPageRange, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { isSwapEntryPte, swpOffset } from './pgtable_types.js';
import { condResched, downRead, ptepGet, upRead, type KGen } from './primitives.js';
import { folioPutRefs } from './swap.js';
import { readSwapCacheAsync } from './swapfile.js';

/**
 * madvise_willneed() for the part [start, end) of one VMA, under the mmap_lock for read. Returns 0.
 * A file's fadvise runs with the mmap_lock dropped (mark_mmap_lock_dropped()): the caller's walk
 * then looks the VMA up again, as madvise_walk_vmas() does.
 */
export function* madviseWillneed(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  if (!vma.file) {
    // walk_page_range_vma(vma, start, end, &swapin_walk_ops, vma); lru_add_drain()
    yield* walkPageRange(mm, start, end, SWAPIN_WALK_OPS, null);
    return 0;
  }
  if (vma.isShmem()) return 0; // shmem_swapin_range(): no shmem page is swapped in the model
  // get_file(); mmap_read_unlock(); vfs_fadvise(POSIX_FADV_WILLNEED); fput(); mmap_read_lock()
  yield* upRead(mm.mmapLock);
  yield* downRead(mm.mmapLock);
  return 0;
}

/**
 * swapin_walk_pmd_entry(): for each swap entry of the block, drop the PTE lock, read the entry's
 * page into the swap cache (read_swap_cache_async(), with no I/O plug in the model) and put the
 * reference; map the table again for the next entry, and end the block when it is gone.
 */
function* swapinWalkPmdEntry(pmdp: number, start: Vaddr, end: Vaddr, walk: MmWalk<null>): KGen<number> {
  const out = new PteMapOut();
  let ptep = -1;
  let base = -1;
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    if (ptep < 0) {
      base = yield* pteOffsetMapLock(walk.mm, pmdp, addr, out);
      if (base < 0) break;
      ptep = base;
    } else ptep++;
    const pte = yield* ptepGet(ptep);
    // is_swap_pte() and not non_swap_entry(): markers, migration and hwpoison entries are skipped.
    if (!isSwapEntryPte(pte)) continue;
    yield* pteUnmapUnlock(base, out.ptl);
    ptep = -1;
    const folio = readSwapCacheAsync(swpOffset(pte));
    if (folio) folioPutRefs(folio, 1);
  }
  if (ptep >= 0) yield* pteUnmapUnlock(base, out.ptl);
  yield* condResched();
  return 0;
}

/** swapin_walk_ops: PGWALK_RDLOCK, ->pmd_entry only. */
const SWAPIN_WALK_OPS: MmWalkOps<null> = Object.freeze({ pmdEntry: swapinWalkPmdEntry, walkLock: 'rdlock' as const });
