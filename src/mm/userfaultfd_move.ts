/**
 * UFFDIO_MOVE (Linux 6.18: fs/userfaultfd.c userfaultfd_move(); mm/userfaultfd.c move_pages(),
 * uffd_move_lock(), validate_move_areas(), move_pages_ptes(), move_present_ptes(),
 * check_ptes_for_batched_move(), move_zeropage_pte(), move_swap_pte(), is_pte_pages_stable(),
 * double_pt_lock(); mm/huge_memory.c move_pages_huge_pmd(), kept here beside its one caller).
 *
 * Pages move between (or within) private anonymous VMAs of one mm, the destination registered with
 * the process's userfaultfd. The destination entry must be none, and a detached (reclaimed) table
 * is all none: so besides pte_same() on both entries, the destination PMD is rechecked under the
 * destination PTE lock (is_pte_pages_stable(), patch 02 of the PT_RECLAIM series; guard
 * `uffd-move-dst-pmd-recheck`), or a page is moved into a table queued for freeing (race R4).
 *
 * Modelled coarsely (docs/model.md): no anon_vma lock (the model's anonymous rmap walks name their
 * VMA, rmap.ts), so folio_get_anon_vma() never fails and move_present_ptes() batches every folio
 * check_ptes_for_batched_move() accepts; no FOLL_PIN, so folio_maybe_dma_pinned() is false; no
 * mmap_changing and no fatal signals; no mmu notifiers. The model bounds the loop's -EAGAIN
 * retries of one address (MAX_AGAIN) where the kernel would retry until a signal.
 */
import { guardOn } from './config.js';
import { addrEnd, EAGAIN, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ENOMEM, HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT, PMD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { __splitHugePmd, isHugeZeroPmd, pmdTransHugeLock, splitFolio } from './huge_memory.js';
import { ModelBug } from './bug.js';
import { pmdAlloc, pteAlloc, pteAllocSlow, pudAlloc } from './memory/pgalloc.js';
import { migrationEntryWait } from './migrate.js';
import { lockVmaUnderRcu } from './mmap_lock.js';
import { __VM_UFFD_FLAGS, VM_EXEC, VM_HUGETLB, VM_IO, VM_LOCKED, VM_MIXEDMAP, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE, type MmStruct, type Vma } from './mm_types.js';
import { PG_anon_exclusive, PT_ANON } from './page_alloc.js';
import { PteMapOut, pgtableTransHugeDeposit, pgtableTransHugeWithdraw, ptepClearFlush, pteOffsetMapRwNolock, pteUnmap } from './pgtable_generic.js';
import { mmFindPmd } from './pgtable_mm.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  _PAGE_SPECIAL,
  _PAGE_SWP_SOFT_DIRTY,
  isMigrationPte,
  isPmdMigrationEntry,
  mkHugePmd,
  isSwapEntryPte,
  mkPte,
  pmdNone,
  pmdPfn,
  pmdPresent,
  pmdTransHuge,
  pteDirty,
  ptePfn,
  ptePresent,
  pteNone,
  pteSetFlags,
  pteSpecial,
  pteSwpExclusive,
  swpOffset,
  type Pte,
} from './pgtable_types.js';
import { downRead, flushTlbMmRange, folioLock, folioTrylock, folioUnlock, ptepGet, ptepGetAndClear, setPte, spinLock, spinUnlock, upRead, vmaRefcountIncNotZero, type KGen } from './primitives.js';
import { pmdLockptr, type LockHandle } from './ptlock.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { folioSwapOffset, swapCacheGetFolio, swapHasCache } from './swapfile.js';
import { uffdLockVma, validateRange } from './userfaultfd.js';
import { vmaPageProt } from './internal.js';
import { anonVmaPrepare } from './rmap.js';
import { vmaLookup } from './vma_tree.js';

/** uffdio_move.mode bits (include/uapi/linux/userfaultfd.h). */
export const UFFDIO_MOVE_MODE_DONTWAKE = 1 << 0;
export const UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES = 1 << 1;

/** Passes of move_pages()'s loop at one address that end in -EAGAIN before the model gives up. */
const MAX_AGAIN = 16;

