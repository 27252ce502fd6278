/**
 * The two ways zap_pte_range() reclaims a table (docs/kernel-rules.md, "The zap"):
 *
 *   fast path  the whole block was zapped under one continuous hold of its PTE lock, and
 *              trylock(PMD lock) succeeds: try_get_and_clear_pmd() detaches it on the spot;
 *   slow path  anything else (the lock was dropped for a reschedule or a full page batch, or the
 *              trylock failed): try_to_free_pte() rescans the 512 entries under both locks.
 *
 * Both free the table through the mmu_gather: VmPTE drops at once (free_pte()), the memory
 * (/proc/meminfo PageTables) only after the TLB flush and an RCU grace period.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../../src/mm/api.js';
import { doMadvise } from '../../../src/mm/madvise.js';
import { stepEnabled, type KGen } from '../../../src/mm/primitives.js';
import { lines, PAGES_PER_BLOCK, scenario, SLOT_KB, TABLE_KB } from '../../support/scenario.js';

// ---- the page batch, from the kernel's own numbers (include/asm-generic/tlb.h, mm/mmu_gather.c) ----
/** MMU_GATHER_BUNDLE: the batch embedded in struct mmu_gather on the stack. */
const BUNDLE = 8;
/** MAX_GATHER_BATCH: a batch page of 4096 bytes minus its 16-byte header, in 8-byte pointers. */
const BATCH = (4096 - 16) / 8;
/** MAX_GATHER_BATCH_COUNT = 10000UL / MAX_GATHER_BATCH: at most 19 batch pages. */
const BATCH_COUNT = Math.floor(10000 / BATCH);
/**
 * __tlb_remove_folio_pages_size() adds a page, then calls a batch with nr >= max - 1 full ("keep
 * room for another page + nr_pages pair") and moves to the next one. The bundle takes 7 pages,
 * each batch page 509; when the 19th batch page is full, tlb_next_batch() fails and the zap must
 * stop and flush (force_flush + force_break). The flush empties every batch, so the count starts
 * again from 0.
 */
const PAGES_PER_FLUSH = BUNDLE - 1 + BATCH_COUNT * (BATCH - 1);
/** With no batch page allocatable (batch_alloc=fail) only the bundle is there. */
const PAGES_PER_FLUSH_NO_BATCH = BUNDLE - 1;

/**
 * Blocks whose zap hits a full batch: those containing the k-th page (1-based) for k a multiple of
 * `perFlush`, when `pagesPerBlock` order-0 pages of every block are zapped in address order.
 * Each of them loses the continuous PTE-lock hold and takes the slow path (force_break clears
 * direct_reclaim in S1), even when the break falls on the block's last page.
 */
function blocksThatBreak(blocks: number, pagesPerBlock: number, perFlush: number): Set<number> {
  const hit = new Set<number>();
  for (let page = perFlush; page <= blocks * pagesPerBlock; page += perFlush) hit.add(Math.floor((page - 1) / pagesPerBlock));
  return hit;
}

