/**
 * Populating ranges (mm/gup.c): __mm_populate(), populate_vma_page_range(), faultin_page_range(),
 * __get_user_pages_locked(), __get_user_pages(), check_vma_flags(), follow_page_mask() down to
 * follow_page_pte() and follow_huge_pmd(), faultin_page(); for mlock(), mprotect(), mremap() and
 * MADV_POPULATE_(READ|WRITE). No caller asks for the pages themselves (pages == NULL), so nothing
 * is grabbed; gup_fast() (pinning, for the explorer) is at the end.
 *
 * Left out: FOLL_PIN/FOLL_GET (and so gup_must_unshare()'s -EMLINK), the gate area, hugetlb and
 * PUD leaves, VM_IO/VM_PFNMAP (the model has neither), secretmem, soft-dirty and uffd-wp write
 * checks. The model's faults never drop mmap_lock (VM_FAULT_RETRY/COMPLETED happen only under the
 * per-VMA lock, which GUP does not use), so __get_user_pages_locked()'s relock loop never runs.
 */
import { ModelBug, Violation } from './bug.js';
import { guardOn } from './config.js';
import { EAGAIN, EBUSY, EFAULT, EINVAL, ENOMEM, HPAGE_PMD_NR, PAGE_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { folioPutRefs, folioRefAdd, touchFolio } from './swap.js';
import { handleMmFault } from './memory/fault.js';
import {
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_KILLABLE,
  FAULT_FLAG_WRITE,
  VM_FAULT_COMPLETED,
  VM_FAULT_ERROR,
  VM_FAULT_HWPOISON,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_LOCKONFAULT,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  type MmStruct,
  type Vma,
} from './mm_types.js';
import { PG_anon_exclusive, PG_dirty, PT_ANON } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteOffsetMapValue, pteUnmap, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  pmdNone,
  pmdPfn,
  pmdTransHuge,
  pteDirty,
  ptePresent,
  ptePfn,
  pteSetFlags,
  pteSpecial,
  type Pte,
} from './pgtable_types.js';
import { pmdLockptr } from './ptlock.js';
import { downRead, folioRefAccess, localIrqDisable, localIrqEnable, ptepGet, setPte, spinLock, spinUnlock, upRead, type KGen } from './primitives.js';
import { findVma, vmaLookup } from './vma_tree.js';
import { vmaIsAccessible } from './internal.js';
import { mmFindPmd } from './pgtable_mm.js';

/** include/linux/mm_types.h (enum foll_flags) and mm/internal.h (the internal FOLL_* bits). */
export const FOLL_WRITE = 1 << 0;
export const FOLL_GET = 1 << 1;
export const FOLL_FORCE = 1 << 3;
export const FOLL_NOFAULT = 1 << 5;
export const FOLL_HWPOISON = 1 << 6;
export const FOLL_TOUCH = 1 << 16;
export const FOLL_REMOTE = 1 << 18;
export const FOLL_UNLOCKABLE = 1 << 21;
export const FOLL_MADV_POPULATE = 1 << 22;

/**
 * Faults of one address that all succeed without the page becoming followable: the model calls it
 * a livelock (the kernel's loop would spin forever; every modelled fault makes progress).
 */
const MAX_FAULTS_PER_PAGE = 64;

/** follow_page_mask()'s NULL: nothing (suitable) mapped, fault it in. */
const NO_PAGE = -1;

/**
 * can_follow_write_common(): FOLL_FORCE may write through a read-only entry of a private mapping
 * that may be written but is not writable now, once COW gave it an exclusive anonymous page.
 */
function canFollowWriteCommon(pfn: Pfn, vma: Vma, flags: number): boolean {
  if (!(flags & FOLL_FORCE)) return false;
  if (vma.flags & (VM_MAYSHARE | VM_SHARED)) return false;
  if (!(vma.flags & VM_MAYWRITE)) return false;
  if (vma.flags & VM_WRITE) return false;
  const mem = current.k.mem;
  const head = mem.folioHead(pfn);
  return mem.type[head] === PT_ANON && mem.testFlags(head, PG_anon_exclusive) !== 0;
}

