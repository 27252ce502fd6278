/**
 * The PAGEMAP_SCAN ioctl (src/mm/pagemap_scan.ts, do_pagemap_scan()): regions, the limits that stop
 * a scan early and where it says it stopped, and its argument checks. Every expected value here was
 * measured with the same call on this machine's kernel (6.18; a C probe of 2026-12-07, the cases
 * of docs/op-scripts.md "PAGEMAP_SCAN codes").
 */
import { describe, expect, it } from 'vitest';
import { setCurrent } from '../../src/mm/current.js';
import { complete } from '../../src/mm/primitives.js';
import { EINVAL, EPERM } from '../../src/mm/const.js';
import {
  doPagemapScan,
  pmScanArg,
  PAGE_IS_PRESENT,
  PAGE_IS_WRITTEN,
  PM_SCAN_CHECK_WPASYNC,
  PM_SCAN_MODELLED,
  PM_SCAN_WP_MATCHING,
  type PmScanArg,
} from '../../src/mm/pagemap_scan.js';
import type { Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, M, scenario } from '../support/scenario.js';

const A = FIRST_MAP_ADDR;
const PAGE = 4 * K;
const P = PAGE_IS_PRESENT | PAGE_IS_WRITTEN; // an anonymous page
const E = PAGE_IS_WRITTEN; // an empty entry of a table

/** An 8 MiB anonymous mapping whose first 1,200 pages alternate present and empty. */
function alternating(): { k: Kernel; mm: MmStruct } {
  const touches = Array.from({ length: 600 }, (_, i) => `touch A ${i * 8}K 4K write`);
  const s = scenario(lines('process P', 'map A anon private 8M nohugepage', ...touches), { api: GEN_API });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

function scan(k: Kernel, mm: MmStruct, arg: PmScanArg): number {
  setCurrent(k, 0);
  return complete(doPagemapScan(mm, arg));
}

/** Regions as [first page, end page, categories], pages counted from A. */
const pages = (arg: PmScanArg) => arg.vec.map((r) => [(r.start - A) / PAGE, (r.end - A) / PAGE, r.categories]);

describe('PAGEMAP_SCAN: do_pagemap_scan()', () => {
  const { k, mm } = alternating();

  it('reports a region per run of pages with the same categories; a block with no table has none', () => {
    const arg = pmScanArg(A, A + 8 * M, 4096);
    expect(scan(k, mm, arg)).toBe(1201);
    const r = pages(arg);
    expect(r.slice(0, 4)).toEqual([[0, 1, P], [1, 2, E], [2, 3, P], [3, 4, E]]);
    expect(r.slice(-2)).toEqual([[1199, 1536, E], [1536, 2048, 0]]);
  });

  it('walks again while its 512-region bounce buffer fills, and leaves walk_end where the last fill stopped', () => {
    const arg = pmScanArg(A, A + 8 * M, 4096);
    scan(k, mm, arg);
    // Fills stop at pages 512 and 1024; the last walk ends with no error, which leaves walk_end.
    expect((arg.walkEnd - A) / PAGE).toBe(1024);
  });

  it('stops at a full vector or at max_pages, with walk_end at the first page not reported', () => {
    const two = pmScanArg(A, A + 8 * M, 2);
    expect(scan(k, mm, two)).toBe(2);
    expect(pages(two)).toEqual([[0, 1, P], [1, 2, E]]);
    expect((two.walkEnd - A) / PAGE).toBe(2);
    const three = { ...pmScanArg(A, A + 8 * M, 100), maxPages: 3 };
    expect(scan(k, mm, three)).toBe(3);
    expect((three.walkEnd - A) / PAGE).toBe(3);
  });

  it('matches only the categories asked; the written-only fast path reports empty entries too', () => {
    const present = { ...pmScanArg(A, A + 16 * PAGE, 100, PAGE_IS_PRESENT), categoryMask: PAGE_IS_PRESENT };
    expect(scan(k, mm, present)).toBe(8);
    expect(pages(present)[1]).toEqual([2, 3, PAGE_IS_PRESENT]);
    const written = { ...pmScanArg(A, A + 16 * PAGE, 100, PAGE_IS_WRITTEN), categoryMask: PAGE_IS_WRITTEN };
    expect(scan(k, mm, written)).toBe(1);
    expect(pages(written)).toEqual([[0, 16, PAGE_IS_WRITTEN]]);
  });

  it('without a vector returns 0 and walk_end at the end; an unaligned end is rounded up', () => {
    const none = pmScanArg(A, A + 16 * PAGE, 0);
    expect(scan(k, mm, none)).toBe(0);
    expect(none.walkEnd).toBe(A + 16 * PAGE);
    expect(scan(k, mm, pmScanArg(A, A + 16 * PAGE + 1, 100))).toBe(17);
  });

  it('skips every VMA for PM_SCAN_WP_MATCHING and fails PM_SCAN_CHECK_WPASYNC: no VMA has UFFD_FEATURE_WP_ASYNC', () => {
    const wp = { ...pmScanArg(A, A + 8 * M, 100), flags: PM_SCAN_WP_MATCHING };
    expect(scan(k, mm, wp)).toBe(0);
    expect(wp.walkEnd).toBe(A + 8 * M);
    expect(scan(k, mm, { ...pmScanArg(A, A + 8 * M, 100), flags: PM_SCAN_CHECK_WPASYNC })).toBe(-EPERM);
  });

  it('refuses unknown flags and an unaligned start with -EINVAL', () => {
    expect(scan(k, mm, { ...pmScanArg(A, A + 16 * PAGE, 100), flags: 4 })).toBe(-EINVAL);
    expect(scan(k, mm, pmScanArg(A + 1, A + 16 * PAGE, 100))).toBe(-EINVAL);
    expect(scan(k, mm, pmScanArg(A, A + 16 * PAGE, 100, PM_SCAN_MODELLED | (1 << 9)))).toBe(-EINVAL);
  });
});
