/**
 * Page migration (src/mm/migrate.ts: migrate_pages() of one small anonymous folio, as compaction
 * runs it; rmap.ts try_to_migrate_one(); migration_entry_wait() from do_swap_page()). What a
 * script sees is compared with this machine's kernel by scripts/migrate.pt
 * (test/oracle/kernel-agreement.test.ts); the races with a reclaiming DONTNEED are
 * scenarios/migrate_vs_dontneed.scn and scenarios/migration_wait_vs_dontneed.scn.
 */
import { describe, expect, it } from 'vitest';
import { setCurrent } from '../../src/mm/current.js';
import { complete, folioLock, folioUnlock } from '../../src/mm/primitives.js';
import { tryToMigrate } from '../../src/mm/rmap.js';
import { folioPutRefs, folioRefAdd } from '../../src/mm/swap.js';
import { vmaLookup } from '../../src/mm/vma_tree.js';
import type { Pfn } from '../../src/mm/const.js';
import { MM_ANONPAGES, type Kernel, type MmStruct } from '../../src/mm/mm_types.js';
import { PG_anon_exclusive, PT_FREE } from '../../src/mm/page_alloc.js';
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
  folioRefAdd(head, 1); // the isolation reference migration holds
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
});
