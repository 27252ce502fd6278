/**
 * PMD-mapped transparent huge pages (mm/huge_memory.c): anonymous THP faults with their deposited
 * PTE table (x86 deposits one per anonymous huge PMD, counted in pgtables_bytes: docs/kernel-rules.md, "Folios and the deposit"), the
 * huge zero page, zapping and splitting a huge PMD.
 */
import {
  alignDown,
  EAGAIN,
  EBUSY,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  HPAGE_PMD_SIZE,
  LEVEL_PTE,
  PAGE_SIZE,
  PMD_SIZE,
  type Pfn,
  type Vaddr,
} from './const.js';
import { current } from './current.js';
import { pgtableAlloc, pteFree } from './memory/pgalloc.js';
import {
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  MMF_VM_HUGEPAGE,
  FAULT_FLAG_UNSHARE,
  VM_FAULT_FALLBACK,
  VM_FAULT_OOM,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_LOCKED,
  VM_PFNMAP,
  VM_UFFD_MISSING,
  VM_WRITE,
  type VmFault,
  type Vma,
  faultMayMapZeroPage,
} from './mm_types.js';
import { tlbFlushPmdRange, tlbRemoveFolioPages, tlbFlushMmu, type MmuGather, flushTlbFixPending } from './mmu_gather.js';
import { PG_anon_exclusive, PG_dirty, PG_has_data, PG_head, PG_referenced, PG_swapbacked, PG_tail, PG_uptodate, PT_ANON, PT_FILE, PT_SHMEM, PT_ZERO } from './page_alloc.js';
import { entryPtr, T_ALLOCATED, T_LINKED } from './pgtable.js';
import { PteMapOut, pgtableTransHugeDeposit, pgtableTransHugeWithdraw, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  isPmdMigrationEntry,
  mkHugePmd,
  mkPte,
  mkTableEntry,
  pmdMkinvalid,
  pmdNone,
  pmdPfn,
  pmdTransHuge,
  pteDirty,
  pteFlags,
  pteSetFlags,
  pteWrite,
  ptePfn,
  ptePresent,
  pteSpecial,
  type Pte,
  type Pmd,
} from './pgtable_types.js';
import { flushTlbMmRange, folioLock, folioTrylock, folioUnlock, ptepGet, ptepGetAndClear, setPte, spinLock, spinUnlock, type KGen } from './primitives.js';
import { pmdLockptr, type LockHandle } from './ptlock.js';
import { folioAddAnonRmapPtes, folioAddNewAnonRmapPmd, folioMapped, folioRemoveRmapPmd, folioRemoveRmapPtes, rmapWalk, tryToUnmap, TTU_IGNORE_MLOCK } from './rmap.js';
import { addMmCounter, folioMapping, folioPutRefs, folioRefAdd, mmCounter, touchFolio } from './swap.js';
import { folioFreeSwap, folioSwapOffset } from './swapfile.js';
import { handleUserfault, vmaPageProt, vmfAnonPrepare, vmaThpDisabled, thpVmaSuitablePmd } from './internal.js';
import { shmemAllowsHuge } from './shmem.js';
import { touchMapping } from './page_cache.js';
import { mmDecNrPtes, mmFindPmd, mmIncNrPtes } from './pgtable_mm.js';
import { vmaLookupUnlocked } from './vma_tree.js';

/**
 * thp_vma_allowable_order(vma, PMD_ORDER) as far as the model needs it: anonymous VMAs by the
 * `enabled` sysfs mode; shmem by shmem_enabled (modelled coarsely, see docs/model.md); regular
 * files never here (their PMD mappings come from PMD-size page-cache folios, via do_set_pmd()).
 */
export function thpVmaAllowablePmd(vma: Vma, addr: Vaddr, inPf: boolean): boolean {
  const k = current.k;
  if (vma.flags & (VM_HUGETLB | VM_PFNMAP) || vmaThpDisabled(vma)) return false;
  if (!thpVmaSuitablePmd(vma, addr)) return false;
  if (vma.isAnonymous()) {
    const on = k.cfg.thp === 'always' || (k.cfg.thp === 'madvise' && (vma.flags & VM_HUGEPAGE) !== 0);
    if (!on) return false;
    // khugepaged needs an anon_vma; a page fault will create one.
    return inPf || vma.anonVma !== null;
  }
  if (vma.isShmem()) return !inPf && shmemAllowsHuge(vma, true);
  return false;
}

