/**
 * How MADV_COLD and MADV_FREE change an entry's young and dirty bits (src/mm/madvise.ts), step by
 * step: the kernel's clear_young_dirty_ptes() (include/linux/pgtable.h, generic on x86) is one
 * atomic bit clear for MADV_COLD and a get-and-clear plus a store for MADV_FREE. Their races with
 * a reclaiming DONTNEED are scenarios/cold_vs_dontneed.scn and free_vs_dontneed.scn; the counters
 * a script sees are compared with this machine's kernel by the shipped scripts.
 */
import { describe, expect, it } from 'vitest';
import type { Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { _PAGE_DIRTY, ptePfn, pteYoung } from '../../src/mm/pgtable_types.js';
import { doMadvise, type MadvAdvice } from '../../src/mm/madvise.js';
import { setCurrent } from '../../src/mm/current.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, pteAt, scenario } from '../support/scenario.js';

/** Process P with A (anon, 4 pages: the first read, so clean, the others written) at FIRST_MAP_ADDR. */
function setup(): { k: Kernel; mm: MmStruct; a: number } {
  const s = scenario(lines('process P', 'map A anon private 2M', 'touch A 0 16K write'), { api: GEN_API });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct, a: FIRST_MAP_ADDR };
}

interface Step {
  op: string;
  ptr?: number;
}

/** Run madvise(advice) on A's first page step by step; `each` sees every step before it runs. */
function madvise(k: Kernel, mm: MmStruct, a: number, advice: MadvAdvice, each: (step: Step) => void): number {
  setCurrent(k, 0);
  const gen = doMadvise(mm, a, 4 * K, advice);
  for (let r = gen.next(); ; r = gen.next()) {
    if (r.done) return r.value;
    each(r.value as Step);
  }
}

describe('MADV_COLD', () => {
  it('clears the young bit with one atomic step: a dirty bit set between the read and the clear stays', () => {
    const { k, mm, a } = setup();
    const before = pteAt(k, mm, a);
    expect(pteYoung(before)).toBe(true);
    let entry = -1;
    let dirtied = 0;
    const err = madvise(k, mm, a, 'cold', (step) => {
      if (step.ptr === undefined) return;
      const v = k.pt.get(step.ptr);
      if (entry < 0 && step.op === 'ld' && ptePfn(v) === ptePfn(before)) {
        // The walk's read of the entry: make the page clean first, as writeback would have.
        entry = step.ptr;
        k.pt.set(entry, v & ~_PAGE_DIRTY);
      } else if (step.ptr === entry && (step.op === 'xchg' || step.op === 'st')) {
        // Another CPU's write access sets the dirty bit (its hardware walk is a step of its own)
        // right before the clear of the young bit runs.
        k.pt.set(entry, v | _PAGE_DIRTY);
        dirtied++;
      }
    });
    expect(err).toBe(0);
    expect(dirtied).toBe(1);
    const after = k.pt.get(entry);
    expect([pteYoung(after), (after & _PAGE_DIRTY) !== 0, ptePfn(after)]).toEqual([false, true, ptePfn(before)]);
  });
});

describe('MADV_FREE', () => {
  it('clears a young, dirty entry in two steps, get-and-clear then a store of it old and clean, with none in between', () => {
    const { k, mm, a } = setup();
    const before = pteAt(k, mm, a);
    expect([pteYoung(before), (before & _PAGE_DIRTY) !== 0]).toEqual([true, true]);
    const seen: string[] = [];
    let entry = -1;
    const err = madvise(k, mm, a, 'free', (step) => {
      if (step.ptr === undefined || (step.op !== 'xchg' && step.op !== 'st')) return;
      const v = k.pt.get(step.ptr);
      if (step.op === 'xchg' && ptePfn(v) === ptePfn(before)) entry = step.ptr;
      if (step.ptr === entry) seen.push(`${step.op} ${v === 0 ? 'none' : 'present'}`);
    });
    expect(err).toBe(0);
    // The store finds the entry none: a hardware walk in between faults rather than set a bit.
    expect(seen).toEqual(['xchg present', 'st none']);
    const after = k.pt.get(entry);
    expect([ptePfn(after), pteYoung(after), (after & _PAGE_DIRTY) !== 0]).toEqual([ptePfn(before), false, false]);
  });
});
