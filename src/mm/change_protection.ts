/**
 * change_protection() and its page-table walk (mm/mprotect.c: change_protection(),
 * change_pte_range() and the levels above it, can_change_pte_writable(); mm/huge_memory.c:
 * change_huge_pmd()). The system call and mprotect_fixup() are in mprotect.ts; this walk is its own
 * module because the NUMA hinting fault (numa_balancing.ts) and userfaultfd call it too, and the
 * system call sits above the fault path (it populates through gup.ts).
 *
 * Modelled: the rewrite of every present PTE and huge PMD under its lock, the mmu_gather that
 * collects the ranges whose entries lost a permission and flushes them at tlb_finish_mmu(), and
 * MM_CP_TRY_CHANGE_WRITABLE (exclusive anonymous pages and dirty shared pages become writable at
 * once; the rest stay read-only until a write-protect fault). MM_CP_PROT_NUMA (NUMA hinting,
 * change_prot_numa(): numa_balancing.ts) makes entries PAGE_NONE on one node: prot_numa_skip() as
 * in 6.18, with the node of every folio and of the CPU node 0. Left out: batches of a large
 * folio's PTEs (mprotect_folio_pte_batch(): the model changes one PTE at a time).
 */
import { touchFolio } from './swap.js';
import { addrEnd, EAGAIN, HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SIZE, PGDIR_SIZE, PMD_SIZE, PUD_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import { __splitHugePmd, isHugeZeroPmd } from './huge_memory.js';
import { isCowMapping, VM_SHARED, VM_UFFD_WP, VM_WRITE, type Vma } from './mm_types.js';
import { tlbFlushPmdRange, tlbFlushPteRange, type MmuGather } from './mmu_gather.js';
import { PG_dirty, PT_ANON, PT_FILE } from './page_alloc.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_SWP_MIG_DIRTY,
  _PAGE_SWP_MIG_YOUNG,
  _PAGE_SWP_SOFT_DIRTY,
  _PAGE_SWP_UFFD_WP,
  _PAGE_UFFD_WP,
  _PAGE_USER,
  isGuardPte,
  isPteMarker,
  isSwapPte,
  isWritableMigrationPte,
  mkMigrationPte,
  pmdNone,
  pmdTransHuge,
  pteDirty,
  pteFlags,
  pteNone,
  ptePfn,
  ptePresent,
  pteClearFlags,
  pteSetFlags,
  pteProtnone,
  pteSpecial,
  pteUffdWp,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_READ_EXCLUSIVE,
  type Pte,
} from './pgtable_types.js';
import { condResched, ptepGet, ptepGetAndClear, pteScanNone, setPte, spinLock, spinUnlock, type KGen } from './primitives.js';
import { pmdLockptr } from './ptlock.js';
import { folioMaybeMappedShared } from './rmap.js';
import { vmaPageProt, vmaWantsWritenotify } from './internal.js';
import { pgdOffset, pmdOffset, pudOffset } from './pgtable_mm.js';

/** include/linux/mm.h: change_protection() flags. */
export const MM_CP_TRY_CHANGE_WRITABLE = 1 << 0;
/** Write-protect for userfaultfd (UFFDIO_WRITEPROTECT), and its undo. */
export const MM_CP_UFFD_WP = 1 << 2;
export const MM_CP_UFFD_WP_RESOLVE = 1 << 3;
/** change_prot_numa(): make entries PAGE_NONE so that the next access is a NUMA hinting fault. */
export const MM_CP_PROT_NUMA = 1 << 1;

/** PAGE_NONE in the model's encoding: present, no user access (pgtable_types.ts pteProtnone()). */
const PAGE_NONE = _PAGE_PRESENT;

/** pte_mkuffd_wp() (x86: the bit, and write-protected) or pte_clear_uffd_wp(), as cp_flags ask. */
function uffdWpApply(v: Pte, cpFlags: number): Pte {
  if (cpFlags & MM_CP_UFFD_WP) return pteClearFlags(pteSetFlags(v, _PAGE_UFFD_WP), _PAGE_RW);
  if (cpFlags & MM_CP_UFFD_WP_RESOLVE) return pteClearFlags(v, _PAGE_UFFD_WP);
  return v;
}

/** The bits pte_modify() takes from the new protection; everything else (pfn, A/D, soft bits) stays. */
const PROT_BITS = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;

