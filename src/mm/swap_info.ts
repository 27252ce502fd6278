/**
 * The swap area's state (include/linux/swap.h: struct swap_info_struct, what of it the model
 * needs): data only, so that both builds share it with mm_types.ts (tools/gen-fast.mjs shares the
 * modules without kernel paths). The entry points that change it are in swapfile.ts.
 */

/** include/linux/swap.h: the flag of a swap_map byte that says the swap cache holds the slot. */
export const SWAP_HAS_CACHE = 0x40;
/** include/linux/swap.h: the largest count a swap_map byte holds (continuation is not modelled). */
export const SWAP_MAP_MAX = 0x3e;

/** struct swap_info_struct, what of it the model needs. */
export class SwapInfo {
  /** swap_map: per slot, its count | SWAP_HAS_CACHE; slot 0 is the header and never handed out. */
  readonly swapMap: Uint8Array;
  /**
   * SWP_WRITEOK: slots may be handed out. swapoff() clears it before it brings the pages back, and
   * the area then stays, empty and refusing allocations (the model has no swapon of a new one).
   */
  writeOk = true;
  /** inuse_pages: slots with a non-zero swap_map byte. */
  inusePages = 0;
  /** Where the next search for a free slot starts (the kernel's per-CPU cluster cursor, coarsely). */
  private cursor = 1;
  /** The swap cache: slot offset → head pfn of the folio holding it (swap_cache_get_folio()). */
  readonly cache = new Map<number, number>();
  /** folio->swap of the folios in the swap cache: head pfn → slot offset. */
  readonly folioSwap = new Map<number, number>();
  constructor(readonly pages: number) {
    this.swapMap = new Uint8Array(pages);
  }
  /** The number of usable slots (si->pages: all but the header page). */
  get slots(): number {
    return Math.max(0, this.pages - 1);
  }
  /** A free slot's offset, or 0 when the area is full. */
  scan(): number {
    const map = this.swapMap;
    for (let i = 0; i < this.slots; i++) {
      const off = 1 + ((this.cursor - 1 + i) % this.slots);
      if (map[off] === 0) {
        this.cursor = off + 1 > this.slots ? 1 : off + 1;
        return off;
      }
    }
    return 0;
  }
}
