/**
 * Zapping user mappings (mm/memory.c: zap_page_range_single(), unmap_single_vma(),
 * unmap_page_range(), zap_pmd_range(), zap_pte_range(), do_zap_pte_range(), zap_present_ptes(),
 * zap_present_folio_ptes(), zap_nonpresent_ptes(), zap_install_uffd_wp_if_needed()), in the shape
 * the PT_RECLAIM series gave them (docs/kernel-rules.md, "The zap"), with the S0/S1 difference of zap_pte_range().
 */
import { addrEnd, HPAGE_PMD_SIZE, PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE, type Pfn, type Vaddr } from '../const.js';
import { Violation } from '../bug.js';
import { guardOn } from '../config.js';
import { current } from '../current.js';
import { __splitHugePmd, zapHugePmd } from '../huge_memory.js';
import { MM_ANONPAGES, MM_SWAPENTS, VM_UFFD_WP, type Vma } from '../mm_types.js';
import {
  tlbEndVma,
  tlbFinishMmu,
  tlbFlushMmu,
  tlbFlushMmuTlbonly,
  tlbFlushPteRange,
  tlbFlushRmaps,
  tlbGatherMmu,
  tlbRemoveFolioPages,
  type MmuGather,
} from '../mmu_gather.js';
import { PG_dirty, PG_referenced, PT_ANON } from '../page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from '../pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  isGuardPte,
  isMigrationPte,
  isPmdMigrationEntry,
  isUffdWpMarker,
  mkMarkerPte,
  pmdNone,
  pmdTransHuge,
  pteFlags,
  ptePfn,
  ptePresent,
  pteSpecial,
  pteUffdWp,
  PTE_MARKER_UFFD_WP,
  swpKind,
  swpOffset,
  SWP_HWPOISON,
  SWP_SWAPFILE,
  type Pte,
} from '../pgtable_types.js';
import {
  condResched,
  needResched,
  ptepGet,
  ptepGetAndClear,
  pteScanNone,
  setPte,
  type KGen,
} from '../primitives.js';
import { freePte, reclaimPtIsEnabled, tryGetAndClearPmd, tryToFreePte } from '../pt_reclaim.js';
import { folioRemoveRmapPtes } from '../rmap.js';
import { addMmCounter, mmCounter } from '../swap.js';
import { freeSwapAndCacheNr, swapPteBatch } from '../swapfile.js';
import { pgdOffset, pmdOffset, pudOffset } from '../pgtable_mm.js';

/** zap_flags_t bits (include/linux/mm.h). */
export const ZAP_FLAG_DROP_MARKER = 1 << 0;
export const ZAP_FLAG_UNMAP = 1 << 1;

/** struct zap_details. */
export interface ZapDetails {
  evenCows: boolean;
  /** New in the series: free PTE tables that this zap leaves empty. */
  reclaimPt: boolean;
  zapFlags: number;
}

/** should_zap_cows(): under reclaim_pt no present page is ever skipped for COW reasons. */
function shouldZapCows(details: ZapDetails | null): boolean {
  if (details === null || details.reclaimPt) return true;
  return details.evenCows;
}
/** should_zap_folio(). */
function shouldZapFolio(details: ZapDetails | null, head: Pfn): boolean {
  if (shouldZapCows(details)) return true;
  return current.k.mem.type[head] !== PT_ANON;
}
function zapDropMarkers(details: ZapDetails | null): boolean {
  return details !== null && (details.zapFlags & ZAP_FLAG_DROP_MARKER) !== 0;
}

/** Per-call state of zap_pte_range() that the helpers update through pointers in the kernel. */
class ZapState {
  /** int rss[NR_MM_COUNTERS]: a plain array, one per call (a typed array costs far more to create). */
  readonly rss: number[] = [0, 0, 0, 0];
  forceFlush = false;
  forceBreak = false;
  anySkipped = false;
  /** The page batch filled during this pass (the cause of a force_break), for checkRetryHasCause(). */
  batchFilled = false;
}

