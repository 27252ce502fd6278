/**
 * fork()'s copy of the address space (src/mm/fork.ts: dup_mmap(), copy_pte_range(),
 * copy_huge_pmd()): what the child maps, copy-on-write sharing and its counts, the child's RSS and
 * page-table counters, and that the two processes exit clean. The race with a per-VMA DONTNEED is
 * scenarios/fork_vs_dontneed.scn (test/scenarios/scenarios.test.ts runs it).
 */
import { describe, expect, it } from 'vitest';
import { FIRST_MAP_ADDR, GEN_API, lines, scenario } from '../support/scenario.js';
import { MM_ANONPAGES, MM_SWAPENTS, type Kernel, type MmStruct } from '../../src/mm/mm_types.js';
import { PG_anon_exclusive } from '../../src/mm/page_alloc.js';
import { isGuardPte, pmdIsTable, pmdPfn, pmdTransHuge, ptePfn, ptePresent, pteWrite, swpOffset, isSwapEntryPte } from '../../src/mm/pgtable_types.js';
import { pteIndex } from '../../src/mm/const.js';
import { SWAP_HAS_CACHE } from '../../src/mm/swap_info.js';

const api = GEN_API;
const A = FIRST_MAP_ADDR;

function setUp(...ops: string[]): { k: Kernel; parent: MmStruct } {
  const config = ops.filter((o) => o.startsWith('config '));
  const s = scenario(lines(...config, 'process P', ...ops.filter((o) => !config.includes(o))), { api });
  return { k: s.result.kernel as Kernel, parent: s.mm('P') as MmStruct };
}

function fork(k: Kernel, parent: MmStruct): MmStruct {
  const child = api.sysFork(k, parent, 'C');
  if (typeof child === 'number') throw new Error(`fork failed: ${child}`);
  return child as MmStruct;
}

/** The PMD entry and, under a table, the PTE of `addr` (read without scheduling points). */
function entries(k: Kernel, mm: MmStruct, addr: number): { pmd: number; pte: number } {
  const pmdp = api.peekPmdSlot(mm, addr);
  const pmd = pmdp ? k.pt.peek((pmdp / 512) | 0, pmdp % 512) : 0;
  const pte = pmdIsTable(pmd) ? k.pt.peek(k.pt.tidOfPfn(pmdPfn(pmd)), pteIndex(addr)) : 0;
  return { pmd, pte };
}

function expectConsistent(k: Kernel): void {
  api.quiesce(k);
  expect(api.checkInvariants(k)).toEqual([]);
}