/**
 * userfaultfd_move(): both ranges validated, then move_pages(). 0 when the whole length moved,
 * -EAGAIN for a short move (uffdio_move.move holds the bytes moved), or move_pages()'s error.
 */
export function* userfaultfdMove(mm: MmStruct, dstStart: Vaddr, srcStart: Vaddr, len: number, mode: number): KGen<number> {
  const bad = validateRange(dstStart, len) || validateRange(srcStart, len);
  if (bad) return bad;
  if (mode & ~(UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES | UFFDIO_MOVE_MODE_DONTWAKE)) return -EINVAL;
  const ret = yield* movePages(mm, dstStart, srcStart, len, mode);
  if (ret < 0) return ret;
  return ret === len ? 0 : -EAGAIN;
}

/**
 * move_pages(): the bytes moved, or a negative errno when none were. The loop keeps the kernel's
 * error handling: `err` is set by a failing pass and a pass that moves pages does not clear it
 * (`if (ret < 0) err = ret; else step_size = ret;`), so after a pass that returned -EAGAIN the
 * next successful pass does not advance, and the same address runs again: it finds its own page
 * at the destination (-EEXIST), or, if it was zapped meanwhile, no source page (-ENOENT). The
 * ioctl fails although the page moved (docs/explorer.md, "Sequential explainability"). The
 * huge-PMD branch assigns `err` and has no such carry-over.
 */
export function* movePages(mm: MmStruct, dstStart: Vaddr, srcStart: Vaddr, len: number, mode: number): KGen<number> {
  const locked = yield* uffdMoveLock(mm, dstStart, srcStart);
  if (typeof locked === 'number') return locked;
  const { dst: dstVma, src: srcVma } = locked;
  let err = -EINVAL;
  let moved = 0;
  // Make sure the vma is not shared, that the src and dst remap ranges are both valid and fully
  // within a single existing vma.
  if (!(srcVma.flags & VM_SHARED) && srcStart + len <= srcVma.end && !(dstVma.flags & VM_SHARED) && dstStart + len <= dstVma.end) {
    err = validateMoveAreas(srcVma, dstVma);
    const srcEnd = srcStart + len;
    if (!err) for (let srcAddr = srcStart, dstAddr = dstStart, again = 0; srcAddr < srcEnd; ) {
      let stepSize = 0;
      let srcPmd = yield* mmFindPmd(mm, srcAddr);
      if (!srcPmd) {
        if (!(mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES)) {
          err = -ENOENT;
          break;
        }
        srcPmd = yield* mmAllocPmd(mm, srcAddr);
        if (!srcPmd) {
          err = -ENOMEM;
          break;
        }
      }
      const dstPmd = yield* mmAllocPmd(mm, dstAddr);
      if (!dstPmd) {
        err = -ENOMEM;
        break;
      }
      // If the dst_pmd is mapped as THP don't override it and just be strict. If it turns into a
      // THP after this check, move_pages_huge_pmd() retries and move_pages_ptes() fails.
      const dstPmdval = yield* ptepGet(dstPmd); // pmdp_get_lockless()
      if (pmdTransHuge(dstPmdval)) {
        err = -EEXIST;
        break;
      }
      const ptl = yield* pmdTransHugeLock(srcVma, srcPmd);
      if (ptl) {
        if (moveSplitsHugePmd(dstAddr, srcAddr, srcEnd) || !pmdNone(dstPmdval)) {
          // Can be a migration entry.
          const cur = yield* ptepGet(srcPmd);
          if (pmdPresent(cur) && !isHugeZeroPmd(cur) && !pageAnonExclusive(pmdPfn(cur))) {
            yield* spinUnlock(ptl);
            err = -EBUSY;
            break;
          }
          yield* spinUnlock(ptl);
          yield* __splitHugePmd(srcVma, srcPmd, srcAddr); // the folio is split by move_pages_ptes()
          continue;
        }
        err = yield* movePagesHugePmd(mm, dstPmd, srcPmd, dstPmdval, dstVma, srcVma, dstAddr, srcAddr, ptl);
        stepSize = HPAGE_PMD_SIZE;
      } else {
        if (pmdNone(yield* ptepGet(srcPmd))) {
          if (!(mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES)) {
            err = -ENOENT;
            break;
          }
          if (!(yield* pteAllocSlow(mm, srcPmd, srcAddr))) {
            err = -ENOMEM; // __pte_alloc()
            break;
          }
        }
        if (!(yield* pteAlloc(mm, dstPmd, dstAddr))) {
          err = -ENOMEM;
          break;
        }
        const ret = yield* movePagesPtes(mm, dstPmd, srcPmd, dstVma, srcVma, dstAddr, srcAddr, srcEnd - srcAddr, mode);
        if (ret < 0) err = ret;
        else stepSize = ret;
      }
      // cond_resched() is left out: every step already is a scheduling point.
      if (err) {
        if (err === -EAGAIN && ++again < MAX_AGAIN) continue;
        break;
      }
      again = 0;
      dstAddr += stepSize;
      srcAddr += stepSize;
      moved += stepSize;
    }
  }
  yield* uffdMoveUnlock(dstVma, srcVma);
  return moved ? moved : err;
}

