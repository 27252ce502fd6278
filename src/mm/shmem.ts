/**
 * shmem / memfd faults (mm/shmem.c: shmem_fault(), shmem_get_folio_gfp()): look the page up in
 * the file's page cache, allocating a zeroed folio for a hole (a PMD-size one when shmem THP is
 * allowed for the mapping and the aligned block fits the VMA).
 */
import { alignDown, HPAGE_PMD_NR, HPAGE_PMD_ORDER, PMD_SIZE, type Pfn } from './const.js';
import { current } from './current.js';
import { folioGetLockIfMapped, shmemAllocAndAdd, pageCacheLookup } from './filemap.js';
import { shmemAllowsHuge, thpVmaSuitablePmd } from './huge_memory.js';
import { VM_FAULT_LOCKED, VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_UFFD_MINOR, VM_UFFD_MISSING, type AddressSpace, type VmFault } from './mm_types.js';
import { handleUserfault } from './userfaultfd.js';
import type { KGen } from './primitives.js';

/** shmem_fault(). */
export function* shmemFault(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const mapping = vma.file!;
  const mem = current.k.mem;
  const index = vmf.pgoff;
  if (index >= mapping.sizePages) return VM_FAULT_SIGBUS;
  for (;;) {
    // repeat: (shmem_get_folio_gfp())
    // A folio in the cache of a VMA registered for minor faults, or none in a VMA registered for
    // missing ones: the fault goes to userland (shmem_get_folio_gfp(): handle_userfault()).
    const cached = pageCacheLookup(mapping, index);
    if (cached ? vma.flags & VM_UFFD_MINOR : vma.flags & VM_UFFD_MISSING) return handleUserfault();
    const page = shmemFindOrAdd(vmf, mapping, index);
    if (page < 0) return VM_FAULT_OOM;
    // Has the folio been truncated or swapped out?
    if (!(yield* folioGetLockIfMapped(mapping, mem.folioHead(page as Pfn)))) continue;
    vmf.page = page as Pfn;
    return VM_FAULT_LOCKED;
  }
}

/** The page at index, or a new folio added for a hole (-1: out of memory). */
function shmemFindOrAdd(vmf: VmFault, mapping: AddressSpace, index: number): number {
  const vma = vmf.vma;
  let page = pageCacheLookup(mapping, index);
  if (!page) {
    const base = alignDown(index, HPAGE_PMD_NR);
    // shmem_allowable_huge_orders(), then shmem_suitable_orders(): the aligned block lies in the
    // VMA and holds no page yet. It may reach past i_size (always/advise on a grown mapping): a
    // PMD maps across i_size for shmem, though a PTE fault past it is SIGBUS.
    const huge =
      shmemAllowsHuge(vma, false, mapping, index) &&
      thpVmaSuitablePmd(vma, alignDown(vmf.address, PMD_SIZE)) &&
      rangeIsHole(mapping, base, HPAGE_PMD_NR);
    const head = shmemAllocAndAdd(mapping, index, huge ? HPAGE_PMD_ORDER : 0);
    if (head < 0) return -1;
    page = (head + (huge ? index - base : 0)) as Pfn;
  }
  return page;
}

function rangeIsHole(mapping: AddressSpace, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (pageCacheLookup(mapping, i) !== 0) return false;
  return true;
}