/** zap_page_range_single(): one VMA, one gather (the madvise(MADV_DONTNEED) path of 6.14). */
export function* zapPageRangeSingle(vma: Vma, address: Vaddr, size: number, details: ZapDetails | null): KGen<void> {
  const end = address + size;
  const tlb = tlbGatherMmu(vma.mm);
  yield* unmapSingleVma(tlb, vma, address, end, details);
  yield* tlbFinishMmu(tlb);
}

/** unmap_single_vma(): clamp to the VMA and zap. */
export function* unmapSingleVma(tlb: MmuGather, vma: Vma, startAddr: Vaddr, endAddr: Vaddr, details: ZapDetails | null): KGen<void> {
  const start = Math.max(vma.start, startAddr);
  if (start >= vma.end) return;
  const end = Math.min(vma.end, endAddr);
  if (end <= vma.start) return;
  if (start !== end) yield* unmapPageRange(tlb, vma, start, end, details);
}

/** unmap_page_range(): walk PGD → PUD → PMD. */
export function* unmapPageRange(tlb: MmuGather, vma: Vma, addr: Vaddr, end: Vaddr, details: ZapDetails | null): KGen<void> {
  const mm = vma.mm;
  // tlb_start_vma(): nothing to do on x86.
  do {
    const next = addrEnd(addr, end, PGDIR_SIZE);
    const pgdv = yield* ptepGet(pgdOffset(mm, addr));
    if (!pmdNone(pgdv)) yield* zapPudRange(tlb, vma, pgdv, addr, next, details);
    addr = next;
  } while (addr !== end);
  yield* tlbEndVma(tlb, vma);
}

function* zapPudRange(tlb: MmuGather, vma: Vma, pgdv: number, addr: Vaddr, end: Vaddr, details: ZapDetails | null): KGen<void> {
  do {
    const next = addrEnd(addr, end, PUD_SIZE);
    const pudv = yield* ptepGet(pudOffset(pgdv, addr));
    if (!pmdNone(pudv)) yield* zapPmdRange(tlb, vma, pudv, addr, next, details);
    addr = next;
  } while (addr !== end);
}

/** zap_pmd_range(): huge PMDs are zapped whole or split; tables go to zap_pte_range(). */
function* zapPmdRange(tlb: MmuGather, vma: Vma, pudv: number, addr: Vaddr, end: Vaddr, details: ZapDetails | null): KGen<void> {
  do {
    const pmdp = pmdOffset(pudv, addr);
    const next = addrEnd(addr, end, PMD_SIZE);
    const v = yield* ptepGet(pmdp);
    if (pmdTransHuge(v) || isPmdMigrationEntry(v)) {
      if (next - addr !== HPAGE_PMD_SIZE) {
        yield* __splitHugePmd(vma, pmdp, addr);
      } else if (yield* zapHugePmd(tlb, vma, pmdp, addr)) {
        addr = next;
        yield* condResched();
        continue;
      }
      // Split, or raced: fall through to the PTE level.
    }
    if (pmdNone(yield* ptepGet(pmdp))) {
      addr = next;
    } else {
      // zap_pte_range() returns early only when it found no table any more; then this same
      // slot is looked at again from where it stopped.
      addr = yield* zapPteRange(tlb, vma, pmdp, addr, next, details);
    }
    yield* condResched();
  } while (addr !== end);
}

/**
 * zap_pte_range(): zap [addr, end) inside one PMD, relocking internally (`retry`) after a
 * reschedule or a full page batch, and at the end try to reclaim the table.
 *
 * S1 (v6.14 final): the fast path is allowed only if the PTE lock was held continuously for the
 * whole range (`directReclaim` starts true and any break clears it). S0 (as merged first) started
 * with directReclaim false and set it from the fast path whenever the loop reached the end, even
 * after an earlier pass had dropped the lock: a fault refilling the zapped part meanwhile got its
 * table freed under it (race R6, "fix incorrect reclaim of non-empty PTE pages").
 */
