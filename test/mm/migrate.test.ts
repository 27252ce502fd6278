/**
 * Page migration (src/mm/migrate.ts: migrate_pages() of one small folio, anonymous or page cache,
 * as compaction runs it; rmap.ts try_to_migrate_one(); migration_entry_wait() from do_swap_page()). What a
 * script sees is compared with this machine's kernel by scripts/migrate.pt
 * (test/oracle/kernel-agreement.test.ts); the races with a reclaiming DONTNEED are
 * scenarios/migrate_vs_dontneed.scn and scenarios/migration_wait_vs_dontneed.scn.
 */
import { describe, expect, it } from 'vitest';
import { setCurrent } from '../../src/mm/current.js';
import { complete, folioLock, folioUnlock } from '../../src/mm/primitives.js';
import { tryToMigrate } from '../../src/mm/rmap.js';
import { folioPutRefs } from '../../src/mm/swap.js';
import { folioIsolateLru, folioPutbackLru } from '../../src/mm/vmscan.js';
import { compactPage } from '../../src/mm/migrate.js';
import { EAGAIN, EBUSY } from '../../src/mm/const.js';
import { vmaLookup } from '../../src/mm/vma_tree.js';
import type { Pfn } from '../../src/mm/const.js';
import { MM_ANONPAGES, type Kernel, type MmStruct } from '../../src/mm/mm_types.js';
import { PG_anon_exclusive, PG_isolated, PT_FREE } from '../../src/mm/page_alloc.js';
import {
  isMigrationPte,
  pteDirty,
  ptePfn,
  ptePresent,
  pteWrite,
  swpKind,
  SWP_MIGRATION_READ_EXCLUSIVE,
  SWP_MIGRATION_WRITE,
} from '../../src/mm/pgtable_types.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, M, pteAt, scenario } from '../support/scenario.js';

const api = GEN_API;
const A = FIRST_MAP_ADDR;

