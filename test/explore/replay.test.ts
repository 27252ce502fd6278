import { describe, expect, it } from 'vitest';
import { DfsScheduler, decodeToken, encodeToken, explore, replay, ReplayError, TokenError } from '../../src/explore/index.js';
import { abbaSystem, choose, lostUpdate, st, toySystem } from './toy.js';

describe('schedule tokens', () => {
  it('write runs of plain steps as task*count and choices as taskcvalue', () => {
    const ds = [{ task: 0 }, { task: 0 }, { task: 1 }, { task: 1, choice: 1 }, { task: 0 }];
    expect(encodeToken(ds)).toBe('0*2.1.1c1.0');
    expect(decodeToken('0*2.1.1c1.0')).toEqual(ds);
    expect(decodeToken('0.0.1.1c1.0')).toEqual(ds);
    expect(encodeToken([])).toBe('');
    expect(decodeToken('')).toEqual([]);
  });

  it('reject a malformed part by name', () => {
    expect(() => decodeToken('0.x.1')).toThrow(TokenError);
    expect(() => decodeToken('0.x.1')).toThrow("bad schedule token part 'x'");
    try {
      decodeToken('0.x.1');
    } catch (e) {
      expect((e as TokenError).col).toBe(3); // the column of 'x' in the token
    }
  });

  it('count the decisions before building them, and refuse more than the limit', () => {
    expect(decodeToken('0*3', 3)).toHaveLength(3);
    expect(() => decodeToken('0*2.1*2', 3)).toThrow(/more than 3 decisions by part '1\*2' at column 5/);
    // A count far beyond the limit is refused from its text alone: nothing is expanded.
    expect(() => decodeToken('0*1000000000')).toThrow(TokenError);
    expect(() => decodeToken('0*99999999999999999999999')).toThrow(TokenError);
    expect(() => decodeToken('1.'.repeat(200_000))).toThrow(/characters/);
    expect(() => decodeToken('0*0')).toThrow(/step count 0/);
  });
});

describe('replay', () => {
  it('reproduces the violation DFS found, step for step', () => {
    const found = explore(lostUpdate, new DfsScheduler());
    if (found.status !== 'violation') throw new Error('expected the lost update');
    expect(found.token).toBe('0.1*2.0'); // A loads; B loads and stores; A stores its stale value
    const again = replay(lostUpdate, found.token);
    expect(again).toMatchObject({ status: 'violation', violation: found.violation, token: found.token, trace: found.trace });
  });

  it('replays a deadlock to the same waiting steps', () => {
    const sys = abbaSystem();
    expect(replay(sys, '0.1')).toMatchObject({ status: 'violation', violation: { kind: 'deadlock', message: "no task can run; waiting: 0 at 'lock B', 1 at 'lock A'" } });
  });

  it('runs a clean schedule clean', () => {
    expect(replay(lostUpdate, '0*2.1*2')).toMatchObject({ status: 'clean', executions: 1, complete: false, coverage: 'replayed' });
  });

  it('answers a choice with the value in the token', () => {
    const sys = toySystem({
      name: 'choice',
      tasks: [
        function* (w) {
          yield* st(w, 'x', yield* choose('batch alloc ok?'));
        },
      ],
      final: (w) => (w.get('x') === 1 ? { kind: 'took-1', message: 'x = 1' } : null),
    });
    expect(replay(sys, '0c0.0').status).toBe('clean');
    expect(replay(sys, '0c1.0').status).toBe('violation');
  });

  it('refuses a token that does not fit the system', () => {
    expect(() => replay(lostUpdate, '0*2.1')).toThrow(ReplayError); // ends with task 1 unfinished
    expect(() => replay(lostUpdate, '0*2.1*2.0')).toThrow(/ended after 4 steps; the token has 5/);
    expect(() => replay(lostUpdate, '2')).toThrow(/task 2 cannot run/);
    expect(() => replay(lostUpdate, '0c1')).toThrow(/not a choice/);
  });
});
