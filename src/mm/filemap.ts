/**
 * The page cache and file faults (mm/filemap.c: filemap_fault(), filemap_map_pages(),
 * filemap_map_pmd(), next_uptodate_folio(); mm/memory.c: do_set_pmd()). The page cache of a file
 * is a sparse index → pfn store (xarray.ts; modelled coarsely: no readahead, no writeback). A
 * regular file's pages are all in the cache from its creation, as after writing it; the model
 * makes each 2 MiB block of them when it is first looked up, with the folios the writes made, so
 * that a large file costs only the blocks a script uses (issue 15, D2).
 */
import { alignDown, HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE, type Pfn } from './const.js';
import { current } from './current.js';
import { pmdInstall } from './memory/pgalloc.js';
import {
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_ORIG_PTE_VALID,
  FAULT_FLAG_TRIED,
  FAULT_FLAG_VMA_LOCK,
  FAULT_FLAG_WRITE,
  VM_FAULT_FALLBACK,
  VM_FAULT_LOCKED,
  VM_FAULT_MAJOR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_LOCKED,
  VM_WRITE,
  type AddressSpace,
  type Vma,
  type VmFault,
} from './mm_types.js';
import { PG_dirty, PG_uptodate } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteOffsetMapRoNolock, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, mkHugePmd, pmdNone, pmdTransHuge, pteNone } from './pgtable_types.js';
import { folioLock, folioTrylock, folioUnlock, ptepGet, rcuReadLock, rcuReadUnlock, setPte, spinLock, spinUnlock, type KGen } from './primitives.js';
import { pmdLockptr } from './ptlock.js';
import { folioAddFileRmapPmd } from './rmap.js';
import { addMmCounter, folioPutRefs, folioRefAdd, mmCounter, touchFolio } from './swap.js';
import { thpVmaSuitablePmd, vmaThpDisabled, setPteRange, vmaPageProt } from './internal.js';
import { doSyncMmapReadahead } from './readahead.js';
import { addFileFolio, touchMapping } from './page_cache.js';

/**
 * filemap_get_entry(): the page-cache page at index (0 = hole); i_size is the caller's check (a
 * shmem folio may reach past it). A regular file's block is cached on its first lookup.
 */
export function pageCacheLookup(mapping: AddressSpace, index: number): Pfn {
  const fill = mapping.kind === 'file' && index < mapping.sizePages && !mapping.pages.touched(index);
  touchMapping(mapping, fill);
  if (fill) fileFillAsWritten(mapping, index);
  return mapping.pages.load(index) as Pfn;
}

/**
 * The folio (head) the page cache holds at index, 0 for none, read without scheduling points and
 * without filling the cache: how writeback (writeback_get_folio()) and reclaim's LRU meet a
 * page-cache folio, mapped or not. The read of the cache is recorded.
 */
export function peekPageCacheFolio(mapping: AddressSpace, index: number): Pfn | 0 {
  touchMapping(mapping, false);
  const pfn = mapping.pages.load(index);
  return pfn ? current.k.mem.folioHead(pfn as Pfn) : 0;
}

/**
 * The 2 MiB block of a regular file around index, cached as its creator's write() calls left it:
 * folios of the writes' size, clean. Stops at the first allocation that fails (the fault then
 * reads the page itself, or ends in VM_FAULT_OOM).
 */
function fileFillAsWritten(mapping: AddressSpace, index: number): void {
  const end = Math.min(alignDown(index, HPAGE_PMD_NR) + HPAGE_PMD_NR, mapping.sizePages);
  for (let i = alignDown(index, HPAGE_PMD_NR); i < end; ) {
    const huge = mapping.writeOrder === HPAGE_PMD_ORDER && i % HPAGE_PMD_NR === 0 && i + HPAGE_PMD_NR <= mapping.sizePages;
    const order = huge ? HPAGE_PMD_ORDER : 0;
    if (!addFileFolio(mapping, i, order)) return;
    i += 1 << order;
  }
}

