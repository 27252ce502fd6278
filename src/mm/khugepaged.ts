/**
 * Collapsing into PMD-size THPs (mm/khugepaged.c), as reached from MADV_COLLAPSE:
 * madvise_collapse(), hpage_collapse_scan_file(), collapse_file(), retract_page_tables() (with the
 * series' PMD-state recheck: docs/kernel-rules.md, "Lockless access", rule 4), collapse_pte_mapped_thp(), and the anonymous
 * hpage_collapse_scan_pmd() / collapse_huge_page(). Outcomes are SCAN_* reasons, as in the kernel.
 *
 * Modelled coarsely (docs/model.md): no khugepaged thread (MADV_COLLAPSE drives the same code),
 * no mmu notifiers, no LRU isolation of anonymous folios (__collapse_huge_page_isolate()'s; a
 * shmem collapse isolates its folios, as compaction and reclaim do: vmscan.ts); regular-file
 * collapse (READ_ONLY_THP_FOR_FS) is not modelled.
 */
import {
  EAGAIN,
  EBUSY,
  EINVAL,
  ENOMEM,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  HPAGE_PMD_SIZE,
  PAGE_SIZE,
  PMD_SIZE,
  alignDown,
  alignUp,
  type Pfn,
  type Vaddr,
} from './const.js';
import { Violation } from './bug.js';
import { guardOn } from './config.js';
import { current } from './current.js';
import { doSetPmd, pageCacheLookup } from './filemap.js';
import { filemapAddFolio, touchMapping } from './page_cache.js';
import { pmdAlloc, pudAlloc } from './memory/pgalloc.js';
import { doSwapPage } from './memory/fault.js';
import { vmaStartWrite, mmapWriteUnlock } from './mmap_lock.js';
import {
  FAULT_FLAG_ALLOW_RETRY,
  MM_ANONPAGES,
  VM_FAULT_ERROR,
  VM_FAULT_RETRY,
  VM_UFFD_MISSING,
  VM_UFFD_WP,
  VM_WRITE,
  VmFault,
  type AddressSpace,
  type MmStruct,
  type Vma,
} from './mm_types.js';
import { PG_has_data, PG_isolated, PG_uptodate, PG_swapbacked, PT_ANON, PT_SHMEM } from './page_alloc.js';
import {
  PteMapOut,
  pgtableTransHugeDeposit,
  pmdpCollapseFlush,
  pteFreeDefer,
  pteOffsetMapLock,
  pteOffsetMapRoNolock,
  pteOffsetMapRwNolock,
  pteUnmap,
  pteUnmapUnlock,
} from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_USER,
  isPmdMigrationEntry,
  isSwapEntryPte,
  isSwapPte,
  mkHugePmd,
  pmdIsTable,
  pmdNone,
  pmdTransHuge,
  ptePfn,
  ptePresent,
  pteSpecial,
  pteUffdWp,
  type Pmd,
} from './pgtable_types.js';
import {
  downRead,
  downWrite,
  flushTlbMmRange,
  folioLock,
  folioTrylock,
  folioUnlock,
  ptepGet,
  ptepGetAndClear,
  pteScanNoSwap,
  setPte,
  spinLock,
  spinUnlock,
  tlbRemoveTableSyncOne,
  upRead,
  type KGen,
} from './primitives.js';
import { pmdLockptr, pteLockptr } from './ptlock.js';
import { folioAddNewAnonRmapPmd, folioRemoveRmapPtes } from './rmap.js';
import { addMmCounter, folioPutRefs, folioRefAdd, mmCounter, touchFolio } from './swap.js';
import { folioIsolateLru, folioPutbackLru } from './vmscan.js';
import { folioSwapOffset, freeSwapCache } from './swapfile.js';
import { vmaLookup } from './vma_tree.js';
import { entryPtr, T_LINKED } from './pgtable.js';
import { shmemAllowsHuge } from './shmem.js';
import { userfaultfdArmed, vmaThpDisabled, thpVmaSuitablePmd } from './internal.js';
import { mmDecNrPtes, mmFindPmd, tableOf } from './pgtable_mm.js';

export type ScanResult =
  | 'SCAN_FAIL'
  | 'SCAN_SUCCEED'
  | 'SCAN_PMD_NULL'
  | 'SCAN_PMD_NONE'
  | 'SCAN_PMD_MAPPED'
  | 'SCAN_EXCEED_NONE_PTE'
  | 'SCAN_PTE_NON_PRESENT'
  | 'SCAN_PTE_UFFD_WP'
  | 'SCAN_PTE_MAPPED_HUGEPAGE'
  | 'SCAN_PAGE_NULL'
  | 'SCAN_PAGE_ANON'
  | 'SCAN_PAGE_LOCK'
  | 'SCAN_PAGE_COUNT'
  | 'SCAN_PAGE_LRU'
  | 'SCAN_DEL_PAGE_LRU'
  | 'SCAN_PAGE_COMPOUND'
  | 'SCAN_VMA_NULL'
  | 'SCAN_VMA_CHECK'
  | 'SCAN_ADDRESS_RANGE'
  | 'SCAN_ALLOC_HUGE_PAGE_FAIL'
  | 'SCAN_TRUNCATED'
  | 'SCAN_PAGE_FILLED';

