/**
 * Page migration (mm/migrate.c, 6.18) of one small folio, anonymous or page cache (shmem or a
 * regular file), as compaction runs it: the folio's PTEs become migration entries
 * (try_to_migrate(), rmap.ts), its contents move to a new folio, a page-cache folio's xarray slot
 * with them, and remove_migration_ptes() maps the new folio where the entries still are. A fault on a
 * migration entry waits for the folio lock (migration_entry_wait()); a zap clears the entry like a
 * page (zap.ts). A table whose entries are migration entries is not empty, so reclaim keeps it;
 * once a zap has cleared them and reclaim freed the table, remove_migration_ptes() finds nothing,
 * its page_vma_mapped_walk() (PVMW_SYNC) mapping the table with pte_offset_map_lock().
 *
 * Compaction isolates the folio from the LRU first (vmscan.ts), which keeps reclaim and a file
 * collapse (collapse_file()'s folio_isolate_lru()) off it until it is put back or freed.
 *
 * Modelled coarsely: migrate_pages_sync()'s one-folio batch in MIGRATE_SYNC_LIGHT (its first
 * MIGRATE_ASYNC round, with folio_trylock() and a batched TLB flush, is not modelled); the rmap
 * walk of an anonymous folio stands for the VMA where the caller found it (rmap.ts); no anon_vma
 * reference (the model frees no anon_vma), no mlock, no writeback, no buffer heads (a regular
 * file's folio migrates as shmem's does, with migrate_folio()), no truncation under migration, no
 * swap-cache folios (compactPage() refuses them), no THP.
 */
