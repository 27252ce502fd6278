/**
 * Page faults (mm/memory.c): handle_mm_fault() down to the anonymous, file and shmem handlers,
 * with the PTE-level rechecks that make a concurrently reclaimed table harmless (docs/kernel-rules.md, "Faults").
 */
import { ModelBug } from '../bug.js';
import { alignDown, HPAGE_PMD_ORDER, PAGE_SIZE, pteIndex, type Pfn, type Vaddr } from '../const.js';
import { current } from '../current.js';
import {
  doHugePmdAnonymousPage,
  doHugePmdWpPage,
  hugePmdSetAccessed,
  thpVmaAllowablePmd,
} from '../huge_memory.js';
import {
  FAULT_FLAG_ORIG_PTE_VALID,
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  MM_SWAPENTS,
  VM_FAULT_ERROR,
  VM_FAULT_FALLBACK,
  VM_FAULT_HWPOISON,
  VM_FAULT_LOCKED,
  VM_FAULT_MAJOR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_LOCKED,
  VM_SHARED,
  VM_UFFD_MINOR,
  VM_UFFD_MISSING,
  VM_UFFD_WP,
  VM_WRITE,
  VmFault,
  type Vma,
  faultMayMapZeroPage,
} from '../mm_types.js';
import { PG_anon_exclusive, PG_has_data, PG_uptodate, PT_ANON } from '../page_alloc.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  _PAGE_SPECIAL,
  _PAGE_UFFD_WP,
  _PAGE_USER,
  isGuardPte,
  isMigrationPte,
  isPteMarker,
  isSwapEntryPte,
  swpKind,
  swpOffset,
  SWP_HWPOISON,
  isPmdMigrationEntry,
  mkPte,
  pmdNone,
  pmdTransHuge,
  pteFlags,
  pteNone,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteSetFlags,
  pteSwpExclusive,
  pteUffdWp,
  pteWrite,
} from '../pgtable_types.js';
import {
  pteOffsetMapLock,
  pteOffsetMapRwNolock,
  pteUnmap,
  pteUnmapUnlock,
} from '../pgtable_generic.js';
import { faultAroundSkipped, flushTlbMmRange, folioLock, folioTrylock, folioUnlock, ptepGet, setPte, spinLock, type KGen } from '../primitives.js';
import { folioFreeSwap, folioSwapOffset, swapCacheGetFolio, swapFreeNr, vmSwapFull } from '../swapfile.js';
import { swapinReadahead, swapUpdateReadahead } from '../swap_state.js';
import { folioAddAnonRmapPtes, folioAddNewAnonRmapPtes, folioMapped, folioRemoveRmapPtes } from '../rmap.js';
import { addMmCounter, folioPutRefs, folioRefAdd, mmCounter, touchFolio } from '../swap.js';
import { doSetPmd, vmaHasPageMkwrite, vmaMapPages, filemapFault } from '../filemap.js';
import { doPageMkwrite, faultDirtySharedPage, wpPageShared } from './mkwrite.js';
import { doHugePmdNumaPage, doNumaPage } from '../numa_balancing.js';
import { pgtableAlloc, pmdAlloc, pmdInstall, pteAlloc, pteFree, pudAlloc } from './pgalloc.js';
import { migrationEntryWait } from '../migrate.js';
import { handleUserfault, vmaIsAccessible, vmaPageProt, vmfAnonPrepare, setPteRange } from '../internal.js';
import { shmemFault } from '../shmem.js';