/** check_pmd_state() (added by patch 01): what a PMD slot holds, as a scan result. */
export function* checkPmdState(pmdp: number): KGen<ScanResult> {
  const pmde = yield* ptepGet(pmdp);
  if (pmdNone(pmde)) return 'SCAN_PMD_NONE';
  if (isPmdMigrationEntry(pmde)) return 'SCAN_PMD_NULL';
  if (pmdTransHuge(pmde)) return 'SCAN_PMD_MAPPED';
  if (!pmdIsTable(pmde)) return 'SCAN_PMD_NULL';
  return 'SCAN_SUCCEED';
}

/** find_pmd_or_thp_or_none(). */
function* findPmdOrThpOrNone(mm: MmStruct, address: Vaddr, out: { pmdp: number }): KGen<ScanResult> {
  out.pmdp = yield* mmFindPmd(mm, address);
  if (!out.pmdp) return 'SCAN_PMD_NULL';
  return yield* checkPmdState(out.pmdp);
}

/** madvise_collapse_errno(). */
function madviseCollapseErrno(r: ScanResult): number {
  switch (r) {
    case 'SCAN_ALLOC_HUGE_PAGE_FAIL':
      return -ENOMEM;
    case 'SCAN_EXCEED_NONE_PTE':
      return -EBUSY;
    // Resource temporarily unavailable - trying again might succeed
    case 'SCAN_PAGE_COUNT':
    case 'SCAN_PAGE_LOCK':
    case 'SCAN_PAGE_LRU':
    case 'SCAN_DEL_PAGE_LRU':
    case 'SCAN_PAGE_FILLED':
      return -EAGAIN;
    default:
      return -EINVAL;
  }
}

/**
 * thp_vma_allowable_order(..., TVA_FORCED_COLLAPSE, PMD_ORDER) for MADV_COLLAPSE
 * (mm/huge_memory.c: __thp_vma_allowable_orders()). Outside a page fault the VMA must be able to
 * hold an aligned PMD block at all (the check is made at vm_end - HPAGE_PMD_SIZE), so a VMA under
 * 2 MiB, or one not containing an aligned block, fails; so does an anonymous VMA without an
 * anon_vma (never faulted).
 */
function collapseAllowed(vma: Vma): boolean {
  if (vmaThpDisabled(vma)) return false;
  if (vma.end - vma.start < HPAGE_PMD_SIZE || !thpVmaSuitablePmd(vma, vma.end - HPAGE_PMD_SIZE)) return false;
  if (vma.isShmem()) return shmemAllowsHuge(vma, true);
  // Regular files: file_thp_enabled() needs CONFIG_READ_ONLY_THP_FOR_FS (off here).
  if (!vma.isAnonymous()) return false;
  // An anonymous VMA that never faulted has no anon_vma: only smaps and page faults pass then.
  return vma.anonVma !== null;
}

/** madvise_collapse()'s "whitelisted set of results where continuing OK". */
const CONTINUE_ON: readonly ScanResult[] = [
  'SCAN_PMD_NULL', 'SCAN_PTE_NON_PRESENT', 'SCAN_PTE_UFFD_WP', 'SCAN_PAGE_NULL', 'SCAN_PAGE_COUNT', 'SCAN_PAGE_LOCK',
  'SCAN_PAGE_COMPOUND', 'SCAN_PAGE_LRU', 'SCAN_DEL_PAGE_LRU',
];

/**
 * madvise_collapse(): for each 2 MiB block of [start, end), collapse it; returns 0 when every
 * block ended up PMD-mapped. Entered and left with mmap_lock held for read; drops it around file
 * collapses, as the kernel does.
 */
export function* madviseCollapse(vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  const mm = vma.mm;
  if (!collapseAllowed(vma)) return -EINVAL;
  const hstart = alignUp(start, PMD_SIZE);
  let hend = alignDown(end, PMD_SIZE);
  let thps = 0;
  let lastFail: ScanResult = 'SCAN_FAIL';
  // A range inside one block that does not start at its start: hstart > hend, and the kernel's
  // unsigned (hend - hstart) >> HPAGE_PMD_SHIFT can never equal the number of THPs made.
  if (hstart > hend) return madviseCollapseErrno(lastFail);
  const total = (hend - hstart) / PMD_SIZE;
  for (let addr = hstart; addr < hend; addr += HPAGE_PMD_SIZE) {
    const v = vmaLookup(mm, addr);
    if (!v || !thpVmaSuitablePmd(v, addr)) {
      lastFail = 'SCAN_ADDRESS_RANGE';
      break;
    }
    hend = Math.min(hend, alignDown(v.end, PMD_SIZE));
    let result: ScanResult;
    if (!v.isAnonymous()) {
      const file = v.file!;
      const pgoff = (addr - v.start) / PAGE_SIZE + v.pgoff;
      yield* upRead(mm.mmapLock);
      result = yield* hpageCollapseScanFile(file, pgoff);
      if (result === 'SCAN_PTE_MAPPED_HUGEPAGE') {
        yield* downRead(mm.mmapLock);
        result = yield* collapsePteMappedThp(mm, addr, true);
        yield* upRead(mm.mmapLock);
      }
      yield* downRead(mm.mmapLock);
    } else {
      result = yield* hpageCollapseScanPmd(mm, v, addr);
    }
    if (result === 'SCAN_SUCCEED' || result === 'SCAN_PMD_MAPPED') {
      thps++;
      current.k.stats.collapses++;
    } else if (CONTINUE_ON.includes(result)) {
      lastFail = result;
    } else {
      lastFail = result;
      break;
    }
  }
  return thps === total ? 0 : madviseCollapseErrno(lastFail);
}

