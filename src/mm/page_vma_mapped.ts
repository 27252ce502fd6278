/**
 * page_vma_mapped_walk() (mm/page_vma_mapped.c, v6.14): find where a folio is mapped in one VMA,
 * returning with that PTE table mapped and its PTE lock held. An rmap walker reaches the table
 * through no mm lock at all, only the folio lock and i_mmap_rwsem / anon_vma lock, so the table can
 * be reclaimed under it: it maps the table under RCU with pte_offset_map_rw_nolock(), peeks at the
 * entry, and only then takes the PTE lock and rechecks the PMD (race R5).
 *
 * With PVMW_SYNC the table is mapped and locked at once (pte_offset_map_lock(), whose own PMD
 * recheck makes the R5 one unneeded); with PVMW_MIGRATION the walk looks for migration entries of
 * the folio instead of present PTEs (remove_migration_ptes()).
 *
 * Modelled coarsely: small folios in PTE-mapped, non-hugetlb VMAs, without device-private entries;
 * a PMD that maps a huge page is "not found" (a small folio is never PMD-mapped), and so is a PMD
 * migration entry (the model migrates no THP).
 */
import { guardOn } from './config.js';
import { PAGE_SIZE, PMD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import type { Vma } from './mm_types.js';
import { PteMapOut, pteOffsetMapLock, pteOffsetMapRwNolock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import { isMigrationPte, isSwapPte, pmdPresent, pmdTransHuge, pteNone, ptePfn, ptePresent, swpOffset, type Pmd } from './pgtable_types.js';
import { ptepGet, spinLock, spinUnlock, type KGen } from './primitives.js';
import type { LockHandle } from './ptlock.js';
import { PT_ANON } from './page_alloc.js';
import { mmFindPmd } from './pgtable_mm.js';

/** include/linux/rmap.h: walk flags. */
export const PVMW_SYNC = 1 << 0;
export const PVMW_MIGRATION = 1 << 1;

/** struct page_vma_mapped_walk: the folio sought, the VMA, and where the walk stands. */
export class PageVmaMappedWalk {
  /** PMD slot of the current table (0: none yet). */
  pmd = 0;
  /** The mapped PTE (-1: no table mapped). */
  pte = -1;
  /** The PTE lock held, or null. */
  ptl: LockHandle | null = null;
  constructor(
    readonly pfn: Pfn,
    readonly nrPages: number,
    readonly vma: Vma,
    public address: Vaddr,
    readonly flags = 0,
  ) {}
}

/** page_vma_mapped_walk_done(): unlock and unmap what the walk holds. */
export function* pageVmaMappedWalkDone(pvmw: PageVmaMappedWalk): KGen<void> {
  if (pvmw.pte >= 0) {
    if (pvmw.ptl !== null) yield* pteUnmapUnlock(pvmw.pte, pvmw.ptl);
    else yield* pteUnmap(pvmw.pte);
  } else if (pvmw.ptl !== null) {
    yield* spinUnlock(pvmw.ptl);
  }
  pvmw.pte = -1;
  pvmw.ptl = null;
}

/** mm/page_vma_mapped.c: not_found(). */
function* notFound(pvmw: PageVmaMappedWalk): KGen<false> {
  yield* pageVmaMappedWalkDone(pvmw);
  return false;
}

/**
 * map_pte(). With PVMW_SYNC: pte_offset_map_lock(). Without: map the table locklessly and look at
 * the entry first, so that tables without the folio are never locked. Returns true with the PTE
 * lock held; false with the table mapped but not locked (an entry of the wrong kind: go on to the
 * next one), or with nothing mapped (pvmw.pte < 0: the PMD changed, restart). `pmdvalOut` gets the
 * PMD value mapped through and the lock of that table, which the caller takes itself if a later
 * entry is not none.
 */
function* mapPte(pvmw: PageVmaMappedWalk, pmdvalOut: PteMapOut): KGen<boolean> {
  const mm = pvmw.vma.mm;
  if (pvmw.flags & PVMW_SYNC) {
    // Use the stricter lookup
    pvmw.pte = yield* pteOffsetMapLock(mm, pvmw.pmd, pvmw.address, pmdvalOut);
    if (pvmw.pte >= 0) pvmw.ptl = pmdvalOut.ptl;
    return pvmw.pte >= 0;
  }
  for (;;) {
    // again:
    pvmw.pte = yield* pteOffsetMapRwNolock(mm, pvmw.pmd, pvmw.address, pmdvalOut);
    if (pvmw.pte < 0) return false;
    const ptent = yield* ptepGet(pvmw.pte);
    if (pvmw.flags & PVMW_MIGRATION ? !isSwapPte(ptent) : !ptePresent(ptent)) return false;
    pvmw.ptl = pmdvalOut.ptl;
    yield* spinLock(pvmw.ptl);
    // The table may have been reclaimed between the lockless map and the lock; after this
    // recheck it cannot be, since detaching it needs the PTE lock we hold.
    if (guardOn(current.k.cfg, 'rw-nolock-pmd-same') && (yield* ptepGet(pvmw.pmd)) !== pmdvalOut.pmdval) {
      yield* pteUnmapUnlock(pvmw.pte, pvmw.ptl);
      pvmw.ptl = null;
      pvmw.pte = -1;
      continue;
    }
    return true;
  }
}

/**
 * check_pte(): under the PTE lock, does the entry map a page of the folio (with PVMW_MIGRATION:
 * is it a migration entry for one)? The entry is re-read: this is also what makes a walker that
 * lost the pmd_same() recheck harmless, since a detached table holds only none entries and so
 * never matches.
 */
function* checkPte(pvmw: PageVmaMappedWalk): KGen<boolean> {
  const ptent = yield* ptepGet(pvmw.pte);
  if (pvmw.flags & PVMW_MIGRATION ? !isMigrationPte(ptent) : !ptePresent(ptent)) return false;
  const pfn = pvmw.flags & PVMW_MIGRATION ? swpOffset(ptent) : ptePfn(ptent);
  return pfn >= pvmw.pfn && pfn < pvmw.pfn + pvmw.nrPages;
}

/**
 * vma_address_end() (mm/internal.h, 6.18): one past the last address the folio can occupy in the
 * VMA, from the folio's page-cache index, so that a walk that starts at the VMA's start (a VMA that
 * maps only the folio's tail, rmap.ts vmaAddress()) stops where the folio does. The model's
 * anonymous folios carry no index; their walks start at the head page's address, where the two
 * computations agree.
 */
function vmaAddressEnd(pvmw: PageVmaMappedWalk): Vaddr {
  const vma = pvmw.vma;
  // Common case, plus ->pgoff is invalid for KSM
  if (pvmw.nrPages === 1) return (pvmw.address + PAGE_SIZE) as Vaddr;
  const mem = current.k.mem;
  if (mem.type[pvmw.pfn] === PT_ANON) return Math.min(pvmw.address + pvmw.nrPages * PAGE_SIZE, vma.end) as Vaddr;
  const address = vma.start + (mem.index[pvmw.pfn] + pvmw.nrPages - vma.pgoff) * PAGE_SIZE;
  // Check for address beyond vma (or wrapped through 0?)
  return (address < vma.start || address > vma.end ? vma.end : address) as Vaddr;
}

/**
 * page_vma_mapped_walk(): true with pvmw.pte mapped and pvmw.ptl held where the folio is mapped;
 * false, with nothing held, when there is no (further) mapping in the VMA.
 */
export function* pageVmaMappedWalk(pvmw: PageVmaMappedWalk): KGen<boolean> {
  const mm = pvmw.vma.mm;
  const end = vmaAddressEnd(pvmw);
  const pmdvalOut = new PteMapOut();
  let pmde: Pmd = 0;
  // Resumed after a match: look further along this table.
  let state: 'restart' | 'this_pte' | 'next_pte' = pvmw.pte >= 0 ? 'next_pte' : 'restart';
  for (;;) {
    if (state === 'restart') {
      if (pvmw.address >= end) return false;
      pvmw.pmd = yield* mmFindPmd(mm, pvmw.address);
      if (!pvmw.pmd) {
        pvmw.address = alignNext(pvmw.address, PMD_SIZE);
        continue;
      }
      pmde = yield* ptepGet(pvmw.pmd);
      if (pmdTransHuge(pmde)) return yield* notFound(pvmw);
      if (!pmdPresent(pmde)) {
        pvmw.address = alignNext(pvmw.address, PMD_SIZE); // step_forward()
        continue;
      }
      if (!(yield* mapPte(pvmw, pmdvalOut))) {
        if (pvmw.pte < 0) continue; // restart
        state = 'next_pte';
        continue;
      }
      pmde = pmdvalOut.pmdval;
      state = 'this_pte';
    }
    if (state === 'this_pte') {
      if (yield* checkPte(pvmw)) return true;
      state = 'next_pte';
    }
    // next_pte: entries are peeked at without the lock until a non-none one turns up.
    let ptent = 0;
    do {
      pvmw.address += PAGE_SIZE;
      if (pvmw.address >= end) return yield* notFound(pvmw);
      if (pvmw.address % PMD_SIZE === 0) {
        // Crossed into the next table.
        yield* pageVmaMappedWalkDone(pvmw);
        break;
      }
      pvmw.pte++;
      ptent = yield* ptepGet(pvmw.pte);
    } while (pteNone(ptent));
    if (pvmw.pte < 0) {
      state = 'restart';
      continue;
    }
    if (pvmw.ptl === null) {
      pvmw.ptl = pmdvalOut.ptl;
      yield* spinLock(pvmw.ptl);
      if (guardOn(current.k.cfg, 'rw-nolock-pmd-same') && (yield* ptepGet(pvmw.pmd)) !== pmde) {
        yield* pteUnmapUnlock(pvmw.pte, pvmw.ptl);
        pvmw.ptl = null;
        pvmw.pte = -1;
        state = 'restart';
        continue;
      }
    }
    state = 'this_pte';
  }
}

/** step_forward() to the next `size` boundary. */
function alignNext(addr: Vaddr, size: number): Vaddr {
  return (Math.floor(addr / size) + 1) * size;
}
