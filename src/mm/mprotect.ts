/**
 * The mprotect() system call (mm/mprotect.c: do_mprotect_pkey(), mprotect_fixup()): the VMA
 * split/merge, then change_protection() over the range (change_protection.ts).
 * Left out: pkeys, PROT_GROWSDOWN/UP, VM_ACCOUNT charging.
 */
import { alignUp, EACCES, EINVAL, ENOMEM, PAGE_SIZE, type Vaddr } from './const.js';
import { VM_EXEC, VM_LOCKED, VM_READ, VM_SHARED, VM_WRITE, type MmStruct, type Vma } from './mm_types.js';
import { calcVmProtBits, PROT_EXEC, PROT_READ, PROT_WRITE } from './mmap.js';
import { mmapWriteUnlock, vmaStartWrite } from './mmap_lock.js';
import { tlbFinishMmu, tlbGatherMmu, type MmuGather } from './mmu_gather.js';
import { downWrite, type KGen } from './primitives.js';
import { populateVmaPageRange } from './gup.js';
import { vmaModifyFlags } from './vma.js';
import { findVma } from './vma_tree.js';
import { vmaWantsManualPteWriteUpgrade, MM_CP_TRY_CHANGE_WRITABLE, changeProtection } from './change_protection.js';

/**
 * do_mprotect_pkey() without pkeys: the first VMA must start at or below `start` (else -ENOMEM
 * and nothing changes); a hole further on stops the walk with -ENOMEM after the VMAs before it were
 * changed, as the kernel does.
 */
export function* doMprotectPkey(mm: MmStruct, start: Vaddr, len: number, prot: number): KGen<number> {
  if (start % PAGE_SIZE) return -EINVAL;
  if (!len) return 0;
  const end = start + alignUp(len, PAGE_SIZE);
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -EINVAL;
  yield* downWrite(mm.mmapLock);
  const tlb = tlbGatherMmu(mm);
  let error = -ENOMEM;
  let vma = findVma(mm, start); // vma_find(&vmi, end)
  if (vma && vma.start < end && vma.start <= start) {
    error = 0;
    let nstart = start;
    let tmp = vma.start;
    while (vma && vma.start < end) {
      if (vma.start !== tmp) {
        error = -ENOMEM;
        break;
      }
      const newflags = calcVmProtBits(prot) | (vma.flags & ~(VM_READ | VM_WRITE | VM_EXEC));
      // Each VM_x needs its VM_MAYx (four bits higher).
      if ((newflags & ~(newflags >> 4)) & 0xf) {
        error = -EACCES;
        break;
      }
      tmp = Math.min(vma.end, end);
      const nv = yield* mprotectFixup(tlb, vma, nstart, tmp, newflags);
      tmp = nv.end; // vma_iter_end(): past a merge this may be beyond `end`
      nstart = tmp;
      vma = findVma(mm, tmp);
    }
    if (!error && tmp < end) error = -ENOMEM;
  }
  yield* tlbFinishMmu(tlb);
  yield* mmapWriteUnlock(mm);
  return error;
}

/** mprotect_fixup(): split/merge to give [start, end) the new flags, then rewrite its entries. */
export function* mprotectFixup(tlb: MmuGather, vma: Vma, start: Vaddr, end: Vaddr, newflags: number): KGen<Vma> {
  const oldflags = vma.flags;
  if (newflags === oldflags) return vma;
  // A private locked VMA turning writable: break COW now, not at the first write.
  const populate = (oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) === VM_LOCKED && (newflags & VM_WRITE) !== 0;
  const nv = yield* vmaModifyFlags(vma.mm, vma, start, end, newflags);
  yield* vmaStartWrite(nv);
  const cpFlags = vmaWantsManualPteWriteUpgrade(nv) ? MM_CP_TRY_CHANGE_WRITABLE : 0;
  yield* changeProtection(tlb, nv, start, end, cpFlags);
  if (populate) yield* populateVmaPageRange(nv, start, end);
  return nv;
}
