import { describe, expect, it } from 'vitest';
import { formatTrace, replay } from '../../src/explore/index.js';
import { choose, incrementRacy, st, toySystem, ToyViolation } from './toy.js';

describe('formatTrace', () => {
  it('draws one column per task, the value each choice took, and the state after each step', () => {
    const sys = toySystem({
      name: 'resched',
      tasks: [
        function* (w) {
          yield* st(w, 'x', (yield* choose('need_resched()')) + 5);
        },
        incrementRacy,
      ],
      final: (w) => (w.get('x') === 7 ? null : new ToyViolation('lost-store', `x = ${w.get('x')}, not 6 + 1`)),
    });
    const r = replay(sys, '0c1.1.0.1');
    if (r.status !== 'violation') throw new Error('expected x = 7 to fail');
    expect(formatTrace(r.trace, 2, { names: ['CPU0: zap', 'CPU1: fault'], states: true, violation: r.violation })).toBe(
      [
        '| step | CPU0: zap | CPU1: fault | state |',
        '| --- | --- | --- | --- |',
        '| 1 | need_resched() = 1 |  |  |',
        '| 2 |  | ↷ ld x |  |',
        '| 3 | ↷ st x = 6 |  | x=6 |',
        '| 4 |  | st x = 1 | x=1 |',
        '',
        '✗ lost-store: x = 1, not 6 + 1',
      ].join('\n'),
    );
  });
});
