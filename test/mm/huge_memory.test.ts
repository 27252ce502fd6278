/**
 * Anonymous PMD-mapped THPs and their deposited PTE tables (docs/kernel-rules.md, "Folios and the deposit"; docs/kernel-facts.md, "THP").
 *
 * x86 deposits one PTE table with every anonymous huge PMD (pgtable_trans_huge_deposit()), so that
 * a later split never has to allocate; the deposit is counted in VmPTE. Hence a THP costs VmPTE
 * exactly what 512 small pages cost: 4 kB per 2 MiB.
 *
 *   huge PMD ----> 2 MiB folio          split: the deposit becomes the PTE table,
 *      `-- deposit: PTE table (4 kB)           filled with 512 PTEs to the folio's pages
 *
 * Pictures: `H` a PMD-mapped THP, `Z` the huge zero page, `#` a PTE-mapped page, `.` none.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenarios/format.js';
import { runScenario } from '../../src/scenarios/run.js';
import { BLOCK_KB, lines, PAGE_KB, scenario, SLOT_KB, TABLE_KB } from '../support/scenario.js';

const vmpte = (tables: number) => SLOT_KB + tables * TABLE_KB;

/** Four THPs at 16 TiB: |H|H|H|H| */
const fourThps = ['process P', 'map A anon private 8M hugepage', 'touch A 0 8M write every=2M', 'snapshot thp A 0 8M'];

describe('a PMD-mapped anonymous THP', () => {
  it('carries one deposited table: VmPTE +4 kB per 2 MiB, AnonHugePages +2048 kB, no PTE table linked', () => {
    const s = scenario(lines(...fourThps, 'expect pte_tables == 0'));
    expect(s.delta('thp').VmPTE).toBe(vmpte(4));
    expect(s.rollup('thp').AnonHugePages).toBe(4 * BLOCK_KB);
    expect(s.delta('thp').RssAnon).toBe(4 * BLOCK_KB);
    expect(s.pagemap('thp')).toEqual([[2048, 'x']]);
    expect(s.result.kernel.stats.thpFaults).toBe(4);
  });

  it('costs the same VmPTE as 4 KiB pages (MADV_NOHUGEPAGE)', () => {
    const s = scenario(lines('process P', 'map A anon private 8M nohugepage', 'touch A 0 8M write', 'snapshot small'));
    expect(s.delta('small').VmPTE).toBe(vmpte(4));
    expect(s.rollup('small').AnonHugePages).toBe(0);
  });

  it('comes without MADV_HUGEPAGE when thp=always, and not with thp=never', () => {
    const always = scenario(lines('config thp=always', 'process P', 'map A anon private 4M', 'touch A 0 4M write every=2M', 'snapshot s'));
    expect(always.rollup('s').AnonHugePages).toBe(2 * BLOCK_KB);
    expect(always.delta('s').VmPTE).toBe(vmpte(2));
    const never = scenario(lines('config thp=never', 'process P', 'map A anon private 4M hugepage', 'touch A 0 4M write every=2M', 'snapshot s'));
    expect(never.rollup('s').AnonHugePages).toBe(0);
    expect(never.delta('s').RssAnon).toBe(2 * PAGE_KB);
    expect(never.delta('s').VmPTE).toBe(vmpte(2));
  });

  it('is freed with its deposit by a DONTNEED of exactly its block (-4 kB), with pt_reclaim on or off', () => {
    //   |H|H|H|H|  ->  |.|H|H|H|     zap_huge_pmd() withdraws and frees the deposit itself
    for (const reclaim of ['on', 'off']) {
      const s = scenario(lines(`config pt_reclaim=${reclaim}`, ...fourThps, 'madvise A 0 2M dontneed', 'snapshot one-gone A 0 8M'));
      expect(s.delta('one-gone').VmPTE, `pt_reclaim=${reclaim}`).toBe(vmpte(3));
      expect(s.rollup('one-gone').AnonHugePages).toBe(3 * BLOCK_KB);
      expect(s.delta('one-gone').RssAnon).toBe(3 * BLOCK_KB);
      expect(s.pagemap('one-gone')).toEqual([[512, '-'], [1536, 'x']]);
      expect(s.pteTables('P')).toEqual([0, 0]);
    }
  });

  it('is split by a partial DONTNEED: AnonHugePages -2048, VmPTE unchanged, the deposit becomes the live table', () => {
    //   |H|H|H|H|  ->  |.###...#|H|H|H|    DONTNEED [0, 4K): one page gone, 511 PTE-mapped
    const s = scenario(lines(
      ...fourThps,
      'madvise A 0 4K dontneed',
      'snapshot split A 0 2M',
      'expect pte_tables == 1',
      'madvise A 0 2M dontneed',
      'snapshot whole-block',
    ));
    expect(s.delta('split').VmPTE).toBe(vmpte(4));
    expect(s.rollup('split').AnonHugePages).toBe(3 * BLOCK_KB);
    expect(s.delta('split').RssAnon).toBe(4 * BLOCK_KB - PAGE_KB);
    expect(s.pagemap('split')).toEqual([[1, '-'], [511, 'x']]);
    expect(s.result.kernel.stats.thpSplits).toBe(1);
    // A later whole-block DONTNEED reclaims the table the split left (PT reclaim proper).
    expect(s.delta('whole-block').VmPTE).toBe(vmpte(3));
    expect(s.delta('whole-block').RssAnon).toBe(3 * BLOCK_KB);
  });

  it('leaves the table of a split THP after a whole-block DONTNEED when pt_reclaim=off', () => {
    const s = scenario(lines('config pt_reclaim=off', ...fourThps, 'madvise A 0 4K dontneed', 'madvise A 0 2M dontneed', 'snapshot after'));
    expect(s.delta('after').VmPTE).toBe(vmpte(4));
    expect(s.delta('after').RssAnon).toBe(3 * BLOCK_KB);
    expect(s.pteTables('P')).toEqual([1, 1]);
  });

  it('gives back THPs, deposits, PMD and PUD tables on munmap', () => {
    const s = scenario(lines(...fourThps, 'unmap A 0 8M', 'snapshot unmapped'));
    expect(s.delta('unmapped').VmPTE).toBe(0);
    expect(s.delta('unmapped').RssAnon).toBe(0);
    expect(s.rollup('unmapped').AnonHugePages).toBe(0);
  });
});

