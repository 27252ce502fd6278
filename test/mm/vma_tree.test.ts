/**
 * The chunked VMA list (src/mm/vma_tree.ts) against a sorted array, the structure it replaced:
 * the same order, find_vma(), neighbours, after random inserts and removals past several chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Vma } from '../../src/mm/mm_types.js';
import { VmaTree } from '../../src/mm/vma_tree.js';

const vma = (slot: number) => ({ start: slot * 8192, end: slot * 8192 + 4096 }) as Vma;

describe('VmaTree', () => {
  it('agrees with a sorted array after random inserts and removals', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ slot: fc.nat(3000), add: fc.boolean() }), { minLength: 1, maxLength: 1500 }), (cmds) => {
        const tree = new VmaTree();
        const byStart = new Map<number, Vma>();
        for (const { slot, add } of cmds) {
          const have = byStart.get(slot);
          if (add && !have) {
            const v = vma(slot);
            byStart.set(slot, v);
            tree.insert(v);
          } else if (!add && have) {
            expect(tree.remove(have)).toBe(true);
            byStart.delete(slot);
          }
        }
        const sorted = [...byStart.values()].sort((a, b) => a.start - b.start);
        expect(tree.slice()).toEqual(sorted);
        expect(tree.length).toBe(sorted.length);
        for (let i = 0; i < sorted.length; i += 7) {
          expect(tree.prev(sorted[i])).toBe(i > 0 ? sorted[i - 1] : null);
          expect(tree.next(sorted[i])).toBe(i + 1 < sorted.length ? sorted[i + 1] : null);
          // find_vma() of an address in the gap before sorted[i] is sorted[i].
          expect(tree.findEndAbove(sorted[i].start - 1)).toBe(sorted[i]);
        }
        expect(tree.findEndAbove(3001 * 8192)).toBeNull();
        expect(tree.prev(vma(5000))).toBeUndefined();
      }),
      { seed: 15, numRuns: 40 },
    );
  });
});
