/**
 * The mmap_lock and the per-VMA lock (mm/mmap_lock.c, include/linux/mmap_lock.h, Linux 6.18).
 *
 * A VMA is write-locked by setting its vm_lock_seq to the mm's mm_lock_seq while holding the
 * mmap_lock for write; mmap_write_unlock() (and downgrade) bump mm_lock_seq, which ends every VMA
 * write lock of the section at once. Readers (page faults, per-VMA MADV_DONTNEED) find the VMA in
 * the maple tree under RCU and take a reference on vm_refcnt unless the VMA is write-locked or
 * detached. The model keeps the reference count as an rw-semaphore (`Vma.vmLock`: readers are the
 * references, a writer waits them out) plus the `detached` flag (a count of zero).
 */
import type { Vaddr } from './const.js';
import type { MmStruct, Vma } from './mm_types.js';
import {
  downgradeWrite,
  downWrite,
  mtWalk,
  rcuReadLock,
  rcuReadUnlock,
  upRead,
  upWrite,
  vmaEndWriteAll,
  vmaRefcountIncNotZero,
  vmaSeqLocked,
  type KGen,
} from './primitives.js';
import { vmaLookup } from './vma_tree.js';

/** mmap_write_unlock(): vma_end_write_all(), then up_write(). */
export function* mmapWriteUnlock(mm: MmStruct): KGen<void> {
  yield* vmaEndWriteAll(mm);
  yield* upWrite(mm.mmapLock);
}

/** mmap_write_downgrade(): vma_end_write_all(), then downgrade_write(). */
export function* mmapWriteDowngrade(mm: MmStruct): KGen<void> {
  yield* vmaEndWriteAll(mm);
  yield* downgradeWrite(mm.mmapLock);
}

/**
 * vma_start_write() / __vma_start_write(): wait out the VMA's readers, then mark it write-locked
 * until mmap_write_unlock(). Nothing to do if this section already write-locked it (the caller
 * holds the mmap_lock for write, so the sequence numbers cannot change under it).
 */
export function* vmaStartWrite(vma: Vma): KGen<void> {
  if (vma.writeSeq === vma.mm.mmapSeq) return;
  yield* downWrite(vma.vmLock); // __vma_enter_locked(): readers drained
  vma.writeSeq = vma.mm.mmapSeq; // WRITE_ONCE(vma->vm_lock_seq, mm_lock_seq)
  yield* upWrite(vma.vmLock); // __vma_exit_locked()
}

/**
 * vma_start_read(), entered under rcu_read_lock(): the VMA read-locked, null when it is
 * write-locked (RCU released), or 'again' when it was detached meanwhile (RCU released).
 */
function* vmaStartRead(mm: MmStruct, vma: Vma): KGen<Vma | null | 'again'> {
  // The lockless pessimistic check: a VMA already write-locked is not worth a reference.
  if (yield* vmaSeqLocked(vma)) {
    yield* rcuReadUnlock();
    return null;
  }
  const got = yield* vmaRefcountIncNotZero(vma);
  if (got !== true) {
    yield* rcuReadUnlock();
    return got === 'detached' ? 'again' : null;
  }
  // The recheck with the reference held: a writer may have write-locked the VMA between the first
  // check and the reference (vma_start_write() waits only for references already taken). Without
  // it a DONTNEED under the per-VMA lock runs inside MADV_COLLAPSE's write-locked section, and
  // collapse_vs_vma_lock finds pmd-from-none with every guard on (docs/explorer.md).
  if (yield* vmaSeqLocked(vma)) {
    yield* upRead(vma.vmLock); // vma_refcount_put()
    yield* rcuReadUnlock();
    return null;
  }
  return vma;
}

/**
 * lock_vma_under_rcu(): the VMA containing address, read-locked, or null (none there, or it is
 * being changed: the caller falls back to the mmap_lock). A VMA detached between the lookup and the
 * reference was replaced: look again.
 */
export function* lockVmaUnderRcu(mm: MmStruct, address: Vaddr): KGen<Vma | null> {
  for (;;) {
    yield* rcuReadLock();
    yield* mtWalk(mm);
    const found = vmaLookup(mm, address); // mas_walk()
    if (!found) {
      yield* rcuReadUnlock();
      return null;
    }
    const vma = yield* vmaStartRead(mm, found);
    if (vma === 'again') continue;
    if (vma === null) return null;
    yield* rcuReadUnlock();
    // Check if the VMA we locked is the right one.
    if (address < vma.start || address >= vma.end) {
      yield* upRead(vma.vmLock); // vma_end_read()
      return null;
    }
    return vma;
  }
}
