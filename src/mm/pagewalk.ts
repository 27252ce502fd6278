/**
 * The generic page-table walker (mm/pagewalk.c, Linux 6.18): walk_page_range() for walks of a
 * process's VMAs under its mmap_lock, walk_page_range_debug() for ptdump's walk of tables with no
 * VMA. A caller hands it `MmWalkOps`, the callbacks of struct mm_walk_ops; the walker descends
 * from the PGD and calls them at each level.
 *
 * How a walk meets a table that MADV_DONTNEED reclaims (docs/audit.md #27, #28): a VMA walk maps
 * the table with pte_offset_map_lock(), whose pmd_same() recheck turns a table detached
 * meanwhile into NULL; walk_pte_range() then sets ACTION_AGAIN and walk_pmd_range() reads the PMD
 * again (none now: a hole). Most walkers have a ->pmd_entry() that does the same mapping itself
 * and sets ACTION_AGAIN on NULL (fs/proc/task_mmu.c, mm/mincore.c). A walk without a VMA (ptdump)
 * maps with pte_offset_map() and takes no PTE lock: only the RCU section keeps the table alive.
 *
 * Not modelled: hugetlb VMAs (walk_hugetlb_range()), ->install_pte (the guard-region walks of
 * madvise.ts keep their own loop), ->pre_vma/->post_vma, the P4D and PUD entry
 * callbacks (no modelled walker has one), and a ->pte_entry on a VMA walk, which the kernel
 * precedes with split_huge_pmd() (no modelled VMA walker has one: they all use ->pmd_entry).
 */
