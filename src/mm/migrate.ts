/**
 * Page migration (mm/migrate.c, 6.18) of one small anonymous folio, as compaction runs it: the
 * folio's PTEs become migration entries (try_to_migrate(), rmap.ts), its contents move to a new
 * folio, and remove_migration_ptes() maps the new folio where the entries still are. A fault on a
 * migration entry waits for the folio lock (migration_entry_wait()); a zap clears the entry like a
 * page (zap.ts). A table whose entries are migration entries is not empty, so reclaim keeps it;
 * once a zap has cleared them and reclaim freed the table, remove_migration_ptes() finds nothing,
 * its page_vma_mapped_walk() (PVMW_SYNC) mapping the table with pte_offset_map_lock().
 *
 * Modelled coarsely: migrate_pages_sync()'s one-folio batch in MIGRATE_SYNC_LIGHT (its first
 * MIGRATE_ASYNC round, with folio_trylock() and a batched TLB flush, is not modelled); the rmap
 * walk of the anonymous folio stands for the VMA where the caller found it (rmap.ts); no anon_vma
 * reference (the model frees no anon_vma), no mlock, no writeback, no swap-cache or page-cache
 * folios (migrateTask() refuses them), no THP.
 */
import { EAGAIN, EINVAL, ENOMEM, PAGE_SIZE } from './const.js';
import type { Pfn, Vaddr } from './const.js';
import { current } from './current.js';
import { vmaPageProt } from './memory/fault.js';
import { peekMappedFolio } from './memory/pgalloc.js';
import type { MmStruct, Vma } from './mm_types.js';
import { PG_dirty, PG_has_data, PG_referenced, PG_swapbacked, PG_uptodate, PT_ANON } from './page_alloc.js';
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
import { folioAddAnonRmapPte, folioMapped, tryToMigrate } from './rmap.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { folioSwapOffset } from './swapfile.js';
import { vmaLookup } from './vma_tree.js';

/** NR_MAX_MIGRATE_SYNC_RETRY: the passes of migrate_pages_sync()'s one-folio batch. */
const NR_MAX_MIGRATE_SYNC_RETRY = 7;

/** Where the folio was found: its anonymous rmap walk (rmap.ts). */
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
    folioPutRefs(src, 1); // putback: the isolation reference
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
    folioPutRefs(src, 1);
  }
  return rc;
}

/**
 * migrate_folio_unmap(): lock the folio and replace its PTEs by migration entries. rc 0 with the
 * new folio locked, or an error with everything undone.
 */
function* migrateFolioUnmap(src: Pfn, at: MigrateAt): KGen<{ rc: number; dst: Pfn | 0; wasMapped: boolean }> {
  const mem = current.k.mem;
  const dst = mem.allocPages(0, PT_ANON); // compaction_alloc()
  if (dst < 0) return { rc: -ENOMEM, dst: 0, wasMapped: false };
  touchFolio(dst, true);
  // MIGRATE_SYNC_LIGHT waits for the lock of an uptodate folio (an anonymous one always is).
  if (!(yield* folioTrylock(src))) yield* folioLock(src);
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
  if (wasMapped) yield* removeMigrationPtes(src, dst, at);
  yield* folioUnlock(dst);
  folioPutRefs(dst, 1); // the mappings hold it now, or nothing does and it is freed
  yield* folioUnlock(src);
  folioPutRefs(src, 1); // migrate_folio_done(): a folio that has been migrated is freed
  return 0;
}

/**
 * move_to_new_folio() → migrate_folio() → __migrate_folio() of an anonymous folio outside the swap
 * cache: folio_expected_ref_count() is its mapcount, 0 once unmapped, plus the isolation reference.
 */
function moveToNewFolio(dst: Pfn, src: Pfn): number {
  const mem = current.k.mem;
  touchFolio(src, true);
  // Check whether src does not have extra refs before we do more work
  if (mem.refcount[src] !== mem.mapcount[src] + 1) return -EAGAIN;
  // folio_mc_copy(), __folio_migrate_mapping(NULL, ...) and folio_migrate_flags()
  mem.index[dst] = mem.index[src];
  mem.mapping[dst] = mem.mapping[src];
  mem.flags[dst] |= mem.flags[src] & (PG_has_data | PG_swapbacked | PG_uptodate | PG_referenced | PG_dirty);
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
 * (no rwc->done). The anonymous walk stands for the VMA where the folio was found (rmap.ts).
 */
function* removeMigrationPtes(src: Pfn, dst: Pfn, at: MigrateAt): KGen<void> {
  if (!at.vma.detached) yield* removeMigrationPte(src, dst, at.vma, at.address);
}

/**
 * remove_migration_pte(): every migration entry of `src` in this VMA becomes a PTE of `dst`, with
 * the entry's young, dirty, soft-dirty, writable and uffd-wp bits; an exclusive or writable entry
 * maps the page exclusively (RMAP_EXCLUSIVE). No TLB flush: the entry was not present.
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
    if (mem.flags[dst] & PG_dirty && old & _PAGE_SWP_MIG_DIRTY) flags |= _PAGE_DIRTY; // pte_mkdirty()
    flags |= old & _PAGE_SOFT_DIRTY; // pte_mksoft_dirty(), else pte_clear_soft_dirty()
    if (isWritableMigrationPte(oldPte)) flags |= _PAGE_RW; // pte_mkwrite()
    else flags |= old & _PAGE_UFFD_WP; // pte_mkuffd_wp()
    // folio_add_anon_rmap_pte(), RMAP_EXCLUSIVE unless the entry was readable (shared)
    folioAddAnonRmapPte(dst, !isReadableMigrationPte(oldPte));
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
 * Compaction meets the page mapped at `addr`: isolate its folio (the reference
 * isolate_migratepages_block() takes; compaction scans by pfn, the model finds the folio through
 * the page table, without scheduling points) and migrate it. -EINVAL for what the model does not
 * migrate: nothing mapped there, a THP, a page-cache or swap-cache folio.
 */
export function* compactPage(mm: MmStruct, addr: Vaddr): KGen<number> {
  const mem = current.k.mem;
  const head = peekMappedFolio(mm, addr);
  const vma = head ? vmaLookup(mm, addr) : null;
  if (!head || !vma || mem.type[head] !== PT_ANON || mem.folioNr(head) !== 1 || folioSwapOffset(head)) return -EINVAL;
  folioRefAdd(head, 1); // folio_get_nontail_page(), folio_isolate_lru()
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