describe('the page-batch limit', () => {
  it('is 9,678 order-0 pages per flush: 7 in the on-stack bundle, then 19 batch pages of 509', () => {
    expect(api.MMU_GATHER_BUNDLE).toBe(BUNDLE);
    expect(api.MAX_GATHER_BATCH).toBe(510);
    expect(api.MAX_GATHER_BATCH_COUNT).toBe(19);
    expect(PAGES_PER_FLUSH).toBe(9678);
  });

  it('sends the one block of a dense 64 MiB DONTNEED where the batch fills down the slow path, the other 31 down the fast path', () => {
    // 32 blocks x 512 pages = 16,384 pages: one break, at page 9,678, inside block 18.
    //   |0 ... 17|  18  |19 ... 31|
    //    fast     slow    fast
    const blocks = 32;
    const slow = blocksThatBreak(blocks, PAGES_PER_BLOCK, PAGES_PER_FLUSH);
    expect([...slow]).toEqual([18]);
    const s = scenario(lines('process P', 'map A anon private 64M', 'touch A 0 64M write', 'madvise A 0 64M dontneed', 'snapshot after'));
    const st = s.mm('P').stats;
    expect(st.ptesReclaimedSlow).toBe(slow.size);
    expect(st.ptesReclaimedFast).toBe(blocks - slow.size);
    expect(st.ptesReclaimedFast + st.ptesReclaimedSlow).toBe(blocks);
    expect(s.delta('after').VmPTE).toBe(SLOT_KB);
    expect(s.pteTables('P')).toEqual([0, 0]);
    // One forced flush (the break), and the table batch is handed to RCU twice: by that flush
    // (tlb_flush_mmu() -> tlb_table_flush(), 18 tables) and by tlb_finish_mmu() (the other 14).
    expect(s.result.kernel.stats.forceFlushes).toBe(1);
    expect(s.result.kernel.stats.tableBatchesQueued).toBe(2);
  });

  it('sends 27 of the 512 blocks of a dense 1 GiB DONTNEED down the slow path', () => {
    // 262,144 pages / 9,678 per flush: breaks at k x 9,678 for k = 1..27, each in its own block
    // (9,678 > 512), none on a block boundary.
    const blocks = 512;
    const slow = blocksThatBreak(blocks, PAGES_PER_BLOCK, PAGES_PER_FLUSH);
    expect(slow.size).toBe(27);
    const s = scenario(lines('process P', 'map A anon private 1G', 'touch A 0 1G write', 'madvise A 0 1G dontneed', 'snapshot after'), { checkInvariants: false });
    const st = s.mm('P').stats;
    expect(st.ptesReclaimedSlow).toBe(27);
    expect(st.ptesReclaimedFast).toBe(485);
    expect(s.delta('after').VmPTE).toBe(SLOT_KB);
    expect(s.result.kernel.stats.forceFlushes).toBe(27);
    // 27 flushes at the breaks, each with the tables reclaimed since the one before, plus the last.
    expect(s.result.kernel.stats.tableBatchesQueued).toBe(28);
    expect(api.checkInvariants(s.result.kernel)).toEqual([]);
  });

  it('never breaks a sparse DONTNEED (one page per block): every table goes the fast path', () => {
    const s = scenario(lines('process P', 'map A anon private 64M', 'touch A 0 64M write every=2M', 'madvise A 0 64M dontneed', 'snapshot after'));
    expect(s.mm('P').stats.ptesReclaimedFast).toBe(32);
    expect(s.mm('P').stats.ptesReclaimedSlow).toBe(0);
    expect(s.result.kernel.stats.forceFlushes).toBe(0);
    expect(s.delta('after').VmPTE).toBe(SLOT_KB);
  });

  it('queues ceil(1024 / 509) = 3 table batches for 1,024 tables reclaimed in one DONTNEED', () => {
    // MAX_TABLE_BATCH = (4096 - sizeof(struct mmu_table_batch) = 24) / 8 = 509 tables; a full
    // batch is handed to RCU at once, the rest by tlb_finish_mmu().
    const s = scenario(lines('process P', 'map A anon private 2G', 'touch A 0 2G write every=2M', 'madvise A 0 2G dontneed', 'snapshot after'));
    expect(s.mm('P').stats.ptesReclaimedFast).toBe(1024);
    expect(s.result.kernel.stats.tableBatchesQueued).toBe(Math.ceil(1024 / 509));
    // 2 PMD tables + the PUD table stay.
    expect(s.delta('after').VmPTE).toBe(3 * TABLE_KB);
  });
});

describe('version S0 (as first merged)', () => {
  it('takes the fast path even in a block whose zap dropped the PTE lock: the bug S1 fixed, harmless on one CPU', () => {
    // Spec 3.4.4': S0 tries try_get_and_clear_pmd() whenever a pass ends at the block's end, so
    // the block where the batch broke (and any rescheduled block) is detached without the rescan.
    // Alone nobody refills the block meanwhile, so the tables freed are still empty.
    for (const extra of ['', 'need_resched=100']) {
      const s = scenario(lines(`config version=S0 ${extra}`, 'process P', 'map A anon private 64M', 'touch A 0 64M write', 'madvise A 0 64M dontneed', 'snapshot after'));
      expect(s.mm('P').stats.ptesReclaimedFast, extra).toBe(32);
      expect(s.mm('P').stats.ptesReclaimedSlow, extra).toBe(0);
      expect(s.delta('after').VmPTE).toBe(SLOT_KB);
    }
  });
});