/** handle_mm_fault() → __handle_mm_fault(). */
export function* handleMmFault(vma: Vma, address: Vaddr, flags: number): KGen<number> {
  const k = current.k;
  k.stats.faults++;
  vma.mm.stats.faults++;
  const mm = vma.mm;
  const vmf = new VmFault(vma, alignDown(address, PAGE_SIZE), flags);
  const pudp = yield* pudAlloc(mm, address);
  if (!pudp) return VM_FAULT_OOM;
  vmf.pmd = yield* pmdAlloc(mm, pudp, address);
  if (!vmf.pmd) return VM_FAULT_OOM;

  if (pmdNone(yield* ptepGet(vmf.pmd)) && thpVmaAllowablePmd(vma, vmf.address, true)) {
    const ret = yield* createHugePmd(vmf);
    if (!(ret & VM_FAULT_FALLBACK)) return ret;
  } else {
    vmf.origPmd = yield* ptepGet(vmf.pmd);
    if (isPmdMigrationEntry(vmf.origPmd)) return 0; // pmd_migration_entry_wait(): retry later
    if (pmdTransHuge(vmf.origPmd)) {
      if (pteProtnone(vmf.origPmd) && vmaIsAccessible(vma)) return yield* doHugePmdNumaPage(vmf);
      if (flags & FAULT_FLAG_WRITE && !pteWrite(vmf.origPmd)) {
        // wp_huge_pmd(): a uffd-wp protected huge PMD goes to userland (userfaultfd_huge_pmd_wp()).
        if (!(flags & FAULT_FLAG_UNSHARE) && vma.isAnonymous() && vma.flags & VM_UFFD_WP && pteUffdWp(vmf.origPmd)) return handleUserfault();
        const ret = yield* doHugePmdWpPage(vmf);
        if (!(ret & VM_FAULT_FALLBACK)) return ret;
      } else {
        yield* hugePmdSetAccessed(vmf);
        return 0;
      }
    }
  }
  return yield* handlePteFault(vmf);
}

/** create_huge_pmd(): anonymous VMAs only here (no DAX ->huge_fault). */
function* createHugePmd(vmf: VmFault): KGen<number> {
  if (vmf.vma.isAnonymous()) return yield* doHugePmdAnonymousPage(vmf);
  return VM_FAULT_FALLBACK;
}

/** handle_pte_fault(). */
function* handlePteFault(vmf: VmFault): KGen<number> {
  const mm = vmf.vma.mm;
  if (pmdNone(yield* ptepGet(vmf.pmd))) {
    vmf.pte = -1;
    vmf.flags &= ~FAULT_FLAG_ORIG_PTE_VALID;
  } else {
    vmf.pte = yield* pteOffsetMapRwNolock(mm, vmf.pmd, vmf.address, vmf);
    if (vmf.pte < 0) return 0; // the PMD changed under us: the access faults again
    vmf.origPte = yield* ptepGet(vmf.pte);
    vmf.flags |= FAULT_FLAG_ORIG_PTE_VALID;
    if (pteNone(vmf.origPte)) {
      yield* pteUnmap(vmf.pte);
      vmf.pte = -1;
    }
  }
  if (vmf.pte < 0) return yield* doPteMissing(vmf);
  if (!ptePresent(vmf.origPte)) return yield* doSwapPage(vmf);
  if (pteProtnone(vmf.origPte) && vmaIsAccessible(vmf.vma)) return yield* doNumaPage(vmf);

  yield* spinLock(vmf.ptl);
  let entry = vmf.origPte;
  // No PMD recheck needed: orig_pte is non-none, and a detached table holds only none entries.
  if ((yield* ptepGet(vmf.pte)) !== entry) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return 0;
  }
  if (vmf.flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) {
    if (!pteWrite(entry)) return yield* doWpPage(vmf);
    if (vmf.flags & FAULT_FLAG_WRITE) entry = pteSetFlags(entry, _PAGE_DIRTY);
  }
  entry = pteSetFlags(entry, _PAGE_ACCESSED);
  if (entry !== vmf.origPte) yield* setPte(vmf.pte, entry); // ptep_set_access_flags()
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  return 0;
}

/** do_pte_missing(). */
function* doPteMissing(vmf: VmFault): KGen<number> {
  if (vmf.vma.isAnonymous()) return yield* doAnonymousPage(vmf);
  return yield* doFault(vmf);
}

/**
 * do_swap_page() (mm/memory.c, 6.18) for order-0 anonymous folios and PTE markers. A guard marker
 * is SIGSEGV; a uffd-wp marker without a userfaultfd context behaves as none
 * (pte_marker_handle_uffd_wp()). A swap entry's folio is found in the swap cache (which
 * swap_update_readahead() counts) or read into it by swapin_readahead(), with a window around it
 * (swap_state.ts; the swap area is not SWP_SYNCHRONOUS_IO); it is locked, and mapped only if the
 * PTE still holds the same swap entry under the PTE lock: the table may have
 * been zapped and reclaimed meanwhile (pte_offset_map_lock() fails) or the entry zapped, or
 * another fault may have mapped it (pte_same() fails); then the fault returns and the access
 * faults again. A folio found in the swap cache (left there by reclaim: swapfile.ts) is mapped
 * without a new allocation; a mapped folio stays in the swap cache unless should_try_to_free_swap()
 * says otherwise. Coarse: a mapped folio is exclusive (no fork, no KSM), and a folio the fault
 * gives up on leaves the swap cache if nothing maps it and no swap PTE holds its slot (the kernel
 * leaves that to a later reclaim pass: swapfile.ts).
 */
