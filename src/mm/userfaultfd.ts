/**
 * UFFDIO_MOVE for one anonymous page (mm/userfaultfd.c: move_pages(), move_pages_pte(),
 * is_pte_pages_stable(), move_present_pte()). The destination entry is expected to be none, and a
 * detached (reclaimed) table is all none: so besides pte_same() on both entries, the destination
 * PMD must be rechecked under the destination PTE lock (patch 02 of the series; guard
 * `uffd-move-dst-pmd-recheck`), or the page is moved into a table queued for freeing (race R4).
 *
 * Modelled coarsely (docs/model.md): only present, exclusive anonymous source pages; the VMAs are
 * held by mmap_lock (the kernel's fallback when it cannot read-lock both VMAs); no userfaultfd
 * registration is modelled; the folio and anon_vma locks are not taken.
 */
import { touchFolio } from './swap.js';
import { guardOn } from './config.js';
import { EAGAIN, EEXIST, EINVAL, ENOENT, PAGE_SHIFT, PAGE_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import { mmFindPmd, pmdAlloc, pteAlloc, pudAlloc } from './memory/pgalloc.js';
import type { MmStruct } from './mm_types.js';
import { PT_ANON } from './page_alloc.js';
import { PteMapOut, pteOffsetMapRwNolock, pteUnmap } from './pgtable_generic.js';
import { pmdIsTable, ptePfn, ptePresent, pteSpecial } from './pgtable_types.js';
import { downRead, flushTlbMmRange, ptepGet, ptepGetAndClear, setPte, spinLock, spinUnlock, upRead, type KGen } from './primitives.js';
import { vmaLookup } from './vma_tree.js';

/** Retries of one address after -EAGAIN before the model calls it a livelock. */
const MAX_AGAIN = 16;

/** move_pages() for a single page: returns 0 or a negative errno. */
export function* movePages(mm: MmStruct, dstAddr: Vaddr, srcAddr: Vaddr): KGen<number> {
  yield* downRead(mm.mmapLock);
  const src = vmaLookup(mm, srcAddr);
  const dst = vmaLookup(mm, dstAddr);
  let ret = -EINVAL;
  if (src && dst && src.isAnonymous() && dst.isAnonymous()) {
    for (let i = 0; i < MAX_AGAIN; i++) {
      const srcPmdp = yield* mmFindPmd(mm, srcAddr);
      if (!srcPmdp) {
        ret = -ENOENT;
        break;
      }
      // The destination PMD is allocated if needed; a huge one is refused.
      const pudp = yield* pudAlloc(mm, dstAddr);
      const dstPmdp = pudp ? yield* pmdAlloc(mm, pudp, dstAddr) : 0;
      if (!dstPmdp || !(yield* pteAlloc(mm, dstPmdp, dstAddr))) {
        ret = -12;
        break;
      }
      if (!pmdIsTable(yield* ptepGet(dstPmdp))) continue;
      ret = yield* movePagesPte(mm, dstPmdp, srcPmdp, dstAddr, srcAddr);
      if (ret !== -EAGAIN) break;
    }
  }
  yield* upRead(mm.mmapLock);
  return ret;
}

/** move_pages_pte(). */
function* movePagesPte(mm: MmStruct, dstPmdp: number, srcPmdp: number, dstAddr: Vaddr, srcAddr: Vaddr): KGen<number> {
  const k = current.k;
  const dstOut = new PteMapOut();
  const dstPte = yield* pteOffsetMapRwNolock(mm, dstPmdp, dstAddr, dstOut);
  if (dstPte < 0) return -EAGAIN;
  const dstPmdval = dstOut.pmdval;
  const srcOut = new PteMapOut();
  const srcPte = yield* pteOffsetMapRwNolock(mm, srcPmdp, srcAddr, srcOut);
  if (srcPte < 0) {
    yield* pteUnmap(dstPte);
    return -EAGAIN;
  }
  const unmapBoth = function* () {
    yield* pteUnmap(srcPte);
    yield* pteUnmap(dstPte);
  };
  yield* spinLock(dstOut.ptl);
  const origDst = yield* ptepGet(dstPte);
  yield* spinUnlock(dstOut.ptl);
  if (origDst !== 0) {
    yield* unmapBoth();
    return -EEXIST;
  }
  yield* spinLock(srcOut.ptl);
  const origSrc = yield* ptepGet(srcPte);
  yield* spinUnlock(srcOut.ptl);
  const pfn = ptePfn(origSrc);
  if (ptePresent(origSrc)) touchFolio(k.mem.folioHead(pfn), false);
  if (!ptePresent(origSrc) || pteSpecial(origSrc) || k.mem.type[pfn] !== PT_ANON || k.mem.mapcount[pfn] !== 1) {
    yield* unmapBoth();
    return origSrc === 0 ? -ENOENT : -EINVAL;
  }
  // double_pt_lock(): both PTE locks, in address order when they differ.
  const [first, second] = dstOut.ptl < srcOut.ptl ? [dstOut.ptl, srcOut.ptl] : [srcOut.ptl, dstOut.ptl];
  yield* spinLock(first);
  if (second !== first) yield* spinLock(second);
  const unlockBoth = function* () {
    if (second !== first) yield* spinUnlock(second);
    yield* spinUnlock(first);
  };
  // is_pte_pages_stable(): pte_same() on both entries, and (patch 02) the destination PMD.
  const stable =
    (yield* ptepGet(srcPte)) === origSrc &&
    (yield* ptepGet(dstPte)) === origDst &&
    (!guardOn(k.cfg, 'uffd-move-dst-pmd-recheck') || (yield* ptepGet(dstPmdp)) === dstPmdval);
  if (!stable) {
    yield* unlockBoth();
    yield* unmapBoth();
    return -EAGAIN;
  }
  // move_present_pte(): clear the source with a flush, then map the page at the destination.
  yield* ptepGetAndClear(srcPte);
  yield* flushTlbMmRange(mm, srcAddr, srcAddr + PAGE_SIZE, PAGE_SHIFT, false);
  k.mem.index[pfn] = -1; // folio_move_anon_rmap(): the page now belongs to the destination
  yield* setPte(dstPte, origSrc);
  yield* unlockBoth();
  yield* unmapBoth();
  return 0;
}
