/**
 * Populating the upper levels (mm/memory.c: __pud_alloc(), __pmd_alloc(), __pte_alloc(),
 * pmd_install()); the walk from an address to a slot is in pgtable_mm.ts.
 *
 * Entry pointers are numbers (table id * 512 + index, see pgtable.ts); 0 means "no such slot".
 */
import {
  LEVEL_PMD,
  LEVEL_PTE,
  LEVEL_PUD,
  alignDown,
  PGDIR_SIZE,
  PMD_SIZE,
  PUD_SIZE,
  pgdIndex,
  pmdIndex,
  pudIndex,
  type Pfn,
  type Vaddr,
} from '../const.js';
import { current } from '../current.js';
import { obj, OBJ } from '../objects.js';
import type { MmStruct } from '../mm_types.js';
import { entryPtr, slotOf, T_FREED, T_LINKED, tidOf } from '../pgtable.js';
import { mkTableEntry, pmdIsTable, pmdNone, pmdPfn, ptePfn, ptePresent } from '../pgtable_types.js';
import { ptepGet, setPte, spinLock, spinUnlock, type KGen } from '../primitives.js';
import { mmLockHandle, pmdLockptr } from '../ptlock.js';
import { flushTlbFixPending } from '../mmu_gather.js';
import { mmIncNrPtes, pgdOffset, pudOffset, pmdOffset, pteOffset } from '../pgtable_mm.js';

/** pte_alloc_one() / pmd_alloc_one() / pud_alloc_one(): may sleep; 0 on failure. */
export function pgtableAlloc(mm: MmStruct, level: number, addr: Vaddr): number {
  const span = level === LEVEL_PTE ? PMD_SIZE : level === LEVEL_PMD ? PUD_SIZE : PGDIR_SIZE;
  return current.k.pt.alloc(level, mm.id, alignDown(addr, span));
}

/** pte_free() of a table that was never made visible: immediate, always safe (docs/kernel-rules.md, "Table freeing"). */
export function pteFree(tid: number): void {
  current.k.pt.free(tid);
}

/**
 * __pud_alloc() / __pmd_alloc(): install a new upper-level table under page_table_lock (the PUD
 * lock is mm->page_table_lock on x86), unless someone else did meanwhile.
 */
function* upperAlloc(mm: MmStruct, slot: number, level: number, addr: Vaddr): KGen<number> {
  const nw = pgtableAlloc(mm, level, addr);
  if (!nw) return -1;
  const ptl = mmLockHandle(mm);
  yield* spinLock(ptl);
  const v = yield* ptepGet(slot);
  if (pmdNone(v)) {
    mmIncNrPtes(mm); // mm_inc_nr_pmds() / mm_inc_nr_puds(): the same 4096 bytes of pgtables_bytes
    current.k.pt.setState(nw, T_LINKED);
    yield* setPte(slot, mkTableEntry(current.k.pt.pfnOf(nw)));
  } else {
    pteFree(nw);
  }
  yield* spinUnlock(ptl);
  return 0;
}

/** pud_alloc(): the PUD slot for addr, allocating the PUD table if needed; 0 on OOM. */
export function* pudAlloc(mm: MmStruct, addr: Vaddr): KGen<number> {
  const pgdp = pgdOffset(mm, addr);
  let v = yield* ptepGet(pgdp);
  if (pmdNone(v)) {
    if ((yield* upperAlloc(mm, pgdp, LEVEL_PUD, addr)) < 0) return 0;
    v = yield* ptepGet(pgdp);
  }
  return pudOffset(v, addr);
}

/** pmd_alloc(): the PMD slot for addr; 0 on OOM. */
export function* pmdAlloc(mm: MmStruct, pudp: number, addr: Vaddr): KGen<number> {
  let v = yield* ptepGet(pudp);
  if (pmdNone(v)) {
    if ((yield* upperAlloc(mm, pudp, LEVEL_PMD, addr)) < 0) return 0;
    v = yield* ptepGet(pudp);
  }
  return pmdOffset(v, addr);
}

/**
 * mm/memory.c: pmd_install(). Publish a new PTE table in an empty PMD slot under the PMD lock;
 * returns the table id back when it was not used (someone installed a table or a huge PMD first),
 * 0 when it was consumed.
 */
export function* pmdInstall(mm: MmStruct, pmdp: number, nw: number): KGen<number> {
  const pml = pmdLockptr(mm, pmdp);
  yield* flushTlbFixPending(mm, alignDown(current.k.pt.addr[nw], PMD_SIZE)); // R8 remedy, off by default
  yield* spinLock(pml);
  const v = yield* ptepGet(pmdp);
  if (pmdNone(v)) {
    mmIncNrPtes(mm);
    // smp_wmb(): the table's contents and lock are initialised before it is visible.
    current.k.pt.setState(nw, T_LINKED);
    yield* setPte(pmdp, mkTableEntry(current.k.pt.pfnOf(nw)));
    nw = 0;
  }
  yield* spinUnlock(pml);
  return nw;
}

/** __pte_alloc(): allocate a table and pmd_install() it; false on OOM. */
export function* pteAllocSlow(mm: MmStruct, pmdp: number, addr: Vaddr): KGen<boolean> {
  const nw = pgtableAlloc(mm, LEVEL_PTE, addr);
  if (!nw) return false;
  const unused = yield* pmdInstall(mm, pmdp, nw);
  if (unused) pteFree(unused);
  return true;
}

/**
 * pte_alloc(): ensure the PMD slot holds something. Succeeds even if a huge PMD or another
 * thread's table got there first (spec H8).
 */
export function* pteAlloc(mm: MmStruct, pmdp: number, addr: Vaddr): KGen<boolean> {
  const v = yield* ptepGet(pmdp);
  if (!pmdNone(v)) return true;
  return yield* pteAllocSlow(mm, pmdp, addr);
}

/**
 * The folio a present PTE maps at addr (0 for none, no table, a huge PMD, or the shared zero page,
 * which is on no LRU), read without scheduling points: what a path that finds folios by pfn
 * (reclaim's or compaction's scan of the LRU) would pick up there. The running step reads the
 * slots on the way (objects.ts), so that what it finds is ordered with the steps that change them.
 */
export function peekMappedFolio(mm: MmStruct, addr: Vaddr): Pfn | 0 {
  const k = current.k;
  const read = (ptr: number): number => {
    k.rec.touch(obj(OBJ.entry, ptr), false);
    return k.pt.peek(tidOf(ptr), slotOf(ptr));
  };
  const pgdv = read(pgdOffset(mm, addr));
  if (pgdv === 0) return 0;
  const pudv = read(pudOffset(pgdv, addr));
  if (pudv === 0 || !pmdIsTable(pudv)) return 0;
  const pmdv = read(pmdOffset(pudv, addr));
  if (!pmdIsTable(pmdv)) return 0;
  const pte = read(pteOffset(pmdv, addr));
  if (!ptePresent(pte) || ptePfn(pte) === k.mem.zeroPfn) return 0;
  return k.mem.folioHead(ptePfn(pte));
}

export function peekPmdSlot(mm: MmStruct, addr: Vaddr): number {
  const pt = current.k.pt;
  const pgdv = pt.peek(mm.pgd, pgdIndex(addr));
  if (pgdv === 0) return 0;
  const pud = pt.tidOfPfn(pmdPfn(pgdv));
  const pudv = pt.peek(pud, pudIndex(addr));
  if (pudv === 0) return 0;
  const pmd = pt.tidOfPfn(pmdPfn(pudv));
  if (!pmd || pt.state[pmd] === T_FREED) return 0;
  return entryPtr(pmd, pmdIndex(addr));
}
