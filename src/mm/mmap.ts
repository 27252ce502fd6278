/**
 * Creating and destroying mappings (mm/mmap.c: do_mmap(), mmap_region(), exit_mmap();
 * mm/vma.c: do_vmi_align_munmap(), vms_clear_ptes(); mm/mlock.c: apply_vma_lock_flags()).
 */
import { alignUp, EAGAIN, EEXIST, EFAULT, EINVAL, ENOMEM, FIRST_USER_ADDRESS, PAGE_SIZE, TASK_SIZE, USER_PGTABLES_CEILING, type Vaddr } from './const.js';
import { current } from './current.js';
import { freePgtables } from './memory/free_pgtables.js';
import { unmapSingleVma, ZAP_FLAG_DROP_MARKER, ZAP_FLAG_UNMAP, type ZapDetails } from './memory/zap.js';
import {
  AddressSpace,
  MMF_OOM_SKIP,
  VM_LOCKED,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  Vma,
  type MmStruct,
} from './mm_types.js';
import { tlbFinishMmu, tlbGatherMmu } from './mmu_gather.js';
import { downRead, downWrite, upRead, upWrite, type KGen } from './primitives.js';
import { canMerge, findVma, splitVma, vmaLink, vmaModifyFlags, vmaNext, vmaPrev, vmaUnlink } from './vma.js';
import { populateVmaPageRange } from './gup.js';

export interface MmapRequest {
  addr: Vaddr;
  len: number;
  shared: boolean;
  /** null: anonymous. */
  file: AddressSpace | null;
  pgoff: number;
  /** The model's label for the mapping (script map name). */
  name: string;
}

/**
 * do_mmap() with MAP_FIXED_NOREPLACE semantics (the only placement the model offers: every
 * script mapping has an address). Returns the address or a negative errno.
 */
export function* doMmap(mm: MmStruct, req: MmapRequest): KGen<number> {
  const k = current.k;
  const len = alignUp(req.len, PAGE_SIZE);
  if (!len || req.addr % PAGE_SIZE || req.addr + len > TASK_SIZE) return -EINVAL;
  yield* downWrite(mm.mmapLock);
  const hit = findVma(mm, req.addr);
  if (hit && hit.start < req.addr + len) {
    yield* mmapWriteUnlock(mm);
    return -EEXIST;
  }
  let flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE;
  if (req.shared) flags |= VM_SHARED | VM_MAYSHARE;
  let file = req.file;
  let pgoff = req.pgoff;
  let anonShared = false;
  if (!file && req.shared) {
    // shmem_zero_setup(): MAP_SHARED|MAP_ANONYMOUS is backed by an internal shmem file.
    file = new AddressSpace(k.files.length, `dev/zero (${req.name})`, 'shmem', len / PAGE_SIZE, 0);
    k.files.push(file);
    pgoff = 0;
    anonShared = true;
  } else if (!file) {
    pgoff = req.addr / PAGE_SIZE;
  }
  // Modelled coarsely: the model's mmap fails only when not even one more frame is left (the
  // kernel's would fail allocating the vm_area_struct); anonymous mappings are MAP_NORESERVE.
  if (k.mem.inUse + 1 > k.mem.totalPages) {
    yield* mmapWriteUnlock(mm);
    return -ENOMEM;
  }
  const vma = new Vma(mm, req.addr, req.addr + len, flags, file, pgoff);
  vma.anonShared = anonShared;
  vma.name = req.name;
  // vma_merge_new_range(): an anonymous mapping right after a compatible one extends it.
  const prev = findVma(mm, req.addr - 1);
  if (prev && prev.end === req.addr && canMerge(prev, vma)) {
    prev.end = vma.end;
    mm.totalVm += len / PAGE_SIZE;
  } else {
    vmaLink(mm, vma);
  }
  yield* mmapWriteUnlock(mm);
  return req.addr;
}

/** mmap_write_unlock(): also ends every VMA write lock taken in this section. */
export function* mmapWriteUnlock(mm: MmStruct): KGen<void> {
  mm.mmapSeq++;
  yield* upWrite(mm.mmapLock);
}

/** vma_start_write(): wait out per-VMA readers (faults); the VMA stays write-locked until mmap_write_unlock(). */
export function* vmaStartWrite(vma: Vma): KGen<void> {
  yield* downWrite(vma.vmLock);
  vma.writeSeq = vma.mm.mmapSeq;
  yield* upWrite(vma.vmLock);
}

/**
 * do_vmi_align_munmap() / vms_complete_munmap_vmas() / vms_clear_ptes(): split at the edges, hide
 * the VMAs, then (with mmap_lock downgraded to read) zap with DROP_MARKER and free the page tables
 * between the neighbouring VMAs.
 */
