/**
 * fork()'s copy of the address space (kernel/fork.c dup_mm(), mm/mmap.c dup_mmap(), mm/memory.c
 * copy_page_range() down to copy_pte_range(), mm/huge_memory.c copy_huge_pmd(); Linux 6.18).
 *
 * dup_mmap() holds the parent's mmap_lock for write and write-locks every parent VMA
 * (vma_start_write()) before copying it. copy_pte_range() relies on both: it maps the parent's
 * table with pte_offset_map_rw_nolock() and makes no pmd_same() check (its comment: "We already
 * hold the exclusive mmap_lock ... so the PTE page is stable"). Since 6.17 a MADV_DONTNEED inside one
 * VMA holds only that VMA's read lock; the VMA write lock is what keeps it, and with it PT_RECLAIM,
 * off the table fork is copying (guard `fork-vma-write`, docs/explorer.md).
 *
 * Modelled: private and shared VMAs with their anon_vma, present small and large folios (with
 * folio_pte_batch()), the zero page, swap entries and PTE markers, anonymous and huge-zero huge
 * PMDs, copy-on-write sharing (PageAnonExclusive cleared in both) and the child's RSS and
 * page-table counters. Left out: GUP pins (the model's GUP takes references, never FOLL_PIN, so
 * folio_try_dup_anon_rmap_*() never refuses and copy_present_page()'s eager copy never runs),
 * VM_WIPEONFORK (the model has no such flag), UFFD_FEATURE_EVENT_FORK (the child's
 * VMAs lose their userfaultfd, dup_userfaultfd()'s other branch), mm->write_protect_seq and mmu
 * notifiers (nothing in the model reads them), migration entries (see copyNonpresentPte()) and device entries,
 * and the anon_vma chain (the child gets an anon_vma of its own; the model's rmap walks one VMA).
 */
import { ModelBug } from './bug.js';
import {
  addrEnd,
  EAGAIN,
  ENOMEM,
  HPAGE_PMD_NR,
  LEVEL_PTE,
  PAGE_SHIFT,
  PAGE_SIZE,
  PMD_SIZE,
  PUD_SIZE,
  PGDIR_SIZE,
  pmdIndex,
  type Pfn,
  type Vaddr,
} from './const.js';
import { current } from './current.js';
import { obj, OBJ, semReadersObj } from './objects.js';
import { guardOn } from './config.js';
import { isHugeZeroPmd } from './huge_memory.js';
import { mmapWriteUnlock, vmaStartWrite } from './mmap_lock.js';
import {
  AnonVma,
  isCowMapping,
  MMF_VM_HUGEPAGE,
  MM_ANONPAGES,
  MM_SWAPENTS,
  MmStruct,
  VM_DONTCOPY,
  VM_LOCKED_MASK,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
  VM_UFFD_WP,
  Vma,
  vmAreaInitFrom,
  __VM_UFFD_FLAGS,
} from './mm_types.js';
import { folioPteBatch } from './memory/zap.js';
import { pgtableAlloc, pmdAlloc, pteAlloc, pteFree, pudAlloc } from './memory/pgalloc.js';
import { PT_ANON } from './page_alloc.js';
import { PteMapOut, pgtableTransHugeDeposit, pteOffsetMapLock, pteOffsetMapRwNolock, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  _PAGE_SWP_EXCLUSIVE,
  _PAGE_SWP_UFFD_WP,
  _PAGE_UFFD_WP,
  PTE_MARKER_UFFD_WP,
  isPteMarker,
  isSwapEntryPte,
  mkMarkerPte,
  mkPte,
  pteFlags,
  pmdNone,
  pmdTransHuge,
  pteClearFlags,
  pteSetFlags,
  pteMarkerBits,
  pteNone,
  ptePfn,
  ptePresent,
  pteSpecial,
  pteSwpExclusive,
  pteWrite,
  swpOffset,
  type Pmd,
  type Pte,
} from './pgtable_types.js';
import {
  condResched,
  downWrite,
  flushTlbMmRange,
  needResched,
  ptepGet,
  ptepSetWrprotect,
  pteScanNone,
  setPte,
  spinLock,
  spinUnlock,
  type KGen,
} from './primitives.js';
import { pmdLockptr } from './ptlock.js';
import { folioTryDupAnonRmapPmd, folioTryDupAnonRmapPtes, folioAddFileRmapPtes } from './rmap.js';
import { addMmCounter, folioRefAdd, mmCounter } from './swap.js';
import { swapDuplicate } from './swapfile.js';
import { exitMmap } from './mmap.js';
import { vmaLink } from './vma.js';
import { mmIncNrPtes, pgdOffset, pmdOffset, pudOffset } from './pgtable_mm.js';

