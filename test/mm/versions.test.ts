/**
 * What each kernel release changes on one CPU (src/mm/versions.ts, docs/versions.md): the 7.0 fast
 * path without split PTE locks, the page-table free path without PT_RECLAIM before and after 6.15
 * and 7.1, and the cost of the R8 remedy on the cover-letter loop. The races each release shipped
 * need several CPUs: test/scenarios/versions.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/mm/config.js';
import { scenario, TABLE_KB } from '../support/scenario.js';

const stats = (text: string, overrides: Record<string, string>) => scenario(text, { overrides }).result.kernel.stats;

/** Two dense blocks, then a whole-range DONTNEED: two tables to reclaim. */
const TWO_BLOCKS = `process P
map A anon private 4M
touch A 0 4M write
madvise A 0 4M dontneed
snapshot after
`;

describe('kernel versions on one CPU', () => {
  it('resolves aliases and release defaults, and lets an explicit setting win', () => {
    expect(resolveConfig({ version: 'S1' }).version).toBe('6.14');
    expect(resolveConfig({}).version).toBe('6.18');
    expect(resolveConfig({ version: '6.14' }).dontneedLock).toBe('mmap');
    expect(resolveConfig({ version: '6.17' }).freeLock).toBe('mmap');
    expect(resolveConfig({ version: '6.18' }).freeLock).toBe('vma');
    expect(resolveConfig({ version: '6.18', dontneedLock: 'mmap' }).freeLock).toBe('mmap');
    expect([...resolveConfig({ version: '7.0' }).guardsOff]).toEqual(['free-pte-flush-addr']);
    expect(resolveConfig({ arch: 'arm64' }).pwcFlush).toBe('addr');
    expect(resolveConfig({ arch: 'arm64', pwcFlush: 'all' }).pwcFlush).toBe('all');
    expect(() => resolveConfig({ version: '5.4' as never })).toThrow(/unknown kernel version '5.4'/);
  });

  it('without split PTE locks, reclaims by the fast path only from 7.0 (no trylock of the lock it holds)', () => {
    const before = stats(TWO_BLOCKS, { version: '6.18', split_ptlocks: 'off' });
    expect([before.ptesReclaimedFast, before.ptesReclaimedSlow]).toEqual([0, 2]);
    const after = stats(TWO_BLOCKS, { version: '7.0', split_ptlocks: 'off' });
    expect([after.ptesReclaimedFast, after.ptesReclaimedSlow]).toEqual([2, 0]);
    // With split locks the PMD lock is another lock: the trylock succeeds in both.
    expect(stats(TWO_BLOCKS, { version: '6.18' }).ptesReclaimedFast).toBe(2);
  });

  it('without PT_RECLAIM, frees tables through the page batch before 6.15 on x86 (never on arm64) and through tlb_remove_table() (RCU) from 6.15', () => {
    const unmap = `process P\nmap A anon private 4M\ntouch A 0 4M write\nunmap A 0 4M\n`;
    const old = stats(unmap, { version: '6.14', pt_reclaim: 'off' });
    expect([old.tableBatchesQueued, old.rcuCallbacks]).toEqual([0, 0]);
    const now = stats(unmap, { version: '6.15', pt_reclaim: 'off' });
    expect(now.tableBatchesQueued).toBeGreaterThan(0);
    expect(now.rcuCallbacks).toBe(now.tableBatchesQueued);
    // arm64 has freed its tables through tlb_remove_table() all along (MMU_GATHER_RCU_TABLE_FREE):
    // its TLBI waits for no interrupts-off walker, so a table in the page batch would be freed under one.
    const arm = stats(unmap, { version: '6.14', arch: 'arm64' });
    expect(arm.tableBatchesQueued).toBeGreaterThan(0);
    expect(arm.rcuCallbacks).toBe(arm.tableBatchesQueued);
  });

  it('without PT_RECLAIM and without a batch page, frees a table after an IPI before 7.1 and after a grace period from 7.1', () => {
    const unmap = `process P\nmap A anon private 4M\ntouch A 0 4K write\nunmap A 0 4M\n`;
    const ipi = stats(unmap, { version: '7.0', pt_reclaim: 'off', batch_alloc: 'fail' });
    expect(ipi.singleTableFrees).toBeGreaterThan(0);
    expect(ipi.rcuCallbacks).toBe(0);
    const rcu = stats(unmap, { version: '7.1', pt_reclaim: 'off', batch_alloc: 'fail' });
    expect(rcu.singleTableFrees).toBe(ipi.singleTableFrees);
    expect(rcu.rcuCallbacks).toBe(rcu.singleTableFrees);
  });

  it('costs no flush on the cover-letter loop with the R8 remedy on: no fault meets a pending flush of its own process', () => {
    const loop = `process P\nmap A anon private 1G\n${Array.from({ length: 64 }, (_, i) => `touch A ${i * 2}M 2M write\nmadvise A ${i * 2}M 2M dontneed\n`).join('')}snapshot end\nexpect VmPTE delta ${2 * TABLE_KB}\n`;
    const off = stats(loop, {});
    const on = stats(loop, { fault_flush_pending: 'on' });
    expect(on.faultPendingFlushes).toBe(0);
    expect(on.tlbFlushes).toBe(off.tlbFlushes);
    expect(off.tlbFlushes).toBeGreaterThan(0);
  });
});
