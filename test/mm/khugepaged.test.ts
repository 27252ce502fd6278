/**
 * MADV_COLLAPSE of a memfd (shmem) range and retract_page_tables() in the other mappings of the
 * file (docs/kernel-facts.md, "MADV_COLLAPSE on shmem/memfd, and retract_page_tables()").
 *
 * collapse_file() builds one 2 MiB folio, unmaps the old small pages from every mapping
 * (try_to_unmap(): RSS drops there) and then, in every other mm whose VMA maps the block
 * PMD-aligned and has no anon_vma, removes the now empty PTE table without installing a PMD
 * (VmPTE -4). The caller itself gets the PMD (collapse_pte_mapped_thp(): its table goes too, and
 * ShmemPmdMapped +2048). A later fault in another mm maps the THP by PMD, without a table.
 *
 *   memfd F (4 MiB)     [ block 0 | block 1 ]
 *   P1  S at 16 TiB     |####|####|   --collapse block 0-->  |PMD |####|
 *   P2  S at 16 TiB     |####|####|   --retract-->           |....|####|   (no table, no PMD)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { pmdTransHuge, ptePfn } from '../../src/mm/pgtable_types.js';
import { BLOCK_KB, FIRST_MAP_ADDR, GEN_API, lines, M, PAGE_KB, pteAt, scenario, SLOT_KB, TABLE_KB } from '../support/scenario.js';

const vmpte = (tables: number) => SLOT_KB + tables * TABLE_KB;

/** P1 writes the whole memfd (allocating it), P2 maps the same file and reads it. */
const twoProcesses = (p2map = 'map S shmem F 0 4M shared') => [
  'memfd F 4M',
  'process P1',
  'map S shmem F 0 4M shared',
  'touch S 0 4M write',
  'snapshot p1-before S 0 4M',
  'process P2',
  p2map,
  'touch S 0 4M read',
  'snapshot p2-before S 0 4M',
];

