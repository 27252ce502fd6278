/**
 * Synchronous reclaim of empty PTE tables (mm/pt_reclaim.c, CONFIG_PT_RECLAIM, Linux 6.14 to 6.18;
 * from 7.0, 4c640eb4181c, the same steps are static functions of mm/memory.c under new names:
 * pte_table_reclaim_possible(), zap_empty_pte_table(), zap_pte_table_if_empty()).
 *
 * zap_pte_range() decides: a zap that covered a whole table and left nothing behind either
 * detaches the table itself while still holding its PTE lock (fast path, try_get_and_clear_pmd())
 * or, if the PTE lock was dropped on the way, rescans all 512 entries under the PMD and PTE locks
 * (slow path, try_to_free_pte()). Either way the table is freed through the mmu_gather: after the
 * TLB flush and an RCU grace period.
 */
import { Violation } from './bug.js';
import { guardOn } from './config.js';
import { alignDown, alignUp, PMD_SIZE, PTRS_PER_PTE, type Vaddr } from './const.js';
import { current } from './current.js';
import type { MmStruct } from './mm_types.js';
import { pteFreeTlb, type MmuGather } from './mmu_gather.js';
import { T_DETACHED, T_LINKED } from './pgtable.js';
import { PteMapOut, pteOffsetMapRwNolock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import { ptepGet, pteScanNone, setPte, spinLock, spinTrylock, spinUnlock, type KGen } from './primitives.js';
import { pmdLockptr, type LockHandle } from './ptlock.js';
import type { ZapDetails } from './memory/zap.js';
import { mmDecNrPtes, tableOf } from './pgtable_mm.js';

/** reclaim_pt_is_enabled() (7.0: pte_table_reclaim_possible()): only a zap asked to reclaim, covering a whole PMD's range. */
export function reclaimPtIsEnabled(start: Vaddr, end: Vaddr, details: ZapDetails | null): boolean {
  const cfg = current.k.cfg;
  if (!cfg.ptReclaim || details === null || !details.reclaimPt) return false;
  if (guardOn(cfg, 'reclaim-range-check')) return end - start >= PMD_SIZE;
  // v1 of the series (race R12): ALIGN_DOWN(end) - ALIGN(start) in unsigned arithmetic, which
  // underflows for a range inside one block and so "covers" the table.
  let d = alignDown(end, PMD_SIZE) - alignUp(start, PMD_SIZE);
  if (d < 0) d += 2 ** 64;
  return d >= PMD_SIZE;
}

/**
 * Record that the PTE table a PMD value pointed to was just cleared from its slot. The sanitizer
 * checks the detach invariant (docs/kernel-rules.md, "Invariants", 3): a table leaves the tree only empty.
 */
export function markPteTableDetached(pmdval: number, what: string): void {
  const pt = current.k.pt;
  const tid = tableOf(pmdval);
  if (pt.state[tid] !== T_LINKED) throw new Violation('pt-use-after-free', `${what}: PMD pointed to table ${tid} that is not linked`);
  pt.setState(tid, T_DETACHED);
  if (pt.populated(tid) !== 0) {
    throw new Violation('nonempty-detach', `${what} detached PTE table ${tid} with ${pt.populated(tid)} live entries`);
  }
}

/**
 * try_get_and_clear_pmd() (7.0: zap_empty_pte_table()): the fast path, entered with the PTE lock
 * `ptl` held. Taking the PMD lock here inverts the normal order (PMD lock, then PTE lock), so only a
 * trylock is allowed (race R7). Without split PTE locks both are mm->page_table_lock: before 7.0
 * the trylock of the lock already held always fails and the slow path rescans; 7.0 (fb4ddf208511)
 * skips the trylock when the locks are one.
 */
export function* tryGetAndClearPmd(mm: MmStruct, pmdp: number, ptl: LockHandle, out: PteMapOut): KGen<boolean> {
  const pml = pmdLockptr(mm, pmdp);
  const takePml = ptl !== pml || current.k.cfg.trylockSameLock;
  if (!takePml) {
    // The PMD lock is the PTE lock, held.
  } else if (!guardOn(current.k.cfg, 'fastpath-pml-trylock')) {
    yield* spinLock(pml); // the blocking variant (race R7: ABBA with PMD-lock-then-PTE-lock users)
  } else if (!(yield* spinTrylock(pml))) {
    return false;
  }
  out.pmdval = yield* ptepGet(pmdp);
  yield* setPte(pmdp, 0); // pmd_clear()
  markPteTableDetached(out.pmdval, 'try_get_and_clear_pmd');
  if (takePml) yield* spinUnlock(pml);
  return true;
}

/**
 * free_pte(): queue the detached table on the gather; VmPTE drops now, the memory later.
 * pte_free_tlb() widens the gather's flush range by the address it is given, and that flush is what
 * drops walk-cache entries pointing at the table: it must be an address the table maps.
 */
export function* freePte(mm: MmStruct, addr: Vaddr, tlb: MmuGather, pmdval: number): KGen<void> {
  // Race R9 (2026, CVE-2026-74674): with pt_reclaim.c folded into memory.c, zap_pte_range()'s tail
  // passed its loop cursor, which had advanced to `end`, one past the table's range. Reclaim runs
  // only for a zap that covered the whole table, so that cursor is the end of addr's block.
  // (Modelled here rather than at the zap_pte_range() call site, which is the same value.)
  const flushAddr = guardOn(current.k.cfg, 'free-pte-flush-addr') ? addr : alignDown(addr, PMD_SIZE) + PMD_SIZE;
  yield* pteFreeTlb(tlb, tableOf(pmdval), flushAddr);
  mmDecNrPtes(mm);
}

/**
 * try_to_free_pte() (7.0: zap_pte_table_if_empty(), with the free moved to the caller): the slow
 * path, after the PTE lock was dropped. Under the PMD lock the slot can
 * only hold some table or nothing; whichever table is there now is freed if all its entries are
 * none (possibly not the one we zapped, if it was replaced meanwhile: that one is empty too).
 */
export function* tryToFreePte(mm: MmStruct, pmdp: number, addr: Vaddr, tlb: MmuGather): KGen<boolean> {
  const pml = pmdLockptr(mm, pmdp);
  yield* spinLock(pml);
  const out = new PteMapOut();
  const startPte = yield* pteOffsetMapRwNolock(mm, pmdp, addr, out);
  if (startPte < 0) {
    yield* spinUnlock(pml);
    return false;
  }
  const ptl = out.ptl;
  if (ptl !== pml) yield* spinLock(ptl); // spin_lock_nested(): PMD lock, then PTE lock
  // Is it an empty PTE table? All 512 entries are read under both locks; no software writer can
  // fill one meanwhile and hardware never writes a none entry, so the loop is one atomic step.
  const base = startPte - (startPte % PTRS_PER_PTE);
  if ((yield* pteScanNone(base, PTRS_PER_PTE)) !== PTRS_PER_PTE) {
    yield* pteUnmapUnlock(startPte, ptl);
    if (ptl !== pml) yield* spinUnlock(pml);
    current.k.stats.slowPathNotEmpty++;
    return false;
  }
  yield* pteUnmap(startPte);
  yield* setPte(pmdp, 0); // pmd_clear()
  markPteTableDetached(out.pmdval, 'try_to_free_pte');
  if (ptl !== pml) yield* spinUnlock(ptl);
  yield* spinUnlock(pml);
  yield* freePte(mm, addr, tlb, out.pmdval);
  return true;
}