/** pte_modify() / pmd_modify(). */
export function pteModify(v: Pte, newprot: number): Pte {
  return v - (pteFlags(v) & PROT_BITS) + (newprot & PROT_BITS);
}

/** An entry that loses write or user access must not survive in a TLB (pte_needs_flush()). */
function needsFlush(oldv: Pte, newv: Pte): boolean {
  return (pteFlags(oldv) & ~pteFlags(newv) & (_PAGE_RW | _PAGE_USER)) !== 0;
}

/** vma_wants_manual_pte_write_upgrade(). */
export function vmaWantsManualPteWriteUpgrade(vma: Vma): boolean {
  if (vma.flags & VM_SHARED) return vmaWantsWritenotify(vma);
  return (vma.flags & VM_WRITE) !== 0;
}

/**
 * can_change_pte_writable(): a private mapping may map an exclusive anonymous page writable at
 * once (the model's exclusivity: a single mapping, as in do_wp_page()); a shared one a dirty page.
 */
export function canChangePteWritable(vma: Vma, v: Pte): boolean {
  if (!(vma.flags & VM_WRITE)) return false;
  // maybe_change_pte_writable(): do we need write faults for uffd-wp tracking?
  if (vma.flags & VM_UFFD_WP && pteUffdWp(v)) return false;
  if (!(vma.flags & VM_SHARED)) {
    if (pteFlags(v) & _PAGE_SPECIAL) return false; // vm_normal_page(): the zero page is not one
    const mem = current.k.mem;
    const pfn = ptePfn(v);
    touchFolio(mem.folioHead(pfn), false);
    return mem.type[pfn] === PT_ANON && mem.mapcount[pfn] === 1 && mem.entireMapcount[mem.folioHead(pfn)] === 0;
  }
  return pteDirty(v);
}

/** can_change_pmd_writable(): the same for a PMD-mapped folio. */
export function canChangePmdWritable(vma: Vma, v: Pte): boolean {
  if (!(vma.flags & VM_WRITE)) return false;
  if (vma.flags & VM_UFFD_WP && pteUffdWp(v)) return false; // userfaultfd_huge_pmd_wp()
  const mem = current.k.mem;
  const head = ptePfn(v);
  touchFolio(head, false);
  if (!(vma.flags & VM_SHARED)) return !isHugeZeroPmd(v) && mem.type[head] === PT_ANON && mem.entireMapcount[head] === 1;
  return pteDirty(v) || mem.testFlags(head, PG_dirty) !== 0;
}

/** change_protection() → change_protection_range(): walk PGD → PUD → PMD. Returns the pages changed. */
export function* changeProtection(tlb: MmuGather, vma: Vma, start: Vaddr, end: Vaddr, cpFlags: number): KGen<number> {
  const mm = vma.mm;
  const newprot = cpFlags & MM_CP_PROT_NUMA ? PAGE_NONE : vmaPageProt(vma);
  let pages = 0;
  let addr = start;
  do {
    const next = addrEnd(addr, end, PGDIR_SIZE);
    const pgdv = yield* ptepGet(pgdOffset(mm, addr));
    if (!pmdNone(pgdv)) pages += yield* changePudRange(tlb, vma, pgdv, addr, next, newprot, cpFlags);
    addr = next;
  } while (addr !== end);
  return pages;
}

/** mm/mprotect.c: change_pud_range() (the P4D level is folded). */
function* changePudRange(tlb: MmuGather, vma: Vma, pgdv: number, addr: Vaddr, end: Vaddr, newprot: number, cpFlags: number): KGen<number> {
  let pages = 0;
  do {
    const next = addrEnd(addr, end, PUD_SIZE);
    const pudv = yield* ptepGet(pudOffset(pgdv, addr));
    if (!pmdNone(pudv)) pages += yield* changePmdRange(tlb, vma, pudv, addr, next, newprot, cpFlags);
    addr = next;
  } while (addr !== end);
  return pages;
}

/**
 * mm/mprotect.c: change_pmd_range() (6.18). Per PMD: skip a none one; a huge PMD covered in part is
 * split, one covered whole is changed in place by change_huge_pmd() (if it changed meanwhile, fall
 * through to the PTE level); then change_pte_range(), and when that finds no table to lock
 * (-EAGAIN: the table went away after the PMD was read, e.g. reclaimed by MADV_DONTNEED, or a
 * huge PMD raced in) look at the same PMD again (`goto again`). Without uffd-wp there is nothing
 * for change_pmd_prepare() to populate.
 */