describe('fork of private anonymous memory', () => {
  it('maps the same pages in the child, read-only in both, shared and no longer exclusive', () => {
    const { k, parent } = setUp('map A anon private 2M nohugepage', 'touch A 0 20K write');
    const child = fork(k, parent);
    for (let i = 0; i < 5; i++) {
      const p = entries(k, parent, A + i * 4096).pte;
      const c = entries(k, child, A + i * 4096).pte;
      expect(ptePresent(c)).toBe(true);
      expect(ptePfn(c)).toBe(ptePfn(p));
      expect(pteWrite(p)).toBe(false);
      expect(pteWrite(c)).toBe(false);
      const pfn = ptePfn(p);
      expect(k.mem.mapcount[pfn]).toBe(2);
      expect(k.mem.refcount[pfn]).toBe(2);
      expect(k.mem.flags[pfn] & PG_anon_exclusive).toBe(0);
    }
    expect(ptePresent(entries(k, child, A + 5 * 4096).pte)).toBe(false);
    expect(child.rss[MM_ANONPAGES]).toBe(5);
    // The PUD, PMD and PTE tables: 12 kB of VmPTE, as the live kernel's child gains (docs/model.md, "fork, measured").
    expect(child.pgtablesBytes).toBe(12 * 1024);
    expect(child.pgtablesBytes).toBe(parent.pgtablesBytes);
    expectConsistent(k);
  });

  it('copies on the next write: the writer gets a page of its own, the other keeps the old one', () => {
    const { k, parent } = setUp('map A anon private 2M nohugepage', 'touch A 0 4K write');
    const child = fork(k, parent);
    const old = ptePfn(entries(k, parent, A).pte);
    expect(api.sysTouch(k, parent, A, true)).toBe(0);
    const mine = entries(k, parent, A).pte;
    expect(ptePfn(mine)).not.toBe(old);
    expect(pteWrite(mine)).toBe(true);
    expect(ptePfn(entries(k, child, A).pte)).toBe(old);
    expect(k.mem.mapcount[old]).toBe(1);
    // The child is now the only mapper: its write reuses the page (wp_page_reuse()).
    expect(api.sysTouch(k, child, A, true)).toBe(0);
    expect(ptePfn(entries(k, child, A).pte)).toBe(old);
    expectConsistent(k);
  });

  it('shares a huge PMD write-protected, with a deposited table for the child', () => {
    const { k, parent } = setUp('map A anon private 2M hugepage', 'touch A 0 4K write');
    expect(pmdTransHuge(entries(k, parent, A).pmd)).toBe(true);
    const before = parent.pgtablesBytes;
    const child = fork(k, parent);
    const p = entries(k, parent, A).pmd;
    const c = entries(k, child, A).pmd;
    expect(pmdTransHuge(c)).toBe(true);
    expect(pmdPfn(c)).toBe(pmdPfn(p));
    expect(pteWrite(p)).toBe(false);
    expect(pteWrite(c)).toBe(false);
    expect(k.mem.entireMapcount[pmdPfn(p)]).toBe(2);
    expect(child.rss[MM_ANONPAGES]).toBe(512);
    // The child's PUD and PMD tables and the deposited PTE table, as the parent's: 12 kB, as measured.
    expect(child.pgtablesBytes).toBe(before);
    expect(child.pgtablesBytes).toBe(12 * 1024);
    expectConsistent(k);
  });

  it("copies a page of a THP the child still maps, and reuses one once the child let go (wp_can_reuse_anon_folio())", () => {
    const { k, parent } = setUp('map A anon private 2M hugepage', 'touch A 0 4K write');
    const child = fork(k, parent);
    const head = pmdPfn(entries(k, child, A).pmd);
    expect(api.sysTouch(k, parent, A, true)).toBe(api.FAULT_OK);
    // The parent's PMD is split; page 0 is a new page of its own, the child's PMD still maps the old one.
    const p0 = entries(k, parent, A).pte;
    expect(pteWrite(p0)).toBe(true);
    expect(ptePfn(p0)).not.toBe(head);
    expect(pmdPfn(entries(k, child, A).pmd)).toBe(head);
    expect(k.mem.mapcount[head]).toBe(0);
    expect(ptePfn(entries(k, parent, A + 4096).pte)).toBe(head + 1);
    // Once the child unmapped it, every reference is one of the parent's mappings: written in place.
    expect(api.sysMunmap(k, child, A, 2 ** 21)).toBe(0);
    expect(api.sysTouch(k, parent, A + 4096, true)).toBe(api.FAULT_OK);
    expect(ptePfn(entries(k, parent, A + 4096).pte)).toBe(head + 1);
    expect(pteWrite(entries(k, parent, A + 4096).pte)).toBe(true);
    expectConsistent(k);
  });

  it("tracks which mms map a THP (CONFIG_MM_ID's slots): shared after fork, exclusive once the child lets go", () => {
    const { k, parent } = setUp('map A anon private 2M hugepage', 'touch A 0 4K write');
    const head = pmdPfn(entries(k, parent, A).pmd);
    const f = k.mem.largeIdx(head);
    expect([k.mem.largeMapcount[f], k.mem.mmIdsShared[f]]).toEqual([1, 0]);
    const child = fork(k, parent);
    // Slot 0 is the parent's, slot 1 the child's (mm id + 1); each holds one PMD mapping.
    expect([k.mem.mmId0[f], k.mem.mmIdMapcount0[f], k.mem.mmId1[f], k.mem.mmIdMapcount1[f]]).toEqual([parent.id + 1, 1, child.id + 1, 1]);
    expect([k.mem.largeMapcount[f], k.mem.mmIdsShared[f]]).toEqual([2, 1]);
    // A third mm gets no slot; the folio stays shared until one slot holds every mapping again.
    const third = fork(k, parent);
    expect([k.mem.largeMapcount[f], k.mem.mmIdsShared[f], k.mem.mmId1[f]]).toEqual([3, 1, child.id + 1]);
    api.sysExit(k, child);
    expect([k.mem.largeMapcount[f], k.mem.mmIdsShared[f], k.mem.mmId1[f]]).toEqual([2, 1, 0]);
    expectConsistent(k);
    api.sysExit(k, third);
    expect([k.mem.largeMapcount[f], k.mem.mmIdsShared[f]]).toEqual([1, 0]);
    expectConsistent(k);
    // The invariant check holds the bits to the tables: two mms mapping a folio not marked shared is caught.
    const again = fork(k, parent);
    k.mem.mmIdsShared[f] = 0;
    expect(api.checkInvariants(k).map((x) => x.message)).toContainEqual(expect.stringMatching(/mapped by 2 mms but not marked maybe mapped shared/));
    k.mem.mmIdsShared[f] = 1;
    api.sysExit(k, again);
    expectConsistent(k);
  });

  it('leaves both processes to exit clean, in either order, with every page back', () => {
    const ops = ['map A anon private 4M hugepage', 'touch A 0 2M write', 'map B anon private 2M nohugepage', 'touch B 0 64K write'];
    const alone = setUp(...ops);
    api.sysExit(alone.k, alone.parent);
    api.quiesce(alone.k);
    for (const childFirst of [true, false]) {
      const { k, parent } = setUp(...ops);
      const child = fork(k, parent);
      const [a, b] = childFirst ? [child, parent] : [parent, child];
      api.sysExit(k, a);
      expectConsistent(k);
      api.sysExit(k, b);
      api.quiesce(k);
      expect(api.checkExitClean(k)).toEqual([]);
      expect(k.mem.nrFree).toBe(alone.k.mem.nrFree);
    }
  });
});

