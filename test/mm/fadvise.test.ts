/**
 * posix_fadvise(POSIX_FADV_DONTNEED) (src/mm/fadvise.ts) and the readahead of a fault that misses
 * the page cache (src/mm/readahead.ts). What a script sees is compared with this machine's kernel
 * by scripts/fadvise*.pt; the eviction's race with a fault is scenarios/fadvise_vs_file_fault.scn,
 * the mlocked fault's PTE recheck against reclaim scenarios/filemap_recheck_vs_dontneed_locked.scn.
 */
import { describe, expect, it } from 'vitest';
import type { AddressSpace, Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { PG_dirty, PG_uptodate } from '../../src/mm/page_alloc.js';
import { setCurrent } from '../../src/mm/current.js';
import { genericFadvise } from '../../src/mm/fadvise.js';
import { complete } from '../../src/mm/primitives.js';
import { FIRST_MAP_ADDR, GEN_API, K, M, lines, scenario } from '../support/scenario.js';

const api = GEN_API;

/** Pages of the file cached at each index of [from, from + n), as a 0/1 string. */
function cached(f: AddressSpace, from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += f.pages.load(i) ? '1' : '0';
  return s;
}

function run(...ops: string[]): { k: Kernel; mm: MmStruct; f: AddressSpace } {
  const s = scenario(lines(...ops), { api });
  const k = s.result.kernel as Kernel;
  return { k, mm: s.mm('P') as MmStruct, f: k.files.find((x) => x.name === 'F')! };
}

describe('fadvise DONTNEED', () => {
  it('evicts the clean pages nothing maps, keeps the mapped ones, and counts what went', () => {
    const { k, mm, f } = run('config read_ahead_kb=0', 'file F 64K', 'process P', 'map A file F 0 64K shared', 'touch A 0 64K read', 'madvise A 0 16K dontneed');
    expect(cached(f, 0, 16)).toBe('1'.repeat(16));
    expect(api.sysFadvise(k, mm, f, 0, 64 * K, 'dontneed')).toBe(0);
    expect(cached(f, 0, 16)).toBe('0000' + '1'.repeat(12));
    expect(f.nrpages).toBe(12);
    api.quiesce(k);
    expect(api.checkInvariants(k)).toEqual([]);
    // The explorer's task reports the count mapping_try_invalidate() returns (the syscall drops it).
    api.sysMunmap(k, mm, FIRST_MAP_ADDR + 16 * K, 16 * K);
    setCurrent(k, 0);
    const out = { evicted: 0 };
    expect(complete(genericFadvise(f, 0, 64 * K, 'dontneed', out))).toBe(0);
    expect(out.evicted).toBe(4);
  });

  it('starts writeback of a dirty page and keeps it; the next call finds it clean and evicts it', () => {
    const { k, mm, f } = run('file F 64K', 'process P', 'map A file F 0 64K shared', 'touch A 0 4K write', 'madvise A 0 64K dontneed');
    const head = f.pages.load(0);
    expect(k.mem.testFlags(head, PG_dirty)).not.toBe(0);
    api.sysFadvise(k, mm, f, 0, 0, 'dontneed'); // len 0: to the end of the file
    expect(cached(f, 0, 2)).toBe('10');
    expect(k.mem.testFlags(head, PG_dirty)).toBe(0);
    api.sysFadvise(k, mm, f, 0, 0, 'dontneed');
    expect(cached(f, 0, 2)).toBe('00');
  });

  it('skips a large folio that reaches past either end of the range', () => {
    const { k, mm, f } = run('file F 4M folio=2M', 'process P', 'map A file F 0 4M shared', 'touch A 0 4M read every=2M', 'madvise A 0 4M dontneed');
    api.sysFadvise(k, mm, f, 4 * K, 2 * M, 'dontneed');
    expect(cached(f, 0, 1) + cached(f, 512, 1)).toBe('11');
    api.sysFadvise(k, mm, f, 2 * M, 2 * M, 'dontneed');
    expect(cached(f, 0, 1) + cached(f, 512, 1)).toBe('10');
  });

  it('is ignored by a memfd (noop_backing_dev_info)', () => {
    const s = scenario(lines('memfd F 64K', 'process P', 'map A shmem F 0 64K shared', 'touch A 0 64K write', 'madvise A 0 64K dontneed'), { api });
    const k = s.result.kernel as Kernel;
    const f = k.files.find((x) => x.name === 'F')!;
    api.sysFadvise(k, s.mm('P') as MmStruct, f, 0, 64 * K, 'dontneed');
    expect(cached(f, 0, 16)).toBe('1'.repeat(16));
  });
});

describe('readahead of a fault that misses the page cache', () => {
  const evicted = (raKb: number, hugepage = '') =>
    run(`config read_ahead_kb=${raKb}`, 'config thp=madvise', 'file F 8M', 'process P', `map A file F 0 8M shared${hugepage}`, 'touch A 0 8M read every=2M', 'madvise A 0 8M dontneed', 'fadvise A 0 8M dontneed');

  it('reads the holes of a window of read_ahead_kb centred on the fault, as order-0 folios', () => {
    const { k, mm, f } = evicted(32); // 8 pages: [pgoff - 4, pgoff + 4)
    expect(f.nrpages).toBe(0);
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR + 100 * 4 * K, false)).toBe(api.FAULT_OK);
    expect(cached(f, 94, 12)).toBe('00' + '1'.repeat(8) + '00');
    for (let i = 96; i < 104; i++) expect(k.mem.order[f.pages.load(i)]).toBe(0);
    expect(k.mem.testFlags(f.pages.load(96), PG_uptodate)).not.toBe(0);
  });

  it('reads only the faulting page with read_ahead_kb=0', () => {
    const { k, mm, f } = evicted(0);
    api.sysTouch(k, mm, FIRST_MAP_ADDR + 100 * 4 * K, false);
    expect(cached(f, 99, 3)).toBe('010');
  });

  it('reads two PMD-size folios from the 2M boundary below the fault in a MADV_HUGEPAGE mapping', () => {
    const { k, mm, f } = evicted(32, ' hugepage');
    api.sysTouch(k, mm, FIRST_MAP_ADDR + 2 * M + 12 * K, false);
    expect(f.nrpages).toBe(1024);
    expect([512, 1024].map((i) => k.mem.order[f.pages.load(i)])).toEqual([9, 9]);
    expect(cached(f, 511, 1) + cached(f, 1536, 1)).toBe('00');
  });

  it('retries the fault after the read, so fault-around maps the pages read around it', () => {
    const { k, mm } = evicted(32);
    const before = api.procStatus(mm).RssFile;
    api.sysTouch(k, mm, FIRST_MAP_ADDR + 100 * 4 * K, false);
    // fault-around (64K: 16 pages, aligned) maps the 8 pages read; no retry would map one
    expect(api.procStatus(mm).RssFile - before).toBe(8 * 4);
  });
});