describe('need_resched()', () => {
  it('sends every dense block down the slow path when it fires every 100 zap iterations', () => {
    // A dense block takes at least 512 iterations of the zap loop (one per order-0 page), so a
    // reschedule point falls inside every block; each drops the PTE lock (direct_reclaim = false).
    const s = scenario(lines('config need_resched=100', 'process P', 'map A anon private 8M', 'touch A 0 8M write', 'madvise A 0 8M dontneed', 'snapshot after'));
    expect(s.mm('P').stats.ptesReclaimedSlow).toBe(4);
    expect(s.mm('P').stats.ptesReclaimedFast).toBe(0);
    expect(s.delta('after').VmPTE).toBe(SLOT_KB);
    expect(s.delta('after').RssAnon).toBe(0);
  });

  it('changes nothing when it fires less often than the zap iterates (every 100,000 iterations over 16,384 pages)', () => {
    const s = scenario(lines('config need_resched=100000', 'process P', 'map A anon private 64M', 'touch A 0 64M write', 'madvise A 0 64M dontneed', 'snapshot after'));
    expect(s.mm('P').stats.ptesReclaimedSlow).toBe(1); // the batch break only, as without it
    expect(s.mm('P').stats.ptesReclaimedFast).toBe(31);
  });

  it('lets a zap finish when it fires at every iteration (need_resched=1): cond_resched() clears it', () => {
    // In the kernel the reschedule that cond_resched() performs clears TIF_NEED_RESCHED, so the
    // retry makes progress. Driven step by step (generator build) with a budget, so that a
    // livelock fails the test instead of hanging it.
    const budget = (needReschedEvery: number): number | 'livelock' => {
      const k = api.createKernel(api.resolveConfig({ needReschedEvery }));
      const mm = api.createProcess(k, 'P');
      const addr = 16 * 2 ** 40;
      expect(api.sysMmap(k, mm, { addr, len: 2 ** 22, shared: false, file: null, pgoff: 0, name: 'A' })).toBe(addr);
      for (let a = addr; a < addr + 2 ** 22; a += 4096) expect(api.sysTouch(k, mm, a, true)).toBe(api.FAULT_OK);
      const g: KGen<number> = doMadvise(mm, addr, 2 ** 22, 'dontneed');
      for (let steps = 0; steps < 200_000; steps++) {
        const r = g.next();
        if (r.done) {
          expect(r.value).toBe(0);
          expect(api.procStatus(mm).VmPTE).toBe(SLOT_KB);
          return steps;
        }
        // Alone on its CPU every step can run (complete() would call this a deadlock otherwise).
        if (!stepEnabled(r.value)) throw new Error(`step ${steps} cannot run alone`);
      }
      return 'livelock';
    };
    // With need_resched=2 the 4 MiB zap takes about 12,000 steps; the budget is 200,000.
    const two = budget(2);
    expect(two).not.toBe('livelock');
    expect(budget(1)).not.toBe('livelock');
  });
});

describe('split page-table locks off', () => {
  it('makes the fast-path trylock fail every time (PMD lock == PTE lock), so every table is reclaimed by the slow path', () => {
    // Without split locks pmd_lockptr() and pte_lockptr() are both &mm->page_table_lock, which
    // zap_pte_range() already holds: spin_trylock() of it fails. try_to_free_pte() then takes it
    // once (ptl == pml) and frees the table. Sparse blocks, so no batch break interferes.
    const s = scenario(lines('config split_ptlocks=off', 'process P', 'map A anon private 64M', 'touch A 0 64M write every=2M', 'madvise A 0 64M dontneed', 'snapshot after'));
    expect(s.mm('P').stats.ptesReclaimedFast).toBe(0);
    expect(s.mm('P').stats.ptesReclaimedSlow).toBe(32);
    expect(s.delta('after').VmPTE).toBe(SLOT_KB);
  });
});

describe('batch allocation failure', () => {
  it('flushes every 7 pages with only the bundle: in a sparse 64 MiB the 7th, 14th, 21st and 28th block take the slow path', () => {
    // One page per block; the page batch spans the whole madvise, so the bundle fills at pages
    // 7, 14, 21, 28: blocks 6, 13, 20, 27 break.
    const slow = blocksThatBreak(32, 1, PAGES_PER_FLUSH_NO_BATCH);
    expect([...slow]).toEqual([6, 13, 20, 27]);
    const s = scenario(lines('config batch_alloc=fail', 'process P', 'map A anon private 64M', 'touch A 0 64M write every=2M', 'madvise A 0 64M dontneed', 'snapshot after'));
    expect(s.mm('P').stats.ptesReclaimedSlow).toBe(4);
    expect(s.mm('P').stats.ptesReclaimedFast).toBe(28);
    expect(s.delta('after').VmPTE).toBe(SLOT_KB);
    // No table batch either: tlb_remove_table() falls back to one table at a time.
    expect(s.result.kernel.stats.singleTableFrees).toBe(32);
    expect(s.result.kernel.stats.tableBatchesQueued).toBe(0);
  });
});