/** userfaultfd_wp(). */
const userfaultfdWp = (vma: Vma): boolean => (vma.flags & VM_UFFD_WP) !== 0;

/**
 * dup_mmap() (mm/mmap.c, 6.18): copy every VMA of `oldmm` into the new `mm` and the page tables
 * under them; 0 or -ENOMEM. Both mmap_locks for write, the parent's first.
 */
export function* dupMmap(mm: MmStruct, oldmm: MmStruct): KGen<number> {
  yield* downWrite(oldmm.mmapLock); // mmap_write_lock_killable(): the model sends no signals
  yield* downWrite(mm.mmapLock); // mmap_write_lock_nested(): not linked in yet, no deadlock
  let retval = 0;
  for (const mpnt of oldmm.vmas.slice()) {
    // Keeps per-VMA-lock readers (faults, MADV_DONTNEED since 6.17) out of the VMA being copied:
    // copy_pte_range() maps the parent's table without a pmd_same() recheck.
    if (guardOn(current.k.cfg, 'fork-vma-write')) yield* vmaStartWrite(mpnt);
    // The child has no such VMA (vma_iter_clear_gfp(); the model counts total_vm as VMAs link).
    if (mpnt.flags & VM_DONTCOPY) continue;
    const tmp = vmAreaDup(mm, mpnt);
    // dup_userfaultfd() without UFFD_FEATURE_EVENT_FORK: userfaultfd_reset_ctx().
    tmp.flags &= ~__VM_UFFD_FLAGS;
    anonVmaFork(tmp, mpnt);
    tmp.flags &= ~VM_LOCKED_MASK; // vm_flags_clear(tmp, VM_LOCKED_MASK)
    // vma_iter_bulk_store(), then the file's i_mmap under i_mmap_lock_write().
    yield* vmaLink(mm, tmp);
    retval = yield* copyPageRange(tmp, mpnt);
    if (retval) break; // goto loop_out
  }
  yield* mmapWriteUnlock(mm);
  // The parent's entries made read-only above may still be writable in other CPUs' TLBs.
  yield* flushTlbMmRange(oldmm, 0, 2 ** 64, PAGE_SHIFT, false); // flush_tlb_mm()
  yield* mmapWriteUnlock(oldmm);
  return retval;
}

/** vm_area_dup(): the same range, flags, file and offset, in the new mm. */
function vmAreaDup(mm: MmStruct, orig: Vma): Vma {
  const tmp = new Vma(mm, orig.start, orig.end, orig.flags, orig.file, orig.pgoff);
  vmAreaInitFrom(orig, tmp);
  return tmp;
}

/** anon_vma_fork(): a VMA whose parent has an anon_vma gets one of its own (the chain is not modelled). */
function anonVmaFork(vma: Vma, pvma: Vma): void {
  if (!pvma.anonVma) return;
  vma.anonVma = new AnonVma(current.k.nextAnonVma++);
}

/**
 * vma_needs_copy(): copy the tables when the child cannot refill them by faults: uffd-wp state,
 * PFN/mixed maps, or anonymous pages (an anon_vma).
 */
function vmaNeedsCopy(dst: Vma, src: Vma): boolean {
  if (userfaultfdWp(dst)) return true;
  if (src.flags & (VM_PFNMAP | VM_MIXEDMAP)) return true;
  return src.anonVma !== null;
}

/** copy_page_range(): 0 or -ENOMEM. */
function* copyPageRange(dst: Vma, src: Vma): KGen<number> {
  if (!vmaNeedsCopy(dst, src)) return 0;
  let addr = src.start;
  const end = src.end;
  do {
    // copy_p4d_range() (P4D folded) → copy_pud_range().
    const next = addrEnd(addr, end, PGDIR_SIZE);
    const pgdv = yield* ptepGet(pgdOffset(src.mm, addr));
    if (!pmdNone(pgdv) && (yield* copyPudRange(dst, src, pgdv, addr, next))) return -ENOMEM;
    addr = next;
  } while (addr !== end);
  return 0;
}

