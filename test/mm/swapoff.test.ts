/**
 * swapoff(2) (src/mm/swapoff.ts: try_to_unuse(), unuse_pte_range(), unuse_pte()): every swap PTE
 * becomes the page read back, the slots and the swap cache empty, and the area hands out no slot
 * again. The figures a script sees are compared with this machine's kernel by
 * scripts/swapoff.pt (test/oracle/kernel-agreement.test.ts); the race with a reclaiming
 * DONTNEED is scenarios/swapoff_vs_dontneed.scn.
 */
import { describe, expect, it } from 'vitest';
import { MM_ANONPAGES, MM_SWAPENTS, type Kernel, type MmStruct } from '../../src/mm/mm_types.js';
import { PG_anon_exclusive } from '../../src/mm/page_alloc.js';
import { ptePfn, ptePresent, pteWrite } from '../../src/mm/pgtable_types.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, pteAt, scenario } from '../support/scenario.js';

const api = GEN_API;
const EINVAL = -22;
const PAGES = 16;

function swappedOut(...more: string[]): { k: Kernel; mm: MmStruct } {
  const s = scenario(lines('config swap=1M', 'process P', 'map A anon private 2M nohugepage', `touch A 0 ${PAGES * 4}K write`, `madvise A 0 ${PAGES * 4}K pageout`, ...more), { api });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

describe('swapoff', () => {
  it('maps every swapped-out page again and leaves no slot and no swap-cache folio', () => {
    const { k, mm } = swappedOut();
    expect(mm.rss[MM_SWAPENTS]).toBe(PAGES);
    expect(api.sysSwapoff(k, mm)).toBe(0);
    expect([mm.rss[MM_SWAPENTS], mm.rss[MM_ANONPAGES]]).toEqual([0, PAGES]);
    expect([k.swap!.inusePages, k.swap!.cache.size]).toEqual([0, 0]);
    for (let i = 0; i < PAGES; i++) expect(ptePresent(pteAt(k, mm, FIRST_MAP_ADDR + i * 4 * K))).toBe(true);
    api.quiesce(k);
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('maps the pages read-only but exclusive, as their swap entries were: a write reuses the page', () => {
    const { k, mm } = swappedOut();
    api.sysSwapoff(k, mm);
    const before = pteAt(k, mm, FIRST_MAP_ADDR);
    expect(pteWrite(before)).toBe(false); // vm_page_prot of a private VMA: COW on write
    expect(k.mem.flags[ptePfn(before)] & PG_anon_exclusive).toBeTruthy();
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR, true)).toBe(api.FAULT_OK);
    const after = pteAt(k, mm, FIRST_MAP_ADDR);
    expect([ptePfn(after), pteWrite(after)]).toEqual([ptePfn(before), true]);
  });

  it('takes pages read back into the swap cache, and cached folios, out of it', () => {
    const { k, mm } = swappedOut(`touch A 0 ${(PAGES / 2) * 4}K read`);
    expect(k.swap!.cache.size).toBeGreaterThan(0);
    expect(api.sysSwapoff(k, mm)).toBe(0);
    expect([k.swap!.inusePages, k.swap!.cache.size, mm.rss[MM_ANONPAGES]]).toEqual([0, 0, PAGES]);
  });

  it('leaves an area that hands out no slot: MADV_PAGEOUT then keeps the pages; a second swapoff is EINVAL', () => {
    const { k, mm } = swappedOut();
    api.sysSwapoff(k, mm);
    expect(api.sysMadvise(k, mm, FIRST_MAP_ADDR, PAGES * 4 * K, 'pageout')).toBe(0);
    expect([mm.rss[MM_SWAPENTS], mm.rss[MM_ANONPAGES]]).toEqual([0, PAGES]);
    expect(api.sysSwapoff(k, mm)).toBe(EINVAL);
  });

  it('is EINVAL without a swap area', () => {
    const s = scenario(lines('process P', 'map A anon private 2M', 'touch A 0 4K write'), { api });
    expect(api.sysSwapoff(s.result.kernel as Kernel, s.mm('P') as MmStruct)).toBe(EINVAL);
  });

  it('unuses the swapped-out pages of every process, and both exit clean', () => {
    const s = scenario(
      lines('config swap=1M', 'process P', 'map A anon private 2M', 'touch A 0 16K write', 'madvise A 0 16K pageout', 'process Q', 'map B anon private 2M', 'touch B 0 8K write', 'madvise B 0 8K pageout', 'swapoff'),
      { api },
    );
    const k = s.result.kernel as Kernel;
    expect([s.mm('P').rss[MM_ANONPAGES], s.mm('Q').rss[MM_ANONPAGES]]).toEqual([4, 2]);
    api.sysExit(k, s.mm('P') as MmStruct);
    api.sysExit(k, s.mm('Q') as MmStruct);
    api.quiesce(k);
    expect(api.checkExitClean(k)).toEqual([]);
  });
});