/** mm_get_huge_zero_folio(): allocated on first use, kept for the kernel's lifetime. */
function mmGetHugeZeroFolio(): Pfn {
  const mem = current.k.mem;
  if (mem.hugeZeroPfn < 0) {
    mem.hugeZeroPfn = mem.allocPages(HPAGE_PMD_ORDER, PT_ZERO);
    if (mem.hugeZeroPfn >= 0) mem.refcount[mem.hugeZeroPfn] = 1 << 30;
  }
  return mem.hugeZeroPfn;
}
export function isHugeZeroPmd(v: Pmd): boolean {
  return pmdTransHuge(v) && pmdPfn(v) === current.k.mem.hugeZeroPfn;
}

/** do_huge_pmd_anonymous_page(). */
export function* doHugePmdAnonymousPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const k = current.k;
  const haddr = alignDown(vmf.address, PMD_SIZE);
  if (!thpVmaSuitablePmd(vma, haddr)) return VM_FAULT_FALLBACK;
  const prep = yield* vmfAnonPrepare(vmf);
  if (prep) return prep;
  mm.flags |= MMF_VM_HUGEPAGE; // khugepaged_enter_vma()
  const pml = pmdLockptr(mm, vmf.pmd);
  if (!(vmf.flags & FAULT_FLAG_WRITE) && faultMayMapZeroPage(mm) && k.cfg.thpUseZeroPage) {
    const pgtable = pgtableAlloc(mm, LEVEL_PTE, haddr);
    if (!pgtable) return VM_FAULT_OOM;
    const zero = mmGetHugeZeroFolio();
    if (zero < 0) {
      pteFree(pgtable);
      return VM_FAULT_FALLBACK;
    }
    yield* flushTlbFixPending(mm, haddr); // R8 remedy, off by default
    yield* spinLock(pml);
    if (pmdNone(yield* ptepGet(vmf.pmd))) {
      if (vma.flags & VM_UFFD_MISSING) {
        yield* spinUnlock(pml);
        pteFree(pgtable);
        return handleUserfault();
      }
      // set_huge_zero_folio()
      yield* pgtableTransHugeDeposit(vmf.pmd, pgtable);
      yield* setPte(vmf.pmd, mkHugePmd(zero, _PAGE_USER | _PAGE_SPECIAL | _PAGE_ACCESSED));
      mmIncNrPtes(mm);
      yield* spinUnlock(pml);
    } else {
      yield* spinUnlock(pml);
      pteFree(pgtable);
    }
    return 0;
  }
  return yield* __doHugePmdAnonymousPage(vmf, haddr);
}

/** __do_huge_pmd_anonymous_page(). */
function* __doHugePmdAnonymousPage(vmf: VmFault, haddr: Vaddr): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const k = current.k;
  const folio = k.mem.allocPages(HPAGE_PMD_ORDER, PT_ANON);
  if (folio < 0) return VM_FAULT_FALLBACK;
  k.mem.setFlags(folio, PG_uptodate);
  const pgtable = pgtableAlloc(mm, LEVEL_PTE, haddr);
  if (!pgtable) {
    folioPutRefs(folio, 1);
    return VM_FAULT_OOM;
  }
  const pml = pmdLockptr(mm, vmf.pmd);
  yield* flushTlbFixPending(mm, haddr); // R8 remedy, off by default
  yield* spinLock(pml);
  if (!pmdNone(yield* ptepGet(vmf.pmd))) {
    yield* spinUnlock(pml);
    pteFree(pgtable);
    folioPutRefs(folio, 1);
    return 0;
  }
  // Deliver the page fault to userland.
  if (vma.flags & VM_UFFD_MISSING) {
    yield* spinUnlock(pml);
    folioPutRefs(folio, 1);
    pteFree(pgtable);
    return handleUserfault();
  }
  yield* pgtableTransHugeDeposit(vmf.pmd, pgtable);
  yield* mapAnonFolioPmd(folio, vmf.pmd, vma);
  mmIncNrPtes(mm);
  yield* spinUnlock(pml);
  k.stats.thpFaults++;
  return 0;
}