/**
 * move_pages_huge_pmd() (mm/huge_memory.c, 6.18): a PMD-mapped THP moves whole into a none,
 * PMD-aligned destination slot, with the PTE table deposited for it. Entered with the source PMD
 * lock held (pmd_trans_huge_lock()), which it drops. Returns 0 or a negative errno.
 */
function* movePagesHugePmd(mm: MmStruct, dstPmd: number, srcPmd: number, dstPmdval: number, dstVma: Vma, srcVma: Vma, dstAddr: Vaddr, srcAddr: Vaddr, srcPtl: LockHandle): KGen<number> {
  const mem = current.k.mem;
  const srcPmdval = yield* ptepGet(srcPmd);
  // Sanity checks before the operation.
  if (!pmdNone(dstPmdval) || srcAddr % HPAGE_PMD_SIZE || dstAddr % HPAGE_PMD_SIZE) {
    yield* spinUnlock(srcPtl);
    return -EINVAL;
  }
  if (!pmdTransHuge(srcPmdval)) {
    yield* spinUnlock(srcPtl);
    // pmd_migration_entry_wait(): the model migrates no THP, so no PMD migration entry is here.
    if (isPmdMigrationEntry(srcPmdval)) throw new ModelBug('UFFDIO_MOVE met a PMD migration entry, which the model never makes');
    return -ENOENT;
  }
  if (isHugeZeroPmd(srcPmdval)) {
    // 6.18 builds the destination PMD with folio_mk_pmd(src_folio, ...) where src_folio is NULL
    // for the huge zero page; the model does not guess what that maps.
    yield* spinUnlock(srcPtl);
    throw new ModelBug('UFFDIO_MOVE of a huge zero PMD (6.18 makes the new PMD from a NULL folio) is not modelled');
  }
  const srcFolio = pmdPfn(srcPmdval);
  if (!pageAnonExclusive(srcFolio)) {
    yield* spinUnlock(srcPtl);
    return -EBUSY;
  }
  folioRefAdd(srcFolio, 1);
  yield* spinUnlock(srcPtl);
  yield* folioLock(srcFolio);
  // folio_get_anon_vma() and the anon_vma write lock: not modelled (file comment).
  let err = 0;
  const dstPtl = pmdLockptr(mm, dstPmd);
  yield* doublePtLock(srcPtl, dstPtl);
  if ((yield* ptepGet(srcPmd)) !== srcPmdval || (yield* ptepGet(dstPmd)) !== dstPmdval) {
    err = -EAGAIN;
  } else if (!pageAnonExclusive(srcFolio) || mem.type[srcFolio] !== PT_ANON) {
    err = -EBUSY; // folio_maybe_dma_pinned() is false: no FOLL_PIN in the model
  } else {
    yield* ptepGetAndClear(srcPmd); // pmdp_huge_clear_flush()
    yield* flushTlbMmRange(srcVma.mm, srcAddr, srcAddr + HPAGE_PMD_SIZE, PMD_SHIFT, false);
    // folio_move_anon_rmap(): nothing to move (file comment). As mremap(), the entry is dirty after the move.
    yield* setPte(dstPmd, mkHugePmd(srcFolio, vmaPageProt(dstVma) | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_RW));
    const pgtable = pgtableTransHugeWithdraw(srcPmd);
    if (pgtable) yield* pgtableTransHugeDeposit(dstPmd, pgtable);
  }
  yield* doublePtUnlock(srcPtl, dstPtl);
  yield* folioUnlock(srcFolio);
  folioPutRefs(srcFolio, 1);
  return err;
}

