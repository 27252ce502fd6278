/**
 * Populating ranges (mm/gup.c: populate_vma_page_range(), faultin_page_range(),
 * __get_user_pages(), follow_page_pte(), faultin_page()), for mlock() and MADV_POPULATE_*.
 */
import { Violation } from './bug.js';
import { guardOn } from './config.js';
import { EFAULT, ENOMEM, PAGE_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { handleMmFault } from './memory/fault.js';
import { mmFindPmd } from './memory/pgalloc.js';
import {
  FAULT_FLAG_WRITE,
  VM_FAULT_ERROR,
  VM_FAULT_OOM,
  VM_SHARED,
  VM_WRITE,
  type MmStruct,
} from './mm_types.js';
import { PteMapOut, pteOffsetMapLock, pteOffsetMapValue, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import { _PAGE_RW, pmdTransHuge, pteFlags, ptePresent, ptePfn, pteSpecial } from './pgtable_types.js';
import { localIrqDisable, localIrqEnable, ptepGet, type KGen } from './primitives.js';
import { findVma } from './vma_tree.js';

/** follow_page_mask() / follow_page_pte(): is the page mapped (writable, when asked)? */
function* followPage(mm: MmStruct, addr: Vaddr, write: boolean): KGen<boolean> {
  const pmdp = yield* mmFindPmd(mm, addr);
  if (!pmdp) return false;
  const pmdv = yield* ptepGet(pmdp);
  if (pmdTransHuge(pmdv)) return !write || (pteFlags(pmdv) & _PAGE_RW) !== 0;
  const out = new PteMapOut();
  const pte = yield* pteOffsetMapLock(mm, pmdp, addr, out);
  if (pte < 0) return false;
  const v = yield* ptepGet(pte);
  yield* pteUnmapUnlock(pte, out.ptl);
  return ptePresent(v) && (!write || (v & _PAGE_RW) !== 0);
}

/**
 * __get_user_pages() over [start, end) of one mm, faulting in what is missing. Returns the number
 * of pages done, or -EFAULT (SIGSEGV/SIGBUS, e.g. a guard region), -ENOMEM (hole or OOM).
 * Caller holds mmap_lock for read.
 */
function* getUserPages(mm: MmStruct, start: Vaddr, end: Vaddr, write: boolean): KGen<number> {
  let done = 0;
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    const vma = findVma(mm, addr);
    if (!vma || vma.start > addr) return done ? done : -ENOMEM;
    for (;;) {
      if (yield* followPage(mm, addr, write)) break;
      // faultin_page() → handle_mm_fault()
      const ret = yield* handleMmFault(vma, addr, write ? FAULT_FLAG_WRITE : 0);
      if (ret & VM_FAULT_ERROR) {
        if (done) return done;
        return ret & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
      }
    }
    done++;
  }
  return done;
}

/** populate_vma_page_range() for mlock: write-fault private writable mappings (break COW). */
export function* populateVmaPageRange(mm: MmStruct, start: Vaddr, end: Vaddr, _locked: boolean): KGen<number> {
  let addr = start;
  while (addr < end) {
    const vma = findVma(mm, addr);
    if (!vma || vma.start >= end) break;
    const s = Math.max(addr, vma.start);
    const e = Math.min(end, vma.end);
    const write = (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
    const r = yield* getUserPages(mm, s, e, write);
    if (r < 0) return r;
    addr = e;
  }
  return 0;
}

/** faultin_page_range() as used by madvise_populate(). */
export function* faultinPageRange(mm: MmStruct, start: Vaddr, end: Vaddr, write: boolean): KGen<number> {
  return yield* getUserPages(mm, start, end, write);
}

/**
 * gup_fast() for one range inside one PMD (mm/gup.c: gup_fast(), gup_fast_pte_range()): walk the
 * current mm with interrupts off and no mm lock, take a reference on each present page, then
 * recheck that the PMD and the PTE are unchanged, backing off otherwise. Interrupts off keep both
 * the flush IPI and the RCU grace period from completing, so the table cannot be freed under us.
 * Returns the number of pages grabbed (the caller drops the references at once, as a user of the
 * pages would later). Without the recheck (guard `gup-fast-recheck`) a page whose mapping was just
 * zapped is returned: a stale pin (race R1b).
 */
export function* gupFast(mm: MmStruct, start: Vaddr, nrPages: number, write: boolean): KGen<number> {
  const k = current.k;
  const grabbed: Pfn[] = [];
  yield* localIrqDisable();
  const pmdp = yield* mmFindPmd(mm, start);
  const pmd = pmdp ? yield* ptepGet(pmdp) : 0;
  // pte_offset_map() of the local PMD copy: RCU as every walker, though IRQs off already suffice.
  const ptem = pmdp ? yield* pteOffsetMapValue(pmd, start) : -1;
  if (ptem >= 0) {
    for (let i = 0; i < nrPages; i++) {
      const ptep = ptem + i;
      const pte = yield* ptepGet(ptep);
      if (!ptePresent(pte) || (write && !(pte & _PAGE_RW)) || pteSpecial(pte)) break;
      const head = k.mem.folioHead(ptePfn(pte));
      touchFolio(head, false);
      if (k.mem.refcount[head] === 0) break; // try_grab_folio_fast(): the folio is being freed
      folioRefAdd(head, 1);
      // Recheck both levels after taking the reference: a zap, reclaim, collapse or retract since
      // the loads means the page may no longer be mapped here.
      const changed = (yield* ptepGet(pmdp)) !== pmd || (yield* ptepGet(ptep)) !== pte;
      if (changed && guardOn(k.cfg, 'gup-fast-recheck')) {
        folioPutRefs(head, 1);
        break;
      }
      if (changed) throw new Violation('stale-pin', `gup_fast pinned page ${ptePfn(pte)} at ${start + i * PAGE_SIZE} after its mapping changed`);
      grabbed.push(head);
    }
    yield* pteUnmap(ptem);
  }
  yield* localIrqEnable();
  // The caller is done with the pages (unpin_user_pages()).
  for (const head of grabbed) folioPutRefs(head, 1);
  return grabbed.length;
}