function* changePmdRange(tlb: MmuGather, vma: Vma, pudv: number, addr: Vaddr, end: Vaddr, newprot: number, cpFlags: number): KGen<number> {
  let pages = 0;
  do {
    const next = addrEnd(addr, end, PMD_SIZE);
    const pmdp = pmdOffset(pudv, addr);
    for (;;) {
      // again:
      if (pmdNone(yield* ptepGet(pmdp))) break; // goto next
      const pmd = yield* ptepGet(pmdp); // pmdp_get_lockless()
      if (pmdTransHuge(pmd)) {
        if (next - addr !== HPAGE_PMD_SIZE) {
          yield* __splitHugePmd(vma, pmdp, addr);
        } else {
          const ret = yield* changeHugePmd(tlb, vma, pmdp, addr, newprot, cpFlags);
          if (ret === HPAGE_PMD_NR) pages += HPAGE_PMD_NR;
          if (ret !== 0) break; // huge pmd was handled: goto next
        }
        // fall through, the trans huge pmd just split (or is no longer huge)
      }
      const ret = yield* changePteRange(tlb, vma, pmdp, addr, next, newprot, cpFlags);
      if (ret >= 0) {
        pages += ret;
        break;
      }
      // -EAGAIN: goto again
    }
    yield* condResched();
    addr = next;
  } while (addr !== end);
  return pages;
}

/**
 * mm/mprotect.c: change_pte_range() (6.18): pte_offset_map_lock() (its pmd_same() recheck under
 * the lock is built in), -EAGAIN when there is no table to lock; then every present entry is
 * rewritten under the PTE lock (modify_prot_start/commit). Returns the pages changed.
 * The model reads a run of none entries in one step (pteScanNone(): under the PTE lock nothing
 * writes a none entry); the kernel reads them one by one and skips each.
 */
function* changePteRange(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr, end: Vaddr, newprot: number, cpFlags: number): KGen<number> {
  const out = new PteMapOut();
  const start = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (start < 0) return -EAGAIN;
  // Get target node for single threaded private VMAs (the model's one node is node 0).
  const targetNode = cpFlags & MM_CP_PROT_NUMA && !(vma.flags & VM_SHARED) && vma.mm.users === 1 ? 0 : NUMA_NO_NODE;
  let pages = 0;
  let pte = start;
  do {
    let nr = 1;
    const oldpte = yield* ptepGet(pte);
    if (pteNone(oldpte)) {
      // The entries after this one that are none too, in one step.
      const left = (end - addr) / PAGE_SIZE - 1;
      if (left > 0) nr += yield* pteScanNone(pte + 1, left);
    } else if (ptePresent(oldpte) && cpFlags & MM_CP_PROT_NUMA && protNumaSkip(vma, oldpte, targetNode)) {
      // Avoid trapping faults against the zero page and pages that would not move.
    } else if (ptePresent(oldpte)) {
      const old = yield* ptepGetAndClear(pte); // ptep_modify_prot_start()
      let ptent = uffdWpApply(pteModify(old, newprot), cpFlags);
      if (cpFlags & MM_CP_TRY_CHANGE_WRITABLE && !(pteFlags(ptent) & _PAGE_RW) && pteFlags(ptent) & _PAGE_USER && canChangePteWritable(vma, ptent)) {
        ptent += _PAGE_RW; // pte_mkwrite()
      }
      yield* setPte(pte, ptent); // ptep_modify_prot_commit()
      if (needsFlush(old, ptent)) tlbFlushPteRange(tlb, addr, PAGE_SIZE);
      pages++;
    } else if (isPteMarker(oldpte)) {
      // Guard markers are left as they are. A uffd-wp marker we'd like to unprotect is dropped:
      // the next page fault will trigger without uffd trapping.
      if (!isGuardPte(oldpte) && cpFlags & MM_CP_UFFD_WP_RESOLVE) {
        yield* setPte(pte, 0); // pte_clear()
        pages++;
      }
    } else if (isSwapPte(oldpte)) {
      let newpte = oldpte;
      if (isWritableMigrationPte(oldpte)) {
        // A protection check is difficult so just be safe and disable write (the entry's young and
        // dirty bits are part of its offset on x86 and stay; soft-dirty is carried over).
        const kind = current.k.mem.type[current.k.mem.folioHead(ptePfn(oldpte))] === PT_ANON ? SWP_MIGRATION_READ_EXCLUSIVE : SWP_MIGRATION_READ;
        const flags = pteFlags(oldpte) & (_PAGE_SWP_MIG_YOUNG | _PAGE_SWP_MIG_DIRTY | _PAGE_SWP_SOFT_DIRTY);
        newpte = mkMigrationPte(kind, ptePfn(oldpte), flags);
      }
      // A swap or migration entry keeps its protection in its uffd-wp bit.
      if (cpFlags & MM_CP_UFFD_WP) newpte = pteSetFlags(newpte, _PAGE_SWP_UFFD_WP); // pte_swp_mkuffd_wp()
      else if (cpFlags & MM_CP_UFFD_WP_RESOLVE) newpte = pteClearFlags(newpte, _PAGE_SWP_UFFD_WP);
      if (newpte !== oldpte) {
        yield* setPte(pte, newpte);
        pages++;
      }
    }
    pte += nr;
    addr += nr * PAGE_SIZE;
  } while (addr !== end);
  yield* pteUnmapUnlock(start, out.ptl);
  return pages;
}

