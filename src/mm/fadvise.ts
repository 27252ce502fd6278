/**
 * posix_fadvise(POSIX_FADV_DONTNEED) (mm/fadvise.c generic_fadvise(), mm/truncate.c
 * mapping_try_invalidate() and mapping_evict_folio(), mm/filemap.c find_lock_entries(),
 * mm/vmscan.c remove_mapping(); 6.18): start writeback of the dirty pages of the range, then drop
 * from the page cache every folio of it that nothing maps, pins or dirties. It walks no page
 * table, but it empties the page cache under the PTEs that DONTNEED zapped, so that the next
 * fault on them misses the cache: the path where filemap_fault() rechecks the PTE of an mlocked
 * VMA without its lock first (filemap.ts filemapFaultRecheckPteNone(), docs/audit.md #8).
 *
 * Modelled: the writeback's I/O is still in flight when the invalidation meets the folios it
 * started (the folio is skipped, as find_lock_entries() skips a folio under writeback) and done
 * when the call returns, so that a dirty page survives one fadvise and goes with the next, as on
 * this machine (ext4 /tmp: a page dirtied by write() or through a mapping stayed in the cache
 * after the first call and was gone after a second, 5 of 5 runs). No per-CPU LRU caches:
 * lru_add_drain() has nothing to drain, and a failure is not retried after lru_add_drain_all().
 */
import { PAGE_SIZE, type Pfn } from './const.js';
import { current } from './current.js';
import type { AddressSpace } from './mm_types.js';
import { PG_dirty } from './page_alloc.js';
import { folioTrylock, folioUnlock, rcuReadLock, rcuReadUnlock, condResched, type KGen } from './primitives.js';
import { peekPageCacheFolio } from './filemap.js';
import { touchMapping } from './page_cache.js';
import { writebackFolio } from './page_writeback.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';

/** The advice values the model takes (include/uapi/linux/fadvise.h names). */
export const FADVICES = ['dontneed'] as const;
export type Fadvice = (typeof FADVICES)[number];

/** PAGEVEC_SIZE: the folios one find_lock_entries() batch holds (include/linux/pagevec.h). */
const PAGEVEC_SIZE = 31;

/**
 * The references the page cache holds on a folio in the model: one, whatever its size (the kernel
 * holds folio_nr_pages(); filemap.ts filemapAddFolio()), so the kernel's folio_nr_pages() in the
 * refcount checks below reads as this.
 */
const PAGE_CACHE_REFS = 1;

/**
 * generic_fadvise() for POSIX_FADV_DONTNEED of [offset, offset + len) of the file (len 0: to the
 * end). A shmem file's backing device is noop_backing_dev_info, for which the advice is ignored.
 * Returns 0 (the syscall's result: DONTNEED never fails once the arguments are valid); `out`
 * receives the pages evicted (mapping_try_invalidate()'s count, which the syscall drops).
 */
export function* genericFadvise(mapping: AddressSpace, offset: number, len: number, _advice: Fadvice, out?: { evicted: number }): KGen<number> {
  if (mapping.kind === 'shmem') return 0; // bdi == &noop_backing_dev_info: "ignore advice"
  const isize = mapping.sizePages * PAGE_SIZE;
  // endbyte, inclusive; len 0 means "as much as possible" (LLONG_MAX).
  const endbyte = len === 0 ? Number.MAX_SAFE_INTEGER : offset + len - 1;
  const underWriteback = yield* filemapFdatawriteRange(mapping, offset, endbyte);
  // First and last FULL page: partial pages are kept, except the last one of the file.
  const startIndex = Math.floor((offset + PAGE_SIZE - 1) / PAGE_SIZE);
  let endIndex = Math.floor(endbyte / PAGE_SIZE);
  if ((endbyte + 1) % PAGE_SIZE !== 0 && endbyte !== isize - 1) {
    if (endIndex === 0) return 0;
    endIndex--;
  }
  if (endIndex >= startIndex) {
    const evicted = yield* mappingTryInvalidate(mapping, startIndex, endIndex, underWriteback);
    if (out) out.evicted = evicted;
  }
  return 0;
}

/**
 * __filemap_fdatawrite_range(WB_SYNC_NONE): write back the dirty folios of the byte range
 * (page_writeback.ts writebackFolio(): folio_lock(), folio_clear_dirty_for_io()). Returns the
 * folios it started writeback on, which stay under writeback for the rest of the call.
 */