/** map_anon_folio_pmd(). */
function* mapAnonFolioPmd(folio: Pfn, pmdp: number, vma: Vma): KGen<void> {
  let flags = _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
  if (vma.flags & VM_WRITE) flags |= _PAGE_RW;
  folioAddNewAnonRmapPmd(folio, vma.mm);
  yield* setPte(pmdp, mkHugePmd(folio, flags));
  addMmCounter(vma.mm, MM_ANONPAGES, HPAGE_PMD_NR);
}

/** huge_pmd_set_accessed(). */
export function* hugePmdSetAccessed(vmf: VmFault): KGen<void> {
  const pml = pmdLockptr(vmf.vma.mm, vmf.pmd);
  yield* spinLock(pml);
  const cur = yield* ptepGet(vmf.pmd);
  if (cur === vmf.origPmd) {
    let v = pteSetFlags(cur, _PAGE_ACCESSED);
    if (vmf.flags & FAULT_FLAG_WRITE) v = pteSetFlags(v, _PAGE_DIRTY);
    if (v !== cur) yield* setPte(vmf.pmd, v);
  }
  yield* spinUnlock(pml);
}

/**
 * do_huge_pmd_wp_page() (mm/huge_memory.c, 6.18): a write (or an unshare) of a write-protected
 * huge PMD. The huge zero page is replaced by a fresh THP (do_huge_zero_wp_pmd()). A THP whose head
 * page is exclusive to this mm is reused in place: made young, dirty and (VM_WRITE) writable; so is
 * one that fork() shared once nothing but this mapping holds a reference any more (the recheck
 * under the folio lock, which is taken with the PMD lock dropped when the trylock fails). Anything
 * else is split and copied at PTE level (VM_FAULT_FALLBACK). A file or shmem PMD never gets here in
 * the kernel (wp_huge_pmd() splits it: COW and write-notify happen on PTEs); the model's caller
 * sends it here, and it is split the same way.
 */
export function* doHugePmdWpPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const k = current.k;
  const mem = k.mem;
  const haddr = alignDown(vmf.address, PMD_SIZE);
  const origPmd = vmf.origPmd;
  if (!vma.isAnonymous()) return yield* hugePmdWpFallback(vmf);
  if (isHugeZeroPmd(origPmd)) {
    const folio = mem.allocPages(HPAGE_PMD_ORDER, PT_ANON);
    if (folio < 0) return yield* hugePmdWpFallback(vmf); // fallback to splitting PMD if THP cannot be allocated
    mem.setFlags(folio, PG_uptodate);
    const pml = pmdLockptr(mm, vmf.pmd);
    yield* spinLock(pml);
    if ((yield* ptepGet(vmf.pmd)) !== origPmd) {
      yield* spinUnlock(pml);
      folioPutRefs(folio, 1);
      return 0;
    }
    // pmdp_huge_clear_flush(), then map the new folio; the deposited table stays.
    yield* ptepGetAndClear(vmf.pmd);
    yield* flushTlbMmRange(mm, haddr, haddr + HPAGE_PMD_SIZE, 21, false);
    yield* mapAnonFolioPmd(folio, vmf.pmd, vma);
    yield* spinUnlock(pml);
    k.stats.thpFaults++;
    return 0;
  }
  const ptl = pmdLockptr(mm, vmf.pmd);
  yield* spinLock(ptl);
  if ((yield* ptepGet(vmf.pmd)) !== origPmd) {
    yield* spinUnlock(ptl);
    return 0;
  }
  const folio = pmdPfn(origPmd); // pmd_page(): the head page
  touchFolio(folio, false);
  // Early check when only holding the PT lock.
  if (!mem.testFlags(folio, PG_anon_exclusive)) {
    if (!(yield* folioTrylock(folio))) {
      folioRefAdd(folio, 1);
      yield* spinUnlock(ptl);
      yield* folioLock(folio);
      yield* spinLock(ptl);
      if ((yield* ptepGet(vmf.pmd)) !== origPmd) {
        yield* spinUnlock(ptl);
        yield* folioUnlock(folio);
        folioPutRefs(folio, 1);
        return 0;
      }
      folioPutRefs(folio, 1);
    }
    // Recheck after temporarily dropping the PT lock.
    if (!mem.testFlags(folio, PG_anon_exclusive)) {
      // See do_wp_page(): reuse only without additional references.
      const inSwapCache = folioSwapOffset(folio) !== 0;
      if (mem.refcount[folio] > 1 + (inSwapCache ? HPAGE_PMD_NR : 0)) {
        yield* folioUnlock(folio);
        yield* spinUnlock(ptl);
        return yield* hugePmdWpFallback(vmf);
      }
      if (inSwapCache) folioFreeSwap(folio);
      if (mem.refcount[folio] !== 1) {
        yield* folioUnlock(folio);
        yield* spinUnlock(ptl);
        return yield* hugePmdWpFallback(vmf);
      }
      // folio_move_anon_rmap(): the model has no anon_vma to move it to.
      touchFolio(folio, true);
      mem.setFlags(folio, PG_anon_exclusive); // SetPageAnonExclusive()
    }
    yield* folioUnlock(folio);
  }
  // reuse:
  if (vmf.flags & FAULT_FLAG_UNSHARE) {
    yield* spinUnlock(ptl);
    return 0;
  }
  // pmd_mkyoung(), pmd_mkdirty(), maybe_pmd_mkwrite(); pmdp_set_access_flags() stores it if it changed.
  let entry = pteSetFlags(origPmd, _PAGE_ACCESSED | _PAGE_DIRTY);
  if (vma.flags & VM_WRITE) entry = pteSetFlags(entry, _PAGE_RW);
  if (entry !== origPmd) yield* setPte(vmf.pmd, entry);
  yield* spinUnlock(ptl);
  return 0;
}

