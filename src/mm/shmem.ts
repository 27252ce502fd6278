/**
 * shmem / memfd faults (mm/shmem.c: shmem_fault(), shmem_get_folio_gfp()): look the page up in
 * the file's page cache, allocating a zeroed folio for a hole (a PMD-size one when shmem THP is
 * allowed for the mapping and the aligned block fits the VMA).
 */
import { alignDown, HPAGE_PMD_NR, HPAGE_PMD_ORDER, PMD_SIZE, type Pfn, alignUp } from './const.js';
import { current } from './current.js';
import { folioGetLockIfMapped, pageCacheLookup } from './filemap.js';
import { filemapAddFolio } from './page_cache.js';
import {
  VM_FAULT_LOCKED,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_UFFD_MINOR,
  VM_UFFD_MISSING,
  type AddressSpace,
  type VmFault,
  type Vma,
  VM_NOHUGEPAGE,
  VM_HUGEPAGE,
} from './mm_types.js';
import type { KGen } from './primitives.js';
import { thpVmaSuitablePmd, handleUserfault } from './internal.js';
import { PT_SHMEM, PG_uptodate, PG_swapbacked } from './page_alloc.js';

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

/**
 * shmem_allowable_huge_orders() → shmem_huge_global_enabled() for the PMD order (mm/shmem.c),
 * given /sys/kernel/mm/transparent_hugepage/shmem_enabled (the per-size hugepages-2048kB knob is
 * `inherit`, so anonymous shmem follows it too). `force` is MADV_COLLAPSE's shmem_huge_force.
 * `within_size` asks that i_size reach the end of the aligned block holding `index`.
 */
export function shmemAllowsHuge(vma: Vma | null, force: boolean, mapping?: AddressSpace, index = 0): boolean {
  const mode = current.k.cfg.shmemThp;
  if (vma && vma.flags & VM_NOHUGEPAGE) return false; // vma_thp_disabled()
  if (mode === 'deny') return false;
  if (force || mode === 'force') return true;
  if (mode === 'always') return true;
  // shmem_get_orders_within_size(): round_up(index + 1, HPAGE_PMD_NR) <= i_size in pages
  if (mode === 'within_size' && mapping && mapping.sizePages >= alignUp(index + 1, HPAGE_PMD_NR)) return true;
  // within_size falls through to advise
  if (mode === 'within_size' || mode === 'advise') return vma !== null && (vma.flags & VM_HUGEPAGE) !== 0;
  return false;
}

/** Page-cache folio of a shmem file (shmem_alloc_folio() + filemap_add_folio()). */
export function shmemAllocAndAdd(mapping: AddressSpace, index: number, order: number): Pfn {
  const mem = current.k.mem;
  const head = mem.allocPages(order, PT_SHMEM);
  if (head < 0) return head;
  mem.setFlags(head, PG_uptodate | PG_swapbacked);
  filemapAddFolio(mapping, head, order ? alignDown(index, 1 << order) : index);
  return head;
}
