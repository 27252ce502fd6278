/**
 * The page allocator's per-CPU lists (src/mm/page_alloc.ts, after mm/page_alloc.c's per_cpu_pages):
 * a page freed on a CPU is the next one that CPU gets, another CPU gets it only after it went back
 * to the zone, and the explorer sees which lists each allocation and free used (OBJ.alloc).
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/mm/config.js';
import { setCurrent } from '../../src/mm/current.js';
import { Kernel } from '../../src/mm/mm_types.js';
import { obj, OBJ } from '../../src/mm/objects.js';
import { HPAGE_PMD_ORDER, asPfn } from '../../src/mm/const.js';
import { callRcu, rcuAdvance } from '../../src/mm/rcu.js';
import { PCP_BATCH, PCP_HIGH, pcpObj, PT_ANON } from '../../src/mm/page_alloc.js';

const ZONE = obj(OBJ.alloc, 0);

function kernel(): Kernel {
  return new Kernel(resolveConfig({ nrCpus: 3 }));
}

/** The objects one allocator call wrote, as the explorer records them. */
function written(k: Kernel, fn: () => void): number[] {
  k.rec.start();
  try {
    fn();
  } finally {
    k.rec.stop();
  }
  expect(k.rec.reads).toEqual([]);
  return [...new Set(k.rec.writes)].sort((a, b) => a - b);
}

describe('per-CPU page lists', () => {
  it('a page freed on a CPU is the next one that CPU allocates, not another CPU', () => {
    const k = kernel();
    setCurrent(k, 1);
    const a = k.mem.allocPages(0, PT_ANON);
    k.mem.freePages(a, 0);
    setCurrent(k, 0);
    const b = k.mem.allocPages(0, PT_ANON);
    expect(b).not.toBe(a);
    setCurrent(k, 1);
    expect(k.mem.allocPages(0, PT_ANON)).toBe(a);
  });

  it('an empty list takes a batch from the zone; the rest of the batch touches only that CPU', () => {
    const k = kernel();
    setCurrent(k, 2);
    expect(written(k, () => k.mem.allocPages(0, PT_ANON))).toEqual([ZONE, pcpObj(2)].sort((x, y) => x - y));
    for (let i = 1; i < PCP_BATCH; i++) expect(written(k, () => k.mem.allocPages(0, PT_ANON))).toEqual([pcpObj(2)]);
    // The batch is used up: the next allocation refills from the zone again.
    expect(written(k, () => k.mem.allocPages(0, PT_ANON))).toContain(ZONE);
  });

  it('frees on two CPUs write different objects, and the same CPU\'s allocation depends on its own free', () => {
    const k = kernel();
    setCurrent(k, 0);
    const a = k.mem.allocPages(0, PT_ANON);
    setCurrent(k, 1);
    const b = k.mem.allocPages(0, PT_ANON);
    setCurrent(k, 0);
    expect(written(k, () => k.mem.freePages(a, 0))).toEqual([pcpObj(0)]);
    setCurrent(k, 1);
    expect(written(k, () => k.mem.freePages(b, 0))).toEqual([pcpObj(1)]);
    expect(pcpObj(0)).not.toBe(pcpObj(1));
  });

  it('a THP goes to the list of its order and comes back on the same CPU', () => {
    const k = kernel();
    setCurrent(k, 1);
    const h = k.mem.allocPages(HPAGE_PMD_ORDER, PT_ANON);
    expect(h % (1 << HPAGE_PMD_ORDER)).toBe(0);
    k.mem.freePages(h, HPAGE_PMD_ORDER);
    expect(k.mem.allocPages(0, PT_ANON)).not.toBe(h);
    expect(k.mem.allocPages(HPAGE_PMD_ORDER, PT_ANON)).toBe(h);
  });

  it('a CPU holding `high` pages gives its coldest back to the zone, where another CPU finds them', () => {
    const k = kernel();
    setCurrent(k, 0);
    // Whole batches, so that CPU 0's list is empty before the frees.
    const n = PCP_BATCH * Math.ceil(PCP_HIGH / PCP_BATCH);
    const pages: number[] = [];
    for (let i = 0; i < n; i++) pages.push(k.mem.allocPages(0, PT_ANON));
    const before = k.mem.nrFree;
    const frees = pages.map((p) => written(k, () => k.mem.freePages(asPfn(p), 0)));
    expect(k.mem.nrFree).toBe(before + n);
    // Only the free that reached the high mark drained (a batch: below the mark again for the rest).
    expect(frees.map((w, i) => (w.includes(ZONE) ? i : -1)).filter((i) => i >= 0)).toEqual([PCP_HIGH - 1]);
    // The first pages freed are the coldest: the zone has them, and CPU 1's refill takes them.
    setCurrent(k, 1);
    const got = new Set<number>();
    for (let i = 0; i < PCP_BATCH; i++) got.add(k.mem.allocPages(0, PT_ANON));
    expect(got).toEqual(new Set(pages.slice(0, PCP_BATCH)));
    // The hottest page stayed with CPU 0.
    setCurrent(k, 0);
    expect(k.mem.allocPages(0, PT_ANON)).toBe(pages[n - 1]);
  });

  it('an RCU callback frees to the lists of the CPU that queued it, wherever the grace period ends', () => {
    const k = kernel();
    setCurrent(k, 2);
    const a = k.mem.allocPages(0, PT_ANON);
    callRcu(k.rcu, k.cpus, 'free', () => k.mem.freePages(a, 0));
    setCurrent(k, 0);
    expect(rcuAdvance(k.rcu, k.cpus)).toBe(1);
    expect(k.mem.allocPages(0, PT_ANON)).not.toBe(a);
    setCurrent(k, 2);
    expect(k.mem.allocPages(0, PT_ANON)).toBe(a);
  });
});