import { addrEnd, EINVAL, PAGE_SIZE, PGDIR_SIZE, PMD_SIZE, PUD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { isHugeZeroPmd } from './huge_memory.js';
import { ModelBug } from './bug.js';
import { vmaStartWrite } from './mmap_lock.js';
import { VM_PFNMAP, type MmStruct, type Vma } from './mm_types.js';
import { PteMapOut, pteOffsetMap, pteOffsetMapLock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import {
  isMigrationPte,
  pmdIsTable,
  pmdNone,
  pmdPfn,
  pmdPresent,
  pmdTransHuge,
  pteNone,
  ptePfn,
  ptePresent,
  pteSpecial,
  swpOffset,
} from './pgtable_types.js';
import { ptepGet, spinLock, spinUnlock, type KGen } from './primitives.js';
import { pmdLockptr, type LockHandle } from './ptlock.js';
import { findVma } from './vma_tree.js';
import { pgdOffset, pmdOffset, pudOffset } from './pgtable_mm.js';

/** walk->action, set by a callback to steer walk_pmd_range() (include/linux/pagewalk.h). */
export const ACTION_SUBTREE = 0; // descend to the next level
export const ACTION_CONTINUE = 1; // skip the next level
export const ACTION_AGAIN = 2; // read this entry again

/**
 * enum page_walk_lock: what the walker asserts (PGWALK_RDLOCK: the mmap_lock held), takes
 * (PGWALK_WRLOCK: vma_start_write() on every VMA it walks, as clear_refs does) or asserts taken
 * (PGWALK_WRLOCK_VERIFY: the caller write-locked the VMA, as mlock does).
 */
export type PageWalkLock = 'rdlock' | 'wrlock' | 'wrlock_verify';

/** The depth a ->pte_hole() is told (real_depth(): 0 PGD, 2 PUD, 3 PMD; -1 outside a VMA). */
export const DEPTH_PGD = 0;
export const DEPTH_PUD = 2;
export const DEPTH_PMD = 3;

/**
 * struct mm_walk_ops: the callbacks return 0 to go on, anything else ends the walk. ->pte_hole()
 * reads no table (the modelled ones fill in what a hole means), so it has no scheduling point.
 */
export interface MmWalkOps<P> {
  readonly pmdEntry?: (pmdp: number, addr: Vaddr, next: Vaddr, walk: MmWalk<P>) => KGen<number>;
  readonly pteEntry?: (ptep: number, addr: Vaddr, next: Vaddr, walk: MmWalk<P>) => KGen<number>;
  readonly pteHole?: (addr: Vaddr, next: Vaddr, depth: number, walk: MmWalk<P>) => number;
  /** ->test_walk(): 0 walks the VMA, 1 skips it, a negative errno ends the walk. */
  readonly testWalk?: (start: Vaddr, end: Vaddr, walk: MmWalk<P>) => number;
  readonly walkLock: PageWalkLock;
}

/** struct mm_walk: the walk's state, and the caller's `private` data. */
export class MmWalk<P> {
  action = ACTION_SUBTREE;
  vma: Vma | null = null;
  constructor(
    readonly ops: MmWalkOps<P>,
    readonly mm: MmStruct,
    readonly priv: P,
    readonly noVma = false,
  ) {}
}

/**
 * walk_page_range() → walk_page_range_mm(): walk [start, end) of mm VMA by VMA, the gaps between
 * VMAs going to ->pte_hole() with depth -1. The caller holds the mmap_lock (process_mm_walk_lock()
 * asserts it; the model does not check).
 */
export function* walkPageRange<P>(mm: MmStruct, start: Vaddr, end: Vaddr, ops: MmWalkOps<P>, priv: P): KGen<number> {
  const walk = new MmWalk(ops, mm, priv);
  if (start >= end) return -EINVAL;
  let err = 0;
  let next: Vaddr;
  let vma = findVma(mm, start);
  do {
    if (!vma) {
      // after the last vma
      walk.vma = null;
      next = end;
      if (ops.pteHole) err = ops.pteHole(start, next, -1, walk);
    } else if (start < vma.start) {
      // outside vma
      walk.vma = null;
      next = Math.min(end, vma.start);
      if (ops.pteHole) err = ops.pteHole(start, next, -1, walk);
    } else {
      // inside vma
      if (ops.walkLock === 'wrlock') yield* vmaStartWrite(vma); // process_vma_walk_lock()
      else if (ops.walkLock === 'wrlock_verify' && vma.writeSeq !== mm.mmapSeq) throw new ModelBug('walk_page_range(): PGWALK_WRLOCK_VERIFY on a VMA that is not write-locked'); // vma_assert_write_locked()
      walk.vma = vma;
      next = Math.min(end, vma.end);
      vma = findVma(mm, vma.end);
      err = walkPageTest(start, next, walk);
      if (err > 0) {
        // positive return values are purely for controlling the pagewalk
        err = 0;
        continue;
      }
      if (err < 0) break;
      err = yield* walkPgdRange(start, next, walk); // __walk_page_range(), no hugetlb
    }
    if (err) break;
  } while ((start = next), start < end);
  return err;
}

/**
 * walk_page_range_debug(): walk tables with no VMA behind them (ptdump), without PTE locks. The
 * caller holds the mmap_lock for write (munmap() detaches VMAs before it tears their tables down
 * under the read lock, so a read lock would not do); it excludes no per-VMA-lock MADV_DONTNEED.
 */
export function* walkPageRangeDebug<P>(mm: MmStruct, start: Vaddr, end: Vaddr, ops: MmWalkOps<P>, priv: P): KGen<number> {
  const walk = new MmWalk(ops, mm, priv, true);
  if (start >= end) return -EINVAL;
  return yield* walkPgdRange(start, end, walk);
}

/** walk_page_test(): ->test_walk() decides; without one a VM_PFNMAP VMA goes to ->pte_hole() whole, or is skipped. */
function walkPageTest<P>(start: Vaddr, end: Vaddr, walk: MmWalk<P>): number {
  if (walk.ops.testWalk) return walk.ops.testWalk(start, end, walk);
  if (walk.vma!.flags & VM_PFNMAP) {
    const err = walk.ops.pteHole ? walk.ops.pteHole(start, end, -1, walk) : 1;
    return err ? err : 1;
  }
  return 0;
}

/** walk_pgd_range() (P4D folded into the PGD, as with 4-level paging). */
function* walkPgdRange<P>(start: Vaddr, end: Vaddr, walk: MmWalk<P>): KGen<number> {
  let err = 0;
  for (let addr = start; addr < end && !err; ) {
    const next = addrEnd(addr, end, PGDIR_SIZE);
    const pgdv = yield* ptepGet(pgdOffset(walk.mm, addr));
    if (pmdNone(pgdv)) {
      if (walk.ops.pteHole) err = walk.ops.pteHole(addr, next, DEPTH_PGD, walk);
    } else {
      err = yield* walkPudRange(pgdv, addr, next, walk);
    }
    addr = next;
  }
  return err;
}

/** walk_pud_range(): the model maps no huge PUDs, so a present PUD entry is a PMD table. */
function* walkPudRange<P>(pgdv: number, start: Vaddr, end: Vaddr, walk: MmWalk<P>): KGen<number> {
  let err = 0;
  for (let addr = start; addr < end && !err; ) {
    const next = addrEnd(addr, end, PUD_SIZE);
    const pudv = yield* ptepGet(pudOffset(pgdv, addr));
    if (pmdNone(pudv)) {
      if (walk.ops.pteHole) err = walk.ops.pteHole(addr, next, DEPTH_PUD, walk);
    } else if (pmdIsTable(pudv)) {
      err = yield* walkPmdRange(pudv, addr, next, walk);
    }
    addr = next;
  }
  return err;
}

/**
 * walk_pmd_range(): for each PMD, ->pte_hole() if none, else ->pmd_entry(), then (with a
 * ->pte_entry) walk_pte_range(). ACTION_AGAIN from either reads the same PMD again: that is how
 * a walker that lost its table to reclaim finds the hole reclaim left.
 */
function* walkPmdRange<P>(pudv: number, start: Vaddr, end: Vaddr, walk: MmWalk<P>): KGen<number> {
  const ops = walk.ops;
  let err = 0;
  for (let addr = start; addr !== end; ) {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = pmdOffset(pudv, addr);
    if (pmdNone(yield* ptepGet(pmdp))) {
      if (ops.pteHole) err = ops.pteHole(addr, next, DEPTH_PMD, walk);
      if (err) break;
      addr = next;
      continue;
    }
    walk.action = ACTION_SUBTREE;
    // This implies that each ->pmd_entry() handler needs to know about pmd_trans_huge() pmds.
    if (ops.pmdEntry) err = yield* ops.pmdEntry(pmdp, addr, next, walk);
    if (err) break;
    if (walk.action === ACTION_AGAIN) continue; // goto again
    if (walk.action === ACTION_CONTINUE || !ops.pteEntry) {
      addr = next;
      continue;
    }
    if (walk.vma) throw new Error('pagewalk: a ->pte_entry on a VMA walk (split_huge_pmd() first) is not modelled');
    const v = yield* ptepGet(pmdp);
    if (pmdTransHuge(v) || !pmdPresent(v)) {
      addr = next; // pmd_leaf() || !pmd_present(): nothing to do
      continue;
    }
    err = yield* walkPteRange(pmdp, addr, next, walk);
    if (err) break;
    if (walk.action === ACTION_AGAIN) continue;
    addr = next;
  }
  return err;
}

/**
 * walk_pte_range(): map the table (pte_offset_map() without a VMA, pte_offset_map_lock() with
 * one), call ->pte_entry() for each entry; no table (it went away after the PMD was read) is
 * ACTION_AGAIN.
 */
function* walkPteRange<P>(pmdp: number, addr: Vaddr, end: Vaddr, walk: MmWalk<P>): KGen<number> {
  let err = 0;
  let pte: number;
  if (walk.noVma) {
    pte = yield* pteOffsetMap(pmdp, addr);
    if (pte >= 0) {
      err = yield* walkPteRangeInner(pte, addr, end, walk);
      yield* pteUnmap(pte);
    }
  } else {
    const out = new PteMapOut();
    pte = yield* pteOffsetMapLock(walk.mm, pmdp, addr, out);
    if (pte >= 0) {
      err = yield* walkPteRangeInner(pte, addr, end, walk);
      yield* pteUnmapUnlock(pte, out.ptl);
    }
  }
  if (pte < 0) walk.action = ACTION_AGAIN;
  return err;
}

/** walk_pte_range_inner() without ->install_pte. */
function* walkPteRangeInner<P>(pte: number, addr: Vaddr, end: Vaddr, walk: MmWalk<P>): KGen<number> {
  for (;;) {
    const err = yield* walk.ops.pteEntry!(pte, addr, addr + PAGE_SIZE, walk);
    if (err) return err;
    if (addr >= end - PAGE_SIZE) return 0;
    addr += PAGE_SIZE;
    pte++;
  }
}

// ---- folio_walk_start() ------------------------------------------------------------------------

/** folio_walk_start() flags (include/linux/pagewalk.h). */
export const FW_MIGRATION = 1 << 0;
export const FW_ZEROPAGE = 1 << 1;

/** struct folio_walk: the folio found, and what folio_walk_end() releases. */
export interface FolioWalk {
  readonly folio: Pfn;
  /** The shared zero page (FW_ZEROPAGE), or a migration entry's folio (FW_MIGRATION): no page exposed. */
  readonly exposed: boolean;
  /** The mapped PTE, or -1 for a PMD-level find (the PMD lock held). */
  readonly pte: number;
  readonly ptl: LockHandle;
}

/**
 * folio_walk_start() (mm/pagewalk.c, 6.18): the folio mapped at addr, returned with its page-table
 * lock held; null when nothing is mapped there. The PMD is read locklessly; a huge or non-present
 * PMD is read again under the PMD lock, and a PMD that points to a table is mapped with
 * pte_offset_map_lock(), whose PMD recheck finds a table reclaimed after the lockless read gone
 * (not found). The caller holds the mmap_lock (or the VMA lock) for read, which does not exclude
 * a reclaiming MADV_DONTNEED. No huge PUDs and no PMD migration entries in the model.
 */
export function* folioWalkStart(vma: Vma, addr: Vaddr, flags: number): KGen<FolioWalk | null> {
  const mm = vma.mm;
  const mem = current.k.mem;
  if (addr < vma.start || addr >= vma.end) return null;
  const pgdv = yield* ptepGet(pgdOffset(mm, addr));
  if (pmdNone(pgdv)) return null;
  const pud = yield* ptepGet(pudOffset(pgdv, addr));
  if (pmdNone(pud)) return null;
  const pmdp = pmdOffset(pud, addr);
  let pmd = yield* ptepGet(pmdp); // pmdp_get_lockless()
  if (pmdNone(pmd)) return null;
  if (!pmdPresent(pmd) || pmdTransHuge(pmd)) {
    const ptl = pmdLockptr(mm, pmdp);
    yield* spinLock(ptl);
    pmd = yield* ptepGet(pmdp);
    if (pmdPresent(pmd) && pmdTransHuge(pmd)) {
      if (!isHugeZeroPmd(pmd)) return { folio: mem.folioHead(pmdPfn(pmd) as Pfn), exposed: true, pte: -1, ptl }; // vm_normal_page_pmd()
      if (flags & FW_ZEROPAGE) return { folio: pmdPfn(pmd) as Pfn, exposed: false, pte: -1, ptl };
    }
    yield* spinUnlock(ptl);
    if (!pmdPresent(pmd) || pmdTransHuge(pmd)) return null;
    // A table now (a split meanwhile): goto pte_table.
  }
  const out = new PteMapOut();
  const pte = yield* pteOffsetMapLock(mm, pmdp, addr, out);
  if (pte < 0) return null;
  const v = yield* ptepGet(pte);
  if (ptePresent(v)) {
    if (!pteSpecial(v)) return { folio: mem.folioHead(ptePfn(v)), exposed: true, pte, ptl: out.ptl }; // vm_normal_page()
    if (flags & FW_ZEROPAGE && ptePfn(v) === mem.zeroPfn) return { folio: ptePfn(v), exposed: false, pte, ptl: out.ptl };
  } else if (!pteNone(v) && flags & FW_MIGRATION && isMigrationPte(v)) {
    return { folio: mem.folioHead(swpOffset(v) as Pfn), exposed: false, pte, ptl: out.ptl };
  }
  yield* pteUnmapUnlock(pte, out.ptl);
  return null;
}

/** folio_walk_end(): drop the lock folio_walk_start() returned with (and unmap the PTE). */
export function* folioWalkEnd(fw: FolioWalk): KGen<void> {
  if (fw.pte >= 0) yield* pteUnmapUnlock(fw.pte, fw.ptl);
  else yield* spinUnlock(fw.ptl);
}