describe('MADV_COLLAPSE of a memfd mapped PTE-wise by two processes', () => {
  function collapseBlock0(overrides: Record<string, string> = {}) {
    return scenario(lines(
      ...twoProcesses(),
      'switch P1',
      'madvise S 0 2M collapse',
      'snapshot p1-after S 0 4M',
      'switch P2',
      'snapshot p2-after S 0 4M',
      'touch S 0 4K read',
      'snapshot p2-refault S 0 4M',
    ), { overrides });
  }

  it('installs a PMD in the caller: its PTE table goes (-4 kB) and ShmemPmdMapped is 2048 kB', () => {
    const s = collapseBlock0();
    expect(s.delta('p1-before').VmPTE).toBe(vmpte(2));
    expect(s.delta('p1-before').RssShmem).toBe(2 * BLOCK_KB);
    expect(s.delta('p1-after').VmPTE).toBe(vmpte(1));
    expect(s.rollup('p1-after').ShmemPmdMapped).toBe(BLOCK_KB);
    expect(s.delta('p1-after').RssShmem).toBe(2 * BLOCK_KB);
    // Block 0 mapped by P1 only now (exclusive); block 1 still by both.
    expect(s.pagemap('p1-after')).toEqual([[512, 'x'], [512, 'p']]);
  });

  it('retracts the PTE table of the other process: its VmPTE drops by 4 kB and RssShmem by 2048 kB, no PMD installed', () => {
    const s = collapseBlock0();
    expect(s.delta('p2-before').VmPTE).toBe(vmpte(2));
    expect(s.delta('p2-before').RssShmem).toBe(2 * BLOCK_KB);
    expect(s.delta('p2-after').VmPTE).toBe(vmpte(1));
    expect(s.delta('p2-after').RssShmem).toBe(BLOCK_KB);
    expect(s.rollup('p2-after').ShmemPmdMapped).toBe(0);
    expect(s.pagemap('p2-after')).toEqual([[512, '-'], [512, 'p']]);
    expect(s.mm('P2').stats.pteTablesRetracted).toBe(1);
  });

  it('maps the THP by PMD, without a table, at the other process\'s next touch', () => {
    const s = collapseBlock0();
    expect(s.delta('p2-refault').VmPTE).toBe(vmpte(1));
    expect(s.rollup('p2-refault').ShmemPmdMapped).toBe(BLOCK_KB);
    expect(s.delta('p2-refault').RssShmem).toBe(2 * BLOCK_KB);
    expect(s.pagemap('p2-refault')).toEqual([[1024, 'p']]);
    expect(s.pteTables('P2')).toEqual([1, 0]);
  });

  it('works the same in version B, which lacks the PMD-state recheck (the race it closes needs a second CPU)', () => {
    const s1 = collapseBlock0();
    const b = collapseBlock0({ version: 'B' });
    for (const label of ['p1-after', 'p2-after', 'p2-refault']) {
      expect(b.delta(label), label).toEqual(s1.delta(label));
      expect(b.rollup(label), label).toEqual(s1.rollup(label));
      expect(b.pagemap(label), label).toEqual(s1.pagemap(label));
    }
    expect(b.delta('p2-after').VmPTE).toBe(vmpte(1));
  });

  it('collapses both blocks of a 4 MiB range: caller -8 kB and ShmemPmdMapped 4096 kB, the other -8 kB and RssShmem 0', () => {
    const s = scenario(lines(
      ...twoProcesses(),
      'switch P1',
      'madvise S 0 4M collapse',
      'snapshot p1-after',
      'switch P2',
      'snapshot p2-after',
    ));
    expect(s.delta('p1-after').VmPTE).toBe(SLOT_KB);
    expect(s.rollup('p1-after').ShmemPmdMapped).toBe(2 * BLOCK_KB);
    expect(s.delta('p2-after').VmPTE).toBe(SLOT_KB);
    expect(s.delta('p2-after').RssShmem).toBe(0);
    expect(s.mm('P2').stats.pteTablesRetracted).toBe(2);
  });

  it('retracts the table of a second mapping of the file in the caller\'s own process', () => {
    //   P1  S  at 16 TiB  |####|####|  -> |PMD |####|
    //   P1  S2 at 17 TiB  |####|####|  -> |....|####|
    const s = scenario(lines(
      'memfd F 4M',
      'process P1',
      'map S shmem F 0 4M shared',
      'map S2 shmem F 0 4M shared',
      'touch S 0 4M write',
      'touch S2 0 4M read',
      'snapshot before',
      'madvise S 0 2M collapse',
      'snapshot after S2 0 4M',
    ));
    // Each mapping in its own 512 GiB slot: 2 x (2 PTE + PMD + PUD).
    expect(s.delta('before').VmPTE).toBe(2 * vmpte(2));
    expect(s.delta('before').RssShmem).toBe(4 * BLOCK_KB);
    expect(s.delta('after').VmPTE).toBe(2 * vmpte(2) - 2 * TABLE_KB);
    expect(s.rollup('after').ShmemPmdMapped).toBe(BLOCK_KB);
    expect(s.delta('after').RssShmem).toBe(3 * BLOCK_KB);
    expect(s.pagemap('after')).toEqual([[512, '-'], [512, 'p']]);
  });
});

