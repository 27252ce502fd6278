/**
 * Which spinlock guards which page table (include/linux/mm.h: pte_lockptr(), pmd_lockptr(),
 * ptlock_ptr()). Lock handles are numbers: a positive handle is the split lock of the table with
 * that id; a negative handle is `mm->page_table_lock` of mm (-handle - 1).
 */
import { Violation } from './bug.js';
import { PTRS_PER_PMD } from './const.js';
import type { MmStruct } from './mm_types.js';
import { pmdPfn, type Pmd } from './pgtable_types.js';

export type LockHandle = number;

export const mmLockHandle = (mm: MmStruct): LockHandle => -mm.id - 1;

/**
 * pte_lockptr(mm, pmdval): the lock of the PTE table the PMD *value* points to. Derived from a
 * snapshot, so a stale value yields the lock of a table that may have been detached meanwhile:
 * every user revalidates the PMD after taking it (docs/kernel-rules.md, "Page-table locks", "Lockless access").
 */
export function pteLockptr(mm: MmStruct, pmdval: Pmd): LockHandle {
  if (!mm.kernel.cfg.splitPtlocks) return mmLockHandle(mm);
  const tid = mm.kernel.pt.tidOfPfn(pmdPfn(pmdval));
  // Deriving a lock from a PMD that points to no page table (none, or a freed and reused frame)
  // is what race R3 did: in the kernel, a bogus spinlock pointer.
  if (!tid) throw new Violation('pt-use-after-free', `pte_lockptr() of PMD value ${pmdval}, which points to no page table`);
  return tid;
}

/** pmd_lockptr(mm, pmdp): the lock of the PMD table that contains the slot. */
export function pmdLockptr(mm: MmStruct, pmdp: number): LockHandle {
  if (!mm.kernel.cfg.splitPtlocks) return mmLockHandle(mm);
  return (pmdp / PTRS_PER_PMD) | 0;
}
