/**
 * The mmu_gather protocol (mm/mmu_gather.c, include/asm-generic/tlb.h, arch/x86/include/asm/tlb.h):
 * unhook entries first, then flush the TLB, then free what they pointed to; page-table pages are
 * additionally held back for an RCU grace period, because lockless walkers (pte_offset_map*() under
 * rcu_read_lock(), gup_fast with interrupts off) may still be reading them.
 *
 * Page batching follows the kernel's sizes, so the points where a zap must stop and flush
 * (force_flush / force_break) fall where they fall on the live kernel: an 8-entry bundle on the
 * stack, then up to MAX_GATHER_BATCH_COUNT batch pages of MAX_GATHER_BATCH entries each. A large
 * folio zapped as a batch of n pages takes two entries (page, nr). Batch pages themselves are not
 * allocated as frames (modelled coarsely: only their count and the chance of failure).
 */
import { PAGE_SHIFT, PMD_SHIFT, PMD_SIZE, PUD_SHIFT, TASK_SIZE, type Pfn, type Vaddr } from './const.js';
import { obj, OBJ } from './objects.js';
import { guardOn } from './config.js';
import { current } from './current.js';
import type { MmStruct, Vma } from './mm_types.js';
import { T_QUEUED } from './pgtable.js';
import {
  batchAllocSucceeds,
  callRcuStep,
  flushTlbMmRange,
  sleepingWait,
  ptlockFree,
  tlbRemoveTableSyncOne,
  type KGen,
} from './primitives.js';
import { folioRemoveRmapPtes } from './rmap.js';
import { folioPutRefs } from './swap.js';
import { freeSwapCache } from './swapfile.js';
import { PT_ANON } from './page_alloc.js';

export const MMU_GATHER_BUNDLE = 8;
/** (PAGE_SIZE - sizeof(struct mmu_gather_batch)) / sizeof(void *). */
export const MAX_GATHER_BATCH = (4096 - 16) / 8;
export const MAX_GATHER_BATCH_COUNT = Math.floor(10000 / MAX_GATHER_BATCH);
/** (PAGE_SIZE - sizeof(struct mmu_table_batch)) / sizeof(void *). */
export const MAX_TABLE_BATCH = Math.floor((4096 - 24) / 8);

export class MmuGather {
  fullmm = false;
  needFlushAll = false;
  freedTables = false;
  clearedPtes = false;
  clearedPmds = false;
  clearedPuds = false;
  start = TASK_SIZE;
  end = 0;
  /** Queued pages: head pfn (or page pfn for delayed rmaps), page count, delayed-rmap flag. */
  readonly pagePfn: number[] = [];
  readonly pageNr: number[] = [];
  readonly pageDelay: boolean[] = [];
  /** Entries used in the active batch, its capacity, which batch is active, batches allocated. */
  activeNr = 0;
  activeMax = MMU_GATHER_BUNDLE;
  activeIdx = 0;
  batchCount = 0;
  delayedRmap = false;
  /** The table batch (struct mmu_table_batch), or null when none is allocated. */
  tableBatch: number[] | null = null;
  /** Before 6.15 without PT_RECLAIM: page-table pages queued in the page batch (freed after the flush, no RCU). */
  readonly tablePages: number[] = [];
  constructor(readonly mm: MmStruct) {}
}

/** __tlb_reset_range(). */
function tlbResetRange(tlb: MmuGather): void {
  if (tlb.fullmm) {
    tlb.start = tlb.end = Number.MAX_SAFE_INTEGER;
  } else {
    tlb.start = TASK_SIZE;
    tlb.end = 0;
  }
  tlb.freedTables = false;
  tlb.clearedPtes = false;
  tlb.clearedPmds = false;
  tlb.clearedPuds = false;
}

/** __tlb_adjust_range(). */
export function tlbAdjustRange(tlb: MmuGather, address: Vaddr, size: number): void {
  if (address < tlb.start) tlb.start = address;
  if (address + size > tlb.end) tlb.end = address + size;
}

/** tlb_flush_pte_range(). */
export function tlbFlushPteRange(tlb: MmuGather, address: Vaddr, size: number): void {
  tlbAdjustRange(tlb, address, size);
  tlb.clearedPtes = true;
}
/** tlb_flush_pmd_range(). */
export function tlbFlushPmdRange(tlb: MmuGather, address: Vaddr, size: number): void {
  tlbAdjustRange(tlb, address, size);
  tlb.clearedPmds = true;
}

