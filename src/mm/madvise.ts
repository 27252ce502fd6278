/**
 * madvise() (mm/madvise.c): the entry, the per-VMA walk, and the advices of the model:
 * MADV_DONTNEED[_LOCKED] (the caller of PT reclaim), MADV_FREE, MADV_[NO]HUGEPAGE,
 * MADV_POPULATE_(READ|WRITE), MADV_GUARD_(INSTALL|REMOVE), MADV_COLLAPSE, MADV_COLD and MADV_PAGEOUT.
 */
import { addrEnd, alignUp, EFAULT, EINVAL, ENOMEM, ERESTARTNOINTR, PAGE_SIZE, PMD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { faultinPageRange } from './gup.js';
import { __splitHugePmd, isHugeZeroPmd, pmdTransHugeLock, splitFolio } from './huge_memory.js';
import { madviseCollapse } from './khugepaged.js';
import { pteAlloc, pudAlloc, pmdAlloc } from './memory/pgalloc.js';
import { folioPteBatch, zapPageRangeSingle, type ZapDetails } from './memory/zap.js';
import { lockVmaUnderRcu, mmapWriteUnlock } from './mmap_lock.js';
import {
  MMF_VM_HUGEPAGE,
  MM_SWAPENTS,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_LOCKED,
  VM_NOHUGEPAGE,
  VM_PFNMAP,
  type MmStruct,
  type Vma,
} from './mm_types.js';
import { tlbFinishMmu, tlbFlushPmdRange, tlbFlushPteRange, tlbGatherMmu, type MmuGather } from './mmu_gather.js';
import { PG_dirty, PG_referenced, PG_swapbacked, PT_ANON, PT_ZERO } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  isGuardPte,
  mkMarkerPte,
  PTE_MARKER_GUARD,
  pmdMkinvalid,
  pmdPfn,
  pmdPresent,
  pmdTransHuge,
  pteClearFlags,
  pteDirty,
  pteNone,
  ptePfn,
  ptePresent,
  pteSetFlags,
  pteSpecial,
  pteYoung,
  isSwapEntryPte,
  swpOffset,
  type Pmd,
} from './pgtable_types.js';
import {
  condResched,
  downRead,
  downWrite,
  folioLock,
  folioTrylock,
  folioUnlock,
  ptepGet,
  ptepGetAndClear,
  ptepTestAndClearYoung,
  flushTlbMmRange,
  setPte,
  spinLock,
  spinUnlock,
  upRead,
  type KGen,
} from './primitives.js';
import { pmdLockptr, type LockHandle } from './ptlock.js';
import { folioMapcount, folioMaybeMappedShared, anonVmaPrepare } from './rmap.js';
import { addMmCounter, folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { folioFreeSwap, folioSwapOffset, freeSwapAndCacheNr, swapPteBatch } from './swapfile.js';
import { vmaModifyFlags } from './vma.js';
import { findVma } from './vma_tree.js';
import { madviseWillneed } from './madvise_willneed.js';
import { folioIsolateLru, reclaimPages, type IsolatedFolio } from './vmscan.js';
import { userfaultfdArmed } from './internal.js';
import { mmFindPmd } from './pgtable_mm.js';

/** The advices the model implements (MADV_* in include/uapi/asm-generic/mman-common.h). */
export const MADV_ADVICES = [
  'dontneed', 'dontneed_locked', 'free', 'hugepage', 'nohugepage', 'populate_read', 'populate_write',
  'guard_install', 'guard_remove', 'collapse', 'cold', 'pageout', 'willneed',
] as const;
export type MadvAdvice = (typeof MADV_ADVICES)[number];

/** madvise_need_mmap_write(). */
function needsMmapWrite(advice: MadvAdvice): boolean {
  return advice === 'hugepage' || advice === 'nohugepage';
}

/** get_lock_mode() == MADVISE_VMA_READ_LOCK in this configuration (mm/madvise.c). */
function vmaReadLockMode(advice: MadvAdvice): boolean {
  const cfg = current.k.cfg;
  if (advice === 'dontneed' || advice === 'dontneed_locked') return cfg.dontneedLock === 'vma';
  return advice === 'free' && cfg.freeLock === 'vma';
}

/**
 * The madvise() system call as user space sees it (SYSCALL_DEFINE3(madvise) → do_madvise()):
 * -ERESTARTNOINTR from restart_syscall() never reaches user space, the return path
 * (arch_do_signal_or_restart(), kernel/entry) rewinds the instruction pointer and the call runs
 * again, with every lock dropped in between. Unbounded, as in the kernel.
 */
export function* madviseSyscall(mm: MmStruct, start: Vaddr, lenIn: number, advice: MadvAdvice): KGen<number> {
  for (;;) {
    const ret = yield* doMadvise(mm, start, lenIn, advice);
    if (ret !== -ERESTARTNOINTR) return ret;
  }
}

/** do_madvise(): returns 0 or a negative errno. */
export function* doMadvise(mm: MmStruct, start: Vaddr, lenIn: number, advice: MadvAdvice): KGen<number> {
  if (start % PAGE_SIZE) return -EINVAL;
  const len = alignUp(lenIn, PAGE_SIZE);
  if (lenIn && !len) return -EINVAL;
  const end = start + len;
  if (end === start) return 0;
  // Since 6.17, MADV_DONTNEED of a range inside one VMA takes only that VMA's read lock, since
  // 6.18 MADV_FREE too (get_lock_mode(); madvise_walk_vmas() → try_vma_read_lock()); anything
  // else, or a failed attempt, takes mmap_lock.
  if (vmaReadLockMode(advice)) {
    const vma = yield* tryVmaReadLock(mm, start, end);
    if (vma) {
      const ret = yield* madviseVmaBehavior(mm, vma, start, end, advice);
      yield* upRead(vma.vmLock); // vma_end_read()
      return ret;
    }
  }
  const write = needsMmapWrite(advice);
  if (write) yield* downWrite(mm.mmapLock);
  else yield* downRead(mm.mmapLock);
  let ret: number;
  if (advice === 'populate_read' || advice === 'populate_write') ret = yield* madvisePopulate(mm, start, end, advice === 'populate_write');
  else ret = yield* madviseWalkVmas(mm, start, end, advice);
  if (write) yield* mmapWriteUnlock(mm);
  else yield* upRead(mm.mmapLock);
  return ret;
}

/**
 * try_vma_read_lock() (mm/madvise.c, 6.18): the VMA at start read-locked, or null when the caller
 * must take the mmap_lock instead: no VMA could be locked, the range goes past the VMA, or the
 * VMA is registered with a userfaultfd (userfaultfd_armed()). (Its third case, another process's
 * mm, cannot arise: the model's madvise() always advises the caller's own mm.)
 */
function* tryVmaReadLock(mm: MmStruct, start: Vaddr, end: Vaddr): KGen<Vma | null> {
  const vma = yield* lockVmaUnderRcu(mm, start);
  if (!vma) return null;
  // Must span only a single VMA; uffd and remote processes are unsupported.
  if (end > vma.end || userfaultfdArmed(vma)) {
    yield* upRead(vma.vmLock); // vma_end_read()
    return null;
  }
  return vma;
}

/**
 * madvise_walk_vmas(): apply the advice to each VMA piece of [start, end); a hole makes the call
 * return -ENOMEM at the end, an error stops the walk.
 */
function* madviseWalkVmas(mm: MmStruct, start: Vaddr, end: Vaddr, advice: MadvAdvice): KGen<number> {
  let unmappedError = 0;
  let addr = start;
  while (addr < end) {
    const vma = findVma(mm, addr);
    if (!vma) return -ENOMEM;
    if (addr < vma.start) {
      unmappedError = -ENOMEM;
      addr = vma.start;
      if (addr >= end) break;
    }
    const tmpEnd = Math.min(end, vma.end);
    const err = yield* madviseVmaBehavior(mm, vma, addr, tmpEnd, advice);
    if (err) return err;
    // The VMA may have been split or merged: continue from the end of this piece.
    addr = tmpEnd;
  }
  return unmappedError;
}

/** madvise_vma_behavior(). */
function* madviseVmaBehavior(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr, advice: MadvAdvice): KGen<number> {
  switch (advice) {
    case 'dontneed':
    case 'dontneed_locked':
    case 'free':
      return yield* madviseDontneedFree(vma, start, end, advice);
    case 'hugepage':
    case 'nohugepage':
      return yield* hugepageMadvise(mm, vma, start, end, advice);
    case 'guard_install':
      return yield* madviseGuardInstall(vma, start, end);
    case 'guard_remove':
      return yield* madviseGuardRemove(vma, start, end);
    case 'collapse':
      return yield* madviseCollapse(vma, start, end);
    case 'cold':
    case 'pageout':
      return yield* madviseColdOrPageout(vma, start, end, advice === 'pageout');
    case 'willneed':
      return yield* madviseWillneed(mm, vma, start, end);
    default:
      return -EINVAL;
  }
}

/** madvise_dontneed_free(): validity (VM_LOCKED only for DONTNEED_LOCKED), then the advice. */
function* madviseDontneedFree(vma: Vma, start: Vaddr, end: Vaddr, advice: MadvAdvice): KGen<number> {
  // madvise_dontneed_free_valid_vma()
  let forbidden = VM_PFNMAP;
  if (advice !== 'dontneed_locked') forbidden |= VM_LOCKED;
  if (vma.flags & VM_HUGETLB || vma.flags & forbidden) return -EINVAL;
  if (advice === 'free') return yield* madviseFreeSingleVma(vma, start, end);
  yield* madviseDontneedSingleVma(vma, start, end);
  return 0;
}

/** madvise_dontneed_single_vma(): the zap that asks for empty tables to be reclaimed. */
function* madviseDontneedSingleVma(vma: Vma, start: Vaddr, end: Vaddr): KGen<void> {
  const details: ZapDetails = { reclaimPt: true, evenCows: true, zapFlags: 0 };
  yield* zapPageRangeSingle(vma, start, end - start, details);
}

/**
 * madvise_free_single_vma() + madvise_free_pte_range(): anonymous VMAs only. Present PTEs stay
 * present: their young/dirty bits are cleared and exclusive folios become lazyfree. A large folio
 * the range covers only in part is split first (split_folio(): its zero-filled pages become the
 * shared zero page), unless it may be mapped by another process; a PMD-mapped one is split by
 * madvise_free_huge_pmd(). No table is ever freed.
 */
function* madviseFreeSingleVma(vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  if (!vma.isAnonymous()) return -EINVAL;
  const mm = vma.mm;
  const mem = current.k.mem;
  const tlb = tlbGatherMmu(mm);
  for (let addr = start; addr < end; ) {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = yield* mmFindPmd(mm, addr);
    if (pmdp) {
      const pmdv = yield* ptepGet(pmdp);
      if (pmdTransHuge(pmdv) && !isHugeZeroPmd(pmdv)) {
        // madvise_free_huge_pmd(): the huge zero page is left alone; a partially covered THP is
        // split (split_folio() splits the PMD first: then the PTE walk below finds its pages);
        // a whole one becomes lazyfree.
        if (next - addr !== PMD_SIZE) yield* __splitHugePmd(vma, pmdp, addr);
        else {
          // pmd_trans_huge_lock() and a recheck: a split in progress (pmdp_invalidate() keeps the
          // PMD huge) ends before the lock is ours, and then the block is a table.
          const ptl = pmdLockptr(mm, pmdp);
          yield* spinLock(ptl);
          const cur = yield* ptepGet(pmdp);
          if (pmdTransHuge(cur) && !isHugeZeroPmd(cur)) mem.clearFlags(ptePfn(cur), PG_swapbacked);
          yield* spinUnlock(ptl);
        }
      }
      yield* madviseFreePteRange(tlb, vma, pmdp, addr, next);
    }
    addr = next;
  }
  yield* tlbFinishMmu(tlb);
  return 0;
}

/** madvise_free_pte_range() over [addr, end) of one PTE table. */
function* madviseFreePteRange(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr, end: Vaddr): KGen<void> {
  const mm = vma.mm;
  const mem = current.k.mem;
  let out = new PteMapOut();
  let pte0 = yield* pteOffsetMapLock(mm, pmdp, addr, out);
  if (pte0 < 0) return;
  const first = addr;
  let nrSwap = 0;
  for (let nr = 1; addr < end; addr += PAGE_SIZE * nr) {
    nr = 1;
    const p = pte0 + (addr - first) / PAGE_SIZE;
    const e = yield* ptepGet(p);
    if (isSwapEntryPte(e)) {
      // A swap entry: just clear it, a fault then gets a zeroed page rather than a swap-in.
      nr = yield* swapPteBatch(p, (end - addr) / PAGE_SIZE, e);
      nrSwap -= nr;
      yield* freeSwapAndCacheNr(swpOffset(e), nr);
      for (let i = 0; i < nr; i++) yield* setPte(p + i, 0); // clear_not_present_full_ptes()
      continue;
    }
    if (pteNone(e) || !ptePresent(e) || pteSpecial(e)) continue;
    const pfn = ptePfn(e);
    if (mem.type[pfn] !== PT_ANON) continue;
    const head = mem.folioHead(pfn);
    const folioNr = mem.folioNr(head);
    // The entry as this walk read it; a batch ORs in the young and dirty bits of its other entries.
    let ptent = e;
    if (folioNr > 1) {
      // Only split a large folio that the range does not cover whole: madvise_folio_pte_batch(),
      // folio_pte_batch_flags(FPB_MERGE_YOUNG_DIRTY), which ignores the write bit too.
      const merged = { writable: false, young: false, dirty: false };
      nr = yield* folioPteBatch(head, p, e, (end - addr) / PAGE_SIZE, _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_SOFT_DIRTY | _PAGE_RW, merged);
      ptent = pteSetFlags(ptent, (merged.young ? _PAGE_ACCESSED : 0) | (merged.dirty ? _PAGE_DIRTY : 0));
      if (nr < folioNr) {
        if (folioMaybeMappedShared(head, pfn)) continue; // another mm (a forked child) maps it too: not split
        if (!(yield* folioTrylock(head))) continue;
        const err = yield* splitFolioUnmapped(vma, pmdp, addr, head, pte0, out.ptl);
        out = new PteMapOut();
        pte0 = yield* pteOffsetMapLock(mm, pmdp, first, out);
        if (pte0 < 0) break;
        if (!err) nr = 0; // look at this address again: its page is small now
        continue;
      }
    }
    touchFolio(head, true);
    if (folioSwapOffset(head) || mem.testFlags(head, PG_dirty)) {
      // A swap-cache or dirty folio: drop its swap and its dirty bit, under its lock; one that
      // other mappings share (folio_mapcount() != folio_nr_pages()) or whose swap cannot go is
      // skipped.
      if (!(yield* folioTrylock(head))) continue;
      let mapcount = mem.entireMapcount[head]; // folio_mapcount()
      for (let i = 0; i < folioNr; i++) mapcount += mem.mapcount[head + i];
      if (mapcount !== folioNr || (folioSwapOffset(head) && !folioFreeSwap(head))) {
        yield* folioUnlock(head);
        continue;
      }
      mem.clearFlags(head, PG_dirty); // folio_clear_dirty()
      yield* folioUnlock(head);
    }
    if (mem.mapcount[pfn] === 1) mem.clearFlags(head, PG_swapbacked); // folio_mark_lazyfree()
    if (pteYoung(ptent) || pteDirty(ptent)) {
      // clear_young_dirty_ptes(CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY) (include/linux/pgtable.h, the
      // generic one x86 uses): each entry cleared and written back old and clean. Between the two
      // the entry is none: a hardware walk there faults instead of setting a bit the store would
      // then drop, and a lockless reader (GUP-fast) sees none.
      for (let i = 0; i < nr; i++) {
        const v = yield* ptepGetAndClear(p + i);
        yield* setPte(p + i, pteClearFlags(v, _PAGE_ACCESSED | _PAGE_DIRTY));
      }
      tlbFlushPteRange(tlb, addr, nr * PAGE_SIZE); // tlb_remove_tlb_entries()
    }
  }
  if (nrSwap) addMmCounter(mm, MM_SWAPENTS, nrSwap);
  if (pte0 >= 0) yield* pteUnmapUnlock(pte0, out.ptl);
}

/** can_madv_lru_vma(). */
function canMadvLruVma(vma: Vma): boolean {
  return !(vma.flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB));
}