/** do_huge_pmd_wp_page()'s fallback: split the PMD, and the fault goes on at PTE level. */
function* hugePmdWpFallback(vmf: VmFault): KGen<number> {
  yield* __splitHugePmd(vmf.vma, vmf.pmd, vmf.address);
  return VM_FAULT_FALLBACK;
}

/** zap_deposited_table(): withdraw and free a deposited table (never visible: immediate). */
function zapDepositedTable(vma: Vma, pmdp: number): void {
  const tid = pgtableTransHugeWithdraw(pmdp);
  if (!tid) return;
  current.k.pt.setState(tid, T_ALLOCATED);
  pteFree(tid);
  mmDecNrPtes(vma.mm);
}

/**
 * pmd_trans_huge_lock() (include/linux/huge_mm.h) with __pmd_trans_huge_lock(): the PMD lock when
 * the PMD is huge (a THP, or a non-present swap/migration PMD), rechecked under that lock; null for
 * a table or none, or when a split finished before the lock was ours.
 */
export function* pmdTransHugeLock(vma: Vma, pmdp: number): KGen<LockHandle | null> {
  const v = yield* ptepGet(pmdp);
  if (!pmdTransHuge(v) && !isPmdMigrationEntry(v)) return null;
  const ptl = pmdLockptr(vma.mm, pmdp);
  yield* spinLock(ptl);
  const cur = yield* ptepGet(pmdp);
  if (pmdTransHuge(cur) || isPmdMigrationEntry(cur)) return ptl;
  yield* spinUnlock(ptl);
  return null;
}