export function* zapPteRange(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr, end: Vaddr, details: ZapDetails | null): KGen<Vaddr> {
  const mm = tlb.mm;
  const k = current.k;
  const s1 = guardOn(k.cfg, 'zap-fastpath-fix');
  const start = addr;
  let canReclaimPt = reclaimPtIsEnabled(start, end, details);
  let directReclaim = s1;
  const pmdOut = new PteMapOut();
  const out = new PteMapOut();
  const st = new ZapState();
  for (;;) {
    // retry:
    st.rss.fill(0);
    const startPte = yield* pteOffsetMapLock(mm, pmdp, addr, out);
    if (startPte < 0) return addr;
    const ptl = out.ptl;
    let pte = startPte;
    // flush_tlb_batched_pending(): no deferred reclaim flushes exist in this model.
    st.batchFilled = false;
    let resched = false;
    do {
      st.anySkipped = false;
      if (yield* needResched()) {
        resched = true;
        if (s1) directReclaim = false;
        break;
      }
      const nr = yield* doZapPteRange(tlb, vma, pte, addr, end, details, st);
      // Something was left behind (a kept marker, a re-installed uffd-wp marker): not empty.
      if (st.anySkipped && guardOn(k.cfg, 'any-skipped')) canReclaimPt = false;
      if (st.forceBreak) {
        addr += nr * PAGE_SIZE;
        if (s1) directReclaim = false;
        break;
      }
      pte += nr;
      addr += PAGE_SIZE * nr;
    } while (addr !== end);

    if (canReclaimPt && (s1 ? directReclaim : true) && addr === end) {
      directReclaim = yield* tryGetAndClearPmd(mm, pmdp, ptl, pmdOut);
    }
    addRssVec(vma, st.rss);
    // Do the actual TLB flush before dropping the PTE lock.
    if (st.forceFlush) {
      k.stats.forceFlushes++;
      yield* tlbFlushMmuTlbonly(tlb);
      tlbFlushRmaps(tlb, vma);
    }
    yield* pteUnmapUnlock(startPte, ptl);
    // A forced flush (full batch, or dirty file pages whose rmap had to wait): free the batch too.
    if (st.forceFlush) yield* tlbFlushMmu(tlb);
    if (addr === end) break;
    checkRetryHasCause(st, resched, addr);
    yield* condResched();
    // Race R13: v1 of the series put `retry:` after these were set, so once a batch filled every
    // later pass broke out after one entry, each with a TLB flush.
    if (guardOn(k.cfg, 'zap-retry-reset')) {
      st.forceFlush = false;
      st.forceBreak = false;
    }
  }
  if (canReclaimPt) {
    if (directReclaim) {
      yield* freePte(mm, start, tlb, pmdOut.pmdval);
      k.stats.ptesReclaimedFast++;
      mm.stats.ptesReclaimedFast++;
    } else if (yield* tryToFreePte(mm, pmdp, start, tlb)) {
      k.stats.ptesReclaimedSlow++;
      mm.stats.ptesReclaimedSlow++;
    }
  }
  return addr;
}

/**
 * Progress (race R13): a pass of zap_pte_range() may stop before `end` only because the page batch
 * filled in that pass or a reschedule is due. A pass that stops for neither makes one entry of
 * progress and a TLB flush per retry: reported as `no-progress` (not a kernel check; a sanitizer).
 */
function checkRetryHasCause(st: ZapState, resched: boolean, addr: Vaddr): void {
  if (resched || st.batchFilled) return;
  throw new Violation('no-progress', `zap_pte_range() retries at 0x${addr.toString(16)} although this pass neither filled the page batch nor saw need_resched: force_break survived the previous retry`);
}

/** add_mm_rss_vec(). */
function addRssVec(vma: Vma, rss: readonly number[]): void {
  for (let i = 0; i < 4; i++) if (rss[i] !== 0) addMmCounter(vma.mm, i, rss[i]);
}

/** do_zap_pte_range(): skip a run of none entries, then zap one present or non-present run. */
function* doZapPteRange(tlb: MmuGather, vma: Vma, pte: number, addr: Vaddr, end: Vaddr, details: ZapDetails | null, st: ZapState): KGen<number> {
  let maxNr = (end - addr) / PAGE_SIZE;
  let nr = 0;
  // Skip all consecutive none entries (patch 05): one step under the PTE lock.
  nr = yield* pteScanNone(pte, maxNr);
  if (nr > 0) {
    maxNr -= nr;
    if (!maxNr) return nr;
    pte += nr;
    addr += nr * PAGE_SIZE;
  }
  const ptent = yield* ptepGet(pte);
  if (ptePresent(ptent)) nr += yield* zapPresentPtes(tlb, vma, pte, ptent, maxNr, addr, details, st);
  else nr += yield* zapNonpresentPtes(tlb, vma, pte, ptent, maxNr, addr, details, st);
  return nr;
}

