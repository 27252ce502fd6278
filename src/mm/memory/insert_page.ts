/**
 * Drivers lending kernel pages to a user mapping (mm/memory.c, Linux 6.18.2): vm_insert_pages()
 * and its helpers, as TCP zerocopy receive calls them (src/mm/tcp.ts; docs/audit.md #19), and
 * vm_insert_page(), as binder installs its buffer pages (src/mm/binder.ts; docs/audit.md #18).
 *
 * insert_pages() allocates the PTE table with pte_alloc() and maps it again with
 * pte_offset_map_lock() for each batch of 8 pages. It holds only what its caller holds: for TCP
 * the VMA's read lock, which a MADV_DONTNEED of the whole block holds too. A reclaim of the still
 * empty table between pte_alloc() and the map (or between two batches) makes pte_offset_map_lock()
 * find no table, and insert_pages() gives up with -EFAULT, where every sequential order maps the
 * pages (tcp_zerocopy_vs_dontneed). Config `insert_pages_retry=on` is the remedy the scenario
 * checks: walk and allocate again (`goto more`), as zap and the fault paths retry.
 *
 * vm_insert_page() maps one page under get_locked_pte(), which is pte_alloc_map_lock(): the same
 * window, and the same reclaim makes it -ENOMEM (VM_FAULT_OOM in a fault handler), where every
 * sequential order maps the page (binder_vs_dontneed). Config `get_locked_pte_retry=on` is the
 * remedy that scenario checks, as insert_pages_retry is for insert_pages().
 *
 * Left out: the mkwrite variant (vmf_insert_page_mkwrite(), DAX), and insert_pfn(): the model has
 * no driver that calls them.
 */
import { ModelBug } from '../bug.js';
import { EBUSY, EFAULT, EINVAL, ENOMEM, PAGE_SIZE, PTRS_PER_PTE, pteIndex, type Pfn, type Vaddr } from '../const.js';
import { current } from '../current.js';
import { isCowMapping, MM_FILEPAGES, VM_MAYWRITE, VM_MIXEDMAP, VM_WRITE, type MmStruct, type Vma } from '../mm_types.js';
import { PG_swapbacked, PT_ANON, PT_FREE, PT_PAGETABLE, PT_ZERO } from '../page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from '../pgtable_generic.js';
import { _PAGE_ACCESSED, _PAGE_SPECIAL, mkPte, pteNone } from '../pgtable_types.js';
import { ptepGet, setPte, type KGen } from '../primitives.js';
import { folioAddFileRmapPtes } from '../rmap.js';
import { addMmCounter, folioRefAdd, touchFolio } from '../swap.js';
import { pmdAlloc, pteAlloc, pudAlloc } from './pgalloc.js';
import { vmaPageProt } from '../internal.js';

/** walk_to_pmd(): the PMD slot for addr, allocating the upper tables; 0 when out of memory. */
function* walkToPmd(mm: MmStruct, addr: Vaddr): KGen<number> {
  const pudp = yield* pudAlloc(mm, addr); // p4d_alloc() folds into the PGD on 4-level x86
  if (!pudp) return 0;
  return yield* pmdAlloc(mm, pudp, addr);
}

/** vm_mixed_zeropage_allowed(): the shared zero page only where it can never be written. */
function vmMixedZeropageAllowed(vma: Vma): boolean {
  if (isCowMapping(vma.flags)) return true;
  // Mappings that do not allow for writable PTEs are unproblematic (no ->pfn_mkwrite here).
  return !(vma.flags & (VM_WRITE | VM_MAYWRITE));
}

/** validate_page_before_insert(): a referenced page that is neither anonymous nor typed. */
function validatePageBeforeInsert(vma: Vma, page: Pfn): number {
  const mem = current.k.mem;
  const head = mem.folioHead(page);
  touchFolio(head, false);
  if (!mem.refcount[head]) return -EINVAL;
  if (mem.type[head] === PT_ZERO) return vmMixedZeropageAllowed(vma) ? 0 : -EINVAL;
  // folio_test_anon() || page_has_type(): a page table is a typed page; a free frame has no reference.
  if (mem.type[head] === PT_ANON || mem.type[head] === PT_PAGETABLE || mem.type[head] === PT_FREE) return -EINVAL;
  return 0; // flush_dcache_folio(): nothing on x86
}

/**
 * insert_page_into_pte_locked() without mkwrite (no modelled caller passes it): a slot
 * that is not none is -EBUSY; else the page is mapped, referenced and charged to the mm's file
 * pages (mm_counter_file(): these pages are not swap-backed).
 */
function* insertPageIntoPteLocked(vma: Vma, pte: number, page: Pfn, prot: number): KGen<number> {
  const mem = current.k.mem;
  const head = mem.folioHead(page);
  if (!pteNone(yield* ptepGet(pte))) return -EBUSY;
  // Ok, finally just insert the thing..
  let pteval = mkPte(page, prot);
  if (mem.type[head] === PT_ZERO) {
    pteval = mkPte(page, prot | _PAGE_SPECIAL);
  } else {
    folioRefAdd(head, 1); // folio_get()
    if (mem.testFlags(head, PG_swapbacked)) throw new ModelBug('insert_page() of a swap-backed page: the model lends only driver pages');
    addMmCounter(vma.mm, MM_FILEPAGES, 1); // inc_mm_counter(mm, mm_counter_file(folio))
    folioAddFileRmapPtes(page, 1, vma.mm);
  }
  yield* setPte(pte, pteval); // set_pte_at()
  return 0;
}

/** insert_page_in_batch_locked(). */
function* insertPageInBatchLocked(vma: Vma, pte: number, page: Pfn, prot: number): KGen<number> {
  const err = validatePageBeforeInsert(vma, page);
  if (err) return err;
  return yield* insertPageIntoPteLocked(vma, pte, page, prot);
}

