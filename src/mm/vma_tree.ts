/**
 * The VMA tree of an mm (the maple tree, mm->mm_mt; include/linux/mm.h: find_vma(), vma_lookup(),
 * vma_next(), vma_prev()). Modelled coarsely: a sorted array searched by bisection.
 *
 * Lockless readers (lock_vma_under_rcu()) walk it under RCU, so every change must become visible in
 * one step, as a maple-tree store does: changes happen right after an `mtStore()` step
 * (primitives.ts). `assertTreeWrite()` checks that in the explorer.
 */
import { ModelBug } from './bug.js';
import { PAGE_SIZE, type Vaddr } from './const.js';
import type { MmStruct, Vma } from './mm_types.js';

/** find_vma(): the first VMA with end > addr, or null. */
export function findVma(mm: MmStruct, addr: Vaddr): Vma | null {
  const v = mm.vmas;
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo < v.length ? v[lo] : null;
}

/** vma_lookup(): the VMA containing addr, or null. */
export function vmaLookup(mm: MmStruct, addr: Vaddr): Vma | null {
  const vma = findVma(mm, addr);
  return vma && vma.start <= addr ? vma : null;
}

export function vmaIndex(mm: MmStruct, vma: Vma): number {
  const i = mm.vmas.indexOf(vma);
  if (i < 0) throw new ModelBug('VMA not in its mm');
  return i;
}
export function vmaPrev(mm: MmStruct, vma: Vma): Vma | null {
  const i = vmaIndex(mm, vma);
  return i > 0 ? mm.vmas[i - 1] : null;
}
export function vmaNext(mm: MmStruct, vma: Vma): Vma | null {
  const i = vmaIndex(mm, vma);
  return i + 1 < mm.vmas.length ? mm.vmas[i + 1] : null;
}

export function vmaPages(vma: Vma): number {
  return (vma.end - vma.start) / PAGE_SIZE;
}

/** A change to mm's tree (membership or bounds) is about to be made: only right after `mtStore(mm)`. */
export function assertTreeWrite(mm: MmStruct): void {
  const k = mm.kernel;
  if (k.checkTreeWrites && k.treeWriter !== mm) throw new ModelBug(`the VMA tree of ${mm.name} changed outside a maple-tree store step`);
}