/** zap_huge_pmd(): returns 1 when it zapped the huge PMD, 0 when there was none any more. */
export function* zapHugePmd(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr): KGen<number> {
  const k = current.k;
  const pml = pmdLockptr(vma.mm, pmdp);
  yield* spinLock(pml); // __pmd_trans_huge_lock()
  const cur = yield* ptepGet(pmdp);
  if (!pmdTransHuge(cur) && !isPmdMigrationEntry(cur)) {
    yield* spinUnlock(pml);
    return 0;
  }
  const orig = yield* ptepGetAndClear(pmdp);
  tlbFlushPmdRange(tlb, addr, HPAGE_PMD_SIZE); // tlb_remove_pmd_tlb_entry()
  if (isHugeZeroPmd(orig)) {
    zapDepositedTable(vma, pmdp);
    yield* spinUnlock(pml);
    return 1;
  }
  const folio = pmdPfn(orig);
  folioRemoveRmapPmd(folio, vma.mm);
  if (k.mem.type[folio] === PT_ANON) {
    zapDepositedTable(vma, pmdp);
    addMmCounter(vma.mm, MM_ANONPAGES, -HPAGE_PMD_NR);
  } else {
    addMmCounter(vma.mm, mmCounter(folio), -HPAGE_PMD_NR);
  }
  yield* spinUnlock(pml);
  // tlb_remove_page_size(): the PMD mapping's one reference.
  if (yield* tlbRemoveFolioPages(tlb, folio, 1, false)) yield* tlbFlushMmu(tlb);
  return 1;
}

/**
 * split_huge_pmd_if_needed() (from vma_adjust_trans_huge()): when a VMA boundary is about to fall
 * inside a 2 MiB block that the VMA covers, split a huge PMD mapping that block.
 */
export function* splitHugePmdIfNeeded(vma: Vma, address: Vaddr): KGen<void> {
  if (address % HPAGE_PMD_SIZE === 0) return;
  const haddr = alignDown(address, HPAGE_PMD_SIZE);
  if (haddr < vma.start || haddr + HPAGE_PMD_SIZE > vma.end) return;
  const pmdp = yield* mmFindPmd(vma.mm, address); // split_huge_pmd_address()
  if (pmdp) yield* __splitHugePmd(vma, pmdp, address);
}

/** __split_huge_pmd(): split under the PMD lock. */
export function* __splitHugePmd(vma: Vma, pmdp: number, address: Vaddr): KGen<void> {
  const pml = pmdLockptr(vma.mm, pmdp);
  yield* spinLock(pml);
  const cur = yield* ptepGet(pmdp);
  if (pmdTransHuge(cur)) yield* __splitHugePmdLocked(vma, pmdp, alignDown(address, PMD_SIZE), cur);
  yield* spinUnlock(pml);
}

/**
 * __split_huge_pmd_locked(). File THPs are simply unmapped (their pages refault); anonymous ones
 * (and the huge zero page) become a PTE table: the deposited table is withdrawn, filled with 512
 * PTEs while still private, and only then populated into the PMD slot.
 */
function* __splitHugePmdLocked(vma: Vma, pmdp: number, haddr: Vaddr, old: Pmd): KGen<void> {
  const mm = vma.mm;
  const k = current.k;
  k.stats.thpSplits++;
  if (!vma.isAnonymous()) {
    yield* ptepGetAndClear(pmdp); // pmdp_huge_clear_flush()
    yield* flushTlbMmRange(mm, haddr, haddr + HPAGE_PMD_SIZE, 21, false);
    const folio = pmdPfn(old);
    folioRemoveRmapPmd(folio, mm);
    addMmCounter(mm, mmCounter(folio), -HPAGE_PMD_NR);
    folioPutRefs(folio, 1);
    return;
  }
  const zero = isHugeZeroPmd(old);
  // No CPU may keep the huge translation. The huge zero page's PMD is cleared
  // (__split_huge_zero_page_pmd(): pmdp_huge_clear_flush(), "leave pmd empty until pte is
  // filled"); an anonymous THP's is only invalidated (pmdp_invalidate()): still pmd_trans_huge()
  // to software walkers, so a concurrent zap_pmd_range() waits on the PMD lock for the split and
  // then zaps the new PTEs, where a none PMD would make it skip the block and leave all 512 pages
  // mapped (swarm seed 14, job 29: MADV_DONTNEED against a guard install splitting the THP).
  if (zero) yield* ptepGetAndClear(pmdp);
  else yield* setPte(pmdp, pmdMkinvalid(old)); // pmdp_establish(): an xchg
  yield* flushTlbMmRange(mm, haddr, haddr + HPAGE_PMD_SIZE, 21, false);
  const folio = pmdPfn(old);
  let flags = 0;
  if (!zero) {
    flags = vmaPageProt(vma) & ~_PAGE_RW;
    if (pteWrite(old)) flags |= _PAGE_RW;
    if (pteDirty(old)) flags |= _PAGE_DIRTY;
    flags |= pteFlags(old) & _PAGE_ACCESSED;
    // folio_ref_add() and folio_add_anon_rmap_ptes(): every count before the table is withdrawn,
    // as 6.18 orders it, all in this step (the PTE stores below are steps of their own). An
    // exclusive THP's pages stay exclusive (RMAP_EXCLUSIVE when PageAnonExclusive() of the head).
    touchFolio(folio, true);
    const anonExclusive = k.mem.testFlags(folio, PG_anon_exclusive) !== 0;
    k.mem.refcount[folio] += HPAGE_PMD_NR - 1; // one reference per PTE
    folioAddAnonRmapPtes(folio, HPAGE_PMD_NR, mm, anonExclusive);
  }
  const tid = pgtableTransHugeWithdraw(pmdp);
  k.pt.setState(tid, T_ALLOCATED);
  const base = entryPtr(tid, 0);
  if (zero) {
    const e = mkPte(k.mem.zeroPfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL);
    for (let i = 0; i < HPAGE_PMD_NR; i++) yield* setPte(base + i, e);
  } else {
    for (let i = 0; i < HPAGE_PMD_NR; i++) yield* setPte(base + i, mkPte((folio + i) as Pfn, flags)); // set_ptes()
    folioRemoveRmapPmd(folio, vma.mm);
  }
  // smp_wmb(): the PTEs are visible before the PMD points at them.
  k.pt.setState(tid, T_LINKED);
  yield* setPte(pmdp, mkTableEntry(k.pt.pfnOf(tid)));
}