export function* doSwapPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const k = current.k;
  const e = vmf.origPte;
  yield* pteUnmap(vmf.pte); // pte_unmap_same(): one load on x86-64, nothing to recheck
  if (!isSwapEntryPte(e)) {
    if (isPteMarker(e)) {
      if (isGuardPte(e)) return VM_FAULT_SIGSEGV;
      vmf.pte = -1;
      return yield* doPteMissing(vmf);
    }
    if (isMigrationPte(e)) {
      yield* migrationEntryWait(vma.mm, vmf.pmd, vmf.address);
      return 0;
    }
    if (swpKind(e) === SWP_HWPOISON) return VM_FAULT_HWPOISON;
    throw new ModelBug(`do_swap_page: device entries are not modelled (entry ${e})`);
  }
  const entry = swpOffset(e);
  // get_swap_device(): the model's swapoff leaves the area in place (swapoff.ts); an entry it
  // unused meanwhile is no longer in the PTE, which the checks below find under the PTE lock.
  let ret = 0;
  let folio: Pfn | 0 = swapCacheGetFolio(entry);
  if (folio) swapUpdateReadahead(folio, vma, vmf.address);
  if (!folio) {
    folio = yield* swapinReadahead(entry, vmf);
    if (!folio) {
      // Back out if somebody else faulted in this pte while we released the pte lock.
      vmf.pte = yield* pteOffsetMapLock(vma.mm, vmf.pmd, vmf.address, vmf);
      if (vmf.pte >= 0 && (yield* ptepGet(vmf.pte)) === e) ret = VM_FAULT_OOM;
      if (vmf.pte >= 0) yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
      return ret;
    }
    ret = VM_FAULT_MAJOR; // Had to read the page from swap area
  }
  yield* folioLock(folio); // folio_lock_or_retry(): waits here rather than retrying the fault
  // Make sure folio_free_swap() did not release the swapcache from under us.
  if (folioSwapOffset(folio) !== entry) return yield* doSwapPageOutPage(folio, ret);
  // Back out if somebody else already faulted in this pte.
  vmf.pte = yield* pteOffsetMapLock(vma.mm, vmf.pmd, vmf.address, vmf);
  if (vmf.pte < 0) return yield* doSwapPageOutPage(folio, ret);
  if ((yield* ptepGet(vmf.pte)) !== e) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return yield* doSwapPageOutPage(folio, ret);
  }
  // check_folio: the entry says whether the page was exclusive when it was swapped out (fork
  // clears the bit in both mms); no KSM, and the folio is always the swap cache's (no
  // SWP_SYNCHRONOUS_IO path), so no fresh copy that would be exclusive anyway.
  const exclusive = pteSwpExclusive(e);
  // Remove the swap entry and conditionally try to free up the swapcache.
  swapFreeNr(entry, 1);
  if (shouldTryToFreeSwap(folio, vma, vmf.flags)) folioFreeSwap(folio);
  addMmCounter(vma.mm, MM_ANONPAGES, 1);
  addMmCounter(vma.mm, MM_SWAPENTS, -1);
  let pte = mkPte(folio, vmaPageProt(vma) | _PAGE_ACCESSED) + (e & (_PAGE_SOFT_DIRTY | _PAGE_UFFD_WP));
  // Same logic as in do_wp_page(): the only reference left is the fault's.
  const mapExclusive = exclusive || k.mem.refcount[folio] === 1;
  if (mapExclusive && vma.flags & VM_WRITE && !pteUffdWp(pte)) {
    pte = pteSetFlags(pte, _PAGE_RW); // pte_mkwrite()
    if (vmf.flags & FAULT_FLAG_WRITE) {
      pte = pteSetFlags(pte, _PAGE_DIRTY);
      vmf.flags &= ~FAULT_FLAG_WRITE;
    }
  }
  // The fault's reference becomes the mapping's (folio_ref_add(folio, nr_pages - 1)).
  // folio_add_anon_rmap_ptes(), RMAP_EXCLUSIVE when exclusive (the model's swap-cache folios are
  // anonymous and swap-backed from the read on, so a never-mapped one needs no other call).
  folioAddAnonRmapPtes(folio, 1, vma.mm, mapExclusive);
  k.mem.setFlags(folio, PG_has_data);
  yield* setPte(vmf.pte, pte); // set_ptes()
  yield* folioUnlock(folio);
  if (vmf.flags & FAULT_FLAG_WRITE) {
    // A write to a page that could not be mapped writable: do_wp_page() under the same lock.
    vmf.origPte = pte;
    ret |= yield* doWpPage(vmf);
    return ret & VM_FAULT_ERROR ? ret & VM_FAULT_ERROR : ret;
  }
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  return ret;
}