/** move_splits_huge_pmd(): a huge source PMD moves whole only PMD-aligned at both ends and for a whole PMD. */
function moveSplitsHugePmd(dstAddr: Vaddr, srcAddr: Vaddr, srcEnd: Vaddr): boolean {
  return srcAddr % HPAGE_PMD_SIZE !== 0 || dstAddr % HPAGE_PMD_SIZE !== 0 || srcEnd - srcAddr < HPAGE_PMD_SIZE;
}

/** mm_alloc_pmd() (mm/userfaultfd.c): the PMD slot of `addr`, with the upper levels allocated; 0 when out of memory. */
function* mmAllocPmd(mm: MmStruct, addr: Vaddr): KGen<number> {
  const pudp = yield* pudAlloc(mm, addr);
  return pudp ? yield* pmdAlloc(mm, pudp, addr) : 0;
}

/**
 * uffd_move_lock() (CONFIG_PER_VMA_LOCK): the destination VMA read-locked (uffd_lock_vma()), the
 * source the same VMA when it holds src_start, else read-locked under RCU; when that fails,
 * both are found and read-locked under the mmap_lock (find_vmas_mm_locked()). Returns both VMAs
 * read-locked, or a negative errno with none held.
 */
function* uffdMoveLock(mm: MmStruct, dstStart: Vaddr, srcStart: Vaddr): KGen<{ dst: Vma; src: Vma } | number> {
  const dst = yield* uffdLockVma(mm, dstStart);
  if (typeof dst === 'number') return dst;
  if (srcStart >= dst.start && srcStart < dst.end) return { dst, src: dst };
  const src = yield* lockVmaUnderRcu(mm, srcStart);
  if (src) return { dst, src };
  // Undo any locking and retry in mmap_lock critical section.
  yield* upRead(dst.vmLock);
  yield* downRead(mm.mmapLock);
  let ret: { dst: Vma; src: Vma } | number;
  const vmas = findVmasMmLocked(mm, dstStart, srcStart);
  if (typeof vmas === 'number') ret = vmas;
  else if ((yield* vmaRefcountIncNotZero(vmas.dst)) !== true) ret = -EAGAIN; // vma_start_read_locked()
  else if (vmas.dst === vmas.src) ret = vmas;
  else if ((yield* vmaRefcountIncNotZero(vmas.src)) !== true) {
    yield* upRead(vmas.dst.vmLock); // undo dst_vmap locking if src_vmap failed to lock
    ret = -EAGAIN;
  } else ret = vmas;
  yield* upRead(mm.mmapLock);
  return ret;
}

/** uffd_move_unlock(): vma_end_read() of both. */
function* uffdMoveUnlock(dst: Vma, src: Vma): KGen<void> {
  yield* upRead(src.vmLock);
  if (src !== dst) yield* upRead(dst.vmLock);
}

/** find_vmas_mm_locked(): find_vma_and_prepare_anon() for the destination, vma_lookup() for the source. */
function findVmasMmLocked(mm: MmStruct, dstStart: Vaddr, srcStart: Vaddr): { dst: Vma; src: Vma } | number {
  const dst = vmaLookup(mm, dstStart);
  if (!dst) return -ENOENT;
  if (!(dst.flags & VM_SHARED)) anonVmaPrepare(dst);
  if (srcStart >= dst.start && srcStart < dst.end) return { dst, src: dst };
  const src = vmaLookup(mm, srcStart);
  return src ? { dst, src } : -ENOENT;
}