/** filemap_fault(): find (or read) the page, return it locked and referenced. */
export function* filemapFault(vmf: VmFault): KGen<number> {
  const mapping = vmf.vma.file!;
  const mem = current.k.mem;
  if (vmf.pgoff >= mapping.sizePages) return VM_FAULT_SIGBUS;
  let missed = false; // the first lookup found no folio: retry_find skips the recheck
  for (;;) {
    // retry_find:
    let page = pageCacheLookup(mapping, vmf.pgoff);
    if (!page) {
      if (!missed) {
        const ret = yield* filemapFaultRecheckPteNone(vmf);
        if (ret) return ret;
        missed = true;
        // maybe_unlock_mmap_for_io(): a first attempt gives its fault lock up for the I/O (when
        // readahead reads at all), and once the folio is read the fault is retried (out_retry),
        // now finding it cached. The model gives up only the per-VMA lock (the fault falls back
        // to the mmap_lock, which fault-arounds the pages just read); under the mmap_lock (GUP,
        // the fallback) it reads with the lock held and goes on, as the model's faults never drop
        // the mmap_lock (gup.ts).
        const dropLock = (vmf.flags & (FAULT_FLAG_VMA_LOCK | FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_TRIED)) === (FAULT_FLAG_VMA_LOCK | FAULT_FLAG_ALLOW_RETRY);
        if (doSyncMmapReadahead(vmf) && dropLock) return VM_FAULT_RETRY | VM_FAULT_MAJOR;
      }
      // __filemap_get_folio(FGP_CREAT): what readahead did not read (no memory) is read here.
      page = pageCacheLookup(mapping, vmf.pgoff);
      if (!page) {
        if (!addFileFolio(mapping, vmf.pgoff, 0)) return VM_FAULT_OOM;
        page = pageCacheLookup(mapping, vmf.pgoff);
      }
    }
    // Did it get truncated?
    if (!(yield* folioGetLockIfMapped(mapping, mem.folioHead(page)))) continue;
    vmf.page = page;
    return VM_FAULT_LOCKED;
  }
}

/**
 * filemap_fault_recheck_pte_none() (mm/filemap.c, 6.18): a page-cache miss in a VM_LOCKED VMA
 * whose fault saw a none PTE rechecks it, first with no lock and then under the PTE lock, before
 * it reads the page: a PTE cleared only for a moment (do_numa_page(), change_pte_range()) must not
 * cost a major fault in an mlocked region. VM_FAULT_NOPAGE retries the fault. The table is mapped
 * with pte_offset_map_ro_nolock() and its lock taken with no pmd_same(): the table may have been
 * detached by reclaim meanwhile (then it reads none; its lock lives until the grace period ends,
 * which the RCU read section holds off), and the miss goes on to read the page (docs/audit.md #8).
 */
function* filemapFaultRecheckPteNone(vmf: VmFault): KGen<number> {
  if (!(vmf.vma.flags & VM_LOCKED)) return 0;
  if (!(vmf.flags & FAULT_FLAG_ORIG_PTE_VALID)) return 0;
  const out = new PteMapOut();
  const ptep = yield* pteOffsetMapRoNolock(vmf.vma.mm, vmf.pmd, vmf.address, out);
  if (ptep < 0) return VM_FAULT_NOPAGE;
  let ret = 0;
  if (!pteNone(yield* ptepGet(ptep))) {
    ret = VM_FAULT_NOPAGE;
  } else {
    yield* spinLock(out.ptl);
    if (!pteNone(yield* ptepGet(ptep))) ret = VM_FAULT_NOPAGE;
    yield* spinUnlock(out.ptl);
  }
  yield* pteUnmap(ptep);
  return ret;
}

/**
 * Whether the VMA's vm_ops have ->page_mkwrite(): a regular file's do (ext4_page_mkwrite() on this
 * machine's /tmp; the model follows the generic filemap_page_mkwrite()), shmem's do not
 * (shmem_vm_ops). It decides whether a write fault on a read-only shared PTE drops the PTE lock
 * (wp_page_shared(), memory/mkwrite.ts).
 */
export function vmaHasPageMkwrite(vma: Vma): boolean {
  return vma.file !== null && vma.file.kind === 'file';
}

/**
 * filemap_page_mkwrite() (mm/filemap.c, 6.18), called with no PTE lock and the folio unlocked:
 * lock the folio; one truncated (or replaced by collapse_file()) meanwhile no longer belongs to
 * the mapping and the fault is retried (VM_FAULT_NOPAGE); else mark it dirty and return it locked.
 */
export function* filemapPageMkwrite(vmf: VmFault): KGen<number> {
  const mem = current.k.mem;
  const head = mem.folioHead(vmf.page as Pfn);
  yield* folioLock(head);
  if (mem.mapping[head] !== vmf.vma.file!.id) {
    yield* folioUnlock(head);
    return VM_FAULT_NOPAGE;
  }
  touchFolio(head, true);
  mem.setFlags(head, PG_dirty); // folio_mark_dirty()
  return VM_FAULT_LOCKED;
}

/**
 * The faults' folio_get() + folio_lock(), then the recheck both filemap_fault() and
 * shmem_get_folio_gfp() make under the lock (6.18): a folio truncated, or replaced by
 * collapse_file() (which clears the old folios' mapping before unlocking them), no longer belongs
 * to the mapping. Then the lock and the reference are dropped and the caller looks again.
 */
