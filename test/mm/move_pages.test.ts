/**
 * move_pages(2) with no target nodes (src/mm/move_pages.ts, do_pages_stat()): the status of each
 * page, as mm/migrate.c reports it on a machine with one node.
 */
import { describe, expect, it } from 'vitest';
import { setCurrent } from '../../src/mm/current.js';
import { complete } from '../../src/mm/primitives.js';
import { doPagesStat } from '../../src/mm/move_pages.js';
import { EFAULT, ENOENT } from '../../src/mm/const.js';
import type { Kernel, MmStruct } from '../../src/mm/mm_types.js';
import { FIRST_MAP_ADDR, GEN_API, K, lines, M, scenario } from '../support/scenario.js';

const A = FIRST_MAP_ADDR;

function setup(...ops: string[]): { k: Kernel; mm: MmStruct } {
  const s = scenario(lines('process P', 'map A anon private 4M nohugepage', ...ops), { api: GEN_API });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

describe('move_pages(2) with no nodes: do_pages_stat()', () => {
  it('reports node 0 for a mapped page, -ENOENT where nothing is mapped, -EFAULT for the zero page and outside every VMA', () => {
    const { k, mm } = setup('touch A 0 4K write', 'touch A 8K 4K read', 'touch A 2M 4K write');
    setCurrent(k, 0);
    const at = [A, A + 4 * K, A + 8 * K, A + 2 * M, A + 2 * M + 4 * K, A + 4 * M + 4 * K, A + 3 * M];
    expect(complete(doPagesStat(mm, at))).toEqual([0, -ENOENT, -EFAULT, 0, -ENOENT, -EFAULT, -ENOENT]);
  });

  it('answers more pages than one chunk (16) in order', () => {
    const { k, mm } = setup('touch A 0 80K write');
    setCurrent(k, 0);
    const at = Array.from({ length: 40 }, (_, i) => A + i * 4 * K);
    expect(complete(doPagesStat(mm, at))).toEqual(at.map((_, i) => (i < 20 ? 0 : -ENOENT)));
  });
});