const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** validate_move_areas(): 0 or -EINVAL. One userfaultfd per process: "registered with ctx" is any uffd flag. */
function validateMoveAreas(src: Vma, dst: Vma): number {
  // Only allow moving if both have the same access and protection.
  if ((src.flags & VM_ACCESS_FLAGS) !== (dst.flags & VM_ACCESS_FLAGS) || vmaPageProt(src) !== vmaPageProt(dst)) return -EINVAL;
  // Only allow moving if both are mlocked or both aren't.
  if ((src.flags & VM_LOCKED) !== (dst.flags & VM_LOCKED)) return -EINVAL;
  // For now, only move between writable VMAs (access flags are equal).
  if (!(src.flags & VM_WRITE)) return -EINVAL;
  if (!vmaMoveCompatible(src) || !vmaMoveCompatible(dst)) return -EINVAL;
  if (!(dst.flags & __VM_UFFD_FLAGS)) return -EINVAL;
  if (!src.isAnonymous() || !dst.isAnonymous()) return -EINVAL;
  return 0;
}

/** vma_move_compatible() (VM_SHADOW_STACK has no model). */
function vmaMoveCompatible(vma: Vma): boolean {
  return !(vma.flags & (VM_PFNMAP | VM_IO | VM_HUGETLB | VM_MIXEDMAP));
}

/** PageAnonExclusive(&folio->page): the flag of the folio's first page. */
function pageAnonExclusive(head: Pfn): boolean {
  touchFolio(head, false);
  return current.k.mem.testFlags(head, PG_anon_exclusive) !== 0;
}

/** double_pt_lock(): both PTE locks, in address order when they differ. */
function* doublePtLock(ptl1: LockHandle, ptl2: LockHandle): KGen<void> {
  const [first, second] = ptl1 < ptl2 ? [ptl1, ptl2] : [ptl2, ptl1];
  yield* spinLock(first);
  if (second !== first) yield* spinLock(second);
}

/** double_pt_unlock(). */
function* doublePtUnlock(ptl1: LockHandle, ptl2: LockHandle): KGen<void> {
  yield* spinUnlock(ptl1);
  if (ptl2 !== ptl1) yield* spinUnlock(ptl2);
}

/** The entries, PMD and locks move_pages_ptes() works on, for its helpers. */
interface MoveCtx {
  readonly mm: MmStruct;
  readonly dstVma: Vma;
  readonly srcVma: Vma;
  readonly dstPmd: number;
  readonly dstPmdval: number;
  readonly dstPtl: LockHandle;
  readonly srcPtl: LockHandle;
}

/**
 * is_pte_pages_stable(): both entries unchanged and (patch 02) the destination PMD too, under both
 * PTE locks.
 */
function* isPtePagesStable(c: MoveCtx, dstPte: number, srcPte: number, origDst: Pte, origSrc: Pte): KGen<boolean> {
  return (
    (yield* ptepGet(srcPte)) === origSrc &&
    (yield* ptepGet(dstPte)) === origDst &&
    (!guardOn(current.k.cfg, 'uffd-move-dst-pmd-recheck') || (yield* ptepGet(c.dstPmd)) === c.dstPmdval)
  );
}

/**
 * move_pages_ptes(): from one source entry on, as much as move_present_ptes() batches: the bytes
 * moved, or a negative errno. Both tables are mapped with pte_offset_map_rw_nolock(); a folio lock
 * that must be waited for, a split and the migration wait happen with both unmapped, then it starts
 * over (`retry`; a flag, not a labelled continue, which StrykerJS's instrumentation cannot keep).
 */
