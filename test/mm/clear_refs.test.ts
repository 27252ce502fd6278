/**
 * Writes to /proc/PID/clear_refs (src/mm/clear_refs.ts, fs/proc/task_mmu.c clear_refs_write()):
 * young bits cleared per VMA kind, no TLB flush, nothing mapped or unmapped. The counters and
 * pagemap a script sees are compared with this machine's kernel by scripts/clear-refs.pt; the
 * walk's race with a reclaiming DONTNEED is scenarios/clear_refs_vs_dontneed.scn.
 */
import { describe, expect, it } from 'vitest';
import type { Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { PG_referenced } from '../../src/mm/page_alloc.js';
import { _PAGE_DIRTY, ptePfn, pteYoung } from '../../src/mm/pgtable_types.js';
import { clearRefsWrite } from '../../src/mm/clear_refs.js';
import { setCurrent } from '../../src/mm/current.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, pteAt, scenario } from '../support/scenario.js';

const api = GEN_API;
const EINVAL = -22;

/** A (anon, 8 pages written) at FIRST_MAP_ADDR, B (private file, 4 pages read) after it. */
function setup(): { k: Kernel; mm: MmStruct; a: number; b: number } {
  const s = scenario(lines('file F 2M', 'process P', 'map A anon private 2M', 'map B file F 0 2M private', 'touch A 0 32K write', 'touch B 0 16K read'), { api });
  const mm = s.mm('P') as MmStruct;
  const b = [...mm.vmas].find((v) => v.file !== null)!.start;
  return { k: s.result.kernel as Kernel, mm, a: FIRST_MAP_ADDR, b };
}

const young = (k: Kernel, mm: MmStruct, addr: number): boolean => pteYoung(pteAt(k, mm, addr));

describe('clear_refs', () => {
  it('1 clears the young bits of anonymous and file mappings, 2 only anonymous, 3 only file, 5 none', () => {
    for (const [type, anon, file] of [[1, false, false], [2, false, true], [3, true, false], [5, true, true]] as const) {
      const { k, mm, a, b } = setup();
      expect([young(k, mm, a), young(k, mm, b)], `before ${type}`).toEqual([true, true]);
      expect(api.sysClearRefs(k, mm, type)).toBe(0);
      expect([young(k, mm, a), young(k, mm, a + 28 * K), young(k, mm, b)], `type ${type}`).toEqual([anon, anon, file]);
    }
  });

  it('clears the folios referenced bits too, and maps and unmaps nothing', () => {
    const { k, mm, a } = setup();
    const pfn = ptePfn(pteAt(k, mm, a));
    k.mem.setFlags(k.mem.folioHead(pfn), PG_referenced);
    const before = JSON.stringify([api.procStatus(mm), api.procPagemap(mm, a, 512)]);
    expect(api.sysClearRefs(k, mm, 1)).toBe(0);
    expect(k.mem.flags[k.mem.folioHead(pfn)] & PG_referenced).toBe(0);
    expect(JSON.stringify([api.procStatus(mm), api.procPagemap(mm, a, 512)])).toBe(before);
    api.quiesce(k);
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('does not flush the TLB: a CPU that caches the translation writes without setting the bit again', () => {
    const { k, mm, a } = setup();
    expect(api.sysTouch(k, mm, a, true)).toBe(api.FAULT_OK); // cached now
    api.sysClearRefs(k, mm, 1);
    expect(api.sysTouch(k, mm, a, true)).toBe(api.FAULT_OK);
    expect(young(k, mm, a)).toBe(false); // as measured: smaps Referenced stays 0
  });

  it('clears the young bit with one atomic step: a dirty bit the hardware sets between the read and the clear stays', () => {
    const { k, mm, b } = setup();
    const before = pteAt(k, mm, b);
    expect([pteYoung(before), (before & _PAGE_DIRTY) !== 0]).toEqual([true, false]);
    setCurrent(k, 0);
    const walk = clearRefsWrite(mm, 3);
    let dirtied = 0;
    for (let r = walk.next(); !r.done; r = walk.next()) {
      const step = r.value as { op: string; ptr?: number };
      // The step that clears B's first entry is about to run: a write by another CPU's hardware
      // walker sets the dirty bit first (one step of its own, arch/walk.ts).
      if ((step.op === 'xchg' || step.op === 'st') && step.ptr !== undefined && k.pt.get(step.ptr) === before) {
        k.pt.set(step.ptr, before | _PAGE_DIRTY);
        dirtied++;
      }
    }
    expect(dirtied).toBe(1);
    const after = pteAt(k, mm, b);
    expect([pteYoung(after), (after & _PAGE_DIRTY) !== 0]).toEqual([false, true]);
  });

  it('returns EINVAL for a type outside 1..5 and refuses soft-dirty (4), which the model does not keep', () => {
    const { k, mm } = setup();
    expect(api.sysClearRefs(k, mm, 0)).toBe(EINVAL);
    expect(api.sysClearRefs(k, mm, 6)).toBe(EINVAL);
    expect(() => api.sysClearRefs(k, mm, 4)).toThrow(/soft-dirty/);
  });
});