/**
 * madvise_cold() and madvise_pageout(): deactivate the range's folios (young PTEs are made old), or
 * reclaim them. A file mapping's folios are paged out too when the caller may write the file
 * (can_do_file_pageout(): the kernel runner is root, and so is the model's caller), so
 * madvise_pageout() never returns early here.
 */
function* madviseColdOrPageout(vma: Vma, start: Vaddr, end: Vaddr, pageout: boolean): KGen<number> {
  if (!canMadvLruVma(vma)) return -EINVAL;
  const tlb = tlbGatherMmu(vma.mm);
  yield* madviseColdOrPageoutRange(tlb, vma, start, end, pageout);
  yield* tlbFinishMmu(tlb);
  return 0;
}

/**
 * How MADV_FREE and MADV_COLD/PAGEOUT split a large folio they map in part, the folio locked by
 * the caller: folio_get(), the PTE table unmapped and unlocked, split_folio(), folio_unlock(),
 * folio_put(). Returns split_folio()'s error; the caller maps the table again.
 */
function* splitFolioUnmapped(vma: Vma, pmdp: number, addr: Vaddr, head: Pfn, pte: number, ptl: LockHandle): KGen<number> {
  folioRefAdd(head, 1);
  yield* pteUnmapUnlock(pte, ptl);
  const err = yield* splitFolio(vma, pmdp, addr, head);
  yield* folioUnlock(head);
  folioPutRefs(head, 1);
  return err;
}

