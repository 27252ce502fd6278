/**
 * NUMA hinting on one node (CONFIG_NUMA_BALANCING, kernel.numa_balancing=1): the scanner that makes
 * entries PAGE_NONE (kernel/sched/fair.c: task_numa_work(); mm/mempolicy.c: change_prot_numa()),
 * and the hinting faults that make them accessible again (mm/memory.c: do_numa_page();
 * mm/huge_memory.c: do_huge_pmd_numa_page()). The scanner holds the mmap_lock for read and no VMA
 * lock, so a per-VMA MADV_DONTNEED may zap and reclaim the table it walks (docs/audit.md #15, #32).
 *
 * One node: numa_migrate_check() finds every folio on the node it would move it to
 * (mpol_misplaced() gives NUMA_NO_NODE), so a hinting fault never migrates; it only maps the entry
 * again. Measured on this machine's 6.18 (one node, numa_balancing=1; docs/model.md): a
 * single-threaded process's private small pages take no hinting fault (prot_numa_skip()'s
 * target-node check), its THPs and a two-threaded process's pages one each.
 * Left out: the scan's pacing (numa_next_scan, scan periods, vma->numab_state and its PID
 * filter): a task stands for the scan reaching its range. Task placement and NUMA statistics.
 */
import { alignUp, EBUSY, HPAGE_PMD_SIZE, PAGE_SIZE, PMD_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import { VM_HUGETLB, VM_MIXEDMAP, VM_PFNMAP, VM_READ, VM_WRITE, type MmStruct, type Vma, type VmFault } from './mm_types.js';
import { tlbFinishMmu, tlbGatherMmu } from './mmu_gather.js';
import { _PAGE_ACCESSED, _PAGE_RW, ptePfn, ptePresent, pteProtnone, pteSetFlags, pteSpecial, pteWrite, type Pte } from './pgtable_types.js';
import {
  condResched,
  downReadTrylock,
  ptepGet,
  ptepGetAndClear,
  setPte,
  spinLock,
  spinUnlock,
  trylockContendedElsewhere,
  upRead,
  type KGen,
} from './primitives.js';
import { pteUnmapUnlock } from './pgtable_generic.js';
import { pmdLockptr } from './ptlock.js';
import { touchFolio } from './swap.js';
import { findVma } from './vma_tree.js';
import { vmaIsAccessible, vmaPageProt } from './internal.js';
import {
  canChangePmdWritable,
  canChangePteWritable,
  changeProtection,
  MM_CP_PROT_NUMA,
  pteModify,
  vmaWantsManualPteWriteUpgrade,
} from './change_protection.js';

/** sysctl_numa_balancing_scan_size: MiB of pages one task_numa_work() pass may update (default 256). */
const SCAN_SIZE_MB = 256;

/**
 * task_numa_work() (kernel/sched/fair.c, 6.18) over the VMAs of [start, end): nothing when the
 * mmap_lock is contended (mmap_read_trylock() fails; returns -EBUSY here, the kernel returns);
 * else each suitable VMA in chunks of at most the scan size, aligned to HPAGE_SIZE. Returns the
 * entries made PAGE_NONE.
 */
export function* taskNumaWork(mm: MmStruct, start: Vaddr, end: Vaddr): KGen<number> {
  let pages = (SCAN_SIZE_MB << 20) / PAGE_SIZE;
  let virtpages = pages * 8; // scan up to this much virtual space
  if (trylockContendedElsewhere() || !(yield* downReadTrylock(mm.mmapLock))) return -EBUSY;
  let updated = 0;
  scan: for (let vma = findVma(mm, start); vma && vma.start < end; vma = findVma(mm, vma.end)) {
    if (!numaScannable(vma)) continue;
    const vmEnd = Math.min(vma.end, end);
    let chunkEnd: Vaddr;
    do {
      start = Math.max(start, vma.start);
      chunkEnd = Math.min(alignUp(start + pages * PAGE_SIZE, HPAGE_PMD_SIZE), vmEnd);
      const nrPteUpdates = yield* changeProtNuma(vma, start, chunkEnd);
      updated += nrPteUpdates;
      if (nrPteUpdates) pages -= (chunkEnd - start) / PAGE_SIZE;
      virtpages -= (chunkEnd - start) / PAGE_SIZE;
      start = chunkEnd;
      if (pages <= 0 || virtpages <= 0) break scan;
      yield* condResched();
    } while (chunkEnd !== vmEnd);
  }
  yield* upRead(mm.mmapLock);
  return updated;
}

/**
 * task_numa_work()'s VMA filter: vma_migratable() (no VM_IO/VM_PFNMAP; hugetlb is not modelled),
 * vma_policy_mof() (a shmem VMA asks its shared policy, which is none: skipped; others take the
 * task's default policy, which has MPOL_F_MOF), no VM_MIXEDMAP, no read-only file mapping (shared
 * libraries are expected to be cache-replicated), and accessible (not PROT_NONE).
 */
function numaScannable(vma: Vma): boolean {
  if (vma.flags & (VM_PFNMAP | VM_HUGETLB | VM_MIXEDMAP)) return false;
  if (vma.isShmem()) return false;
  if (vma.file && (vma.flags & (VM_READ | VM_WRITE)) === VM_READ) return false;
  return vmaIsAccessible(vma);
}

/** change_prot_numa() (mm/mempolicy.c): change_protection(MM_CP_PROT_NUMA) in its own mmu_gather. */
export function* changeProtNuma(vma: Vma, addr: Vaddr, end: Vaddr): KGen<number> {
  const tlb = tlbGatherMmu(vma.mm);
  const nrUpdated = yield* changeProtection(tlb, vma, addr, end, MM_CP_PROT_NUMA);
  yield* tlbFinishMmu(tlb);
  return nrUpdated;
}

/** pte_modify(entry, vma->vm_page_prot) / pmd_modify(). */
function modifyToVmaProt(v: Pte, vma: Vma): Pte {
  return pteModify(v, vmaPageProt(vma));
}

/**
 * do_numa_page() (mm/memory.c, 6.18), reached from handle_pte_fault() for a PAGE_NONE entry of an
 * accessible VMA, with vmf->pte mapped by pte_offset_map_rw_nolock() and no lock held. Under the
 * PTE lock the live entry must still be orig_pte: a present entry never matches an entry of a
 * detached table (only none entries are left in a table reclaim frees), so no PMD recheck is
 * needed, as for the other pte_same() users (race R5). One node: never migrates (goto out_map).
 */
export function* doNumaPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  yield* spinLock(vmf.ptl);
  const oldPte = yield* ptepGet(vmf.pte); // read the live PTE from the page tables
  if (oldPte !== vmf.origPte) {
    yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
    return 0;
  }
  const pte = modifyToVmaProt(oldPte, vma);
  // Detect now whether the PTE could be writable; only valid while holding the PT lock.
  const pteWriteUpgrade = vmaWantsManualPteWriteUpgrade(vma);
  let writable = pteWrite(pte);
  if (!writable && pteWriteUpgrade && canChangePteWritable(vma, pte)) writable = true;
  const mem = current.k.mem;
  const folio = pteSpecial(pte) ? 0 : mem.folioHead(ptePfn(pte)); // vm_normal_folio()
  if (folio) touchFolio(folio, false);
  // numa_migrate_check(): the folio is on the only node, mpol_misplaced() = NUMA_NO_NODE: out_map.
  if (folio && mem.order[folio] > 0) yield* numaRebuildLargeMapping(vmf, folio, pte, false, pteWriteUpgrade);
  else yield* numaRebuildSingleMapping(vmf.pte, vma, writable);
  yield* pteUnmapUnlock(vmf.pte, vmf.ptl);
  return 0;
}

