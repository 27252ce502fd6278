/**
 * swapoff(2) of the one swap area (mm/swapfile.c, Linux 6.18.2: SYSCALL swapoff → try_to_unuse()
 * → unuse_mm() → unuse_vma() → unuse_pte_range() → unuse_pte()); docs/audit.md #56.
 *
 * The area stops handing out slots (SWP_WRITEOK cleared), then every swap PTE of every process is
 * replaced by the page read back into the swap cache, and the cache lets go of every slot. The walk
 * holds only the mmap_lock for read: it reads each entry locklessly under pte_offset_map()'s RCU
 * section, drops the map to read the page (the folio lock may sleep), and installs it under
 * pte_offset_map_lock() only if the slot still holds the same swap entry (pte_same_as_swp()): a
 * table reclaimed meanwhile fails the map, a zapped entry fails the compare.
 *
 * Left out: shmem_unuse() (the model swaps no shmem), the mmlist (every live mm is walked, the
 * kernel walks those that ever swapped), KSM copies, hwpoison and unread pages (the model's swap
 * reads never fail), signals (-EINTR), the memory check (security_vm_enough_memory_mm()), and
 * what swapoff does after try_to_unuse(): it waits for get_swap_device() users and frees the
 * area's maps. Here the area stays, empty and refusing allocations; a fault that read a swap entry
 * before its slot was unused finds the entry gone under its PTE lock, as in the kernel.
 */