describe('the huge zero page', () => {
  const hugeZero = ['process Z', 'map H anon private 4M hugepage', 'touch H 0 4M read', 'snapshot huge-zero H 0 4M'];

  it('is mapped by a read fault with a deposit: VmPTE counts it, RSS does not', () => {
    //   |Z|Z|
    const s = scenario(lines(...hugeZero));
    expect(s.delta('huge-zero').VmPTE).toBe(vmpte(2));
    expect(s.delta('huge-zero').RssAnon).toBe(0);
    expect(s.rollup('huge-zero').Rss).toBe(0);
    expect(s.rollup('huge-zero').AnonHugePages).toBe(0);
    // Shared zero page: present, not exclusive.
    expect(s.pagemap('huge-zero')).toEqual([[1024, 'p']]);
  });

  it('is replaced by a THP on a write after the read; the deposit stays', () => {
    //   |Z|Z|  ->  |H|Z|     do_huge_zero_wp_pmd() maps a fresh THP over the same deposit
    const s = scenario(lines(...hugeZero, 'touch H 0 4K write', 'snapshot written H 0 4M'));
    expect(s.delta('written').VmPTE).toBe(vmpte(2));
    expect(s.rollup('written').AnonHugePages).toBe(BLOCK_KB);
    expect(s.delta('written').RssAnon).toBe(BLOCK_KB);
    expect(s.pagemap('written')).toEqual([[512, 'x'], [512, 'p']]);
  });

  it('gives its deposit back when its block is DONTNEEDed whole', () => {
    const s = scenario(lines(...hugeZero, 'madvise H 0 2M dontneed', 'snapshot one-gone H 0 4M'));
    expect(s.delta('one-gone').VmPTE).toBe(vmpte(1));
    expect(s.pagemap('one-gone')).toEqual([[512, '-'], [512, 'p']]);
  });
});

describe('the live kernel probe', () => {
  it('06-thp-anon.pt (measured on Linux 6.18) holds on the model', () => {
    const text = readFileSync(new URL('../../scripts/kernel-probe/06-thp-anon.pt', import.meta.url), 'utf8');
    const s = scenario(text);
    const expects = s.result.lines.filter((l) => l.type === 'expect');
    expect(expects.length).toBeGreaterThan(10);
    expect(expects.every((l) => l.type === 'expect' && l.ok)).toBe(true);
  });
});

describe('a write to a THP that fork() shared, once the child is gone (do_huge_pmd_wp_page(), 6.18)', () => {
  const setup = ['config thp=always', 'process P', 'map A anon private 2M align=2M', 'touch A 0 2M write', 'fork P Q', 'exit Q', 'switch P'];

  it('reuses the THP in place: no split, no new page, the head exclusive again', () => {
    const s = scenario(lines(...setup, 'touch A 0 4K write', 'snapshot w A 0 2M'));
    expect(s.rollup('w').AnonHugePages).toBe(BLOCK_KB);
    expect(s.pagemap('w')).toEqual([[512, 'x']]);
  });

  it('splits while another process still maps it, and copies the written page', () => {
    const s = scenario(lines(...setup.filter((l) => l !== 'exit Q'), 'touch A 0 4K write', 'snapshot w A 0 2M'));
    expect(s.rollup('w').AnonHugePages).toBe(0);
    expect(s.pagemap('w')).toEqual([[1, 'x'], [511, 'p']]);
  });

  it('against a MADV_PAGEOUT that splits it under the folio lock: every outcome has a sequential order (preemption bound 1)', () => {
    // The fault's folio_trylock() fails while the split holds the lock: it takes the lock with the
    // PMD lock dropped, and its pmd_same() recheck then finds the PMD split and retries the fault.
    const text = ['scenario thp_reuse', 'violation none', ...setup, 'cpu 0 touch A 0 4K write', 'cpu 1 madvise A 0 8K pageout'].join('\n');
    const parsed = parseScenario(text, 'thp_reuse.scn');
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const r = runScenario(parsed.scenario, { bound: 1, explain: { allow: [] }, snapshots: false });
    expect(r.status).toBe('clean');
    if (r.status === 'clean') expect(r.coverage).toBe('bounded');
  });
});
