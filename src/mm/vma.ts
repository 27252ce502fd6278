/**
 * VMA bookkeeping (mm/vma.c, mm/mmap.c, mm/rmap.c): lookup, insertion, split, merge of compatible
 * neighbours, the anon_vma, i_mmap membership, and the per-VMA lock's sequence-number scheme.
 *
 * Modelled coarsely: the maple tree is a chunked sorted list (vma_tree.ts); anon_vma chains are
 * one AnonVma object shared by the pieces of a split VMA.
 */
import { ModelBug } from './bug.js';
import { PAGE_SIZE, type Vaddr } from './const.js';
import { current } from './current.js';
import { splitHugePmdIfNeeded } from './huge_memory.js';
import { AnonVma, VM_LOCKED_MASK, Vma, type MmStruct } from './mm_types.js';
import type { KGen } from './primitives.js';

/** find_vma(): the first VMA with end > addr, or null. */
export function findVma(mm: MmStruct, addr: Vaddr): Vma | null {
  return mm.vmas.findEndAbove(addr);
}

/** vma_lookup(): the VMA containing addr, or null. */
export function vmaLookup(mm: MmStruct, addr: Vaddr): Vma | null {
  const vma = findVma(mm, addr);
  return vma && vma.start <= addr ? vma : null;
}

function notInMm(): never {
  throw new ModelBug('VMA not in its mm');
}
export function vmaPrev(mm: MmStruct, vma: Vma): Vma | null {
  const p = mm.vmas.prev(vma);
  return p === undefined ? notInMm() : p;
}
export function vmaNext(mm: MmStruct, vma: Vma): Vma | null {
  const n = mm.vmas.next(vma);
  return n === undefined ? notInMm() : n;
}

export function vmaPages(vma: Vma): number {
  return (vma.end - vma.start) / PAGE_SIZE;
}

/** vma_link(): insert into the mm's tree and the file's i_mmap. */
export function vmaLink(mm: MmStruct, vma: Vma): void {
  const [before, after] = mm.vmas.around(vma.start);
  if ((before && before.end > vma.start) || (after && after.start < vma.end)) {
    throw new ModelBug(`vma_link: [${vma.start}, ${vma.end}) overlaps an existing VMA`);
  }
  mm.vmas.insert(vma);
  if (vma.file) vma.file.iMmap.push(vma);
  mm.totalVm += vmaPages(vma);
  if (vma.flags & VM_LOCKED_MASK) mm.lockedVm += vmaPages(vma);
}

/** Remove from the tree (detach) and, if asked, from i_mmap (unlink_file_vma()). */
export function vmaUnlink(mm: MmStruct, vma: Vma, unlinkFile: boolean): void {
  if (!mm.vmas.remove(vma)) notInMm();
  vmaDetached(mm, vma, unlinkFile);
}

/** What leaving the tree changes besides the tree: i_mmap if asked, the mm's counters, the VMA's state. */
export function vmaDetached(mm: MmStruct, vma: Vma, unlinkFile: boolean): void {
  if (unlinkFile) unlinkFileVma(vma);
  mm.totalVm -= vmaPages(vma);
  if (vma.flags & VM_LOCKED_MASK) mm.lockedVm -= vmaPages(vma);
  vma.detached = true;
}

/** unlink_file_vma(): after this no rmap walker (retract_page_tables()) can find the VMA. */
export function unlinkFileVma(vma: Vma): void {
  if (!vma.file) return;
  const i = vma.file.iMmap.indexOf(vma);
  if (i >= 0) vma.file.iMmap.splice(i, 1);
}

/** __anon_vma_prepare(). */
export function anonVmaPrepare(vma: Vma): void {
  if (vma.anonVma) return;
  vma.anonVma = new AnonVma(current.k.nextAnonVma++);
}

/**
 * __split_vma(): split at addr; returns the new VMA, which is the lower part when newBelow.
 * Both halves keep the anon_vma, the file and its i_mmap membership.
 */
export function* splitVma(mm: MmStruct, vma: Vma, addr: Vaddr, newBelow: boolean): KGen<Vma> {
  if (addr <= vma.start || addr >= vma.end || addr % PAGE_SIZE) throw new ModelBug(`bad split of [${vma.start}, ${vma.end}) at ${addr}`);
  // vma_adjust_trans_huge(): a PMD-mapped THP cannot straddle the new boundary.
  yield* splitHugePmdIfNeeded(vma, addr);
  const nw = new Vma(mm, vma.start, vma.end, vma.flags, vma.file, vma.pgoff);
  nw.anonVma = vma.anonVma;
  nw.anonShared = vma.anonShared;
  nw.name = vma.name;
  if (newBelow) {
    nw.end = addr;
    vma.pgoff += (addr - vma.start) / PAGE_SIZE;
    vma.start = addr;
  } else {
    nw.start = addr;
    nw.pgoff += (addr - vma.start) / PAGE_SIZE;
    vma.end = addr;
  }
  if (!mm.vmas.has(vma)) notInMm();
  mm.vmas.insert(nw); // by start: before vma when newBelow, after it otherwise
  if (nw.file) nw.file.iMmap.push(nw);
  return nw;
}

/** is_mergeable_vma() + is_mergeable_anon_vma() + contiguous pgoff: can b follow a directly? */
export function canMerge(a: Vma, b: Vma): boolean {
  if (a.end !== b.start || a.flags !== b.flags || a.file !== b.file || a.anonShared !== b.anonShared) return false;
  if (a.anonVma && b.anonVma && a.anonVma !== b.anonVma) return false;
  // (The model's per-mapping name is a label, not an anon_vma_name: the kernel runner names no
  // VMA, so mappings of different script names merge as the kernel merges them.)
  return a.pgoff + vmaPages(a) === b.pgoff;
}

/** Merge b into a (b is removed). */
function mergeInto(mm: MmStruct, a: Vma, b: Vma): void {
  a.end = b.end;
  a.anonVma ??= b.anonVma;
  if (!mm.vmas.remove(b)) notInMm();
  unlinkFileVma(b);
  b.detached = true;
}

/** Merge vma with compatible neighbours (vma_merge_existing_range()); returns the survivor. */
export function vmaMergeNeighbours(mm: MmStruct, vma: Vma): Vma {
  const next = vmaNext(mm, vma);
  if (next && canMerge(vma, next)) mergeInto(mm, vma, next);
  const prev = vmaPrev(mm, vma);
  if (prev && canMerge(prev, vma)) {
    mergeInto(mm, prev, vma);
    return prev;
  }
  return vma;
}

/**
 * vma_modify_flags(): give [start, end) of vma the new flags, splitting at the boundaries and
 * merging with neighbours afterwards, as madvise() and mlock() do. Returns the VMA now covering
 * the range.
 */
export function* vmaModifyFlags(mm: MmStruct, vma: Vma, start: Vaddr, end: Vaddr, flags: number): KGen<Vma> {
  if (flags === vma.flags) return vma;
  if (start > vma.start) yield* splitVma(mm, vma, start, true);
  if (end < vma.end) yield* splitVma(mm, vma, end, false);
  const pages = vmaPages(vma);
  if ((vma.flags & VM_LOCKED_MASK) && !(flags & VM_LOCKED_MASK)) mm.lockedVm -= pages;
  if (!(vma.flags & VM_LOCKED_MASK) && (flags & VM_LOCKED_MASK)) mm.lockedVm += pages;
  vma.flags = flags;
  return vmaMergeNeighbours(mm, vma);
}

