/**
 * A CPU's translation caches (docs/kernel-rules.md, "TLB and the hardware walker"): leaf TLB entries (4 KiB and 2 MiB) and a paging-structure
 * cache from (mm, 2 MiB block) to the PTE table the walker last used there.
 *
 * Modelled coarsely: direct-mapped arrays of fixed size (2048 leaf entries, about a current STLB,
 * 32 huge entries, 64 paging-structure entries); tags carry the mm id, as with PCIDs. Sizes are
 * powers of two so that a slot is `x & (size - 1)`: ToInt32 keeps the low bits of page numbers
 * above 2^31 exactly, while a double `%` costs a library call on every access. Each leaf entry
 * remembers the frame's generation when it was filled, so a hit on a frame that was freed and
 * reused is reported as a stale TLB entry (a sanitizer finding), not silently used.
 *
 * The paging-structure cache has two flush policies (config `pwc_flush`): `all`, x86, where a
 * flush that freed tables drops every entry of the mm (docs/kernel-rules.md, "TLB and the hardware walker"), and `addr`, arm64-like, where it
 * drops only the entries whose 2 MiB block meets the flushed range: the policy under which a
 * table freed with the wrong flush address (race R9) stays reachable from a walk cache.
 */

const NR_4K = 2048;
const NR_2M = 32;
const NR_PWC = 64;

export class Tlb {
  readonly vpn = new Float64Array(NR_4K).fill(-1);
  readonly mm = new Int32Array(NR_4K);
  readonly pfn = new Float64Array(NR_4K);
  readonly gen = new Uint16Array(NR_4K);
  readonly write = new Uint8Array(NR_4K);
  readonly hvpn = new Float64Array(NR_2M).fill(-1);
  readonly hmm = new Int32Array(NR_2M);
  readonly hpfn = new Float64Array(NR_2M);
  readonly hgen = new Uint16Array(NR_2M);
  readonly hwrite = new Uint8Array(NR_2M);
  /** Paging-structure cache: 2 MiB block number -> PTE table id. */
  readonly pwcBlock = new Float64Array(NR_PWC).fill(-1);
  readonly pwcMm = new Int32Array(NR_PWC);
  readonly pwcTid = new Int32Array(NR_PWC);
  /** Entries currently valid, for cheap "is anything cached for this mm" checks. */
  live = 0;
  /** Whether a table-freeing flush drops only the walk-cache entries of its range (`addr`). */
  private readonly pwcByAddr: boolean;

  constructor(pwcFlush: 'all' | 'addr' = 'all') {
    this.pwcByAddr = pwcFlush === 'addr';
  }

  static slot4k(vpn: number): number {
    return vpn & (NR_4K - 1);
  }
  static slot2m(block: number): number {
    return block & (NR_2M - 1);
  }
  static slotPwc(block: number): number {
    return block & (NR_PWC - 1);
  }

  fill4k(mmId: number, vpn: number, pfn: number, gen: number, write: boolean): void {
    const s = vpn & (NR_4K - 1);
    if (this.vpn[s] < 0) this.live++;
    this.vpn[s] = vpn;
    this.mm[s] = mmId;
    this.pfn[s] = pfn;
    this.gen[s] = gen;
    this.write[s] = write ? 1 : 0;
  }
  fill2m(mmId: number, block: number, pfn: number, gen: number, write: boolean): void {
    const s = block & (NR_2M - 1);
    if (this.hvpn[s] < 0) this.live++;
    this.hvpn[s] = block;
    this.hmm[s] = mmId;
    this.hpfn[s] = pfn;
    this.hgen[s] = gen;
    this.hwrite[s] = write ? 1 : 0;
  }
  fillPwc(mmId: number, block: number, tid: number): void {
    const s = block & (NR_PWC - 1);
    if (this.pwcBlock[s] < 0) this.live++;
    this.pwcBlock[s] = block;
    this.pwcMm[s] = mmId;
    this.pwcTid[s] = tid;
  }

  /** Drop every translation of `mmId` (a full flush of that address space). */
  flushMm(mmId: number): void {
    if (this.live === 0) return;
    for (let s = 0; s < NR_4K; s++) if (this.vpn[s] >= 0 && this.mm[s] === mmId) this.drop4k(s);
    for (let s = 0; s < NR_2M; s++) if (this.hvpn[s] >= 0 && this.hmm[s] === mmId) this.drop2m(s);
    this.flushPwc(mmId);
  }

  /**
   * INVLPG at every `stride`-th page of [startVpn, endVpn), from startVpn (flush_tlb_func(),
   * arch/x86/mm/tlb.c, 6.18: `addr += 1UL << f->stride_shift`): each drops the 4 KiB entry of its
   * page and the 2 MiB entry that covers it. A 4 KiB entry between two strides stays, as on the
   * hardware: a flush with the wrong stride shift (tlb_get_unmap_shift()) leaves it stale.
   */
  flushRange(mmId: number, startVpn: number, endVpn: number, stride = 1): void {
    if (this.live === 0) return;
    let lastBlock = -1;
    for (let v = startVpn; v < endVpn; v += stride) {
      const s = v & (NR_4K - 1);
      if (this.vpn[s] === v && this.mm[s] === mmId) this.drop4k(s);
      const b = Math.floor(v / 512);
      if (b === lastBlock) continue;
      lastBlock = b;
      const h = b & (NR_2M - 1);
      if (this.hvpn[h] === b && this.hmm[h] === mmId) this.drop2m(h);
    }
  }

  /**
   * Drop cached paging-structure entries of `mmId`. Conservative choice (docs/kernel-rules.md, "TLB and the hardware walker"): any flush
   * with freed_tables clears the whole paging-structure cache of the mm.
   */
  flushPwc(mmId: number): void {
    for (let s = 0; s < NR_PWC; s++) {
      if (this.pwcBlock[s] >= 0 && this.pwcMm[s] === mmId) {
        this.pwcBlock[s] = -1;
        this.live--;
      }
    }
  }

  /**
   * The paging-structure part of a flush with freed_tables over pages [startVpn, endVpn): the
   * whole cache of the mm under the x86 policy, else the entries of the blocks the range meets.
   */
  flushPwcRange(mmId: number, startVpn: number, endVpn: number): void {
    if (!this.pwcByAddr) return this.flushPwc(mmId);
    if (this.live === 0) return;
    const b0 = Math.floor(startVpn / 512);
    const b1 = Math.floor((endVpn - 1) / 512);
    for (let s = 0; s < NR_PWC; s++) {
      const b = this.pwcBlock[s];
      if (b >= b0 && b <= b1 && this.pwcMm[s] === mmId) {
        this.pwcBlock[s] = -1;
        this.live--;
      }
    }
  }

  private drop4k(s: number): void {
    this.vpn[s] = -1;
    this.live--;
  }
  private drop2m(s: number): void {
    this.hvpn[s] = -1;
    this.live--;
  }
}