describe('when the memory of a reclaimed table is freed', () => {
  const MIB = 2 ** 20;
  const ADDR = 16 * 2 ** 40;

  /** A process with `blocks` dense (or one page per block) 2 MiB blocks at 16 TiB. */
  function setup(cfg: api.ConfigInput, blocks: number, dense: boolean) {
    const k = api.createKernel(api.resolveConfig(cfg));
    const mm = api.createProcess(k, 'P');
    expect(api.sysMmap(k, mm, { addr: ADDR, len: blocks * 2 * MIB, shared: false, file: null, pgoff: 0, name: 'A' })).toBe(ADDR);
    const stride = dense ? 4096 : 2 * MIB;
    for (let a = ADDR; a < ADDR + blocks * 2 * MIB; a += stride) expect(api.sysTouch(k, mm, a, true)).toBe(api.FAULT_OK);
    api.quiesce(k);
    return { k, mm };
  }

  it('drops VmPTE before madvise returns but PageTables only after the RCU grace period', () => {
    // docs/kernel-facts.md, "Accounting": VmPTE drops synchronously; /proc/meminfo PageTables lags by 20-90 ms,
    // because the tables are freed after an RCU grace period.
    const { k, mm } = setup({}, 4, true);
    const vmpte0 = api.procStatus(mm).VmPTE;
    const pt0 = api.meminfoPageTables();
    expect(vmpte0).toBe(SLOT_KB + 4 * TABLE_KB);
    expect(api.sysMadvise(k, mm, ADDR, 8 * MIB, 'dontneed')).toBe(0);
    expect(api.procStatus(mm).VmPTE).toBe(SLOT_KB);
    expect(api.meminfoPageTables()).toBe(pt0);
    expect(api.quiesce(k)).toBeGreaterThan(0);
    expect(api.meminfoPageTables()).toBe(pt0 - 4 * TABLE_KB);
    expect(k.stats.singleTableFrees).toBe(0);
  });

  it('frees each table through the single-table RCU fallback when no batch page can be allocated', () => {
    // tlb_remove_table(): no batch -> tlb_table_invalidate() (TLB flush) + tlb_remove_table_one(),
    // which with PT_RECLAIM is call_rcu() on the table itself: still after a grace period.
    for (const dense of [false, true]) {
      const { k, mm } = setup({ batchAlloc: 'fail' }, 4, dense);
      const pt0 = api.meminfoPageTables();
      const cbs0 = k.rcu.pending.length;
      expect(api.sysMadvise(k, mm, ADDR, 8 * MIB, 'dontneed')).toBe(0);
      expect(api.procStatus(mm).VmPTE).toBe(SLOT_KB);
      expect(api.procStatus(mm).RssAnon).toBe(0);
      expect(k.stats.singleTableFrees).toBe(4);
      expect(k.rcu.pending.length - cbs0).toBe(4);
      expect(api.meminfoPageTables()).toBe(pt0);
      api.quiesce(k);
      expect(api.meminfoPageTables()).toBe(pt0 - 4 * TABLE_KB);
      // Dense blocks overflow the 8-entry bundle inside every block: all slow. Sparse: all fast.
      expect(mm.stats.ptesReclaimedSlow).toBe(dense ? 4 : 0);
      expect(mm.stats.ptesReclaimedFast).toBe(dense ? 0 : 4);
      expect(api.checkInvariants(k)).toEqual([]);
    }
  });

  it('frees each table at once after an IPI with table_free=ipi (no grace period)', () => {
    // The semi-RCU fallback (docs/kernel-rules.md, "Table freeing"): tlb_remove_table_sync_one() IPIs every CPU, then frees.
    const { k, mm } = setup({ batchAlloc: 'fail', tableFree: 'ipi' }, 4, false);
    const pt0 = api.meminfoPageTables();
    expect(api.sysMadvise(k, mm, ADDR, 8 * MIB, 'dontneed')).toBe(0);
    expect(k.stats.singleTableFrees).toBe(4);
    expect(api.meminfoPageTables()).toBe(pt0 - 4 * TABLE_KB);
    expect(api.checkInvariants(k)).toEqual([]);
  });
});