/** userfaultfd_pte_wp(). */
function userfaultfdPteWp(vma: Vma, ptent: Pte): boolean {
  return (vma.flags & VM_UFFD_WP) !== 0 && pteUffdWp(ptent);
}

/** zap_present_ptes(). */
function* zapPresentPtes(tlb: MmuGather, vma: Vma, pte: number, ptent: Pte, maxNr: number, addr: Vaddr, details: ZapDetails | null, st: ZapState): KGen<number> {
  const mem = current.k.mem;
  if (pteSpecial(ptent)) {
    // vm_normal_page() == NULL (the zero page): nothing to free, nothing to account.
    yield* ptepGetAndClear(pte);
    tlbFlushPteRange(tlb, addr, PAGE_SIZE); // tlb_remove_tlb_entry()
    if (userfaultfdPteWp(vma, ptent)) st.anySkipped = yield* zapInstallUffdWpIfNeeded(vma, pte, 1, details, ptent);
    return 1;
  }
  const page = ptePfn(ptent);
  const head = mem.folioHead(page);
  if (!shouldZapFolio(details, head)) {
    st.anySkipped = true;
    return 1;
  }
  let nr = 1;
  if (mem.order[head] > 0 && maxNr !== 1) nr = yield* folioPteBatch(head, pte, ptent, maxNr);
  yield* zapPresentFolioPtes(tlb, vma, head, page, pte, ptent, nr, addr, details, st);
  return nr;
}

/**
 * folio_pte_batch_flags() (mm/internal.h): how many consecutive entries map consecutive pages of
 * the same large folio with the same bits, ignoring the bits in `ignore` (by default dirty, young
 * and soft-dirty, as folio_pte_batch() does for zap). With FPB_MERGE_WRITE (`_PAGE_RW` ignored and
 * `merged` given) it also says whether any entry of the run was writable; FPB_MERGE_YOUNG_DIRTY
 * (`merged.young` given) whether any was young or dirty (the caller ORs them into its copy of
 * the first entry).
 */
export function* folioPteBatch(head: Pfn, pte: number, ptent: Pte, maxNr: number, ignore = _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_SOFT_DIRTY, merged?: { writable: boolean; young?: boolean; dirty?: boolean }): KGen<number> {
  const mem = current.k.mem;
  const folioEnd = head + mem.folioNr(head);
  const pfn = ptePfn(ptent);
  const want = pteFlags(ptent) & ~ignore;
  const limit = Math.min(maxNr, folioEnd - pfn);
  let writable = (pteFlags(ptent) & _PAGE_RW) !== 0;
  let youngDirty = 0;
  let nr = 1;
  while (nr < limit) {
    const e = yield* ptepGet(pte + nr);
    if (!ptePresent(e) || ptePfn(e) !== pfn + nr || (pteFlags(e) & ~ignore) !== want) break;
    writable ||= (pteFlags(e) & _PAGE_RW) !== 0;
    youngDirty |= pteFlags(e) & (_PAGE_ACCESSED | _PAGE_DIRTY);
    nr++;
  }
  if (merged) {
    merged.writable = writable;
    if (merged.young !== undefined) {
      merged.young = (youngDirty & _PAGE_ACCESSED) !== 0;
      merged.dirty = (youngDirty & _PAGE_DIRTY) !== 0;
    }
  }
  return nr;
}

