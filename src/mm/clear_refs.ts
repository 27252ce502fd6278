/**
 * A write to /proc/PID/clear_refs (fs/proc/task_mmu.c, Linux 6.18: clear_refs_write()): under the
 * mmap_lock for write, a walk of every VMA that clears the young bits of the entries mapping
 * normal folios (1: all, 2: anonymous VMAs only, 3: file VMAs only) and the folios' referenced
 * bits; or (5) the peak RSS reset to the current RSS.
 *
 * The walk against reclaim (docs/audit.md #70): walk_page_range() with PGWALK_WRLOCK write-locks
 * each VMA (vma_start_write()) before walking it, so a DONTNEED under the VMA's read lock finishes
 * first or waits, in either DONTNEED lock mode; clear_refs_pte_range()'s pte_offset_map_lock()
 * would turn a table reclaimed before the walk reached it into ACTION_AGAIN all the same.
 *
 * Young bits are cleared without a TLB flush (ptep_test_and_clear_young()), as on x86: a CPU that
 * still caches the translation does not set the bit again until it walks the table anew (measured
 * on this machine: smaps Referenced stays 0 after clear_refs and a second write of the same pages).
 * Not modelled: 4 (soft-dirty: the model does not track soft-dirty bits or VM_SOFTDIRTY), the peak
 * RSS itself (VmHWM is not among the model's counters, so 5 only takes the lock), page_idle's young
 * flag (folio_test_clear_young()).
 */
import { EINVAL, TASK_SIZE, PAGE_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import { ModelBug } from './bug.js';
import { pmdTransHugeLock } from './huge_memory.js';
import { VM_PFNMAP, type MmStruct } from './mm_types.js';
import { mmapWriteUnlock } from './mmap_lock.js';
import { PG_referenced } from './page_alloc.js';
import { ACTION_AGAIN, walkPageRange, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { pmdPfn, pmdPresent, ptePfn, ptePresent, pteSpecial, pteYoung } from './pgtable_types.js';
import { condResched, downWrite, ptepGet, spinUnlock, type KGen, ptepTestAndClearYoung } from './primitives.js';

/** enum clear_refs_types. */
export const CLEAR_REFS_ALL = 1;
export const CLEAR_REFS_ANON = 2;
export const CLEAR_REFS_MAPPED = 3;
export const CLEAR_REFS_SOFT_DIRTY = 4;
export const CLEAR_REFS_MM_HIWATER_RSS = 5;
const CLEAR_REFS_LAST = 6;

/** The types the model runs: every one but soft-dirty. */
export function clearRefsTypeModelled(type: number): boolean {
  return type >= CLEAR_REFS_ALL && type < CLEAR_REFS_LAST && type !== CLEAR_REFS_SOFT_DIRTY;
}

/** struct clear_refs_private. */
interface ClearRefsPrivate {
  readonly type: number;
}

/**
 * clear_refs_write() of `type` to the mm's clear_refs file: 0 (the kernel returns the count
 * written), or -EINVAL for a type outside 1..5.
 */
export function* clearRefsWrite(mm: MmStruct, type: number): KGen<number> {
  if (type < CLEAR_REFS_ALL || type >= CLEAR_REFS_LAST) return -EINVAL;
  if (type === CLEAR_REFS_SOFT_DIRTY) throw new ModelBug('clear_refs 4 (soft-dirty) is not modelled');
  yield* downWrite(mm.mmapLock); // mmap_write_lock_killable()
  // CLEAR_REFS_MM_HIWATER_RSS: reset_mm_hiwater_rss(), a counter the model does not keep.
  if (type !== CLEAR_REFS_MM_HIWATER_RSS) yield* walkPageRange(mm, 0, TASK_SIZE, CLEAR_REFS_WALK_OPS, { type });
  yield* mmapWriteUnlock(mm);
  return 0;
}

/**
 * clear_refs_pte_range(): a huge PMD's young bit and its folio's referenced bit under the PMD
 * lock; else each present entry mapping a normal folio, under the PTE lock.
 */
function* clearRefsPteRange(pmdp: number, addr: Vaddr, end: Vaddr, walk: MmWalk<ClearRefsPrivate>): KGen<number> {
  const vma = walk.vma!;
  const mem = current.k.mem;
  const ptl = yield* pmdTransHugeLock(vma, pmdp);
  if (ptl !== null) {
    const v = yield* ptepGet(pmdp);
    if (pmdPresent(v)) {
      // Clear accessed and referenced bits.
      if (pteYoung(v)) yield* ptepTestAndClearYoung(pmdp); // pmdp_test_and_clear_young()
      mem.clearFlags(mem.folioHead(pmdPfn(v)), PG_referenced); // folio_clear_referenced()
    }
    yield* spinUnlock(ptl); // out:
    return 0;
  }
  const out = new PteMapOut();
  const start = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (start < 0) {
    walk.action = ACTION_AGAIN;
    return 0;
  }
  for (let pte = start; addr !== end; pte++, addr += PAGE_SIZE) {
    const ptent = yield* ptepGet(pte);
    if (!ptePresent(ptent) || pteSpecial(ptent)) continue; // vm_normal_folio(): none for the zero page
    // Clear accessed and referenced bits: ptep_test_and_clear_young(), under the PTE lock.
    if (pteYoung(ptent)) yield* ptepTestAndClearYoung(pte);
    mem.clearFlags(mem.folioHead(ptePfn(ptent)), PG_referenced); // folio_clear_referenced()
  }
  yield* pteUnmapUnlock(start, out.ptl);
  yield* condResched();
  return 0;
}

/** clear_refs_test_walk(): 1 skips the VMA (VM_PFNMAP; file VMAs for 2, anonymous ones for 3). */
function clearRefsTestWalk(_start: Vaddr, _end: Vaddr, walk: MmWalk<ClearRefsPrivate>): number {
  const vma = walk.vma!;
  if (vma.flags & VM_PFNMAP) return 1;
  if (walk.priv.type === CLEAR_REFS_ANON && vma.file) return 1;
  if (walk.priv.type === CLEAR_REFS_MAPPED && !vma.file) return 1;
  return 0;
}

const CLEAR_REFS_WALK_OPS: MmWalkOps<ClearRefsPrivate> = Object.freeze({
  pmdEntry: clearRefsPteRange,
  testWalk: clearRefsTestWalk,
  walkLock: 'wrlock',
});
