/**
 * A write fault on a present, read-only PTE of a shared mapping (mm/memory.c, 6.18:
 * wp_page_shared(), wp_pfn_shared(), wp_page_reuse(), do_page_mkwrite(), finish_mkwrite_fault(),
 * fault_dirty_shared_page()). A file with ->page_mkwrite() (a regular file) is asked for the write
 * with the PTE lock dropped, since the filesystem may sleep; the PTE is then looked up again with
 * pte_offset_map_lock(), which fails once the table was reclaimed meanwhile, and rechecked with
 * pte_same(). Either failure is VM_FAULT_NOPAGE: the access faults again. shmem has no
 * ->page_mkwrite() and makes the PTE writable under the lock it holds.
 */
import type { Pfn } from '../const.js';
import { current } from '../current.js';
import { filemapPageMkwrite, vmaHasPageMkwrite } from '../filemap.js';
import { VM_FAULT_ERROR, VM_FAULT_LOCKED, VM_FAULT_NOPAGE, type VmFault } from '../mm_types.js';
import { PG_dirty } from '../page_alloc.js';
import { pteOffsetMapLock, pteUnmapUnlock } from '../pgtable_generic.js';
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, pteSetFlags } from '../pgtable_types.js';
import { folioLock, folioUnlock, ptepGet, setPte, type KGen } from '../primitives.js';
import { folioPutRefs, folioRefAdd, touchFolio } from '../swap.js';

/**
 * wp_page_shared(), or wp_pfn_shared() for a special PTE (no folio; no ->pfn_mkwrite() in the
 * model). Called with the PTE lock held; returns with it released.
 */
export function* wpPageShared(vmf: VmFault, special: boolean): KGen<number> {
  if (special) return yield* wpPageReuse(vmf);
  const head = current.k.mem.folioHead(vmf.page as Pfn);
  folioRefAdd(head, 1); // folio_get()
  if (vmaHasPageMkwrite(vmf.vma)) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    // vmf_can_call_fault(): a regular file has ->map_pages(), so a VMA-locked fault goes on.
    const tmp = yield* doPageMkwrite(vmf);
    if (!tmp || tmp & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) {
      folioPutRefs(head, 1);
      return tmp;
    }
    const fin = yield* finishMkwriteFault(vmf);
    if (fin & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) {
      yield* folioUnlock(head);
      folioPutRefs(head, 1);
      return fin;
    }
  } else {
    yield* wpPageReuse(vmf);
    yield* folioLock(head);
  }
  const ret = yield* faultDirtySharedPage(vmf);
  folioPutRefs(head, 1);
  return ret;
}

/** wp_page_reuse(): make the PTE young, dirty and writable in place, then drop the PTE lock. */
function* wpPageReuse(vmf: VmFault): KGen<number> {
  yield* setPte(vmf.pte, pteSetFlags(vmf.origPte, _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED)); // ptep_set_access_flags()
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  return 0;
}

/**
 * do_page_mkwrite(): ->page_mkwrite() returns the folio locked (filemap_page_mkwrite() always
 * does, so the kernel's relock for a handler that does not is not modelled), or an error, or
 * VM_FAULT_NOPAGE for a folio truncated meanwhile.
 */
export function* doPageMkwrite(vmf: VmFault): KGen<number> {
  const ret = yield* filemapPageMkwrite(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) return ret;
  return ret | VM_FAULT_LOCKED;
}

/**
 * finish_mkwrite_fault(): the PTE lock again. The table may have been reclaimed while the lock
 * was dropped (pte_offset_map_lock() fails: its pmd_same() recheck), or the PTE changed (zapped,
 * or another fault's): VM_FAULT_NOPAGE, and the access faults again.
 */
function* finishMkwriteFault(vmf: VmFault): KGen<number> {
  vmf.pte = yield* pteOffsetMapLock(vmf.vma.mm, vmf.pmd, vmf.address, vmf);
  if (vmf.pte < 0) return VM_FAULT_NOPAGE;
  if ((yield* ptepGet(vmf.pte)) !== vmf.origPte) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return VM_FAULT_NOPAGE;
  }
  return yield* wpPageReuse(vmf);
}

/** fault_dirty_shared_page(): mark the locked folio dirty and unlock it. */
export function* faultDirtySharedPage(vmf: VmFault): KGen<number> {
  const head = current.k.mem.folioHead(vmf.page as Pfn);
  touchFolio(head, true);
  current.k.mem.setFlags(head, PG_dirty); // folio_mark_dirty()
  yield* folioUnlock(head);
  return 0;
}