function* filemapFdatawriteRange(mapping: AddressSpace, start: number, endbyte: number): KGen<Set<Pfn>> {
  const started = new Set<Pfn>();
  const mem = current.k.mem;
  const last = Math.min(Math.floor(endbyte / PAGE_SIZE), mapping.sizePages - 1);
  for (let index = Math.floor(start / PAGE_SIZE); index >= 0 && index <= last; ) {
    // filemap_get_folios_tag(PAGECACHE_TAG_DIRTY) under RCU: a batch of dirty folios. The tag is
    // PG_dirty here (a shared write fault sets it, as folio_mark_dirty() tags the folio).
    const batch: Pfn[] = [];
    yield* rcuReadLock();
    touchMapping(mapping, false);
    let i = mapping.pages.findNext(index, last);
    for (; i >= 0 && batch.length < PAGEVEC_SIZE; i = index > last ? -1 : mapping.pages.findNext(index, last)) {
      const head = peekPageCacheFolio(mapping, i) as Pfn;
      touchFolio(head, false);
      if (mem.testFlags(head, PG_dirty)) batch.push(head);
      index = mem.index[head] + mem.folioNr(head);
    }
    if (i < 0) index = -1; // the range has no more pages
    yield* rcuReadUnlock();
    for (const head of batch) if ((yield* writebackFolio(head)) === 1) started.add(head);
  }
  return started;
}

/**
 * mapping_try_invalidate(): evict every folio of [start, end] (page indices, inclusive) that
 * mapping_evict_folio() lets go; returns how many pages went.
 */
function* mappingTryInvalidate(mapping: AddressSpace, start: number, end: number, underWriteback: ReadonlySet<Pfn>): KGen<number> {
  let index = start;
  let count = 0;
  for (;;) {
    const batch: Pfn[] = [];
    index = yield* findLockEntries(mapping, index, end, batch, underWriteback);
    if (batch.length === 0) return count;
    for (const head of batch) {
      const ret = mappingEvictFolio(mapping, head);
      yield* folioUnlock(head);
      // A folio that stays would be deactivate_file_folio()'d: the model keeps no LRU order.
      count += ret;
    }
    for (const head of batch) folioPutRefs(head, 1); // folio_batch_release(): frees an evicted folio
    yield* condResched();
  }
}

/**
 * find_lock_entries(): from index, the folios of [index, end] that lie wholly inside it, each
 * referenced and trylocked, still in this mapping and not under writeback, at most a batch.
 * Returns where the next call starts.
 */
function* findLockEntries(mapping: AddressSpace, index: number, end: number, batch: Pfn[], underWriteback: ReadonlySet<Pfn>): KGen<number> {
  const mem = current.k.mem;
  let start = index;
  yield* rcuReadLock();
  touchMapping(mapping, false);
  for (let i = mapping.pages.findNext(index, end); i >= 0 && batch.length < PAGEVEC_SIZE; ) {
    const head = peekPageCacheFolio(mapping, i) as Pfn;
    const base = mem.index[head];
    const nr = mem.folioNr(head);
    folioRefAdd(head, 1); // find_get_entry(): folio_try_get()
    // Omit a large folio that begins before the start or extends beyond the end.
    if (base < start || base + nr - 1 > end || !(yield* folioTrylock(head))) {
      folioPutRefs(head, 1);
    } else if (mem.mapping[head] !== mapping.id || underWriteback.has(head)) {
      yield* folioUnlock(head);
      folioPutRefs(head, 1);
    } else {
      start = base + nr;
      batch.push(head);
    }
    touchMapping(mapping, false);
    i = base + nr > end ? -1 : mapping.pages.findNext(base + nr, end);
  }
  yield* rcuReadUnlock();
  return start;
}

/**
 * mapping_evict_folio() of a locked, referenced folio: not if dirty, or if anything besides the
 * page cache and the caller holds a reference (a mapping, a pin, an isolation); then
 * remove_mapping(). Returns the pages evicted (0 or the folio's size).
 */
function mappingEvictFolio(mapping: AddressSpace, head: Pfn): number {
  const mem = current.k.mem;
  touchFolio(head, true);
  if (mem.mapping[head] !== mapping.id) return 0; // truncated before it was locked
  if (mem.testFlags(head, PG_dirty)) return 0;
  // The refcount is elevated if any page of the folio is mapped. No buffer heads (folio_has_private()).
  if (mem.refcount[head] > PAGE_CACHE_REFS + 1) return 0;
  return removeMapping(mapping, head);
}

/**
 * remove_mapping() → __remove_mapping() (mm/vmscan.c): under the xarray lock, freeze the refcount
 * at the page cache's references plus the caller's (a folio_try_get() meanwhile makes the freeze
 * fail), recheck dirty, __filemap_remove_folio(), then unfreeze to the caller's one reference.
 * No scheduling point inside: the checks above and these are one step of the model.
 */
function removeMapping(mapping: AddressSpace, head: Pfn): number {
  const mem = current.k.mem;
  if (mem.refcount[head] !== PAGE_CACHE_REFS + 1 || mem.testFlags(head, PG_dirty)) return 0;
  const nr = mem.folioNr(head);
  touchMapping(mapping, true);
  for (let i = 0; i < nr; i++) {
    mapping.pages.store(mem.index[head] + i, 0);
    mem.mapping[head + i] = -1; // folio->mapping = NULL
  }
  mapping.nrpages -= nr;
  mem.refcount[head] = 1; // folio_ref_unfreeze(folio, 1): the caller's reference
  return nr;
}