/** tlb_gather_mmu() / tlb_gather_mmu_fullmm(). */
export function tlbGatherMmu(mm: MmStruct, fullmm = false): MmuGather {
  const tlb = new MmuGather(mm);
  tlb.fullmm = fullmm;
  tlbResetRange(tlb);
  mm.tlbFlushPending++; // inc_tlb_flush_pending()
  mm.kernel.rec.touch(obj(OBJ.flushPending, mm.id), true);
  return tlb;
}

/**
 * mm_tlb_flush_pending(): another CPU may be inside an mmu_gather of this mm, its unhooked
 * entries not yet flushed (a read the explorer must see: objects.ts flushPending).
 */
export function mmTlbFlushPending(mm: MmStruct): number {
  mm.kernel.rec.touch(obj(OBJ.flushPending, mm.id), false);
  return mm.tlbFlushPending;
}

/**
 * The remedy proposed for race R8 and not merged ("mm: fix missing TLB flushing", RFC of
 * 2024-08-15, Message-ID 20240815120715.14516-1-zhengqi.arch@bytedance.com; config
 * fault_flush_pending): a fault about to make a PTE table or a huge PMD reachable in a block while
 * the mm has a TLB flush pending flushes the block first, so that no CPU keeps translations from
 * before the zap beside the new ones.
 */
export function* flushTlbFixPending(mm: MmStruct, haddr: Vaddr): KGen<void> {
  if (!current.k.cfg.faultFlushPending || mmTlbFlushPending(mm) === 0) return;
  current.k.stats.faultPendingFlushes++;
  yield* flushTlbMmRange(mm, haddr, haddr + PMD_SIZE, PAGE_SHIFT, false);
}

/** tlb_get_unmap_shift(). */
function tlbGetUnmapShift(tlb: MmuGather): number {
  if (tlb.clearedPtes) return PAGE_SHIFT;
  if (tlb.clearedPmds) return PMD_SHIFT;
  if (tlb.clearedPuds) return PUD_SHIFT;
  return PAGE_SHIFT;
}

/** arch/x86/include/asm/tlb.h: tlb_flush(). */
function* tlbFlush(tlb: MmuGather): KGen<void> {
  let start = 0;
  let end = 2 ** 64; // TLB_FLUSH_ALL
  const strideShift = tlbGetUnmapShift(tlb);
  if (!tlb.fullmm && !tlb.needFlushAll) {
    start = tlb.start;
    end = tlb.end;
  }
  yield* flushTlbMmRange(tlb.mm, start, end, strideShift, tlb.freedTables);
}

/** tlb_flush_mmu_tlbonly(): flush what was unhooked, if anything was. */
export function* tlbFlushMmuTlbonly(tlb: MmuGather): KGen<void> {
  if (!(tlb.freedTables || tlb.clearedPtes || tlb.clearedPmds || tlb.clearedPuds)) return;
  yield* tlbFlush(tlb);
  tlbResetRange(tlb);
}

/**
 * __tlb_remove_folio_pages_size(): queue n pages of a folio for freeing after the flush. Returns
 * true when the batch is full and cannot grow: the caller must flush (force_flush/force_break).
 */
export function* tlbRemoveFolioPages(tlb: MmuGather, pfn: Pfn, nr: number, delayRmap: boolean): KGen<boolean> {
  tlb.pagePfn.push(pfn);
  tlb.pageNr.push(nr);
  tlb.pageDelay.push(delayRmap);
  if (delayRmap) tlb.delayedRmap = true;
  tlb.activeNr += nr === 1 ? 1 : 2;
  // Keep room for another "page" + "nr_pages" pair.
  if (tlb.activeNr >= tlb.activeMax - 1) {
    if (!(yield* tlbNextBatch(tlb))) return true;
  }
  return false;
}

