/**
 * Freeing page tables when VMAs go away (mm/memory.c: free_pgtables(), free_pgd_range(),
 * free_pud_range(), free_pmd_range(), free_pte_range(); docs/kernel-rules.md, "free_pgtables()"). A table is freed only if its
 * whole span is free of other VMAs: floor and ceiling come from the neighbouring VMAs.
 */
import { alignDown, addrEnd, PGDIR_SIZE, PMD_SIZE, PUD_SIZE, type Vaddr } from '../const.js';
import { current } from '../current.js';
import type { Vma } from '../mm_types.js';
import { pmdFreeTlb, pteFreeTlb, type MmuGather } from '../mmu_gather.js';
import { T_DETACHED } from '../pgtable.js';
import { pmdIsTable, pmdNone } from '../pgtable_types.js';
import { downWrite, ptepGet, setPte, upWrite, type KGen } from '../primitives.js';
import { unlinkFileVma } from '../vma.js';
import { mmDecNrPtes, pgdOffset, pmdOffset, pudOffset, tableOf } from '../pgtable_mm.js';

/** `ceiling - 1` with ceiling 0 meaning the top of the address space (unsigned wrap in C). */
const top = (ceiling: number): number => (ceiling === 0 ? 2 ** 64 : ceiling);

/**
 * free_pgtables(): for each run of VMAs closer than PMD_SIZE to each other, hide them from rmap
 * walkers first (unlink_file_vma()), then free the page tables of their range.
 */
export function* freePgtables(tlb: MmuGather, vmas: readonly Vma[], floor: Vaddr, ceiling: Vaddr): KGen<void> {
  let i = 0;
  while (i < vmas.length) {
    let vma = vmas[i];
    const addr = vma.start;
    yield* unlinkFileVmaLocked(vma);
    // Gather nearby VMAs into one call down.
    while (i + 1 < vmas.length && vmas[i + 1].start <= vma.end + PMD_SIZE) {
      vma = vmas[++i];
      yield* unlinkFileVmaLocked(vma);
    }
    const next = i + 1 < vmas.length ? vmas[i + 1].start : ceiling;
    yield* freePgdRange(tlb, addr, vma.end, floor, next);
    i++;
  }
}

/** unlink_file_vma_batch_add() + _final(): out of i_mmap, under i_mmap_rwsem for write. */
function* unlinkFileVmaLocked(vma: Vma): KGen<void> {
  if (!vma.file) return;
  yield* downWrite(vma.file.iMmapRwsem);
  unlinkFileVma(vma);
  yield* upWrite(vma.file.iMmapRwsem);
}

/** free_pgd_range(). */
export function* freePgdRange(tlb: MmuGather, addr: Vaddr, end: Vaddr, floor: Vaddr, ceiling: Vaddr): KGen<void> {
  addr = alignDown(addr, PMD_SIZE);
  if (addr < floor) addr += PMD_SIZE;
  if (ceiling) {
    ceiling = alignDown(ceiling, PMD_SIZE);
    if (!ceiling) return;
  }
  if (end - 1 > top(ceiling) - 1) end -= PMD_SIZE;
  if (addr > end - 1) return;
  const mm = tlb.mm;
  do {
    const next = addrEnd(addr, end, PGDIR_SIZE);
    const pgdp = pgdOffset(mm, addr);
    const pgdv = yield* ptepGet(pgdp);
    if (!pmdNone(pgdv)) yield* freePudRange(tlb, pgdp, pgdv, addr, next, floor, ceiling);
    addr = next;
  } while (addr !== end);
}

/** free_p4d_range() is folded; free_pud_range() frees the PUD table when its 512 GiB is free. */
function* freePudRange(tlb: MmuGather, pgdp: number, pgdv: number, addr: Vaddr, end: Vaddr, floor: Vaddr, ceiling: Vaddr): KGen<void> {
  let start = addr;
  do {
    const next = addrEnd(addr, end, PUD_SIZE);
    const pudp = pudOffset(pgdv, addr);
    const pudv = yield* ptepGet(pudp);
    if (!pmdNone(pudv)) yield* freePmdRange(tlb, pudp, pudv, addr, next, floor, ceiling);
    addr = next;
  } while (addr !== end);
  start = alignDown(start, PGDIR_SIZE);
  if (start < floor) return;
  if (ceiling) {
    ceiling = alignDown(ceiling, PGDIR_SIZE);
    if (!ceiling) return;
  }
  if (end - 1 > top(ceiling) - 1) return;
  yield* setPte(pgdp, 0); // p4d_clear()
  yield* freeUpperTable(tlb, pgdv, start);
}

/** free_pmd_range(): free the PTE tables, then the PMD table when its 1 GiB is free. */
function* freePmdRange(tlb: MmuGather, pudp: number, pudv: number, addr: Vaddr, end: Vaddr, floor: Vaddr, ceiling: Vaddr): KGen<void> {
  let start = addr;
  do {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = pmdOffset(pudv, addr);
    const v = yield* ptepGet(pmdp);
    if (pmdIsTable(v)) yield* freePteRange(tlb, pmdp, v, addr);
    addr = next;
  } while (addr !== end);
  start = alignDown(start, PUD_SIZE);
  if (start < floor) return;
  if (ceiling) {
    ceiling = alignDown(ceiling, PUD_SIZE);
    if (!ceiling) return;
  }
  if (end - 1 > top(ceiling) - 1) return;
  yield* setPte(pudp, 0); // pud_clear()
  yield* freeUpperTable(tlb, pudv, start);
}

/**
 * free_pte_range(): clear the PMD without any lock (the VMA is gone from the tree and from rmap,
 * so nobody can reach the table any more) and queue the table. The table need not be empty by a
 * scan: the zap already ran (docs/kernel-rules.md, "Lockless access": the exception to the detach-only-empty rule).
 */
function* freePteRange(tlb: MmuGather, pmdp: number, pmdval: number, addr: Vaddr): KGen<void> {
  const k = current.k;
  const tid = tableOf(pmdval);
  yield* setPte(pmdp, 0); // pmd_clear()
  k.pt.setState(tid, T_DETACHED);
  yield* pteFreeTlb(tlb, tid, addr);
  mmDecNrPtes(tlb.mm);
  k.stats.pteTablesFreedByMunmap++;
  tlb.mm.stats.pteTablesFreedByMunmap++;
}

/** pmd_free_tlb() / pud_free_tlb() + mm_dec_nr_pmds() / mm_dec_nr_puds(). */
function* freeUpperTable(tlb: MmuGather, entry: number, start: Vaddr): KGen<void> {
  const tid = tableOf(entry);
  current.k.pt.setState(tid, T_DETACHED);
  yield* pmdFreeTlb(tlb, tid, start);
  mmDecNrPtes(tlb.mm);
}