import { addrEnd, EINVAL, ENOMEM, PAGE_SIZE, PGDIR_SIZE, PMD_SIZE, PUD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { MM_ANONPAGES, MM_SWAPENTS, type MmStruct, type Vma } from './mm_types.js';
import { PG_has_data } from './page_alloc.js';
import { PteMapOut, pteOffsetMap, pteOffsetMapLock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import { _PAGE_SOFT_DIRTY, _PAGE_UFFD_WP, isSwapEntryPte, mkPte, pmdNone, pteFlags, pteSwpExclusive, swpOffset } from './pgtable_types.js';
import { condResched, downRead, folioLock, folioUnlock, ptepGet, pteScanNoSwap, setPte, upRead, type KGen } from './primitives.js';
import { folioAddAnonRmapPtes } from './rmap.js';
import { addMmCounter, folioPutRefs, folioRefAdd } from './swap.js';
import { folioFreeSwap, folioSwapOffset, readSwapCacheAsync, swapCacheGetFolio, swapCount, swapFreeNr, touchArea } from './swapfile.js';
import { findVma } from './vma_tree.js';
import { vmaPageProt } from './internal.js';
import { pgdOffset, pmdOffset, pudOffset } from './pgtable_mm.js';

/**
 * SYSCALL swapoff: 0, or -EINVAL when there is no area in service (none configured, or already
 * off). try_to_unuse() failing (-ENOMEM) puts the area back in service, as reinsert_swap_info().
 */
export function* swapoff(): KGen<number> {
  const si = current.k.swap;
  // The syscall opens the swap file and looks it up first (filp_open(), may sleep): what it
  // changes below is a step of its own.
  yield* condResched();
  touchArea(true);
  if (!si || !si.writeOk) return -EINVAL;
  si.writeOk = false; // del_from_avail_list(), p->flags &= ~SWP_WRITEOK
  const err = yield* tryToUnuse();
  if (err) {
    touchArea(true);
    si.writeOk = true; // reinsert_swap_info()
  }
  return err;
}

/** try_to_unuse(): until no slot is in use, unuse every mm, then drop the swap cache's slots. */
function* tryToUnuse(): KGen<number> {
  const si = current.k.swap!;
  while (si.inusePages) {
    for (const mm of current.k.mms) {
      if (!si.inusePages) break;
      if (mm.exited) continue; // mmget_not_zero()
      const err = yield* unuseMm(mm);
      if (err) return err;
      yield* condResched();
    }
    // find_next_to_unuse(): slots still held, now only by the swap cache.
    for (let i = 1; si.inusePages && i < si.pages; i++) {
      if (!si.swapMap[i]) continue;
      const folio = swapCacheGetFolio(i);
      if (!folio) continue;
      yield* folioLock(folio);
      folioFreeSwap(folio);
      yield* folioUnlock(folio);
      folioPutRefs(folio, 1);
    }
    // Entries can be reinserted into process space after the mm loop passed them: retry.
  }
  return 0;
}

/** unuse_mm(): the VMAs with an anon_vma, under the mmap_lock for read. */
function* unuseMm(mm: MmStruct): KGen<number> {
  let ret = 0;
  yield* downRead(mm.mmapLock); // mmap_read_lock()
  for (let vma = findVma(mm, 0); vma; vma = findVma(mm, vma.end)) {
    if (vma.anonVma) {
      ret = yield* unuseVma(vma);
      if (ret) break;
    }
    yield* condResched();
  }
  yield* upRead(mm.mmapLock);
  return ret;
}

/** unuse_vma() → unuse_p4d/pud/pmd_range(): every PMD of the VMA, present upper levels only. */
function* unuseVma(vma: Vma): KGen<number> {
  const mm = vma.mm;
  for (let addr = vma.start; addr !== vma.end; ) {
    const pgdNext = addrEnd(addr, vma.end, PGDIR_SIZE);
    const pgdv = yield* ptepGet(pgdOffset(mm, addr));
    for (; !pmdNone(pgdv) && addr !== pgdNext; ) {
      const pudNext = addrEnd(addr, pgdNext, PUD_SIZE);
      const pudv = yield* ptepGet(pudOffset(pgdv, addr));
      for (; !pmdNone(pudv) && addr !== pudNext; ) {
        const next = addrEnd(addr, pudNext, PMD_SIZE);
        yield* condResched();
        const ret = yield* unusePteRange(vma, pmdOffset(pudv, addr), addr, next);
        if (ret) return ret;
        addr = next;
      }
      addr = pudNext;
    }
    addr = pgdNext;
  }
  return 0;
}

/**
 * unuse_pte_range(): each swap entry read locklessly; the map dropped while its folio is found in
 * the swap cache or read into it, and locked; then unuse_pte(). A slot whose read failed because
 * nothing holds it any more is skipped; one still held is -ENOMEM.
 */
function* unusePteRange(vma: Vma, pmdp: number, addr: Vaddr, end: Vaddr): KGen<number> {
  let pte = -1; // not mapped
  for (; addr !== end; addr += PAGE_SIZE, pte = pte < 0 ? pte : pte + 1) {
    if (pte < 0) {
      pte = yield* pteOffsetMap(pmdp, addr);
      if (pte < 0) return 0; // no table (none, or a huge PMD): nothing to unuse here
    }
    // The entries that are not swap entries, skipped in one step (pteScanNoSwap(): no slot is
    // handed out during swapoff, and a swap entry moved in behind the walk keeps its slot in use,
    // so that try_to_unuse() passes again).
    const skip = yield* pteScanNoSwap(pte, (end - addr) / PAGE_SIZE);
    if (skip) {
      addr += (skip - 1) * PAGE_SIZE;
      pte += skip - 1;
      continue;
    }
    const ptent = yield* ptepGet(pte); // ptep_get_lockless()
    if (!isSwapEntryPte(ptent)) continue;
    const offset = swpOffset(ptent);
    yield* pteUnmap(pte);
    pte = -1;
    // swapin_readahead() without its window (docs/model.md): swapoff reads every entry it reaches.
    const folio: Pfn | 0 = swapCacheGetFolio(offset) || readSwapCacheAsync(offset);
    if (!folio) {
      // Nothing holds the slot any more (a zap freed it), or the read found no memory. (A slot the
      // swap cache holds was found above, in the same step.)
      if (swapCount(offset) === 0) continue;
      return -ENOMEM;
    }
    yield* folioLock(folio);
    yield* unusePte(vma, pmdp, addr, offset, folio);
    folioFreeSwap(folio);
    yield* folioUnlock(folio);
    folioPutRefs(folio, 1);
  }
  if (pte >= 0) yield* pteUnmap(pte);
  return 0;
}

/**
 * unuse_pte(): map the folio in place of the swap entry, if the slot still holds it. The new PTE
 * is old and, from the private VMA's vm_page_prot, read-only: a later write goes through
 * do_wp_page(). Exclusive as the swap entry was.
 */
function* unusePte(vma: Vma, pmdp: number, addr: Vaddr, offset: number, folio: Pfn): KGen<void> {
  // If the folio is removed from swap cache by others, continue to unuse other PTEs.
  if (folioSwapOffset(folio) !== offset) return; // folio_matches_swap_entry()
  const out = new PteMapOut();
  const pte = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (pte < 0) return;
  const oldPte = yield* ptepGet(pte);
  // pte_same_as_swp(): the same slot, whatever its soft-dirty, exclusive and uffd-wp bits.
  if (isSwapEntryPte(oldPte) && swpOffset(oldPte) === offset) {
    addMmCounter(vma.mm, MM_SWAPENTS, -1);
    addMmCounter(vma.mm, MM_ANONPAGES, 1);
    folioRefAdd(folio, 1); // folio_get()
    folioAddAnonRmapPtes(folio, 1, vma.mm, pteSwpExclusive(oldPte));
    current.k.mem.setFlags(folio, PG_has_data);
    const newPte = mkPte(folio, vmaPageProt(vma)) + (pteFlags(oldPte) & (_PAGE_SOFT_DIRTY | _PAGE_UFFD_WP)); // pte_mkold(mk_pte())
    yield* setPte(pte, newPte);
    swapFreeNr(offset, 1); // swap_free()
  }
  yield* pteUnmapUnlock(pte, out.ptl);
}
