import { describe, expect, it } from 'vitest';
import { acceptedKinds, guardTargets } from '../../src/bench/swarm.js';

describe('swarm rediscovery targets (bench/SWARM.md)', () => {
  const targets = new Map(guardTargets().map((t) => [t.guard, t]));

  it('takes what each guard expects from its shipped scenarios', () => {
    expect(targets.get('rcu-single-table-free')?.expected).toEqual(['pt-use-after-free']);
    expect(targets.get('ptlock-rcu-free')?.expected).toEqual(['ptl-use-after-free']);
    expect(targets.get('fork-vma-write')?.expected).toEqual(['anomaly']);
    expect(targets.get('rw-nolock-pmd-same')?.expected).toEqual([]);
  });

  it('accepts a freed table met through its lock, and not a lock freed before its table', () => {
    expect(acceptedKinds(targets.get('rcu-single-table-free')!)).toEqual(['pt-use-after-free', 'ptl-use-after-free']);
    expect(acceptedKinds(targets.get('ptlock-rcu-free')!)).toEqual(['ptl-use-after-free']);
    expect(acceptedKinds(targets.get('rw-nolock-pmd-same')!)).toEqual([]);
  });
});
