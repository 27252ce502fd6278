/**
 * Swap entries: MADV_PAGEOUT writing them (try_to_unmap_one()), zap freeing them
 * (zap_nonpresent_ptes() → free_swap_and_cache_nr()), do_swap_page() reading them back, and what
 * PT reclaim makes of a table holding them.
 *
 * Units as in pt_reclaim.test.ts: 4 kB of VmSwap per swap entry (MM_SWAPENTS), 4 kB of VmPTE per
 * table. The figures are the rules' and were measured on the live 6.18 kernel with a 64 MiB swap
 * file (docs/fidelity.md, "Swap"): MADV_PAGEOUT of 8 MiB of written private anonymous memory gives
 * VmSwap 8192 kB and keeps the 4 PTE tables; a whole-range MADV_DONTNEED frees the entries and the
 * 4 tables.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GEN_API, lines, PAGE_KB, SLOT_KB, TABLE_KB, scenario } from '../support/scenario.js';
import { checkInvariants } from '../../src/mm/invariants.js';
import { PT_ANON } from '../../src/mm/page_alloc.js';
import { SWAP_HAS_CACHE } from '../../src/mm/swap_info.js';

const PAGES_8M = 2048;
const swapOn = ['config swap=64M', 'process P', 'map A anon private 8M nohugepage'];

/** Slots of the run's swap area in use (swap_map bytes that are not zero). */
function slotsInUse(s: ReturnType<typeof scenario>): number {
  const si = s.mm('P').kernel.swap;
  if (!si) throw new Error('no swap area');
  return si.swapMap.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
}

describe('MADV_PAGEOUT of private anonymous memory', () => {
  it('turns every written page into a swap entry and keeps the tables', () => {
    const s = scenario(lines(...swapOn,
      'touch A 0 8M write', 'snapshot touched',
      'madvise A 0 8M pageout', 'snapshot out A 0 8M'));
    expect(s.delta('touched').RssAnon).toBe(PAGES_8M * PAGE_KB);
    expect(s.delta('out').RssAnon).toBe(0);
    expect(s.delta('out').VmSwap).toBe(PAGES_8M * PAGE_KB);
    expect(s.delta('out').VmPTE).toBe(s.delta('touched').VmPTE);
    expect(s.pagemap('out')).toEqual([[PAGES_8M, 's']]);
    expect(slotsInUse(s)).toBe(PAGES_8M);
    expect(s.pteTables('P')).toEqual([4, 0]);
  });

  it('leaves the shared zero page and untouched pages alone', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 16K read', 'touch A 4K 4K write', 'madvise A 0 8M pageout', 'snapshot out A 0 16K'));
    expect(s.pagemap('out')).toEqual([[1, 'p'], [1, 's'], [2, 'p']]);
    expect(s.delta('out').VmSwap).toBe(PAGE_KB);
  });

  it('does nothing without swap space: add_to_swap() fails and the folios stay', () => {
    const s = scenario(lines('process P', 'map A anon private 8M nohugepage', 'touch A 0 8M write', 'madvise A 0 8M pageout', 'snapshot out A 0 8M'));
    expect(s.delta('out').RssAnon).toBe(PAGES_8M * PAGE_KB);
    expect(s.delta('out').VmSwap).toBe(0);
    expect(s.pagemap('out')).toEqual([[PAGES_8M, 'x']]);
  });

  it('swaps out only as many pages as the area has slots (its first page is the header)', () => {
    const s = scenario(lines('config swap=1M', 'process P', 'map A anon private 2M nohugepage', 'touch A 0 2M write', 'madvise A 0 2M pageout', 'snapshot out'));
    const slots = 1024 / PAGE_KB - 1;
    expect(s.delta('out').VmSwap).toBe(slots * PAGE_KB);
    expect(s.delta('out').RssAnon).toBe((512 - slots) * PAGE_KB);
  });

  it('discards a clean lazyfree (MADV_FREE) folio instead of swapping it, and swaps one written since', () => {
    const s = scenario(lines(...swapOn,
      'touch A 0 1M write', 'madvise A 0 1M free', 'madvise A 0 1M pageout', 'snapshot discarded A 0 1M',
      'touch A 0 1M write', 'madvise A 0 1M free', 'touch A 0 4K write', 'madvise A 0 1M pageout', 'snapshot redirtied A 0 1M'));
    expect(s.pagemap('discarded')).toEqual([[256, '-']]);
    expect(s.delta('discarded').VmSwap).toBe(0);
    expect(s.delta('discarded').RssAnon).toBe(0);
    // The written page was redirtied: try_to_unmap_one() maps it again and makes it swap-backed;
    // the next MADV_PAGEOUT would swap it (pages written after MADV_FREE are kept, not lost).
    expect(s.pagemap('redirtied')).toEqual([[1, 'x'], [255, '-']]);
  });

  it('refuses a locked VMA (can_madv_lru_vma())', () => {
    const s = scenario(lines(...swapOn.slice(0, 2), 'map A anon private 2M locked', 'madvise A 0 2M pageout err=EINVAL', 'madvise A 0 2M cold err=EINVAL'));
    expect(s.result.exitCode).toBe(0);
  });
});

