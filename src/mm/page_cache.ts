/**
 * The page cache's entries as the model changes them: inserting a folio (mm/filemap.c
 * __filemap_add_folio()), a regular file's folio read from disk, and the explorer's dependency
 * object of a file's cache. Kept apart from filemap.ts so that readahead.ts and the other writers
 * of the cache (shmem, khugepaged, migration, split) need not import the fault path.
 */
import { type Pfn } from './const.js';
import { current } from './current.js';
import type { AddressSpace } from './mm_types.js';
import { obj, OBJ } from './objects.js';
import { PG_has_data, PG_uptodate, PT_FILE } from './page_alloc.js';

/**
 * The running step reads or writes mapping's page cache: two paths that look up and replace the
 * same file's pages (a fault and a collapse, two collapses) do not commute (src/mm/objects.ts).
 */
export function touchMapping(mapping: AddressSpace, write: boolean): void {
  current.k.rec.touch(obj(OBJ.mapping, mapping.id), write);
}

/**
 * __filemap_add_folio(): insert a folio; the cache holds one reference. A shmem folio may reach
 * past i_size (a huge folio of a grown anonymous shared mapping): the sparse index holds it.
 */
export function filemapAddFolio(mapping: AddressSpace, head: Pfn, index: number): void {
  const mem = current.k.mem;
  const nr = mem.folioNr(head);
  touchMapping(mapping, true);
  for (let i = 0; i < nr; i++) {
    mapping.pages.store(index + i, head + i);
    mem.mapping[head + i] = mapping.id;
    mem.index[head + i] = index + i;
  }
  mapping.nrpages += nr;
}

/**
 * A new folio of `order` at index holding the file's data as written (uptodate, not zeros), added
 * to the page cache; false when it cannot be allocated.
 */
export function addFileFolio(mapping: AddressSpace, index: number, order: number): boolean {
  const mem = current.k.mem;
  const head = mem.allocPages(order, PT_FILE);
  if (head < 0) return false;
  mem.setFlags(head, PG_uptodate);
  for (let j = 0; j < 1 << order; j++) mem.setFlags(head + j, PG_has_data); // written: not zeros
  filemapAddFolio(mapping, head, index);
  return true;
}