/** copy_pud_range(): no PUD leaves in the model. */
function* copyPudRange(dst: Vma, src: Vma, pgdv: number, addr: Vaddr, end: Vaddr): KGen<number> {
  const dstPud = yield* pudAlloc(dst.mm, addr);
  if (!dstPud) return -ENOMEM;
  do {
    const next = addrEnd(addr, end, PUD_SIZE);
    const pudv = yield* ptepGet(pudOffset(pgdv, addr));
    // pud_none_or_clear_bad()
    if (!pmdNone(pudv) && (yield* copyPmdRange(dst, src, dstPud, pudv, addr, next))) return -ENOMEM;
    addr = next;
  } while (addr !== end);
  return 0;
}

/** copy_pmd_range(). */
function* copyPmdRange(dst: Vma, src: Vma, dstPud: number, srcPudv: number, addr: Vaddr, end: Vaddr): KGen<number> {
  const first = yield* pmdAlloc(dst.mm, dstPud, addr);
  if (!first) return -ENOMEM;
  const start = addr;
  do {
    const next = addrEnd(addr, end, PMD_SIZE);
    const dstPmd = first + pmdIndex(addr) - pmdIndex(start); // dst_pmd++
    const srcPmd = pmdOffset(srcPudv, addr);
    const v = yield* ptepGet(srcPmd);
    if (pmdTransHuge(v)) {
      const err = yield* copyHugePmd(dst, src, dstPmd, srcPmd, addr);
      if (err === -ENOMEM) return -ENOMEM;
      if (!err) {
        addr = next;
        continue;
      }
      // fall through: no longer huge (-EAGAIN)
    }
    // pmd_none_or_clear_bad() reads the PMD again.
    if (!pmdNone(yield* ptepGet(srcPmd)) && (yield* copyPteRange(dst, src, dstPmd, srcPmd, addr, next))) return -ENOMEM;
    addr = next;
  } while (addr !== end);
  return 0;
}

/**
 * copy_pte_range(): copy the entries of one PTE table in passes, each under the child's PTE lock
 * and then the parent's (spin_lock_nested()); a pass breaks for need_resched() (checked once per
 * 32 units of progress) and resumes at `again`, mapping the parent's table anew. 0 or -ENOMEM.
 */
function* copyPteRange(dst: Vma, src: Vma, dstPmd: number, srcPmd: number, addr: Vaddr, end: Vaddr): KGen<number> {
  const dstMm = dst.mm;
  for (;;) {
    // again:
    let progress = 0;
    const rss = [0, 0, 0, 0];
    // pte_alloc_map_lock()
    if (!(yield* pteAlloc(dstMm, dstPmd, addr))) return -ENOMEM;
    const dout = new PteMapOut();
    const dstStart = yield* pteOffsetMapLock(dstMm, dstPmd, addr, dout);
    if (dstStart < 0) return -ENOMEM;
    // No pmdval recheck: the kernel relies on the exclusive mmap_lock and the VMA write lock.
    const sout = new PteMapOut();
    const srcStart = yield* pteOffsetMapRwNolock(src.mm, srcPmd, addr, sout);
    if (srcStart < 0) {
      yield* pteUnmapUnlock(dstStart, dout.ptl);
      return 0;
    }
    yield* spinLock(sout.ptl); // spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)
    let i = 0;
    while (addr !== end) {
      let nr = 1;
      if (progress >= 32) {
        progress = 0;
        // spin_needbreak() (lock contention) is not modelled.
        if (yield* needResched()) break;
      }
      const left = (end - addr) / PAGE_SIZE;
      const ptent = yield* ptepGet(srcStart + i);
      if (pteNone(ptent)) {
        // The none entries after this one, up to the next need_resched() check, in one step: the
        // parent's PTE lock keeps them none.
        const more = Math.min(left - 1, 31 - progress);
        if (more > 0) nr += yield* pteScanNone(srcStart + i + 1, more);
        progress += nr;
      } else if (!ptePresent(ptent)) {
        yield* copyNonpresentPte(dst, src, dstStart + i, srcStart + i, ptent, rss);
        progress += 8;
      } else {
        // Never -EAGAIN here: without pins no folio needs copying (copy_present_page()).
        nr = yield* copyPresentPtes(dst, src, dstStart + i, srcStart + i, ptent, left, rss);
        progress += 8 * nr;
      }
      i += nr;
      addr += nr * PAGE_SIZE;
    }
    yield* pteUnmapUnlock(srcStart, sout.ptl);
    for (let m = 0; m < 4; m++) if (rss[m]) addMmCounter(dstMm, m, rss[m]); // add_mm_rss_vec()
    yield* pteUnmapUnlock(dstStart, dout.ptl);
    yield* condResched();
    if (addr === end) return 0;
  }
}