describe('MADV_COLD', () => {
  it('changes no counter and no entry kind', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 8M write', 'snapshot before A 0 8M', 'madvise A 0 8M cold', 'snapshot after A 0 8M'));
    expect(s.delta('after')).toEqual(s.delta('before'));
    expect(s.pagemap('after')).toEqual(s.pagemap('before'));
  });
});

describe('zapping swap entries', () => {
  it('a whole-range MADV_DONTNEED frees every entry and slot and reclaims all 4 tables', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 8M write', 'madvise A 0 8M pageout', 'snapshot out', 'madvise A 0 8M dontneed', 'snapshot zapped A 0 8M'));
    expect(s.delta('out').VmPTE - s.delta('zapped').VmPTE).toBe(4 * TABLE_KB);
    expect(s.delta('zapped').VmPTE).toBe(SLOT_KB);
    expect(s.delta('zapped').VmSwap).toBe(0);
    expect(slotsInUse(s)).toBe(0);
    expect(s.pteTables('P')).toEqual([0, 0]);
  });

  it('a table that holds only swap entries is not empty: a zap that leaves one keeps the table', () => {
    // Block 3 loses all but its first entry; block 2 keeps everything.
    const s = scenario(lines(...swapOn, 'touch A 0 8M write', 'madvise A 0 8M pageout', 'madvise A 6148K 2044K dontneed', 'snapshot partial'));
    expect(s.delta('partial').VmSwap).toBe((PAGES_8M - 511) * PAGE_KB);
    expect(s.pteTables('P')).toEqual([4, 0]);
    expect(slotsInUse(s)).toBe(PAGES_8M - 511);
  });

  it('MADV_FREE clears swap entries (a later fault gets a zeroed page, not a swap-in)', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 1M write', 'madvise A 0 1M pageout', 'madvise A 0 1M free', 'snapshot freed A 0 1M'));
    expect(s.delta('freed').VmSwap).toBe(0);
    expect(s.pagemap('freed')).toEqual([[256, '-']]);
    expect(slotsInUse(s)).toBe(0);
  });

  it('munmap and exit free the slots', () => {
    const s = scenario(lines(...swapOn, 'map B anon private 2M nohugepage', 'touch A 0 8M write', 'touch B 0 2M write', 'madvise A 0 8M pageout', 'madvise B 0 2M pageout',
      'unmap A 0 8M', 'snapshot unmapped'));
    expect(s.delta('unmapped').VmSwap).toBe(512 * PAGE_KB);
    expect(slotsInUse(s)).toBe(512);
    const t = scenario(lines(...swapOn, 'touch A 0 8M write', 'madvise A 0 8M pageout', 'exit P'));
    expect(slotsInUse(t)).toBe(0);
  });
});

describe('do_swap_page()', () => {
  it('a read or a write fault brings one page back: VmSwap -4 kB, RssAnon +4 kB, mapped exclusive', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 8M write', 'madvise A 0 8M pageout',
      'touch A 0 4K read', 'snapshot read A 0 16K', 'touch A 4K 4K write', 'snapshot write A 0 16K'));
    expect(s.delta('read').VmSwap).toBe(PAGES_8M * PAGE_KB - PAGE_KB);
    expect(s.delta('read').RssAnon).toBe(PAGE_KB);
    expect(s.pagemap('read')).toEqual([[1, 'x'], [3, 's']]);
    expect(s.delta('write').VmSwap).toBe(PAGES_8M * PAGE_KB - 2 * PAGE_KB);
    expect(s.pagemap('write')).toEqual([[2, 'x'], [2, 's']]);
    // The read fault leaves its folio in the swap cache, holding its slot (should_try_to_free_swap()
    // frees it only for a write fault); the write fault frees the slot.
    expect(slotsInUse(s)).toBe(PAGES_8M - 1);
  });

  it('maps an exclusive page writable on a read fault, so that a write after it does not fault', () => {
    const base = lines(...swapOn, 'touch A 0 4K write', 'madvise A 0 4K pageout', 'touch A 0 4K read');
    const read = scenario(base);
    const written = scenario(base + lines('touch A 0 4K write', 'snapshot w A 0 4K'));
    expect(written.mm('P').stats.faults).toBe(read.mm('P').stats.faults);
    expect(written.pagemap('w')).toEqual([[1, 'x']]);
    expect(written.delta('w').RssAnon).toBe(PAGE_KB);
  });

  it('the same pages come out again after being swapped in (a second MADV_PAGEOUT)', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 8M write', 'madvise A 0 8M pageout', 'touch A 0 8M read', 'snapshot in', 'madvise A 0 8M pageout', 'snapshot again'));
    expect(s.delta('in').VmSwap).toBe(0);
    expect(s.delta('in').RssAnon).toBe(PAGES_8M * PAGE_KB);
    expect(s.delta('again').VmSwap).toBe(PAGES_8M * PAGE_KB);
    expect(slotsInUse(s)).toBe(PAGES_8M);
  });

  it('behaves the same in the generator build', () => {
    const text = lines(...swapOn, 'touch A 0 2M write', 'madvise A 0 2M pageout', 'touch A 0 1M read', 'madvise A 1M 1M dontneed', 'snapshot s A 0 2M');
    const fast = scenario(text);
    const gen = scenario(text, { api: GEN_API });
    expect(gen.snap('s')).toEqual(fast.snap('s'));
    expect(gen.delta('s').VmSwap).toBe(0);
  });
});

