/**
 * Folio references (mm/swap.c: folio_put(), folios_put_refs(); include/linux/mm.h: folio_get())
 * and the mm's RSS counters (include/linux/mm.h: add_mm_counter(), mm_counter()), and which file
 * a folio belongs to (mm/util.c: folio_mapping()).
 */
import { ModelBug } from './bug.js';
import { type Pfn } from './const.js';
import { current } from './current.js';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, type AddressSpace, type MmStruct } from './mm_types.js';
import { PT_ANON, PT_SHMEM, PT_ZERO } from './page_alloc.js';
import { obj, OBJ } from './objects.js';

/**
 * folio_mapping() (mm/util.c): the file whose page cache holds the folio; undefined for an
 * anonymous folio and for one taken out of the page cache (truncation, collapse).
 */
export function folioMapping(head: Pfn): AddressSpace | undefined {
  const k = current.k;
  if (k.mem.type[head] === PT_ANON) return undefined;
  const id = k.mem.mapping[head];
  return id < 0 ? undefined : k.files[id];
}

/**
 * A folio's counts were read or changed by the running step: its own dependency object for the
 * explorer (src/mm/objects.ts), since counts change in code between scheduling points.
 */
export function touchFolio(head: Pfn, write: boolean): void {
  current.k.rec.touch(obj(OBJ.page, head), write);
}

export function folioRefAdd(head: Pfn, n: number): void {
  touchFolio(head, true);
  current.k.mem.refcount[head] += n;
}

/** folios_put_refs() for one folio: drop n references; the last one frees the folio. */
export function folioPutRefs(head: Pfn, n: number): void {
  const mem = current.k.mem;
  if (mem.type[head] === PT_ZERO) return; // the zero pages are never freed
  touchFolio(head, true);
  const r = (mem.refcount[head] -= n);
  if (r < 0) throw new ModelBug(`folio ${head} refcount went negative (${r})`);
  if (r === 0) {
    if (mem.mapcount[head] !== 0 || mem.entireMapcount[head] !== 0) throw new ModelBug(`folio ${head} freed while mapped`);
    mem.freePages(head, mem.order[head]);
  }
}

/** mm_counter(): which RSS counter a folio is charged to. */
export function mmCounter(head: Pfn): number {
  const t = current.k.mem.type[head];
  if (t === PT_ANON) return MM_ANONPAGES;
  return t === PT_SHMEM ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** add_mm_counter(). */
export function addMmCounter(mm: MmStruct, member: number, value: number): void {
  mm.rss[member] += value;
}