/**
 * should_try_to_free_swap() (mm/memory.c): free the swap cache of the folio a swap fault maps when
 * swap is getting full (mem_cgroup_swap_full() → vm_swap_full()), the VMA is mlocked, or a write
 * fault would otherwise find the folio shared with the swap cache (its references are the fault's
 * and the swap cache's alone: folio_ref_count() == 1 + folio_nr_pages()).
 */
function shouldTryToFreeSwap(folio: Pfn, vma: Vma, faultFlags: number): boolean {
  if (!folioSwapOffset(folio)) return false; // folio_test_swapcache()
  if (vmSwapFull() || vma.flags & VM_LOCKED) return true;
  touchFolio(folio, false);
  return (faultFlags & FAULT_FLAG_WRITE) !== 0 && current.k.mem.refcount[folio] === 2;
}

/**
 * do_swap_page()'s out_page / out_release: unlock and release the folio. Coarse: a folio left in
 * the swap cache that nothing maps and no swap PTE holds any more (the entry was zapped meanwhile,
 * and the zap's folio_trylock() failed because this fault held the lock) leaves the cache here;
 * the kernel leaves it to a later reclaim pass (__remove_mapping()), which the model does not have.
 */
function* doSwapPageOutPage(folio: Pfn, ret: number): KGen<number> {
  if (!folioMapped(folio)) folioFreeSwap(folio);
  yield* folioUnlock(folio);
  folioPutRefs(folio, 1);
  return ret;
}

/** vmf_pte_changed(): for a fault that started from none (or from orig_pte), did the slot change? */
function* vmfPteChanged(vmf: VmFault): KGen<boolean> {
  const cur = yield* ptepGet(vmf.pte);
  if (vmf.flags & FAULT_FLAG_ORIG_PTE_VALID) return cur !== vmf.origPte;
  return !pteNone(cur);
}

/** do_anonymous_page(). */
function* doAnonymousPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const k = current.k;
  if (vma.flags & VM_SHARED) return VM_FAULT_SIGBUS;
  if (!(yield* pteAlloc(mm, vmf.pmd, vmf.address))) return VM_FAULT_OOM;

  // Use the zero-page for reads (special: no refcount, no RSS), unless mm_forbids_zeropage().
  if (!(vmf.flags & FAULT_FLAG_WRITE) && faultMayMapZeroPage(mm)) {
    const entry = mkPte(k.mem.zeroPfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL);
    vmf.pte = yield* pteOffsetMapLock(mm, vmf.pmd, vmf.address, vmf);
    if (vmf.pte < 0) return 0;
    if (!(yield* vmfPteChanged(vmf))) {
      // Deliver the page fault to userland, check inside PT lock.
      if (vma.flags & VM_UFFD_MISSING) {
        yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
        return handleUserfault();
      }
      yield* setPte(vmf.pte, entry);
    }
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return 0;
  }
  const ret = yield* vmfAnonPrepare(vmf);
  if (ret) return ret;
  // alloc_anon_folio(): anonymous mTHP sizes are all "never" here, so an order-0 folio.
  const folio = k.mem.allocPages(0, PT_ANON);
  if (folio < 0) return VM_FAULT_OOM;
  k.mem.setFlags(folio, PG_uptodate); // __folio_mark_uptodate(): contents before the PTE
  let entry = mkPte(folio, vmaPageProt(vma) | _PAGE_ACCESSED);
  if (vma.flags & VM_WRITE) entry = pteSetFlags(entry, _PAGE_RW | _PAGE_DIRTY);
  vmf.pte = yield* pteOffsetMapLock(mm, vmf.pmd, vmf.address, vmf);
  if (vmf.pte < 0) {
    folioPutRefs(folio, 1);
    return 0;
  }
  if (yield* vmfPteChanged(vmf)) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    folioPutRefs(folio, 1);
    return 0;
  }
  // Deliver the page fault to userland, check inside PT lock.
  if (vma.flags & VM_UFFD_MISSING) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    folioPutRefs(folio, 1);
    return handleUserfault();
  }
  addMmCounter(mm, MM_ANONPAGES, 1);
  folioAddNewAnonRmapPtes(folio, 1, mm);
  yield* setPte(vmf.pte, entry);
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  return 0;
}