describe('mappings that retract_page_tables() skips', () => {
  it('skips a MAP_PRIVATE mapping that has an anon_vma (one COW write), though its file pages are unmapped', () => {
    //   P2  MAP_PRIVATE, read, then one write at 8K (COW: anon page, anon_vma)
    //       |##a#####|########|  -> |..a.....|########|   table kept; the anon page stays
    const s = scenario(lines(
      ...twoProcesses('map S shmem F 0 4M private'),
      'touch S 8K 4K write',
      'snapshot p2-cow S 0 2M',
      'switch P1',
      'madvise S 0 2M collapse',
      'switch P2',
      'snapshot p2-after S 0 2M',
    ));
    expect(s.delta('p2-cow').RssAnon).toBe(PAGE_KB);
    expect(s.delta('p2-cow').RssShmem).toBe(2 * BLOCK_KB - PAGE_KB);
    expect(s.delta('p2-after').VmPTE).toBe(vmpte(2));
    expect(s.delta('p2-after').RssAnon).toBe(PAGE_KB);
    // try_to_unmap() took block 0's 511 file pages; block 1 untouched.
    expect(s.delta('p2-after').RssShmem).toBe(BLOCK_KB);
    expect(s.pagemap('p2-after')).toEqual([[2, '-'], [1, 'x'], [509, '-']]);
    expect(s.mm('P2').stats.pteTablesRetracted).toBe(0);
  });

  it('retracts a MAP_PRIVATE mapping that was only read (no anon_vma) like a shared one', () => {
    const s = scenario(lines(
      ...twoProcesses('map S shmem F 0 4M private'),
      'switch P1',
      'madvise S 0 2M collapse',
      'switch P2',
      'snapshot p2-after',
    ));
    expect(s.delta('p2-after').VmPTE).toBe(vmpte(1));
    expect(s.delta('p2-after').RssShmem).toBe(BLOCK_KB);
  });

  it('skips a mapping whose view of the block is not PMD-aligned: pages unmapped, tables kept', () => {
    // P3 maps F at 16 TiB + 1 MiB: file block 0 covers [1M, 3M) of the address space, across two
    // PMD blocks, so there is no single table to retract (retract_page_tables() checks
    // addr & ~HPAGE_PMD_MASK).
    //        16T      +2M      +4M      +6M
    //   P3   |  [#####|########|#####)  |     3 PTE tables
    const s = scenario(lines(
      ...twoProcesses(),
      'process P3',
      'map S shmem F 0 4M shared at=0x100000100000',
      'touch S 0 4M read',
      'snapshot p3-before',
      'switch P1',
      'madvise S 0 2M collapse',
      'switch P3',
      'snapshot p3-after S 0 4M',
    ));
    expect(s.delta('p3-before').VmPTE).toBe(vmpte(3));
    expect(s.delta('p3-after').VmPTE).toBe(vmpte(3));
    expect(s.delta('p3-after').RssShmem).toBe(BLOCK_KB);
    expect(s.pagemap('p3-after')).toEqual([[512, '-'], [512, 'p']]);
    expect(s.mm('P3').stats.pteTablesRetracted).toBe(0);
  });
});

describe('the live kernel probe', () => {
  it('09-memfd-collapse.pt (measured on Linux 6.18) holds on the model', () => {
    const text = readFileSync(new URL('../../scripts/kernel-probe/09-memfd-collapse.pt', import.meta.url), 'utf8');
    const s = scenario(text);
    const expects = s.result.lines.filter((l) => l.type === 'expect');
    expect(expects.length).toBe(13);
    expect(expects.every((l) => l.type === 'expect' && l.ok)).toBe(true);
  });
});

describe('collapse_huge_page() and a page pinned from outside (__collapse_huge_page_isolate())', () => {
  it('gives the collapse up with -EAGAIN (SCAN_PAGE_COUNT) while a page of the block has an extra reference, and collapses once it is dropped', () => {
    const api = GEN_API;
    const s = scenario(lines('process P', 'map A anon private 2M', 'touch A 0 8K write'), { api });
    const k = s.result.kernel as Kernel;
    const mm = s.mm('P') as MmStruct;
    const pfn = ptePfn(pteAt(k, mm, FIRST_MAP_ADDR));
    k.mem.refcount[pfn]++; // a pin (pin_user_pages(), a long-term GUP) held across the collapse
    expect(api.sysMadvise(k, mm, FIRST_MAP_ADDR, 2 * M, 'collapse')).toBe(-11);
    // The table is put back as it was: the pinned page is still mapped by its PTE.
    expect(ptePfn(pteAt(k, mm, FIRST_MAP_ADDR))).toBe(pfn);
    k.mem.refcount[pfn]--;
    expect(api.sysMadvise(k, mm, FIRST_MAP_ADDR, 2 * M, 'collapse')).toBe(0);
    const pmdp = api.peekPmdSlot(mm, FIRST_MAP_ADDR);
    expect(pmdTransHuge(k.pt.peek((pmdp / 512) | 0, pmdp % 512))).toBe(true);
  });
});