/** walk_page_range_vma() with cold_walk_ops: madvise_cold_or_pageout_pte_range() per PMD. */
function* madviseColdOrPageoutRange(tlb: MmuGather, vma: Vma, start: Vaddr, end: Vaddr, pageout: boolean): KGen<void> {
  for (let addr = start; addr < end; ) {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = yield* mmFindPmd(vma.mm, addr);
    if (pmdp) yield* madviseColdOrPageoutPteRange(tlb, vma, pmdp, addr, next, pageout);
    addr = next;
  }
}

/**
 * madvise_cold_or_pageout_pte_range() for one PMD. Folios mapped by this mapping alone, order-0
 * or large ones it maps whole, are deactivated (MADV_COLD: only their young bits change; the LRU
 * is not modelled) or isolated, and after the PTE lock is dropped reclaim_pages() unmaps them
 * (MADV_PAGEOUT; not an anonymous large folio with swap: see below). A PMD-mapped THP
 * the range covers in part is split first (split_folio(): its never-written pages then map the
 * zero page, huge_memory.ts splitFolio()), and the range is walked as PTEs ("regular_folio"),
 * where a PTE-mapped large folio the range covers in part is split the same way (a page-cache
 * folio's split, a regular file's or shmem's, unmaps its pages: huge_memory.ts splitPageCacheFolio()).
 * A THP the range covers whole stays whole (madviseColdOrPageoutHugePmd()). Not modelled: the
 * pageout of an anonymous large folio with swap (the kernel swaps it out whole; the model's swap
 * holds order-0 folios only: it is left alone), the SWAP_CLUSTER_MAX need_resched() break.
 */