function setup(...more: string[]): { k: Kernel; mm: MmStruct } {
  const s = scenario(lines('process P', 'map A anon private 2M nohugepage', ...more), { api });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

/**
 * The page written at A (after `more` setup ops), half migrated: isolated and locked as
 * migrate_folio_unmap() has it, its PTE replaced by try_to_migrate().
 */
function migrating(...more: string[]): { k: Kernel; mm: MmStruct; head: Pfn } {
  const { k, mm } = setup('touch A 0 4K write', ...more);
  const head = ptePfn(pteAt(k, mm, A));
  setCurrent(k, 0);
  expect(folioIsolateLru(head)).toBe(true); // the isolation reference migration holds
  complete(folioLock(head));
  complete(tryToMigrate(head, { vma: vmaLookup(mm, A)!, address: A }));
  return { k, mm, head };
}

describe('page migration', () => {
  it('moves each page to a new frame, keeps the PTE bits and exclusivity, and frees the old frame', () => {
    const { k, mm } = setup('touch A 0 64K write');
    const before = Array.from({ length: 16 }, (_, i) => pteAt(k, mm, A + i * 4 * K));
    const inUse = k.mem.inUse;
    expect(api.sysMigrate(k, mm, A, 64 * K)).toBe(16);
    expect(k.mem.inUse).toBe(inUse); // each old frame freed as its new one was taken
    for (const [i, old] of before.entries()) {
      const now = pteAt(k, mm, A + i * 4 * K);
      expect(ptePfn(now)).not.toBe(ptePfn(old));
      expect([ptePresent(now), pteWrite(now), pteDirty(now)]).toEqual([true, true, true]);
      expect(k.mem.flags[ptePfn(now)] & PG_anon_exclusive).toBeTruthy();
    }
    expect(mm.rss[MM_ANONPAGES]).toBe(16);
    api.quiesce(k);
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('leaves the zero page, a THP and nothing-mapped slots where they are', () => {
    const s = scenario(lines('process P', 'map B anon private 2M nohugepage', 'touch B 0 8K read', 'map C anon private 2M hugepage align=2M', 'touch C 0 4K write'), { api });
    const k = s.result.kernel as Kernel;
    const mm = s.mm('P') as MmStruct;
    const c = FIRST_MAP_ADDR + 512 * 1024 * M; // the next 512 GiB slot (placement rule)
    expect(api.sysMigrate(k, mm, A, 2 * M)).toBe(0);
    expect(api.sysMigrate(k, mm, c, 2 * M)).toBe(0);
    expect(k.mem.type[ptePfn(pteAt(k, mm, A))]).toBe(k.mem.type[k.mem.zeroPfn]);
  });

  it('keeps a read-only exclusive page exclusive (RMAP_EXCLUSIVE from the entry): mprotect can make it writable again', () => {
    const { k, mm } = setup('touch A 0 4K write', 'mprotect A 0 4K r--');
    const ro = pteAt(k, mm, A);
    expect(pteWrite(ro)).toBe(false);
    expect(api.sysMigrate(k, mm, A, 4 * K)).toBe(1);
    const moved = pteAt(k, mm, A);
    expect([ptePfn(moved) !== ptePfn(ro), pteWrite(moved)]).toEqual([true, false]);
    expect(k.mem.flags[ptePfn(moved)] & PG_anon_exclusive).toBeTruthy();
    // change_pte_range() makes only an exclusive anonymous page writable (can_change_pte_writable()).
    expect(api.sysMprotect(k, mm, A, 4 * K, 3)).toBe(0);
    expect([ptePfn(pteAt(k, mm, A)), pteWrite(pteAt(k, mm, A))]).toEqual([ptePfn(moved), true]);
  });

  it('try_to_migrate() leaves a migration entry that says writable or exclusive, holds no mapping and keeps the RSS', () => {
    for (const [more, kind] of [[[], SWP_MIGRATION_WRITE], [['mprotect A 0 2M r--'], SWP_MIGRATION_READ_EXCLUSIVE]] as const) {
      const { k, mm, head } = migrating(...more);
      const e = pteAt(k, mm, A);
      expect([isMigrationPte(e), swpKind(e), ptePfn(e)]).toEqual([true, kind, head]);
      expect([k.mem.mapcount[head], k.mem.refcount[head], mm.rss[MM_ANONPAGES]]).toEqual([0, 1, 1]);
    }
  });

  it('a whole-block DONTNEED zaps a migration entry like a page and reclaims the table', () => {
    const { k, mm, head } = migrating();
    const tables = mm.pgtablesBytes;
    expect(api.sysMadvise(k, mm, A, 2 * M, 'dontneed')).toBe(0);
    expect([mm.rss[MM_ANONPAGES], tables - mm.pgtablesBytes, pteAt(k, mm, A)]).toEqual([0, 4096, 0]);
    complete(folioUnlock(head));
    folioPutRefs(head, 1); // the isolation reference was the last: the folio is freed
    expect(k.mem.type[head]).toBe(PT_FREE);
  });

  it('a fault on a migration entry sleeps on the folio lock (migration_entry_wait()): alone, it never wakes', () => {
    const { k, mm } = migrating();
    expect(() => api.sysTouch(k, mm, A, false)).toThrow(/a lone CPU waits forever at step fwait folio \d+/);
  });

  it('moves a page-cache folio in every mm that maps it and in the page cache, and frees the old frame', () => {
    const s2 = scenario(lines('memfd F 2M', 'process P', 'map A shmem F 0 2M shared', 'touch A 0 4K write', 'process Q', 'map B shmem F 0 2M shared', 'touch B 0 4K read'), { api });
    const k = s2.result.kernel as Kernel;
    const [p, q] = [s2.mm('P') as MmStruct, s2.mm('Q') as MmStruct];
    const old = ptePfn(pteAt(k, p, A));
    const file = k.files[0]!;
    expect(file.pages.load(0)).toBe(old);
    const inUse = k.mem.inUse;
    expect(api.sysMigrate(k, p, A, 4 * K)).toBe(1);
    const moved = ptePfn(pteAt(k, p, A));
    expect(moved).not.toBe(old);
    expect(ptePfn(pteAt(k, q, A))).toBe(moved); // Q's mapping too (rmap_walk_file())
    expect(file.pages.load(0)).toBe(moved);
    // the page cache's reference and one per mapping; the old frame is free again
    expect([k.mem.refcount[moved], k.mem.mapcount[moved], k.mem.type[old], k.mem.inUse]).toEqual([3, 2, PT_FREE, inUse]);
    expect(k.mem.flags[moved] & PG_isolated).toBe(0);
    api.quiesce(k);
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('a folio another path holds isolated is left alone: compaction gets -EBUSY, a collapse SCAN_PAGE_LRU (-EAGAIN)', () => {
    const s2 = scenario(lines('memfd F 2M', 'process P', 'map A shmem F 0 2M shared', 'touch A 0 2M write'), { api });
    const k = s2.result.kernel as Kernel;
    const mm = s2.mm('P') as MmStruct;
    const head = ptePfn(pteAt(k, mm, A));
    setCurrent(k, 0);
    expect(folioIsolateLru(head)).toBe(true);
    expect(folioIsolateLru(head)).toBe(false); // folio_test_clear_lru() found it cleared
    expect(complete(compactPage(mm, A))).toBe(-EBUSY);
    expect(api.sysMadvise(k, mm, A, 2 * M, 'collapse')).toBe(-EAGAIN);
    setCurrent(k, 0);
    folioPutbackLru(head);
    expect(api.sysMadvise(k, mm, A, 2 * M, 'collapse')).toBe(0);
  });
});
