/**
 * move_pages(2) with no target nodes (mm/migrate.c, 6.18: kernel_move_pages() → do_pages_stat()):
 * it only reports the node of the page at each address, walking the page tables with
 * folio_walk_start() under the mmap_lock for read. The walk maps each PTE table with
 * pte_offset_map_lock(), so a MADV_DONTNEED that reclaims the table between the lockless PMD read
 * and the lock is seen as "nothing mapped" (docs/audit.md #29). The model has one node: a mapped
 * page's status is 0.
 */
import { EFAULT, ENOENT, type Vaddr } from './const.js';
import type { MmStruct } from './mm_types.js';
import { folioWalkEnd, folioWalkStart, FW_ZEROPAGE } from './pagewalk.js';
import { downRead, upRead, type KGen } from './primitives.js';
import { vmaLookup } from './vma_tree.js';

/** Pages a do_pages_stat() pass handles under one mmap_lock hold (DO_PAGES_STAT_CHUNK_NR). */
const DO_PAGES_STAT_CHUNK_NR = 16;

/**
 * do_pages_stat_array(): each address's status, the node of its page, -EFAULT outside every VMA
 * or for the zero page, -ENOENT where nothing is mapped.
 */
function* doPagesStatArray(mm: MmStruct, pages: readonly Vaddr[]): KGen<number[]> {
  const status: number[] = [];
  yield* downRead(mm.mmapLock); // mmap_read_lock()
  for (const addr of pages) {
    let err = -EFAULT;
    const vma = vmaLookup(mm, addr);
    if (vma) {
      const fw = yield* folioWalkStart(vma, addr, FW_ZEROPAGE);
      if (fw) {
        err = fw.exposed ? 0 : -EFAULT; // folio_nid(): one node; is_zero_folio(): -EFAULT
        yield* folioWalkEnd(fw);
      } else {
        err = -ENOENT;
      }
    }
    status.push(err);
  }
  yield* upRead(mm.mmapLock);
  return status;
}

/** do_pages_stat(): the statuses of `pages`, in chunks of DO_PAGES_STAT_CHUNK_NR. */
export function* doPagesStat(mm: MmStruct, pages: readonly Vaddr[]): KGen<number[]> {
  const status: number[] = [];
  for (let i = 0; i < pages.length; i += DO_PAGES_STAT_CHUNK_NR) status.push(...(yield* doPagesStatArray(mm, pages.slice(i, i + DO_PAGES_STAT_CHUNK_NR))));
  return status;
}