// ---- file / shmem ---------------------------------------------------------------------------------

/** hpage_collapse_scan_file(): look at the page cache of the block; collapse if worth it. */
function* hpageCollapseScanFile(mapping: AddressSpace, start: number): KGen<ScanResult> {
  const mem = current.k.mem;
  if (start + HPAGE_PMD_NR > mapping.sizePages) return 'SCAN_TRUNCATED';
  let present = 0;
  for (let i = start; i < start + HPAGE_PMD_NR; i++) {
    const page = pageCacheLookup(mapping, i);
    if (!page) continue;
    present++;
    const head = mem.folioHead(page);
    // A PMD-size folio already: "maybe PMD-mapped"; the caller maps it.
    if (mem.order[head] === HPAGE_PMD_ORDER && mem.index[head] === start) return 'SCAN_PTE_MAPPED_HUGEPAGE';
    touchFolio(head, false);
    // Isolated by compaction or reclaim: off the LRU.
    if (mem.testFlags(head, PG_isolated)) return 'SCAN_PAGE_LRU';
    // folio_expected_ref_count() + our own: the cache's reference and one per mapping.
    if (mem.refcount[head] !== 1 + mem.mapcount[head] + mem.entireMapcount[head]) return 'SCAN_PAGE_COUNT';
  }
  // A block with no page at all is not collapsed (measured on 6.18: EINVAL, nothing allocated).
  if (present === 0) return 'SCAN_FAIL';
  return yield* collapseFile(mapping, start);
}

/**
 * collapse_file() for shmem: lock a new PMD-size folio, unmap the old pages from every mm
 * (try_to_unmap(), which leaves their PTE tables empty), move the new folio into the page cache,
 * then retract_page_tables() while the new folio is still locked, so no fault can map the range.
 */
function* collapseFile(mapping: AddressSpace, start: number): KGen<ScanResult> {
  const k = current.k;
  const mem = k.mem;
  if (mapping.kind !== 'shmem') return 'SCAN_FAIL';
  const nw = mem.allocPages(HPAGE_PMD_ORDER, PT_SHMEM);
  if (nw < 0) return 'SCAN_ALLOC_HUGE_PAGE_FAIL';
  mem.setFlags(nw, PG_swapbacked);
  yield* folioLock(nw); // __folio_set_locked(): before anyone can see it
  const old: Pfn[] = [];
  // out_unlock / out: unlock the page being looked at and every page taken so far, drop the new folio.
  // Every old folio holds our pin and the isolation reference (rollback: putback, then put).
  const fail = function* (r: ScanResult, locked: Pfn | null): KGen<ScanResult> {
    if (locked !== null) {
      yield* folioUnlock(locked);
      folioPutRefs(locked, 1);
    }
    for (const o of old) {
      yield* folioUnlock(o);
      folioPutbackLru(o);
      folioPutRefs(o, 1);
    }
    yield* folioUnlock(nw);
    folioPutRefs(nw, 1);
    return r;
  };
  let nrNone = 0;
  for (let i = start; i < start + HPAGE_PMD_NR; i++) {
    const page = pageCacheLookup(mapping, i);
    if (!page) {
      nrNone++; // a hole: the new folio fills it with zeroes
      continue;
    }
    const locked = yield* folioTrylock(page);
    // The kernel looks up and trylocks the folio under the xarray lock (xas_load(), then
    // folio_trylock(), collapse_file(), mm/khugepaged.c, 6.18): one instant, at which the lookup
    // finds what the page cache holds then. The model looked up before its trylock step, so if
    // another path (another collapse) has replaced the entry since, what the kernel would have
    // found is the new entry: look again (after letting go of a stale folio this locked).
    if (pageCacheLookup(mapping, i) !== page) {
      if (locked) yield* folioUnlock(page);
      i--;
      continue;
    }
    if (!locked) return yield* fail('SCAN_PAGE_LOCK', null);
    folioRefAdd(page, 1); // folio_get(), under the xarray lock with the trylock
    // With the folio locked, first: already collapsed (by a path that raced this scan): "maybe
    // PMD-mapped", as the scan says.
    const head = mem.folioHead(page);
    if (mem.order[head] === HPAGE_PMD_ORDER && mem.index[head] === start) return yield* fail('SCAN_PTE_MAPPED_HUGEPAGE', page);
    if (mem.mapping[page] !== mapping.id) return yield* fail('SCAN_TRUNCATED', page);
    // Compaction or reclaim holds it isolated: their migration or unmapping would race ours.
    if (!folioIsolateLru(page)) return yield* fail('SCAN_DEL_PAGE_LRU', page);
    yield* tryToUnmap(mapping, page);
    // Under xas_lock_irq() again: our pin, the isolation's and the page cache's references (one
    // per page), and no other, so any new user must look the folio up and wait for its lock
    // (6.18 collapse_file(): folio_ref_count(folio) != 2 + folio_nr_pages(folio)).
    touchFolio(page, false);
    if (mem.refcount[page] !== 2 + mem.folioNr(head)) {
      folioPutbackLru(page);
      return yield* fail('SCAN_PAGE_COUNT', page);
    }
    old.push(page);
  }
  for (const o of old) mem.setFlags(nw + mem.index[o] - start, mem.testFlags(o, PG_has_data)); // copy_mc_highpage()
  if (nrNone) {
    // Holes: a VMA with missing-page userfaults would see them filled behind its back.
    yield* downRead(mapping.iMmapRwsem); // i_mmap_lock_read()
    const uffdMissing = mapping.iMmap.some((vma) => (vma.flags & VM_UFFD_MISSING) !== 0);
    yield* upRead(mapping.iMmapRwsem);
    if (uffdMissing) return yield* fail('SCAN_EXCEED_NONE_PTE', null);
  }
  // From here to the store of the new folio the kernel holds the xarray lock (xas_lock_irq()): no
  // scheduling point. It first puts retry entries into the holes and counts them: a fault that
  // filled a hole since the scan makes the collapse fail (the model checks the uffd VMAs before
  // taking that lock rather than under it, with the same outcomes).
  touchMapping(mapping, true);
  let nrNoneCheck = 0;
  for (let i = start; i < start + HPAGE_PMD_NR; i++) if (!mapping.pages.load(i)) nrNoneCheck++;
  if (nrNone !== nrNoneCheck) return yield* fail('SCAN_PAGE_FILLED', null);
  // Publish: one multi-index entry replaces every index at once. The old pages stay locked.
  for (const o of old) {
    mapping.pages.store(mem.index[o], 0);
    mapping.nrpages--;
  }
  mem.setFlags(nw, PG_uptodate);
  filemapAddFolio(mapping, nw, start);
  // Remove the PTE tables, so the range can fault in again as huge, while the new folio is locked.
  yield* retractPageTables(mapping, start);
  yield* folioUnlock(nw);
  // The collapse has succeeded, so free the old folios: a fault that waits on one finds its
  // mapping gone once it gets the lock, and looks again.
  for (const o of old) {
    mem.mapping[o] = -1; // folio->mapping = NULL
    yield* folioUnlock(o);
    folioPutRefs(o, 3); // folio_put_refs(folio, 2 + nr): our pin, the isolation's, the page cache's
  }
  return 'SCAN_PTE_MAPPED_HUGEPAGE';
}