function* movePagesPtes(mm: MmStruct, dstPmd: number, srcPmd: number, dstVma: Vma, srcVma: Vma, dstAddr: Vaddr, srcAddr: Vaddr, len: number, mode: number): KGen<number> {
  const mem = current.k.mem;
  let srcFolio = 0 as Pfn | 0;
  let srcFolioPte: Pte = 0;
  let ret = 0;
  for (;;) {
    let retry = false; // start over: both tables unmapped, the folio kept
    const dstOut = new PteMapOut();
    // The maywrite version: dst_pte will be modified, and pte_same() cannot keep its table from
    // being freed, so dst_pmdval is rechecked later.
    let dstPte = yield* pteOffsetMapRwNolock(mm, dstPmd, dstAddr, dstOut);
    let srcPte = -1;
    const unmapBoth = function* (): KGen<void> {
      // Unmap in reverse order (LIFO): src_pte first, then dst_pte.
      if (srcPte >= 0) yield* pteUnmap(srcPte);
      if (dstPte >= 0) yield* pteUnmap(dstPte);
      srcPte = dstPte = -1;
    };
    out: {
      if (dstPte < 0) {
        ret = -EAGAIN; // a huge PMD materialized from under us
        break out;
      }
      const srcOut = new PteMapOut();
      srcPte = yield* pteOffsetMapRwNolock(mm, srcPmd, srcAddr, srcOut);
      if (srcPte < 0) {
        ret = -EAGAIN;
        break out;
      }
      const c: MoveCtx = { mm, dstVma, srcVma, dstPmd, dstPmdval: dstOut.pmdval, dstPtl: dstOut.ptl, srcPtl: srcOut.ptl };
      // Sanity checks before the operation: plain reads of both PMDs. A table reclaimed since it
      // was mapped above is -EINVAL here, where the map itself would have said -EAGAIN.
      const dstPmdNow = yield* ptepGet(dstPmd);
      const srcPmdNow = yield* ptepGet(srcPmd);
      if (pmdNone(dstPmdNow) || pmdNone(srcPmdNow) || pmdTransHuge(dstPmdNow) || pmdTransHuge(srcPmdNow)) {
        ret = -EINVAL;
        break out;
      }
      yield* spinLock(c.dstPtl);
      const origDst = yield* ptepGet(dstPte);
      yield* spinUnlock(c.dstPtl);
      if (!pteNone(origDst)) {
        ret = -EEXIST;
        break out;
      }
      yield* spinLock(c.srcPtl);
      const origSrc = yield* ptepGet(srcPte);
      yield* spinUnlock(c.srcPtl);
      if (pteNone(origSrc)) {
        ret = mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ? PAGE_SIZE : -ENOENT; // nothing to do to move a hole
        break out;
      }
      // If the PTE changed after we locked the folio, start over.
      if (srcFolio && srcFolioPte !== origSrc) {
        ret = -EAGAIN;
        break out;
      }
      if (ptePresent(origSrc)) {
        if (ptePfn(origSrc) === mem.zeroPfn) {
          ret = yield* moveZeropagePte(c, srcAddr, dstPte, srcPte, origDst, origSrc);
          break out;
        }
        // Pin and lock the source folio. Inside the RCU section no sleeping: on contention, unmap,
        // take the lock and retry.
        if (!srcFolio) {
          yield* spinLock(c.srcPtl);
          if ((yield* ptepGet(srcPte)) !== origSrc) {
            yield* spinUnlock(c.srcPtl);
            ret = -EAGAIN;
            break out;
          }
          const folio = pteSpecial(origSrc) ? 0 : mem.folioHead(ptePfn(origSrc)); // vm_normal_folio()
          if (!folio || !pageAnonExclusive(folio)) {
            yield* spinUnlock(c.srcPtl);
            ret = -EBUSY;
            break out;
          }
          const locked = yield* folioTrylock(folio);
          // No waiting for a large folio's lock with a raised refcount: split_folio() would fail.
          if (!locked && mem.order[folio] > 0) {
            yield* spinUnlock(c.srcPtl);
            ret = -EAGAIN;
            break out;
          }
          folioRefAdd(folio, 1);
          srcFolio = folio;
          srcFolioPte = origSrc;
          yield* spinUnlock(c.srcPtl);
          if (!locked) {
            yield* unmapBoth();
            yield* folioLock(srcFolio); // now we can block and wait
            retry = true;
            break out;
          }
          if (mem.type[srcFolio] !== PT_ANON) {
            ret = -EBUSY; // WARN_ON_ONCE(!folio_test_anon())
            break out;
          }
        }
        if (mem.order[srcFolio] > 0) {
          yield* unmapBoth(); // split_folio() can block
          ret = yield* splitFolio(srcVma, srcPmd, srcAddr, srcFolio);
          if (ret) break out;
          // Reacquire the folio after it got split.
          yield* folioUnlock(srcFolio);
          folioPutRefs(srcFolio, 1);
          srcFolio = 0;
          retry = true;
          break out;
        }
        const first = { folio: srcFolio };
        ret = yield* movePresentPtes(c, dstAddr, srcAddr, dstPte, srcPte, origDst, origSrc, first, len);
        srcFolio = first.folio;
        break out;
      }
      if (!isSwapEntryPte(origSrc)) {
        // non_swap_entry(): a migration entry is waited for, then retried; a marker is -EFAULT.
        if (isMigrationPte(origSrc)) {
          yield* unmapBoth();
          yield* migrationEntryWait(mm, srcPmd, srcAddr);
          ret = -EAGAIN;
        } else {
          ret = -EFAULT;
        }
        break out;
      }
      if (!pteSwpExclusive(origSrc)) {
        ret = -EBUSY;
        break out;
      }
      // get_swap_device() cannot fail: the model's swap area is never taken away under a swap
      // entry (swapoff empties it first). The swap cache's folio must move with the entry.
      if (!srcFolio) {
        const folio = swapCacheGetFolio(swpOffset(origSrc));
        if (folio) {
          if (mem.order[folio] > 0) {
            folioPutRefs(folio, 1);
            ret = -EBUSY;
            break out;
          }
          srcFolio = folio;
          srcFolioPte = origSrc;
          if (!(yield* folioTrylock(srcFolio))) {
            yield* unmapBoth();
            yield* folioLock(srcFolio); // now we can block and wait
            retry = true;
            break out;
          }
        }
      }
      ret = yield* moveSwapPte(c, dstPte, srcPte, origDst, origSrc, srcFolio);
    }
    if (retry) continue;
    if (srcFolio) {
      yield* folioUnlock(srcFolio);
      folioPutRefs(srcFolio, 1);
    }
    yield* unmapBoth();
    return ret;
  }
}

