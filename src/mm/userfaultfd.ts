/**
 * userfaultfd (fs/userfaultfd.c, mm/userfaultfd.c, Linux 6.18): registration (UFFDIO_REGISTER),
 * the fills UFFDIO_COPY and UFFDIO_ZEROPAGE (mfill_atomic()), the missing-fault delivery
 * (handle_userfault()); UFFDIO_MOVE is in userfaultfd_move.ts.
 *
 * The model's userfaultfd: one context per process, created by its first use, with
 * UFFD_FEATURE_SIGBUS (as the kernel runner asks for it, docs/op-scripts.md): a missing fault in a
 * registered VMA is SIGBUS instead of a wait for a handler, so a VMA "belongs to the context" exactly
 * when it has a uffd flag (the kernel's VM_WARN_ON_ONCE(!!ctx ^ !!(vm_flags & __VM_UFFD_FLAGS))).
 * No events (fork, remap, remove, unmap), no mmap_changing, no hugetlb, no UFFDIO_CONTINUE/POISON.
 */
import { ModelBug } from './bug.js';
import { addMmCounter, folioPutRefs } from './swap.js';
import { EAGAIN, EEXIST, EINVAL, ENOENT, ENOMEM, EPERM, PAGE_SIZE, TASK_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { pmdAlloc, pteAllocSlow, pudAlloc } from './memory/pgalloc.js';
import { mmapWriteUnlock, lockVmaUnderRcu } from './mmap_lock.js';
import { tlbFinishMmu, tlbGatherMmu } from './mmu_gather.js';
import {
  __VM_UFFD_FLAGS,
  MM_ANONPAGES,
  VM_MAYWRITE,
  VM_SHARED,
  VM_UFFD_MINOR,
  VM_UFFD_MISSING,
  VM_UFFD_WP,
  VM_WRITE,
  type MmStruct,
  type Vma,
} from './mm_types.js';
import { PG_has_data, PG_uptodate, PT_ANON } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isPteMarker,
  mkPte,
  pmdNone,
  pmdPresent,
  pmdTransHuge,
  pteNone,
  pteSetFlags,
  } from './pgtable_types.js';
import {
  condResched,
  downRead,
  downWrite,
  ptepGet,
  setPte,
  upRead,
  vmaRefcountIncNotZero,
  type KGen,
} from './primitives.js';
import { folioAddNewAnonRmapPtes, anonVmaPrepare } from './rmap.js';
import { vmaModifyFlags } from './vma.js';
import { findVma, vmaLookup, vmaNext } from './vma_tree.js';
import { vmaPageProt, userfaultfdArmed } from './internal.js';
import { changeProtection, MM_CP_TRY_CHANGE_WRITABLE, MM_CP_UFFD_WP, MM_CP_UFFD_WP_RESOLVE } from './change_protection.js';

/** The registration modes of `uffd_register` (UFFDIO_REGISTER_MODE_*, include/uapi/linux/userfaultfd.h). */
export const UFFD_MODES = ['missing', 'wp', 'minor'] as const;
export type UffdMode = (typeof UFFD_MODES)[number];
const MODE_VM_FLAGS: Readonly<Record<UffdMode, number>> = { missing: VM_UFFD_MISSING, wp: VM_UFFD_WP, minor: VM_UFFD_MINOR };

/** validate_range() and validate_unaligned_range() (fs/userfaultfd.c); mmap_min_addr is 4096 here. */
export function validateRange(start: Vaddr, len: number): number {
  if (start % PAGE_SIZE) return -EINVAL;
  if (len % PAGE_SIZE || !len) return -EINVAL;
  if (start < PAGE_SIZE || start >= TASK_SIZE || len > TASK_SIZE - start) return -EINVAL;
  return 0;
}

/** vma_can_userfault() (include/linux/userfaultfd_k.h; CONFIG_PTE_MARKER_UFFD_WP=y, no wp_async). */
function vmaCanUserfault(vma: Vma, vmFlags: number): boolean {
  if (vmFlags & VM_UFFD_MINOR && !vma.isShmem()) return false;
  return vma.isAnonymous() || vma.isShmem();
}

/**
 * userfaultfd_register() (fs/userfaultfd.c) for one mode: under the mmap_lock for write, every VMA
 * of [start, start+len) must be anonymous or shmem (minor: shmem only) and VM_MAYWRITE; holes are
 * allowed, an empty range is -EINVAL. Returns 0 or a negative errno.
 */