/**
 * try_to_unmap() of one page-cache page: walk i_mmap, clear its PTE in every mm under that
 * table's lock, flush, drop rmap, RSS and the mapping's reference. Tables are left in place.
 */
function* tryToUnmap(mapping: AddressSpace, page: Pfn): KGen<void> {
  const mem = current.k.mem;
  yield* downRead(mapping.iMmapRwsem);
  const index = mem.index[page];
  for (const vma of mapping.iMmap.slice()) {
    const vpgoff = index - vma.pgoff;
    const addr = vma.start + vpgoff * PAGE_SIZE;
    if (addr < vma.start || addr >= vma.end) continue;
    const mm = vma.mm;
    const pmdp = yield* mmFindPmd(mm, addr);
    if (!pmdp) continue;
    const out = new PteMapOut();
    const pte = yield* pteOffsetMapLock(mm, pmdp, addr, out); // page_vma_mapped_walk()
    if (pte < 0) continue;
    const e = yield* ptepGet(pte);
    if (ptePresent(e) && !pteSpecial(e) && ptePfn(e) === page) {
      yield* ptepGetAndClear(pte);
      yield* flushTlbMmRange(mm, addr, addr + PAGE_SIZE, 12, false); // try_to_unmap_flush()
      folioRemoveRmapPtes(page, 1, mm);
      addMmCounter(mm, mmCounter(page), -1);
      folioPutRefs(page, 1);
    }
    yield* pteUnmapUnlock(pte, out.ptl);
  }
  yield* upRead(mapping.iMmapRwsem);
}

/**
 * retract_page_tables(): in every mm mapping this block of the file (and without an anon_vma,
 * i.e. never written privately), remove the PTE table, which the unmap left empty. Runs without
 * any mmap_lock: the PMD may change under us. Since the series (patch 01) the PMD's *state* is
 * rechecked under the PMD lock; without it (guard `retract-pmd-recheck`, off in version B) a
 * table reclaimed meanwhile by
 * MADV_DONTNEED would be "retracted" a second time (race R3).
 */
export function* retractPageTables(mapping: AddressSpace, pgoff: number): KGen<void> {
  const k = current.k;
  yield* downRead(mapping.iMmapRwsem);
  for (const vma of mapping.iMmap.slice()) {
    // MAP_PRIVATE mappings that were written to have anonymous pages in their tables.
    if (vma.anonVma) continue;
    const addr = vma.start + (pgoff - vma.pgoff) * PAGE_SIZE;
    if (addr < vma.start || addr % HPAGE_PMD_SIZE || vma.end < addr + HPAGE_PMD_SIZE) continue;
    const mm = vma.mm;
    const found = { pmdp: 0 };
    if ((yield* findPmdOrThpOrNone(mm, addr, found)) !== 'SCAN_SUCCEED') continue;
    if (mm.exited) continue; // hpage_collapse_test_exit()
    if (vma.flags & VM_UFFD_WP) continue; // markers may be installed
    const pmdp = found.pmdp;
    const pml = pmdLockptr(mm, pmdp);
    yield* spinLock(pml);
    // The new folio is locked, so no PTE can be set again for this range; a table reclaimed and
    // replaced meanwhile is also empty. Recheck only the state, not pmd_same().
    if (guardOn(k.cfg, 'retract-pmd-recheck') && (yield* checkPmdState(pmdp)) !== 'SCAN_SUCCEED') {
      yield* spinUnlock(pml);
      continue;
    }
    const ptl = pteLockptr(mm, yield* ptepGet(pmdp));
    if (ptl !== pml) yield* spinLock(ptl);
    let success = false;
    let pgtPmd: Pmd = 0;
    // A racing userfaultfd ioctl may have set these meanwhile: recheck under the PTE lock.
    if (!vma.anonVma && !(vma.flags & VM_UFFD_WP)) {
      pgtPmd = yield* pmdpCollapseFlush(vma, addr, pmdp);
      success = true;
    }
    if (ptl !== pml) yield* spinUnlock(ptl);
    yield* spinUnlock(pml);
    if (success) {
      mmDecNrPtes(mm);
      yield* pteFreeDefer(mm, tableOf(pgtPmd));
      k.stats.pteTablesRetracted++;
      mm.stats.pteTablesRetracted++;
    }
  }
  yield* upRead(mapping.iMmapRwsem);
}