export function* folioGetLockIfMapped(mapping: AddressSpace, head: Pfn): KGen<boolean> {
  const mem = current.k.mem;
  folioRefAdd(head, 1);
  yield* folioLock(head);
  if (mem.mapping[head] === mapping.id) return true;
  yield* folioUnlock(head);
  folioPutRefs(head, 1);
  return false;
}

/**
 * do_set_pmd(): map a PMD-size page-cache folio with one huge PMD (no deposit on x86). The
 * caller's folio reference becomes the mapping's. Refused when THP is disabled for the VMA
 * (MADV_NOHUGEPAGE), the block does not fit the VMA, or the folio is not PMD-size.
 */
export function* doSetPmd(vmf: VmFault, head: Pfn, _page: Pfn): KGen<number> {
  const vma = vmf.vma;
  const mem = current.k.mem;
  const haddr = alignDown(vmf.address, PMD_SIZE);
  if (vmaThpDisabled(vma)) return VM_FAULT_FALLBACK;
  if (!thpVmaSuitablePmd(vma, haddr)) return VM_FAULT_FALLBACK;
  if (mem.order[head] !== HPAGE_PMD_ORDER) return VM_FAULT_FALLBACK;
  const pml = pmdLockptr(vma.mm, vmf.pmd);
  yield* spinLock(pml);
  if (!pmdNone(yield* ptepGet(vmf.pmd))) {
    yield* spinUnlock(pml);
    return VM_FAULT_FALLBACK;
  }
  // folio_mk_pmd(folio, vma->vm_page_prot): a shared writable mapping without writenotify
  // (shmem) maps it writable even for a read fault; a write makes it dirty (maybe_pmd_mkwrite()).
  let flags = vmaPageProt(vma) | _PAGE_ACCESSED;
  if (vmf.flags & FAULT_FLAG_WRITE) {
    flags |= _PAGE_DIRTY;
    if (vma.flags & VM_WRITE) flags |= _PAGE_RW;
  }
  addMmCounter(vma.mm, mmCounter(head), HPAGE_PMD_NR);
  folioAddFileRmapPmd(head, vma.mm);
  yield* setPte(vmf.pmd, mkHugePmd(head, flags));
  yield* spinUnlock(pml);
  return 0;
}

/**
 * next_uptodate_folio(): the next folio in [index, end] that is uptodate and can be trylocked,
 * with a reference taken; 0 when none is left. As in the kernel, the reference comes first
 * (folio_try_get() under RCU, then a reload of the slot: the folio is still the one cached there),
 * then the trylock, then the mapping check: a folio that collapse_file() or truncation took out of
 * the cache while this path waited is skipped, never mapped.
 */
function* nextUptodateFolio(mapping: AddressSpace, from: { index: number }, end: number): KGen<Pfn> {
  const mem = current.k.mem;
  while (from.index <= end) {
    const page = pageCacheLookup(mapping, from.index);
    if (!page) {
      from.index++;
      continue;
    }
    const head = mem.folioHead(page);
    const folioEnd = mem.index[head] + mem.folioNr(head);
    folioRefAdd(head, 1); // folio_try_get(): the cache's reference keeps it above zero here
    if (!mem.testFlags(head, PG_uptodate)) {
      folioPutRefs(head, 1); // skip:
      from.index = folioEnd;
      continue;
    }
    if (!(yield* folioTrylock(head))) {
      folioPutRefs(head, 1);
      from.index = folioEnd;
      continue;
    }
    if (mem.mapping[head] !== mapping.id) {
      yield* folioUnlock(head); // unlock: (removed from the cache meanwhile)
      folioPutRefs(head, 1);
      from.index = folioEnd;
      continue;
    }
    return head;
  }
  return 0 as Pfn;
}

/**
 * filemap_map_pages(): fault-around. Maps, without sleeping, the uptodate pages of
 * [startPgoff, endPgoff] that it can trylock. Installs the preallocated table even when it ends
 * up mapping nothing (an empty PTE table; docs/kernel-rules.md, "Faults"), except when the first folio found ends at
 * i_size: then a regular file's fault-around maps nothing, not even a table (no PMD mapping
 * across i_size, to keep SIGBUS semantics; shmem is exempt).
 */