export function* userfaultfdRegister(mm: MmStruct, start: Vaddr, len: number, mode: UffdMode): KGen<number> {
  const vmFlags = MODE_VM_FLAGS[mode];
  let ret = validateRange(start, len);
  if (ret) return ret;
  const end = start + len;
  yield* downWrite(mm.mmapLock);
  ret = -EINVAL;
  const vma = findVma(mm, start); // vma_find(&vmi, end)
  if (vma && vma.start < end) {
    // Search for not compatible vmas.
    for (let cur: Vma | null = vma; cur && cur.start < end; cur = vmaNext(mm, cur)) {
      ret = -EINVAL;
      if (!vmaCanUserfault(cur, vmFlags)) break;
      ret = -EPERM;
      if (!(cur.flags & VM_MAYWRITE)) break;
      ret = 0;
    }
    if (!ret) ret = yield* userfaultfdRegisterRange(mm, vmFlags, start, end);
  }
  yield* mmapWriteUnlock(mm);
  return ret;
}

/**
 * userfaultfd_register_range() (mm/userfaultfd.c): each VMA of the range not yet registered with
 * these modes gets (flags & ~__VM_UFFD_FLAGS) | vmFlags over its part of the range
 * (vma_modify_flags_uffd(): split at the range's ends, merge with equal neighbours). A VMA that
 * already has the modes is skipped; registering another mode replaces the old ones.
 */
function* userfaultfdRegisterRange(mm: MmStruct, vmFlags: number, start: Vaddr, end: Vaddr): KGen<number> {
  let vma = findVma(mm, start);
  while (vma && vma.start < end) {
    if ((vma.flags & vmFlags) !== vmFlags) {
      const newFlags = (vma.flags & ~__VM_UFFD_FLAGS) | vmFlags;
      vma = yield* vmaModifyFlags(mm, vma, Math.max(start, vma.start), Math.min(end, vma.end), newFlags);
    }
    start = vma.end;
    vma = findVma(mm, start);
  }
  return 0;
}

/**
 * mwriteprotect_range() (mm/userfaultfd.c): UFFDIO_WRITEPROTECT of [start, start+len) under the
 * mmap_lock for read; every VMA met must be registered for uffd-wp (else -ENOENT, after the VMAs
 * before it were done). Anonymous VMAs only: for shmem and files the kernel also writes uffd-wp
 * markers into none slots and allocates the tables for them (change_pmd_prepare()), which the
 * model does not (op scripts refuse the op there).
 */
export function* mwriteprotectRange(mm: MmStruct, start: Vaddr, len: number, enableWp: boolean): KGen<number> {
  const bad = validateRange(start, len); // userfaultfd_writeprotect()
  if (bad) return bad;
  const end = start + len;
  yield* downRead(mm.mmapLock);
  let err = -ENOENT;
  for (let vma = findVma(mm, start); vma && vma.start < end; vma = findVma(mm, vma.end)) {
    if (!(vma.flags & VM_UFFD_WP)) {
      err = -ENOENT;
      break;
    }
    yield* uffdWpRange(vma, Math.max(vma.start, start), Math.min(vma.end, end), enableWp);
    err = 0;
  }
  yield* upRead(mm.mmapLock);
  return err;
}

/**
 * uffd_wp_range(): change_protection() with MM_CP_UFFD_WP, or MM_CP_UFFD_WP_RESOLVE plus
 * MM_CP_TRY_CHANGE_WRITABLE where the VMA wants manual write upgrades (a private writable one).
 */
function* uffdWpRange(vma: Vma, start: Vaddr, end: Vaddr, enableWp: boolean): KGen<void> {
  if (!vma.isAnonymous()) throw new ModelBug('UFFDIO_WRITEPROTECT of a file or shmem VMA is not modelled (uffd-wp markers in none slots)');
  let cpFlags = enableWp ? MM_CP_UFFD_WP : MM_CP_UFFD_WP_RESOLVE;
  if (!enableWp && vma.flags & VM_WRITE) cpFlags |= MM_CP_TRY_CHANGE_WRITABLE; // vma_wants_manual_pte_write_upgrade()
  const tlb = tlbGatherMmu(vma.mm);
  yield* changeProtection(tlb, vma, start, end, cpFlags);
  yield* tlbFinishMmu(tlb);
}