/**
 * do_wp_page(): write to a present, write-protected PTE. Shared mappings make it writable
 * (wp_page_shared()/wp_page_reuse()); private ones copy (wp_page_copy()) unless the page is an
 * exclusive anonymous page, which is reused.
 */
function* doWpPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const k = current.k;
  // userfaultfd_pte_wp(): a write to a uffd-wp protected PTE goes to userland (no wp_async here).
  if (!(vmf.flags & FAULT_FLAG_UNSHARE) && vma.flags & VM_UFFD_WP && pteUffdWp(yield* ptepGet(vmf.pte))) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return handleUserfault();
  }
  const orig = vmf.origPte;
  const special = (pteFlags(orig) & _PAGE_SPECIAL) !== 0;
  const pfn = ptePfn(orig);
  if (vma.flags & VM_SHARED) {
    vmf.page = special ? 0 : pfn; // vm_normal_page()
    return yield* wpPageShared(vmf, special);
  }
  if (!special) touchFolio(k.mem.folioHead(pfn), false);
  if (!special && k.mem.type[pfn] === PT_ANON && (k.mem.testFlags(pfn, PG_anon_exclusive) || (yield* wpCanReuseAnonFolio(pfn as Pfn)))) {
    touchFolio(k.mem.folioHead(pfn), true);
    k.mem.setFlags(pfn, PG_anon_exclusive); // SetPageAnonExclusive()
    yield* setPte(vmf.pte, pteSetFlags(orig, _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED)); // wp_page_reuse()
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return 0;
  }
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  return yield* wpPageCopy(vmf, special ? 0 : pfn);
}

/**
 * wp_can_reuse_anon_folio() (mm/memory.c, 6.18), called with the PTE lock held. An order-0 folio
 * is reused only when the mapping's reference is the only one: at most one more for the swap
 * cache, which folio_free_swap() then drops under the folio trylock if no swap entry holds the
 * slot any more. So a page swapped in from an entry that fork() shared is copied, and the swap
 * cache keeps the data the other process's entry still refers to (scripts/fork-swap-cow.pt); so is
 * a page another path holds a reference to (migration's isolation) or has locked. Not modelled:
 * KSM (folio_test_ksm() is false), lru_add_drain() (the model keeps no per-CPU LRU batches, which
 * are what hold the references it drains), and folio_move_anon_rmap() (the model's anonymous
 * folios carry no anon_vma to move).
 *
 * A large folio (__wp_can_reuse_large_anon_folio()) is reused only when more than one of its
 * pages is mapped, no other mm maps it (FOLIO_MM_IDS_SHARED, rmap.ts largeMapcountAdd()) and every
 * reference is a mapping (folio_large_mapcount() == folio_ref_count()), checked again under the
 * large-mapcount lock (here, in the same step). So a write to a page of a THP that a forked child
 * still maps copies the page, as this machine's kernel does (scripts/cow-shared-thp.pt).
 * do_wp_page() asks PageAnonExclusive() of the page first and only then this, and marks a reused
 * page exclusive.
 */
function* wpCanReuseAnonFolio(pfn: Pfn): KGen<boolean> {
  const mem = current.k.mem;
  const folio = mem.folioHead(pfn);
  if (mem.order[folio] !== 0) return wpCanReuseLargeAnonFolio(folio);
  // We have to verify under folio lock: these early checks are just an optimization.
  if (mem.refcount[folio] > 3) return false;
  if (mem.refcount[folio] > 1 + (folioSwapOffset(folio) ? 1 : 0)) return false;
  if (!(yield* folioTrylock(folio))) return false;
  if (folioSwapOffset(folio)) folioFreeSwap(folio);
  if (mem.refcount[folio] !== 1) {
    yield* folioUnlock(folio);
    return false;
  }
  yield* folioUnlock(folio);
  return true;
}