export function* vmaMapPages(vmf: VmFault, startPgoff: number, endPgoff: number): KGen<number> {
  const vma = vmf.vma;
  const mm = vma.mm;
  const mapping = vma.file!;
  const mem = current.k.mem;
  const shmem = mapping.kind === 'shmem';
  let ret = 0;
  yield* rcuReadLock();
  const it = { index: startPgoff };
  let folio = yield* nextUptodateFolio(mapping, it, endPgoff);
  if (!folio) {
    yield* rcuReadUnlock();
    return 0;
  }
  const fileEnd = mapping.sizePages - 1;
  if (endPgoff > fileEnd) endPgoff = fileEnd;
  const folioNextIndex = (f: Pfn) => mem.index[f] + mem.folioNr(f);
  if ((fileEnd >= folioNextIndex(folio) || shmem) && (yield* filemapMapPmd(vmf, folio, startPgoff))) {
    yield* rcuReadUnlock();
    return VM_FAULT_NOPAGE;
  }
  const addr0 = vma.start + (startPgoff - vma.pgoff) * PAGE_SIZE;
  const out = new PteMapOut();
  const pte0 = yield* pteOffsetMapLock(mm, vmf.pmd, addr0, out);
  if (pte0 < 0) {
    yield* folioUnlock(folio);
    folioPutRefs(folio, 1);
    yield* rcuReadUnlock();
    return 0;
  }
  let rss = 0;
  const type = mmCounter(folio);
  do {
    const folioIndex = mem.index[folio];
    // filemap_map_order0_folio() / filemap_map_folio_range(): the part of the folio inside the
    // window, or, since v6.18 ("map entire large folio faultaround"), the whole large folio when
    // it lies before i_size (or is shmem), inside the VMA, and inside one PTE table.
    let from = it.index;
    let last = Math.min(folioNextIndex(folio) - 1, endPgoff);
    if (mem.order[folio] > 0) {
      const folioAddr = vma.start + (folioIndex - vma.pgoff) * PAGE_SIZE;
      const size = mem.folioNr(folio) * PAGE_SIZE;
      if (
        (fileEnd >= folioNextIndex(folio) || shmem) &&
        folioWithinVma(folioIndex, size, vma) &&
        alignDown(folioAddr, PMD_SIZE) === alignDown(folioAddr + size - 1, PMD_SIZE)
      ) {
        from = folioIndex;
        last = folioNextIndex(folio) - 1;
      }
    }
    for (let idx = from; idx <= last; idx++) {
      const addr = vma.start + (idx - vma.pgoff) * PAGE_SIZE;
      const ptep = pte0 + (idx - startPgoff);
      if (!pteNone(yield* ptepGet(ptep))) continue;
      if (addr === vmf.address) ret = VM_FAULT_NOPAGE;
      folioRefAdd(folio, 1);
      yield* setPteRange(vmf, (folio + (idx - folioIndex)) as Pfn, 1, addr, ptep);
      rss++;
    }
    it.index = folioNextIndex(folio);
    yield* folioUnlock(folio);
    folioPutRefs(folio, 1);
    folio = yield* nextUptodateFolio(mapping, it, endPgoff);
  } while (folio);
  addMmCounter(mm, type, rss);
  yield* pteUnmapUnlock(pte0, out.ptl);
  yield* rcuReadUnlock();
  return ret;
}

/** folio_within_vma() → folio_within_range(): the folio's pages all lie inside the VMA. */
function folioWithinVma(folioIndex: number, size: number, vma: VmFault['vma']): boolean {
  const pages = (vma.end - vma.start) / PAGE_SIZE;
  if (folioIndex < vma.pgoff || folioIndex >= vma.pgoff + pages) return false;
  const addr = vma.start + (folioIndex - vma.pgoff) * PAGE_SIZE;
  return !(addr < vma.start || vma.end - addr < size);
}

/** filemap_map_pmd(): a PMD-size folio maps by PMD; otherwise install the preallocated table. */
function* filemapMapPmd(vmf: VmFault, folio: Pfn, start: number): KGen<boolean> {
  const mm = vmf.vma.mm;
  const v = yield* ptepGet(vmf.pmd);
  if (pmdTransHuge(v)) {
    yield* folioUnlock(folio);
    folioPutRefs(folio, 1);
    return true;
  }
  const mem = current.k.mem;
  if (pmdNone(v) && mem.order[folio] === HPAGE_PMD_ORDER) {
    const page = (folio + (start - mem.index[folio])) as Pfn;
    if ((yield* doSetPmd(vmf, folio, page)) === 0) {
      yield* folioUnlock(folio); // the reference is now the mapping's
      return true;
    }
  }
  if (pmdNone(yield* ptepGet(vmf.pmd)) && vmf.preallocPte) {
    vmf.preallocPte = yield* pmdInstall(mm, vmf.pmd, vmf.preallocPte);
  }
  return false;
}