function* madviseColdOrPageoutPteRange(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr, end: Vaddr, pageout: boolean): KGen<void> {
  const mem = current.k.mem;
  const folioList: IsolatedFolio[] = [];
  if (pmdTransHuge(yield* ptepGet(pmdp))) {
    const ptl = yield* pmdTransHugeLock(vma, pmdp);
    if (ptl === null) return;
    const orig = yield* ptepGet(pmdp);
    const head = pmdPfn(orig) as Pfn;
    // The huge zero page, and a folio another mm maps too (folio_maybe_mapped_shared(): two
    // mappings of it in this mm do not count), are left alone.
    if (isHugeZeroPmd(orig) || !pmdPresent(orig) || folioMaybeMappedShared(head, head)) {
      yield* spinUnlock(ptl);
      return;
    }
    if (end - addr === PMD_SIZE) {
      yield* madviseColdOrPageoutHugePmd(tlb, vma, pmdp, addr, orig, ptl, pageout);
      return;
    }
    folioRefAdd(head, 1); // folio_get()
    yield* spinUnlock(ptl);
    yield* folioLock(head);
    // split_folio() of the PMD-mapped folio: the PMD split, then the folio's. A page-cache folio's
    // split checks it can go before it unmaps (and so splits) any PMD (huge_memory.ts
    // splitPageCacheFolio()): a folio it cannot split stays PMD-mapped.
    if (mem.type[head] === PT_ANON) yield* __splitHugePmd(vma, pmdp, addr);
    const err = yield* splitFolio(vma, pmdp, addr, head);
    yield* folioUnlock(head);
    folioPutRefs(head, 1);
    if (err) return;
  }
  let out = new PteMapOut();
  let startPte = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (startPte < 0) return;
  for (let pte = startPte, nr = 1; addr < end; pte += nr, addr += nr * PAGE_SIZE) {
    nr = 1;
    const ptent = yield* ptepGet(pte);
    if (pteNone(ptent) || !ptePresent(ptent)) continue;
    // vm_normal_folio(): the zero page and other special mappings have none.
    if (pteSpecial(ptent)) continue;
    const pfn = ptePfn(ptent);
    const head = mem.folioHead(pfn);
    if (mem.type[head] === PT_ZERO) continue;
    // A large folio the range maps only in part is split (madvise_folio_pte_batch(), then
    // split_folio() with the PTE lock dropped); if the split fails, it is left in place and the
    // walk goes on past its entries. One it maps whole is left as it is, to be swapped out whole.
    if (mem.folioNr(head) > 1) nr = yield* folioPteBatch(head, pte, ptent, (end - addr) / PAGE_SIZE, _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_SOFT_DIRTY | _PAGE_RW);
    if (nr < mem.folioNr(head)) {
      if (folioMaybeMappedShared(head, pfn)) continue;
      if (!(yield* folioTrylock(head))) continue;
      const err = yield* splitFolioUnmapped(vma, pmdp, addr, head, startPte, out.ptl);
      out = new PteMapOut();
      startPte = pte = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
      if (startPte < 0) break; // the table went meanwhile: reclaim what was isolated, as the kernel does
      if (!err) nr = 0; // look at this address again: its page is small now
      continue;
    }
    // Do not interfere with other mappings of this folio: a large one is mapped whole here, so it
    // is exclusive if its mapcount is its number of pages.
    touchFolio(head, false);
    if (folioMapcount(head) !== mem.folioNr(head)) continue;
    if (!pageout && pteYoung(ptent)) {
      // clear_young_dirty_ptes(CYDP_CLEAR_YOUNG) (include/linux/pgtable.h, the generic one x86
      // uses): ptep_test_and_clear_young() per entry, one atomic bit clear, so a dirty bit
      // another CPU's hardware walk sets after the ptep_get() above is kept.
      for (let i = 0; i < nr; i++) yield* ptepTestAndClearYoung(pte + i);
      tlbFlushPteRange(tlb, addr, nr * PAGE_SIZE); // tlb_remove_tlb_entries()
    }
    mem.clearFlags(head, PG_referenced); // folio_clear_referenced()
    // folio_isolate_lru() fails for a folio another path holds isolated (compaction, collapse).
    if (pageout && !thpSwapOut(head) && folioIsolateLru(head)) folioList.push({ head, vma, address: addr });
    // else folio_deactivate(): the LRU is not modelled
  }
  if (startPte >= 0) yield* pteUnmapUnlock(startPte, out.ptl);
  if (pageout) yield* reclaimPages(folioList);
  yield* condResched();
}