/** tlb_next_batch(). */
function* tlbNextBatch(tlb: MmuGather): KGen<boolean> {
  // Delayed rmaps must all be processed under the same PTE lock: do not grow past the bundle.
  if (tlb.delayedRmap && tlb.activeIdx !== 0) return false;
  if (tlb.activeIdx < tlb.batchCount) {
    tlb.activeIdx++;
    tlb.activeNr = 0;
    tlb.activeMax = MAX_GATHER_BATCH;
    return true;
  }
  if (tlb.batchCount === MAX_GATHER_BATCH_COUNT) return false;
  if (!(yield* batchAllocSucceeds())) return false;
  tlb.batchCount++;
  tlb.activeIdx++;
  tlb.activeNr = 0;
  tlb.activeMax = MAX_GATHER_BATCH;
  return true;
}

/** tlb_flush_rmaps(): the rmap removals that had to wait for the TLB flush. */
export function tlbFlushRmaps(tlb: MmuGather, vma: Vma): void {
  if (!tlb.delayedRmap) return;
  for (let i = 0; i < tlb.pagePfn.length; i++) {
    if (!tlb.pageDelay[i]) continue;
    folioRemoveRmapPtes(tlb.pagePfn[i] as Pfn, tlb.pageNr[i], vma.mm);
    tlb.pageDelay[i] = false;
  }
  tlb.delayedRmap = false;
}

/**
 * tlb_batch_pages_flush() → free_pages_and_swap_cache() (mm/swap_state.c): drop the queued page
 * references, each folio first giving up its swap cache if nothing maps it (free_swap_cache()).
 */
function* tlbBatchPagesFlush(tlb: MmuGather): KGen<void> {
  const mem = current.k.mem;
  for (let i = 0; i < tlb.pagePfn.length; i++) {
    const head = mem.folioHead(tlb.pagePfn[i] as Pfn);
    if (mem.type[head] === PT_ANON) yield* freeSwapCache(head);
    folioPutRefs(head, tlb.pageNr[i]);
  }
  for (const tid of tlb.tablePages) freeTableNow(tid);
  tlb.tablePages.length = 0;
  tlb.pagePfn.length = 0;
  tlb.pageNr.length = 0;
  tlb.pageDelay.length = 0;
  tlb.activeIdx = 0;
  tlb.activeNr = 0;
  tlb.activeMax = MMU_GATHER_BUNDLE;
}

/** tlb_flush_mmu(): flush the TLB, hand the table batch to RCU, free the queued pages. */
export function* tlbFlushMmu(tlb: MmuGather): KGen<void> {
  yield* tlbFlushMmuTlbonly(tlb);
  yield* tlbTableFlush(tlb);
  yield* tlbBatchPagesFlush(tlb);
}

/** tlb_finish_mmu(). */
export function* tlbFinishMmu(tlb: MmuGather): KGen<void> {
  // Another gather is running on this mm (mm_tlb_flush_nested()): its zaps may have left TLB
  // entries we must not return to user space with, so flush the whole mm.
  if (mmTlbFlushPending(tlb.mm) > 1) {
    tlb.fullmm = true;
    tlbResetRange(tlb);
    tlb.freedTables = true;
  }
  yield* tlbFlushMmu(tlb);
  tlb.mm.tlbFlushPending--; // dec_tlb_flush_pending()
  tlb.mm.kernel.rec.touch(obj(OBJ.flushPending, tlb.mm.id), true);
}

/**
 * tlb_start_vma(): nothing to do on x86. tlb_end_vma() (include/asm-generic/tlb.h, 6.18): flush at
 * each VMA end, unless fullmm or CONFIG_MMU_GATHER_MERGE_VMAS, which x86 selects and arm64 does
 * not: on x86 one flush at the end covers every VMA of the gather.
 */
export function* tlbEndVma(tlb: MmuGather, _vma: Vma): KGen<void> {
  if (tlb.fullmm || current.k.cfg.arch === 'x86') return;
  yield* tlbFlushMmuTlbonly(tlb);
}

// ---- page-table pages -----------------------------------------------------------------------------

/** pte_free_tlb(): the table at `address` leaves the tree; queue it behind the flush. */
export function* pteFreeTlb(tlb: MmuGather, tid: number, address: Vaddr): KGen<void> {
  tlbFlushPmdRange(tlb, address, 4096);
  tlb.freedTables = true;
  // Race R2: with the destructor at queue time, the split lock dies before the grace period.
  if (!guardOn(current.k.cfg, 'ptlock-rcu-free')) yield* ptlockFree(tid);
  yield* pteFreeTlbArch(tlb, tid);
}
/** pmd_free_tlb() / pud_free_tlb(). */
export function* pmdFreeTlb(tlb: MmuGather, tid: number, address: Vaddr): KGen<void> {
  tlbAdjustRange(tlb, address, 4096);
  tlb.clearedPuds = true;
  tlb.freedTables = true;
  yield* pteFreeTlbArch(tlb, tid);
}