/** The node of every page and of every CPU: the model has one. */
const NUMA_NO_NODE = -1;
const FOLIO_NID = 0;

/**
 * prot_numa_skip() (mm/mprotect.c, 6.18): an entry NUMA hinting leaves alone. Not modelled, as
 * they cannot happen here: zone-device and KSM folios, DMA pins (the model's GUP takes plain
 * references), tiered memory (one top-tier node, numa_balancing mode NORMAL).
 */
function protNumaSkip(vma: Vma, oldpte: Pte, targetNode: number): boolean {
  if (pteProtnone(oldpte)) return true; // avoid TLB flush if possible
  if (pteSpecial(oldpte)) return true; // vm_normal_page(): no folio (the zero page)
  const mem = current.k.mem;
  const pfn = ptePfn(oldpte);
  const head = mem.folioHead(pfn);
  touchFolio(head, false);
  // Also skip shared copy-on-write pages.
  if (isCowMapping(vma.flags) && folioMaybeMappedShared(head, pfn)) return true;
  // While migration can move some dirty pages, it cannot move them all from MIGRATE_ASYNC context.
  if (mem.type[head] === PT_FILE && mem.testFlags(head, PG_dirty)) return true;
  // Don't mess with PTEs if page is already on the node a single-threaded process is running on.
  return targetNode === FOLIO_NID;
}

/**
 * change_huge_pmd(): under the PMD lock; returns HPAGE_PMD_NR when done, 1 when NUMA hinting skips
 * it, 0 if the PMD changed meanwhile.
 */
function* changeHugePmd(tlb: MmuGather, vma: Vma, pmdp: number, addr: Vaddr, newprot: number, cpFlags: number): KGen<number> {
  const pml = pmdLockptr(vma.mm, pmdp);
  yield* spinLock(pml);
  const old = yield* ptepGet(pmdp);
  if (!pmdTransHuge(old)) {
    yield* spinUnlock(pml);
    return 0;
  }
  // prot_numa: avoid trapping faults against the zero page, and a PMD that is PAGE_NONE already
  // (handled: 1). No target-node check at this level, as in the kernel (measured: a single-threaded
  // process's huge PMDs take NUMA hinting faults on one node, its PTEs none; docs/model.md).
  if (cpFlags & MM_CP_PROT_NUMA && (isHugeZeroPmd(old) || pteProtnone(old))) {
    yield* spinUnlock(pml);
    return 1;
  }
  // pmdp_invalidate_ad() + set_pmd_at(): one store in the model, under the PMD lock (never a
  // cleared PMD in between, which a DONTNEED under the mmap_lock for read would skip).
  let entry = uffdWpApply(pteModify(old, newprot), cpFlags); // pmd_mkuffd_wp() / pmd_clear_uffd_wp()
  if (cpFlags & MM_CP_TRY_CHANGE_WRITABLE && !(pteFlags(entry) & _PAGE_RW) && pteFlags(entry) & _PAGE_USER && canChangePmdWritable(vma, entry)) {
    entry += _PAGE_RW;
  }
  yield* setPte(pmdp, entry);
  if (needsFlush(old, entry)) tlbFlushPmdRange(tlb, addr, HPAGE_PMD_SIZE);
  yield* spinUnlock(pml);
  return HPAGE_PMD_NR;
}