/** __wp_can_reuse_large_anon_folio() (above). */
function wpCanReuseLargeAnonFolio(folio: Pfn): boolean {
  const mem = current.k.mem;
  const f = mem.largeIdx(folio);
  // Let's just free up a large folio if only a single page is mapped.
  if (mem.largeMapcount[f] <= 1) return false;
  if (mem.mmIdsShared[f]) return false;
  return mem.largeMapcount[f] === mem.refcount[folio];
}

/** wp_page_copy(): COW into a new anonymous page, then replace the PTE with a flush. */
function* wpPageCopy(vmf: VmFault, oldPfn: number): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const k = current.k;
  const prep = yield* vmfAnonPrepare(vmf);
  if (prep) return prep;
  const nw = k.mem.allocPages(0, PT_ANON);
  if (nw < 0) return VM_FAULT_OOM;
  k.mem.setFlags(nw, PG_uptodate | (oldPfn ? k.mem.testFlags(oldPfn, PG_has_data) : 0)); // __wp_page_copy_user()
  vmf.pte = yield* pteOffsetMapLock(mm, vmf.pmd, vmf.address, vmf);
  if (vmf.pte < 0) {
    folioPutRefs(nw, 1);
    return 0;
  }
  if ((yield* ptepGet(vmf.pte)) !== vmf.origPte) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    folioPutRefs(nw, 1);
    return 0;
  }
  if (oldPfn) {
    const head = k.mem.folioHead(oldPfn as Pfn);
    if (k.mem.type[head] !== PT_ANON) {
      addMmCounter(mm, mmCounter(head), -1);
      addMmCounter(mm, MM_ANONPAGES, 1);
    }
  } else {
    addMmCounter(mm, MM_ANONPAGES, 1);
  }
  const entry = mkPte(nw, vmaPageProt(vma) | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED);
  // ptep_clear_flush(): the old translation must be gone before the new one appears.
  yield* setPte(vmf.pte, 0);
  yield* flushTlbMmRange(mm, vmf.address, vmf.address + PAGE_SIZE, 12, false);
  folioAddNewAnonRmapPtes(nw, 1, mm);
  yield* setPte(vmf.pte, entry);
  if (oldPfn) folioRemoveRmapPtes(oldPfn as Pfn, 1, mm);
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  if (oldPfn) folioPutRefs(k.mem.folioHead(oldPfn as Pfn), 1);
  return 0;
}

// ---- file and shmem faults (do_fault and friends) ---------------------------------------------

/** do_fault(). */
function* doFault(vmf: VmFault): KGen<number> {
  let ret: number;
  // The VMA was not fully populated on mmap() or missing VM_DONTEXPAND: no ->fault (the model's
  // only such VMA is a TCP socket mapping, tcp_vm_ops). SIGBUS unless the slot was filled meanwhile.
  if (vmf.vma.driver?.kind === 'tcp') ret = yield* doFaultNoHandler(vmf);
  else if (!(vmf.flags & FAULT_FLAG_WRITE)) ret = yield* doReadFault(vmf);
  else if (!(vmf.vma.flags & VM_SHARED)) ret = yield* doCowFault(vmf);
  else ret = yield* doSharedFault(vmf);
  // An unused preallocated table was never visible: free it at once.
  if (vmf.preallocPte) {
    pteFree(vmf.preallocPte);
    vmf.preallocPte = 0;
  }
  return ret;
}

/** do_fault()'s branch for a VMA whose vm_ops has no ->fault. */
function* doFaultNoHandler(vmf: VmFault): KGen<number> {
  const pte = yield* pteOffsetMapLock(vmf.vma.mm, vmf.pmd, vmf.address, vmf);
  if (pte < 0) return VM_FAULT_SIGBUS;
  // Make sure this is not a temporary clearing of pte by holding ptl and checking again.
  const ret = pteNone(yield* ptepGet(pte)) ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
  yield* pteUnmapUnlock(pte, vmf.ptl);
  return ret;
}