/** The fills of mfill_atomic() the model has (MFILL_ATOMIC_COPY, MFILL_ATOMIC_ZEROPAGE). */
export type MfillMode = 'copy' | 'zeropage';

/**
 * UFFDIO_COPY / UFFDIO_ZEROPAGE (userfaultfd_copy(), userfaultfd_zeropage() in fs/userfaultfd.c):
 * 0 when the whole range was filled, -EAGAIN when only part of it was, else mfill_atomic()'s
 * error. The copy's source is the caller's buffer, which the model does not hold: its pages never
 * fault (so mfill_atomic_pte_copy()'s -ENOENT retry outside the lock never happens).
 */
export function* userfaultfdFill(mm: MmStruct, dstStart: Vaddr, len: number, mode: MfillMode): KGen<number> {
  const bad = validateRange(dstStart, len);
  if (bad) return bad;
  const ret = yield* mfillAtomic(mm, dstStart, len, mode);
  if (ret < 0) return ret;
  return ret === len ? 0 : -EAGAIN;
}

/**
 * uffd_lock_vma() (CONFIG_PER_VMA_LOCK): the VMA read-locked under RCU; a private VMA without an
 * anon_vma, or a failed attempt, goes through the mmap_lock (find_vma_and_prepare_anon(), then
 * vma_start_read_locked()). Returns the read-locked VMA or a negative errno.
 */
export function* uffdLockVma(mm: MmStruct, address: Vaddr): KGen<Vma | number> {
  const vma = yield* lockVmaUnderRcu(mm, address);
  if (vma) {
    // We know we're going to need to use anon_vma, so check that early.
    if (!(vma.flags & VM_SHARED) && !vma.anonVma) yield* upRead(vma.vmLock); // vma_end_read()
    else return vma;
  }
  yield* downRead(mm.mmapLock);
  let ret: Vma | number;
  const found = vmaLookup(mm, address); // find_vma_and_prepare_anon()
  if (!found) {
    ret = -ENOENT;
  } else {
    if (!(found.flags & VM_SHARED)) anonVmaPrepare(found);
    ret = (yield* vmaRefcountIncNotZero(found)) === true ? found : -EAGAIN; // vma_start_read_locked()
  }
  yield* upRead(mm.mmapLock);
  return ret;
}

/**
 * uffd_mfill_lock() + validate_dst_vma(): the destination range must lie in one VMA registered
 * with the context (any uffd mode), else -ENOENT.
 */
function* uffdMfillLock(mm: MmStruct, dstStart: Vaddr, len: number): KGen<Vma | number> {
  const vma = yield* uffdLockVma(mm, dstStart);
  if (typeof vma === 'number') return vma;
  if (dstStart + len <= vma.end && userfaultfdArmed(vma)) return vma;
  yield* upRead(vma.vmLock);
  return -ENOENT;
}

/**
 * mfill_atomic() (mm/userfaultfd.c) for anonymous and private VMAs: page by page, the PMD is
 * allocated, read locklessly, a PTE table allocated when it is none (__pte_alloc()), and the PMD
 * read again: anything but a table there now (a huge PMD, or none again: a table reclaimed since
 * __pte_alloc()) is -EEXIST. The fill itself rechecks under the PTE lock. Returns the bytes
 * filled, or the error when none was.
 */
export function* mfillAtomic(mm: MmStruct, dstStart: Vaddr, len: number, mode: MfillMode): KGen<number> {
  let dstAddr = dstStart;
  let copied = 0;
  const dstVma = yield* uffdMfillLock(mm, dstStart, len);
  if (typeof dstVma === 'number') return dstVma;
  let err = -EINVAL;
  if (dstVma.isAnonymous() || dstVma.isShmem()) {
    while (dstAddr < dstStart + len) {
      const pudp = yield* pudAlloc(mm, dstAddr); // mm_alloc_pmd()
      const dstPmd = pudp ? yield* pmdAlloc(mm, pudp, dstAddr) : 0;
      if (!dstPmd) {
        err = -ENOMEM;
        break;
      }
      let dstPmdval = yield* ptepGet(dstPmd); // pmdp_get_lockless()
      if (pmdNone(dstPmdval) && !(yield* pteAllocSlow(mm, dstPmd, dstAddr))) {
        err = -ENOMEM;
        break;
      }
      dstPmdval = yield* ptepGet(dstPmd); // pmdp_get_lockless()
      // If the dst_pmd is THP don't override it and just be strict. (This includes the case where
      // the PMD used to be THP and changed back to none after __pte_alloc().)
      if (!pmdPresent(dstPmdval) || pmdTransHuge(dstPmdval)) {
        err = -EEXIST;
        break;
      }
      err = yield* mfillAtomicPte(dstPmd, dstVma, dstAddr, mode);
      yield* condResched();
      if (!err) {
        dstAddr += PAGE_SIZE;
        copied += PAGE_SIZE;
      }
      if (err) break;
    }
  }
  yield* upRead(dstVma.vmLock); // uffd_mfill_unlock()
  return copied ? copied : err;
}

