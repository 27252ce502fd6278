/**
 * Populating ranges (mm/gup.c: populate_vma_page_range(), faultin_page_range(),
 * __get_user_pages(), follow_page_pte(), faultin_page()), for mlock() and MADV_POPULATE_*.
 */
import { EFAULT, ENOMEM, PAGE_SIZE, type Vaddr } from './const.js';
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
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { _PAGE_RW, pmdTransHuge, pteFlags, ptePresent } from './pgtable_types.js';
import { ptepGet, type KGen } from './primitives.js';
import { findVma } from './vma.js';

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
