/**
 * ptdump_walk_pgd() (mm/ptdump.c, Linux 6.18): the debugfs dump of a process's page tables
 * (/sys/kernel/debug/page_tables/, CONFIG_PTDUMP_DEBUGFS; efi and the kernel's own tables take
 * the same walk). It is the one page-table walker that meets a table being reclaimed only under
 * the per-VMA lock (docs/audit.md #28): it holds the mmap_lock for write, which excluded a
 * MADV_DONTNEED under the mmap_lock for read (6.14–6.16), but it takes no VMA lock, so a DONTNEED
 * under the VMA's read lock (6.17+) runs beside it. Its walk has no VMA (walk_page_range_debug()):
 * it maps each PTE table with pte_offset_map() and reads the entries with no PTE lock, so only
 * the RCU section and reclaim's RCU-delayed free keep the table alive under it.
 *
 * The dump itself (note_page(), the ranges' names, effective protections) is not modelled: the
 * state counts the entries the walk noted.
 */
import type { Vaddr } from './const.js';
import { mmapWriteUnlock } from './mmap_lock.js';
import type { MmStruct } from './mm_types.js';
import { ACTION_CONTINUE, walkPageRangeDebug, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { pmdTransHuge, ptePresent } from './pgtable_types.js';
import { downWrite, ptepGet, type KGen } from './primitives.js';

/** struct ptdump_state, reduced to what the walk hands note_page(). */
export interface PtdumpState {
  /** Present leaf entries noted (PTEs and huge PMDs). */
  present: number;
  /** Holes noted, at any level. */
  holes: number;
}

/** ptdump_pmd_entry(): a huge PMD is a leaf, noted here; the walk skips its subtree. */
function* ptdumpPmdEntry(pmdp: number, _addr: Vaddr, _next: Vaddr, walk: MmWalk<PtdumpState>): KGen<number> {
  const val = yield* ptepGet(pmdp); // READ_ONCE(*pmd)
  if (pmdTransHuge(val)) {
    walk.priv.present++; // st->note_page_pmd()
    walk.action = ACTION_CONTINUE;
  }
  return 0;
}

/** ptdump_pte_entry(): ptep_get_lockless(), then note_page_pte(). */
function* ptdumpPteEntry(ptep: number, _addr: Vaddr, _next: Vaddr, walk: MmWalk<PtdumpState>): KGen<number> {
  const val = yield* ptepGet(ptep);
  if (ptePresent(val)) walk.priv.present++;
  return 0;
}

/** ptdump_hole(): a zero entry noted at the hole's level. */
function ptdumpHole(_addr: Vaddr, _next: Vaddr, _depth: number, walk: MmWalk<PtdumpState>): number {
  walk.priv.holes++;
  return 0;
}

const PTDUMP_OPS: MmWalkOps<PtdumpState> = Object.freeze({ pmdEntry: ptdumpPmdEntry, pteEntry: ptdumpPteEntry, pteHole: ptdumpHole, walkLock: 'rdlock' });

/**
 * ptdump_walk_pgd() over one range [start, end) of mm (the kernel walks st->range, all of user
 * space for a process's file): mmap_write_lock(), walk_page_range_debug(), mmap_write_unlock().
 * get_online_mems() is not modelled (no memory hotplug).
 */
export function* ptdumpWalkPgd(st: PtdumpState, mm: MmStruct, start: Vaddr, end: Vaddr): KGen<void> {
  yield* downWrite(mm.mmapLock); // mmap_write_lock()
  yield* walkPageRangeDebug(mm, start, end, PTDUMP_OPS, st);
  yield* mmapWriteUnlock(mm);
}
