/**
 * The paging-structure cache's flush policies (config pwc_flush): x86 drops every walk-cache entry
 * of the mm on a table-freeing flush; the arm64-like policy drops only the entries of the 2 MiB
 * blocks the flushed range meets, which is what makes a wrong flush address (race R9) visible.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mm/api.js';
import { MM_ANONPAGES } from '../../src/mm/mm_types.js';
import { Tlb } from '../../src/mm/tlb.js';

const pwcBlocks = (t: Tlb, mm: number) => [...t.pwcBlock.keys()].filter((s) => t.pwcBlock[s] >= 0 && t.pwcMm[s] === mm).map((s) => t.pwcBlock[s]).sort((a, b) => a - b);

describe('paging-structure cache flush policy', () => {
  //   block 4 -> T1, block 5 -> T2 (mm 1); block 4 -> T3 (mm 2 shares no slot: other tag)
  const filled = (policy: 'all' | 'addr') => {
    const t = new Tlb(policy);
    t.fillPwc(1, 4, 1);
    t.fillPwc(1, 5, 2);
    t.fillPwc(2, 6, 3);
    return t;
  };

  it('x86 (all): a table-freeing flush of one page drops every entry of the mm', () => {
    const t = filled('all');
    t.flushPwcRange(1, 5 * 512, 5 * 512 + 1);
    expect(pwcBlocks(t, 1)).toEqual([]);
    expect(pwcBlocks(t, 2)).toEqual([6]);
  });

  it('per address (addr): only the blocks the range meets', () => {
    const t = filled('addr');
    t.flushPwcRange(1, 5 * 512, 5 * 512 + 1); // R9's flush at `end`: the next block's first page
    expect(pwcBlocks(t, 1)).toEqual([4]);
    t.flushPwcRange(1, 4 * 512 + 511, 4 * 512 + 512);
    expect(pwcBlocks(t, 1)).toEqual([]);
    expect(pwcBlocks(t, 2)).toEqual([6]);
    expect(t.live).toBe(1);
  });
});

describe('TLB entries are per page, whatever byte the access touched', () => {
  // Replayed traces carry byte addresses. 1. write base+100 (fault, TLB filled for the page);
  // 2. MADV_DONTNEED the page (flushes the page); 3. write base+100 again: must fault again,
  // not hit an entry the flush could not find.
  it('an unaligned access after MADV_DONTNEED faults the page back in', () => {
    const k = api.createKernel(api.resolveConfig({}));
    const mm = api.createProcess(k, 't');
    const base = 2 ** 40;
    expect(api.sysMmap(k, mm, { addr: base, len: 2 ** 21, shared: false, file: null, pgoff: 0, name: 'A' })).toBe(base);
    expect(api.sysTouch(k, mm, base + 100, true)).toBe(api.FAULT_OK);
    expect(mm.rss[MM_ANONPAGES]).toBe(1);
    api.sysMadvise(k, mm, base, 4096, 'dontneed');
    expect(mm.rss[MM_ANONPAGES]).toBe(0);
    expect(api.sysTouch(k, mm, base + 100, true)).toBe(api.FAULT_OK);
    expect(mm.rss[MM_ANONPAGES]).toBe(1);
  });

  it('another byte of a mapped page hits the TLB: no walk, no fault', () => {
    const k = api.createKernel(api.resolveConfig({}));
    const mm = api.createProcess(k, 't');
    const base = 2 ** 40;
    api.sysMmap(k, mm, { addr: base, len: 2 ** 21, shared: false, file: null, pgoff: 0, name: 'A' });
    api.sysTouch(k, mm, base + 100, true);
    const faults = k.stats.faults;
    expect(api.sysTouch(k, mm, base + 4000, true)).toBe(api.FAULT_OK);
    expect(k.stats.faults).toBe(faults);
  });
});