/** numa_rebuild_single_mapping(): make it present again, young, and writable if it may be. */
function* numaRebuildSingleMapping(ptep: number, vma: Vma, writable: boolean): KGen<void> {
  const oldPte = yield* ptepGetAndClear(ptep); // ptep_modify_prot_start()
  let pte = pteSetFlags(modifyToVmaProt(oldPte, vma), _PAGE_ACCESSED); // pte_mkyoung()
  if (writable) pte = pteSetFlags(pte, _PAGE_RW); // pte_mkwrite()
  yield* setPte(ptep, pte); // ptep_modify_prot_commit()
}

/**
 * numa_rebuild_large_mapping(): every PAGE_NONE entry of the same large folio in this table and
 * VMA is rebuilt, each judged writable on its own (unless ignore_writable).
 */
function* numaRebuildLargeMapping(vmf: VmFault, folio: number, faultPte: Pte, ignoreWritable: boolean, pteWriteUpgrade: boolean): KGen<void> {
  const vma = vmf.vma;
  const mem = current.k.mem;
  const nr = ptePfn(faultPte) - folio;
  const addrStart = vmf.address - nr * PAGE_SIZE;
  const ptStart = vmf.address - (vmf.address % PMD_SIZE);
  // Stay within the VMA and within the page table.
  const start = Math.max(addrStart, ptStart, vma.start);
  const end = Math.min(addrStart + PAGE_SIZE * 2 ** mem.order[folio], ptStart + PMD_SIZE, vma.end);
  let ptep = vmf.pte - (vmf.address - start) / PAGE_SIZE;
  for (let addr = start; addr !== end; ptep++, addr += PAGE_SIZE) {
    let ptent = yield* ptepGet(ptep);
    let writable = false;
    if (!ptePresent(ptent) || !pteProtnone(ptent)) continue;
    if (mem.folioHead(ptePfn(ptent)) !== folio) continue;
    if (!ignoreWritable) {
      ptent = modifyToVmaProt(ptent, vma);
      writable = pteWrite(ptent);
      if (!writable && pteWriteUpgrade && canChangePteWritable(vma, ptent)) writable = true;
    }
    yield* numaRebuildSingleMapping(ptep, vma, writable);
  }
}

/**
 * do_huge_pmd_numa_page() (mm/huge_memory.c, 6.18): under the PMD lock, the PMD must still be
 * orig_pmd; then (one node: never migrates) it is made accessible again, young, and writable if it
 * may be.
 */
export function* doHugePmdNumaPage(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const ptl = pmdLockptr(vma.mm, vmf.pmd);
  yield* spinLock(ptl);
  const oldPmd = yield* ptepGet(vmf.pmd);
  if (oldPmd !== vmf.origPmd) {
    yield* spinUnlock(ptl);
    return 0;
  }
  let pmd = modifyToVmaProt(oldPmd, vma);
  let writable = pteWrite(pmd);
  if (!writable && vmaWantsManualPteWriteUpgrade(vma) && canChangePmdWritable(vma, pmd)) writable = true;
  // out_map: restore the PMD.
  pmd = pteSetFlags(modifyToVmaProt(yield* ptepGet(vmf.pmd), vma), _PAGE_ACCESSED); // pmd_mkyoung()
  if (writable) pmd = pteSetFlags(pmd, _PAGE_RW); // pmd_mkwrite()
  yield* setPte(vmf.pmd, pmd);
  yield* spinUnlock(ptl);
  return 0;
}
