/**
 * mincore(2) (mm/mincore.c, Linux 6.18): which pages of a range are resident, one byte per page.
 * A page-table walker under the mmap_lock for read (docs/audit.md #37): walk_page_range() with
 * mincore_walk_ops, whose pmd_entry maps the PTE table with pte_offset_map_lock(). That call's
 * pmd_same() recheck is what makes it safe against a table reclaimed by a concurrent MADV_DONTNEED
 * (which holds only the mmap_lock for read, or the VMA lock): no table any more is ACTION_AGAIN,
 * and walk_pmd_range() reads the PMD again, now none: a hole (mincore_unmapped_range()).
 *
 * The walk is pagewalk.ts's, as pagemap's (task_mmu.ts), which stands for the other walkers of
 * this shape (docs/audit.md lists them). Not modelled: hugetlb (mincore_hugetlb()), the VMAs whose file the caller may not
 * write (can_do_mincore(): every modelled file is the caller's own), pte_batch_hint() (1 on x86).
 */
import { current } from './current.js';
import { EINVAL, ENOMEM, PAGE_SIZE, TASK_SIZE, type Pfn, type Vaddr } from './const.js';
import { pmdTransHugeLock } from './huge_memory.js';
import { linearPageIndex, type AddressSpace, type MmStruct, type Vma } from './mm_types.js';
import { ACTION_AGAIN, walkPageRange, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { PG_uptodate } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { isPteMarker, isSwapEntryPte, pteNone, ptePresent, swpOffset } from './pgtable_types.js';
import { condResched, downRead, ptepGet, spinUnlock, upRead, type KGen } from './primitives.js';
import { swapCacheGetFolio } from './swapfile.js';
import { folioPutRefs } from './swap.js';
import { touchMapping } from './page_cache.js';
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
  const err = yield* walkPageRange(vma.mm, addr, end, MINCORE_WALK_OPS, vec);
  if (err < 0) return err;
  return (end - addr) / PAGE_SIZE;
}

/** mincore_pte_range(): a huge PMD is resident whole; else the entries under the PTE lock. */
function* mincorePteRange(pmdp: number, addr: Vaddr, end: Vaddr, walk: MmWalk<number[]>): KGen<number> {
  const vma = walk.vma!;
  const vec = walk.priv;
  const ptl = yield* pmdTransHugeLock(vma, pmdp);
  if (ptl !== null) {
    for (let a = addr; a < end; a += PAGE_SIZE) vec.push(1);
    yield* spinUnlock(ptl);
    yield* condResched(); // goto out
    return 0;
  }
  const out = new PteMapOut();
  const ptep = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (ptep < 0) {
    walk.action = ACTION_AGAIN;
    return 0;
  }
  for (let p = ptep, a = addr; a < end; p++, a += PAGE_SIZE) {
    const pte = yield* ptepGet(p);
    // We need to do cache lookup too for pte markers (pte_none_mostly()).
    if (pteNone(pte) || isPteMarker(pte)) vec.push(mincoreUnmappedPage(vma, a));
    else if (ptePresent(pte)) vec.push(1);
    else vec.push(isSwapEntryPte(pte) ? mincoreSwap(swpOffset(pte)) : 1); // non_swap_entry(): 1
  }
  yield* pteUnmapUnlock(ptep, out.ptl);
  yield* condResched();
  return 0;
}

/**
 * mincore_unmapped_range(): a hole in the tables is the page cache's answer (a file VMA), else 0;
 * its walk_page_test() counterpart for a VM_PFNMAP VMA likewise.
 */
function mincoreUnmappedRange(addr: Vaddr, end: Vaddr, _depth: number, walk: MmWalk<number[]>): number {
  for (let a = addr; a < end; a += PAGE_SIZE) walk.priv.push(walk.vma ? mincoreUnmappedPage(walk.vma, a) : 0);
  return 0;
}

const MINCORE_WALK_OPS: MmWalkOps<number[]> = Object.freeze({ pmdEntry: mincorePteRange, pteHole: mincoreUnmappedRange, walkLock: 'rdlock' });

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
  return pfn && mem.testFlags(mem.folioHead(pfn), PG_uptodate) ? 1 : 0; // folio_test_uptodate()
}

/** mincore_swap() for a PTE's swap entry: 1 when the swap cache holds an uptodate folio for it. */
function mincoreSwap(offset: number): number {
  const folio = swapCacheGetFolio(offset);
  if (!folio) return 0;
  const mem = current.k.mem;
  const present = mem.testFlags(mem.folioHead(folio), PG_uptodate) ? 1 : 0;
  folioPutRefs(folio, 1);
  return present;
}