/**
 * An anonymous large folio with a swap area to go to: the kernel would swap it out whole, which
 * the model's swap, order-0 folios only, cannot; MADV_PAGEOUT leaves it alone (not modelled).
 */
function thpSwapOut(head: Pfn): boolean {
  const mem = current.k.mem;
  return mem.folioNr(head) > 1 && mem.type[head] === PT_ANON && current.k.swap !== null;
}

/**
 * madvise_cold_or_pageout_pte_range()'s branch for a huge PMD the range covers whole, PMD lock
 * held (mm/madvise.c, 6.18): MADV_COLD makes a young PMD old (pmdp_invalidate(), set_pmd_at() of
 * the old entry, tlb_remove_pmd_tlb_entry()); MADV_PAGEOUT isolates the folio and, once the lock
 * is dropped, reclaim_pages() unmaps it everywhere (shrink_folio_list()'s try_to_unmap() with
 * TTU_SPLIT_HUGE_PMD). An anonymous THP with no swap area to go to is split by reclaim
 * (vmscan.ts) and stays mapped by PTEs. Not modelled: the pageout of an anonymous THP with swap,
 * which the kernel swaps out whole (the model's swap holds order-0 folios only): it is left alone.
 */
function* madviseColdOrPageoutHugePmd(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr, orig: Pmd, ptl: LockHandle, pageout: boolean): KGen<void> {
  const mem = current.k.mem;
  const folioList: IsolatedFolio[] = [];
  const head = pmdPfn(orig) as Pfn;
  if (!pageout && pteYoung(orig)) {
    yield* setPte(pmdp, pmdMkinvalid(orig)); // pmdp_invalidate(): pmdp_establish(), then the flush
    yield* flushTlbMmRange(vma.mm, addr, addr + PMD_SIZE, 21, false);
    yield* setPte(pmdp, pteClearFlags(orig, _PAGE_ACCESSED)); // set_pmd_at(pmd_mkold())
    tlbFlushPmdRange(tlb, addr, PMD_SIZE); // tlb_remove_pmd_tlb_entry()
  }
  touchFolio(head, true);
  mem.clearFlags(head, PG_referenced); // folio_clear_referenced()
  // folio_isolate_lru(); an mlocked folio would be unevictable, but a VM_LOCKED VMA never gets
  // here (can_madv_lru_vma()). Else folio_deactivate(): the LRU is not modelled.
  if (pageout && !thpSwapOut(head) && folioIsolateLru(head)) folioList.push({ head, vma, address: addr });
  yield* spinUnlock(ptl);
  if (pageout) yield* reclaimPages(folioList);
}