/**
 * The swap cache after MADV_PAGEOUT: shrink_folio_list() writes a folio out and, its writeback
 * being asynchronous, leaves it in the swap cache (mm/vmscan.c, PAGE_SUCCESS: keep). Measured on
 * the live 6.18 kernel (docs/fidelity.md, "Swap"; scripts/swap-pageout.pt): 16 paged-out pages are
 * resident to mincore() (pagemap `s`); after a read and a write fault and a second MADV_PAGEOUT, 15
 * are (the read-faulted folio stayed in the swap cache, clean, so reclaim frees it at once).
 */
describe('the swap cache keeps a paged-out folio', () => {
  const mincore = (s: ReturnType<typeof scenario>, label: string) => s.snap(label).pagemap?.mincore;
  const anonPages = (s: ReturnType<typeof scenario>) => s.result.kernel.mem.used[PT_ANON];

  it('mincore() calls it resident; VmSwap counts its swap entry and RSS does not count it', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 64K write', 'madvise A 0 64K pageout', 'snapshot out A 0 64K'));
    expect(s.pagemap('out')).toEqual([[16, 's']]);
    expect(mincore(s, 'out')).toEqual([[16, 'r']]);
    expect(s.delta('out').VmSwap).toBe(16 * PAGE_KB);
    expect(s.delta('out').RssAnon).toBe(0);
    expect(anonPages(s)).toBe(16); // still allocated, held by the swap cache alone
    const si = s.result.kernel.swap!;
    expect(si.cache.size).toBe(16);
    for (const [off, head] of si.cache) {
      expect(si.swapMap[off]).toBe(SWAP_HAS_CACHE | 1);
      expect(s.result.kernel.mem.refcount[head]).toBe(1);
      expect(s.result.kernel.mem.mapcount[head]).toBe(0);
    }
  });

  it('a swap-in fault maps the cached folio without allocating, a second MADV_PAGEOUT frees the clean one', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 64K write', 'madvise A 0 64K pageout', 'snapshot out A 0 64K',
      'touch A 0 4K read', 'touch A 4K 4K write', 'snapshot in A 0 64K', 'madvise A 0 64K pageout', 'snapshot again A 0 64K'));
    expect(anonPages(s)).toBe(15);
    expect(s.pagemap('in')).toEqual([[2, 'x'], [14, 's']]);
    expect(mincore(s, 'in')).toEqual([[16, 'r']]);
    expect(s.delta('in').VmSwap).toBe(14 * PAGE_KB);
    expect(s.delta('in').RssAnon).toBe(2 * PAGE_KB);
    expect(s.pagemap('again')).toEqual([[16, 's']]);
    expect(mincore(s, 'again')).toEqual([[1, 'n'], [15, 'r']]);
  });

  it('the swap-in fault reuses the folio: no page is allocated, none freed', () => {
    const base = lines(...swapOn, 'touch A 0 4K write', 'madvise A 0 4K pageout');
    const out = scenario(base);
    const head = [...out.result.kernel.swap!.cache.values()][0];
    const s = scenario(base + lines('touch A 0 4K read', 'snapshot in A 0 4K'));
    expect(anonPages(s)).toBe(1);
    expect([...s.result.kernel.swap!.cache.values()]).toEqual([head]); // the same frame, still cached
    expect(s.result.kernel.mem.mapcount[head]).toBe(1);
    expect(s.result.kernel.mem.refcount[head]).toBe(2); // the mapping's and the swap cache's
  });

  it('zapping its swap entry frees the folio (free_swap_and_cache_nr() → __try_to_reclaim_swap())', () => {
    for (const zap of ['madvise A 0 64K dontneed', 'madvise A 0 64K free', 'unmap A 0 8M', 'exit P']) {
      const s = scenario(lines(...swapOn, 'touch A 0 64K write', 'madvise A 0 64K pageout', zap));
      expect(anonPages(s), zap).toBe(0);
      expect(s.result.kernel.swap!.cache.size, zap).toBe(0);
      expect(slotsInUse(s), zap).toBe(0);
    }
  });

  it('a zap of a swapped-in folio still in the swap cache frees it and its slot (free_swap_cache())', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 64K write', 'madvise A 0 64K pageout', 'touch A 0 64K read', 'madvise A 0 64K dontneed'));
    expect(anonPages(s)).toBe(0);
    expect(slotsInUse(s)).toBe(0);
  });

  it('MADV_FREE of a swapped-in folio drops its swap, so MADV_PAGEOUT then discards it', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 64K write', 'madvise A 0 64K pageout', 'touch A 0 64K read',
      'madvise A 0 64K free', 'madvise A 0 64K pageout', 'snapshot gone A 0 64K'));
    expect(s.pagemap('gone')).toEqual([[16, '-']]);
    expect(anonPages(s)).toBe(0);
    expect(slotsInUse(s)).toBe(0);
  });

  it('MADV_COLLAPSE of swapped-in folios frees their swap cache (__collapse_huge_page_copy_succeeded())', () => {
    const s = scenario(lines('config swap=64M thp=madvise', 'process P', 'map A anon private 2M', 'touch A 0 2M write', 'madvise A 0 2M pageout',
      'touch A 0 2M read', 'snapshot in', 'madvise A 0 2M collapse', 'snapshot c'));
    expect(slotsInUse(s)).toBe(0);
    expect(s.result.kernel.swap!.cache.size).toBe(0);
    expect(s.rollup('c').AnonHugePages).toBe(2048);
    expect(anonPages(s)).toBe(512);
  });

  it('a zero-filled folio is not written (swap_writeout() zeromap) and is freed at once', () => {
    const s = scenario(lines('config fault_zero_page=off', ...swapOn, 'touch A 0 16K read', 'madvise A 0 16K pageout', 'snapshot out A 0 16K'));
    expect(s.pagemap('out')).toEqual([[4, 's']]);
    expect(mincore(s, 'out')).toEqual([[4, 'n']]);
    expect(anonPages(s)).toBe(0);
  });

  it('the invariants accept a folio held by the swap cache for a swap entry, and flag one held by nothing', () => {
    const s = scenario(lines(...swapOn, 'touch A 0 4K write', 'madvise A 0 4K pageout'), { api: GEN_API, checkInvariants: false });
    const k = s.result.kernel;
    const si = k.swap!;
    const [off, head] = [...si.cache][0];
    expect(checkInvariants(k)).toEqual([]);
    // No swap PTE holds the slot any more: the cache alone holds an unmapped folio (a leak).
    si.swapMap[off] = SWAP_HAS_CACHE;
    expect(checkInvariants(k).map((f) => f.message)).toContain(`swap slot ${off}: folio ${head} is held by the swap cache alone, mapped nowhere and no swap PTE refers to it (leak)`);
    si.swapMap[off] = SWAP_HAS_CACHE | 1;
    // The swap cache lets go of the folio but its reference stays: held by nothing.
    si.cache.delete(off);
    si.folioSwap.delete(head);
    si.swapMap[off] = 1;
    expect(checkInvariants(k).map((f) => f.message)).toContain(`anonymous folio ${head}: refcount 1 above its 0 mappings (a reference leaked)`);
  });
});

describe('the swap cache under random op sequences', () => {
  // Every op is followed by the invariants (scenario() checks them: swap-counts flags a cached folio
  // that nothing refers to, mapcounts a reference held by nothing); at exit every page and slot is free.
  const op = fc.tuple(
    fc.constantFrom('touch read', 'touch write', 'pageout', 'pageout', 'dontneed', 'free', 'cold'),
    fc.integer({ min: 0, max: 1023 }),
    fc.integer({ min: 1, max: 600 }),
  ).map(([what, page, pages]) => {
    const len = Math.min(pages, 1024 - page) * 4;
    const [verb, mode] = what.split(' ');
    return verb === 'touch' ? `touch A ${page * 4}K ${len}K ${mode}` : `madvise A ${page * 4}K ${len}K ${verb}`;
  });
  it('leave no folio or slot behind', () => {
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), (ops) => {
      const s = scenario(lines(...swapOn.slice(0, 2), 'map A anon private 4M nohugepage', ...ops, 'exit P'));
      expect(s.result.kernel.mem.used[PT_ANON]).toBe(0);
      expect(slotsInUse(s)).toBe(0);
      expect(s.result.kernel.swap!.cache.size).toBe(0);
    }), { numRuns: 150, seed: 20261204 });
  });
});
