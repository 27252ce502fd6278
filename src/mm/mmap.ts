/**
 * Creating and destroying mappings (mm/mmap.c: do_mmap(), mmap_region(), exit_mmap();
 * mm/vma.c: do_vmi_align_munmap(), vms_clear_ptes()).
 */
import { alignUp, EEXIST, EINVAL, ENOMEM, FIRST_USER_ADDRESS, PAGE_SIZE, TASK_SIZE, USER_PGTABLES_CEILING, type Vaddr } from './const.js';
import { current } from './current.js';
import { freePgtables } from './memory/free_pgtables.js';
import { unmapSingleVma, ZAP_FLAG_DROP_MARKER, ZAP_FLAG_UNMAP, type ZapDetails } from './memory/zap.js';
import {
  AddressSpace,
  MMF_OOM_SKIP,
  RwSem,
  TcpSock,
  VM_EXEC,
  VM_LOCKED_MASK,
  VM_MAYEXEC,
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
import { mmapWriteDowngrade, mmapWriteUnlock, vmaStartWrite } from './mmap_lock.js';
import { downRead, downWrite, mtStore, upRead, vmaMarkDetached, type KGen } from './primitives.js';
import { canMerge, splitVma, vmaDetached, vmaExpand, vmaLink, vmaMergeNeighbours, vmaUnlink } from './vma.js';
import { assertTreeWrite, findVma, vmaNext, vmaPages, vmaPrev } from './vma_tree.js';
import { __mmPopulate } from './gup.js';
import { tcpMmap } from './tcp.js';
import { binderMmap, binderOpen } from './binder.js';

export interface MmapRequest {
  addr: Vaddr;
  len: number;
  shared: boolean;
  /** null: anonymous. */
  file: AddressSpace | null;
  pgoff: number;
  /** The model's label for the mapping (script map name). */
  name: string;
  /** PROT_READ | PROT_WRITE | PROT_EXEC; default PROT_READ | PROT_WRITE. */
  prot?: number;
  /** MAP_FIXED: replace whatever is mapped in the range (default: MAP_FIXED_NOREPLACE, -EEXIST). */
  fixed?: boolean;
  /**
   * A mapping of a driver file opened for it (`file` null, `shared` true): a new connected TCP
   * socket (tcp_mmap(), src/mm/tcp.ts) or a binder device (binder_mmap(), src/mm/binder.ts).
   */
  driver?: 'tcp' | 'binder';
}

/** include/uapi/asm-generic/mman-common.h. */
export const PROT_NONE = 0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;

/** calc_vm_prot_bits(): PROT_* to VM_READ/VM_WRITE/VM_EXEC (the same bit values on x86). */
export function calcVmProtBits(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/**
 * do_mmap()'s checks of a MAP_FIXED[_NOREPLACE] request, in its order, through
 * __get_unmapped_area() (len and addr against TASK_SIZE: -ENOMEM) and MAP_FIXED_NOREPLACE's
 * overlap check (-EEXIST). Returns the address or a negative errno. Not modelled: map_count
 * (sysctl_max_map_count), RLIMIT_MEMLOCK (root), pgoff overflow (EOVERFLOW: sizes stay below 2^53).
 */
function doMmapChecks(mm: MmStruct, req: MmapRequest): number {
  if (!req.len) return -EINVAL;
  // Careful about overflows..
  const len = alignUp(req.len, PAGE_SIZE);
  if (!len) return -ENOMEM;
  // __get_unmapped_area(): arch_get_unmapped_area() returns a MAP_FIXED address as it is.
  if (len > TASK_SIZE) return -ENOMEM;
  if (req.addr > TASK_SIZE - len) return -ENOMEM;
  if (req.addr % PAGE_SIZE) return -EINVAL;
  if (!req.fixed) {
    const hit = findVma(mm, req.addr); // find_vma_intersection()
    if (hit && hit.start < req.addr + len) return -EEXIST;
  }
  return req.addr;
}

/**
 * do_mmap() at a given address (the model has no get_unmapped_area(): every caller knows where the
 * mapping goes). Without `fixed` it is MAP_FIXED_NOREPLACE (-EEXIST on overlap); with it,
 * mmap_region() unmaps what was there first. Returns the address or a negative errno.
 */
export function* doMmap(mm: MmStruct, req: MmapRequest): KGen<number> {
  const k = current.k;
  const prot = req.prot ?? PROT_READ | PROT_WRITE;
  yield* downWrite(mm.mmapLock); // vm_mmap_pgoff()
  const addr = doMmapChecks(mm, req);
  if (addr < 0) {
    yield* mmapWriteUnlock(mm);
    return addr;
  }
  const len = alignUp(req.len, PAGE_SIZE);
  const hit = findVma(mm, req.addr);
  if (hit && hit.start < req.addr + len) {
    // mmap_region(): vms_gather_munmap_vmas() + vms_complete_munmap_vmas() under the write lock.
    // (The kernel links the new VMA before clearing the old PTEs; nothing can fault in between.)
    yield* doVmiAlignMunmap(mm, req.addr, req.addr + len, false);
  }
  // do_mmap(): VM_MAY* are all set for anonymous and (writable-opened) file mappings.
  let flags = calcVmProtBits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (req.shared) flags |= VM_SHARED | VM_MAYSHARE;
  let file = req.file;
  let pgoff = req.pgoff;
  let anonShared = false;
  if (!file && req.shared && !req.driver) {
    // shmem_zero_setup(): MAP_SHARED|MAP_ANONYMOUS is backed by an internal shmem file.
    file = new AddressSpace(k, k.files.length, `dev/zero (${req.name})`, 'shmem', len / PAGE_SIZE, 0);
    k.files.push(file);
    pgoff = 0;
    anonShared = true;
  } else if (!file && !req.driver) {
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
  // mmap_region() → __mmap_new_file_vma() → the file's ->mmap(): sock_mmap() → tcp_mmap(), or
  // binder_mmap() of the binder file opened just before (open() → binder_open()).
  const err = req.driver === 'tcp' ? tcpMmap(vma, new TcpSock(k.newObjectId(), req.name, new RwSem(k.newObjectId()))) : req.driver === 'binder' ? binderMmap(vma, binderOpen(mm, req.name)) : 0;
  if (err) {
    yield* mmapWriteUnlock(mm);
    return err;
  }
  yield* vmaMergeNewRange(mm, vma);
  yield* mmapWriteUnlock(mm);
  return req.addr;
}

/**
 * vma_merge_new_range(): a new range extends a compatible VMA just before it (and then maybe
 * swallows the one after), or the one just after; otherwise it is linked as a VMA of its own.
 * Returns the VMA that now covers the range.
 */
export function* vmaMergeNewRange(mm: MmStruct, vma: Vma): KGen<Vma> {
  const pages = vmaPages(vma);
  const prev = findVma(mm, vma.start - 1);
  const next = findVma(mm, vma.end);
  if (prev && prev.end === vma.start && canMerge(prev, vma)) {
    yield* vmaExpand(mm, prev, prev.start, vma.end);
    accountGrowth(mm, prev, pages);
    if (next && canMerge(prev, next)) yield* vmaMergeNeighbours(mm, prev);
    return prev;
  }
  if (next && next.start === vma.end && canMerge(vma, next)) {
    yield* vmaExpand(mm, next, vma.start, next.end);
    next.anonVma ??= vma.anonVma;
    accountGrowth(mm, next, pages);
    return next;
  }
  yield* vmaLink(mm, vma);
  return vma;
}

/** vm_stat_account() (+ locked_vm) for a VMA that grew by `pages`. */
function accountGrowth(mm: MmStruct, vma: Vma, pages: number): void {
  mm.totalVm += pages;
  if (vma.flags & VM_LOCKED_MASK) mm.lockedVm += pages;
}

/** munmap(): take mmap_lock for write and do_vmi_munmap() with unlock (the lock is downgraded). */
export function* doMunmap(mm: MmStruct, start: Vaddr, len: number): KGen<number> {
  yield* downWrite(mm.mmapLock);
  const ret = yield* doVmiMunmap(mm, start, len, true);
  if (ret) yield* mmapWriteUnlock(mm);
  return ret;
}

/**
 * do_vmi_munmap() (mm/vma.c): the range must lie below TASK_SIZE and not be empty (-EINVAL); with
 * no VMA in it there is nothing to do; else do_vmi_align_munmap(). With `unlock`, mmap_lock is
 * released on success (and kept on error, for the caller to release).
 */
export function* doVmiMunmap(mm: MmStruct, start: Vaddr, len: number, unlock: boolean): KGen<number> {
  if (start % PAGE_SIZE || start > TASK_SIZE || len > TASK_SIZE - start) return -EINVAL;
  const end = start + alignUp(len, PAGE_SIZE);
  if (end === start) return -EINVAL;
  // Find the first overlapping VMA (vma_find()).
  const vma = findVma(mm, start);
  if (!vma || vma.start >= end) {
    if (unlock) yield* mmapWriteUnlock(mm);
    return 0;
  }
  return yield* doVmiAlignMunmap(mm, start, end, unlock);
}

/**
 * do_vmi_align_munmap() / vms_complete_munmap_vmas() / vms_clear_ptes(), with mmap_lock held for
 * write: split at the edges, hide the VMAs, then zap with DROP_MARKER and free the page tables
 * between the neighbouring VMAs. With `unlock` the zap runs under the downgraded
 * read lock and the lock is released on return (munmap(), brk()); without it (mmap_region(),
 * mremap()) the caller keeps the write lock.
 */
export function* doVmiAlignMunmap(mm: MmStruct, start: Vaddr, end: Vaddr, unlock: boolean): KGen<number> {
  let vma = findVma(mm, start);
  if (!vma || vma.start >= end) {
    if (unlock) yield* mmapWriteUnlock(mm);
    return 0;
  }
  if (start > vma.start) yield* splitVma(mm, vma, start, true);
  const last = findVma(mm, end - 1);
  if (last && last.start < end && end < last.end) yield* splitVma(mm, last, end, false);
  // vms_gather_munmap_vmas(): write-lock and detach each VMA while it is still in the tree.
  const victims: Vma[] = [];
  for (vma = findVma(mm, start); vma && vma.start < end; vma = vmaNext(mm, vma)) {
    yield* vmaStartWrite(vma);
    yield* vmaMarkDetached(vma);
    victims.push(vma);
  }
  const prev = vmaPrev(mm, victims[0]);
  const next = vmaNext(mm, victims[victims.length - 1]);
  const unmapStart = prev ? prev.end : FIRST_USER_ADDRESS;
  const unmapEnd = next ? next.start : USER_PGTABLES_CEILING;
  yield* mtStore(mm); // vma_iter_clear_gfp(): the range leaves the tree at once
  for (const v of victims) vmaUnlink(mm, v); // i_mmap: free_pgtables() unlinks
  if (!unlock) {
    yield* vmsClearPtes(mm, victims, start, end, unmapStart, unmapEnd);
    return 0;
  }
  // vms_complete_munmap_vmas(): the zap and the table freeing run under the downgraded lock.
  yield* mmapWriteDowngrade(mm);
  yield* vmsClearPtes(mm, victims, start, end, unmapStart, unmapEnd);
  yield* upRead(mm.mmapLock);
  return 0;
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
  // __mt_destroy(): the whole tree goes at once (one VMA at a time was quadratic in their number).
  yield* mtStore(mm);
  assertTreeWrite(mm);
  mm.vmas.clear();
  for (const vma of vmas) vmaDetached(mm, vma); // i_mmap: already done by free_pgtables()
  yield* mmapWriteUnlock(mm);
  mm.exited = true;
}

/** VM_DATA_DEFAULT_FLAGS (x86, no READ_IMPLIES_EXEC): the flags of the heap. */
const VM_DATA_DEFAULT_FLAGS = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

/**
 * The heap of a process created from an exec image: start_brk and brk as the loader left them
 * (no VMA yet: the first growth creates it, as for a fresh exec whose brk was never moved).
 */
export function setBrkBase(mm: MmStruct, startBrk: Vaddr, brk: Vaddr): void {
  mm.startBrk = startBrk;
  mm.brk = brk;
}

/**
 * SYSCALL brk(): shrinking unmaps [newbrk, oldbrk) of the heap VMA; growing needs a free page
 * beyond the new break (the guard gap to the next VMA) and do_brk_flags() extends the heap VMA or
 * creates it. Returns the new break, or the old one when the request is refused.
 */
export function* doBrk(mm: MmStruct, brk: Vaddr): KGen<number> {
  yield* downWrite(mm.mmapLock);
  const origbrk = mm.brk;
  if (brk < mm.startBrk) {
    yield* mmapWriteUnlock(mm);
    return origbrk;
  }
  const newbrk = alignUp(brk, PAGE_SIZE);
  const oldbrk = alignUp(mm.brk, PAGE_SIZE);
  if (oldbrk === newbrk) {
    mm.brk = brk;
    yield* mmapWriteUnlock(mm);
    return brk;
  }
  if (brk <= mm.brk) {
    // Always allowed, unless [newbrk, oldbrk) is not the heap's.
    const brkvma = findVma(mm, newbrk);
    if (!brkvma || brkvma.start >= oldbrk) {
      yield* mmapWriteUnlock(mm);
      return origbrk;
    }
    mm.brk = brk;
    yield* doVmiAlignMunmap(mm, newbrk, oldbrk, true);
    return brk;
  }
  const next = findVma(mm, oldbrk);
  if (newbrk > TASK_SIZE || (next && newbrk + PAGE_SIZE > next.start)) {
    yield* mmapWriteUnlock(mm);
    return origbrk;
  }
  const brkvma = findVma(mm, oldbrk - 1);
  yield* doBrkFlags(mm, brkvma && brkvma.end === oldbrk && brkvma.start >= mm.startBrk ? brkvma : null, oldbrk, newbrk - oldbrk);
  mm.brk = brk;
  yield* mmapWriteUnlock(mm);
  return brk;
}

/** do_brk_flags(): extend the heap VMA that ends at addr, or create an anonymous one. */
function* doBrkFlags(mm: MmStruct, vma: Vma | null, addr: Vaddr, len: number): KGen<void> {
  const nw = new Vma(mm, addr, addr + len, VM_DATA_DEFAULT_FLAGS, null, addr / PAGE_SIZE);
  nw.name = vma ? vma.name : '[heap]';
  yield* vmaMergeNewRange(mm, nw);
}