/** can_follow_write_pte() / can_follow_write_pmd(): a writable entry, or FOLL_FORCE's exception. */
function canFollowWrite(v: Pte, vma: Vma, flags: number): boolean {
  if (v & _PAGE_RW) return true;
  return canFollowWriteCommon(ptePfn(v), vma, flags);
}

/**
 * try_grab_folio() for FOLL_GET: a reference on the folio of `page`, and the page into `pages`
 * (__get_user_pages()'s pages[]). Without FOLL_GET nothing (the model has no FOLL_PIN).
 */
function tryGrabPage(page: Pfn, flags: number, pages: Pfn[] | undefined): void {
  if (!(flags & FOLL_GET)) return;
  folioRefAdd(current.k.mem.folioHead(page), 1);
  pages?.push(page);
}

/**
 * follow_page_mask() → follow_pmd_mask() → follow_huge_pmd() / follow_page_pte(): NO_PAGE when
 * nothing (suitable) is mapped at address, else the page_mask of the mapping found (HPAGE_PMD_NR - 1
 * for a huge PMD, 0 for a PTE). no_page_table() is NULL here: no caller passes FOLL_DUMP. With
 * FOLL_GET the page found is referenced and added to `pages`.
 */
function* followPageMask(vma: Vma, address: Vaddr, flags: number, pages?: Pfn[]): KGen<number> {
  const mm = vma.mm;
  const pmdp = yield* mmFindPmd(mm, address);
  if (!pmdp) return NO_PAGE;
  const pmdval = yield* ptepGet(pmdp); // pmdp_get_lockless()
  if (pmdNone(pmdval) || !ptePresent(pmdval)) return NO_PAGE;
  if (pmdTransHuge(pmdval)) {
    const ptl = pmdLockptr(mm, pmdp);
    yield* spinLock(ptl);
    const cur = yield* ptepGet(pmdp);
    let mask = NO_PAGE;
    if (!pmdTransHuge(cur)) {
      yield* spinUnlock(ptl);
      return ptePresent(cur) ? yield* followPagePte(vma, address, pmdp, flags, pages) : NO_PAGE;
    }
    // follow_huge_pmd()
    if (!(flags & FOLL_WRITE) || canFollowWrite(cur, vma, flags)) {
      if (flags & FOLL_TOUCH) yield* touchPmd(pmdp, cur, (flags & FOLL_WRITE) !== 0);
      tryGrabPage((pmdPfn(cur) + ((address / PAGE_SIZE) % HPAGE_PMD_NR)) as Pfn, flags, pages);
      mask = HPAGE_PMD_NR - 1;
    }
    yield* spinUnlock(ptl);
    return mask;
  }
  return yield* followPagePte(vma, address, pmdp, flags, pages);
}

/** touch_pmd(): mark the huge PMD young, and dirty for a write. */
function* touchPmd(pmdp: number, v: Pte, write: boolean): KGen<void> {
  let nv = pteSetFlags(v, _PAGE_ACCESSED);
  if (write) nv = pteSetFlags(nv, _PAGE_DIRTY);
  if (nv !== v) yield* setPte(pmdp, nv);
}

/**
 * follow_page_pte(): a present entry is a page (the zero page too: is_zero_pfn()); a write needs a
 * writable entry (can_follow_write_pte()). FOLL_TOUCH marks the folio dirty for a write.
 */
function* followPagePte(vma: Vma, address: Vaddr, pmdp: number, flags: number, pages?: Pfn[]): KGen<number> {
  const out = new PteMapOut();
  const ptep = yield* pteOffsetMapLock(vma.mm, pmdp, address, out);
  if (ptep < 0) return NO_PAGE; // no_page_table()
  const pte = yield* ptepGet(ptep);
  const found = ptePresent(pte) && (!(flags & FOLL_WRITE) || canFollowWrite(pte, vma, flags));
  if (found && !pteSpecial(pte) && flags & FOLL_TOUCH && flags & FOLL_WRITE && !pteDirty(pte)) {
    const mem = current.k.mem;
    mem.setFlags(mem.folioHead(ptePfn(pte)), PG_dirty); // folio_mark_dirty(); folio_mark_accessed() has no LRU here
  }
  if (found) tryGrabPage(ptePfn(pte) as Pfn, flags, pages); // under the PTE lock, as the kernel grabs it
  yield* pteUnmapUnlock(ptep, out.ptl);
  return found ? 0 : NO_PAGE;
}

