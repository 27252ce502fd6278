/**
 * Lockless PTE-table mapping and deferred table freeing (mm/pgtable-generic.c), the protocol that
 * lets PTE tables vanish under walkers (docs/kernel-rules.md, "Lockless access"): map inside rcu_read_lock(), and revalidate the
 * PMD after taking the PTE lock.
 */
import { HPAGE_PMD_SIZE, LEVEL_PTE, PAGE_SHIFT, PAGE_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import type { MmStruct, Vma } from './mm_types.js';
import { T_ALLOCATED, T_DEPOSITED, T_DETACHED, T_QUEUED, tidOf } from './pgtable.js';
import { isPmdMigrationEntry, pmdIsTable, pmdNone, pmdPfn, pmdTransHuge, ptePresent, type Pmd } from './pgtable_types.js';
import {
  callRcuStep,
  depositStore,
  flushTlbMmRange,
  ptepGet,
  ptepGetAndClear,
  rcuReadLock,
  rcuReadUnlock,
  spinLock,
  spinUnlock,
  type KGen,
} from './primitives.js';
import { pteLockptr, type LockHandle } from './ptlock.js';
import { pteOffset } from './pgtable_mm.js';

/** Out-parameters of the pte_offset_map family (the kernel's `pmd_t *pmdvalp, spinlock_t **ptlp`). */
export class PteMapOut {
  pmdval: Pmd = 0;
  ptl: LockHandle = 0;
}

/**
 * ___pte_offset_map(): enter RCU, snapshot the PMD once; NULL (-1) unless it is a table. The
 * returned pointer stays usable until pte_unmap(), even if the table is detached meanwhile,
 * because every path that frees a reachable PTE table waits for an RCU grace period.
 */
export function* __pteOffsetMap(pmdp: number, addr: Vaddr, out: PteMapOut | null): KGen<number> {
  yield* rcuReadLock();
  const pmdval = yield* ptepGet(pmdp);
  if (out) out.pmdval = pmdval;
  if (pmdNone(pmdval) || isPmdMigrationEntry(pmdval) || pmdTransHuge(pmdval)) {
    yield* rcuReadUnlock();
    return -1;
  }
  return pteOffset(pmdval, addr);
}

/** pte_offset_map() of a PMD value the caller already loaded (gup_fast's local copy). */
export function* pteOffsetMapValue(pmdval: Pmd, addr: Vaddr): KGen<number> {
  yield* rcuReadLock();
  if (pmdNone(pmdval) || isPmdMigrationEntry(pmdval) || pmdTransHuge(pmdval)) {
    yield* rcuReadUnlock();
    return -1;
  }
  return pteOffset(pmdval, addr);
}

/** pte_offset_map(): read-only use, nothing locked. */
export function* pteOffsetMap(pmdp: number, addr: Vaddr): KGen<number> {
  return yield* __pteOffsetMap(pmdp, addr, null);
}

/** pte_offset_map_ro_nolock(): also the lock a later reader would take. */
export function* pteOffsetMapRoNolock(mm: MmStruct, pmdp: number, addr: Vaddr, out: PteMapOut): KGen<number> {
  const pte = yield* __pteOffsetMap(pmdp, addr, out);
  if (pte >= 0) out.ptl = pteLockptr(mm, out.pmdval);
  return pte;
}

/**
 * pte_offset_map_rw_nolock(): like _ro_nolock, and the caller must, after taking out.ptl, either
 * check pmd_same(out.pmdval, *pmdp) or rely on pte_same() of a non-none entry before writing.
 */
export function* pteOffsetMapRwNolock(mm: MmStruct, pmdp: number, addr: Vaddr, out: PteMapOut): KGen<number> {
  return yield* pteOffsetMapRoNolock(mm, pmdp, addr, out);
}

/**
 * __pte_offset_map_lock(): map, lock the table's PTE lock, and retry until the PMD still points to
 * the table we locked. Spinning on the lock of a table detached meanwhile is legal only because
 * the table, lock included, outlives our RCU section.
 */
export function* pteOffsetMapLock(mm: MmStruct, pmdp: number, addr: Vaddr, out: PteMapOut): KGen<number> {
  for (;;) {
    const pte = yield* __pteOffsetMap(pmdp, addr, out);
    if (pte < 0) return -1;
    const ptl = pteLockptr(mm, out.pmdval);
    yield* spinLock(ptl);
    // Recheck under the PTE lock: the table may have been reclaimed or retracted meanwhile.
    if ((yield* ptepGet(pmdp)) === out.pmdval) {
      out.ptl = ptl;
      return pte;
    }
    yield* pteUnmapUnlock(pte, ptl);
  }
}

/** pte_unmap(): leave the RCU section entered by the map. */
export function* pteUnmap(_pte: number): KGen<void> {
  yield* rcuReadUnlock();
}

/** pte_unmap_unlock(). */
export function* pteUnmapUnlock(pte: number, ptl: LockHandle): KGen<void> {
  yield* spinUnlock(ptl);
  yield* pteUnmap(pte);
}

/**
 * pte_free_defer(): free a detached PTE table after an RCU grace period (used by khugepaged,
 * whose callers already flushed the TLB with pmdp_collapse_flush()).
 */
export function* pteFreeDefer(_mm: MmStruct, tid: number): KGen<void> {
  const k = current.k;
  k.pt.setState(tid, T_QUEUED);
  yield* callRcuStep(
    'pte_free_now',
    () => {
      k.stats.rcuCallbacks++;
      k.pt.free(tid);
    },
    [tid],
  );
}

/** ptep_clear_flush() (mm/pgtable-generic.c): clear the entry, and flush it if the TLB may hold it (pte_accessible()). */
export function* ptepClearFlush(vma: Vma, address: Vaddr, ptep: number): KGen<number> {
  const pte = yield* ptepGetAndClear(ptep);
  if (ptePresent(pte)) yield* flushTlbMmRange(vma.mm, address, address + PAGE_SIZE, PAGE_SHIFT, false);
  return pte;
}

/**
 * pmdp_collapse_flush(): clear a PMD that points to a PTE table and flush the range. x86's
 * flush_tlb_range() passes freed_tables = false (arch/x86/mm/pgtable.c). The table is off the
 * tree from the clear on (its state changes in the clearing step, whose footprint names it).
 */
export function* pmdpCollapseFlush(vma: Vma, address: Vaddr, pmdp: number): KGen<Pmd> {
  const pmd = yield* ptepGetAndClear(pmdp);
  if (pmdIsTable(pmd) && !pmdTransHuge(pmd)) current.k.pt.setState(pteTableOf(pmd), T_DETACHED);
  yield* flushTlbMmRange(vma.mm, address, address + HPAGE_PMD_SIZE, PAGE_SHIFT, false);
  return pmd;
}

/**
 * pgtable_trans_huge_deposit(): keep a PTE table with a huge PMD (caller holds the PMD lock). A
 * store of its own (pmd_huge_pte), so that a table collapse took off the tree becomes a kept one
 * in a step whose footprint names it.
 */
export function* pgtableTransHugeDeposit(pmdp: number, tid: number): KGen<void> {
  yield* depositStore(tid);
  const pt = current.k.pt;
  const pmdTid = tidOf(pmdp);
  pt.assertLevel(tid, LEVEL_PTE);
  pt.setState(tid, T_DEPOSITED);
  pt.next[tid] = pt.deposit[pmdTid];
  pt.deposit[pmdTid] = tid;
}

/** pgtable_trans_huge_withdraw(): take a deposited table back (caller holds the PMD lock). */
export function pgtableTransHugeWithdraw(pmdp: number): number {
  const pt = current.k.pt;
  const pmdTid = tidOf(pmdp);
  const tid = pt.deposit[pmdTid];
  if (tid <= 0) return 0;
  pt.deposit[pmdTid] = pt.next[tid];
  pt.next[tid] = -1;
  pt.setState(tid, T_ALLOCATED); // private again until pmd_populate() links it
  return tid;
}

/** The PTE table a PMD value points to. */
function pteTableOf(pmd: Pmd): number {
  return current.k.pt.tidOfPfn(pmdPfn(pmd));
}
