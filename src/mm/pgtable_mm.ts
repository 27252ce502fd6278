/**
 * An mm's page tables as every path reaches and counts them: from an address to a slot
 * (include/linux/pgtable.h: pgd_offset() and friends; mm/rmap.c: mm_find_pmd(), the descent every
 * walker of a PMD starts with) and the count of its tables (include/linux/mm.h:
 * mm_inc_nr_ptes()). Low in the module order: the allocation paths (memory/pgalloc.ts), the generic
 * helpers (pgtable_generic.ts), reclaim and the rmap walkers all use it (docs/architecture.md,
 * "Inside src/mm").
 *
 * Entry pointers are numbers (table id * 512 + index, see pgtable.ts); 0 means "no such slot".
 */
import { PAGE_SIZE, pgdIndex, pmdIndex, pteIndex, pudIndex, type Vaddr } from './const.js';
import { current } from './current.js';
import type { MmStruct } from './mm_types.js';
import { entryPtr } from './pgtable.js';
import { pmdIsTable, pmdNone, pmdPfn, type Pmd } from './pgtable_types.js';
import { ptepGet, type KGen } from './primitives.js';

/** pgd_offset() (P4D folded: the PGD slot is also the P4D slot). */
export function pgdOffset(mm: MmStruct, addr: Vaddr): number {
  return entryPtr(mm.pgd, pgdIndex(addr));
}

/** The table an upper-level entry value points to (pud_pgtable(), pmd_pgtable(), ...). */
export function tableOf(entry: number): number {
  return current.k.pt.tidOfPfn(pmdPfn(entry));
}

/** pud_offset(p4d_value, addr) given the value of the P4D (= PGD) entry. */
export function pudOffset(p4dval: number, addr: Vaddr): number {
  return entryPtr(tableOf(p4dval), pudIndex(addr));
}

export function pmdOffset(pudval: number, addr: Vaddr): number {
  return entryPtr(tableOf(pudval), pmdIndex(addr));
}

/** pte_offset of a PMD *value* that is a table: the entry pointer for addr. */
export function pteOffset(pmdval: Pmd, addr: Vaddr): number {
  return entryPtr(tableOf(pmdval), pteIndex(addr));
}

/** mm/rmap.c: mm_find_pmd(): the PMD slot for addr, or 0 if an upper level is absent. */
export function* mmFindPmd(mm: MmStruct, addr: Vaddr): KGen<number> {
  const pgdv = yield* ptepGet(pgdOffset(mm, addr));
  if (pmdNone(pgdv)) return 0;
  const pudv = yield* ptepGet(pudOffset(pgdv, addr));
  if (pmdNone(pudv) || !pmdIsTable(pudv)) return 0;
  return pmdOffset(pudv, addr);
}

/** mm_inc_nr_ptes() / mm_inc_nr_pmds() / mm_inc_nr_puds(): a table's 4096 bytes to pgtables_bytes each. */
export function mmIncNrPtes(mm: MmStruct): void {
  mm.pgtablesBytes += PAGE_SIZE;
}

export function mmDecNrPtes(mm: MmStruct): void {
  mm.pgtablesBytes -= PAGE_SIZE;
}