/** vm_fault_to_errno(). */
function vmFaultToErrno(fault: number, _follFlags: number): number {
  if (fault & VM_FAULT_OOM) return -ENOMEM;
  if (fault & VM_FAULT_HWPOISON) throw new ModelBug('VM_FAULT_HWPOISON: the model has no memory errors');
  if (fault & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return -EFAULT;
  return 0;
}

/** faultin_page(): one fault as GUP asks for it; 0 when the page should now be there. */
function* faultinPage(vma: Vma, address: Vaddr, flags: number): KGen<number> {
  if (flags & FOLL_NOFAULT) return -EFAULT;
  let faultFlags = 0;
  if (flags & FOLL_WRITE) faultFlags |= FAULT_FLAG_WRITE;
  if (flags & FOLL_UNLOCKABLE) faultFlags |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;
  const ret = yield* handleMmFault(vma, address, faultFlags);
  if (ret & (VM_FAULT_COMPLETED | VM_FAULT_RETRY)) {
    throw new ModelBug('handle_mm_fault() dropped mmap_lock under GUP (the model retries only under the per-VMA lock)');
  }
  if (ret & VM_FAULT_ERROR) {
    const err = vmFaultToErrno(ret, flags);
    if (err) return err;
    throw new ModelBug(`faultin_page(): fault result ${ret} is an error without an errno (BUG() in the kernel)`);
  }
  return 0;
}

/**
 * check_vma_flags(): may this kind of access be made to the VMA? A write needs VM_WRITE (FOLL_FORCE
 * only into a private mapping, COW); a read needs VM_READ (FOLL_FORCE: VM_MAYREAD).
 */
function checkVmaFlags(vma: Vma, gupFlags: number): number {
  const vmFlags = vma.flags;
  if (gupFlags & FOLL_WRITE) {
    if (!(vmFlags & VM_WRITE)) {
      if (!(gupFlags & FOLL_FORCE)) return -EFAULT;
      // is_cow_mapping(): private and may be written.
      if ((vmFlags & (VM_SHARED | VM_MAYWRITE)) !== VM_MAYWRITE) return -EFAULT;
    }
  } else if (!(vmFlags & VM_READ)) {
    if (!(gupFlags & FOLL_FORCE)) return -EFAULT;
    if (!(vmFlags & VM_MAYREAD)) return -EFAULT;
  }
  return 0;
}

/**
 * __get_user_pages() without pages: walk [start, start + nrPages pages), faulting in what
 * follow_page_mask() does not find. Returns the number of pages done, or (when none was) the
 * error: -ENOMEM/-EINVAL for MADV_POPULATE (no VMA / check_vma_flags()), -EFAULT otherwise; -EFAULT
 * or -ENOMEM from a fault. Caller holds mmap_lock for read.
 */
function* __getUserPages(mm: MmStruct, start: Vaddr, nrPages: number, gupFlags: number, pages?: Pfn[]): KGen<number> {
  let ret = 0;
  let i = 0;
  let vma: Vma | null = null;
  if (!nrPages) return 0;
  out: do {
    // first iteration or cross vma bound
    if (!vma || start >= vma.end) {
      if (gupFlags & FOLL_MADV_POPULATE) {
        // MADV_POPULATE_(READ|WRITE) wants to handle VMA lookups and error reporting differently.
        vma = vmaLookup(mm, start);
        if (!vma) {
          ret = -ENOMEM;
          break out;
        }
        if (checkVmaFlags(vma, gupFlags)) {
          ret = -EINVAL;
          break out;
        }
      } else {
        vma = vmaLookup(mm, start); // gup_vma_lookup(): the stack is no longer expanded here
        if (!vma) {
          ret = -EFAULT;
          break out;
        }
        ret = checkVmaFlags(vma, gupFlags);
        if (ret) break out;
      }
    }
    // retry:
    let pageMask = yield* followPageMask(vma, start, gupFlags, pages);
    for (let faults = 0; pageMask === NO_PAGE; faults++) {
      if (faults === MAX_FAULTS_PER_PAGE) throw new Violation('livelock', `GUP of ${start} still finds no page after ${faults} faults`);
      ret = yield* faultinPage(vma, start, gupFlags);
      if (ret === -EBUSY || ret === -EAGAIN) ret = 0;
      if (ret) break out;
      pageMask = yield* followPageMask(vma, start, gupFlags, pages);
    }
    // next_page:
    let pageIncrem = 1 + (~(start / PAGE_SIZE) & pageMask);
    if (pageIncrem > nrPages) pageIncrem = nrPages;
    i += pageIncrem;
    start += pageIncrem * PAGE_SIZE;
    nrPages -= pageIncrem;
  } while (nrPages);
  return i ? i : ret;
}

/**
 * get_user_pages_remote() of one page, the caller holding `mm`'s mmap_lock for read: FOLL_TOUCH
 * and FOLL_REMOTE are added, and FOLL_GET since the page is wanted (__get_user_pages_locked()).
 * The page, referenced, goes into `pages`; returns 1, or a negative errno (-EFAULT for nothing
 * mapped there with FOLL_NOFAULT). One page only: a huge PMD's other subpages are not collected.
 */
export function* getUserPagesRemote(mm: MmStruct, start: Vaddr, gupFlags: number, pages: Pfn[]): KGen<number> {
  return yield* __getUserPagesLocked(mm, start, 1, gupFlags | FOLL_TOUCH | FOLL_REMOTE | FOLL_GET, pages);
}

/**
 * __get_user_pages_locked() with the caller holding mmap_lock: one __get_user_pages() pass (the
 * relock loop runs only after a fault dropped the lock, which no modelled fault under GUP does).
 */
function* __getUserPagesLocked(mm: MmStruct, start: Vaddr, nrPages: number, flags: number, pages?: Pfn[]): KGen<number> {
  if (!nrPages) return 0;
  const pagesDone = yield* __getUserPages(mm, start, nrPages, flags, pages);
  // Failing to pin anything implies something has gone wrong (WARN_ON_ONCE in the kernel).
  if (pagesDone === 0) return -EFAULT;
  return pagesDone;
}

/**
 * populate_vma_page_range(): fault in [start, end) of one VMA, write-faulting private writable
 * mappings (to break COW) and read-faulting the rest with FOLL_FORCE. Returns the number of pages
 * done or a negative errno (-EFAULT for a PROT_NONE VMA). Caller holds mmap_lock.
 */
export function* populateVmaPageRange(vma: Vma, start: Vaddr, end: Vaddr): KGen<number> {
  const nrPages = (end - start) / PAGE_SIZE;
  // Rightly or wrongly, the VM_LOCKONFAULT case has never used faultin_page() to break COW.
  if (vma.flags & VM_LOCKONFAULT) return nrPages;
  // ... similarly, we've never faulted in PROT_NONE pages
  if (!vmaIsAccessible(vma)) return -EFAULT;
  let gupFlags = FOLL_TOUCH;
  if ((vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE) gupFlags |= FOLL_WRITE;
  else gupFlags |= FOLL_FORCE;
  gupFlags |= FOLL_UNLOCKABLE; // locked != NULL: __mm_populate(); harmless for the others here
  return yield* __getUserPages(vma.mm, start, nrPages, gupFlags);
}

/**
 * __mm_populate(): populate_vma_page_range() over every VMA that meets [start, start + len), with
 * mmap_lock taken for read here. An error stops the walk unless `ignoreErrors` (mm_populate()).
 * Returns 0 or a negative errno.
 */
export function* __mmPopulate(mm: MmStruct, start: Vaddr, len: number, ignoreErrors: boolean): KGen<number> {
  const end = start + len;
  let vma: Vma | null = null;
  let locked = false;
  let ret = 0;
  for (let nstart = start, nend = start; nstart < end; nstart = nend) {
    if (!locked) {
      locked = true;
      yield* downRead(mm.mmapLock);
      vma = findVmaIntersection(mm, nstart, end);
    } else if (nstart >= vma!.end) {
      vma = findVmaIntersection(mm, vma!.end, end);
    }
    if (!vma) break;
    // Set [nstart; nend) to the intersection of the range with the first VMA.
    nend = Math.min(end, vma.end);
    if (nstart < vma.start) nstart = vma.start;
    ret = yield* populateVmaPageRange(vma, nstart, nend);
    if (ret < 0) {
      if (ignoreErrors) {
        ret = 0;
        continue; // continue at next VMA
      }
      break;
    }
    nend = nstart + ret * PAGE_SIZE;
    ret = 0;
  }
  if (locked) yield* upRead(mm.mmapLock);
  return ret;
}

/** find_vma_intersection(): the first VMA that meets [start, end), or null. */
function findVmaIntersection(mm: MmStruct, start: Vaddr, end: Vaddr): Vma | null {
  const vma = findVma(mm, start);
  return vma && vma.start < end ? vma : null;
}

/**
 * faultin_page_range() for madvise_populate(): FOLL_MADV_POPULATE, no FOLL_FORCE (the access must
 * be allowed), FOLL_WRITE for MADV_POPULATE_WRITE. Returns pages done or a negative errno.
 */
export function* faultinPageRange(mm: MmStruct, start: Vaddr, end: Vaddr, write: boolean): KGen<number> {
  const nrPages = (end - start) / PAGE_SIZE;
  let gupFlags = FOLL_TOUCH | FOLL_HWPOISON | FOLL_UNLOCKABLE | FOLL_MADV_POPULATE;
  if (write) gupFlags |= FOLL_WRITE;
  return yield* __getUserPagesLocked(mm, start, nrPages, gupFlags);
}

/**
 * The stale-pin sanitizer: a page gup_fast keeps must still be mapped where it found it when its
 * walk commits, that is, both levels must hold at the recheck what the first loads read. Judged
 * from the recheck's loads on its own, apart from gupFast()'s recheck test (which a guard switches
 * off and a mutant may break: the sanitizer must not share its fault).
 */
function checkPinStillMapped(pmdNow: number, pmd: number, pteNow: Pte, pte: Pte, addr: Vaddr): void {
  if (pmdNow === pmd && pteNow === pte) return;
  throw new Violation('stale-pin', `gup_fast pinned page ${ptePfn(pte)} at ${addr} after its ${pmdNow === pmd ? 'PTE' : 'PMD'} changed`);
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
      // try_grab_folio_fast(): folio_ref_try_add() on the folio the loaded entry names, an access
      // of its own after the load (the entry may be zapped, the folio freed, in between); it fails
      // on a folio being freed.
      const head = k.mem.folioHead(ptePfn(pte));
      yield* folioRefAccess(head);
      touchFolio(head, false);
      if (k.mem.refcount[head] === 0) break;
      folioRefAdd(head, 1);
      // Recheck both levels after taking the reference: a zap, reclaim, collapse or retract since
      // the loads means the page may no longer be mapped here. The PTE is loaded again only if the
      // PMD is unchanged (the kernel's `||`).
      const pmdNow = yield* ptepGet(pmdp);
      const pteNow = pmdNow === pmd ? yield* ptepGet(ptep) : pte;
      if ((pmdNow !== pmd || pteNow !== pte) && guardOn(k.cfg, 'gup-fast-recheck')) {
        folioPutRefs(head, 1);
        break;
      }
      checkPinStillMapped(pmdNow, pmd, pteNow, pte, start + i * PAGE_SIZE);
      grabbed.push(head);
    }
    yield* pteUnmap(ptem);
  }
  yield* localIrqEnable();
  // The caller is done with the pages (unpin_user_pages()).
  for (const head of grabbed) folioPutRefs(head, 1);
  return grabbed.length;
}
