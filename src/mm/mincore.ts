/**
 * mincore(2) (mm/mincore.c, Linux 6.18): which pages of a range are resident, one byte per page.
 * A page-table walker under the mmap_lock for read (docs/audit.md #37): walk_page_range() with
 * mincore_walk_ops, whose pmd_entry maps the PTE table with pte_offset_map_lock(). That call's
 * pmd_same() recheck is what makes it safe against a table reclaimed by a concurrent MADV_DONTNEED
 * (which holds only the mmap_lock for read, or the VMA lock): no table any more is ACTION_AGAIN,
 * and walk_pmd_range() reads the PMD again, now none: a hole (mincore_unmapped_range()).
 *
 * It stands for the walkers that only read entries under pte_offset_map_lock() (docs/audit.md
 * lists which). Not modelled: hugetlb (mincore_hugetlb()), the VMAs whose file the caller may not
 * write (can_do_mincore(): every modelled file is the caller's own), pte_batch_hint() (1 on x86).
 */
import { current } from './current.js';
import { addrEnd, EINVAL, ENOMEM, PAGE_SIZE, PMD_SIZE, TASK_SIZE, type Pfn, type Vaddr } from './const.js';
import { pmdTransHugeLock } from './huge_memory.js';
import { mmFindPmd } from './memory/pgalloc.js';
import { linearPageIndex, VM_PFNMAP, type AddressSpace, type MmStruct, type Vma } from './mm_types.js';
import { PG_uptodate } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { isPteMarker, isSwapEntryPte, pmdNone, pteNone, ptePresent, swpOffset } from './pgtable_types.js';
import { condResched, downRead, ptepGet, spinUnlock, upRead, type KGen } from './primitives.js';
import { swapCacheGetFolio } from './swapfile.js';
import { folioPutRefs } from './swap.js';
import { touchMapping } from './filemap.js';
import { vmaLookup } from './vma_tree.js';

/**
 * sys_mincore(): 0, or -EINVAL (start not page-aligned), -ENOMEM (a range outside user space, or
 * a page of it not mapped). `vec` receives one 0/1 per page, as far as the call got. The kernel
 * loops over at most PAGE_SIZE pages per mmap_lock hold (its bounce buffer).
 */
export function* sysMincore(mm: MmStruct, start: Vaddr, len: number, vec: number[]): KGen<number> {
  if (start % PAGE_SIZE) return -EINVAL;
  if (start > TASK_SIZE || len > TASK_SIZE - start) return -ENOMEM; // access_ok()
  let pages = Math.ceil(len / PAGE_SIZE);
  let retval = 0;
  while (pages) {
    yield* downRead(mm.mmapLock);
    retval = yield* doMincore(mm, start, Math.min(pages, PAGE_SIZE), vec);
    yield* upRead(mm.mmapLock);
    if (retval <= 0) break;
    pages -= retval;
    start += retval * PAGE_SIZE;
    retval = 0;
  }
  return retval;
}

/** do_mincore(): the pages it covered (up to the VMA's end), or -ENOMEM for an unmapped start. */
function* doMincore(mm: MmStruct, addr: Vaddr, pages: number, vec: number[]): KGen<number> {
  const vma = vmaLookup(mm, addr);
  if (!vma) return -ENOMEM;
  const end = Math.min(vma.end, addr + pages * PAGE_SIZE);
  // walk_page_range() over [addr, end), inside this one VMA; walk_page_test() hands a VM_PFNMAP
  // VMA to ->pte_hole() whole instead of walking it.
  if (vma.flags & VM_PFNMAP) mincoreUnmappedRange(vma, addr, end, vec);
  else yield* mincoreWalkPmdRange(vma, addr, end, vec);
  return (end - addr) / PAGE_SIZE;
}

/**
 * walk_pmd_range() with mincore_walk_ops (pmd_entry: mincore_pte_range(), pte_hole:
 * mincore_unmapped_range()); an absent upper level is a hole too (walk_pud_range()).
 */
function* mincoreWalkPmdRange(vma: Vma, start: Vaddr, end: Vaddr, vec: number[]): KGen<void> {
  for (let addr = start; addr < end; ) {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = yield* mmFindPmd(vma.mm, addr);
    if (!pmdp || pmdNone(yield* ptepGet(pmdp))) {
      mincoreUnmappedRange(vma, addr, next, vec);
      addr = next;
      continue;
    }
    // ACTION_AGAIN: the table went away under us; read this PMD again.
    if (yield* mincorePteRange(vma, pmdp, addr, next, vec)) continue;
    addr = next;
  }
}

/** mincore_pte_range(): true for ACTION_AGAIN (pte_offset_map_lock() found no table). */
function* mincorePteRange(vma: Vma, pmdp: number, addr: Vaddr, end: Vaddr, vec: number[]): KGen<boolean> {
  const ptl = yield* pmdTransHugeLock(vma, pmdp);
  if (ptl !== null) {
    for (let a = addr; a < end; a += PAGE_SIZE) vec.push(1);
    yield* spinUnlock(ptl);
    yield* condResched();
    return false;
  }
  const out = new PteMapOut();
  const ptep = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (ptep < 0) return true;
  for (let p = ptep, a = addr; a < end; p++, a += PAGE_SIZE) {
    const pte = yield* ptepGet(p);
    // We need to do cache lookup too for pte markers (pte_none_mostly()).
    if (pteNone(pte) || isPteMarker(pte)) vec.push(mincoreUnmappedPage(vma, a));
    else if (ptePresent(pte)) vec.push(1);
    else vec.push(isSwapEntryPte(pte) ? mincoreSwap(swpOffset(pte)) : 1); // non_swap_entry(): 1
  }
  yield* pteUnmapUnlock(ptep, out.ptl);
  yield* condResched();
  return false;
}

/** mincore_unmapped_range() / __mincore_unmapped_range(): the page cache of a file VMA, else 0. */
function mincoreUnmappedRange(vma: Vma, addr: Vaddr, end: Vaddr, vec: number[]): void {
  for (let a = addr; a < end; a += PAGE_SIZE) vec.push(mincoreUnmappedPage(vma, a));
}

function mincoreUnmappedPage(vma: Vma, addr: Vaddr): number {
  return vma.file ? mincorePage(vma.file, linearPageIndex(vma, addr)) : 0;
}

/**
 * mincore_page(): whether the page cache holds an uptodate folio at index (filemap_get_entry()).
 * A regular file's pages past its first lookup are as the runner wrote them, in the page cache
 * (filemap.ts, pageCacheLookup(): the model fills them lazily, so an untouched index counts).
 */
function mincorePage(mapping: AddressSpace, index: number): number {
  touchMapping(mapping, false);
  if (mapping.kind === 'file' && index < mapping.sizePages && !mapping.pages.touched(index)) return 1;
  const pfn = mapping.pages.load(index) as Pfn;
  const mem = current.k.mem;
  return pfn && mem.flags[mem.folioHead(pfn)] & PG_uptodate ? 1 : 0; // folio_test_uptodate()
}

/** mincore_swap() for a PTE's swap entry: 1 when the swap cache holds an uptodate folio for it. */
function mincoreSwap(offset: number): number {
  const folio = swapCacheGetFolio(offset);
  if (!folio) return 0;
  const mem = current.k.mem;
  const present = mem.flags[mem.folioHead(folio)] & PG_uptodate ? 1 : 0;
  folioPutRefs(folio, 1);
  return present;
}