export function* doMunmap(mm: MmStruct, start: Vaddr, len: number): KGen<number> {
  if (start % PAGE_SIZE || !len) return -EINVAL;
  const end = start + alignUp(len, PAGE_SIZE);
  yield* downWrite(mm.mmapLock);
  let vma = findVma(mm, start);
  if (!vma || vma.start >= end) {
    yield* mmapWriteUnlock(mm);
    return 0;
  }
  if (start > vma.start) yield* splitVma(mm, vma, start, true);
  const last = findVma(mm, end - 1);
  if (last && last.start < end && end < last.end) yield* splitVma(mm, last, end, false);
  const victims: Vma[] = [];
  for (vma = findVma(mm, start); vma && vma.start < end; vma = vmaNext(mm, vma)) {
    yield* vmaStartWrite(vma);
    victims.push(vma);
  }
  const prev = vmaPrev(mm, victims[0]);
  const next = vmaNext(mm, victims[victims.length - 1]);
  const unmapStart = prev ? prev.end : FIRST_USER_ADDRESS;
  const unmapEnd = next ? next.start : USER_PGTABLES_CEILING;
  for (const v of victims) removeFromTree(mm, v);
  // mmap_write_downgrade(): the zap and the table freeing run under the read lock.
  mm.mmapSeq++;
  mm.mmapLock.writer = 0;
  mm.mmapLock.readers++;
  yield* vmsClearPtes(mm, victims, start, end, unmapStart, unmapEnd);
  yield* upRead(mm.mmapLock);
  return 0;
}

/** Detach from the tree now; rmap (i_mmap) unlinking happens in free_pgtables(). */
function removeFromTree(mm: MmStruct, vma: Vma): void {
  vmaUnlink(mm, vma, false);
}

/** vms_clear_ptes(). */
function* vmsClearPtes(mm: MmStruct, vmas: Vma[], start: Vaddr, end: Vaddr, unmapStart: Vaddr, unmapEnd: Vaddr): KGen<void> {
  const tlb = tlbGatherMmu(mm);
  yield* unmapVmas(tlb, vmas, start, end);
  yield* freePgtables(tlb, vmas, unmapStart, unmapEnd);
  yield* tlbFinishMmu(tlb);
}

/** unmap_vmas(): munmap/exit zap: drop markers too, zap COWed pages, no table reclaim. */
function* unmapVmas(tlb: ReturnType<typeof tlbGatherMmu>, vmas: Vma[], start: Vaddr, end: Vaddr): KGen<void> {
  const details: ZapDetails = { evenCows: true, reclaimPt: false, zapFlags: ZAP_FLAG_DROP_MARKER | ZAP_FLAG_UNMAP };
  for (const vma of vmas) yield* unmapSingleVma(tlb, vma, start, end, details);
}

/** exit_mmap(). */
export function* exitMmap(mm: MmStruct): KGen<void> {
  yield* downRead(mm.mmapLock);
  const vmas = mm.vmas.slice();
  const tlb = tlbGatherMmu(mm, true);
  if (vmas.length) yield* unmapVmas(tlb, vmas, 0, 2 ** 64);
  yield* upRead(mm.mmapLock);
  mm.flags |= MMF_OOM_SKIP;
  yield* downWrite(mm.mmapLock);
  if (vmas.length) yield* freePgtables(tlb, vmas, FIRST_USER_ADDRESS, USER_PGTABLES_CEILING);
  yield* tlbFinishMmu(tlb);
  for (const vma of vmas) vmaUnlink(mm, vma, false); // i_mmap: already done by free_pgtables()
  yield* mmapWriteUnlock(mm);
  mm.exited = true;
}

/**
 * apply_vma_lock_flags(): walk the VMAs of [start, end) in order, fixing each one's VM_LOCKED
 * (mlock_fixup(): split/merge); a hole stops the walk with -ENOMEM, after the VMAs before it were
 * already changed.
 */
function* applyVmaLockFlags(mm: MmStruct, start: Vaddr, end: Vaddr, lock: boolean): KGen<number> {
  let vma = findVma(mm, start);
  if (!vma || vma.start > start) return -ENOMEM;
  let nstart = start;
  while (vma && vma.start < end) {
    if (vma.start > nstart) return -ENOMEM;
    const tmp = Math.min(vma.end, end);
    const flags = lock ? vma.flags | VM_LOCKED : vma.flags & ~VM_LOCKED;
    const nv = yield* vmaModifyFlags(mm, vma, nstart, tmp, flags);
    nstart = Math.min(nv.end, end);
    vma = nstart < end ? findVma(mm, nstart) : null;
  }
  return nstart < end ? -ENOMEM : 0;
}

/**
 * mlock()/munlock(): apply_vma_lock_flags() over the range (split/merge), then, for mlock,
 * __mm_populate() faults the range in. Returns 0 or a negative errno.
 */
export function* doMlock(mm: MmStruct, start: Vaddr, len: number, lock: boolean): KGen<number> {
  const end = start + alignUp(len, PAGE_SIZE);
  yield* downWrite(mm.mmapLock);
  const err = yield* applyVmaLockFlags(mm, start, end, lock);
  if (err) {
    yield* mmapWriteUnlock(mm);
    return err;
  }
  yield* mmapWriteUnlock(mm);
  if (!lock) return 0;
  yield* downRead(mm.mmapLock);
  const ret = yield* populateVmaPageRange(mm, start, end, true);
  yield* upRead(mm.mmapLock);
  return ret < 0 ? mlockPosixErrorReturn(ret) : 0;
}

/** __mlock_posix_error_return(): POSIX wants ENOMEM for an unmapped page, EAGAIN for no memory. */
function mlockPosixErrorReturn(ret: number): number {
  if (ret === -EFAULT) return -ENOMEM;
  if (ret === -ENOMEM) return -EAGAIN;
  return ret;
}

