/**
 * `fault_zero_page=off`: read faults map pages of their own instead of the shared zero page, as on
 * a vendor 6.18.44 booted with pvm_no_zero_page=1 (docs/fidelity.md). Measured there: only the two
 * read-fault sites change (do_anonymous_page(), do_huge_pmd_anonymous_page()); UFFDIO_ZEROPAGE and
 * the remap after a THP split still map the zero page. Each case runs both settings, so a setting
 * that did nothing, or too much, fails.
 *
 * Pagemap codes: `p` present and shared (the zero page), `x` present and exclusive (a page of its own).
 */
import { describe, expect, it } from 'vitest';
import { BLOCK_KB, lines, PAGE_KB, scenario } from '../support/scenario.js';

const both = (...ops: string[]) => ({
  on: scenario(lines('config fault_zero_page=on', ...ops)),
  off: scenario(lines('config fault_zero_page=off', ...ops)),
});

describe('fault_zero_page', () => {
  it('off: a 4 KiB read fault maps an exclusive page counted in RssAnon; on: the zero page, not counted', () => {
    const s = both('process P', 'map A anon private 16K nohugepage', 'touch A 0 16K read', 'snapshot r A 0 16K');
    expect(s.on.pagemap('r')).toEqual([[4, 'p']]);
    expect(s.on.delta('r').RssAnon).toBe(0);
    expect(s.off.pagemap('r')).toEqual([[4, 'x']]);
    expect(s.off.delta('r').RssAnon).toBe(4 * PAGE_KB);
  });

  it('off: a THP read fault maps a new THP; on: the huge zero page', () => {
    const s = both('config thp=madvise', 'process P', 'map A anon private 2M hugepage', 'touch A 0 4K read', 'snapshot r A 0 2M');
    expect(s.on.rollup('r').AnonHugePages).toBe(0);
    expect(s.on.delta('r').RssAnon).toBe(0);
    expect(s.off.rollup('r').AnonHugePages).toBe(BLOCK_KB);
    expect(s.off.delta('r').RssAnon).toBe(BLOCK_KB);
    expect(s.off.pagemap('r')).toEqual([[512, 'x']]);
  });

  it('leaves UFFDIO_ZEROPAGE alone: it maps the zero page either way', () => {
    const s = both('process P', 'map A anon private 2M nohugepage', 'uffd_register A 0 2M missing', 'uffd_zeropage A 0 16K', 'snapshot z A 0 16K');
    for (const r of [s.on, s.off]) {
      expect(r.pagemap('z')).toEqual([[4, 'p']]);
      expect(r.delta('z').RssAnon).toBe(0);
    }
  });

  it('leaves the remap after a THP split alone: never-written pages of a read-faulted THP become zero-page PTEs', () => {
    // off: read fault -> THP; MADV_FREE of its first page splits it; remap_page() maps the 511
    // zero-filled pages to the zero page; the write then gives page 0 a page of its own (RssAnon 4).
    const s = both('config thp=madvise', 'process P', 'map A anon private 2M hugepage', 'touch A 0 4K read', 'madvise A 0 4K free', 'touch A 0 4K write', 'snapshot w A 0 2M');
    expect(s.off.pagemap('w')).toEqual([[1, 'x'], [511, 'p']]);
    expect(s.off.delta('w').RssAnon).toBe(PAGE_KB);
    expect(s.off.rollup('w').AnonHugePages).toBe(0);
    // on: the read maps the huge zero page, which MADV_FREE leaves alone; the write maps a THP.
    expect(s.on.rollup('w').AnonHugePages).toBe(BLOCK_KB);
  });
});