/** do_fault_around(): map the surrounding page-cache pages that are already uptodate. */
function* doFaultAround(vmf: VmFault): KGen<number> {
  const k = current.k;
  const vma = vmf.vma;
  const nrPages = k.cfg.faultAroundBytes / PAGE_SIZE;
  const pteOff = pteIndex(vmf.address);
  const vmaOff = vmf.pgoff - vma.pgoff;
  const fromPte = Math.max(alignDown(pteOff, nrPages), pteOff - Math.min(pteOff, vmaOff));
  const vmaPages = (vma.end - vma.start) / PAGE_SIZE;
  const toPte = Math.min(fromPte + nrPages, 512, pteOff + vmaPages - vmaOff) - 1;
  if (pmdNone(yield* ptepGet(vmf.pmd))) {
    vmf.preallocPte = pgtableAlloc(vma.mm, 1, vmf.address);
    if (!vmf.preallocPte) return VM_FAULT_OOM;
  }
  return yield* vmaMapPages(vmf, vmf.pgoff + fromPte - pteOff, vmf.pgoff + toPte - pteOff);
}

/** do_read_fault(). */
function* doReadFault(vmf: VmFault): KGen<number> {
  // should_fault_around(): only with ->map_pages (file and shmem VMAs; binder_vm_ops has none), not
  // in a VMA registered for uffd-wp or minor faults (uffd_disable_fault_around()).
  if (vmf.vma.file && current.k.cfg.faultAroundBytes > PAGE_SIZE && !(vmf.vma.flags & (VM_UFFD_WP | VM_UFFD_MINOR)) && !faultAroundSkipped()) {
    const ret = yield* doFaultAround(vmf);
    if (ret) return ret;
  }
  let ret = yield* __doFault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) return ret;
  ret |= yield* finishFault(vmf);
  const head = current.k.mem.folioHead(vmf.page as Pfn);
  yield* folioUnlock(head);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) folioPutRefs(head, 1);
  return ret;
}

/** do_cow_fault(): write fault on a private file mapping: copy into a new anonymous page. */
function* doCowFault(vmf: VmFault): KGen<number> {
  const k = current.k;
  const prep = yield* vmfAnonPrepare(vmf);
  if (prep) return prep;
  const cow = k.mem.allocPages(0, PT_ANON);
  if (cow < 0) return VM_FAULT_OOM;
  vmf.cowPage = cow;
  let ret = yield* __doFault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) {
    folioPutRefs(cow, 1);
    return ret;
  }
  k.mem.setFlags(cow, PG_uptodate | k.mem.testFlags(vmf.page, PG_has_data)); // copy_user_highpage() + __folio_mark_uptodate()
  ret |= yield* finishFault(vmf);
  const head = k.mem.folioHead(vmf.page as Pfn);
  yield* folioUnlock(head);
  folioPutRefs(head, 1);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) folioPutRefs(cow, 1);
  return ret;
}

/**
 * do_shared_fault(): write fault on a shared mapping with no PTE yet. A file with
 * ->page_mkwrite() is asked before the page is mapped, with the folio unlocked (it comes back
 * locked); the fault's folio reference becomes the mapping's.
 */
function* doSharedFault(vmf: VmFault): KGen<number> {
  let ret = yield* __doFault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) return ret;
  const head = current.k.mem.folioHead(vmf.page as Pfn);
  if (vmaHasPageMkwrite(vmf.vma)) {
    yield* folioUnlock(head);
    const tmp = yield* doPageMkwrite(vmf);
    if (!tmp || tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) {
      folioPutRefs(head, 1);
      return tmp;
    }
  }
  ret |= yield* finishFault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) {
    yield* folioUnlock(head);
    folioPutRefs(head, 1);
    return ret;
  }
  return ret | (yield* faultDirtySharedPage(vmf));
}

/**
 * __do_fault(): preallocate a table outside the folio lock, then ->fault() returns the page-cache
 * folio locked and referenced.
 */
function* __doFault(vmf: VmFault): KGen<number> {
  if (pmdNone(yield* ptepGet(vmf.pmd)) && !vmf.preallocPte) {
    vmf.preallocPte = pgtableAlloc(vmf.vma.mm, 1, vmf.address);
    if (!vmf.preallocPte) return VM_FAULT_OOM;
  }
  const ret = yield* vmaFault(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) return ret;
  if (!(ret & VM_FAULT_LOCKED)) throw new ModelBug('->fault returned an unlocked folio');
  return ret;
}

