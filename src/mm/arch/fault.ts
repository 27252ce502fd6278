/**
 * The user page-fault entry (arch/x86/mm/fault.c: do_user_addr_fault()): try the per-VMA lock
 * first (lock_vma_under_rcu()), fall back to mmap_lock on VM_FAULT_RETRY.
 */
import type { Vaddr } from '../const.js';
import { handleMmFault } from '../memory/fault.js';
import {
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_KILLABLE,
  FAULT_FLAG_USER,
  FAULT_FLAG_VMA_LOCK,
  FAULT_FLAG_WRITE,
  VM_FAULT_ERROR,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_WRITE,
  type MmStruct,
  type Vma,
} from '../mm_types.js';
import { downRead, upRead, type KGen } from '../primitives.js';
import { lockVmaUnderRcu } from '../mmap_lock.js';
import { vmaLookup } from '../vma_tree.js';
import { vmaIsAccessible } from '../internal.js';

/** Outcome of a user access fault, as the process would see it. */
export const FAULT_OK = 0;
export const FAULT_SIGSEGV = 1;
export const FAULT_SIGBUS = 2;
export const FAULT_OOM = 3;

/**
 * access_error(): a write to a VMA without VM_WRITE, or any access to one that is not accessible
 * (PROT_NONE). A read fault is never a protection fault here: the model's read-only PTEs are
 * readable, and PROT_NONE entries are not user-accessible (no PF_PROT on a read).
 */
function accessError(vma: Vma, write: boolean): boolean {
  if (write) return !(vma.flags & VM_WRITE);
  return !vmaIsAccessible(vma);
}

function outcome(fault: number): number {
  if (!(fault & VM_FAULT_ERROR)) return FAULT_OK;
  if (fault & VM_FAULT_OOM) return FAULT_OOM;
  if (fault & VM_FAULT_SIGBUS) return FAULT_SIGBUS;
  if (fault & VM_FAULT_SIGSEGV) return FAULT_SIGSEGV;
  return FAULT_SIGBUS;
}

/** do_user_addr_fault(). */
export function* doUserAddrFault(mm: MmStruct, address: Vaddr, write: boolean): KGen<number> {
  const flags = FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | (write ? FAULT_FLAG_WRITE : 0);
  const vma = yield* lockVmaUnderRcu(mm, address);
  if (vma) {
    if (accessError(vma, write)) {
      yield* upRead(vma.vmLock);
      return FAULT_SIGSEGV;
    }
    const fault = yield* handleMmFault(vma, address, flags | FAULT_FLAG_VMA_LOCK);
    yield* upRead(vma.vmLock); // vma_end_read()
    if (!(fault & VM_FAULT_RETRY)) return outcome(fault);
  }
  // lock_mmap: lock_mm_and_find_vma()
  yield* downRead(mm.mmapLock);
  const v = vmaLookup(mm, address);
  if (!v || accessError(v, write)) {
    yield* upRead(mm.mmapLock);
    return FAULT_SIGSEGV;
  }
  const fault = yield* handleMmFault(v, address, flags);
  yield* upRead(mm.mmapLock);
  return outcome(fault);
}
