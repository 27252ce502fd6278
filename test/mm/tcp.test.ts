/**
 * TCP zerocopy receive (src/mm/tcp.ts, src/mm/memory/insert_page.ts): what a receive maps and
 * charges, as measured on this machine's 6.18 (scripts/tcp-zerocopy.pt, which
 * test/oracle/kernel-agreement.test.ts compares with the kernel), where its pages go afterwards,
 * and R15: the receive against a MADV_DONTNEED that reclaims the table insert_pages() allocated
 * (scenarios/tcp_zerocopy_vs_dontneed.scn).
 */
import { describe, expect, it } from 'vitest';
import { DfsScheduler, endStates } from '../../src/explore/index.js';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { zerocopyLockSections } from '../../src/mm/tcp.js';
import { PT_KERNEL } from '../../src/mm/page_alloc.js';
import { pmdIsTable, pmdPfn, ptePfn } from '../../src/mm/pgtable_types.js';
import type { Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, PAGE_KB, scenario, SLOT_KB, TABLE_KB } from '../support/scenario.js';

const api = GEN_API;
const EINVAL = -22;
const EFAULT = -14;

function setUp(...ops: string[]): { k: Kernel; mm: MmStruct } {
  const s = scenario(lines('process P', ...ops), { api });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

/** The pfn mapped at addr (0 for none), read without scheduling points. */
function pfnAt(k: Kernel, mm: MmStruct, addr: number): number {
  const pmdp = api.peekPmdSlot(mm, addr);
  const pmd = pmdp ? k.pt.peek((pmdp / 512) | 0, pmdp % 512) : 0;
  if (!pmdIsTable(pmd)) return 0;
  return ptePfn(k.pt.peek(k.pt.tidOfPfn(pmdPfn(pmd)), (addr / 4096) % 512));
}

describe('a zerocopy receive maps the received pages (measured on 6.18: scripts/tcp-zerocopy.pt)', () => {
  it('maps them read-only into the socket mapping, charged to RssFile, held by the mapping alone', () => {
    const s = scenario(lines('process P', 'map S tcp 2M', 'tcp_zerocopy S 0 64K', 'snapshot r S 0 2M'), { api });
    expect(s.delta('r').RssFile).toBe(64);
    expect(s.delta('r').VmPTE).toBe(TABLE_KB + SLOT_KB);
    expect(s.pagemap('r')).toEqual([[16, 'x'], [496, '-']]);
    const k = s.result.kernel as Kernel;
    const pfn = pfnAt(k, s.mm('P') as MmStruct, FIRST_MAP_ADDR);
    expect(k.mem.type[pfn]).toBe(PT_KERNEL);
    // The skb's reference went when the data was consumed: the mapping's is the only one left.
    expect([k.mem.refcount[pfn], k.mem.mapcount[pfn]]).toEqual([1, 1]);
    expect(k.mem.used[PT_KERNEL]).toBe(16);
  });

  it('frees the pages with the last unmap, and the DONTNEED of the whole block frees the table', () => {
    const { k, mm } = setUp('map S tcp 2M', 'tcp_zerocopy S 0 64K', 'madvise S 0 2M dontneed');
    api.quiesce(k);
    expect(k.mem.used[PT_KERNEL]).toBe(0);
    expect(mm.pgtablesBytes).toBe(SLOT_KB * K);
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('maps up to the end of the VMA, and frees the pages it did not map', () => {
    const { k, mm } = setUp('map S tcp 64K');
    const r = api.sysTcpZerocopy(k, mm, FIRST_MAP_ADDR + 32 * K, 64 * K);
    // The kernel maps up to the end of the VMA and reports the part (vma_len).
    expect(r).toEqual({ ret: 0, length: 32 * K });
    api.quiesce(k);
    expect(k.mem.used[PT_KERNEL]).toBe(32 / PAGE_KB);
    api.sysExit(k, mm);
    api.quiesce(k);
    expect(api.checkExitClean(k)).toEqual([]);
  });

  it('is EINVAL into a mapping that is not a socket, and maps nothing there', () => {
    const { k, mm } = setUp('map A anon private 2M');
    expect(api.sysTcpZerocopy(k, mm, FIRST_MAP_ADDR, 8 * K)).toEqual({ ret: EINVAL, length: 0 });
    api.quiesce(k);
    expect(k.mem.used[PT_KERNEL]).toBe(0);
    expect(mm.rss.every((v) => v === 0)).toBe(true);
  });

  it('reads of empty slots are SIGBUS (no ->fault), writes SIGSEGV (never writable)', () => {
    const { k, mm } = setUp('map S tcp 2M', 'tcp_zerocopy S 0 4K');
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR, false)).toBe(api.FAULT_OK);
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR + 4 * K, false)).toBe(api.FAULT_SIGBUS);
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR, true)).toBe(api.FAULT_SIGSEGV);
  });
});

describe('the PTE-lock sections of a receive (the explainer orders them as units)', () => {
  it('are batches of 8, restarting at each skb (16 pages) and at each PMD boundary', () => {
    expect(zerocopyLockSections(0, 40 * K)).toEqual([8, 2]);
    expect(zerocopyLockSections(0, 80 * K)).toEqual([8, 8, 4]);
    expect(zerocopyLockSections(2 * 1024 * K - 12 * K, 32 * K)).toEqual([3, 5]);
  });
});

function receiveScenario(pages: number, remedy: boolean): Scenario {
  const text = [
    'scenario zc',
    'violation none',
    ...(remedy ? ['config insert_pages_retry=on'] : []),
    'process P',
    'map S tcp 2M',
    'tcp_zerocopy S 0 4K',
    'madvise S 0 2M dontneed',
    `cpu 0 tcp_zerocopy S 16K ${pages * 4}K`,
    'cpu 1 madvise S 0 2M dontneed',
  ].join('\n');
  const r = parseScenario(text, 'zc.scn');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

/** The zerocopy task's result (r0) in every end state of a complete search. */
function receiveResults(pages: number, remedy: boolean): number[] {
  const scn = receiveScenario(pages, remedy);
  const ends = endStates(scenarioSystem(scn), new DfsScheduler());
  expect(ends.complete).toBe(true);
  return [...new Set([...ends.ends.keys()].map((k) => Number(/results (-?\d+)/.exec(k)?.[1])))].sort((a, b) => a - b);
}

describe('R15: a receive against a whole-block DONTNEED (complete searches)', () => {
  it('fails with EFAULT when the table it allocated is reclaimed before the map; the remedy maps every page', () => {
    expect(receiveResults(4, false)).toEqual([EFAULT, 4]);
    expect(receiveResults(4, true)).toEqual([4]);
  });

  it('of 10 pages, returns after the first batch of 8 when the DONTNEED zapped it and reclaimed its table', () => {
    const r = runScenario(receiveScenario(10, false), { explain: { allow: [] }, snapshots: false });
    expect(r.status).toBe('violation');
    if (r.status === 'violation') expect(r.violation.message).toMatch(/^results r0 \(cpu0 tcp_zerocopy\) = 8, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 3\) gives r0=8/);
  });

  it('of 10 pages with the remedy, is explained by orders of its two batches and the DONTNEED (preemption bound 1)', () => {
    // A DONTNEED between the batches zaps the first 8 pages with or without reclaim: the
    // explainer must take the batches as units, or this legal outcome would be an anomaly.
    const r = runScenario(receiveScenario(10, true), { bound: 1, explain: { allow: [] }, snapshots: false });
    expect(r.status).toBe('clean');
  });
});