/**
 * arch/x86/mm/pgtable.c: ___pte_free_tlb() and friends. Before 6.15, bare metal without PT_RECLAIM
 * hands the table to the ordinary page batch (freed right after the flush, no RCU); with PT_RECLAIM
 * (patch 10), and unconditionally since 6.15 (a37259732a7d), it goes through tlb_remove_table().
 */
function* pteFreeTlbArch(tlb: MmuGather, tid: number): KGen<void> {
  const k = current.k;
  k.pt.setState(tid, T_QUEUED);
  if (k.cfg.tablesViaPageBatch) {
    tableViaPageBatch(tlb, tid);
    return;
  }
  yield* tlbRemoveTable(tlb, tid);
}

/** Table pages ride in the page batch; freed by tlb_batch_pages_flush(), no RCU. */
function tableViaPageBatch(tlb: MmuGather, tid: number): void {
  tlb.tablePages.push(tid);
}

/** mm/mmu_gather.c: tlb_remove_table(). */
export function* tlbRemoveTable(tlb: MmuGather, tid: number): KGen<void> {
  if (tlb.tableBatch === null) {
    if (!(yield* batchAllocSucceeds())) {
      yield* tlbTableInvalidate(tlb);
      yield* tlbRemoveTableOne(tid);
      return;
    }
    tlb.tableBatch = [];
  }
  tlb.tableBatch.push(tid);
  if (tlb.tableBatch.length === MAX_TABLE_BATCH) yield* tlbTableFlush(tlb);
}

/** tlb_table_invalidate(): x86 needs the TLB flushed before tables are freed. */
function* tlbTableInvalidate(tlb: MmuGather): KGen<void> {
  yield* tlbFlushMmuTlbonly(tlb);
}

/** tlb_table_flush(): flush, then free the batch after a grace period (tlb_remove_table_rcu()). */
export function* tlbTableFlush(tlb: MmuGather): KGen<void> {
  const batch = tlb.tableBatch;
  if (batch === null) return;
  yield* tlbTableInvalidate(tlb);
  const k = current.k;
  k.stats.tableBatchesQueued++;
  yield* callRcuStep(
    'tlb_remove_table_rcu',
    () => {
      k.stats.rcuCallbacks++;
      for (const tid of batch) freeTableNow(tid);
    },
    batch,
  );
  tlb.tableBatch = null;
}

/**
 * tlb_remove_table_one(): the single-table fallback when no batch page could be allocated.
 * With PT_RECLAIM (patch 10): call_rcu() on the table itself. Without ("semi-RCU"): an IPI to
 * every CPU, then free at once, which only waits out IRQ-disabled walkers (docs/kernel-rules.md, "Table freeing"; race R1).
 * Without PT_RECLAIM from 7.1 (1fb3d8c20bfa): synchronize_rcu(), then free. Modelled coarsely as
 * a sleep (might_sleep() is checked) and the free queued behind a grace period: the caller does
 * not wait for it, which only lets the model's caller run on earlier than the kernel's would.
 */
function* tlbRemoveTableOne(tid: number): KGen<void> {
  const k = current.k;
  k.stats.singleTableFrees++;
  if (k.cfg.tableFree === 'sync-rcu') yield* sleepingWait('synchronize_rcu');
  if (k.cfg.tableFree !== 'ipi') {
    yield* callRcuStep(
      '__tlb_remove_table_one_rcu',
      () => {
        k.stats.rcuCallbacks++;
        freeTableNow(tid);
      },
      [tid],
    );
    return;
  }
  yield* tlbRemoveTableSyncOne([tid]);
  freeTableNow(tid);
}

/** __tlb_remove_table(): destructor (the split lock dies here: docs/kernel-rules.md, "Table freeing", race R2) and free. */
export function freeTableNow(tid: number): void {
  const k = current.k;
  k.pt.free(tid);
}