/** split_huge_pmd_address() as try_to_unmap_one() calls it: split this VMA's PMD mapping of `head`, if any. */
function* splitHugePmdAddress(head: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
  const haddr = alignDown(address, PMD_SIZE);
  if (haddr < vma.start || haddr + PMD_SIZE > vma.end) return true;
  const pmdp = yield* mmFindPmd(vma.mm, haddr);
  if (!pmdp) return true;
  const v = yield* ptepGet(pmdp);
  if (pmdTransHuge(v) && pmdPfn(v) === head) yield* __splitHugePmd(vma, pmdp, haddr);
  return true;
}

/**
 * split_folio_to_list() of an anonymous THP that `vma` maps at `address`, by its PMD or by PTEs of
 * one table, as reclaim splits one it cannot swap out whole: unmap_folio()'s TTU_SPLIT_HUGE_PMD
 * splits a PMD mapping of this folio first, then splitFolio(). Caller holds a reference and the
 * folio lock. Returns 0 or a negative errno.
 */
export function* splitAnonFolioAt(vma: Vma, address: Vaddr, head: Pfn): KGen<number> {
  yield* splitHugePmdAddress(head, vma, address);
  const pmdp = yield* mmFindPmd(vma.mm, address);
  if (!pmdp) return -EBUSY;
  return yield* splitFolio(vma, pmdp, address, head);
}

/**
 * try_to_unmap(folio, flags | TTU_SPLIT_HUGE_PMD) of a page-cache folio (mm/rmap.c, 6.18). There
 * try_to_unmap_one() splits each PMD mapping as page_vma_mapped_walk() meets it
 * (split_huge_pmd_locked(), which for a file unmaps it, then page_vma_mapped_walk_restart()); the
 * model's walk does not stop at PMD mappings, so they are split by a walk of their own first, as
 * kernels before 6.8 split them at the top of try_to_unmap_one(), and then the PTEs are unmapped.
 */
export function* tryToUnmapSplitHugePmd(head: Pfn, flags: number): KGen<void> {
  if (current.k.mem.entireMapcount[head]) yield* rmapWalk(head, undefined, splitHugePmdAddress, true);
  yield* tryToUnmap(head, undefined, flags);
}