/**
 * move_present_ptes(): under both PTE locks, the entries from `srcAddr` on move one by one while
 * the next source entry is an exclusive order-0 anonymous page whose lock is free
 * (check_ptes_for_batched_move()) and the destination entry none, up to the end of either table
 * or `len`. The first folio, locked by the caller, is given up (`first.folio` = 0) once the move
 * starts. Returns the bytes moved, or -EAGAIN / -EBUSY when nothing moved.
 */
function* movePresentPtes(c: MoveCtx, dstAddr: Vaddr, srcAddr: Vaddr, dstPte: number, srcPte: number, origDst: Pte, origSrc: Pte, first: { folio: Pfn | 0 }, len: number): KGen<number> {
  const mem = current.k.mem;
  let err = 0;
  let srcFolio = first.folio as Pfn;
  const srcStart = srcAddr;
  const tableLen = addrEnd(dstAddr, dstAddr + len, PMD_SIZE) - dstAddr;
  const srcEnd = addrEnd(srcAddr, srcAddr + tableLen, PMD_SIZE);
  yield* doublePtLock(c.dstPtl, c.srcPtl);
  out: {
    if (!(yield* isPtePagesStable(c, dstPte, srcPte, origDst, origSrc))) {
      err = -EAGAIN;
      break out;
    }
    if (mem.order[srcFolio] > 0 || !pageAnonExclusive(srcFolio)) {
      err = -EBUSY;
      break out;
    }
    // It's safe to drop the reference now as the page table is holding one.
    folioPutRefs(srcFolio, 1);
    first.folio = 0;
    for (;;) {
      const moved = yield* ptepGetAndClear(srcPte);
      // folio_move_anon_rmap(): the model's anonymous folios carry no anon_vma or index to move.
      // folio_mk_pte() with the destination's vm_page_prot (x86's has _PAGE_ACCESSED), soft-dirty
      // so that user space notices the move, dirty as the source was, and writable.
      const dstPteval = mkPte(srcFolio, vmaPageProt(c.dstVma) | _PAGE_ACCESSED | _PAGE_SOFT_DIRTY | (pteDirty(moved) ? _PAGE_DIRTY : 0) | _PAGE_RW);
      yield* setPte(dstPte, dstPteval);
      srcAddr += PAGE_SIZE;
      if (srcAddr === srcEnd) break;
      dstAddr += PAGE_SIZE;
      dstPte++;
      srcPte++;
      yield* folioUnlock(srcFolio);
      srcFolio = (yield* checkPtesForBatchedMove(c.srcVma, dstPte, srcPte)) as Pfn;
      if (!srcFolio) break;
    }
    if (srcAddr > srcStart) yield* flushTlbMmRange(c.mm, srcStart, srcAddr, PAGE_SHIFT, false);
    if (srcFolio) yield* folioUnlock(srcFolio);
  }
  yield* doublePtUnlock(c.dstPtl, c.srcPtl);
  return srcAddr > srcStart ? srcAddr - srcStart : err;
}