import { EAGAIN, EBUSY, EINVAL, ENOMEM, PAGE_SIZE } from './const.js';
import type { Pfn, Vaddr } from './const.js';
import { current } from './current.js';
import { peekMappedFolio } from './memory/pgalloc.js';
import type { MmStruct, Vma } from './mm_types.js';
import { touchMapping } from './page_cache.js';
import { PG_dirty, PG_has_data, PG_isolated, PG_referenced, PG_swapbacked, PG_uptodate, PT_ANON, PT_FILE, PT_SHMEM } from './page_alloc.js';
import { PageVmaMappedWalk, pageVmaMappedWalk, PVMW_MIGRATION, PVMW_SYNC } from './page_vma_mapped.js';
import { pteOffsetMapLock, pteUnmap, PteMapOut } from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SOFT_DIRTY,
  _PAGE_SWP_MIG_DIRTY,
  _PAGE_SWP_MIG_YOUNG,
  _PAGE_UFFD_WP,
  isMigrationPte,
  isReadableMigrationPte,
  isWritableMigrationPte,
  mkPte,
  pteFlags,
  ptePfn,
} from './pgtable_types.js';
import { condResched, folioLock, folioTrylock, folioUnlock, folioWaitLocked, ptepGet, setPte, spinUnlock, type KGen } from './primitives.js';
import { folioAddAnonRmapPtes, folioAddFileRmapPtes, folioMapped, rmapWalk, tryToMigrate } from './rmap.js';
import { folioMapping, folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { folioSwapOffset } from './swapfile.js';
import { folioIsolateLru, folioPutbackLru } from './vmscan.js';
import { vmaLookupUnlocked } from './vma_tree.js';
import { vmaPageProt } from './internal.js';

/** NR_MAX_MIGRATE_SYNC_RETRY: the passes of migrate_pages_sync()'s one-folio batch. */
const NR_MAX_MIGRATE_SYNC_RETRY = 7;

/** Where the folio was found: an anonymous folio's rmap walk (rmap.ts); a page-cache folio's walks i_mmap. */
export interface MigrateAt {
  readonly vma: Vma;
  readonly address: Vaddr;
}

/**
 * migrate_pages() of one folio compaction isolated (isolate_migratepages_block(): the caller
 * holds the isolation reference, which this drops). Returns 0 when the folio moved, -EAGAIN when
 * it was still busy after the last pass, -ENOMEM when no new folio could be had.
 */
export function* migratePages(src: Pfn, at: MigrateAt): KGen<number> {
  // migrate_pages_batch(): unmap, then move; each retried on -EAGAIN.
  let rc = -EAGAIN;
  let dst: Pfn | 0 = 0;
  let wasMapped = false;
  for (let pass = 0; pass < NR_MAX_MIGRATE_SYNC_RETRY && rc === -EAGAIN; pass++) {
    yield* condResched();
    const u = yield* migrateFolioUnmap(src, at);
    rc = u.rc;
    dst = u.dst;
    wasMapped = u.wasMapped;
  }
  if (rc) {
    folioPutbackLru(src); // migrate_folio_undo_src(): putback
    return rc;
  }
  rc = -EAGAIN;
  for (let pass = 0; pass < NR_MAX_MIGRATE_SYNC_RETRY && rc === -EAGAIN; pass++) {
    yield* condResched(); // migrate_folios_move()
    rc = yield* migrateFolioMove(src, dst as Pfn, wasMapped, at);
  }
  if (rc === -EAGAIN) {
    // migrate_folios_undo(): the migration entries give way to the old folio again.
    yield* migrateFolioUndoSrc(src, wasMapped, at);
    yield* migrateFolioUndoDst(dst as Pfn);
    folioPutbackLru(src);
  }
  return rc;
}

/**
 * migrate_folio_unmap(): lock the folio and replace its PTEs by migration entries. rc 0 with the
 * new folio locked, or an error with everything undone.
 */
function* migrateFolioUnmap(src: Pfn, at: MigrateAt): KGen<{ rc: number; dst: Pfn | 0; wasMapped: boolean }> {
  const mem = current.k.mem;
  const dst = mem.allocPages(0, mem.type[src]); // compaction_alloc()
  if (dst < 0) return { rc: -ENOMEM, dst: 0, wasMapped: false };
  touchFolio(dst, true);
  mem.setFlags(dst, PG_isolated); // on no LRU until migrate_folio_move()'s folio_add_lru()
  if (!(yield* folioTrylock(src))) {
    // "In 'light' mode, we can wait for transient locks (eg inserting a page into the page
    // table), but it's not worth waiting for I/O."
    if (!mem.testFlags(src, PG_uptodate)) {
      folioPutRefs(dst, 1); // migrate_folio_undo_dst(), dst not locked yet
      return { rc: -EAGAIN, dst: 0, wasMapped: false };
    }
    yield* folioLock(src);
  }
  // Block others from accessing the new page when we get around to establishing additional references.
  if (!(yield* folioTrylock(dst))) {
    yield* migrateFolioUndoSrc(src, false, at);
    folioPutRefs(dst, 1); // migrate_folio_undo_dst(): compaction_free()
    return { rc: -EAGAIN, dst: 0, wasMapped: false };
  }
  let wasMapped = false;
  if (folioMapped(src)) {
    // Establish migration ptes
    yield* tryToMigrate(src, at);
    wasMapped = true;
  }
  if (!folioMapped(src)) return { rc: 0, dst, wasMapped };
  // Still mapped somewhere the walk did not reach: restore and retry.
  yield* migrateFolioUndoSrc(src, wasMapped, at);
  yield* migrateFolioUndoDst(dst);
  return { rc: -EAGAIN, dst: 0, wasMapped: false };
}

/**
 * migrate_folio_move(): move the contents, map the new folio where migration entries are left, and
 * drop both folios' extra references. -EAGAIN (the old folio has a reference besides the
 * isolation's) leaves the migration entries in place for the next pass.
 */
function* migrateFolioMove(src: Pfn, dst: Pfn, wasMapped: boolean, at: MigrateAt): KGen<number> {
  const rc = moveToNewFolio(dst, src);
  if (rc) return rc;
  current.k.mem.clearFlags(dst, PG_isolated); // folio_add_lru()
  if (wasMapped) yield* removeMigrationPtes(src, dst, at);
  yield* folioUnlock(dst);
  folioPutRefs(dst, 1); // the mappings hold it now, or nothing does and it is freed
  yield* folioUnlock(src);
  folioPutRefs(src, 1); // migrate_folio_done(): a folio that has been migrated is freed
  return 0;
}

/**
 * move_to_new_folio() → migrate_folio() → __migrate_folio(): folio_expected_ref_count() is the
 * page cache's reference (none for an anonymous folio outside the swap cache) plus the mapcount,
 * 0 once unmapped, and the isolation reference comes on top. A page-cache folio's xarray slot then
 * takes the new folio (__folio_migrate_mapping(), under xas_lock_irq(): one step), with the cache's
 * reference and the dirty bit; lookups that find the new folio wait for its lock.
 */
function moveToNewFolio(dst: Pfn, src: Pfn): number {
  const k = current.k;
  const mem = k.mem;
  touchFolio(src, true);
  const mapping = folioMapping(src);
  // Check whether src does not have extra refs before we do more work
  if (mem.refcount[src] !== (mapping ? 1 : 0) + mem.mapcount[src] + 1) return -EAGAIN;
  // folio_mc_copy(), then __folio_migrate_mapping(): its folio_ref_freeze() sees the same count
  // (no scheduling point between), so "no turning back from here".
  mem.index[dst] = mem.index[src];
  mem.mapping[dst] = mem.mapping[src];
  if (mapping) {
    touchMapping(mapping, true);
    folioRefAdd(dst, 1); // add cache reference
    if (mem.testFlags(src, PG_dirty)) {
      mem.clearFlags(src, PG_dirty); // Move dirty while folio refs frozen and newfolio not yet exposed
      mem.setFlags(dst, PG_dirty);
    }
    mapping.pages.store(mem.index[src], dst); // xas_store()
    mem.refcount[src] -= 1; // folio_ref_unfreeze(folio, expected_count - nr)
  }
  // folio_migrate_flags()
  mem.setFlags(dst, mem.testFlags(src, PG_has_data | PG_swapbacked | PG_uptodate | PG_referenced | PG_dirty));
  return 0;
}

/** migrate_folio_undo_src(): put the old folio back where migration entries are, and unlock it. */
function* migrateFolioUndoSrc(src: Pfn, wasMapped: boolean, at: MigrateAt): KGen<void> {
  if (wasMapped) yield* removeMigrationPtes(src, src, at);
  yield* folioUnlock(src);
}

/** migrate_folio_undo_dst(): unlock the new folio and give it back (compaction_free()). */
function* migrateFolioUndoDst(dst: Pfn): KGen<void> {
  yield* folioUnlock(dst);
  folioPutRefs(dst, 1);
}

/**
 * remove_migration_ptes(src, dst, 0): rmap_walk() of dst with remove_migration_pte(), every VMA
 * (no rwc->done). An anonymous folio's walk stands for the VMA where the folio was found
 * (rmap.ts); a page-cache folio's walks i_mmap.
 */
function* removeMigrationPtes(src: Pfn, dst: Pfn, at: MigrateAt): KGen<void> {
  const rmapOne = function* (folio: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
    return yield* removeMigrationPte(src, folio, vma, address);
  };
  yield* rmapWalk(dst, at, rmapOne, false);
}

/**
 * remove_migration_pte(): every migration entry of `src` in this VMA becomes a PTE of `dst`, with
 * the entry's young, dirty, soft-dirty, writable and uffd-wp bits; an exclusive or writable entry
 * maps an anonymous page exclusively (RMAP_EXCLUSIVE). No TLB flush: the entry was not present.
 */
function* removeMigrationPte(src: Pfn, dst: Pfn, vma: Vma, address: Vaddr): KGen<boolean> {
  const mem = current.k.mem;
  const pvmw = new PageVmaMappedWalk(src, 1, vma, address, PVMW_SYNC | PVMW_MIGRATION);
  while (yield* pageVmaMappedWalk(pvmw)) {
    const oldPte = yield* ptepGet(pvmw.pte);
    folioRefAdd(dst, 1); // folio_get()
    let flags = vmaPageProt(vma) | _PAGE_ACCESSED; // mk_pte(new, vma->vm_page_prot)
    const old = pteFlags(oldPte);
    if (!(old & _PAGE_SWP_MIG_YOUNG)) flags &= ~_PAGE_ACCESSED; // pte_mkold()
    if (mem.testFlags(dst, PG_dirty) && old & _PAGE_SWP_MIG_DIRTY) flags |= _PAGE_DIRTY; // pte_mkdirty()
    flags |= old & _PAGE_SOFT_DIRTY; // pte_mksoft_dirty(), else pte_clear_soft_dirty()
    if (isWritableMigrationPte(oldPte)) flags |= _PAGE_RW; // pte_mkwrite()
    else flags |= old & _PAGE_UFFD_WP; // pte_mkuffd_wp()
    // folio_add_anon_rmap_pte(), RMAP_EXCLUSIVE unless the entry was readable (shared)
    if (mem.type[dst] === PT_ANON) folioAddAnonRmapPtes(dst, 1, vma.mm, !isReadableMigrationPte(oldPte));
    else folioAddFileRmapPtes(dst, 1, vma.mm); // folio_add_file_rmap_pte()
    yield* setPte(pvmw.pte, mkPte(dst, flags)); // set_pte_at()
  }
  return true;
}

/**
 * migration_entry_wait(): a fault met a migration entry. Under the PTE lock, if the entry is still
 * one, sleep until the folio is unlocked (migration_entry_wait_on_locked(): the entry, seen under
 * the lock, says the folio is locked; the lock is dropped before sleeping). The fault is then
 * retried. A table reclaimed meanwhile is no table: return, and the retry finds the slot none.
 */
export function* migrationEntryWait(mm: MmStruct, pmdp: number, address: Vaddr): KGen<void> {
  const out = new PteMapOut();
  const ptep = yield* pteOffsetMapLock(mm, pmdp, address, out);
  if (ptep < 0) return;
  const pte = yield* ptepGet(ptep);
  yield* pteUnmap(ptep);
  if (!isMigrationPte(pte)) {
    yield* spinUnlock(out.ptl);
    return;
  }
  // migration_entry_wait_on_locked(): folio_set_waiters() under the PTE lock, then unlock and sleep.
  const folio = current.k.mem.folioHead(ptePfn(pte)); // pfn_swap_entry_folio()
  yield* spinUnlock(out.ptl);
  yield* folioWaitLocked(folio);
}

/**
 * Compaction meets the page mapped at `addr`: isolate its folio (isolate_migratepages_block():
 * folio_get_nontail_page(), folio_test_clear_lru()) and migrate it. Compaction scans by pfn; the
 * model finds the folio through the page table instead, in the step after the cond_resched()
 * compaction takes between clusters of pfns (reading the slots and the VMA tree in that step, so
 * the search orders it with the paths that change them). -EBUSY for a folio another path holds
 * isolated (reclaim, a file collapse, another compaction); -EINVAL for what the model does not
 * migrate: nothing mapped there, a THP, the zero page, a swap-cache folio.
 */
export function* compactPage(mm: MmStruct, addr: Vaddr): KGen<number> {
  const mem = current.k.mem;
  yield* condResched();
  const head = peekMappedFolio(mm, addr);
  const vma = vmaLookupUnlocked(mm, addr);
  if (!head || !vma) return -EINVAL;
  touchFolio(head, false);
  if (mem.type[head] !== PT_ANON && mem.type[head] !== PT_FILE && mem.type[head] !== PT_SHMEM) return -EINVAL;
  if (mem.folioNr(head) !== 1 || folioSwapOffset(head)) return -EINVAL;
  if (!folioIsolateLru(head)) return -EBUSY;
  // The anonymous rmap walk stands for the VMA the folio was found in (rmap.ts).
  return yield* migratePages(head, { vma, address: addr });
}

/**
 * Compaction of [addr, addr + len) (the op-script `migrate`): each page in turn, as
 * compactPage(). Returns how many folios moved.
 */
export function* compactRange(mm: MmStruct, addr: Vaddr, len: number): KGen<number> {
  let moved = 0;
  for (let a = addr; a < addr + len; a += PAGE_SIZE) if ((yield* compactPage(mm, a)) === 0) moved++;
  return moved;
}