/**
 * copy_present_ptes(): share the folio mapped here (and, for a large folio, the run of entries
 * that map it alike: folio_pte_batch() with FPB_MERGE_WRITE, and FPB_RESPECT_DIRTY when private)
 * with the child; returns how many entries it copied.
 */
function* copyPresentPtes(dst: Vma, src: Vma, dstPte: number, srcPte: number, pte: Pte, maxNr: number, rss: number[]): KGen<number> {
  const mem = current.k.mem;
  if (pteSpecial(pte)) {
    // vm_normal_page() == NULL (the zero page): nothing to account.
    yield* __copyPresentPtes(dst, src, dstPte, srcPte, pte, 1);
    return 1;
  }
  const page = ptePfn(pte) as Pfn;
  const head = mem.folioHead(page);
  let nr = 1;
  if (mem.order[head] > 0 && maxNr !== 1) {
    const merged = { writable: false };
    const ignore = _PAGE_ACCESSED | _PAGE_SOFT_DIRTY | _PAGE_RW | (src.flags & VM_SHARED ? _PAGE_DIRTY : 0);
    nr = yield* folioPteBatch(head, srcPte, pte, maxNr, ignore, merged);
    if (merged.writable) pte = pteSetFlags(pte, _PAGE_RW); // FPB_MERGE_WRITE: pte_mkwrite() if any was writable
  }
  folioRefAdd(head, nr); // folio_ref_add() / folio_get()
  if (mem.type[head] === PT_ANON) {
    folioTryDupAnonRmapPtes(page, nr, dst.mm);
    rss[MM_ANONPAGES] += nr;
  } else {
    folioAddFileRmapPtes(page, nr, dst.mm); // folio_dup_file_rmap_ptes()
    rss[mmCounter(head)] += nr;
  }
  yield* __copyPresentPtes(dst, src, dstPte, srcPte, pte, nr);
  return nr;
}

/**
 * __copy_present_ptes(): a COW mapping's writable entries become read-only in the parent
 * (wrprotect_ptes()) and the child; the child's are old, clean when shared, and lose uffd-wp
 * unless the child's VMA has it.
 */
function* __copyPresentPtes(dst: Vma, src: Vma, dstPte: number, srcPte: number, pte: Pte, nr: number): KGen<void> {
  if (isCowMapping(src.flags) && pteWrite(pte)) {
    for (let i = 0; i < nr; i++) yield* ptepSetWrprotect(srcPte + i); // wrprotect_ptes()
    pte = pteClearFlags(pte, _PAGE_RW);
  }
  if (src.flags & VM_SHARED) pte = pteClearFlags(pte, _PAGE_DIRTY);
  pte = pteClearFlags(pte, _PAGE_ACCESSED);
  if (!userfaultfdWp(dst)) pte = pteClearFlags(pte, _PAGE_UFFD_WP);
  for (let i = 0; i < nr; i++) yield* setPte(dstPte + i, mkPte((ptePfn(pte) + i) as Pfn, pteFlags(pte))); // set_ptes(): the next page each
}

/**
 * copy_nonpresent_pte(): a swap entry gains a reference (swap_duplicate()) and stops being
 * exclusive in the parent; a marker is copied when the child keeps its meaning (copy_pte_marker():
 * guard and poison always, uffd-wp only with uffd-wp in the child).
 */
function* copyNonpresentPte(dst: Vma, src: Vma, dstPte: number, srcPte: number, orig: Pte, rss: number[]): KGen<void> {
  let pte = orig;
  if (isSwapEntryPte(orig)) {
    swapDuplicate(swpOffset(orig));
    if (pteSwpExclusive(orig)) {
      pte = pteClearFlags(orig, _PAGE_SWP_EXCLUSIVE); // pte_swp_clear_exclusive()
      yield* setPte(srcPte, pte);
    }
    rss[MM_SWAPENTS]++;
  } else if (isPteMarker(orig)) {
    let marker = pteMarkerBits(orig);
    if (!userfaultfdWp(dst)) marker &= ~PTE_MARKER_UFFD_WP;
    if (marker) yield* setPte(dstPte, mkMarkerPte(marker));
    return;
  } else {
    // A migration entry (migrate.ts): the child's copy would be one that remove_migration_ptes()
    // never finds, since the model's anonymous rmap walk stands for the one VMA where migration
    // found the folio (rmap.ts), not for the anon_vma tree that fork links the child into.
    throw new ModelBug(`copy_nonpresent_pte(): entry ${orig} of ${src.name}: fork of a migration or device entry is not modelled`);
  }
  if (!userfaultfdWp(dst)) pte = pteClearFlags(pte, _PAGE_SWP_UFFD_WP); // pte_swp_clear_uffd_wp()
  yield* setPte(dstPte, pte);
}

