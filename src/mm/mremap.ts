/**
 * Resizing and moving mappings (mm/mremap.c: do_mremap(), mremap_to(), expand_vma_in_place(),
 * move_vma(), copy_vma_and_data(), move_page_tables(), move_normal_pud(), move_normal_pmd(),
 * move_ptes(); mm/huge_memory.c: move_huge_pmd(); mm/vma.c: copy_vma()).
 *
 * The model has no get_unmapped_area(): a move goes to the address the caller passes (the one the
 * real kernel chose, or the user's with MREMAP_FIXED). Left out: hugetlb, uffd remap events,
 * mseal, VM_ACCOUNT charging, the revert path of a failed page-table move (the model's allocations
 * fail only when memory is exhausted; that is reported as a ModelBug).
 */
import { ModelBug } from './bug.js';
import { alignUp, EFAULT, EINVAL, ENOMEM, HPAGE_PMD_SIZE, PAGE_SIZE, PMD_SIZE, PUD_SIZE, TASK_SIZE, type Vaddr } from './const.js';
import { __splitHugePmd } from './huge_memory.js';
import { pgdOffset, pmdAlloc, pmdOffset, pteAlloc, pudAlloc, pudOffset } from './memory/pgalloc.js';
import { VM_LOCKED, VM_LOCKED_MASK, VM_PFNMAP, Vma, type MmStruct } from './mm_types.js';
import { doVmiMunmap, mmapWriteUnlock, vmaMergeNewRange, vmaStartWrite } from './mmap.js';
import { PteMapOut, pteOffsetMapLock, pteOffsetMapRwNolock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import { isPmdMigrationEntry, pmdIsTable, pmdNone, pmdTransHuge, pteNone, ptePresent } from './pgtable_types.js';
import {
  condResched,
  downRead,
  downWrite,
  flushTlbMmRange,
  ptepGet,
  ptepGetAndClear,
  setPte,
  spinLock,
  spinUnlock,
  upRead,
  type KGen,
} from './primitives.js';
import { mmLockHandle, pmdLockptr, type LockHandle } from './ptlock.js';
import { __mmPopulate } from './gup.js';
import { pgtableTransHugeDeposit, pgtableTransHugeWithdraw } from './pgtable_generic.js';
import { canMerge, findVma, vmaLookup, vmaMergeNeighbours, vmaNext } from './vma.js';

/** include/uapi/linux/mman.h. */
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

/** struct vma_remap_struct: the request as do_mremap() refines it. */
interface Vrm {
  mm: MmStruct;
  addr: Vaddr;
  oldLen: number;
  newLen: number;
  flags: number;
  newAddr: Vaddr;
  /** Expanding a VM_LOCKED mapping: populate the new part after unlocking. */
  populateExpand: boolean;
}

/**
 * do_mremap(): returns the (new) address or a negative errno. `newAddr` is where a move goes:
 * the user's address with MREMAP_FIXED, otherwise the one get_unmapped_area() chose on the real
 * kernel (used only if the mapping cannot grow in place).
 */
export function* doMremap(mm: MmStruct, addr: Vaddr, oldLen: number, newLen: number, flags: number, newAddr: Vaddr): KGen<number> {
  // check_mremap_params()
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return -EINVAL;
  if (addr % PAGE_SIZE) return -EINVAL;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) && !(flags & MREMAP_MAYMOVE)) return -EINVAL;
  oldLen = alignUp(oldLen, PAGE_SIZE);
  newLen = alignUp(newLen, PAGE_SIZE);
  if (!newLen || !oldLen) return -EINVAL; // old_len 0 (duplicating a shared mapping) is not modelled
  if (flags & MREMAP_DONTUNMAP && oldLen !== newLen) return -EINVAL;
  if (flags & MREMAP_FIXED && (newAddr % PAGE_SIZE || newAddr + newLen > TASK_SIZE)) return -EINVAL;
  const vrm: Vrm = { mm, addr, oldLen, newLen, flags, newAddr, populateExpand: false };
  yield* downWrite(mm.mmapLock);
  let res = yield* checkPrepVma(vrm);
  if (res === 0) res = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) ? yield* mremapTo(vrm) : yield* mremapAt(vrm);
  yield* mmapWriteUnlock(mm);
  if (res >= 0 && vrm.populateExpand) {
    // mm_populate() of the part that was added, after the lock is dropped.
    yield* __mmPopulate(mm, res + vrm.oldLen, vrm.newLen - vrm.oldLen, true);
  }
  return res;
}

