/**
 * shmem / memfd faults (mm/shmem.c: shmem_fault(), shmem_get_folio_gfp()): look the page up in
 * the file's page cache, allocating a zeroed folio for a hole (a PMD-size one when shmem THP is
 * allowed for the mapping and the aligned block fits the VMA).
 */
import { alignDown, HPAGE_PMD_NR, HPAGE_PMD_ORDER, PMD_SIZE, type Pfn } from './const.js';
import { current } from './current.js';
import { shmemAllocAndAdd, pageCacheLookup } from './filemap.js';
import { shmemAllowsHuge, thpVmaSuitablePmd } from './huge_memory.js';
import { VM_FAULT_LOCKED, VM_FAULT_OOM, VM_FAULT_SIGBUS, type AddressSpace, type VmFault } from './mm_types.js';
import { folioLock, type KGen } from './primitives.js';
import { folioRefAdd } from './swap.js';

/** shmem_fault(). */
export function* shmemFault(vmf: VmFault): KGen<number> {
  const vma = vmf.vma;
  const mapping = vma.file!;
  const mem = current.k.mem;
  const index = vmf.pgoff;
  if (index >= mapping.sizePages) return VM_FAULT_SIGBUS;
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
    if (head < 0) return VM_FAULT_OOM;
    page = (head + (huge ? index - base : 0)) as Pfn;
  }
  const head = mem.folioHead(page);
  folioRefAdd(head, 1);
  yield* folioLock(head);
  vmf.page = page;
  return VM_FAULT_LOCKED;
}

function rangeIsHole(mapping: AddressSpace, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (pageCacheLookup(mapping, i) !== 0) return false;
  return true;
}