/**
 * split_folio() of a large page-cache folio, a regular file's or shmem's (__folio_split(),
 * mm/huge_memory.c, 6.18, a uniform split to order 0), in the kernel's order:
 * filemap_release_folio() (a regular file's dirty folio keeps its file system's private data:
 * -EBUSY; shmem has none, so its folios split dirty or not), can_split_folio() (every reference
 * is a mapping, the page cache's or the caller's: -EAGAIN otherwise), unmap_folio() (try_to_unmap()
 * over every VMA of the file, mlocked ones too, with TTU_SPLIT_HUGE_PMD: a PMD mapping is split first, which for a
 * file unmaps it), __split_unmapped_folio() (each page a folio of its own, in the page cache as
 * before, with a page-cache reference of its own; shmem pages at or past the end of the file,
 * which a huge shmem folio can reach, leave the page cache and are freed), and no remap_page(): it
 * returns at once for a folio that is not anonymous, so the file's pages are faulted in again
 * later. The model's page cache holds one reference for the whole folio. Caller holds a reference
 * and the folio lock, and no PTE lock.
 */
function* splitPageCacheFolio(head: Pfn): KGen<number> {
  const k = current.k;
  const mem = k.mem;
  const nr = mem.folioNr(head);
  const shmem = mem.type[head] === PT_SHMEM;
  // filemap_release_folio() must drop the file system's private data of the folio first, which it
  // cannot while the folio is dirty: -EBUSY (this machine's kernel keeps a written page mapped).
  // A shmem folio has no private data (folio_needs_release() is false): nothing to drop.
  if (!shmem && mem.testFlags(head, PG_dirty)) return -EBUSY;
  const mapping = folioMapping(head)!;
  // The end of the file, noted before the unmap; shmem_fallocend() is not modelled (no fallocate).
  const end = mapping.sizePages;
  touchFolio(head, true);
  let mapped = mem.entireMapcount[head]; // folio_mapcount(): a PMD mapping counts once
  for (let i = 0; i < nr; i++) mapped += mem.mapcount[head + i];
  if (mem.refcount[head] !== mapped + 2) return -EAGAIN;
  // unmap_folio(): file pages "can simply be left unmapped, then faulted back on demand", in an
  // mlocked VMA too (TTU_IGNORE_MLOCK).
  yield* tryToUnmapSplitHugePmd(head, TTU_IGNORE_MLOCK);
  if (folioMapped(head)) return -EAGAIN; // a mapping the walk did not reach
  touchFolio(head, true);
  const folioFlags = mem.testFlags(head, PG_uptodate | PG_dirty | PG_referenced);
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    touchFolio(p as Pfn, true);
    mem.clearFlags(p, PG_head | PG_tail);
    mem.setFlags(p, folioFlags);
    mem.order[p] = 0;
    if (i > 0) mem.refcount[p] = 1; // its page-cache reference
  }
  // __split_unmapped_folio(): a shmem page past the end leaves the page cache (__filemap_remove_folio(),
  // shmem_uncharge()) and its page-cache reference goes, which frees it: nothing maps it any more.
  if (shmem && mem.index[head] + nr > end) {
    touchMapping(mapping, true);
    for (let i = Math.max(1, end - mem.index[head]); i < nr; i++) {
      const p = (head + i) as Pfn;
      mapping.pages.store(mem.index[p], 0);
      mapping.nrpages--;
      folioPutRefs(p, 1);
    }
  }
  return 0;
}

/**
 * split_folio() of an anonymous large folio mapped by PTEs of one PTE table
 * (mm/huge_memory.c: __folio_split() with a uniform split to order 0): unmap_folio() clears its
 * PTEs (the kernel leaves migration entries, then flushes), __split_unmapped_folio() makes every
 * page a folio of its own, and remap_page() with RMP_USE_SHARED_ZEROPAGE maps each page back,
 * except a page holding only zeros, which try_to_map_unused_to_zeropage() replaces by the shared
 * zero page (not in a VM_LOCKED VMA) and which is then freed.
 *
 * The model has no anon rmap walk: a folio mapped anywhere else than this table (after a partial
 * mremap) is left whole, as a split that fails (-EBUSY). A folio with references beyond its
 * mappings and the caller's is not split either (can_split_folio(): -EAGAIN).
 * `addr` is an address of the block whose PMD slot is `pmdp`. Caller holds a reference and the
 * folio lock, and no PTE lock. Returns 0 or a negative errno.
 */
