/**
 * Resizing and moving mappings (mm/mremap.c: do_mremap(), mremap_to(), expand_vma_in_place(),
 * move_vma(), copy_vma_and_data(), move_page_tables(), move_normal_pud(), move_normal_pmd(),
 * move_ptes(); mm/huge_memory.c: move_huge_pmd(); mm/vma.c: copy_vma()).
 *
 * The model has no get_unmapped_area(): a move goes to the address the caller passes (the one the
 * real kernel chose, or the user's with MREMAP_FIXED). Left out: hugetlb, uffd remap events (a moved
 * registered VMA drops its registration, as without UFFD_FEATURE_EVENT_REMAP),
 * mseal, VM_ACCOUNT charging, the revert path of a failed page-table move (the model's allocations
 * fail only when memory is exhausted; that is reported as a ModelBug).
 */
import { ModelBug } from './bug.js';
import { alignUp, EAGAIN, EFAULT, EINVAL, ENOMEM, HPAGE_PMD_SIZE, PAGE_SIZE, PMD_SIZE, PUD_SIZE, TASK_SIZE, type Vaddr } from './const.js';
import { slotOf, tidOf } from './pgtable.js';
import { __splitHugePmd } from './huge_memory.js';
import { pmdAlloc, pteAlloc, pudAlloc } from './memory/pgalloc.js';
import { __VM_UFFD_FLAGS, VM_LOCKED, VM_LOCKED_MASK, VM_PFNMAP, Vma, vmAreaInitFrom, type MmStruct } from './mm_types.js';
import { doVmiMunmap, vmaMergeNewRange } from './mmap.js';
import { mmapWriteUnlock, vmaStartWrite } from './mmap_lock.js';
import { PteMapOut, pteOffsetMapLock, pteOffsetMapRwNolock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_SWP_UFFD_WP,
  _PAGE_UFFD_WP,
  isPmdMigrationEntry,
  isSwapPte,
  isUffdWpMarker,
  pmdIsTable,
  pmdNone,
  pmdTransHuge,
  pteClearFlags,
  pteNone,
  ptePresent,
  type Pte,
} from './pgtable_types.js';
import {
  condResched,
  downWrite,
  flushTlbMmRange,
  ptepGet,
  ptepGetAndClear,
  pteScanNone,
  setPte,
  spinLock,
  spinUnlock,
  upWrite,
  type KGen,
} from './primitives.js';
import { mmLockHandle, pmdLockptr, type LockHandle } from './ptlock.js';
import { __mmPopulate } from './gup.js';
import { current } from './current.js';
import { pgtableTransHugeDeposit, pgtableTransHugeWithdraw } from './pgtable_generic.js';
import { canMerge, vmaExpand, vmaMergeNeighbours } from './vma.js';
import { findVma, vmaLookup, vmaNext } from './vma_tree.js';
import { userfaultfdArmed, vmaHasUffdWithoutEventRemap } from './internal.js';
import { pgdOffset, pmdOffset, pudOffset } from './pgtable_mm.js';

/** include/uapi/linux/mman.h. */
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

/** enum mremap_type. */
type MremapType = 'invalid' | 'no_resize' | 'shrink' | 'expand';

/** struct vma_remap_struct: the request as do_mremap() refines it. */
interface Vrm {
  mm: MmStruct;
  vma: Vma | null;
  addr: Vaddr;
  oldLen: number;
  newLen: number;
  flags: number;
  newAddr: Vaddr;
  delta: number;
  remapType: MremapType;
  /** Expanding a VM_LOCKED mapping: populate the new part after unlocking. */
  populateExpand: boolean;
  mmapLocked: boolean;
  /** What get_unmapped_area() returns for a move without MREMAP_FIXED (the caller's newAddr). */
  unmappedArea: Vaddr;
}

/**
 * SYSCALL mremap() → do_mremap(): returns the (new) address or a negative errno. `newAddr` is where
 * a move goes: the user's address with MREMAP_FIXED (or MREMAP_DONTUNMAP's hint), otherwise the one
 * get_unmapped_area() chose on the real kernel (used only if the mapping cannot grow in place).
 */
