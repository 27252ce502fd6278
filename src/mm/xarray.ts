import { PAGE_SIZE } from './const.js';
/**
 * A file's page cache, index → pfn (include/linux/xarray.h: `mapping->i_pages`). Modelled coarsely:
 * not the kernel's radix tree of 64-slot nodes, but chunks of 512 slots (one PMD-size block of the
 * file) created on the first store into them, so a file costs memory for the blocks it has in its
 * cache, not for its size: a memfd of 8 TiB with one page cached is one chunk (issue 15, D1, D2).
 */

/** Slots per chunk: one 2 MiB block of the file (HPAGE_PMD_NR), the unit a regular file is read in. */
export const XA_CHUNK = 512;

/**
 * Largest page index the model can store: struct page's index lives in an Int32Array
 * (page_alloc.ts), so a file or memfd may be at most 2^31 pages, 8 TiB (docs/limits.md).
 */
export const MAX_FILE_PAGES = 2 ** 31;
/** ... in bytes. The kernel takes more (memfd: MAX_LFS_FILESIZE; ext4 here: 16 TiB - 4 KiB). */
export const MAX_FILE_SIZE = MAX_FILE_PAGES * PAGE_SIZE;

export class XArray {
  private readonly chunks = new Map<number, Int32Array>();
  /** The chunk of the last lookup: faults and fault-around walk a file in order. */
  private lastKey = -1;
  private lastChunk: Int32Array | undefined;
  /** The highest chunk ever created: a search stops there, however far its range reaches. */
  private maxKey = -1;

  private chunk(index: number): Int32Array | undefined {
    const key = Math.floor(index / XA_CHUNK);
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastChunk = this.chunks.get(key);
    }
    return this.lastChunk;
  }

  /** xa_load(): the pfn at index, 0 for a hole. */
  load(index: number): number {
    const c = this.chunk(index);
    return c ? c[index % XA_CHUNK] : 0;
  }

  /** Whether index's chunk was ever stored into (every slot of an untouched chunk is a hole). */
  touched(index: number): boolean {
    return this.chunk(index) !== undefined;
  }

  /** xa_store(): 0 erases. Creates the index's chunk when needed. */
  store(index: number, pfn: number): void {
    let c = this.chunk(index);
    if (!c) {
      c = new Int32Array(XA_CHUNK);
      const key = Math.floor(index / XA_CHUNK);
      this.chunks.set(key, c);
      this.maxKey = Math.max(this.maxKey, key);
      this.lastChunk = c;
    }
    c[index % XA_CHUNK] = pfn;
  }

  /**
   * xa_find(): the first index in [from, max] that holds a page, or -1; skips the chunks never
   * stored into and stops after the last one, so a walk of a large sparse range costs the
   * chunks it spans.
   */
  findNext(from: number, max: number): number {
    for (let key = Math.floor(from / XA_CHUNK); key * XA_CHUNK <= max && key <= this.maxKey; key++) {
      const c = this.chunks.get(key);
      if (!c) continue;
      const end = Math.min(max, key * XA_CHUNK + XA_CHUNK - 1);
      for (let i = Math.max(from, key * XA_CHUNK); i <= end; i++) if (c[i % XA_CHUNK] > 0) return i;
    }
    return -1;
  }

  /** Every cached page: fn(index, pfn) for each slot that is not a hole (chunks in insertion order). */
  forEach(fn: (index: number, pfn: number) => void): void {
    for (const [key, c] of this.chunks) for (let i = 0; i < XA_CHUNK; i++) if (c[i] > 0) fn(key * XA_CHUNK + i, c[i]);
  }
}
