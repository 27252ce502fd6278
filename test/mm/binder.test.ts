/**
 * Binder's buffer pages (src/mm/binder.ts, vm_insert_page() in src/mm/memory/insert_page.ts): what
 * a transaction maps and charges, how the mapping behaves (read-only, SIGBUS where nothing is
 * installed, not copied by fork), when binder lets go of its pages, R16: an install against a
 * MADV_DONTNEED that reclaims the table vm_insert_page() allocated
 * (scenarios/binder_vs_dontneed.scn), and two installs of one page, whose loser's lookup leaks a
 * page reference. Model only: this machine's kernel has no binder device.
 */
import { describe, expect, it } from 'vitest';
import { DfsScheduler, endStates, RandomScheduler } from '../../src/explore/index.js';
import { observe } from '../../src/scenarios/footprint_check.js';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { PT_KERNEL } from '../../src/mm/page_alloc.js';
import { BINDER_SLOTS, VM_DONTCOPY, VM_MAYWRITE, VM_MIXEDMAP, type Kernel, type MmStruct } from '../../src/mm/mm_types.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, PAGE_KB, scenario, SLOT_KB, TABLE_KB } from '../support/scenario.js';

const api = GEN_API;
const EINVAL = -22;
const ENOMEM = -12;
const ESRCH = -3;
const EPERM = -1;
const M = 1024 * K;

function setUp(...ops: string[]): { k: Kernel; mm: MmStruct } {
  const s = scenario(lines('process P', ...ops), { api });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

describe('a binder transaction installs its buffer pages', () => {
  it('maps each page once, read-only, charged to RssFile, held by binder and the mapping', () => {
    const s = scenario(lines('process P', 'map B binder 4M', 'binder_transaction B 0 12K', 'binder_transaction B 8K 8K', 'snapshot r B 0 4M'), { api });
    // Pages 0-3: the second transaction found page 2 installed and installed page 3 only.
    expect(s.delta('r').RssFile).toBe(4 * PAGE_KB);
    expect(s.delta('r').VmPTE).toBe(TABLE_KB + SLOT_KB);
    expect(s.pagemap('r')).toEqual([[4, 'x'], [1020, '-']]);
    const k = s.result.kernel as Kernel;
    const mm = s.mm('P') as MmStruct;
    const vma = api.findVma(mm, FIRST_MAP_ADDR)!;
    expect(vma.flags & (VM_MIXEDMAP | VM_DONTCOPY | VM_MAYWRITE)).toBe(VM_MIXEDMAP | VM_DONTCOPY);
    const page = mm.binderProcs[0].pages[0];
    expect([k.mem.type[page], k.mem.refcount[page], k.mem.mapcount[page]]).toEqual([PT_KERNEL, 2, 1]);
  });

  it('reads where nothing is installed are SIGBUS (binder_vm_fault()), and no fault-around maps anything', () => {
    const { k, mm } = setUp('map B binder 2M', 'binder_transaction B 0 4K');
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR, false)).toBe(api.FAULT_OK);
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR + 4 * K, false)).toBe(api.FAULT_SIGBUS);
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR, true)).toBe(api.FAULT_SIGSEGV);
    expect(mm.rss[0]).toBe(1);
  });

  it('after a DONTNEED of the block binder still holds its pages, and a later transaction does not map them again', () => {
    const { k, mm } = setUp('map B binder 2M', 'binder_transaction B 0 8K', 'madvise B 0 2M dontneed');
    api.quiesce(k);
    expect(mm.pgtablesBytes).toBe(SLOT_KB * K); // the PTE table was reclaimed
    expect(k.mem.used[PT_KERNEL]).toBe(2);
    expect(api.sysBinderTransaction(k, mm, FIRST_MAP_ADDR, 8 * K)).toBe(0);
    expect(mm.rss[0]).toBe(0);
    expect(api.sysTouch(k, mm, FIRST_MAP_ADDR, false)).toBe(api.FAULT_SIGBUS);
  });

  it('uses at most 4M of the mapping; outside it, or into another mapping, is EINVAL', () => {
    const { k, mm } = setUp('map B binder 6M', 'map A anon private 2M');
    expect(api.sysBinderTransaction(k, mm, FIRST_MAP_ADDR + 4 * M - 4 * K, 4 * K)).toBe(0);
    expect(api.sysBinderTransaction(k, mm, FIRST_MAP_ADDR + 4 * M, 4 * K)).toBe(EINVAL);
    const anon = [...mm.vmas].find((v) => v.name === 'A')!;
    expect(api.sysBinderTransaction(k, mm, anon.start, 4 * K)).toBe(EINVAL);
  });

  it('is ESRCH once the mapping is gone (binder_vma_close()), even where it is mapped again', () => {
    const { k, mm } = setUp('map B binder 2M', 'unmap B 1M 4K');
    expect(api.sysBinderTransaction(k, mm, FIRST_MAP_ADDR, 4 * K)).toBe(ESRCH);
    expect(mm.rss[0]).toBe(0);
  });

  it('refuses a writable mapping (FORBIDDEN_MMAP_FLAGS)', () => {
    const { k, mm } = setUp();
    const ret = api.sysMmap(k, mm, { addr: FIRST_MAP_ADDR, len: 2 * M, shared: true, file: null, pgoff: 0, name: 'B', prot: 3, driver: 'binder' });
    expect(ret).toBe(EPERM);
  });

  it('is not copied by fork (VM_DONTCOPY), and its pages go when the process exits', () => {
    const { k, mm } = setUp('map B binder 2M', 'map A anon private 2M', 'binder_transaction B 0 16K');
    const child = api.sysFork(k, mm, 'C');
    if (typeof child === 'number') throw new Error(`fork failed: ${child}`);
    expect([...child.vmas].map((v) => v.name)).toEqual(['A']);
    expect(child.rss[0]).toBe(0);
    for (const m of [child, mm]) api.sysExit(k, m);
    api.quiesce(k);
    expect(k.mem.used[PT_KERNEL]).toBe(0);
    expect(api.checkExitClean(k)).toEqual([]);
  });
});