/** zap_present_folio_ptes(). */
function* zapPresentFolioPtes(tlb: MmuGather, vma: Vma, head: Pfn, page: Pfn, pte: number, ptent: Pte, nr: number, addr: Vaddr, details: ZapDetails | null, st: ZapState): KGen<void> {
  const mem = current.k.mem;
  let delayRmap = false;
  if (mem.type[head] !== PT_ANON) {
    // get_and_clear_full_ptes(): accumulate dirty and young over the batch.
    let acc = 0;
    for (let i = 0; i < nr; i++) acc |= pteFlags(yield* ptepGetAndClear(pte + i));
    if (acc & _PAGE_DIRTY) {
      mem.setFlags(head, PG_dirty); // folio_mark_dirty()
      // tlb_delay_rmap(): the rmap must outlive the TLB entries of a dirty page.
      delayRmap = true;
      st.forceFlush = true;
    }
    if (acc & _PAGE_ACCESSED) mem.setFlags(head, PG_referenced);
    st.rss[mmCounter(head)] -= nr;
  } else {
    for (let i = 0; i < nr; i++) yield* ptepGetAndClear(pte + i); // clear_full_ptes()
    st.rss[MM_ANONPAGES] -= nr;
  }
  tlbFlushPteRange(tlb, addr, PAGE_SIZE * nr); // tlb_remove_tlb_entries()
  if (userfaultfdPteWp(vma, ptent)) st.anySkipped = yield* zapInstallUffdWpIfNeeded(vma, pte, nr, details, ptent);
  if (!delayRmap) folioRemoveRmapPtes(page, nr, vma.mm);
  if (yield* tlbRemoveFolioPages(tlb, page, nr, delayRmap)) {
    st.forceFlush = true;
    st.forceBreak = true;
    st.batchFilled = true;
  }
}

/**
 * zap_nonpresent_ptes(). Starts from "skipped": only entries it really clears count as zapped.
 * Guard markers and file uffd-wp markers stay unless the caller drops markers (munmap/exit).
 */
function* zapNonpresentPtes(tlb: MmuGather, vma: Vma, pte: number, ptent: Pte, maxNr: number, _addr: Vaddr, details: ZapDetails | null, st: ZapState): KGen<number> {
  const mem = current.k.mem;
  void tlb;
  let nr = 1;
  st.anySkipped = true;
  const kind = swpKind(ptent);
  if (kind === SWP_SWAPFILE) {
    // Genuine swap entries, hence a private anon pages
    if (!shouldZapCows(details)) return 1;
    nr = yield* swapPteBatch(pte, maxNr, ptent);
    st.rss[MM_SWAPENTS] -= nr;
    yield* freeSwapAndCacheNr(swpOffset(ptent), nr);
  } else if (isMigrationPte(ptent)) {
    const head = mem.folioHead(ptePfn(ptent));
    if (!shouldZapFolio(details, head)) return 1;
    st.rss[mmCounter(head)] -= 1;
  } else if (isUffdWpMarker(ptent)) {
    // Anonymous VMAs always drop the marker; file VMAs only when asked to.
    if (!vma.isAnonymous() && !zapDropMarkers(details)) return 1;
  } else if (isGuardPte(ptent)) {
    // Ordinary zapping must not remove guard regions.
    if (!zapDropMarkers(details)) return 1;
  } else if (kind === SWP_HWPOISON) {
    if (!shouldZapCows(details)) return 1;
  }
  for (let i = 0; i < nr; i++) yield* setPte(pte + i, 0); // clear_not_present_full_ptes()
  st.anySkipped = yield* zapInstallUffdWpIfNeeded(vma, pte, nr, details, ptent);
  return nr;
}

/**
 * zap_install_uffd_wp_if_needed(): in a file/shmem VMA registered for uffd-wp, a zapped entry
 * that carried write-protect information is replaced by a marker. Returns whether it installed
 * one, which makes the table non-empty (any_skipped).
 */
function* zapInstallUffdWpIfNeeded(vma: Vma, pte: number, nr: number, details: ZapDetails | null, pteval: Pte): KGen<boolean> {
  if (vma.isAnonymous()) return false;
  if (zapDropMarkers(details)) return false;
  if (!(vma.flags & VM_UFFD_WP)) return false;
  const armed = ptePresent(pteval) ? pteUffdWp(pteval) : isUffdWpMarker(pteval) || pteUffdWp(pteval);
  if (!armed) return false;
  for (let i = 0; i < nr; i++) yield* setPte(pte + i, mkMarkerPte(PTE_MARKER_UFFD_WP));
  return true;
}