/**
 * finish_fault(): map the page ->fault() found (or the COW copy). A page-cache folio is mapped
 * whole when it lies inside the VMA and this PTE table and no entry there is taken (v6.18);
 * a regular file's folio that reaches past i_size is mapped one page at a time and never by PMD
 * (needs_fallback: SIGBUS semantics; shmem is exempt).
 */
export function* finishFault(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const k = current.k;
  const isCow = (vmf.flags & FAULT_FLAG_WRITE) !== 0 && !(vma.flags & VM_SHARED);
  let needsFallback = false;
  for (;;) {
    // fallback:
    let addr = vmf.address;
    let page = (isCow ? vmf.cowPage : vmf.page) as Pfn;
    const head = k.mem.folioHead(page);
    // (check_stable_address_space(): the model has no OOM reaper.) A COW copy is an order-0
    // anonymous folio: its needs_fallback cannot change what is mapped, so it is not computed.
    if (!needsFallback && vma.file && !isCow) {
      const fileEnd = vma.file.sizePages; // DIV_ROUND_UP(i_size_read(), PAGE_SIZE)
      needsFallback = vma.file.kind !== 'shmem' && fileEnd < k.mem.index[head] + k.mem.folioNr(head);
    }
    if (pmdNone(yield* ptepGet(vmf.pmd))) {
      if (!needsFallback && k.mem.order[head] === HPAGE_PMD_ORDER) {
        const ret = yield* doSetPmd(vmf, head, page);
        if (ret !== VM_FAULT_FALLBACK) return ret;
      }
      if (vmf.preallocPte) {
        vmf.preallocPte = yield* pmdInstall(mm, vmf.pmd, vmf.preallocPte);
      } else if (!(yield* pteAlloc(mm, vmf.pmd, vmf.address))) {
        return VM_FAULT_OOM;
      }
    }
    let nrPages = k.mem.folioNr(head);
    // (Per-page faults for uffd-armed VMAs: no userfaultfd registration in the model.)
    if (needsFallback) {
      nrPages = 1;
    } else if (nrPages > 1) {
      const idx = page - head;
      const vmaOff = vmf.pgoff - vma.pgoff; // the page offset of vmf->address within the VMA
      const pteOff = pteIndex(vmf.address); // its entry in the page table
      // Fall back to a per-page fault if the folio reaches beyond the VMA or the PTE table.
      if (vmaOff < idx || vmaOff + (nrPages - idx) > (vma.end - vma.start) / PAGE_SIZE || pteOff < idx || pteOff + (nrPages - idx) > 512) {
        nrPages = 1;
      } else {
        // Now we can set mappings for the whole large folio.
        addr = vmf.address - idx * PAGE_SIZE;
        page = head;
      }
    }
    vmf.pte = yield* pteOffsetMapLock(mm, vmf.pmd, addr, vmf);
    if (vmf.pte < 0) return VM_FAULT_NOPAGE;
    // Re-check under ptl
    if (nrPages === 1 && (yield* vmfPteChanged(vmf))) {
      yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
      return VM_FAULT_NOPAGE;
    } else if (nrPages > 1 && !(yield* pteRangeNone(vmf.pte, nrPages))) {
      needsFallback = true;
      yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
      continue;
    }
    folioRefAdd(head, nrPages - 1);
    yield* setPteRange(vmf, page, nrPages, addr, vmf.pte);
    addMmCounter(mm, isCow ? MM_ANONPAGES : mmCounter(head), nrPages);
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return 0;
  }
}

/** pte_range_none(). */
function* pteRangeNone(pte: number, nr: number): KGen<boolean> {
  for (let i = 0; i < nr; i++) if (!pteNone(yield* ptepGet(pte + i))) return false;
  return true;
}

/** ->fault(): filemap_fault() or shmem_fault(); binder_vm_fault() is always SIGBUS. */
export function* vmaFault(vmf: VmFault): KGen<number> {
  if (vmf.vma.driver?.kind === 'binder') return VM_FAULT_SIGBUS;
  const mapping = vmf.vma.file!;
  if (mapping.kind === 'shmem') return yield* shmemFault(vmf);
  return yield* filemapFault(vmf);
}