/**
 * collapse_pte_mapped_thp(): map a PMD-size page-cache folio by PMD in this mm, removing a
 * PTE table that maps exactly its pages (or nothing). Caller holds mmap_lock for read.
 */
export function* collapsePteMappedThp(mm: MmStruct, addr: Vaddr, installPmd: boolean): KGen<ScanResult> {
  const mem = current.k.mem;
  const haddr = alignDown(addr, HPAGE_PMD_SIZE);
  const vma = vmaLookup(mm, haddr);
  if (!vma || !vma.file || !thpVmaSuitablePmd(vma, haddr)) return 'SCAN_VMA_CHECK';
  const found = { pmdp: 0 };
  const first = yield* findPmdOrThpOrNone(mm, haddr, found);
  if (first === 'SCAN_PMD_MAPPED') return 'SCAN_SUCCEED';
  // A fault would map the page-cache THP by PMD whatever the sysfs settings: force the collapse.
  if (!collapseAllowed(vma)) return 'SCAN_VMA_CHECK';
  if (vma.flags & VM_UFFD_WP) return 'SCAN_PTE_UFFD_WP';
  const index = (haddr - vma.start) / PAGE_SIZE + vma.pgoff;
  const page = pageCacheLookup(vma.file, index);
  if (!page) return 'SCAN_PAGE_NULL';
  const folio = mem.folioHead(page);
  if (mem.order[folio] !== HPAGE_PMD_ORDER) return 'SCAN_PAGE_COMPOUND';
  folioRefAdd(folio, 1);
  yield* folioLock(folio);
  let result = yield* findPmdOrThpOrNone(mm, haddr, found);
  const pmdp = found.pmdp;
  if (result === 'SCAN_PMD_NULL' || result === 'SCAN_PMD_NONE') {
    // All pte entries have been removed and pmd cleared (or there never was a table): skip the
    // pte checks and just install the PMD mapping (maybe_install_pmd).
    result = installPmd ? yield* setHugePmd(vma, haddr, pmdp, folio) : 'SCAN_SUCCEED';
    return yield* dropFolio(folio, result);
  }
  if (result !== 'SCAN_SUCCEED') return yield* dropFolio(folio, result);
  // Step 1: every entry is none or maps exactly page i of the folio.
  const out = new PteMapOut();
  let pte = yield* pteOffsetMapLock(mm, pmdp, haddr, out);
  if (pte < 0) return yield* dropFolio(folio, 'SCAN_PMD_NULL');
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = yield* ptepGet(pte + i);
    if (e === 0) continue;
    if (!ptePresent(e) || ptePfn(e) !== folio + i) {
      yield* pteUnmapUnlock(pte, out.ptl);
      return yield* dropFolio(folio, ptePresent(e) ? 'SCAN_PAGE_COMPOUND' : 'SCAN_PTE_NON_PRESENT');
    }
  }
  yield* pteUnmapUnlock(pte, out.ptl);
  // Step 2: clear them under the PTE lock, rechecking that the PMD still points to this table.
  pte = yield* pteOffsetMapRwNolock(mm, pmdp, haddr, out);
  if (pte < 0) return yield* dropFolio(folio, 'SCAN_PMD_NULL');
  const pgt = out.pmdval;
  yield* spinLock(out.ptl);
  if ((yield* ptepGet(pmdp)) !== pgt) {
    yield* pteUnmapUnlock(pte, out.ptl);
    return yield* dropFolio(folio, 'SCAN_FAIL');
  }
  let n = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = yield* ptepGet(pte + i);
    if (e === 0) continue;
    if (!ptePresent(e) || ptePfn(e) !== folio + i) {
      yield* pteUnmapUnlock(pte, out.ptl);
      return yield* dropFolio(folio, 'SCAN_FAIL');
    }
    yield* ptepGetAndClear(pte + i);
    folioRemoveRmapPtes((folio + i) as Pfn, 1, mm);
    n++;
  }
  yield* spinUnlock(out.ptl); // RCU (the map) is kept
  folioPutRefs(folio, n);
  addMmCounter(mm, mmCounter(folio), -n);
  // Step 4: remove the table under the PMD lock, if it is still the one we emptied.
  const pml = pmdLockptr(mm, pmdp);
  yield* spinLock(pml);
  if (out.ptl !== pml) yield* spinLock(out.ptl);
  if ((yield* ptepGet(pmdp)) !== pgt) {
    yield* flushTlbMmRange(mm, 0, 2 ** 64, 12, false);
    if (out.ptl !== pml) yield* spinUnlock(out.ptl);
    yield* pteUnmap(pte);
    yield* spinUnlock(pml);
    return yield* dropFolio(folio, 'SCAN_FAIL');
  }
  const old = yield* pmdpCollapseFlush(vma, haddr, pmdp);
  if (out.ptl !== pml) yield* spinUnlock(out.ptl);
  yield* pteUnmap(pte);
  yield* spinUnlock(pml);
  mmDecNrPtes(mm);
  yield* pteFreeDefer(mm, tableOf(old));
  result = installPmd ? yield* setHugePmd(vma, haddr, pmdp, folio) : 'SCAN_SUCCEED';
  return yield* dropFolio(folio, result);
}

