/**
 * Changing VMAs (mm/vma.c, mm/mmap.c, mm/rmap.c): insertion, split, merge of compatible
 * neighbours, the anon_vma and i_mmap membership, in the kernel's protocol: vma_start_write() on
 * every VMA that changes, i_mmap_rwsem for write around a file VMA's change (vma_prepare(),
 * vma_complete()), the tree store that makes the change visible at once (vma_tree.ts), and
 * vma_mark_detached() for a VMA that goes away.
 *
 * Modelled coarsely: the maple tree is a chunked sorted list (vma_tree.ts); anon_vma chains are
 * one AnonVma object shared by the pieces of a split VMA, and the anon_vma lock is not modelled
 * (the model has no anonymous rmap walk).
 */
import { ModelBug } from './bug.js';
import { PAGE_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import { obj, OBJ, semReadersObj } from './objects.js';
import { splitHugePmdIfNeeded } from './huge_memory.js';
import { VM_LOCKED_MASK, Vma, vmAreaInitFrom, type AddressSpace, type MmStruct } from './mm_types.js';
import { vmaStartWrite } from './mmap_lock.js';
import { downWrite, mtStore, upWrite, vmaMarkDetached, type KGen } from './primitives.js';
import { assertTreeWrite, notInMm, vmaNext, vmaPages, vmaPrev } from './vma_tree.js';

/** vma_prepare(): a file VMA changes under i_mmap_rwsem for write (rmap walkers see before or after). */
function* vmaPrepare(file: AddressSpace | null): KGen<void> {
  if (file) yield* downWrite(file.iMmapRwsem); // i_mmap_lock_write()
}
/** The end of vma_complete(): i_mmap_unlock_write(). */
function* vmaCompleteUnlock(file: AddressSpace | null): KGen<void> {
  if (file) yield* upWrite(file.iMmapRwsem);
}

/**
 * mm/vma.c: vma_link() (6.18): write-lock the new VMA, store it in the tree, then add it to its
 * file's i_mmap (vma_link_file()). The write lock keeps per-VMA-lock readers (faults, 6.17+'s
 * MADV_DONTNEED) out of it until mmap_write_unlock(), while its caller still fills it: mremap's
 * move_ptes() writes into its tables with no PMD recheck. mmap_region() (__mmap_new_vma()) and
 * do_brk_flags() do the same before their stores.
 */
export function* vmaLink(mm: MmStruct, vma: Vma): KGen<void> {
  // vma_start_write(): not yet in the tree, so no reader holds a reference to wait out
  // (__vma_enter_locked() returns at once); only vm_lock_seq is set.
  vma.writeSeq = mm.mmapSeq;
  yield* mtStore(mm); // vma_iter_store_new()
  treeInsert(mm, vma);
  if (vma.file) {
    yield* downWrite(vma.file.iMmapRwsem);
    vma.file.iMmap.push(vma);
    yield* upWrite(vma.file.iMmapRwsem);
  }
}

/**
 * A new VMA enters the tree in this store step, and with it its lock and vm_lock_seq: the step
 * writes them (for the explorer's footprint; nobody could read them before).
 */
function newVmaVisible(vma: Vma): void {
  const k = current.k;
  k.rec.touch(obj(OBJ.sem, vma.vmLock.id), true);
  for (const c of k.cpus) k.rec.touch(semReadersObj(vma.vmLock.id, c.id), true);
}

/** The tree half of vma_link(), inside a store step. */
function treeInsert(mm: MmStruct, vma: Vma): void {
  assertTreeWrite(mm);
  const [before, after] = mm.vmas.around(vma.start);
  if ((before && before.end > vma.start) || (after && after.start < vma.end)) {
    throw new ModelBug(`vma_link: [${vma.start}, ${vma.end}) overlaps an existing VMA`);
  }
  mm.vmas.insert(vma);
  newVmaVisible(vma);
  mm.totalVm += vmaPages(vma);
  if (vma.flags & VM_LOCKED_MASK) mm.lockedVm += vmaPages(vma);
}

/**
 * Remove from the tree (vma_iter_clear_gfp(), inside a store step; the caller marked the VMA
 * detached before, as vms_gather_munmap_vmas() does). i_mmap is left to free_pgtables().
 */
export function vmaUnlink(mm: MmStruct, vma: Vma): void {
  assertTreeWrite(mm);
  if (!mm.vmas.remove(vma)) notInMm();
  vmaDetached(mm, vma);
}

/** What leaving the tree changes besides the tree: the mm's counters, and the driver's vm_ops->close. */
export function vmaDetached(mm: MmStruct, vma: Vma): void {
  vma.driver?.vmaClose(); // remove_vma() → vma_close()
  mm.totalVm -= vmaPages(vma);
  if (vma.flags & VM_LOCKED_MASK) mm.lockedVm -= vmaPages(vma);
}

/**
 * unlink_file_vma(): after this no rmap walker (retract_page_tables()) can find the VMA. The
 * caller holds the file's i_mmap_rwsem for write.
 */
export function unlinkFileVma(vma: Vma): void {
  if (!vma.file) return;
  const i = vma.file.iMmap.indexOf(vma);
  if (i >= 0) vma.file.iMmap.splice(i, 1);
}

/**
 * __split_vma(): split at addr; returns the new VMA, which is the lower part when newBelow.
 * Both halves keep the anon_vma, the file and its i_mmap membership.
 */
export function* splitVma(mm: MmStruct, vma: Vma, addr: Vaddr, newBelow: boolean): KGen<Vma> {
  if (addr <= vma.start || addr >= vma.end || addr % PAGE_SIZE) throw new ModelBug(`bad split of [${vma.start}, ${vma.end}) at ${addr}`);
  yield* vmaStartWrite(vma);
  yield* vmaPrepare(vma.file);
  // vma_adjust_trans_huge(): a PMD-mapped THP cannot straddle the new boundary.
  yield* splitHugePmdIfNeeded(vma, addr);
  yield* mtStore(mm); // vma_complete(): the new bounds and the new VMA, visible at once
  assertTreeWrite(mm);
  const nw = new Vma(mm, vma.start, vma.end, vma.flags, vma.file, vma.pgoff);
  nw.writeSeq = vma.writeSeq; // vma_start_write(new)
  nw.anonVma = vma.anonVma;
  vmAreaInitFrom(vma, nw);
  if (newBelow) {
    nw.end = addr;
    vma.pgoff += (addr - vma.start) / PAGE_SIZE;
    vma.start = addr;
  } else {
    nw.start = addr;
    nw.pgoff += (addr - vma.start) / PAGE_SIZE;
    vma.end = addr;
  }
  if (!mm.vmas.has(vma)) notInMm();
  mm.vmas.insert(nw); // by start: before vma when newBelow, after it otherwise
  newVmaVisible(nw);
  if (nw.file) nw.file.iMmap.push(nw);
  yield* vmaCompleteUnlock(vma.file);
  return nw;
}

/** is_mergeable_vma() + is_mergeable_anon_vma() + contiguous pgoff: can b follow a directly? */
export function canMerge(a: Vma, b: Vma): boolean {
  if (a.end !== b.start || a.flags !== b.flags || a.file !== b.file || a.driver !== b.driver || a.anonShared !== b.anonShared) return false;
  if (a.anonVma && b.anonVma && a.anonVma !== b.anonVma) return false;
  // (The model's per-mapping name is a label, not an anon_vma_name: the kernel runner names no
  // VMA, so mappings of different script names merge as the kernel merges them.)
  return a.pgoff + vmaPages(a) === b.pgoff;
}

/** Merge b into a (b is removed): commit_merge() + vma_complete() with vp->remove = b. */
function* mergeInto(mm: MmStruct, a: Vma, b: Vma): KGen<void> {
  yield* vmaStartWrite(a);
  yield* vmaStartWrite(b);
  yield* vmaPrepare(a.file);
  yield* mtStore(mm);
  assertTreeWrite(mm);
  a.end = b.end;
  a.anonVma ??= b.anonVma;
  if (!mm.vmas.remove(b)) notInMm();
  unlinkFileVma(b); // __remove_shared_vm_struct()
  yield* vmaCompleteUnlock(a.file);
  yield* vmaMarkDetached(b);
}

/** Merge vma with compatible neighbours (vma_merge_existing_range()); returns the survivor. */
export function* vmaMergeNeighbours(mm: MmStruct, vma: Vma): KGen<Vma> {
  const next = vmaNext(mm, vma);
  if (next && canMerge(vma, next)) yield* mergeInto(mm, vma, next);
  const prev = vmaPrev(mm, vma);
  if (prev && canMerge(prev, vma)) {
    yield* mergeInto(mm, prev, vma);
    return prev;
  }
  return vma;
}

/**
 * vma_expand(): vma grows to [start, end) over free space (a new range merged into it), then
 * swallows a compatible next VMA. The caller accounts the growth.
 */
export function* vmaExpand(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr): KGen<void> {
  yield* vmaStartWrite(vma);
  yield* vmaPrepare(vma.file);
  yield* mtStore(mm);
  assertTreeWrite(mm);
  if (start < vma.start) vma.pgoff -= (vma.start - start) / PAGE_SIZE;
  vma.start = start;
  vma.end = end;
  yield* vmaCompleteUnlock(vma.file);
}

/**
 * vma_modify_flags(): give [start, end) of vma the new flags, splitting at the boundaries and
 * merging with neighbours afterwards, as madvise() and mlock() do. Returns the VMA now covering
 * the range. The caller counts what the flags change (mlock_fixup(): locked_vm).
 */
export function* vmaModifyFlags(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr, flags: number): KGen<Vma> {
  if (flags === vma.flags) return vma;
  if (start > vma.start) yield* splitVma(mm, vma, start, true);
  if (end < vma.end) yield* splitVma(mm, vma, end, false);
  yield* vmaStartWrite(vma); // vm_flags_reset() wants the VMA write-locked
  vma.flags = flags;
  return yield* vmaMergeNeighbours(mm, vma);
}