export function* doMremap(mm: MmStruct, addr: Vaddr, oldLen: number, newLen: number, flags: number, newAddr: Vaddr): KGen<number> {
  const vrm: Vrm = { mm, vma: null, addr, oldLen, newLen, flags, newAddr, delta: 0, remapType: 'invalid', populateExpand: false, mmapLocked: false, unmappedArea: newAddr };
  vrm.oldLen = alignUp(vrm.oldLen, PAGE_SIZE);
  vrm.newLen = alignUp(vrm.newLen, PAGE_SIZE);
  let res = checkMremapParams(vrm);
  if (res) return res;
  yield* downWrite(mm.mmapLock);
  vrm.mmapLocked = true;
  if (vrmMoveOnly(vrm)) {
    res = yield* remapMove(vrm);
  } else {
    vrm.vma = vmaLookup(mm, vrm.addr);
    res = yield* checkPrepVma(vrm);
    // Actually execute mremap.
    if (!res) res = vrmImpliesNewAddr(vrm) ? yield* mremapTo(vrm) : yield* mremapAt(vrm);
  }
  const failed = res < 0;
  if (vrm.mmapLocked) yield* mmapWriteUnlock(mm);
  // VMA mlock'd + was expanded, so populate the expanded region (mm_populate(): errors ignored).
  if (!failed && vrm.populateExpand) yield* __mmPopulate(mm, vrm.newAddr + vrm.oldLen, vrm.delta, true);
  return res;
}