export function* splitFolio(vma: Vma, pmdp: number, addr: Vaddr, head: Pfn): KGen<number> {
  const mm = vma.mm;
  const mem = current.k.mem;
  const nr = mem.folioNr(head);
  if (nr === 1) return -EBUSY;
  if (mem.type[head] === PT_FILE || mem.type[head] === PT_SHMEM) return yield* splitPageCacheFolio(head);
  if (mem.type[head] !== PT_ANON || mem.entireMapcount[head] !== 0) return -EBUSY;
  const out = new PteMapOut();
  const blockAddr = alignDown(addr, PMD_SIZE);
  const pte0 = yield* pteOffsetMapLock(mm, pmdp, blockAddr, out);
  if (pte0 < 0) return -EBUSY;
  // unmap_folio(): find every entry of this table that maps the folio; all of its mappings must
  // be here.
  const slots: number[] = [];
  let mapped = 0;
  for (let i = 0; i < nr; i++) mapped += mem.mapcount[head + i];
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = yield* ptepGet(pte0 + i);
    if (!ptePresent(e) || pteSpecial(e)) continue;
    const pfn = ptePfn(e);
    if (pfn >= head && pfn < head + nr) slots.push(i);
  }
  // can_split_folio(): one reference per mapping, plus the caller's.
  if (slots.length !== mapped || mem.refcount[head] !== mapped + 1) {
    yield* pteUnmapUnlock(pte0, out.ptl);
    return slots.length !== mapped ? -EBUSY : -EAGAIN;
  }
  const saved: Pte[] = [];
  for (const i of slots) saved.push(yield* ptepGetAndClear(pte0 + i));
  yield* flushTlbMmRange(mm, blockAddr, blockAddr + PMD_SIZE, 12, false);
  // __split_unmapped_folio(): every page becomes an order-0 folio holding its mappings' references
  // (the caller's reference stays on the first page).
  const total = mem.refcount[head];
  for (let i = 0; i < nr; i++) touchFolio((head + i) as Pfn, true); // each page's counts, in this step
  const folioFlags = mem.testFlags(head, PG_uptodate | PG_dirty | PG_referenced | PG_swapbacked);
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    mem.clearFlags(p, PG_head | PG_tail);
    mem.setFlags(p, folioFlags);
    mem.order[p] = 0;
    mem.refcount[p] = mem.mapcount[p];
  }
  mem.refcount[head] += total - mapped;
  // remap_page(folio, nr, RMP_USE_SHARED_ZEROPAGE) → remove_migration_pte() per page, each in the
  // VMA that maps it (the rmap walk's): the block may hold several, as after an mlock of part of it.
  let zeroed = 0;
  const dead: Pfn[] = [];
  for (let j = 0; j < slots.length; j++) {
    const e = saved[j];
    const pfn = ptePfn(e);
    const v = vmaLookupUnlocked(mm, blockAddr + slots[j] * PAGE_SIZE) ?? vma;
    // try_to_map_unused_to_zeropage() (mm/migrate.c, 6.18) leaves VM_LOCKED VMAs alone, and
    // nothing else: a userfaultfd-missing VMA gets the zero page too, as this machine's kernel
    // shows (docs/fidelity.md E29).
    const zeroOk = !(v.flags & VM_LOCKED);
    if (zeroOk && !mem.testFlags(pfn, PG_has_data)) {
      // try_to_map_unused_to_zeropage(): a zero-filled page maps the shared zero page instead.
      yield* setPte(pte0 + slots[j], mkPte(mem.zeroPfn, vmaPageProt(v) | _PAGE_SPECIAL));
      folioRemoveRmapPtes(pfn, 1, mm);
      zeroed++;
      dead.push(pfn);
    } else {
      yield* setPte(pte0 + slots[j], e);
    }
  }
  addMmCounter(mm, MM_ANONPAGES, -zeroed);
  yield* pteUnmapUnlock(pte0, out.ptl);
  // The zero-filled pages lose their last reference (the caller keeps the first page's).
  for (const pfn of dead) folioPutRefs(pfn, 1);
  return 0;
}
