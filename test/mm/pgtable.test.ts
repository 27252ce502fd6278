/**
 * The page-table store (src/mm/pgtable.ts): memory that follows populated entries, the none-run
 * scan that zap_pte_range() and try_to_free_pte() rely on, and the poisoning of freed tables.
 *
 * The budget comes from the issue: the process behind the series had ~28.8 M PTE tables holding
 * about 5 entries each, and the model must hold that in this machine's 24 GiB. That leaves at most
 * 24 GiB / 28.8 M = 894 bytes per table for everything; a table stored as 512 x 8 bytes alone
 * would need 4096.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Violation } from '../../src/mm/bug.js';
import { LEVEL_PTE, PTRS_PER_PTE } from '../../src/mm/const.js';
import { PhysMem, PT_FREE, PT_PAGETABLE, PG_poisoned } from '../../src/mm/page_alloc.js';
import { T_DETACHED, T_FREED, T_LINKED, TableStore } from '../../src/mm/pgtable.js';

const BYTES_PER_TABLE_BUDGET = Math.floor((24 * 2 ** 30) / 28.8e6);
/** Any non-none entry value will do for the store (it does not interpret entries). */
const ENTRY = 0x8000_0000_0067;

function newStore(): TableStore {
  return new TableStore(new PhysMem(2 ** 20));
}
function table(pt: TableStore): number {
  const tid = pt.alloc(LEVEL_PTE, 0, 0);
  expect(tid).toBeGreaterThan(0);
  return tid;
}
const ptep = (tid: number, idx: number) => tid * PTRS_PER_PTE + idx;

/** Expect fn to throw a Violation of this kind. */
function expectViolation(fn: () => unknown, kind: Violation['kind']): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(Violation);
  expect((caught as Violation).kind).toBe(kind);
}

describe('memory per table', () => {
  it('stays far below 4 KiB for a table with 5 entries, within the 894-byte budget per table', () => {
    expect(BYTES_PER_TABLE_BUDGET).toBe(894);
    const pt = newStore();
    const before = pt.bytesInUse();
    const n = 10_000;
    for (let t = 0; t < n; t++) {
      const tid = table(pt);
      for (const i of [0, 1, 100, 300, 511]) pt.set(ptep(tid, i), ENTRY);
    }
    const perTable = (pt.bytesInUse() - before) / n;
    expect(perTable).toBeLessThan(4096 / 8);
    expect(perTable).toBeLessThan(BYTES_PER_TABLE_BUDGET);
  });

  it('costs a full 4 KiB only for a table populated past the sparse sizes', () => {
    const pt = newStore();
    const tid = table(pt);
    const base = pt.bytesInUse();
    for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(tid, i), ENTRY + i);
    expect(pt.populated(tid)).toBe(PTRS_PER_PTE);
    expect(pt.bytesInUse() - base).toBeGreaterThanOrEqual(4096);
    for (let i = 0; i < PTRS_PER_PTE; i++) expect(pt.peek(tid, i)).toBe(ENTRY + i);
  });

  it('returns the storage of a table that fills to 512 and empties again: the next full table reuses it', () => {
    const pt = newStore();
    const a = table(pt);
    const b = table(pt);
    const start = pt.bytesInUse();
    for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(a, i), ENTRY);
    const aFull = pt.bytesInUse();
    for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(a, i), 0);
    expect(pt.populated(a)).toBe(0);
    expect(pt.scanNone(ptep(a, 0), PTRS_PER_PTE)).toBe(PTRS_PER_PTE);
    // Table b filling up now must not need more storage than a did: a's was given back.
    for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(b, i), ENTRY);
    expect(pt.bytesInUse()).toBe(aFull);
    expect(aFull - start).toBeGreaterThanOrEqual(4096);
    // ...and a table that grows through every sparse size and empties gives all of it back too.
    for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(b, i), 0);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(a, i), ENTRY);
      for (let i = 0; i < PTRS_PER_PTE; i++) pt.set(ptep(a, i), 0);
    }
    expect(pt.bytesInUse()).toBe(aFull);
  });
});

