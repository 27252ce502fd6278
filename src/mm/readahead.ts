/**
 * Readahead of a regular file on a fault's page-cache miss (mm/filemap.c do_sync_mmap_readahead(),
 * mm/readahead.c page_cache_ra_order(), do_page_cache_ra(), page_cache_ra_unbounded(); 6.18).
 * A miss reads not one page but a window around it: ra_pages centred on the fault (mmap
 * read-around), from the VMA's start for an executable mapping, or two PMD-size folios for a
 * MADV_HUGEPAGE one. Each folio is added to the page cache as the I/O's target and is uptodate
 * here at once; in the kernel the I/O after the faulting page may still be in flight when the
 * fault returns (mincore() then counts only the pages read so far: docs/op-scripts.md, fadvise).
 *
 * Left out: the per-open readahead state (f_ra): mmap_miss, which turns read-around off after 100
 * more misses than hits, and the PG_readahead mark with the asynchronous readahead a later hit on
 * it starts (the mark falls past the end of files smaller than 6 MiB at this machine's window);
 * VM_RAND_READ and VM_SEQ_READ (no MADV_RANDOM / MADV_SEQUENTIAL in the model); and the fault lock
 * the kernel drops for the I/O (maybe_unlock_mmap_for_io(), then VM_FAULT_RETRY): the model reads
 * with it held and goes on with the fault.
 */
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SIZE } from './const.js';
import { current } from './current.js';
import { VM_EXEC, VM_HUGEPAGE, type AddressSpace, type VmFault } from './mm_types.js';
import { addFileFolio } from './page_cache.js';

/**
 * do_sync_mmap_readahead() for a miss at vmf.pgoff of a regular file. Returns whether it read, so
 * went through maybe_unlock_mmap_for_io(): with readahead off (ra_pages 0) it returns before it,
 * and the fault keeps its lock.
 */
export function doSyncMmapReadahead(vmf: VmFault): boolean {
  const mapping = vmf.vma.file!;
  const flags = vmf.vma.flags;
  if (flags & VM_HUGEPAGE) {
    // "Fetch two PMD folios, so we get the chance to actually readahead" (no VM_RAND_READ).
    pageCacheRaOrder(mapping, vmf.pgoff & ~(HPAGE_PMD_NR - 1), 2 * HPAGE_PMD_NR, HPAGE_PMD_ORDER);
    return true;
  }
  const raPages = current.k.cfg.readaheadKb / (PAGE_SIZE / 1024);
  if (!raPages) return false;
  if (flags & VM_EXEC) {
    // exec_folio_order() is 0 on x86; the window stays inside the VMA.
    const start = Math.max(vmf.pgoff, vmf.vma.pgoff);
    const end = Math.min(start + raPages, vmf.vma.pgoff + (vmf.vma.end - vmf.vma.start) / PAGE_SIZE);
    pageCacheRaOrder(mapping, start, end - start, 0);
    return true;
  }
  // mmap read-around
  pageCacheRaOrder(mapping, Math.max(0, vmf.pgoff - raPages / 2), raPages, 0);
  return true;
}

/**
 * page_cache_ra_order(): folios of `order` (smaller to align, or to stop at the end of the file)
 * over [start, start + size); the first index already cached ends it (filemap_add_folio():
 * -EEXIST), and do_page_cache_ra() reads the rest page by page around what is cached. A regular
 * file supports large folios (ext4 here).
 */
function pageCacheRaOrder(mapping: AddressSpace, start: number, size: number, order: number): void {
  const limit = Math.min(mapping.sizePages - 1, start + size - 1);
  const newOrder = Math.min(order, Math.floor(Math.log2(size)));
  let index = start;
  let err = false;
  while (index <= limit) {
    let o = newOrder;
    if (index & ((1 << o) - 1)) o = ctz(index); // align with smaller pages if needed
    while (o > 0 && index + (1 << o) - 1 > limit) o--; // don't allocate pages past EOF
    if (!raAllocFolio(mapping, index, o)) {
      err = true;
      break;
    }
    index += 1 << o;
  }
  if (err && size > index - start) doPageCacheRa(mapping, index, size - (index - start));
}

/** do_page_cache_ra() → page_cache_ra_unbounded(): order-0 folios into the holes of the range, up to the file's end. */
function doPageCacheRa(mapping: AddressSpace, index: number, nrToRead: number): void {
  const endIndex = mapping.sizePages - 1;
  if (mapping.sizePages === 0 || index > endIndex) return;
  const nr = Math.min(nrToRead, endIndex - index + 1);
  for (let i = index; i < index + nr; i++) {
    if (mapping.pages.load(i)) continue; // cached: read_pages() what is batched, skip the folio
    if (!raAllocFolio(mapping, i, 0)) return;
  }
}

/**
 * ra_alloc_folio(): a folio of `order` for [index, index + 2^order), read from the file (the
 * written data: uptodate, not zeros), into the page cache; false when it cannot be added (a
 * slot of the range is cached: -EEXIST) or allocated (-ENOMEM).
 */
function raAllocFolio(mapping: AddressSpace, index: number, order: number): boolean {
  for (let i = index; i < index + (1 << order); i++) if (mapping.pages.load(i)) return false;
  return addFileFolio(mapping, index, order);
}

/** __ffs(): the index of the lowest set bit (n > 0). */
function ctz(n: number): number {
  return 31 - Math.clz32(n & -n);
}