function* dropFolio(folio: Pfn, result: ScanResult): KGen<ScanResult> {
  yield* folioUnlock(folio);
  folioPutRefs(folio, 1);
  return result;
}

/** set_huge_pmd(): do_set_pmd() with a fresh reference for the mapping; allocates the PUD and PMD tables first when the block has none. */
function* setHugePmd(vma: Vma, haddr: Vaddr, pmdp: number, folio: Pfn): KGen<ScanResult> {
  if (!pmdp) {
    // No PMD table yet (SCAN_PMD_NULL): allocate the upper levels, as a fault would.
    const pudp = yield* pudAlloc(vma.mm, haddr);
    if (!pudp) return 'SCAN_FAIL';
    pmdp = yield* pmdAlloc(vma.mm, pudp, haddr);
    if (!pmdp) return 'SCAN_FAIL';
  }
  const vmf = new VmFault(vma, haddr, 0);
  vmf.pmd = pmdp;
  if (yield* doSetPmd(vmf, folio, folio)) return 'SCAN_FAIL';
  folioRefAdd(folio, 1);
  return 'SCAN_SUCCEED';
}

// ---- anonymous ------------------------------------------------------------------------------------

/**
 * __collapse_huge_page_isolate()'s "Check if the page has any GUP (or other external) pins"
 * (folio_expected_ref_count() != folio_ref_count()): the table is unlinked by then, so this
 * process cannot take a new pin, and a gup_fast() that read the PMD before it was cleared has
 * finished (tlb_remove_table_sync_one()): its pin is counted here, and the collapse gives up.
 * Order-0 folios only: the model's expected count of a PTE-mapped large folio is not kept per
 * folio, and its folio lock and LRU isolation are not modelled here either.
 */
function folioHasExternalPin(head: Pfn): boolean {
  const mem = current.k.mem;
  if (mem.folioNr(head) > 1) return false;
  touchFolio(head, false);
  return mem.refcount[head] !== mem.mapcount[head] + mem.entireMapcount[head] + (folioSwapOffset(head) ? 1 : 0);
}

/**
 * hpage_collapse_scan_pmd(): scan the PTE table of an anonymous block (MADV_COLLAPSE: no limits
 * on none, shared or swap entries, except that a none or zero-page entry of a userfaultfd-armed VMA
 * ends the scan) and collapse it. Caller holds mmap_lock for read. Swap entries
 * are counted (`unmapped`) for __collapse_huge_page_swapin(). Coarse: the kernel counts PTE
 * markers as swap PTEs too (is_swap_pte()) and fails on a guard marker only in the swap-in
 * (SCAN_FAIL); the model fails at the scan (SCAN_PTE_NON_PRESENT): both are -EINVAL.
 */
function* hpageCollapseScanPmd(mm: MmStruct, vma: Vma, address: Vaddr): KGen<ScanResult> {
  const found = { pmdp: 0 };
  const r = yield* findPmdOrThpOrNone(mm, address, found);
  if (r !== 'SCAN_SUCCEED') return r;
  const out = new PteMapOut();
  const pte = yield* pteOffsetMapLock(mm, found.pmdp, address, out);
  if (pte < 0) return 'SCAN_PMD_NULL';
  let result: ScanResult = 'SCAN_SUCCEED';
  let unmapped = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = yield* ptepGet(pte + i);
    if (e === 0 || (ptePresent(e) && ptePfn(e) === current.k.mem.zeroPfn)) {
      // pte_none() or the zero page: a hole MADV_COLLAPSE fills, unless missing-page userfaults
      // would see it filled behind their back (userfaultfd_armed(): any uffd mode; -EBUSY, as
      // this machine's kernel answers: scripts/uffd-collapse.pt).
      if (!userfaultfdArmed(vma)) continue;
      result = 'SCAN_EXCEED_NONE_PTE';
      break;
    }
    if (isSwapEntryPte(e)) {
      unmapped++;
      // Always be strict with uffd-wp enabled swap entries (pte_swp_uffd_wp_any()).
      if (pteUffdWp(e)) {
        result = 'SCAN_PTE_UFFD_WP';
        break;
      }
      continue;
    }
    if (!ptePresent(e)) {
      result = 'SCAN_PTE_NON_PRESENT';
      break;
    }
    if (pteUffdWp(e)) {
      result = 'SCAN_PTE_UFFD_WP';
      break;
    }
    if (current.k.mem.type[ptePfn(e)] !== PT_ANON) {
      result = 'SCAN_PAGE_ANON';
      break;
    }
  }
  yield* pteUnmapUnlock(pte, out.ptl);
  if (result !== 'SCAN_SUCCEED') return result;
  // MADV_COLLAPSE has no max_ptes_none: a table of none and zero-page entries only collapses too
  // (into a THP of zeros).
  return yield* collapseHugePage(mm, address, found.pmdp, unmapped);
}

