/**
 * An mm's VMAs in address order (include/linux/mm_types.h: `mm->mm_mt`, the maple tree).
 * Modelled coarsely: not a B-tree of ranges but a sorted list cut into chunks of at most
 * 2 × CHUNK VMAs, so that finding, inserting and removing a VMA cost a binary search and a short
 * splice however many VMAs there are. A plain sorted array made a process of 50,000 mappings
 * quadratic to build and to tear down (issue 15, D13).
 *
 * VMAs are ordered by start; starts are unique. While a split or merge is under way two VMAs may
 * overlap by their ends (vma.ts), never by their starts, so every lookup by VMA goes by start.
 *
 * Lockless readers (lock_vma_under_rcu()) walk it under RCU, so every change must become visible in
 * one step, as a maple-tree store does: changes happen right after an `mtStore()` step
 * (primitives.ts). `assertTreeWrite()` checks that in the explorer.
 */
import { ModelBug } from './bug.js';
import { PAGE_SIZE, type Vaddr } from './const.js';
import type { MmStruct, Vma } from './mm_types.js';
import { obj, OBJ } from './objects.js';

/** find_vma(): the first VMA with end > addr, or null. */
export function findVma(mm: MmStruct, addr: Vaddr): Vma | null {
  return mm.vmas.findEndAbove(addr);
}

/** vma_lookup(): the VMA containing addr, or null. */
export function vmaLookup(mm: MmStruct, addr: Vaddr): Vma | null {
  const vma = findVma(mm, addr);
  return vma && vma.start <= addr ? vma : null;
}

/**
 * vma_lookup() by a path that holds neither the mmap_lock nor a VMA lock (compaction, reclaim,
 * writeback meet a folio and look at the VMA that maps it): the read of the tree is recorded, so
 * that the explorer orders it with the steps that change the tree (src/mm/objects.ts).
 */
export function vmaLookupUnlocked(mm: MmStruct, addr: Vaddr): Vma | null {
  mm.kernel.rec.touch(obj(OBJ.tree, mm.id), false);
  return vmaLookup(mm, addr);
}

export function notInMm(): never {
  throw new ModelBug('VMA not in its mm');
}
/** vma_prev(). */
export function vmaPrev(mm: MmStruct, vma: Vma): Vma | null {
  const p = mm.vmas.prev(vma);
  return p === undefined ? notInMm() : p;
}
/** vma_next(). */
export function vmaNext(mm: MmStruct, vma: Vma): Vma | null {
  const n = mm.vmas.next(vma);
  return n === undefined ? notInMm() : n;
}

export function vmaPages(vma: Vma): number {
  return (vma.end - vma.start) / PAGE_SIZE;
}

/** A change to mm's tree (membership or bounds) is about to be made: only right after `mtStore(mm)`. */
export function assertTreeWrite(mm: MmStruct): void {
  const k = mm.kernel;
  if (k.checkTreeWrites && k.treeWriter !== mm) throw new ModelBug(`the VMA tree of ${mm.name} changed outside a maple-tree store step`);
}

const CHUNK = 256;

export class VmaTree implements Iterable<Vma> {
  /** Sorted by start; no chunk is empty. */
  private chunks: Vma[][] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** In order, over a copy (no generator syntax in src/mm: tools/gen-fast.mjs rewrites it). */
  [Symbol.iterator](): Iterator<Vma> {
    return this.slice()[Symbol.iterator]();
  }

  /** Every VMA, in order, as an array (a copy). */
  slice(): Vma[] {
    return this.chunks.flat();
  }

  map<T>(f: (v: Vma) => T): T[] {
    return this.slice().map(f);
  }

  filter(f: (v: Vma) => boolean): Vma[] {
    return this.slice().filter(f);
  }

  /** __mt_destroy(). */
  clear(): void {
    this.chunks = [];
    this.count = 0;
  }

  /**
   * [chunk, index] of the first VMA for which `below` is false, `below` being true of a prefix of
   * the order (chunk = chunks.length when it holds of every VMA): two binary searches.
   */
  private seek(below: (v: Vma) => boolean): [number, number] {
    const cs = this.chunks;
    const first = <T>(n: number, at: (i: number) => T, yes: (x: T) => boolean): number => {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (yes(at(mid))) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const ci = first(cs.length, (i) => cs[i][cs[i].length - 1], below);
    return ci === cs.length ? [ci, 0] : [ci, first(cs[ci].length, (i) => cs[ci][i], below)];
  }

  /** find_vma(): the first VMA with end > addr, or null. */
  findEndAbove(addr: Vaddr): Vma | null {
    const [ci, i] = this.seek((v) => v.end <= addr);
    return this.chunks[ci]?.[i] ?? null;
  }

  /** [chunk, index] of the first VMA whose start is at or above `start` (chunk = chunks.length when none). */
  private position(start: Vaddr): [number, number] {
    return this.seek((v) => v.start < start);
  }

  /** Where vma sits, or undefined when it is not in the tree. */
  private locate(vma: Vma): [number, number] | undefined {
    const [ci, i] = this.position(vma.start);
    return this.chunks[ci]?.[i] === vma ? [ci, i] : undefined;
  }

  has(vma: Vma): boolean {
    return this.locate(vma) !== undefined;
  }

  /** The VMA before the first one starting at or above `start`, and that one (null where none). */
  around(start: Vaddr): [Vma | null, Vma | null] {
    const [ci, i] = this.position(start);
    const at = this.chunks[ci]?.[i] ?? null;
    const before = i > 0 ? this.chunks[ci][i - 1] : ci > 0 ? this.chunks[ci - 1][this.chunks[ci - 1].length - 1] : null;
    return [before, at];
  }

  /** The VMA before vma (vma_prev()), or null; undefined when vma is not in the tree. */
  prev(vma: Vma): Vma | null | undefined {
    const p = this.locate(vma);
    if (!p) return undefined;
    const [ci, i] = p;
    if (i > 0) return this.chunks[ci][i - 1];
    return ci > 0 ? this.chunks[ci - 1][this.chunks[ci - 1].length - 1] : null;
  }

  /** The VMA after vma (vma_next()), or null; undefined when vma is not in the tree. */
  next(vma: Vma): Vma | null | undefined {
    const p = this.locate(vma);
    if (!p) return undefined;
    const [ci, i] = p;
    if (i + 1 < this.chunks[ci].length) return this.chunks[ci][i + 1];
    return ci + 1 < this.chunks.length ? this.chunks[ci + 1][0] : null;
  }

  /** Insert by start (the caller has checked that it overlaps nothing). */
  insert(vma: Vma): void {
    this.count++;
    if (this.chunks.length === 0) {
      this.chunks.push([vma]);
      return;
    }
    let [ci, i] = this.position(vma.start);
    if (ci === this.chunks.length) [ci, i] = [ci - 1, this.chunks[ci - 1].length];
    const c = this.chunks[ci];
    c.splice(i, 0, vma);
    if (c.length > 2 * CHUNK) this.chunks.splice(ci, 1, c.slice(0, CHUNK), c.slice(CHUNK));
  }

  /** Remove vma; false when it is not in the tree. */
  remove(vma: Vma): boolean {
    const p = this.locate(vma);
    if (!p) return false;
    const [ci, i] = p;
    this.chunks[ci].splice(i, 1);
    if (this.chunks[ci].length === 0) this.chunks.splice(ci, 1);
    this.count--;
    return true;
  }
}