/** check_prep_vma(): the old range must lie in one VMA; growing needs an expandable one. */
function* checkPrepVma(vrm: Vrm): KGen<number> {
  const vma = vmaLookup(vrm.mm, vrm.addr);
  if (!vma) return -EFAULT;
  if (vrm.oldLen > vma.end - vrm.addr) return -EFAULT;
  if (vrm.newLen === vrm.oldLen && !(vrm.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) return 0;
  if (vrm.newLen > vrm.oldLen && vma.flags & VM_LOCKED) vrm.populateExpand = true;
  if (vma.flags & VM_PFNMAP && vrm.newLen !== vrm.oldLen) return -EFAULT;
  yield* condResched();
  return 0;
}

/** mremap_at(): no new address was implied: shrink, grow in place, or grow by moving. */
function* mremapAt(vrm: Vrm): KGen<number> {
  if (vrm.newLen === vrm.oldLen) return vrm.addr;
  if (vrm.newLen < vrm.oldLen) {
    // shrink_vma(): unmap the tail (the write lock is kept here; the kernel may drop it early).
    yield* doVmiMunmap(vrm.mm, vrm.addr + vrm.newLen, vrm.addr + vrm.oldLen, false);
    return vrm.addr;
  }
  const vma = vmaLookup(vrm.mm, vrm.addr)!;
  if (vrm.addr + vrm.oldLen === vma.end && vmaExpandable(vrm.mm, vma, vrm.newLen - vrm.oldLen)) {
    yield* expandVmaInPlace(vrm, vma);
    return vrm.addr;
  }
  if (!(vrm.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  return yield* moveVma(vrm, vma);
}

/** vma_expandable(): nothing mapped in the `delta` bytes after the VMA. */
function vmaExpandable(mm: MmStruct, vma: Vma, delta: number): boolean {
  const end = vma.end + delta;
  if (end > TASK_SIZE) return false;
  const next = findVma(mm, vma.end);
  return !next || next.start >= end;
}

/** expand_vma_in_place() → vma_merge_extend(): the VMA grows, and merges with a compatible next. */
function* expandVmaInPlace(vrm: Vrm, vma: Vma): KGen<void> {
  yield* vmaStartWrite(vma);
  const delta = vrm.newLen - vrm.oldLen;
  vma.end += delta;
  vrm.mm.totalVm += delta / PAGE_SIZE; // vrm_stat_account()
  if (vma.flags & VM_LOCKED_MASK) vrm.mm.lockedVm += delta / PAGE_SIZE;
  const next = vmaNext(vrm.mm, vma);
  if (next && canMerge(vma, next)) vmaMergeNeighbours(vrm.mm, vma);
}

/**
 * mremap_to(): MREMAP_FIXED first unmaps the target; a shrinking request first unmaps the tail of
 * the source; then the (remaining) source moves.
 */
function* mremapTo(vrm: Vrm): KGen<number> {
  if (vrm.addr + vrm.oldLen > vrm.newAddr && vrm.newAddr + vrm.newLen > vrm.addr) return -EINVAL; // vrm_overlaps()
  if (vrm.flags & MREMAP_FIXED) yield* doVmiMunmap(vrm.mm, vrm.newAddr, vrm.newAddr + vrm.newLen, false);
  if (vrm.newLen < vrm.oldLen) {
    yield* doVmiMunmap(vrm.mm, vrm.addr + vrm.newLen, vrm.addr + vrm.oldLen, false);
    vrm.oldLen = vrm.newLen;
  }
  const vma = vmaLookup(vrm.mm, vrm.addr);
  if (!vma) return -EFAULT;
  return yield* moveVma(vrm, vma);
}

/**
 * move_vma(): copy_vma() at the new address, move_page_tables() into it, then unmap the source
 * (unmap_source_vma()), or with MREMAP_DONTUNMAP leave it in place, empty and unlocked.
 */
function* moveVma(vrm: Vrm, vma: Vma): KGen<number> {
  const mm = vrm.mm;
  const hit = findVma(mm, vrm.newAddr);
  if (hit && hit.start < vrm.newAddr + vrm.newLen) {
    // get_unmapped_area() would never have returned an occupied range: the caller's address is wrong.
    return -ENOMEM;
  }
  yield* vmaStartWrite(vma);
  const newPgoff = vma.pgoff + (vrm.addr - vma.start) / PAGE_SIZE;
  const newVma = copyVma(vma, vrm.newAddr, vrm.newLen, newPgoff);
  const moved = yield* movePageTables(vma, vrm.addr, newVma, vrm.newAddr, vrm.oldLen);
  if (moved < vrm.oldLen) throw new ModelBug('mremap: out of memory moving page tables (the revert path is not modelled)');
  if (vrm.flags & MREMAP_DONTUNMAP) {
    // dontunmap_complete(): locked_vm is left as it is, as the kernel does.
    vma.flags &= ~VM_LOCKED_MASK;
  } else {
    yield* doVmiMunmap(mm, vrm.addr, vrm.addr + vrm.oldLen, false);
  }
  return vrm.newAddr;
}

/**
 * copy_vma(): the new VMA (or a neighbour it merges into) for [addr, addr + len) at pgoff; an
 * anonymous VMA that never faulted gets the pgoff of its new address.
 */
function copyVma(vma: Vma, addr: Vaddr, len: number, pgoff: number): Vma {
  if (vma.isAnonymous() && !vma.anonVma) pgoff = addr / PAGE_SIZE;
  const nw = new Vma(vma.mm, addr, addr + len, vma.flags, vma.file, pgoff);
  nw.anonVma = vma.anonVma; // anon_vma_clone()
  nw.anonShared = vma.anonShared;
  nw.name = vma.name;
  return vmaMergeNewRange(vma.mm, nw);
}

/** struct pagetable_move_control. */
interface Pmc {
  old: Vma;
  new: Vma;
  oldAddr: Vaddr;
  newAddr: Vaddr;
  oldEnd: Vaddr;
  lenIn: number;
}

/** get_extent(): up to the next `size` boundary of both source and destination, within the range. */
function getExtent(pmc: Pmc, size: number): number {
  let extent = size - (pmc.oldAddr % size);
  if (extent > pmc.oldEnd - pmc.oldAddr) extent = pmc.oldEnd - pmc.oldAddr;
  const toNew = size - (pmc.newAddr % size);
  return Math.min(extent, toNew);
}

/** can_align_down(): the source/destination starts its VMA and nothing is mapped below it to the boundary. */
function canAlignDown(vma: Vma, addrToAlign: Vaddr, size: number): boolean {
  if (vma.start !== addrToAlign) return false;
  const masked = addrToAlign - (addrToAlign % size);
  const hit = findVma(vma.mm, masked);
  return !(hit && hit.start < vma.start);
}

/**
 * try_realign_addr() / can_realign_addr(): when both addresses sit at the same offset in their
 * PMD, the range reaches the next PMD boundary and nothing is mapped below either start, move from
 * the PMD boundary below so whole tables can move.
 */
function tryRealignAddr(pmc: Pmc, size: number): void {
  const oldAlign = pmc.oldAddr % size;
  if (pmc.lenIn < size - oldAlign || oldAlign === 0 || oldAlign !== pmc.newAddr % size) return;
  if (!canAlignDown(pmc.old, pmc.oldAddr, size) || !canAlignDown(pmc.new, pmc.newAddr, size)) return;
  pmc.oldAddr -= oldAlign;
  pmc.newAddr -= oldAlign;
}

/** move_page_tables(): returns how many bytes of the input range had their tables moved. */
export function* movePageTables(oldVma: Vma, oldAddr: Vaddr, newVma: Vma, newAddr: Vaddr, len: number): KGen<number> {
  const mm = oldVma.mm;
  const pmc: Pmc = { old: oldVma, new: newVma, oldAddr, newAddr, oldEnd: oldAddr + len, lenIn: len };
  if (!len) return 0;
  tryRealignAddr(pmc, PMD_SIZE);
  let extent = 0;
  for (; pmc.oldAddr < pmc.oldEnd; pmc.oldAddr += extent, pmc.newAddr += extent) {
    yield* condResched();
    extent = getExtent(pmc, PUD_SIZE);
    const oldPud = yield* getOldPud(mm, pmc.oldAddr);
    if (!oldPud) continue;
    const newPud = yield* pudAlloc(mm, pmc.newAddr); // alloc_new_pud()
    if (!newPud) break;
    if (extent === PUD_SIZE && (yield* moveNormalEntry(pmc, mmLockHandle(mm), mmLockHandle(mm), oldPud, newPud, PUD_SIZE))) continue;

    extent = getExtent(pmc, PMD_SIZE);
    const oldPmd = yield* getOldPmd(mm, pmc.oldAddr);
    if (!oldPmd) continue;
    const newPmd = yield* pmdAlloc(mm, newPud, pmc.newAddr); // alloc_new_pmd()
    if (!newPmd) break;
    for (;;) {
      const v = yield* ptepGet(oldPmd);
      if (isPmdMigrationEntry(v) || pmdTransHuge(v)) {
        if (extent === HPAGE_PMD_SIZE && (yield* moveHugePmd(pmc, oldPmd, newPmd))) break;
        yield* __splitHugePmd(pmc.old, oldPmd, pmc.oldAddr);
      } else if (extent === PMD_SIZE) {
        if (yield* moveNormalEntry(pmc, pmdLockptr(mm, oldPmd), pmdLockptr(mm, newPmd), oldPmd, newPmd, PMD_SIZE)) break;
      }
      if (pmdNone(yield* ptepGet(oldPmd))) break;
      if (!(yield* pteAlloc(mm, newPmd, pmc.newAddr))) return progress(pmc);
      if (yield* movePtes(pmc, extent, oldPmd, newPmd)) break; // else -EAGAIN: look at the PMD again
    }
  }
  return progress(pmc);
}

/** pmc_progress(). */
function progress(pmc: Pmc): number {
  const orig = pmc.oldEnd - pmc.lenIn;
  return pmc.oldAddr < orig ? 0 : pmc.oldAddr - orig;
}

/** get_old_pud(): the PUD slot of addr, or 0 when it (or its PGD entry) is none. */
function* getOldPud(mm: MmStruct, addr: Vaddr): KGen<number> {
  const pgdv = yield* ptepGet(pgdOffset(mm, addr));
  if (pmdNone(pgdv)) return 0;
  const pudp = pudOffset(pgdv, addr);
  return pmdNone(yield* ptepGet(pudp)) ? 0 : pudp;
}

/** get_old_pmd(): the PMD slot of addr, or 0 when it is none. */
function* getOldPmd(mm: MmStruct, addr: Vaddr): KGen<number> {
  const pudp = yield* getOldPud(mm, addr);
  if (!pudp) return 0;
  const pudv = yield* ptepGet(pudp);
  if (!pmdIsTable(pudv)) return 0;
  const pmdp = pmdOffset(pudv, addr);
  return pmdNone(yield* ptepGet(pmdp)) ? 0 : pmdp;
}

/** Take the old entry's lock and, if it is another one, the new entry's (spin_lock_nested()). */
function* lockPair(oldPtl: LockHandle, newPtl: LockHandle): KGen<void> {
  yield* spinLock(oldPtl);
  if (newPtl !== oldPtl) yield* spinLock(newPtl);
}
/** The reverse of lockPair(): the nested lock first. */
function* unlockPair(oldPtl: LockHandle, newPtl: LockHandle): KGen<void> {
  if (newPtl !== oldPtl) yield* spinUnlock(newPtl);
  yield* spinUnlock(oldPtl);
}

/**
 * move_normal_pud() / move_normal_pmd(): move a whole lower table by rewriting one entry. The
 * destination must be none (free_pgtables() released it); a PMD that turned huge or non-present
 * meanwhile is left to the slow path.
 */
function* moveNormalEntry(pmc: Pmc, oldPtl: LockHandle, newPtl: LockHandle, oldp: number, newp: number, size: number): KGen<boolean> {
  if (!pmdNone(yield* ptepGet(newp))) return false; // WARN_ON_ONCE in the kernel
  yield* lockPair(oldPtl, newPtl);
  const v = yield* ptepGet(oldp);
  if (!pmdIsTable(v)) {
    yield* unlockPair(oldPtl, newPtl);
    return false;
  }
  yield* setPte(oldp, 0); // pmd_clear() / pud_clear()
  yield* setPte(newp, v); // pmd_populate() / pud_populate() of the same table
  // flush_tlb_range(): x86's INVLPG also drops paging-structure-cache entries, which the model's
  // TLB drops only on a flush with freed_tables (docs/model.md, TLB).
  yield* flushTlbMmRange(pmc.old.mm, pmc.oldAddr, pmc.oldAddr + size, 12, true);
  yield* unlockPair(oldPtl, newPtl);
  return true;
}

/** move_huge_pmd(): move a huge PMD and, for anonymous memory, its deposited table. */
function* moveHugePmd(pmc: Pmc, oldPmd: number, newPmd: number): KGen<boolean> {
  const mm = pmc.old.mm;
  if (pmc.oldAddr % HPAGE_PMD_SIZE || pmc.newAddr % HPAGE_PMD_SIZE || pmc.oldEnd - pmc.oldAddr < HPAGE_PMD_SIZE) return false;
  if (!pmdNone(yield* ptepGet(newPmd))) return false;
  const oldPtl = pmdLockptr(mm, oldPmd);
  const newPtl = pmdLockptr(mm, newPmd);
  yield* spinLock(oldPtl); // __pmd_trans_huge_lock()
  const cur = yield* ptepGet(oldPmd);
  if (!pmdTransHuge(cur) && !isPmdMigrationEntry(cur)) {
    yield* spinUnlock(oldPtl);
    return false;
  }
  if (newPtl !== oldPtl) yield* spinLock(newPtl);
  const pmd = yield* ptepGetAndClear(oldPmd);
  // pmd_move_must_withdraw(): the deposit list belongs to the PMD table (split PMD locks).
  if (pmc.old.isAnonymous() && ((oldPmd / 512) | 0) !== ((newPmd / 512) | 0)) {
    const pgtable = pgtableTransHugeWithdraw(oldPmd);
    if (pgtable) pgtableTransHugeDeposit(newPmd, pgtable);
  }
  yield* setPte(newPmd, pmd);
  if (ptePresent(pmd)) yield* flushTlbMmRange(mm, pmc.oldAddr, pmc.oldAddr + PMD_SIZE, 21, false);
  yield* unlockPair(oldPtl, newPtl);
  return true;
}

/**
 * move_ptes(): entry by entry from the old table into the (fresh) new one, both locked; a present
 * entry means the old range must be flushed before the locks go. Returns 0 (the kernel's -EAGAIN)
 * when the old PMD no longer holds a table.
 */
function* movePtes(pmc: Pmc, extent: number, oldPmd: number, newPmd: number): KGen<number> {
  const mm = pmc.old.mm;
  const oldOut = new PteMapOut();
  const newOut = new PteMapOut();
  const oldPte = yield* pteOffsetMapLock(mm, oldPmd, pmc.oldAddr, oldOut);
  if (oldPte < 0) return 0;
  const newPte = yield* pteOffsetMapRwNolock(mm, newPmd, pmc.newAddr, newOut);
  if (newPte < 0) {
    yield* pteUnmapUnlock(oldPte, oldOut.ptl);
    return 0;
  }
  if (newOut.ptl !== oldOut.ptl) yield* spinLock(newOut.ptl);
  let forceFlush = false;
  const n = extent / PAGE_SIZE;
  for (let i = 0; i < n; i++) {
    const v = yield* ptepGet(oldPte + i);
    if (pteNone(v)) continue;
    if (!pteNone(yield* ptepGet(newPte + i))) throw new ModelBug('move_ptes: destination entry not none');
    if (ptePresent(v)) forceFlush = true;
    const pte = yield* ptepGetAndClear(oldPte + i);
    yield* setPte(newPte + i, pte);
  }
  if (forceFlush) yield* flushTlbMmRange(mm, pmc.oldAddr, pmc.oldAddr + extent, 12, false);
  if (newOut.ptl !== oldOut.ptl) yield* spinUnlock(newOut.ptl);
  yield* pteUnmap(newPte);
  yield* pteUnmapUnlock(oldPte, oldOut.ptl);
  return 1;
}
