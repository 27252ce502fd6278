/**
 * The multi-gen LRU's aging walk of an mm (mm/vmscan.c, Linux 6.18, CONFIG_LRU_GEN; this
 * machine's kernel is built without it, so the model has no live oracle here): walk_mm() takes
 * the mmap_lock only by trylock, and walk_pte_range() clears the young bits of the entries of
 * each PTE table under a trylocked PTE lock (docs/audit.md #49).
 *
 * Against a table that MADV_DONTNEED reclaims: walk_pmd_range() reads each PMD into a local copy
 * with pmdp_get_lockless(), outside any RCU read section, and hands walk_pte_range() a pointer to
 * that copy. So ___pte_offset_map() "reads the PMD" inside rcu_read_lock() from the copy, and the
 * pmd_same() recheck after the trylock (added with pte_offset_map_rw_nolock() in 6.13) compares
 * the copy with itself: it can never fail. A walk that locks a table detached after the copy was
 * read writes nothing (a table is detached only when empty, and get_pte_pfn() skips none
 * entries); but nothing kept the table alive between the copy and the rcu_read_lock(): with
 * preemptible RCU a grace period can end there, and the table be freed before the walk maps it
 * and takes its lock (mglru_vs_dontneed: ptl-use-after-free). `mglruRealPmd` (config
 * `mglru_real_pmd=on`) is the remedy the scenario checks: map through the PMD itself.
 *
 * Not modelled: walk_pmd_range_locked() (young bits of huge PMDs, and of PMDs when
 * should_clear_pmd_young()), the Bloom filters (as with walk->force_scan), memcgs and nodes
 * (get_pfn_folio() always finds the folio), lru_gen_look_around() (audit #47), and
 * should_skip_vma() beyond VM_SPECIAL-like mappings (the model has none).
 */
import { addrEnd, PAGE_SIZE, PMD_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import type { MmStruct } from './mm_types.js';
import { PteMapOut, pteOffsetMapRwNolock, pteOffsetMapValue, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import {
  pmdPresent,
  pmdTransHuge,
  ptePfn,
  ptePresent,
  pteSpecial,
  pteYoung,
  type Pmd,
  type Pte,
} from './pgtable_types.js';
import {
  downReadTrylock,
  ptepGet,
  spinTrylock,
  trylockContendedElsewhere,
  upRead,
  type KGen,
  ptepTestAndClearYoung,
} from './primitives.js';
import { pteLockptr } from './ptlock.js';
import { mmFindPmd } from './pgtable_mm.js';

/** What one walk did, for the task's result: young bits cleared, tables skipped for a busy lock. */
export interface LruGenWalk {
  young: number;
  busy: number;
}

/**
 * walk_mm() over [start, end) of mm: nothing when the mmap_lock is contended (mmap_read_trylock()
 * fails; the next aging pass will try again). Returns whether it walked.
 */
export function* walkMm(mm: MmStruct, start: Vaddr, end: Vaddr, walk: LruGenWalk): KGen<boolean> {
  if (trylockContendedElsewhere() || !(yield* downReadTrylock(mm.mmapLock))) return false;
  yield* walkPmdRange(mm, start, end, walk); // walk_page_range(mm, ..., &mm_walk_ops) → walk_pud_range()
  yield* upRead(mm.mmapLock);
  return true;
}

/** walk_pmd_range(): each PMD read once, locklessly, into a local copy. */
function* walkPmdRange(mm: MmStruct, start: Vaddr, end: Vaddr, walk: LruGenWalk): KGen<void> {
  for (let addr = start, next: Vaddr; addr !== end; addr = next) {
    next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = yield* mmFindPmd(mm, addr); // walk_pud_range()'s descent
    if (!pmdp) continue;
    const val = yield* ptepGet(pmdp); // pmd_t val = pmdp_get_lockless(pmd + i)
    if (!pmdPresent(val)) continue; // also the huge zero page, and walk_pmd_range_locked()'s THPs:
    if (pmdTransHuge(val)) continue; // not modelled
    if (current.k.cfg.mglruRealPmd) yield* walkPteRangeRemedy(mm, pmdp, addr, next, walk);
    else yield* walkPteRange(mm, val, addr, next, walk); // walk_pte_range(&val, addr, next, args)
  }
}

/**
 * walk_pte_range(): map the table through the local copy of the PMD (pte_offset_map_rw_nolock()
 * reads *pmd, which is `val`), trylock its PTE lock, recheck pmd_same() against the copy again,
 * then clear the young bit of each present entry. Returns false when it found no table or the
 * recheck failed (it cannot), true otherwise (the kernel returns suitable_to_scan() there, for
 * its Bloom filter; a busy lock skips the table and returns true).
 */
function* walkPteRange(mm: MmStruct, val: Pmd, start: Vaddr, end: Vaddr, walk: LruGenWalk): KGen<boolean> {
  const pmdval = val;
  const pte = yield* pteOffsetMapValue(pmdval, start);
  if (pte < 0) return false;
  const ptl = pteLockptr(mm, pmdval);
  if (!(yield* spinTrylock(ptl))) {
    yield* pteUnmap(pte);
    walk.busy++;
    return true;
  }
  // pmd_same(pmdval, pmdp_get_lockless(pmd)), with pmd == &val: the copy against itself.
  if (pmdval !== val) {
    yield* pteUnmapUnlock(pte, ptl);
    return false;
  }
  yield* clearYoung(start, end, pte, walk);
  yield* pteUnmapUnlock(pte, ptl);
  return true;
}

/**
 * walk_pte_range() with the remedy: pte_offset_map_rw_nolock() on the PMD itself reads it under
 * RCU, and pmd_same() after the trylock rereads it, so a table detached meanwhile is skipped.
 */
function* walkPteRangeRemedy(mm: MmStruct, pmdp: number, start: Vaddr, end: Vaddr, walk: LruGenWalk): KGen<boolean> {
  const out = new PteMapOut();
  const pte = yield* pteOffsetMapRwNolock(mm, pmdp, start, out);
  if (pte < 0) return false;
  if (!(yield* spinTrylock(out.ptl))) {
    yield* pteUnmap(pte);
    walk.busy++;
    return true;
  }
  if ((yield* ptepGet(pmdp)) !== out.pmdval) {
    yield* pteUnmapUnlock(pte, out.ptl);
    return false;
  }
  yield* clearYoung(start, end, pte, walk);
  yield* pteUnmapUnlock(pte, out.ptl);
  return true;
}

/** walk_pte_range()'s loop: clear the young bit of each entry get_pte_pfn() does not skip. */
function* clearYoung(start: Vaddr, end: Vaddr, pte: number, walk: LruGenWalk): KGen<void> {
  for (let addr = start, p = pte; addr !== end; addr += PAGE_SIZE, p++) {
    const ptent = yield* ptepGet(p);
    if (getPtePfn(ptent) < 0) continue;
    // ptep_clear_young_notify() → ptep_test_and_clear_young(): the young bit, under the PTE lock.
    if (!pteYoung(ptent) || !(yield* ptepTestAndClearYoung(p))) continue;
    walk.young++;
  }
}

/** get_pte_pfn(): -1 for what the walk skips (not present, the zero page, special, old). */
function getPtePfn(pte: Pte): number {
  if (!ptePresent(pte) || ptePfn(pte) === current.k.mem.zeroPfn) return -1;
  if (pteSpecial(pte)) return -1;
  if (!pteYoung(pte)) return -1; // no mmu notifiers in the model
  return ptePfn(pte);
}
