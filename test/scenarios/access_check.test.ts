/**
 * The race check of real accesses against footprints (src/scenarios/access_check.ts), on a real
 * kernel with hand-made steps: two tasks touching the same word must be ordered by what their
 * footprints name, page flags count bit by bit, freed memory starts again, and a read before a
 * task's first step races with any later write of another task.
 */
import { describe, expect, it } from 'vitest';
import { AccessCheck } from '../../src/scenarios/access_check.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { current } from '../../src/mm/current.js';
import { PG_dirty, PG_locked, PT_ANON } from '../../src/mm/page_alloc.js';
import { obj, OBJ } from '../../src/mm/objects.js';
import type { Kernel } from '../../src/mm/mm_types.js';
import type { Pfn } from '../../src/mm/const.js';
import { shippedScenarios } from '../support/scenarios.js';

function kernel(name = 'retract_vs_dontneed'): Kernel {
  const scn = shippedScenarios().find((s) => s.name === name)!;
  scenarioSystem(scn).create().step(0); // sets the kernel the model code runs on
  return current.k;
}

const NOTHING = { reads: [], writes: [] };
const LOCK = obj(OBJ.lock, 7);

/** Run `body` as a step of `task` with footprint `fp`; the check's complaint, or null. */
function step(c: AccessCheck, task: number, fp: { reads: number[]; writes: number[] }, body: () => void): string | null {
  c.begin();
  body();
  try {
    c.endStep(task, fp, `step of ${task}`);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('AccessCheck', () => {
  it('a read and a later write of the same count by two tasks race unless a footprint orders them', () => {
    const k = kernel();
    const p = k.mem.allocPages(0, PT_ANON);
    const c = new AccessCheck(k, 3);
    expect(step(c, 0, NOTHING, () => void k.mem.refcount[p])).toBeNull();
    expect(step(c, 1, NOTHING, () => (k.mem.refcount[p] = 5))).toMatch(/step 'step of 1' of task 1 wrote refcount\[\d+\], which step 'step of 0' of task 0 read/);

    const d = new AccessCheck(k, 3);
    expect(step(d, 0, { reads: [], writes: [LOCK] }, () => void k.mem.refcount[p])).toBeNull();
    expect(step(d, 1, { reads: [], writes: [LOCK] }, () => (k.mem.refcount[p] = 6))).toBeNull();
    // The same task needs no footprint; the real arrays are back after each step.
    expect(step(d, 1, NOTHING, () => void k.mem.refcount[p])).toBeNull();
    expect(k.mem.refcount[p]).toBe(6);
  });

  it('two reads never race; a write after a write does', () => {
    const k = kernel();
    const p = k.mem.allocPages(0, PT_ANON);
    const c = new AccessCheck(k, 3);
    expect(step(c, 0, NOTHING, () => void k.mem.mapcount[p])).toBeNull();
    expect(step(c, 1, NOTHING, () => void k.mem.mapcount[p])).toBeNull();
    expect(step(c, 0, NOTHING, () => (k.mem.mapcount[p] = 1))).toMatch(/wrote mapcount.*which step 'step of 1' of task 1 read/);
    const d = new AccessCheck(k, 3);
    expect(step(d, 0, NOTHING, () => (k.mem.index[p] = 1))).toBeNull();
    expect(step(d, 2, NOTHING, () => (k.mem.index[p] = 2))).toMatch(/task 2 wrote index.*task 0 wrote/);
  });

  it('page flags race bit by bit: the folio lock bit does not race with a reader of PG_dirty', () => {
    const k = kernel();
    const p = k.mem.allocPages(0, PT_ANON);
    const c = new AccessCheck(k, 3);
    expect(step(c, 0, NOTHING, () => void k.mem.testFlags(p, PG_dirty))).toBeNull();
    expect(step(c, 1, NOTHING, () => k.mem.setFlags(p, PG_locked))).toBeNull();
    expect(step(c, 1, NOTHING, () => k.mem.setFlags(p, PG_dirty))).toMatch(/wrote flags\[\d+\] bit \d+, which step 'step of 0' of task 0 read/);
    expect(k.mem.testFlags(p, PG_dirty | PG_locked)).toBe(PG_dirty | PG_locked);
  });

  it('entries of a table are locations; a freed frame starts again', () => {
    const k = kernel();
    const tid = k.pt.alloc(1, 0, 0 as never);
    const c = new AccessCheck(k, 3);
    expect(step(c, 0, NOTHING, () => void k.pt.peek(tid, 3))).toBeNull();
    expect(step(c, 1, NOTHING, () => k.pt.poke(tid, 4, 0))).toBeNull();
    expect(step(c, 1, NOTHING, () => k.pt.poke(tid, 3, 0))).toMatch(/wrote entry \d+:3, which step 'step of 0' of task 0 read/);

    const p = k.mem.allocPages(0, PT_ANON);
    const d = new AccessCheck(k, 3);
    expect(step(d, 0, NOTHING, () => void k.mem.refcount[p])).toBeNull();
    // Task 0 frees the frame (its history goes with it); task 1 gets it back and writes it.
    expect(step(d, 0, NOTHING, () => k.mem.freePages(p as Pfn, 0))).toBeNull();
    let q = -1;
    expect(step(d, 1, NOTHING, () => ((q = k.mem.allocPages(0, PT_ANON)), (k.mem.refcount[q] = 2)))).toBeNull();
    expect(q).toBe(p);
    // A free is a write of the whole frame: a read the footprints do not order before it races.
    const e = new AccessCheck(k, 3);
    expect(step(e, 0, NOTHING, () => void k.mem.refcount[q])).toBeNull();
    expect(step(e, 1, NOTHING, () => k.mem.freePages(q as Pfn, 0))).toMatch(/step 'step of 1' of task 1 wrote refcount\[\d+\], which step 'step of 0' of task 0 read/);
  });

  it('a read before a task\'s first step races with any write of another task, whatever the footprints', () => {
    const k = kernel();
    const p = k.mem.allocPages(0, PT_ANON);
    const c = new AccessCheck(k, 3);
    c.begin();
    void k.mem.refcount[p];
    c.endStart(0, 'compaction');
    expect(step(c, 0, { reads: [], writes: [LOCK] }, () => void k.mem.refcount[p])).toBeNull();
    expect(step(c, 1, { reads: [], writes: [LOCK] }, () => (k.mem.refcount[p] = 0))).toMatch(
      /wrote refcount\[\d+\], which task 0 \('compaction'\) before its first step read/,
    );
  });

  it('watches the VMA tree, the page cache by index and the swap area', () => {
    const k = kernel('swapin_vs_retract');
    const mm = k.mms[0];
    const file = k.files[0];
    const c = new AccessCheck(k, 3);
    expect(step(c, 0, NOTHING, () => void mm.vmas.findEndAbove(0 as never))).toBeNull();
    const vma = mm.vmas.slice()[0];
    expect(step(c, 1, NOTHING, () => (mm.vmas.remove(vma), mm.vmas.insert(vma)))).toMatch(/wrote tree \d+, which step 'step of 0' of task 0 read/);

    const d = new AccessCheck(k, 3);
    expect(step(d, 0, NOTHING, () => void file.pages.load(3))).toBeNull();
    expect(step(d, 1, NOTHING, () => file.pages.store(4, file.pages.load(4)))).toBeNull(); // another index
    expect(step(d, 1, NOTHING, () => file.pages.store(3, file.pages.load(3)))).toMatch(/wrote cache \d+:3, which step 'step of 0' of task 0 read/);
    expect(step(d, 0, NOTHING, () => file.pages.forEach(() => {}))).toMatch(/read cache \d+:\*, which step 'step of 1' of task 1 wrote/);

    const si = k.swap!;
    const realMap = si.swapMap;
    const e = new AccessCheck(k, 3);
    expect(step(e, 0, NOTHING, () => void si.swapMap[1])).toBeNull();
    expect(step(e, 1, NOTHING, () => (si.swapMap[1] = 0 + si.swapMap[1]))).toMatch(/wrote swap 1, which step 'step of 0' of task 0 read/);
    expect(step(e, 0, NOTHING, () => void si.cache.get(2))).toBeNull();
    expect(step(e, 1, NOTHING, () => void si.cache.delete(2))).toMatch(/wrote swapcache 2/);
    expect(si.swapMap).toBe(realMap); // the real map is back
  });
});
