/**
 * What several of the kernel's .c files share, as mm/internal.h and the include/linux headers
 * share it: small helpers and the few functions the fault handlers of other files call back. They
 * live here, not beside their callers, so that the modules of src/mm form no import cycle (the
 * kernel's files call each other through header declarations; ES modules need a layer order;
 * docs/architecture.md, "Inside src/mm"). Each function names the kernel file that defines it.
 */
import { ModelBug } from './bug.js';
import { alignDown, HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SIZE, PMD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import {
  __VM_UFFD_FLAGS,
  FAULT_FLAG_VMA_LOCK,
  FAULT_FLAG_WRITE,
  VM_EXEC,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_NOHUGEPAGE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  type Vma,
  type VmFault,
} from './mm_types.js';
import { PG_dirty } from './page_alloc.js';
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, mkPte } from './pgtable_types.js';
import { downReadTrylock, setPte, upRead, type KGen } from './primitives.js';
import { anonVmaPrepare, folioAddFileRmapPtes, folioAddNewAnonRmapPtes } from './rmap.js';

// include/linux/mm.h

/** vma_is_accessible() (include/linux/mm.h). */
export function vmaIsAccessible(vma: Vma): boolean {
  return (vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) !== 0;
}

/**
 * The protection bits of a new PTE (mm/mmap.c: vm_get_page_prot(): private mappings start
 * read-only; shared writable ones without write-notify are writable). PROT_NONE: the model keeps
 * _PAGE_PRESENT and drops _PAGE_USER, where x86 sets _PAGE_PROTNONE instead of _PAGE_PRESENT;
 * both are pte_present() and fault on every user access (docs/model.md).
 */
export function vmaPageProt(vma: Vma): number {
  const writable = (vma.flags & VM_SHARED) !== 0 && (vma.flags & VM_WRITE) !== 0 && !vmaWantsWritenotify(vma);
  const user = (vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) !== 0;
  return _PAGE_PRESENT | (user ? _PAGE_USER : 0) | (writable ? _PAGE_RW : 0);
}

/** vma_wants_writenotify() (mm/mmap.c): shared file mappings with dirty accounting (not shmem) write-protect. */
export function vmaWantsWritenotify(vma: Vma): boolean {
  return (vma.flags & VM_SHARED) !== 0 && vma.file !== null && vma.file.kind === 'file';
}

// mm/memory.c, declared in mm/internal.h and include/linux/mm.h: called back by the fault
// handlers of other files (huge_memory.ts, filemap.ts)

/**
 * vmf_anon_prepare() (mm/memory.c, 6.18: __vmf_anon_prepare()): an anon_vma is needed. Under the
 * per-VMA lock, anon_vma_prepare() needs the mmap_lock too: a trylock, and RETRY (the fault runs
 * again under the mmap_lock) when a writer holds it.
 */
export function* vmfAnonPrepare(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  if (vma.anonVma) return 0;
  const vmaLocked = (vmf.flags & FAULT_FLAG_VMA_LOCK) !== 0;
  if (vmaLocked && !(yield* downReadTrylock(vma.mm.mmapLock))) return VM_FAULT_RETRY;
  anonVmaPrepare(vma);
  if (vmaLocked) yield* upRead(vma.mm.mmapLock);
  return 0;
}

/**
 * set_pte_range() (mm/memory.c): map nr pages of one folio starting at page pfn / address addr, taking the rmap
 * (and, for a COW page, the new anon rmap). The caller holds the PTE lock and accounts RSS.
 * For file pages it takes the per-PTE references beyond the one the caller already holds.
 */
export function* setPteRange(vmf: VmFault, pfn: Pfn, nr: number, addr: Vaddr, ptep: number): KGen<void> {
  const vma = vmf.vma;
  const k = current.k;
  const write = (vmf.flags & FAULT_FLAG_WRITE) !== 0;
  const head = k.mem.folioHead(pfn);
  let flags = vmaPageProt(vma) | _PAGE_ACCESSED;
  if (write) {
    flags |= _PAGE_DIRTY;
    if (vma.flags & VM_WRITE) flags |= _PAGE_RW; // maybe_mkwrite()
  } else if (flags & _PAGE_RW && k.mem.testFlags(head, PG_dirty)) {
    flags |= _PAGE_DIRTY;
  }
  if (write && !(vma.flags & VM_SHARED)) {
    if (nr !== 1) throw new ModelBug('COW of more than one page');
    folioAddNewAnonRmapPtes(pfn, 1, vmf.vma.mm);
  } else {
    folioAddFileRmapPtes(pfn, nr, vmf.vma.mm);
  }
  void addr;
  for (let i = 0; i < nr; i++) yield* setPte(ptep + i, mkPte((pfn + i) as Pfn, flags));
}

// include/linux/huge_mm.h

/**
 * thp_vma_suitable_order(PMD_ORDER) (include/linux/huge_mm.h): the aligned 2 MiB block lies inside
 * the VMA (and, for files, is aligned in the file).
 */
export function thpVmaSuitablePmd(vma: Vma, addr: Vaddr): boolean {
  const haddr = alignDown(addr, PMD_SIZE);
  if (haddr < vma.start || haddr + HPAGE_PMD_SIZE > vma.end) return false;
  if (!vma.isAnonymous() && (vma.start / PAGE_SIZE - vma.pgoff) % HPAGE_PMD_NR !== 0) return false;
  return true;
}

/** vma_thp_disabled() (include/linux/huge_mm.h). */
export function vmaThpDisabled(vma: Vma): boolean {
  return (vma.flags & VM_NOHUGEPAGE) !== 0;
}

// include/linux/userfaultfd_k.h

/** userfaultfd_armed() (include/linux/userfaultfd_k.h). */
export function userfaultfdArmed(vma: Vma): boolean {
  return (vma.flags & __VM_UFFD_FLAGS) !== 0;
}

/**
 * vma_has_uffd_without_event_remap() (include/linux/userfaultfd_k.h): the VMA is registered with a
 * context that did not ask for UFFD_FEATURE_EVENT_REMAP, which no context of the model does. mremap
 * then clears the uffd-wp bits it moves, and moves no whole tables (the new VMA is unregistered).
 */
export function vmaHasUffdWithoutEventRemap(vma: Vma): boolean {
  return userfaultfdArmed(vma);
}

/**
 * handle_userfault() (fs/userfaultfd.c): a fault the context must resolve. Every context of the
 * model has UFFD_FEATURE_SIGBUS, so this is the `goto out` with VM_FAULT_SIGBUS.
 */
export function handleUserfault(): number {
  return VM_FAULT_SIGBUS;
}