/** mfill_atomic_pte(): private VMAs fill with anonymous memory; shared (shmem) ones are not modelled. */
function* mfillAtomicPte(dstPmd: number, dstVma: Vma, dstAddr: Vaddr, mode: MfillMode): KGen<number> {
  if (dstVma.flags & VM_SHARED) throw new ModelBug('shmem_mfill_atomic_pte() is not modelled (op scripts refuse uffd fills of shared mappings)');
  if (mode === 'copy') return yield* mfillAtomicPteCopy(dstPmd, dstVma, dstAddr);
  return yield* mfillAtomicPteZeropage(dstPmd, dstVma, dstAddr);
}

/** mfill_atomic_pte_copy(): a new anonymous folio with the source page's contents, then installed. */
function* mfillAtomicPteCopy(dstPmd: number, dstVma: Vma, dstAddr: Vaddr): KGen<number> {
  const k = current.k;
  const folio = k.mem.allocPages(0, PT_ANON);
  if (folio < 0) return -ENOMEM;
  // copy_from_user() of the source page (it holds data), then __folio_mark_uptodate().
  k.mem.setFlags(folio, PG_has_data | PG_uptodate);
  const ret = yield* mfillAtomicInstallPte(dstPmd, dstVma, dstAddr, folio);
  if (ret) folioPutRefs(folio, 1);
  return ret;
}

/**
 * mfill_atomic_install_pte() for a new anonymous folio: the PTE table mapped and locked
 * (pte_offset_map_lock(): no table any more is -EAGAIN), then the slot must be none or a marker
 * (pte_none_mostly()), else -EEXIST.
 */
function* mfillAtomicInstallPte(dstPmd: number, dstVma: Vma, dstAddr: Vaddr, folio: Pfn): KGen<number> {
  const mm = dstVma.mm;
  let dstPteval = mkPte(folio, vmaPageProt(dstVma) | _PAGE_ACCESSED | _PAGE_DIRTY); // mk_pte() + pte_mkdirty()
  if (dstVma.flags & VM_WRITE) dstPteval = pteSetFlags(dstPteval, _PAGE_RW);
  const out = new PteMapOut();
  const dstPte = yield* pteOffsetMapLock(mm, dstPmd, dstAddr, out);
  if (dstPte < 0) return -EAGAIN;
  let ret = -EEXIST;
  const cur = yield* ptepGet(dstPte);
  // We allow to overwrite a pte marker (pte_none_mostly()).
  if (pteNone(cur) || isPteMarker(cur)) {
    folioAddNewAnonRmapPtes(folio, 1, dstVma.mm);
    addMmCounter(mm, MM_ANONPAGES, 1);
    yield* setPte(dstPte, dstPteval);
    ret = 0;
  }
  yield* pteUnmapUnlock(dstPte, out.ptl);
  return ret;
}

/** mfill_atomic_pte_zeropage(): the shared zero page into a none slot (a marker too is -EEXIST). */
function* mfillAtomicPteZeropage(dstPmd: number, dstVma: Vma, dstAddr: Vaddr): KGen<number> {
  const mm = dstVma.mm;
  const dstPteval = mkPte(current.k.mem.zeroPfn, vmaPageProt(dstVma) | _PAGE_SPECIAL);
  const out = new PteMapOut();
  const dstPte = yield* pteOffsetMapLock(mm, dstPmd, dstAddr, out);
  if (dstPte < 0) return -EAGAIN;
  let ret = -EEXIST;
  if (pteNone(yield* ptepGet(dstPte))) {
    yield* setPte(dstPte, dstPteval);
    ret = 0;
  }
  yield* pteUnmapUnlock(dstPte, out.ptl);
  return ret;
}
