/**
 * IntervalMap against the obvious model: an owner per address unit. Random adds and removes over a
 * small address range, after enough intervals that chunks split and empty out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalMap } from '../../src/util/intervals.js';

const N = 6000;

type Cmd = { add: boolean; lo: number; len: number; owner: number };

function check(cmds: Cmd[]): void {
  const m = new IntervalMap<number>();
  const units: (number | undefined)[] = new Array(N).fill(undefined);
  // 2,500 unit intervals first: more than one chunk, so the commands cross chunk boundaries.
  for (let a = 0; a < 5000; a += 2) {
    m.add(a, a + 1, a);
    units[a] = a;
  }
  for (const c of cmds) {
    const hi = Math.min(N, c.lo + c.len);
    if (c.add) m.add(c.lo, hi, c.owner);
    else m.remove(c.lo, hi);
    for (let a = c.lo; a < hi; a++) units[a] = c.add ? c.owner : undefined;
  }
  // Compare every unit, and the intervals' order and disjointness.
  const seen: (number | undefined)[] = new Array(N).fill(undefined);
  let last = -1;
  for (const iv of m.overlapping(0, N)) {
    expect(iv.start).toBeGreaterThanOrEqual(last);
    expect(iv.end).toBeGreaterThan(iv.start);
    last = iv.end;
    for (let a = iv.start; a < iv.end; a++) seen[a] = iv.owner;
  }
  expect(seen).toEqual(units);
  for (let a = 0; a < N; a += 97) expect(m.at(a)?.owner).toBe(units[a]);
}

describe('IntervalMap', () => {
  it('agrees with an owner per address after random adds and removes', () => {
    const cmd = fc.record({ add: fc.boolean(), lo: fc.nat(N - 1), len: fc.integer({ min: 1, max: 3000 }), owner: fc.nat(50) });
    fc.assert(fc.property(fc.array(cmd, { maxLength: 40 }), (cmds) => check(cmds)), { seed: 15, numRuns: 60 });
  });

  it('clips nothing: overlapping() yields whole intervals that meet the range', () => {
    const m = new IntervalMap<string>();
    m.add(10, 20, 'a');
    m.add(30, 40, 'b');
    expect([...m.overlapping(15, 31)].map((i) => [i.start, i.end, i.owner])).toEqual([[10, 20, 'a'], [30, 40, 'b']]);
    expect(m.firstOverlap(20, 30)).toBeUndefined();
    m.remove(12, 35);
    expect([...m.overlapping(0, 100)].map((i) => [i.start, i.end])).toEqual([[10, 12], [35, 40]]);
  });
});
