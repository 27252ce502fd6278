/**
 * mprotect, mremap, brk and the protection bits of mmap, driven through the syscall facade.
 *
 * Pictures show a mapping at 16 TiB; `|` marks 2 MiB block boundaries, `#` a populated page,
 * `r`/`w` the VMA's protection, `.` a none entry.
 *
 *   VmPTE = 4 kB x (PTE + PMD + PUD tables); a mapping alone in its 512 GiB slot pays 8 kB for its
 *   PUD and PMD tables and 4 kB per 2 MiB block that has a PTE table.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mm/api.js';
import { checkInvariants } from '../../src/mm/api.js';

const TiB = 2 ** 40;
const MiB = 2 ** 20;
const BASE = 16 * TiB;

function setup() {
  const k = api.createKernel(api.resolveConfig({}));
  const mm = api.createProcess(k, 'P');
  const map = (addr: number, len: number, prot?: number, fixed?: boolean) =>
    api.sysMmap(k, mm, { addr, len, shared: false, file: null, pgoff: 0, name: 'A', prot, fixed });
  const touch = (start: number, len: number, write: boolean) => api.sysTouchRange(k, mm, start, start + len, api.PAGE_SIZE, write);
  const status = () => {
    api.quiesce(k);
    return api.procStatus(mm);
  };
  const ok = () => expect(checkInvariants(k)).toEqual([]);
  return { k, mm, map, touch, status, ok };
}

describe('protection bits', () => {
  it('a write to a read-only VMA is SIGSEGV, a read maps the zero page read-only', () => {
    const { map, touch, status, ok } = setup();
    expect(map(BASE, 2 * MiB, api.PROT_READ)).toBe(BASE);
    expect(touch(BASE, 4096, false)).toBe(api.FAULT_OK);
    expect(touch(BASE, 4096, true)).toBe(api.FAULT_SIGSEGV);
    expect(status().RssAnon).toBe(0);
    ok();
  });

  it('PROT_NONE faults on reads too, and mprotect back to read-write makes the old pages reachable again', () => {
    const { k, mm, map, touch, status, ok } = setup();
    map(BASE, 2 * MiB);
    touch(BASE, 2 * MiB, true);
    expect(api.sysMprotect(k, mm, BASE, 2 * MiB, api.PROT_NONE)).toBe(0);
    expect(touch(BASE, 4096, false)).toBe(api.FAULT_SIGSEGV);
    expect(status().RssAnon).toBe(2048); // the pages stay mapped
    expect(api.sysMprotect(k, mm, BASE, 2 * MiB, api.PROT_READ | api.PROT_WRITE)).toBe(0);
    expect(touch(BASE, 2 * MiB, true)).toBe(api.FAULT_OK);
    expect(status().RssAnon).toBe(2048); // exclusive pages were made writable again, no copies
    ok();
  });

  it('MAP_FIXED replaces a populated mapping: its pages go, the new one starts empty', () => {
    const { map, touch, status, ok } = setup();
    map(BASE, 4 * MiB);
    touch(BASE, 4 * MiB, true);
    expect(map(BASE + MiB, MiB)).toBe(-17); // EEXIST without MAP_FIXED
    expect(map(BASE + MiB, MiB, api.PROT_READ | api.PROT_WRITE, true)).toBe(BASE + MiB);
    expect(status().RssAnon).toBe(3072);
    ok();
  });
});

describe('mprotect', () => {
  it('splits a VMA in three and merges it back', () => {
    // |rrr www rrr|   mprotect of the middle MiB of a 3 MiB rw VMA to r--, then back to rw-
    const { k, mm, map, ok } = setup();
    map(BASE, 3 * MiB);
    expect(api.sysMprotect(k, mm, BASE + MiB, MiB, api.PROT_READ)).toBe(0);
    expect(mm.vmas.map((v) => [v.start - BASE, v.end - BASE])).toEqual([[0, MiB], [MiB, 2 * MiB], [2 * MiB, 3 * MiB]]);
    expect(api.sysMprotect(k, mm, BASE + MiB, MiB, api.PROT_READ | api.PROT_WRITE)).toBe(0);
    expect(mm.vmas.length).toBe(1);
    ok();
  });

  it('fails with ENOMEM over a hole after changing what lies before it, and with EINVAL when misaligned', () => {
    const { k, mm, map, touch } = setup();
    map(BASE, MiB);
    map(BASE + 2 * MiB, MiB);
    expect(api.sysMprotect(k, mm, BASE, 3 * MiB, api.PROT_READ)).toBe(-12);
    expect(touch(BASE, 4096, true)).toBe(api.FAULT_SIGSEGV); // the first VMA was changed
    expect(touch(BASE + 2 * MiB, 4096, true)).toBe(api.FAULT_OK); // the one after the hole was not
    expect(api.sysMprotect(k, mm, BASE + 1, 4096, api.PROT_READ)).toBe(-22);
  });

  it('write-protects present entries and flushes them from the TLB', () => {
    const { k, mm, map, touch } = setup();
    map(BASE, 2 * MiB);
    touch(BASE, 4096, true); // the TLB now holds a writable translation
    api.sysMprotect(k, mm, BASE, 2 * MiB, api.PROT_READ);
    expect(touch(BASE, 4096, true)).toBe(api.FAULT_SIGSEGV);
  });
});

describe('mremap', () => {
  it('moves a populated, PMD-aligned 4 MiB region by whole PTE tables: VmPTE and RSS unchanged', () => {
    const { k, mm, map, touch, status, ok } = setup();
    map(BASE, 4 * MiB);
    touch(BASE, 4 * MiB, true);
    const before = status();
    const to = 24 * TiB;
    expect(api.sysMremap(k, mm, BASE, 4 * MiB, 4 * MiB, api.MREMAP_MAYMOVE | api.MREMAP_FIXED, to)).toBe(to);
    const after = status();
    expect(after.VmPTE).toBe(before.VmPTE); // 2 PTE tables moved; a new PUD + PMD, the old ones freed
    expect(after.RssAnon).toBe(4096);
    expect(touch(BASE, 4096, false)).toBe(api.FAULT_SIGSEGV);
    expect(touch(to, 4 * MiB, true)).toBe(api.FAULT_OK);
    expect(status().RssAnon).toBe(4096); // no page was lost or copied
    ok();
  });

  it('moves an unaligned range entry by entry into fresh tables', () => {
    // |..##|##..|  [1M, 3M) of a dense 4 MiB region to a 2 MiB-aligned address
    const { k, mm, map, touch, status, ok } = setup();
    map(BASE, 4 * MiB);
    touch(BASE, 4 * MiB, true);
    const to = 24 * TiB;
    expect(api.sysMremap(k, mm, BASE + MiB, 2 * MiB, 2 * MiB, api.MREMAP_MAYMOVE | api.MREMAP_FIXED, to)).toBe(to);
    // old: PUD + PMD + 2 PTE tables (both blocks keep a VMA); new: PUD + PMD + 1 PTE table
    expect(status().VmPTE).toBe(16 + 12);
    expect(status().RssAnon).toBe(4096);
    expect(mm.vmas.length).toBe(3);
    ok();
  });

  it('grows in place when the range after is free, and refuses to move without MREMAP_MAYMOVE', () => {
    const { k, mm, map, status } = setup();
    map(BASE, 2 * MiB);
    expect(api.sysMremap(k, mm, BASE, 2 * MiB, 4 * MiB, 0, 0)).toBe(BASE);
    expect(status().VmSize).toBe(4096);
    api.sysMmap(k, mm, { addr: BASE + 4 * MiB, len: MiB, shared: false, file: null, pgoff: 0, name: 'B' });
    expect(api.sysMremap(k, mm, BASE, 4 * MiB, 8 * MiB, 0, 0)).toBe(-12);
    expect(api.sysMremap(k, mm, BASE, 4 * MiB, 8 * MiB, api.MREMAP_MAYMOVE, 20 * TiB)).toBe(20 * TiB);
    expect(api.sysMremap(k, mm, 20 * TiB, 8 * MiB, 2 * MiB, 0, 0)).toBe(20 * TiB); // shrink
    expect(status().VmSize).toBe(2048 + 1024);
  });
});

describe('brk', () => {
  it('grows the heap from the recorded break and shrinks it again, freeing its pages', () => {
    const { k, mm, touch, status, ok } = setup();
    const start = 0x555555560000;
    api.setBrkBase(mm, start, start);
    expect(api.sysBrk(k, mm, 0)).toBe(start); // a query: below start_brk, the old break
    expect(api.sysBrk(k, mm, start + 3 * MiB + 100)).toBe(start + 3 * MiB + 100);
    expect(mm.vmas.length).toBe(1);
    expect(touch(start, 3 * MiB, true)).toBe(api.FAULT_OK);
    expect(api.sysBrk(k, mm, start + 4 * MiB)).toBe(start + 4 * MiB);
    expect(mm.vmas.length).toBe(1); // the heap VMA was extended, not joined by a second one
    expect(api.sysBrk(k, mm, start + MiB)).toBe(start + MiB);
    expect(status().RssAnon).toBe(1024);
    expect(status().VmSize).toBe(1024);
    ok();
  });

  it('refuses to grow up to the next mapping (one free page must stay), returning the old break', () => {
    const { k, mm, map } = setup();
    const start = BASE - 2 * MiB;
    api.setBrkBase(mm, start, start);
    map(BASE, MiB);
    expect(api.sysBrk(k, mm, BASE)).toBe(start);
    expect(api.sysBrk(k, mm, BASE - 4096)).toBe(BASE - 4096);
  });
});