/** hugepage_madvise() + madvise_update_vma(): set/clear VM_HUGEPAGE / VM_NOHUGEPAGE (split/merge). */
function* hugepageMadvise(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr, advice: 'hugepage' | 'nohugepage'): KGen<number> {
  let flags = vma.flags;
  if (advice === 'hugepage') {
    flags = (flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
    mm.flags |= MMF_VM_HUGEPAGE; // khugepaged_enter_vma()
  } else {
    flags = (flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
  }
  yield* vmaModifyFlags(mm, vma, start, end, flags);
  return 0;
}

/**
 * madvise_populate(): faultin_page_range() until the range is done; its errors become the
 * advice's: -EINVAL for an incompatible mapping or permission (check_vma_flags()), -EFAULT for a
 * fault that would SIGBUS or SIGSEGV, -ENOMEM for a hole or no memory.
 */
function* madvisePopulate(mm: MmStruct, start: Vaddr, end: Vaddr, write: boolean): KGen<number> {
  while (start < end) {
    // Populate (prefault) page tables readable/writable.
    const pages = yield* faultinPageRange(mm, start, end, write);
    if (pages < 0) {
      switch (pages) {
        case -EINVAL: // Incompatible mappings / permissions.
          return -EINVAL;
        case -EFAULT: // VM_FAULT_SIGBUS or VM_FAULT_SIGSEGV
          return -EFAULT;
        default: // -ENOMEM: No VMA or out of memory.
          return -ENOMEM;
      }
    }
    start += pages * PAGE_SIZE;
  }
  return 0;
}

/** is_valid_guard_vma(). */
function isValidGuardVma(vma: Vma, allowLocked: boolean): boolean {
  let disallowed = VM_PFNMAP | VM_HUGETLB;
  if (!allowLocked) disallowed |= VM_LOCKED;
  return !(vma.flags & disallowed);
}

/** MAX_MADVISE_GUARD_RETRIES (mm/madvise.c, 6.18). */
const MAX_MADVISE_GUARD_RETRIES = 3;

/**
 * madvise_guard_install(): walk the range, allocating page tables as needed, and put a guard
 * marker in every none entry. If anything else is mapped, zap the range (without reclaim: the
 * zap has no details) and walk again; after MAX_MADVISE_GUARD_RETRIES such rounds (faults keep
 * refilling the range) give up with restart_syscall(): the call returns to user space, dropping
 * its locks, and runs again (madviseSyscall()).
 */
function* madviseGuardInstall(vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  if (!isValidGuardVma(vma, false)) return -EINVAL;
  // Guard markers make the range non-empty from a page-table perspective: give it an anon_vma
  // (anon_vma_prepare()), so that fork copies its tables (and MADV_COLLAPSE sees one).
  anonVmaPrepare(vma);
  for (let i = 0; i < MAX_MADVISE_GUARD_RETRIES; i++) {
    const r = yield* guardInstallWalk(vma, start, end);
    if (r < 0) return r;
    if (r === 0) return 0;
    yield* zapPageRangeSingle(vma, start, end - start, null);
  }
  return -ERESTARTNOINTR; // restart_syscall()
}

/** The guard_install_walk_ops walk: <0 error, 0 done, 1 when something must be zapped first. */
function* guardInstallWalk(vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  const mm = vma.mm;
  for (let addr = start; addr < end; ) {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pudp = yield* pudAlloc(mm, addr);
    if (!pudp) return -ENOMEM;
    const pmdp = yield* pmdAlloc(mm, pudp, addr);
    if (!pmdp) return -ENOMEM;
    if (pmdTransHuge(yield* ptepGet(pmdp))) return 1; // guard_install_pmd_entry()
    if (!(yield* pteAlloc(mm, pmdp, addr))) return -ENOMEM;
    const out = new PteMapOut();
    const pte0 = yield* pteOffsetMapLock(mm, pmdp, addr, out);
    if (pte0 < 0) continue; // the table went away: walk this block again
    let needZap = false;
    for (let a = addr, p = pte0; a < next; a += PAGE_SIZE, p++) {
      const e = yield* ptepGet(p);
      if (pteNone(e)) yield* setPte(p, mkMarkerPte(PTE_MARKER_GUARD)); // ->install_pte()
      else if (!isGuardPte(e)) needZap = true;
    }
    yield* pteUnmapUnlock(pte0, out.ptl);
    if (needZap) return 1;
    addr = next;
  }
  return 0;
}

/** madvise_guard_remove(): clear guard markers; tables stay. */
function* madviseGuardRemove(vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  if (!isValidGuardVma(vma, true)) return -EINVAL;
  const mm = vma.mm;
  for (let addr = start; addr < end; ) {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = yield* mmFindPmd(mm, addr);
    if (pmdp) {
      const out = new PteMapOut();
      const pte0 = yield* pteOffsetMapLock(mm, pmdp, addr, out);
      if (pte0 >= 0) {
        for (let a = addr, p = pte0; a < next; a += PAGE_SIZE, p++) {
          if (isGuardPte(yield* ptepGet(p))) yield* setPte(p, 0);
        }
        yield* pteUnmapUnlock(pte0, out.ptl);
      }
    }
    addr = next;
  }
  return 0;
}
