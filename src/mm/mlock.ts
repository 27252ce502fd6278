/**
 * mlock(2), mlock2(2) and munlock(2) (mm/mlock.c, Linux 6.18): apply_vma_lock_flags() changes
 * VM_LOCKED on every VMA of the range (mlock_fixup(): split or merge, the mm's locked_vm), and a
 * VMA whose lock state changes is walked (mlock_vma_pages_range() → mlock_pte_range()) to mlock
 * or munlock the folios it maps already; mlock then faults the rest in (__mm_populate()).
 *
 * The walk against reclaim (docs/audit.md #38): it runs under the mmap_lock for write, with the
 * VMA write-locked (vma_start_write() before the walk, PGWALK_WRLOCK_VERIFY), so no DONTNEED runs
 * on the VMA meanwhile, in either DONTNEED lock mode; its pte_offset_map_lock() would turn a
 * table reclaimed before the walk began into ACTION_AGAIN all the same.
 *
 * The model's folios have no mlock count and no unevictable LRU: mlock_folio() sets PG_mlocked,
 * munlock_folio() clears it (the kernel's __munlock_folio() keeps it while another VM_LOCKED VMA
 * still maps the folio). Nothing in the model reads PG_mlocked (rmap walkers look at VM_LOCKED,
 * as try_to_unmap_one() does first), and no snapshot compares it. No RLIMIT_MEMLOCK check: the
 * runner is root (CAP_IPC_LOCK). Not modelled: mlockall(), MCL_*, hugetlb, DAX, secretmem and
 * VM_DROPPABLE VMAs (none exists in the model).
 */