describe('what fork does not copy, and what it copies besides pages', () => {
  it('copies no tables of a shared mapping: the child faults them in', () => {
    const { k, parent } = setUp('map S anon shared 2M', 'touch S 0 16K write');
    const child = fork(k, parent);
    expect(ptePresent(entries(k, child, A).pte)).toBe(false);
    expect(child.rss.reduce((n, v) => n + v, 0)).toBe(0);
    // The parent's shared entries stay writable: no copy-on-write.
    expect(pteWrite(entries(k, parent, A).pte)).toBe(true);
    expect(api.sysTouch(k, child, A, false)).toBe(0);
    expect(ptePfn(entries(k, child, A).pte)).toBe(ptePfn(entries(k, parent, A).pte));
    expectConsistent(k);
  });

  it('copies guard markers', () => {
    const { k, parent } = setUp('map A anon private 2M nohugepage', 'touch A 0 8K write', 'madvise A 4K 4K guard_install');
    const child = fork(k, parent);
    expect(isGuardPte(entries(k, child, A + 4096).pte)).toBe(true);
    expect(api.sysTouch(k, child, A + 4096, false)).not.toBe(0);
    expectConsistent(k);
  });

  it('duplicates swap entries: one more reference on the slot, and VmSwap in the child', () => {
    const { k, parent } = setUp('config swap=1M', 'map A anon private 2M nohugepage', 'touch A 0 8K write', 'madvise A 0 8K pageout');
    const e = entries(k, parent, A).pte;
    expect(isSwapEntryPte(e)).toBe(true);
    const count = k.swap!.swapMap[swpOffset(e)];
    const child = fork(k, parent);
    expect(entries(k, child, A).pte).toBe(entries(k, parent, A).pte);
    expect(k.swap!.swapMap[swpOffset(e)]).toBe(count + 1);
    expect(child.rss[MM_SWAPENTS]).toBe(2);
    expectConsistent(k);
  });

  it('copies on write a page swapped in from a shared swap entry, and reuses it once the entry is its own (wp_can_reuse_anon_folio())', () => {
    const { k, parent } = setUp('config swap=1M', 'map A anon private 2M nohugepage', 'touch A 0 8K write', 'madvise A 0 8K pageout');
    const slot = swpOffset(entries(k, parent, A).pte);
    const child = fork(k, parent);
    expect(api.sysTouch(k, parent, A, false)).toBe(api.FAULT_OK);
    const cached = ptePfn(entries(k, parent, A).pte);
    expect(k.mem.refcount[cached]).toBe(2); // the mapping's and the swap cache's
    expect(api.sysTouch(k, parent, A, true)).toBe(api.FAULT_OK);
    const mine = ptePfn(entries(k, parent, A).pte);
    expect(mine).not.toBe(cached);
    expect(pteWrite(entries(k, parent, A).pte)).toBe(true);
    // The swap cache kept the original for the child's entry: its fault maps that page, its alone.
    expect(k.swap!.swapMap[slot] & ~SWAP_HAS_CACHE).toBe(1);
    expect(api.sysTouch(k, child, A, false)).toBe(api.FAULT_OK);
    expect(ptePfn(entries(k, child, A).pte)).toBe(cached);
    expect(k.mem.mapcount[cached]).toBe(1);
    // Now only the child's mapping and the swap cache hold it, and no entry holds the slot: the
    // write frees the swap (folio_free_swap() under the trylock) and writes the page in place.
    expect(api.sysTouch(k, child, A, true)).toBe(api.FAULT_OK);
    expect(ptePfn(entries(k, child, A).pte)).toBe(cached);
    expect(k.mem.refcount[cached]).toBe(1);
    expect(k.swap!.swapMap[slot]).toBe(0);
    expectConsistent(k);
  });
});

describe('MADV_FREE after fork (madvise_free_pte_range())', () => {
  it('does not split a large folio the child shares with its parent (folio_maybe_mapped_shared()), and splits one it does not', () => {
    // A THP mapped by PTEs (the mprotect split its PMD), partly covered by the MADV_FREE. (Were the
    // shared check gone, the model's split would still fail: its rmap of an anonymous folio walks
    // the parent's anon_vma only, so the child's mapping stays and the folio cannot be split.)
    const ops = ['config thp=always', 'map A anon private 2M', 'touch A 0 4K write', 'mprotect A 0 64K r--', 'mprotect A 0 64K rw-'];
    const shared = setUp(...ops);
    const child = fork(shared.k, shared.parent);
    const head = shared.k.mem.folioHead(ptePfn(entries(shared.k, child, A).pte));
    expect(shared.k.mem.folioNr(head)).toBe(512);
    expect(api.sysMadvise(shared.k, child, A, 64 * 1024, 'free')).toBe(0);
    expect(shared.k.mem.folioNr(head)).toBe(512);
    expectConsistent(shared.k);

    const alone = setUp(...ops);
    const own = alone.k.mem.folioHead(ptePfn(entries(alone.k, alone.parent, A).pte));
    expect(api.sysMadvise(alone.k, alone.parent, A, 64 * 1024, 'free')).toBe(0);
    expect(alone.k.mem.folioNr(own)).toBe(1);
    expectConsistent(alone.k);
  });
});