/**
 * copy_huge_pmd() (mm/huge_memory.c): share an anonymous huge PMD (or the huge zero page) with the
 * child, write-protected in both, with a deposited table for a later split. 0 when copied (or left
 * to faults: a file VMA), -EAGAIN when the PMD is no longer huge, -ENOMEM.
 */
function* copyHugePmd(dst: Vma, src: Vma, dstPmd: number, srcPmd: number, addr: Vaddr): KGen<number> {
  // The kernel first reads the PMD locklessly for a pmd_special() (PFN-map) leaf, which it copies
  // as is; the model maps no special huge PMD, so that read and branch are left out.
  // Skip if can be re-fill on fault.
  if (!dst.isAnonymous()) return 0;
  const pgtable = pgtableAlloc(dst.mm, LEVEL_PTE, addr); // pte_alloc_one()
  if (!pgtable) return -ENOMEM;
  const dstPtl = pmdLockptr(dst.mm, dstPmd);
  const srcPtl = pmdLockptr(src.mm, srcPmd);
  yield* spinLock(dstPtl); // pmd_lock()
  yield* spinLock(srcPtl); // spin_lock_nested()
  let pmd: Pmd = yield* ptepGet(srcPmd);
  if (!pmdTransHuge(pmd)) {
    pteFree(pgtable);
    yield* spinUnlock(srcPtl);
    yield* spinUnlock(dstPtl);
    return -EAGAIN;
  }
  if (!isHugeZeroPmd(pmd)) {
    const head = ptePfn(pmd) as Pfn;
    folioRefAdd(head, 1); // folio_get()
    folioTryDupAnonRmapPmd(head, dst.mm);
    addMmCounter(dst.mm, MM_ANONPAGES, HPAGE_PMD_NR);
  } // else mm_get_huge_zero_folio(): the model's huge zero page is never freed
  mmIncNrPtes(dst.mm);
  yield* pgtableTransHugeDeposit(dstPmd, pgtable);
  yield* ptepSetWrprotect(srcPmd); // pmdp_set_wrprotect()
  if (!userfaultfdWp(dst)) pmd = pteClearFlags(pmd, _PAGE_UFFD_WP);
  yield* setPte(dstPmd, pteClearFlags(pmd, _PAGE_RW | _PAGE_ACCESSED)); // pmd_wrprotect(pmd_mkold())
  yield* spinUnlock(srcPtl);
  yield* spinUnlock(dstPtl);
  return 0;
}

/**
 * The memory half of fork() (kernel/fork.c copy_mm() → dup_mm()): a new mm named `name`, filled
 * by dup_mmap(). Returns the child's mm, or the errno when dup_mmap() failed (the child is then
 * torn down, mmput()).
 */
export function* dupMm(oldmm: MmStruct, name: string): KGen<MmStruct | number> {
  const k = current.k;
  // copy_process() sleeps in its allocations before it gets here: the new mm (its pgd a table
  // other tasks' steps allocate around) is made in a step.
  yield* condResched();
  const mm = new MmStruct(k, k.mms.length, name); // allocate_mm() + mm_init()
  k.mms.push(mm);
  // Its locks and tree come to be in this step: written by it, as a new table's life is.
  for (const o of [obj(OBJ.mmlock, mm.id), obj(OBJ.flushPending, mm.id), obj(OBJ.tree, mm.id), obj(OBJ.sem, mm.mmapLock.id)]) k.rec.touch(o, true);
  for (const c of k.cpus) k.rec.touch(semReadersObj(mm.mmapLock.id, c.id), true);
  // memcpy(mm, oldmm, sizeof(*mm)): among what the model keeps, the heap's bounds.
  mm.startBrk = oldmm.startBrk;
  mm.brk = oldmm.brk;
  const err = yield* dupMmap(mm, oldmm);
  if (err) {
    yield* exitMmap(mm); // mmput()
    k.pt.free(mm.pgd); // mm_free_pgd()
    return err;
  }
  mm.flags |= oldmm.flags & MMF_VM_HUGEPAGE; // khugepaged_fork()
  return mm;
}