/**
 * __get_locked_pte(): the PTE slot for addr, mapped and locked (`out.ptl`), allocating every table
 * on the way; -1 when an allocation failed or pte_alloc_map_lock() found the table gone again.
 */
function* getLockedPte(mm: MmStruct, addr: Vaddr, out: PteMapOut): KGen<number> {
  for (;;) {
    const pmd = yield* walkToPmd(mm, addr);
    if (!pmd) return -1;
    // pte_alloc_map_lock(): pte_alloc(), then pte_offset_map_lock(), with nothing held in between.
    if (!(yield* pteAlloc(mm, pmd, addr))) return -1;
    const pte = yield* pteOffsetMapLock(mm, pmd, addr, out);
    // The remedy (config get_locked_pte_retry): the table went away since pte_alloc() (reclaim
    // of an empty table): walk and allocate it again.
    if (pte < 0 && current.k.cfg.getLockedPteRetry) continue;
    return pte;
  }
}

/** insert_page() without mkwrite: one page at addr, -ENOMEM when get_locked_pte() fails. */
function* insertPage(vma: Vma, addr: Vaddr, page: Pfn, prot: number): KGen<number> {
  let retval = validatePageBeforeInsert(vma, page);
  if (retval) return retval;
  retval = -ENOMEM;
  const out = new PteMapOut();
  const pte = yield* getLockedPte(vma.mm, addr, out);
  if (pte < 0) return retval;
  retval = yield* insertPageIntoPteLocked(vma, pte, page, prot);
  yield* pteUnmapUnlock(pte, out.ptl);
  return retval;
}

/**
 * vm_insert_page(): addr must lie inside the VMA (-EFAULT). As for vm_insert_pages(), the model's
 * callers map VM_MIXEDMAP VMAs (binder_mmap() sets the flag), so no mmap write lock is needed.
 */
export function* vmInsertPage(vma: Vma, addr: Vaddr, page: Pfn): KGen<number> {
  if (addr < vma.start || addr >= vma.end) return -EFAULT;
  if (!(vma.flags & VM_MIXEDMAP)) throw new ModelBug('vm_insert_page() on a VMA without VM_MIXEDMAP (the kernel would BUG without the mmap_lock for write)');
  return yield* insertPage(vma, addr, page, vmaPageProt(vma) | _PAGE_ACCESSED); // vma->vm_page_prot
}

/** What insert_pages() returns: the error (or 0), and `*num`, the pages it did not map. */
export interface InsertPagesResult {
  ret: number;
  remaining: number;
}

/**
 * insert_pages(): the pages from addr on, one PMD's worth at a time; under each PTE lock a batch
 * of at most 8. Stops at the first page that fails, leaving it and the rest unmapped.
 */
function* insertPages(vma: Vma, addr: Vaddr, pages: readonly Pfn[], prot: number): KGen<InsertPagesResult> {
  const mm = vma.mm;
  let currPageIdx = 0;
  let remainingPagesTotal = pages.length;
  let ret: number;
  more: for (;;) {
    ret = -EFAULT;
    const pmd = yield* walkToPmd(mm, addr);
    if (!pmd) break;
    let pagesToWriteInPmd = Math.min(remainingPagesTotal, PTRS_PER_PTE - pteIndex(addr));
    // Allocate the PTE if necessary; takes PMD lock once only.
    ret = -ENOMEM;
    if (!(yield* pteAlloc(mm, pmd, addr))) break;
    while (pagesToWriteInPmd) {
      const batchSize = Math.min(pagesToWriteInPmd, 8);
      const out = new PteMapOut();
      const startPte = yield* pteOffsetMapLock(mm, pmd, addr, out);
      if (startPte < 0) {
        // The remedy (config insert_pages_retry): the table went away since pte_alloc() (reclaim
        // of an empty table): walk and allocate it again.
        if (current.k.cfg.insertPagesRetry) continue more;
        ret = -EFAULT;
        break more;
      }
      for (let pteIdx = 0; pteIdx < batchSize; pteIdx++) {
        const err = yield* insertPageInBatchLocked(vma, startPte + pteIdx, pages[currPageIdx], prot);
        if (err) {
          yield* pteUnmapUnlock(startPte, out.ptl);
          ret = err;
          remainingPagesTotal -= pteIdx;
          break more;
        }
        addr += PAGE_SIZE;
        ++currPageIdx;
      }
      yield* pteUnmapUnlock(startPte, out.ptl);
      pagesToWriteInPmd -= batchSize;
      remainingPagesTotal -= batchSize;
    }
    if (remainingPagesTotal) continue;
    ret = 0;
    break;
  }
  return { ret, remaining: remainingPagesTotal };
}

/**
 * vm_insert_pages(): the range must lie inside the VMA (-EFAULT). The VMA is VM_MIXEDMAP already
 * (tcp_mmap() sets it so that no mmap_lock is needed here); the kernel sets the flag itself when
 * called under the mmap_lock for write, which no modelled caller does.
 */
export function* vmInsertPages(vma: Vma, addr: Vaddr, pages: readonly Pfn[]): KGen<InsertPagesResult> {
  const endAddr = addr + pages.length * PAGE_SIZE - 1;
  if (addr < vma.start || endAddr >= vma.end) return { ret: -EFAULT, remaining: pages.length };
  if (!(vma.flags & VM_MIXEDMAP)) throw new ModelBug('vm_insert_pages() on a VMA without VM_MIXEDMAP (the kernel would BUG without the mmap_lock for write)');
  // Defer page refcount checking till we're about to map that page.
  return yield* insertPages(vma, addr, pages, vmaPageProt(vma) | _PAGE_ACCESSED); // vma->vm_page_prot
}