function installScenario(pages: number, remedy: boolean): Scenario {
  const text = [
    'scenario binder',
    'violation none',
    ...(remedy ? ['config get_locked_pte_retry=on'] : []),
    'process P',
    'map B binder 2M',
    'binder_transaction B 0 4K',
    'madvise B 0 2M dontneed',
    `cpu 0 binder_transaction B 16K ${pages * 4}K`,
    'cpu 1 madvise B 0 2M dontneed',
  ].join('\n');
  const r = parseScenario(text, 'binder.scn');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

/** The transaction's result (r0) in every end state of a complete search. */
function installResults(pages: number, remedy: boolean): number[] {
  const ends = endStates(scenarioSystem(installScenario(pages, remedy)), new DfsScheduler());
  expect(ends.complete).toBe(true);
  return [...new Set([...ends.ends.keys()].map((k) => Number(/results (-?\d+)/.exec(k)?.[1])))].sort((a, b) => a - b);
}

describe('two transactions installing one page at once (complete searches)', () => {
  const race = (remedy: boolean): Scenario => {
    const text = ['scenario race', 'violation none', ...(remedy ? ['config binder_lookup_put=on'] : []), 'process P', 'map B binder 2M', 'cpu 0 binder_transaction B 0 4K', 'cpu 1 binder_transaction B 0 4K'].join('\n');
    const r = parseScenario(text, 'race.scn');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.scenario;
  };

  it("the loser's binder_page_lookup() keeps get_user_pages_remote()'s reference: the page can never be freed", () => {
    const r = runScenario(race(false), { snapshots: false });
    expect(r.status).toBe('violation');
    if (r.status === 'violation') {
      expect(r.violation.kind).toBe('leak');
      expect(r.violation.message).toMatch(/^\[driver-refs\] driver page \d+: refcount 3, but 1 mappings and 1 binder reference\(s\) \(a reference leaked\)$/);
    }
  });

  it('is clean when the lookup drops that reference (binder_lookup_put=on), and both succeed in every order', () => {
    const r = runScenario(race(true), { explain: { allow: [] }, snapshots: false });
    expect(r.status).toBe('clean');
    if (r.status === 'clean') expect(r.coverage).toBe('complete');
    const ends = endStates(scenarioSystem(race(true)), new DfsScheduler());
    expect(ends.complete).toBe(true);
    expect([...new Set([...ends.ends.keys()].map((k) => /results (-?\d+ -?\d+)/.exec(k)?.[1]))]).toEqual(['0 0']);
  });

  it("the footprint check digests binder's slots: an install writes only the slot it declared", () => {
    const { k, mm } = setUp('map B binder 2M', 'binder_transaction B 4K 4K');
    const d = observe(k);
    const proc = mm.binderProcs[0];
    expect(d.get(proc.obj(1))).toBe(`${proc.pages[1]}`);
    expect(proc.pages[1]).toBeGreaterThan(0);
    expect(d.get(proc.obj(0))).toBe('0');
    expect(d.get(proc.obj(BINDER_SLOTS - 1))).toBe('true');
    // Along random executions of the race, every step's writes (slots included) are declared:
    // the system throws a ModelBug naming an undeclared one.
    const r = endStates(scenarioSystem(race(true), [], { checkFootprints: true }), new RandomScheduler(5, 20));
    expect(r.executions).toBe(20);
  });
});

describe('R16: an install against a whole-block DONTNEED (complete searches)', () => {
  it('fails with ENOMEM when the table vm_insert_page() allocated is reclaimed before the map; the remedy installs', () => {
    expect(installResults(1, false)).toEqual([ENOMEM, 0]);
    expect(installResults(1, true)).toEqual([0]);
  });

  it('of 2 pages with the remedy, is explained by orders of its page installs and the DONTNEED (preemption bound 1)', () => {
    // A DONTNEED between the two installs zaps the first page and reclaims its table: the
    // explainer must take the installs as units, or this legal outcome would be an anomaly.
    const r = runScenario(installScenario(2, true), { bound: 1, explain: { allow: [] }, snapshots: false });
    expect(r.status).toBe('clean');
  });
});