describe('scanNone', () => {
  it('returns the run of none entries up to the next populated entry, capped at max, in a sparse table', () => {
    //   index:  0  1  2  3 ... 100 ... 511
    //           .  .  .  #      #       #
    const pt = newStore();
    const tid = table(pt);
    for (const i of [3, 100, 511]) pt.set(ptep(tid, i), ENTRY);
    expect(pt.scanNone(ptep(tid, 0), 512)).toBe(3);
    expect(pt.scanNone(ptep(tid, 0), 2)).toBe(2);
    expect(pt.scanNone(ptep(tid, 3), 509)).toBe(0);
    expect(pt.scanNone(ptep(tid, 4), 508)).toBe(96);
    expect(pt.scanNone(ptep(tid, 101), 411)).toBe(410);
    expect(pt.scanNone(ptep(tid, 101), 50)).toBe(50);
  });

  it('returns max for an empty table', () => {
    const pt = newStore();
    const tid = table(pt);
    expect(pt.scanNone(ptep(tid, 0), 512)).toBe(512);
    expect(pt.scanNone(ptep(tid, 200), 312)).toBe(312);
  });

  it('returns the hole in a dense table', () => {
    //   all 512 populated except [200, 260)
    const pt = newStore();
    const tid = table(pt);
    for (let i = 0; i < PTRS_PER_PTE; i++) if (i < 200 || i >= 260) pt.set(ptep(tid, i), ENTRY);
    expect(pt.populated(tid)).toBe(452);
    expect(pt.scanNone(ptep(tid, 0), 512)).toBe(0);
    expect(pt.scanNone(ptep(tid, 200), 312)).toBe(60);
    expect(pt.scanNone(ptep(tid, 230), 282)).toBe(30);
    expect(pt.scanNone(ptep(tid, 511), 1)).toBe(0);
  });

  it('agrees with a plain array on random tables of every density', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 511 }), { maxLength: 512 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 511 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 511 }),
        fc.integer({ min: 1, max: 512 }),
        (set, cleared, start, maxWanted) => {
          const pt = newStore();
          const tid = table(pt);
          const ref = new Array<number>(512).fill(0);
          for (const i of set) {
            pt.set(ptep(tid, i), ENTRY + i);
            ref[i] = ENTRY + i;
          }
          for (const i of cleared) {
            pt.set(ptep(tid, i), 0);
            ref[i] = 0;
          }
          const max = Math.min(maxWanted, 512 - start);
          let want = 0;
          while (want < max && ref[start + want] === 0) want++;
          if (pt.scanNone(ptep(tid, start), max) !== want) return false;
          if (pt.populated(tid) !== ref.filter((v) => v !== 0).length) return false;
          return ref.every((v, i) => pt.peek(tid, i) === v);
        },
      ),
      { seed: 0x7ab1e, numRuns: 300 },
    );
  });
});

describe('freed tables', () => {
  it('are poisoned: loads, stores and scans throw a pt-use-after-free Violation', () => {
    const pt = newStore();
    const tid = table(pt);
    pt.set(ptep(tid, 7), ENTRY);
    pt.free(tid);
    expect(pt.state[tid]).toBe(T_FREED);
    expectViolation(() => pt.get(ptep(tid, 7)), 'pt-use-after-free');
    expectViolation(() => pt.get(ptep(tid, 0)), 'pt-use-after-free');
    expectViolation(() => pt.set(ptep(tid, 1), ENTRY), 'pt-use-after-free');
    expectViolation(() => pt.scanNone(ptep(tid, 0), 512), 'pt-use-after-free');
  });

  it('give their frame back poisoned and leave NR_PAGETABLE', () => {
    const mem = new PhysMem(2 ** 20);
    const pt = new TableStore(mem);
    const before = mem.nrPagetable;
    const tid = table(pt);
    const pfn = pt.pfnOf(tid);
    expect(mem.type[pfn]).toBe(PT_PAGETABLE);
    expect(mem.nrPagetable).toBe(before + 1);
    pt.free(tid);
    expect(mem.type[pfn]).toBe(PT_FREE);
    expect(mem.flags[pfn] & PG_poisoned).toBe(PG_poisoned);
    expect(mem.nrPagetable).toBe(before);
    expect(pt.tidOfPfn(pfn)).toBe(0);
  });

  it('cannot be freed twice', () => {
    const pt = newStore();
    const tid = table(pt);
    pt.free(tid);
    expectViolation(() => pt.free(tid), 'double-free');
  });

  it('keep their id out of reuse long enough for a stale pointer to stay detectably freed', () => {
    const pt = newStore();
    const stale = table(pt);
    pt.free(stale);
    for (let i = 0; i < 1000; i++) pt.free(table(pt));
    expect(pt.state[stale]).toBe(T_FREED);
    expectViolation(() => pt.get(ptep(stale, 0)), 'pt-use-after-free');
  });
});

describe('detached PTE tables', () => {
  it('refuse a non-none entry (a lost PTE) but accept clearing', () => {
    const pt = newStore();
    const tid = table(pt);
    pt.setState(tid, T_LINKED);
    pt.set(ptep(tid, 5), ENTRY);
    pt.setState(tid, T_DETACHED);
    expectViolation(() => pt.set(ptep(tid, 6), ENTRY), 'lost-pte');
    pt.set(ptep(tid, 5), 0);
    expect(pt.populated(tid)).toBe(0);
  });
});
