/**
 * Reverse-map accounting of mapped pages (mm/rmap.c): per-page PTE mapcounts and per-folio PMD
 * ("entire") mapcounts, and page reclaim's rmap walk (try_to_unmap()) of a page-cache folio or of
 * an anonymous one, which leaves a swap entry. The anon_vma tree is not modelled: reclaim walks
 * the one VMA where it found an anonymous folio, so a folio fork (fork.ts) shared with a child
 * stays mapped there and reclaim keeps it (shrink_folio_list()'s folio_mapped() check); i_mmap is
 * a list of VMAs (AddressSpace.iMmap) instead of an interval tree. Besides reclaim's unmapping walk:
 * reclaim's reference check (folio_referenced()) and writeback's folio_mkclean(), the two other
 * rmap walkers that map a PTE table with no mm lock (docs/audit.md, #47 and #48).
 */
import { ModelBug } from './bug.js';
import { PAGE_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import type { AddressSpace, MmStruct, Vma } from './mm_types.js';
import { MM_ANONPAGES, MM_SWAPENTS, VM_LOCKED, VM_SHARED, AnonVma } from './mm_types.js';
import { PG_anon_exclusive, PG_dirty, PG_swapbacked, PT_ANON } from './page_alloc.js';
import { ptepClearFlush } from './pgtable_generic.js';
import { PageVmaMappedWalk, pageVmaMappedWalk, pageVmaMappedWalkDone, PVMW_SYNC } from './page_vma_mapped.js';
import {
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  _PAGE_SWP_MIG_DIRTY,
  _PAGE_SWP_MIG_YOUNG,
  _PAGE_UFFD_WP,
  mkMigrationPte,
  mkSwapEntryPte,
  pteDirty,
  pteClearFlags,
  pteFlags,
  ptePfn,
  ptePresent,
  pteWrite,
  pteYoung,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_READ_EXCLUSIVE,
  SWP_MIGRATION_WRITE,
} from './pgtable_types.js';
import { downRead, downReadTrylock, folioTrylock, folioUnlock, ptepGet, setPte, upRead, type KGen, ptepTestAndClearYoung } from './primitives.js';
import { addMmCounter, folioMapping, folioPutRefs, mmCounter, touchFolio } from './swap.js';
import { folioSwapOffset, swapDuplicate } from './swapfile.js';

/**
 * folio_maybe_mapped_shared() (include/linux/mm.h, 6.18): an order-0 folio mapped more than once;
 * a large one mapped more than once whose FOLIO_MM_IDS_SHARED bit is set (CONFIG_MM_ID, which
 * CONFIG_TRANSPARENT_HUGEPAGE selects): some mapping belongs to another mm than the others, as
 * largeMapcountAdd() and largeMapcountSub() track it. Two mappings of one large folio in one mm
 * (a file mapped twice) are not shared. `pfn` is the page the caller looks at, unused for a large
 * folio (the kernel asks about the folio).
 */
export function folioMaybeMappedShared(head: number, pfn: number): boolean {
  const mem = current.k.mem;
  if (mem.order[head] === 0) return mem.mapcount[pfn] > 1;
  const f = mem.largeIdx(head);
  if (mem.largeMapcount[f] <= 1) return false; // a single mapping is exclusive, whatever the bit says
  return mem.mmIdsShared[f] !== 0;
}

/** The mm's id in a folio's mm-id slots: MM_ID_DUMMY (0) means a free slot. */
function mmIdOf(mm: MmStruct): number {
  return mm.id + 1;
}

/**
 * folio_add_return_large_mapcount() (include/linux/rmap.h, 6.18, CONFIG_MM_ID): `diff` more
 * mappings of a large folio by `mm`. The mm's slot counts them; a free slot is taken, and the
 * folio is marked shared when mappings of another mm came before (slot 0) or slot 0 holds another
 * mm (slot 1). A third mm gets no slot: the folio is already shared. Order-0 folios keep no count.
 */
function largeMapcountAdd(head: number, diff: number, mm: MmStruct): void {
  const mem = current.k.mem;
  if (mem.order[head] === 0) return;
  const id = mmIdOf(mm);
  const f = mem.largeIdx(head);
  const total = (mem.largeMapcount[f] += diff);
  if (mem.mmId0[f] === id) mem.mmIdMapcount0[f] += diff;
  else if (mem.mmId1[f] === id) mem.mmIdMapcount1[f] += diff;
  else if (mem.mmId0[f] === 0) {
    mem.mmId0[f] = id;
    mem.mmIdMapcount0[f] = diff;
    if (total !== diff) mem.mmIdsShared[f] = 1; // we might have other mappings already
  } else if (mem.mmId1[f] === 0) {
    mem.mmId1[f] = id;
    mem.mmIdMapcount1[f] = diff;
    mem.mmIdsShared[f] = 1; // slot 0 certainly has mappings as well
  }
}

/**
 * folio_sub_return_large_mapcount() (include/linux/rmap.h, 6.18, CONFIG_MM_ID): `diff` fewer
 * mappings by `mm`. A slot whose mm keeps mappings stays as it is (and so does the shared bit);
 * one that reaches none (or less: mappings added while no slot was free) is freed, and the bit is
 * cleared when one slot now holds every mapping (or none is left).
 */
function largeMapcountSub(head: number, diff: number, mm: MmStruct): void {
  const mem = current.k.mem;
  if (mem.order[head] === 0) return;
  const id = mmIdOf(mm);
  const f = mem.largeIdx(head);
  const total = (mem.largeMapcount[f] -= diff);
  if (total < 0) throw new ModelBug(`folio ${head}: large mapcount went negative (${total})`);
  if (mem.mmId0[f] === id) {
    if ((mem.mmIdMapcount0[f] -= diff) > 0) return;
    mem.mmIdMapcount0[f] = 0;
    mem.mmId0[f] = 0;
  } else if (mem.mmId1[f] === id) {
    if ((mem.mmIdMapcount1[f] -= diff) > 0) return;
    mem.mmIdMapcount1[f] = 0;
    mem.mmId1[f] = 0;
  }
  // If one mm slot owns all mappings, the folio is mapped exclusively.
  if (mem.mmIdMapcount0[f] === total || mem.mmIdMapcount1[f] === total) mem.mmIdsShared[f] = 0;
}

/**
 * folio_add_new_anon_rmap() for nr PTE mappings starting at page pfn (exclusive, as new). A new
 * anonymous folio is swap-backed (__folio_set_swapbacked()) until MADV_FREE makes it lazyfree.
 */
export function folioAddNewAnonRmapPtes(pfn: Pfn, nr: number, mm: MmStruct): void {
  const mem = current.k.mem;
  const head = mem.folioHead(pfn);
  touchFolio(head, true);
  mem.setFlags(head, PG_swapbacked);
  for (let i = 0; i < nr; i++) {
    mem.mapcount[pfn + i]++;
    mem.setFlags(pfn + i, PG_anon_exclusive);
  }
  largeMapcountAdd(head, nr, mm);
}

/** folio_add_new_anon_rmap() with RMAP_LEVEL_PMD. */
export function folioAddNewAnonRmapPmd(head: Pfn, mm: MmStruct): void {
  const mem = current.k.mem;
  touchFolio(head, true);
  mem.setFlags(head, PG_swapbacked);
  mem.entireMapcount[head]++;
  mem.setFlags(head, PG_anon_exclusive);
  largeMapcountAdd(head, 1, mm);
}

/**
 * folio_add_anon_rmap_ptes(), or folio_add_new_anon_rmap() for a folio read from swap that was
 * never mapped (the model's swap-cache folios are anonymous and swap-backed from the read on):
 * nr more mappings from page pfn on, exclusive with RMAP_EXCLUSIVE.
 */
export function folioAddAnonRmapPtes(pfn: Pfn, nr: number, mm: MmStruct, exclusive: boolean): void {
  const mem = current.k.mem;
  const head = mem.folioHead(pfn);
  touchFolio(head, true);
  for (let i = 0; i < nr; i++) {
    mem.mapcount[pfn + i]++;
    if (exclusive) mem.setFlags(pfn + i, PG_anon_exclusive);
  }
  largeMapcountAdd(head, nr, mm);
}

/** folio_add_file_rmap_ptes(). */
export function folioAddFileRmapPtes(pfn: Pfn, nr: number, mm: MmStruct): void {
  const mem = current.k.mem;
  const head = mem.folioHead(pfn);
  touchFolio(head, true);
  for (let i = 0; i < nr; i++) mem.mapcount[pfn + i]++;
  largeMapcountAdd(head, nr, mm);
}

/** folio_add_file_rmap_pmd(). */
export function folioAddFileRmapPmd(head: Pfn, mm: MmStruct): void {
  touchFolio(head, true);
  current.k.mem.entireMapcount[head]++;
  largeMapcountAdd(head, 1, mm);
}

/**
 * folio_try_dup_anon_rmap_ptes() (fork): the pages become mapped once more, by the child's mm
 * `dst`, and no longer exclusive to one mm (ClearPageAnonExclusive()). Never refuses: the model
 * has no GUP pins (folio_maybe_dma_pinned()), so fork never has to copy a page at once.
 */
export function folioTryDupAnonRmapPtes(pfn: Pfn, nr: number, dst: MmStruct): void {
  const mem = current.k.mem;
  const head = mem.folioHead(pfn);
  touchFolio(head, true);
  for (let i = 0; i < nr; i++) {
    mem.mapcount[pfn + i]++;
    mem.clearFlags(pfn + i, PG_anon_exclusive);
  }
  largeMapcountAdd(head, nr, dst);
}

/** folio_try_dup_anon_rmap_pmd(). */
export function folioTryDupAnonRmapPmd(head: Pfn, dst: MmStruct): void {
  const mem = current.k.mem;
  touchFolio(head, true);
  mem.entireMapcount[head]++;
  mem.clearFlags(head, PG_anon_exclusive);
  largeMapcountAdd(head, 1, dst);
}

/** folio_remove_rmap_ptes(). */
export function folioRemoveRmapPtes(pfn: Pfn, nr: number, mm: MmStruct): void {
  const mem = current.k.mem;
  const head = mem.folioHead(pfn);
  touchFolio(head, true);
  for (let i = 0; i < nr; i++) {
    if (--mem.mapcount[pfn + i] === 0) mem.clearFlags(pfn + i, PG_anon_exclusive);
  }
  largeMapcountSub(head, nr, mm);
}

/**
 * folio_remove_rmap_pmd(). The model drops PageAnonExclusive() with a page's last mapping (the
 * kernel's page is freed then): the head page's PTE mapping, as a PMD split leaves it, keeps it.
 */
export function folioRemoveRmapPmd(head: Pfn, mm: MmStruct): void {
  const mem = current.k.mem;
  touchFolio(head, true);
  if (--mem.entireMapcount[head] === 0 && mem.mapcount[head] === 0) mem.clearFlags(head, PG_anon_exclusive);
  largeMapcountSub(head, 1, mm);
}

// ---- page reclaim's rmap walk (file and shmem folios) ---------------------------------------------

/** folio_mapped(). */
export function folioMapped(head: Pfn): boolean {
  const mem = current.k.mem;
  touchFolio(head, false);
  if (mem.entireMapcount[head] > 0) return true;
  for (let i = 0; i < mem.folioNr(head); i++) if (mem.mapcount[head + i] > 0) return true;
  return false;
}

/**
 * try_to_unmap_one(): clear every PTE of the folio in this VMA under its PTE lock. A page-cache
 * page's PTE becomes none; an anonymous page's becomes the swap entry of its slot (the folio is in
 * the swap cache), unless the folio is lazyfree (MADV_FREE): then a clean one is discarded and a
 * dirty one is mapped again and made swap-backed. Modelled coarsely: order-0 folios, no
 * TTU_BATCH_FLUSH (each entry is flushed at once, the ptep_clear_flush() branch), no uffd-wp
 * marker left behind, no GUP pins (folio_try_share_anon_rmap_pte() succeeds). PMD mappings are
 * split before this walk (huge_memory.ts tryToUnmapSplitHugePmd(), TTU_SPLIT_HUGE_PMD): the model's
 * page_vma_mapped_walk() does not stop at them. `flags`: TTU_IGNORE_MLOCK or 0.
 */
export function* tryToUnmapOne(head: Pfn, vma: Vma, address: Vaddr, flags = 0): KGen<boolean> {
  const mem = current.k.mem;
  const pvmw = new PageVmaMappedWalk(head, mem.folioNr(head), vma, address);
  while (yield* pageVmaMappedWalk(pvmw)) {
    // If the folio is in an mlock()d vma, we must not swap it out.
    if (!(flags & TTU_IGNORE_MLOCK) && vma.flags & VM_LOCKED) {
      // An mlocked mapping keeps the folio (walk_abort).
      yield* pageVmaMappedWalkDone(pvmw);
      return false;
    }
    const subpage = ptePfn(yield* ptepGet(pvmw.pte));
    const anonExclusive = mem.type[head] === PT_ANON && mem.testFlags(subpage, PG_anon_exclusive) !== 0;
    const pteval = yield* ptepClearFlush(vma, pvmw.address, pvmw.pte);
    if (pteDirty(pteval)) mem.setFlags(head, PG_dirty); // folio_mark_dirty()
    if (mem.type[head] === PT_ANON) {
      touchFolio(head, true);
      if (!mem.testFlags(head, PG_swapbacked)) {
        // MADV_FREE page check: a lazyfree folio written since is redirtied and kept.
        if (mem.testFlags(head, PG_dirty)) {
          yield* setPte(pvmw.pte, pteval);
          mem.setFlags(head, PG_swapbacked); // folio_set_swapbacked()
          yield* pageVmaMappedWalkDone(pvmw); // walk_abort
          return false;
        }
        addMmCounter(vma.mm, MM_ANONPAGES, -1);
      } else {
        const entry = folioSwapOffset(head); // page_swap_entry()
        if (!entry) throw new ModelBug(`try_to_unmap_one: anonymous folio ${head} is not in the swap cache`);
        swapDuplicate(entry);
        if (anonExclusive) mem.clearFlags(subpage, PG_anon_exclusive); // folio_try_share_anon_rmap_pte()
        addMmCounter(vma.mm, MM_ANONPAGES, -1); // dec_mm_counter()
        addMmCounter(vma.mm, MM_SWAPENTS, 1); // inc_mm_counter()
        // swp_entry_to_pte(), with the exclusive, soft-dirty and uffd-wp bits carried over
        const swpPte = mkSwapEntryPte(entry, anonExclusive) + (pteFlags(pteval) & (_PAGE_SOFT_DIRTY | _PAGE_UFFD_WP));
        yield* setPte(pvmw.pte, swpPte);
      }
    } else {
      addMmCounter(vma.mm, mmCounter(head), -1); // dec_mm_counter(mm, mm_counter_file(folio))
    }
    // discard:
    folioRemoveRmapPtes(ptePfn(pteval), 1, vma.mm);
    folioPutRefs(head, 1);
  }
  return true;
}

/** One VMA's part of an rmap walk (rwc->rmap_one): false stops the walk. */
export type RmapOne = (head: Pfn, vma: Vma, address: Vaddr) => KGen<boolean>;

/**
 * rmap_walk_file(): every VMA of the file that can map the folio, under i_mmap_lock_read(). An
 * unmapping walk stops once the folio is mapped nowhere (rwc->done = folio_not_mapped()).
 */
function* rmapWalkFile(head: Pfn, mapping: AddressSpace, rmapOne: RmapOne, untilUnmapped: boolean): KGen<void> {
  yield* downRead(mapping.iMmapRwsem); // i_mmap_lock_read()
  yield* walkIMmap(head, mapping, rmapOne, untilUnmapped);
  yield* upRead(mapping.iMmapRwsem);
}

/**
 * __rmap_walk_file()'s loop, i_mmap_rwsem held: vma_interval_tree_foreach() visits every VMA whose
 * file range overlaps the folio's [pgoff_start, pgoff_end], including one that maps only its tail
 * pages, where vma_address() gives the VMA's start.
 */
function* walkIMmap(head: Pfn, mapping: AddressSpace, rmapOne: RmapOne, untilUnmapped: boolean): KGen<void> {
  const mem = current.k.mem;
  const pgoffStart = mem.index[head];
  const nrPages = mem.folioNr(head);
  const pgoffEnd = pgoffStart + nrPages - 1;
  for (const vma of mapping.iMmap.slice()) {
    if (vma.pgoff > pgoffEnd || vma.pgoff + (vma.end - vma.start) / PAGE_SIZE - 1 < pgoffStart) continue;
    const address = vmaAddress(vma, pgoffStart, nrPages);
    if (address < 0) throw new ModelBug(`vma_address(): the folio at index ${pgoffStart} is not in the VMA at ${vma.start}`); // VM_BUG_ON_VMA()
    if (!(yield* rmapOne(head, vma, address))) break;
    if (untilUnmapped && !folioMapped(head)) break;
  }
}

/**
 * vma_address() (mm/internal.h, 6.18): the address of page `pgoff` of a folio of `nrPages` pages
 * in the VMA; the VMA's start when only later pages of the folio are in it; -1 (-EFAULT) when none.
 */
export function vmaAddress(vma: Vma, pgoff: number, nrPages: number): Vaddr | -1 {
  if (pgoff >= vma.pgoff) {
    const address = vma.start + (pgoff - vma.pgoff) * PAGE_SIZE;
    // Check for address beyond vma (or wrapped through 0?)
    return address < vma.start || address >= vma.end ? -1 : (address as Vaddr);
  }
  if (pgoff + nrPages - 1 >= vma.pgoff) return vma.start;
  return -1;
}

// ---- the reference check and writeback's cleaning walk ----------------------------------------

/** struct folio_referenced_arg: what the walk gathers. */
interface FolioReferencedArg {
  mapcount: number;
  referenced: number;
  vmFlags: number;
}

/**
 * folio_referenced_one() (mm/rmap.c, 6.18): clear the young bit of each PTE that maps the folio in
 * this VMA, under its PTE lock, and count the VMA once if any was young. The walk has no PVMW_SYNC,
 * so it maps the table with pte_offset_map_rw_nolock() and rechecks the PMD once it holds the
 * lock (page_vma_mapped.ts, R5). A VM_LOCKED VMA ends the walk (mlock_vma_folio() restores the
 * mlock; the model has no mlock LRU). Not modelled: the exiting or OOM-reaped process's skip
 * (no scenario process exits), lru_gen_look_around() under `lru_gen=on` (which clears the
 * neighbours' young bits under the same lock), the PMD-mapped branch (small folios only) and
 * folio_test_clear_young() (page_idle's flag).
 */
function* folioReferencedOne(pra: FolioReferencedArg, head: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
  const pvmw = new PageVmaMappedWalk(head, current.k.mem.folioNr(head), vma, address);
  let referenced = 0;
  while (yield* pageVmaMappedWalk(pvmw)) {
    if (vma.flags & VM_LOCKED) {
      pra.mapcount--;
      yield* pageVmaMappedWalkDone(pvmw);
      pra.vmFlags |= VM_LOCKED;
      return false; // to break the loop
    }
    if (yield* ptepClearFlushYoung(pvmw.pte)) referenced++;
    pra.mapcount--;
  }
  if (referenced) {
    pra.referenced++;
    pra.vmFlags |= vma.flags & ~VM_LOCKED;
  }
  return pra.mapcount !== 0;
}

/**
 * ptep_clear_flush_young() on x86 (arch/x86/mm/pgtable.c): ptep_test_and_clear_young() and no
 * flush ("clearing the accessed bit without a TLB flush doesn't cause data corruption"); arm64's
 * flush_tlb_page_nosync() of a young entry is not modelled.
 */
function* ptepClearFlushYoung(ptep: number): KGen<boolean> {
  const pte = yield* ptepGet(ptep);
  if (!pteYoung(pte)) return false;
  return yield* ptepTestAndClearYoung(ptep);
}

/**
 * folio_referenced() (mm/rmap.c, 6.18): how many VMAs mapped the folio with a young PTE, clearing
 * the bits; -1 when the walk gave up on a contended rmap lock (rwc.try_lock: reclaim does not wait
 * for i_mmap_rwsem). Page reclaim calls it with the folio locked (`isLocked`); otherwise a
 * page-cache folio is trylocked first, and a folio locked by someone else counts as referenced.
 * `anonAt` stands for the anonymous folio's anon_vma walk, as in tryToUnmap(). Not modelled:
 * invalid_folio_referenced_vma() (no memcg; VM_SEQ_READ and VM_RAND_READ are not modelled).
 */
export function* folioReferenced(head: Pfn, isLocked: boolean, anonAt?: { vma: Vma; address: Vaddr }): KGen<{ referenced: number; vmFlags: number }> {
  const k = current.k;
  touchFolio(head, false);
  const pra: FolioReferencedArg = { mapcount: folioMapcount(head), referenced: 0, vmFlags: 0 };
  if (!pra.mapcount) return { referenced: 0, vmFlags: 0 };
  let weLocked = false;
  if (!isLocked && k.mem.type[head] !== PT_ANON) {
    weLocked = yield* folioTrylock(head);
    if (!weLocked) return { referenced: 1, vmFlags: 0 };
  }
  let contended = false;
  const one: RmapOne = function* (h, vma, address) {
    return yield* folioReferencedOne(pra, h, vma, address);
  };
  if (k.mem.type[head] === PT_ANON) {
    if (anonAt && !anonAt.vma.detached) yield* one(head, anonAt.vma, anonAt.address);
  } else {
    const mapping = folioMapping(head);
    // rmap_walk_file() with rwc->try_lock: i_mmap_trylock_read(), or give up as contended.
    if (mapping && !(yield* rmapWalkFileTrylock(head, mapping, one))) contended = true;
  }
  if (weLocked) yield* folioUnlock(head);
  return { referenced: contended ? -1 : pra.referenced, vmFlags: pra.vmFlags };
}

/** rmap_walk_file() with rwc->try_lock (no `done`): false when i_mmap_rwsem was contended. */
function* rmapWalkFileTrylock(head: Pfn, mapping: AddressSpace, rmapOne: RmapOne): KGen<boolean> {
  if (!(yield* downReadTrylock(mapping.iMmapRwsem))) return false;
  yield* walkIMmap(head, mapping, rmapOne, false);
  yield* upRead(mapping.iMmapRwsem);
  return true;
}

/** folio_mapcount() of a small or PMD-mapped folio: its PTE mappings plus its PMD mappings. */
export function folioMapcount(head: Pfn): number {
  const mem = current.k.mem;
  let n = mem.entireMapcount[head];
  for (let i = 0; i < mem.folioNr(head); i++) n += mem.mapcount[head + i];
  return n;
}

/**
 * page_vma_mkclean_one() (mm/rmap.c, 6.18): write-protect and clean each PTE of the folio in this
 * VMA that is dirty or writable, under its PTE lock (the walk has PVMW_SYNC: pte_offset_map_lock()
 * and its built-in PMD recheck). The entry is cleared and flushed first (ptep_clear_flush()), so
 * no CPU keeps writing through a stale writable TLB entry once the folio is clean. No MMU
 * notifiers, no PMD-mapped folios in the model.
 */
function* pageVmaMkcleanOne(pvmw: PageVmaMappedWalk): KGen<number> {
  let cleaned = 0;
  while (yield* pageVmaMappedWalk(pvmw)) {
    const entry = yield* ptepGet(pvmw.pte);
    if (!ptePresent(entry)) continue;
    if (!pteDirty(entry) && !pteWrite(entry)) continue;
    const old = yield* ptepClearFlush(pvmw.vma, pvmw.address, pvmw.pte);
    yield* setPte(pvmw.pte, pteClearFlags(old, _PAGE_RW | _PAGE_DIRTY)); // pte_wrprotect(), pte_mkclean(), set_pte_at()
    cleaned++;
  }
  return cleaned;
}

/**
 * folio_mkclean() (mm/rmap.c, 6.18): write-protect every shared mapping of a locked page-cache
 * folio (invalid_mkclean_vma() skips private ones); the number of PTEs cleaned. Writeback calls it
 * from folio_clear_dirty_for_io(), so that the next write faults and dirties the folio again.
 */
export function* folioMkclean(head: Pfn): KGen<number> {
  const k = current.k;
  if (!folioMapped(head)) return 0;
  const mapping = folioMapping(head);
  if (!mapping) return 0; // folio_mapping(): an anonymous folio's walk finds no shared VMA either
  let cleaned = 0;
  yield* rmapWalkFile(head, mapping, function* (h: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
    if (!(vma.flags & VM_SHARED)) return true; // invalid_mkclean_vma()
    cleaned += yield* pageVmaMkcleanOne(new PageVmaMappedWalk(h, k.mem.folioNr(h), vma, address, PVMW_SYNC));
    return true;
  }, false);
  return cleaned;
}

/** enum ttu_flags (include/linux/rmap.h, 6.18); TTU_SPLIT_HUGE_PMD is huge_memory.ts tryToUnmapSplitHugePmd(). */
export const TTU_IGNORE_MLOCK = 0x8;

/**
 * try_to_unmap(): the folio is locked by the caller (page reclaim, a split). An anonymous folio's
 * rmap walk (rmap_walk_anon()) stands here for a walk of `anonAt`, the VMA and address where the
 * caller found it (see the file comment). `flags` as tryToUnmapOne() takes them.
 */
export function* tryToUnmap(head: Pfn, anonAt?: { vma: Vma; address: Vaddr }, flags = 0): KGen<void> {
  const one = function* (h: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
    return yield* tryToUnmapOne(h, vma, address, flags);
  };
  yield* rmapWalk(head, anonAt, one, true);
}

/**
 * rmap_walk(): rmap_walk_anon() (stood for by `anonAt`, see the file comment) or rmap_walk_file();
 * `untilUnmapped` for the unmapping walks, whose rwc->done is folio_not_mapped().
 */
export function* rmapWalk(head: Pfn, anonAt: { vma: Vma; address: Vaddr } | undefined, rmapOne: RmapOne, untilUnmapped: boolean): KGen<void> {
  const k = current.k;
  if (k.mem.type[head] === PT_ANON) {
    if (anonAt && !anonAt.vma.detached) yield* rmapOne(head, anonAt.vma, anonAt.address);
    return;
  }
  const mapping = folioMapping(head);
  if (mapping) yield* rmapWalkFile(head, mapping, rmapOne, untilUnmapped);
}

// ---- migration's rmap walk ------------------------------------------------------------------------

/**
 * try_to_migrate_one() (mm/rmap.c, 6.18): replace every PTE of the folio in this VMA by a migration
 * entry, under its PTE lock. The entry keeps the pfn, whether the mapping was writable or
 * exclusive, and its young, dirty, soft-dirty and uffd-wp bits; the mapping's reference and rmap
 * go, while the RSS counter stays (a migration entry counts as the page). The walk is the same as
 * reclaim's (no PVMW_SYNC: compaction passes no TTU_SYNC), with its R5 recheck. Modelled coarsely
 * as tryToUnmapOne(): order-0 folios, the ptep_clear_flush() branch (no TTU_BATCH_FLUSH: not
 * MIGRATE_ASYNC), no GUP pins, no hwpoison, no device-private entries.
 */
export function* tryToMigrateOne(head: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
  const mem = current.k.mem;
  const pvmw = new PageVmaMappedWalk(head, mem.folioNr(head), vma, address);
  while (yield* pageVmaMappedWalk(pvmw)) {
    const subpage = ptePfn(yield* ptepGet(pvmw.pte));
    const anonExclusive = mem.type[head] === PT_ANON && mem.testFlags(subpage, PG_anon_exclusive) !== 0;
    const pteval = yield* ptepClearFlush(vma, pvmw.address, pvmw.pte);
    if (pteDirty(pteval)) mem.setFlags(head, PG_dirty); // folio_mark_dirty()
    const writable = pteWrite(pteval);
    // folio_try_share_anon_rmap_pte() cannot fail without GUP pins: the page stops being exclusive.
    if (anonExclusive) mem.clearFlags(subpage, PG_anon_exclusive);
    const kind = writable ? SWP_MIGRATION_WRITE : anonExclusive ? SWP_MIGRATION_READ_EXCLUSIVE : SWP_MIGRATION_READ;
    let flags = pteFlags(pteval) & (_PAGE_SOFT_DIRTY | _PAGE_UFFD_WP); // pte_swp_mksoft_dirty(), pte_swp_mkuffd_wp()
    if (pteYoung(pteval)) flags |= _PAGE_SWP_MIG_YOUNG; // make_migration_entry_young()
    if (pteDirty(pteval)) flags |= _PAGE_SWP_MIG_DIRTY; // make_migration_entry_dirty()
    yield* setPte(pvmw.pte, mkMigrationPte(kind, subpage, flags));
    folioRemoveRmapPtes(subpage, 1, vma.mm);
    folioPutRefs(head, 1);
  }
  return true;
}

/**
 * try_to_migrate(): the caller holds the folio lock. As tryToUnmap(), an anonymous folio's rmap walk
 * stands for a walk of `anonAt`, where the caller found it; a page-cache folio's walks i_mmap.
 */
export function* tryToMigrate(head: Pfn, anonAt: { vma: Vma; address: Vaddr }): KGen<void> {
  yield* rmapWalk(head, anonAt, tryToMigrateOne, true);
}

/** __anon_vma_prepare(). */
export function anonVmaPrepare(vma: Vma): void {
  if (vma.anonVma) return;
  vma.anonVma = new AnonVma(current.k.nextAnonVma++);
}