/** vrm_implies_new_addr(): MREMAP_FIXED or MREMAP_DONTUNMAP always determine a target address. */
function vrmImpliesNewAddr(vrm: Vrm): boolean {
  return (vrm.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;
}

/** vrm_move_only(): MREMAP_FIXED without resizing, which may move several VMAs (remap_move()). */
function vrmMoveOnly(vrm: Vrm): boolean {
  return (vrm.flags & MREMAP_FIXED) !== 0 && vrm.oldLen === vrm.newLen;
}

/** vrm_overlaps(): would [new_addr, new_addr + new_len) meet [addr, addr + old_len)? */
function vrmOverlaps(vrm: Vrm): boolean {
  return vrm.addr + vrm.oldLen > vrm.newAddr && vrm.newAddr + vrm.newLen > vrm.addr;
}

/**
 * check_mremap_params(): the checks that need no VMA. The model leaves out the map-count check
 * (sysctl_max_map_count: the runner's own libc mappings count on the kernel, not in the model).
 */
function checkMremapParams(vrm: Vrm): number {
  const flags = vrm.flags;
  // Ensure no unexpected flag values.
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return -EINVAL;
  // Start address must be page-aligned.
  if (vrm.addr % PAGE_SIZE) return -EINVAL;
  // A zero old_len is allowed (duplicating a shared mapping); a zero new_len is nonsensical.
  if (!vrm.newLen) return -EINVAL;
  // Is the new length silly?
  if (vrm.newLen > TASK_SIZE) return -EINVAL;
  // Remainder of checks are for cases with specific new_addr.
  if (!vrmImpliesNewAddr(vrm)) return 0;
  // Is the new address silly?
  if (vrm.newAddr > TASK_SIZE - vrm.newLen) return -EINVAL;
  // The new address must be page-aligned.
  if (vrm.newAddr % PAGE_SIZE) return -EINVAL;
  // A fixed address implies a move.
  if (!(flags & MREMAP_MAYMOVE)) return -EINVAL;
  // MREMAP_DONTUNMAP does not allow resizing in the process.
  if (flags & MREMAP_DONTUNMAP && vrm.oldLen !== vrm.newLen) return -EINVAL;
  // Target VMA must not overlap source VMA.
  if (vrmOverlaps(vrm)) return -EINVAL;
  return 0;
}

/**
 * check_prep_vma(): the old range must start in a VMA; expanding or moving needs [addr,
 * addr + old_len) inside it (a shrink may cross VMA ends: only the part that stays must fit).
 * Not modelled: mseal (EPERM), hugetlb alignment, RLIMIT_MEMLOCK/RLIMIT_AS (the runner is root,
 * without an address-space limit).
 */
function* checkPrepVma(vrm: Vrm): KGen<number> {
  const vma = vrm.vma;
  if (!vma) return -EFAULT;
  vrm.delta = Math.abs(vrm.oldLen - vrm.newLen); // vrm_set_delta()
  vrm.remapType = vrm.delta === 0 ? 'no_resize' : vrm.oldLen > vrm.newLen ? 'shrink' : 'expand';
  // For convenience, we set new_addr even if VMA won't move.
  if (!vrmImpliesNewAddr(vrm)) vrm.newAddr = vrm.addr;
  // Below only meaningful if we expand or move a VMA (vrm_will_map_new()).
  if (vrm.remapType !== 'expand' && !vrmImpliesNewAddr(vrm)) return 0;
  let oldLen = vrm.oldLen;
  const newLen = vrm.newLen;
  // !old_len: an attempt to 'duplicate' a mapping. Refused for private ones; the model does not
  // model the duplication of shared ones either.
  if (!oldLen) return -EINVAL;
  if (vrm.flags & MREMAP_DONTUNMAP && vma.flags & VM_PFNMAP) return -EINVAL;
  // We permit crossing of boundaries for the range being unmapped due to a shrink.
  if (vrm.remapType === 'shrink') oldLen = newLen;
  // We can't remap across the end of VMAs, as another VMA may be adjacent.
  if (oldLen > vma.end - vrm.addr) return -EFAULT;
  if (newLen === oldLen) return 0;
  // We are expanding and the VMA is mlock()'d so we need to populate.
  if (vma.flags & VM_LOCKED) vrm.populateExpand = true;
  if (vma.flags & VM_PFNMAP) return -EFAULT;
  yield* condResched();
  return 0;
}

/**
 * remap_move(): MREMAP_FIXED without resizing moves every VMA of [addr, addr + old_len) (split as
 * needed), keeping the gaps between them; a gap at the start, or no VMA at all, is -EFAULT.
 * VMAs may be moved together unless one is uffd-armed (vma_multi_allowed(); the model has no
 * custom get_unmapped_area()).
 */
function* remapMove(vrm: Vrm): KGen<number> {
  const mm = vrm.mm;
  const start = vrm.addr;
  const end = vrm.addr + vrm.oldLen;
  let targetAddr = vrm.newAddr;
  let res = -EFAULT;
  let lastEnd = 0;
  let seenVma = false;
  // for_each_vma_range(): the iterator resumes after the piece just moved (its source is now a
  // gap, and its target lies outside [start, end): check_mremap_params() refused overlaps).
  for (let vma = findVma(mm, start); vma && vma.start < end; vma = findVma(mm, vrm.addr + vrm.oldLen)) {
    // Account for start, end not aligned with VMA start, end.
    const addr = Math.max(vma.start, start);
    const len = Math.min(end, vma.end) - addr;
    // No gap permitted at the start of the range.
    if (!seenVma && start < vma.start) return -EFAULT;
    // vma_multi_allowed(): a uffd-armed VMA moves alone (its notification drops the mmap_lock).
    if (userfaultfdArmed(vma) && (seenVma || vma.end < end)) return -EFAULT;
    const offset = seenVma ? vma.start - lastEnd : 0;
    lastEnd = vma.end;
    vrm.vma = vma;
    vrm.addr = addr;
    vrm.newAddr = targetAddr + offset;
    vrm.oldLen = vrm.newLen = len;
    let resVma = yield* checkPrepVma(vrm);
    if (!resVma) resVma = yield* mremapTo(vrm);
    if (resVma < 0) return resVma;
    if (!seenVma) res = resVma;
    seenVma = true;
    targetAddr = resVma + vrm.newLen;
  }
  return res;
}

/**
 * shrink_vma(): unmap [addr + new_len, addr + old_len). With `dropLock` the unmap ends by releasing
 * mmap_lock; otherwise the VMA is looked up again (it may have been split).
 */
function* shrinkVma(vrm: Vrm, dropLock: boolean): KGen<number> {
  const res = yield* doVmiMunmap(vrm.mm, vrm.addr + vrm.newLen, vrm.delta, dropLock);
  vrm.vma = null; // Invalidated.
  if (res) return res;
  if (dropLock) {
    vrm.mmapLocked = false;
  } else {
    vrm.vma = vmaLookup(vrm.mm, vrm.addr);
    if (!vrm.vma) return -EFAULT;
  }
  return 0;
}

/** mremap_at(): no new address was implied: shrink, grow in place, or grow by moving. */
function* mremapAt(vrm: Vrm): KGen<number> {
  switch (vrm.remapType) {
    case 'no_resize':
      return vrm.addr;
    case 'shrink': {
      const res = yield* shrinkVma(vrm, true);
      return res ? res : vrm.addr;
    }
    case 'expand':
      return yield* expandVma(vrm);
    default:
      throw new ModelBug('mremap_at(): remap type not set'); // WARN_ON_ONCE(1) in the kernel
  }
}

/** expand_vma(): grow in place if [addr, old_len) ends the VMA and there is room, else move. */
function* expandVma(vrm: Vrm): KGen<number> {
  if (vrmCanExpandInPlace(vrm)) {
    yield* expandVmaInPlace(vrm);
    return vrm.addr;
  }
  // We're not allowed to move the VMA, so error out.
  if (!(vrm.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  const err = vrmSetNewAddr(vrm);
  if (err) return err;
  return yield* moveVma(vrm);
}

/** vrm_can_expand_in_place(): the range ends the VMA and vma_expandable() by delta. */
function vrmCanExpandInPlace(vrm: Vrm): boolean {
  const vma = vrm.vma!;
  if (vma.end - vrm.addr !== vrm.oldLen) return false;
  return vmaExpandable(vrm.mm, vma, vrm.delta);
}

/**
 * vma_expandable(): nothing mapped in the `delta` bytes after the VMA, and the grown VMA passes
 * get_unmapped_area(MAP_FIXED)'s checks (it ends at or below TASK_SIZE).
 */
function vmaExpandable(mm: MmStruct, vma: Vma, delta: number): boolean {
  const end = vma.end + delta;
  const next = findVma(mm, vma.end);
  if (next && next.start < end) return false; // find_vma_intersection()
  return end - vma.start <= TASK_SIZE && vma.start <= TASK_SIZE - (end - vma.start);
}

/** expand_vma_in_place() → vma_merge_extend(): the VMA grows, and merges with a compatible next. */
function* expandVmaInPlace(vrm: Vrm): KGen<void> {
  const vma = vrm.vma!;
  yield* vmaExpand(vrm.mm, vma, vma.start, vma.end + vrm.delta);
  vrm.mm.totalVm += vrm.delta / PAGE_SIZE; // vrm_stat_account()
  if (vma.flags & VM_LOCKED_MASK) vrm.mm.lockedVm += vrm.delta / PAGE_SIZE;
  const next = vmaNext(vrm.mm, vma);
  if (next && canMerge(vma, next)) vrm.vma = yield* vmaMergeNeighbours(vrm.mm, vma);
}

/**
 * vrm_set_new_addr(): get_unmapped_area() for the target. With MREMAP_FIXED it is the user's
 * address (check_mremap_params() made get_unmapped_area()'s TASK_SIZE checks); otherwise the model
 * takes the address the caller passed (where the real kernel put it), which must lie below
 * TASK_SIZE and be free, as any address get_unmapped_area() returns is.
 */
function vrmSetNewAddr(vrm: Vrm): number {
  const addr = vrm.flags & MREMAP_FIXED ? vrm.newAddr : vrm.unmappedArea;
  if (vrm.newLen > TASK_SIZE || addr > TASK_SIZE - vrm.newLen) return -ENOMEM;
  if (!(vrm.flags & MREMAP_FIXED)) {
    const hit = findVma(vrm.mm, addr);
    if (hit && hit.start < addr + vrm.newLen) return -ENOMEM;
  }
  vrm.newAddr = addr;
  return 0;
}

/**
 * mremap_to(): MREMAP_FIXED first unmaps the target; a shrinking request first unmaps the tail of
 * the source; then the (remaining) source moves.
 */
function* mremapTo(vrm: Vrm): KGen<number> {
  if (vrm.flags & MREMAP_FIXED) {
    // do_munmap() of the target.
    const err = yield* doVmiMunmap(vrm.mm, vrm.newAddr, vrm.newLen, false);
    vrm.vma = null; // Invalidated.
    if (err) return err;
    // If we remap a portion of a VMA elsewhere in the same VMA, this can invalidate the old VMA.
    vrm.vma = vmaLookup(vrm.mm, vrm.addr);
    if (!vrm.vma) return -EFAULT;
  }
  if (vrm.remapType === 'shrink') {
    const err = yield* shrinkVma(vrm, false);
    if (err) return err;
    // Set up for the move now shrink has been executed.
    vrm.oldLen = vrm.newLen;
  }
  const err = vrmSetNewAddr(vrm);
  if (err) return err;
  return yield* moveVma(vrm);
}

/**
 * move_vma(): copy_vma() at the new address, move_page_tables() into it, then unmap the source
 * (unmap_source_vma()), or with MREMAP_DONTUNMAP leave it in place, empty and unlocked.
 */
function* moveVma(vrm: Vrm): KGen<number> {
  const mm = vrm.mm;
  const vma = vrm.vma!;
  yield* vmaStartWrite(vma);
  // copy_vma_and_data()
  const newPgoff = vma.pgoff + (vrm.addr - vma.start) / PAGE_SIZE;
  const { newVma, needRmapLocks } = yield* copyVma(vma, vrm.newAddr, vrm.newLen, newPgoff);
  const moved = yield* movePageTables(vma, vrm.addr, newVma, vrm.newAddr, vrm.oldLen, needRmapLocks);
  if (moved < vrm.oldLen) throw new ModelBug('mremap: out of memory moving page tables (the revert path is not modelled)');
  // mremap_userfaultfd_prep() (fs/userfaultfd.c): without UFFD_FEATURE_EVENT_REMAP (the model's contexts never ask
  // for it) the moved VMA drops its userfaultfd (userfaultfd_reset_ctx()).
  if (userfaultfdArmed(newVma)) newVma.flags &= ~__VM_UFFD_FLAGS;
  if (vrm.flags & MREMAP_DONTUNMAP) {
    // dontunmap_complete(): locked_vm is left as it is, as the kernel does.
    vma.flags &= ~VM_LOCKED_MASK;
  } else {
    // unmap_source_vma()
    yield* doVmiMunmap(mm, vrm.addr, vrm.oldLen, false);
    vrm.vma = null;
  }
  return vrm.newAddr;
}

/**
 * mm/vma.c: copy_vma() (6.18): the new VMA (or a neighbour it merges into) for [addr, addr + len)
 * at pgoff; an anonymous VMA that never faulted gets the pgoff of its new address. Either way the
 * VMA is write-locked before it is in the tree (vma_link(), vma_expand()), so no per-VMA-lock
 * reader (a fault, MADV_DONTNEED in 6.17+) enters it while the page tables move. need_rmap_locks:
 * a merged VMA that does not come after the source in rmap order makes move_ptes() take the rmap
 * locks; a new VMA does not.
 */
function* copyVma(vma: Vma, addr: Vaddr, len: number, pgoff: number): KGen<{ newVma: Vma; needRmapLocks: boolean }> {
  if (vma.isAnonymous() && !vma.anonVma) pgoff = addr / PAGE_SIZE;
  const nw = new Vma(vma.mm, addr, addr + len, vma.flags, vma.file, pgoff);
  nw.anonVma = vma.anonVma; // anon_vma_clone()
  vmAreaInitFrom(vma, nw);
  const newVma = yield* vmaMergeNewRange(vma.mm, nw);
  return { newVma, needRmapLocks: newVma !== nw && newVma.pgoff <= vma.pgoff };
}

/** struct pagetable_move_control. */
interface Pmc {
  old: Vma;
  new: Vma;
  oldAddr: Vaddr;
  newAddr: Vaddr;
  oldEnd: Vaddr;
  lenIn: number;
  /** Take the rmap locks around move_ptes() (copy_vma()'s answer). */
  needRmapLocks: boolean;
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

/**
 * mm/mremap.c: move_page_tables() (6.18): returns how many bytes of the input range had their
 * tables moved. Per PUD: move it whole if the extent allows (the model has no huge PUDs); per PMD:
 * a huge PMD moves whole or is split, a table moves whole (move_normal_pmd()) when the extent is a
 * whole PMD, else its entries move one by one (move_ptes()), looking at the old PMD again when
 * move_ptes() finds no table to lock (-EAGAIN: `goto again`).
 */
export function* movePageTables(oldVma: Vma, oldAddr: Vaddr, newVma: Vma, newAddr: Vaddr, len: number, needRmapLocks: boolean): KGen<number> {
  const mm = oldVma.mm;
  const pmc: Pmc = { old: oldVma, new: newVma, oldAddr, newAddr, oldEnd: oldAddr + len, lenIn: len, needRmapLocks };
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
    yield* ptepGet(oldPud); // pud_trans_huge(*old_pud): never, in the model
    if (extent === PUD_SIZE && (yield* movePgtEntry(pmc, 'normal_pud', oldPud, newPud))) continue;

    extent = getExtent(pmc, PMD_SIZE);
    const oldPmd = yield* getOldPmd(mm, pmc.oldAddr);
    if (!oldPmd) continue;
    const newPmd = yield* pmdAlloc(mm, newPud, pmc.newAddr); // alloc_new_pmd()
    if (!newPmd) break;
    for (;;) {
      const v = yield* ptepGet(oldPmd);
      if (isPmdMigrationEntry(v) || pmdTransHuge(v)) {
        if (extent === HPAGE_PMD_SIZE && (yield* movePgtEntry(pmc, 'hpage_pmd', oldPmd, newPmd))) break;
        yield* __splitHugePmd(pmc.old, oldPmd, pmc.oldAddr);
      } else if (extent === PMD_SIZE) {
        if (yield* movePgtEntry(pmc, 'normal_pmd', oldPmd, newPmd)) break;
      }
      if (pmdNone(yield* ptepGet(oldPmd))) break;
      if (!(yield* pteAlloc(mm, newPmd, pmc.newAddr))) return progress(pmc);
      if ((yield* movePtes(pmc, extent, oldPmd, newPmd)) < 0) continue; // -EAGAIN: goto again
      break;
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

/**
 * take_rmap_locks() / drop_rmap_locks(): the file's i_mmap_rwsem for write, so that an rmap walk
 * (retract_page_tables(), try_to_unmap()) sees the old entry or the new one. The anon_vma lock
 * beside it is not modelled (the model has no anonymous rmap walk).
 */
function* takeRmapLocks(vma: Vma): KGen<void> {
  if (vma.file) yield* downWrite(vma.file.iMmapRwsem);
}
function* dropRmapLocks(vma: Vma): KGen<void> {
  if (vma.file) yield* upWrite(vma.file.iMmapRwsem);
}

/**
 * mm/mremap.c: move_pgt_entry() (6.18): move a whole table (normal PUD/PMD: always under the rmap
 * locks) or a huge PMD (under them only when need_rmap_locks).
 */
/**
 * uffd_supports_page_table_move(): no whole-table move out of or into a VMA registered without
 * remap events, whose uffd-wp bits move_ptes() must clear entry by entry.
 */
function uffdSupportsPageTableMove(pmc: Pmc): boolean {
  return !vmaHasUffdWithoutEventRemap(pmc.old) && !vmaHasUffdWithoutEventRemap(pmc.new);
}

/** clear_uffd_wp_pmd() / move_ptes()' clearing: the entry without its uffd-wp bit, present or swap. */
function clearUffdWp(v: Pte): Pte {
  if (ptePresent(v)) return pteClearFlags(v, _PAGE_UFFD_WP);
  return isSwapPte(v) ? pteClearFlags(v, _PAGE_SWP_UFFD_WP) : v;
}

function* movePgtEntry(pmc: Pmc, entry: 'normal_pmd' | 'normal_pud' | 'hpage_pmd', oldp: number, newp: number): KGen<boolean> {
  const mm = pmc.old.mm;
  const needRmapLocks = entry === 'hpage_pmd' ? pmc.needRmapLocks : true; // should_take_rmap_locks()
  if (needRmapLocks) yield* takeRmapLocks(pmc.old);
  let moved: boolean;
  if (entry === 'normal_pmd') moved = yield* moveNormalEntry(pmc, pmdLockptr(mm, oldp), pmdLockptr(mm, newp), oldp, newp, PMD_SIZE);
  else if (entry === 'normal_pud') moved = yield* moveNormalEntry(pmc, mmLockHandle(mm), mmLockHandle(mm), oldp, newp, PUD_SIZE);
  else moved = yield* moveHugePmd(pmc, oldp, newp);
  if (needRmapLocks) yield* dropRmapLocks(pmc.old);
  return moved;
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
  if (!uffdSupportsPageTableMove(pmc)) return false;
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
  let pmd = yield* ptepGetAndClear(oldPmd);
  if (vmaHasUffdWithoutEventRemap(pmc.old)) pmd = clearUffdWp(pmd); // clear_uffd_wp_pmd()
  // pmd_move_must_withdraw(): the deposit list belongs to the PMD table (split PMD locks).
  if (pmc.old.isAnonymous() && tidOf(oldPmd) !== tidOf(newPmd)) {
    const pgtable = pgtableTransHugeWithdraw(oldPmd);
    if (pgtable) yield* pgtableTransHugeDeposit(newPmd, pgtable);
  }
  yield* setPte(newPmd, pmd);
  if (ptePresent(pmd)) yield* flushTlbMmRange(mm, pmc.oldAddr, pmc.oldAddr + PMD_SIZE, 21, false);
  yield* unlockPair(oldPtl, newPtl);
  return true;
}

/**
 * mm/mremap.c: move_ptes() (6.18): entry by entry from the old table into the new one. The old
 * table is mapped with pte_offset_map_lock() (its pmd_same() recheck built in), the new one with
 * pte_offset_map_rw_nolock() and its lock taken without a PMD recheck: the kernel relies on the
 * exclusive mmap_lock, and since 6.17's per-VMA MADV_DONTNEED on the new VMA being write-locked
 * (vma_link() / vma_expand() in copy_vma()), to keep the new table from being freed meanwhile.
 * A present entry means the old range is flushed before the locks go. Out of a VMA registered
 * without remap events, uffd-wp markers are dropped and uffd-wp bits cleared. Returns 0, or -EAGAIN
 * when either PMD holds no table (move_page_tables() looks again).
 */
function* movePtes(pmc: Pmc, extent: number, oldPmd: number, newPmd: number): KGen<number> {
  const mm = pmc.old.mm;
  const needClearUffdWp = vmaHasUffdWithoutEventRemap(pmc.old);
  let err = 0;
  if (pmc.needRmapLocks) yield* takeRmapLocks(pmc.old);
  out: {
    const oldOut = new PteMapOut();
    const newOut = new PteMapOut();
    const oldPte = yield* pteOffsetMapLock(mm, oldPmd, pmc.oldAddr, oldOut);
    if (oldPte < 0) {
      err = -EAGAIN;
      break out;
    }
    const newPte = yield* pteOffsetMapRwNolock(mm, newPmd, pmc.newAddr, newOut);
    if (newPte < 0) {
      yield* pteUnmapUnlock(oldPte, oldOut.ptl);
      err = -EAGAIN;
      break out;
    }
    if (newOut.ptl !== oldOut.ptl) yield* spinLock(newOut.ptl); // spin_lock_nested()
    let forceFlush = false;
    const n = extent / PAGE_SIZE;
    for (let i = 0; i < n; i++) {
      // VM_WARN_ON_ONCE(!pte_none(*new_ptep)): a debug check, not a load of the production kernel.
      if (!pteNone(current.k.pt.peek(tidOf(newPte + i), slotOf(newPte + i)))) throw new ModelBug('move_ptes: destination entry not none');
      const v = yield* ptepGet(oldPte + i);
      if (pteNone(v)) {
        // The none entries after it, in one step (pteScanNone(): under the PTE lock nothing writes
        // a none entry); the kernel reads and skips them one by one.
        if (i + 1 < n) i += yield* pteScanNone(oldPte + i + 1, n - i - 1);
        continue;
      }
      if (ptePresent(v)) forceFlush = true;
      const pte = yield* ptepGetAndClear(oldPte + i);
      // A uffd-wp marker is dropped, other entries lose their uffd-wp bit: the new VMA has no
      // userfaultfd to report a write to.
      if (needClearUffdWp && isUffdWpMarker(pte)) continue; // pte_clear() of the new entry
      yield* setPte(newPte + i, needClearUffdWp ? clearUffdWp(pte) : pte);
    }
    if (forceFlush) yield* flushTlbMmRange(mm, pmc.oldAddr, pmc.oldAddr + extent, 12, false);
    if (newOut.ptl !== oldOut.ptl) yield* spinUnlock(newOut.ptl);
    yield* pteUnmap(newPte);
    yield* pteUnmapUnlock(oldPte, oldOut.ptl);
  }
  if (pmc.needRmapLocks) yield* dropRmapLocks(pmc.old);
  return err;
}