import { alignUp, EAGAIN, EFAULT, EINVAL, ENOMEM, PAGE_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { pmdTransHugeLock, isHugeZeroPmd } from './huge_memory.js';
import { folioPteBatch } from './memory/zap.js';
import { VM_IO, VM_LOCKED, VM_LOCKED_MASK, VM_LOCKONFAULT, VM_SPECIAL, type MmStruct, type Vma } from './mm_types.js';
import { mmapWriteUnlock, vmaStartWrite } from './mmap_lock.js';
import { PG_mlocked } from './page_alloc.js';
import { ACTION_AGAIN, walkPageRange, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { pmdPfn, pmdPresent, ptePfn, ptePresent, pteSpecial, type Pte } from './pgtable_types.js';
import { condResched, downWrite, ptepGet, spinUnlock, type KGen } from './primitives.js';
import { vmaModifyFlags } from './vma.js';
import { findVma, vmaLookup } from './vma_tree.js';
import { __mmPopulate } from './gup.js';

/** mlock2()'s MLOCK_ONFAULT (include/uapi/asm-generic/mman-common.h). */
export const MLOCK_ONFAULT = 0x01;

/**
 * do_mlock() (mlock2() with its flags: VM_LOCKED, plus VM_LOCKONFAULT for MLOCK_ONFAULT) and
 * munlock() (`lock` false): apply_vma_lock_flags() over the range under the mmap_lock for write;
 * then, for mlock, __mm_populate() faults the range in (a VM_LOCKONFAULT VMA is skipped there),
 * its errors turned into the POSIX ones. Returns 0 or a negative errno.
 */
export function* doMlock(mm: MmStruct, start: Vaddr, len: number, lock: boolean, flags = 0): KGen<number> {
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  const vmFlags = !lock ? 0 : VM_LOCKED | (flags & MLOCK_ONFAULT ? VM_LOCKONFAULT : 0);
  len = alignUp(len + (start % PAGE_SIZE), PAGE_SIZE);
  start -= start % PAGE_SIZE;
  yield* downWrite(mm.mmapLock);
  const error = yield* applyVmaLockFlags(mm, start, len, vmFlags);
  yield* mmapWriteUnlock(mm);
  if (error) return error;
  if (!lock) return 0;
  const ret = yield* __mmPopulate(mm, start, len, false);
  return ret < 0 ? mlockPosixErrorReturn(ret) : 0;
}

/** __mlock_posix_error_return(): POSIX wants ENOMEM for an unmapped page, EAGAIN for no memory. */
function mlockPosixErrorReturn(ret: number): number {
  if (ret === -EFAULT) return -ENOMEM;
  if (ret === -ENOMEM) return -EAGAIN;
  return ret;
}

/**
 * apply_vma_lock_flags(): walk the VMAs of [start, start + len) in order, fixing each one's lock
 * flags (mlock_fixup()); a hole stops the walk with -ENOMEM, after the VMAs before it were
 * already changed.
 */
function* applyVmaLockFlags(mm: MmStruct, start: Vaddr, len: number, flags: number): KGen<number> {
  const end = start + len;
  if (end < start) return -EINVAL;
  if (end === start) return 0;
  let vma = vmaLookup(mm, start); // vma_iter_load()
  if (!vma) return -ENOMEM;
  let nstart = start;
  let tmp = vma.start;
  while (vma && vma.start < end) {
    if (vma.start !== tmp) return -ENOMEM;
    const newflags = (vma.flags & ~VM_LOCKED_MASK) | flags;
    // Here we know that vma->vm_start <= nstart < vma->vm_end.
    tmp = Math.min(vma.end, end);
    const nv = yield* mlockFixup(mm, vma, nstart, tmp, newflags);
    tmp = nv.end; // vma_iter_end(): past a merge this may be beyond `end`
    nstart = tmp;
    vma = findVma(mm, tmp);
  }
  return tmp < end ? -ENOMEM : 0;
}

/**
 * mlock_fixup(): leave VM_SPECIAL VMAs alone (the model has no hugetlb, DAX, secretmem or
 * droppable VMA, nor a gate VMA in the tree); else split or merge to [start, end) with the new
 * flags, count locked_vm, and walk the range when its lock state changes. Returns the VMA that
 * covers the range now.
 */
function* mlockFixup(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr, newflags: number): KGen<Vma> {
  const oldflags = vma.flags;
  // don't set VM_LOCKED or VM_LOCKONFAULT and don't count
  if (newflags === oldflags || oldflags & VM_SPECIAL) return vma;
  // The model's vmaModifyFlags() sets the new flags itself; the kernel's vma_modify_flags() leaves
  // them to mlock_vma_pages_range() unless it merges. So the new flags (VM_LOCKED, without VM_IO)
  // reach rmap walkers (folio_referenced(), try_to_unmap()) one step, the vmaStartWrite() below,
  // earlier than in the kernel. No shipped scenario races an rmap walker against mlock.
  vma = yield* vmaModifyFlags(mm, vma, start, end, newflags);
  // Keep track of amount of locked VM.
  let nrPages = (end - start) / PAGE_SIZE;
  if (!(newflags & VM_LOCKED)) nrPages = -nrPages;
  else if (oldflags & VM_LOCKED) nrPages = 0;
  mm.lockedVm += nrPages;
  if (newflags & VM_LOCKED && oldflags & VM_LOCKED) {
    // No work to do, and mlocking twice would be wrong.
    yield* vmaStartWrite(vma);
    vma.flags = newflags; // vm_flags_reset()
  } else {
    yield* mlockVmaPagesRange(vma, start, end, newflags);
  }
  return vma;
}

/**
 * mlock_vma_pages_range(): set the new flags with the VMA write-locked, walk the range to mlock
 * (or munlock) what is mapped already. While the walk runs a VM_LOCKED VMA carries VM_IO too, so
 * that an rmap walker's mlock_vma_folio() does not count the folio a second time.
 */
function* mlockVmaPagesRange(vma: Vma, start: Vaddr, end: Vaddr, newflags: number): KGen<void> {
  if (newflags & VM_LOCKED) newflags |= VM_IO;
  yield* vmaStartWrite(vma);
  vma.flags = newflags; // vm_flags_reset_once()
  yield* walkPageRange(vma.mm, start, end, MLOCK_WALK_OPS, null); // lru_add_drain() on either side: no LRU batches here
  if (newflags & VM_IO) vma.flags = newflags & ~VM_IO;
}

/**
 * mlock_pte_range(): a huge PMD's folio under the PMD lock; else each present entry's folio under
 * the PTE lock, a large folio once for the run of entries that map it (folio_mlock_step()).
 */
function* mlockPteRange(pmdp: number, addr: Vaddr, end: Vaddr, walk: MmWalk<null>): KGen<number> {
  const vma = walk.vma!;
  const mem = current.k.mem;
  const start = addr;
  const ptl = yield* pmdTransHugeLock(vma, pmdp);
  if (ptl !== null) {
    const v = yield* ptepGet(pmdp);
    if (pmdPresent(v) && !isHugeZeroPmd(v)) {
      if (vma.flags & VM_LOCKED) mlockFolio(pmdPfn(v));
      else munlockFolio(pmdPfn(v));
    }
    yield* spinUnlock(ptl); // out:
    yield* condResched();
    return 0;
  }
  const out = new PteMapOut();
  const startPte = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (startPte < 0) {
    walk.action = ACTION_AGAIN;
    return 0;
  }
  for (let pte = startPte; addr !== end; pte++, addr += PAGE_SIZE) {
    const ptent = yield* ptepGet(pte);
    if (!ptePresent(ptent) || pteSpecial(ptent)) continue; // vm_normal_folio(): none for the zero page
    const page = ptePfn(ptent);
    const folio = mem.folioHead(page);
    const step = yield* folioMlockStep(folio, pte, ptent, addr, end);
    if (allowMlockMunlock(folio, page, vma, addr, start, end, step)) {
      if (vma.flags & VM_LOCKED) mlockFolio(folio);
      else munlockFolio(folio);
    }
    pte += step - 1; // next_entry:
    addr += (step - 1) * PAGE_SIZE;
  }
  yield* pteUnmapUnlock(startPte, out.ptl);
  yield* condResched();
  return 0;
}

const MLOCK_WALK_OPS: MmWalkOps<null> = Object.freeze({ pmdEntry: mlockPteRange, walkLock: 'wrlock_verify' });

/** folio_mlock_step(): how many entries from this one map the same large folio (1 for a small one). */
function* folioMlockStep(folio: Pfn, pte: number, ptent: Pte, addr: Vaddr, end: Vaddr): KGen<number> {
  if (current.k.mem.order[folio] === 0) return 1;
  return yield* folioPteBatch(folio, pte, ptent, (end - addr) / PAGE_SIZE);
}

/**
 * allow_mlock_munlock(): munlock always; mlock a large folio only when it lies wholly inside
 * [start, end) of the VMA and this run of entries maps all of it. folio_within_range() places the
 * folio by its index; the model places it where the entry maps `page` (the same place: the
 * model's large folios are mapped at their linear index).
 */
function allowMlockMunlock(folio: Pfn, page: Pfn, vma: Vma, addr: Vaddr, start: Vaddr, end: Vaddr, step: number): boolean {
  if (!(vma.flags & VM_LOCKED)) return true;
  const nr = current.k.mem.folioNr(folio);
  if (nr === 1) return true;
  const lo = Math.max(start, vma.start);
  const hi = Math.min(end, vma.end);
  const folioAddr = addr - (page - folio) * PAGE_SIZE;
  if (folioAddr < lo || hi - folioAddr < nr * PAGE_SIZE) return false; // folio not in range [start, end)
  return step === nr; // else: not fully mapped
}

/** mlock_folio(): PG_mlocked (folio_test_set_mlocked()); the model has no unevictable LRU. */
function mlockFolio(folio: Pfn): void {
  current.k.mem.setFlags(folio, PG_mlocked);
}

/** munlock_folio() → __munlock_folio(): PG_mlocked cleared (the model keeps no mlock_count). */
function munlockFolio(folio: Pfn): void {
  current.k.mem.clearFlags(folio, PG_mlocked);
}