/**
 * collapse_huge_page()'s section under the mmap_lock for read, taken again after the allocation,
 * when the scan found swap entries: hugepage_vma_revalidate(), find_pmd_or_thp_or_none(), then
 * __collapse_huge_page_swapin(). Returns with the lock released on failure, held on success.
 */
function* collapseSwapinLocked(mm: MmStruct, address: Vaddr): KGen<ScanResult> {
  yield* downRead(mm.mmapLock);
  const vma = vmaLookup(mm, address);
  if (!vma || !thpVmaSuitablePmd(vma, address) || !vma.isAnonymous()) {
    yield* upRead(mm.mmapLock);
    return 'SCAN_VMA_CHECK';
  }
  const found = { pmdp: 0 };
  const r = yield* findPmdOrThpOrNone(mm, address, found);
  if (r !== 'SCAN_SUCCEED') {
    yield* upRead(mm.mmapLock);
    return r;
  }
  return yield* __collapseHugePageSwapin(mm, vma, address, found.pmdp);
}

/**
 * __collapse_huge_page_swapin(): bring the block's swapped-out pages back with do_swap_page(),
 * reading each entry locklessly from the table mapped with pte_offset_map_ro_nolock() (its PTE
 * lock serves only do_swap_page()'s pte_same() recheck). A run of entries that are not swap PTEs
 * is read in one step (pteScanNoSwap()): an entry swapped out meanwhile is missed, and the
 * isolation under the mmap_lock for write then finds it non-present, as the kernel does when the
 * swap-out comes after its read. Returns with the mmap_lock released on failure. Coarse: the
 * model's do_swap_page() waits for the folio lock, so it never returns VM_FAULT_RETRY
 * (SCAN_PAGE_LOCK).
 */
function* __collapseHugePageSwapin(mm: MmStruct, vma: Vma, start: Vaddr, pmdp: number): KGen<ScanResult> {
  const end = start + HPAGE_PMD_NR * PAGE_SIZE;
  const out = new PteMapOut();
  let pte = -1; // not mapped
  for (let addr = start; addr < end; addr += PAGE_SIZE, pte = pte < 0 ? pte : pte + 1) {
    if (pte < 0) {
      pte = yield* pteOffsetMapRoNolock(mm, pmdp, addr, out);
      if (pte < 0) {
        yield* upRead(mm.mmapLock);
        return 'SCAN_PMD_NULL';
      }
    }
    const skip = yield* pteScanNoSwap(pte, (end - addr) / PAGE_SIZE, true);
    if (skip) {
      addr += (skip - 1) * PAGE_SIZE;
      pte += skip - 1;
      continue;
    }
    const origPte = yield* ptepGet(pte); // ptep_get_lockless()
    if (!isSwapPte(origPte)) continue;
    const vmf = new VmFault(vma, addr, FAULT_FLAG_ALLOW_RETRY);
    vmf.pmd = pmdp;
    vmf.pte = pte;
    vmf.ptl = out.ptl;
    vmf.origPte = origPte;
    const ret = yield* doSwapPage(vmf); // which unmaps pte (after perhaps re-checking the entry)
    pte = -1;
    if (ret & VM_FAULT_RETRY) return 'SCAN_PAGE_LOCK';
    if (ret & VM_FAULT_ERROR) {
      yield* upRead(mm.mmapLock);
      return 'SCAN_FAIL';
    }
  }
  if (pte >= 0) yield* pteUnmap(pte);
  return 'SCAN_SUCCEED';
}

/** check_pmd_still_valid(): the PMD slot found while scanning is still the one, holding a table. */
function* checkPmdStillValid(mm: MmStruct, address: Vaddr, pmdp: number): KGen<ScanResult> {
  const found = { pmdp: 0 };
  const r = yield* findPmdOrThpOrNone(mm, address, found);
  if (r !== 'SCAN_SUCCEED') return r;
  return found.pmdp === pmdp ? 'SCAN_SUCCEED' : 'SCAN_FAIL';
}

/**
 * collapse_huge_page(): under mmap_lock for write and the VMA write lock, detach the (non-empty)
 * PTE table with pmdp_collapse_flush(), wait out gup_fast (tlb_remove_table_sync_one()), copy into
 * a new THP, free the old pages, and deposit the old table with the new huge PMD. VmPTE does not
 * change: the table becomes the deposit.
 */