/**
 * check_ptes_for_batched_move(): the next source folio, locked, if it can join the batch: the
 * destination none, the source a present, non-zero, exclusive order-0 page whose lock is free
 * (one anon_vma for all: the model has no anon_vma to compare).
 */
function* checkPtesForBatchedMove(_srcVma: Vma, dstPte: number, srcPte: number): KGen<Pfn | 0> {
  const mem = current.k.mem;
  if (!pteNone(yield* ptepGet(dstPte))) return 0;
  const origSrc = yield* ptepGet(srcPte);
  if (!ptePresent(origSrc) || ptePfn(origSrc) === mem.zeroPfn) return 0;
  const folio = pteSpecial(origSrc) ? 0 : mem.folioHead(ptePfn(origSrc)); // vm_normal_folio()
  if (!folio || !(yield* folioTrylock(folio))) return 0;
  if (!pageAnonExclusive(folio) || mem.order[folio] > 0) {
    yield* folioUnlock(folio);
    return 0;
  }
  return folio;
}

/** move_zeropage_pte(): the shared zero page is not a folio to lock; the source entry is cleared with a flush. */
function* moveZeropagePte(c: MoveCtx, srcAddr: Vaddr, dstPte: number, srcPte: number, origDst: Pte, origSrc: Pte): KGen<number> {
  yield* doublePtLock(c.dstPtl, c.srcPtl);
  if (!(yield* isPtePagesStable(c, dstPte, srcPte, origDst, origSrc))) {
    yield* doublePtUnlock(c.dstPtl, c.srcPtl);
    return -EAGAIN;
  }
  const zeroPte = mkPte(current.k.mem.zeroPfn, vmaPageProt(c.dstVma) | _PAGE_SPECIAL); // pte_mkspecial(pfn_pte(my_zero_pfn()))
  yield* ptepClearFlush(c.srcVma, srcAddr, srcPte);
  yield* setPte(dstPte, zeroPte);
  yield* doublePtUnlock(c.dstPtl, c.srcPtl);
  return PAGE_SIZE;
}

/**
 * move_swap_pte(): an exclusive swap entry moves as it is (soft-dirty). A folio in the swap cache
 * for it was locked by the caller and must still be that entry's; without one, a folio that came
 * into the swap cache meanwhile (SWAP_HAS_CACHE) makes it start over.
 */
function* moveSwapPte(c: MoveCtx, dstPte: number, srcPte: number, origDst: Pte, origSrc: Pte, srcFolio: Pfn | 0): KGen<number> {
  const offset = swpOffset(origSrc);
  if (srcFolio && folioSwapOffset(srcFolio) !== offset) return -EAGAIN; // !folio_test_swapcache() or another entry
  yield* doublePtLock(c.dstPtl, c.srcPtl);
  if (!(yield* isPtePagesStable(c, dstPte, srcPte, origDst, origSrc))) {
    yield* doublePtUnlock(c.dstPtl, c.srcPtl);
    return -EAGAIN;
  }
  // folio_move_anon_rmap() of a swap-cache folio: nothing to move in the model (above).
  if (!srcFolio && swapHasCache(offset)) {
    yield* doublePtUnlock(c.dstPtl, c.srcPtl);
    return -EAGAIN;
  }
  const entry = yield* ptepGetAndClear(srcPte);
  yield* setPte(dstPte, pteSetFlags(entry, _PAGE_SWP_SOFT_DIRTY));
  yield* doublePtUnlock(c.dstPtl, c.srcPtl);
  return PAGE_SIZE;
}
