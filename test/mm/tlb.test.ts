/**
 * The paging-structure cache's flush policies (config pwc_flush): x86 drops every walk-cache entry
 * of the mm on a table-freeing flush; the arm64-like policy drops only the entries of the 2 MiB
 * blocks the flushed range meets, which is what makes a wrong flush address (race R9) visible.
 */
import { describe, expect, it } from 'vitest';
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