function* collapseHugePage(mm: MmStruct, address: Vaddr, pmdp: number, unmapped: number): KGen<ScanResult> {
  const k = current.k;
  const mem = k.mem;
  yield* upRead(mm.mmapLock);
  const folio = mem.allocPages(HPAGE_PMD_ORDER, PT_ANON);
  if (unmapped && folio >= 0) {
    // The model takes the read lock again only to swap pages in; without swap entries its
    // revalidation is the one under the write lock below.
    const r = yield* collapseSwapinLocked(mm, address);
    if (r !== 'SCAN_SUCCEED') {
      folioPutRefs(folio, 1);
      yield* downRead(mm.mmapLock); // madvise_collapse() takes it again (mmap_locked false)
      return r;
    }
    yield* upRead(mm.mmapLock);
  }
  yield* downWrite(mm.mmapLock);
  const finish = function* (r: ScanResult): KGen<ScanResult> {
    yield* mmapWriteUnlock(mm);
    yield* downRead(mm.mmapLock); // madvise_collapse expects the read lock back
    return r;
  };
  if (folio < 0) return yield* finish('SCAN_ALLOC_HUGE_PAGE_FAIL');
  const vma = vmaLookup(mm, address);
  if (!vma || !thpVmaSuitablePmd(vma, address) || !vma.isAnonymous()) {
    folioPutRefs(folio, 1);
    return yield* finish('SCAN_VMA_CHECK');
  }
  // Write-lock the VMA first, then recheck the PMD: a MADV_DONTNEED holding only the VMA read
  // lock (6.17+) could otherwise reclaim the table between the check and the lock (race R10,
  // "fix the race between collapse and PT_RECLAIM under per-vma lock").
  const fixed = guardOn(k.cfg, 'vma-write-before-recheck');
  if (fixed) yield* vmaStartWrite(vma);
  const valid = yield* checkPmdStillValid(mm, address, pmdp);
  if (valid !== 'SCAN_SUCCEED') {
    folioPutRefs(folio, 1);
    return yield* finish(valid);
  }
  if (!fixed) yield* vmaStartWrite(vma);
  const pml = pmdLockptr(mm, pmdp);
  yield* spinLock(pml);
  const old = yield* pmdpCollapseFlush(vma, address, pmdp);
  yield* spinUnlock(pml);
  // tlb_remove_table_sync_one(): an IPI that waits for every CPU's interrupts, so a gup_fast()
  // that read the PMD before the flush above has left before the old table is reused or freed:
  // deposited, it is freed at once by a later zap of the THP (zap_deposited_table()). On x86 the
  // flush's own IPI already waits; arm64 flushes by broadcast TLBI (guard `collapse-ipi`).
  if (guardOn(k.cfg, 'collapse-ipi')) yield* tlbRemoveTableSyncOne([]);
  // pte_offset_map_lock() of the local copy: nothing to map when the PMD had become none. The
  // failure path then puts the "old table" back with pmd_populate(pmd_pgtable(_pmd)): from none.
  if (!pmdIsTable(old)) {
    throw new Violation('pmd-from-none', `collapse_huge_page() would pmd_populate() the slot at ${address} from a PMD that was none (${old})`);
  }
  const tid = tableOf(old);
  // Detached by pmdp_collapse_flush(), non-empty: excluded from every PTE-level writer by the locks held.
  const base = entryPtr(tid, 0);
  // __collapse_huge_page_isolate(): the scan ran under mmap_lock for read only, so an entry may
  // have become non-present since (a guard marker installed meanwhile): refuse it, and put the
  // table back with pmd_populate() (mm/khugepaged.c, collapse_huge_page(), 6.18).
  let isolated: ScanResult = 'SCAN_SUCCEED';
  for (let i = 0; i < HPAGE_PMD_NR && isolated === 'SCAN_SUCCEED'; i++) {
    const e = yield* ptepGet(base + i);
    if (e === 0 || (ptePresent(e) && pteSpecial(e))) continue; // none or the zero page
    if (!ptePresent(e)) isolated = 'SCAN_PTE_NON_PRESENT';
    else if (pteUffdWp(e)) isolated = 'SCAN_PTE_UFFD_WP';
    else if (folioHasExternalPin(mem.folioHead(ptePfn(e)))) isolated = 'SCAN_PAGE_COUNT';
  }
  if (isolated !== 'SCAN_SUCCEED') {
    yield* spinLock(pml);
    k.pt.setState(tid, T_LINKED);
    yield* setPte(pmdp, old); // pmd_populate(mm, pmd, pmd_pgtable(_pmd))
    yield* spinUnlock(pml);
    folioPutRefs(folio, 1);
    return yield* finish(isolated);
  }
  // __collapse_huge_page_copy(): take over every entry.
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = yield* ptepGetAndClear(base + i);
    if (e === 0 || pteSpecial(e)) {
      addMmCounter(mm, MM_ANONPAGES, 1);
      continue;
    }
    const pfn = ptePfn(e);
    mem.setFlags(folio + i, mem.testFlags(pfn, PG_has_data)); // copy_mc_user_highpage()
    folioRemoveRmapPtes(pfn, 1, mm);
    // __collapse_huge_page_copy_succeeded(): free_swap_cache() (a swapped-in folio may still be
    // in the swap cache), then folio_put_refs().
    yield* freeSwapCache(mem.folioHead(pfn));
    folioPutRefs(mem.folioHead(pfn), 1);
  }
  mem.setFlags(folio, PG_uptodate);
  yield* spinLock(pml);
  folioAddNewAnonRmapPmd(folio, mm);
  yield* pgtableTransHugeDeposit(pmdp, tid);
  let flags = _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
  if (vma.flags & VM_WRITE) flags |= _PAGE_RW;
  yield* setPte(pmdp, mkHugePmd(folio, flags));
  yield* spinUnlock(pml);
  return yield* finish('SCAN_SUCCEED');
}
