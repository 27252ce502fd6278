/**
 * Reverse-map accounting of mapped pages (mm/rmap.c): per-page PTE mapcounts and per-folio PMD
 * ("entire") mapcounts. The anon_vma / i_mmap trees themselves are modelled only as far as
 * retract_page_tables() needs them (AddressSpace.iMmap); anon rmap walks are not modelled.
 */
import { type Pfn } from './const.js';
import { current } from './current.js';
import { PG_anon_exclusive } from './page_alloc.js';

/** folio_add_new_anon_rmap() for nr PTE mappings starting at page pfn (exclusive, as new). */
export function folioAddNewAnonRmapPtes(pfn: Pfn, nr: number): void {
  const mem = current.k.mem;
  for (let i = 0; i < nr; i++) {
    mem.mapcount[pfn + i]++;
    mem.flags[pfn + i] |= PG_anon_exclusive;
  }
}
/** folio_add_new_anon_rmap() with RMAP_LEVEL_PMD. */
export function folioAddNewAnonRmapPmd(head: Pfn): void {
  const mem = current.k.mem;
  mem.entireMapcount[head]++;
  mem.flags[head] |= PG_anon_exclusive;
}
/** folio_add_file_rmap_ptes(). */
export function folioAddFileRmapPtes(pfn: Pfn, nr: number): void {
  const mc = current.k.mem.mapcount;
  for (let i = 0; i < nr; i++) mc[pfn + i]++;
}
/** folio_add_file_rmap_pmd(). */
export function folioAddFileRmapPmd(head: Pfn): void {
  current.k.mem.entireMapcount[head]++;
}
/** folio_remove_rmap_ptes(). */
export function folioRemoveRmapPtes(pfn: Pfn, nr: number): void {
  const mem = current.k.mem;
  for (let i = 0; i < nr; i++) {
    if (--mem.mapcount[pfn + i] === 0) mem.flags[pfn + i] &= ~PG_anon_exclusive;
  }
}
/** folio_remove_rmap_pmd(). */
export function folioRemoveRmapPmd(head: Pfn): void {
  const mem = current.k.mem;
  if (--mem.entireMapcount[head] === 0) mem.flags[head] &= ~PG_anon_exclusive;
}
