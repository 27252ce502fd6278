/**
 * The reduction must not lose behaviours: on random small programs (loads, stores, nested lock
 * sections in either order, choices, fences), DPOR reaches exactly the end states that naive
 * enumeration reaches — every final state and every deadlock — while running no more executions,
 * and runs every Mazurkiewicz trace it runs; likewise under a preemption bound, against naive
 * enumeration under the same bound; and on programs whose steps load and store conditionally
 * (footprints that depend on what a step reads, as the model's do), the same end states.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DfsScheduler, endStates, type DfsOptions } from '../../src/explore/index.js';
import { choose, condLd, condSt, fence, ld, local, lock, st, toySystem, unlock, type Op, type World } from './toy.js';

type Access = { k: 'ld' | 'st'; v: 'x' | 'y' };
/** One step that stores to (or loads) `w` only when it reads 0 from `r` (toy.ts condSt(), condLd()). */
type CondStore = { k: 'cst' | 'cld'; r: 'x' | 'y' | 'z'; w: 'x' | 'y' | 'z' };
type Prog =
  | Access
  | CondStore
  | { k: 'sec'; l: 'a' | 'b'; body: Prog[] }
  | { k: 'choice'; then: Access | CondStore; else: Access | CondStore }
  | { k: 'fence' | 'local' };

const access: fc.Arbitrary<Access> = fc.record({ k: fc.constantFrom('ld' as const, 'st' as const), v: fc.constantFrom('x' as const, 'y' as const) });
const inner: fc.Arbitrary<Prog> = fc.oneof(
  { weight: 4, arbitrary: access },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sec' as const), l: fc.constantFrom('a' as const, 'b' as const), body: fc.array(access, { minLength: 1, maxLength: 2 }) }) },
);
const op: fc.Arbitrary<Prog> = fc.oneof(
  { weight: 4, arbitrary: access },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('sec' as const), l: fc.constantFrom('a' as const, 'b' as const), body: fc.array(inner, { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('choice' as const), then: access, else: access }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('fence' as const, 'local' as const) }) },
);
const v3 = fc.constantFrom('x' as const, 'y' as const, 'z' as const);
/**
 * Loads, stores, conditional stores and loads over three variables, in lock sections and choices
 * too: footprints that depend on what a step reads.
 */
const condAccess: fc.Arbitrary<Access | CondStore> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constantFrom('ld' as const, 'st' as const), v: fc.constantFrom('x' as const, 'y' as const) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constantFrom('cst' as const, 'cld' as const), r: v3, w: v3 }) },
);
const condOp: fc.Arbitrary<Prog> = fc.oneof(
  { weight: 4, arbitrary: condAccess },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sec' as const), l: fc.constantFrom('a' as const, 'b' as const), body: fc.array(condAccess, { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('choice' as const), then: condAccess, else: condAccess }) },
);
const condProgram = fc
  .array(fc.array(condOp, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 })
  .filter((prog) => prog.flat().reduce((n, p) => n + steps(p), 0) <= 9);
const steps = (p: Prog): number => (p.k === 'sec' ? 2 + p.body.reduce((n, q) => n + steps(q), 0) : p.k === 'choice' ? 2 : 1);
/** At most 10 steps in all, so that naive enumeration stays in the thousands. */
const program = fc
  .array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 })
  .filter((prog) => prog.flat().reduce((n, p) => n + steps(p), 0) <= 10);

/** Runs a task's program; stores write a value that depends on what the task loaded last. */
function* run(w: World, me: number, ps: readonly Prog[], reg: { v: number }): Generator<Op, void, number | undefined> {
  for (const p of ps) {
    switch (p.k) {
      case 'ld':
        reg.v = yield* ld(w, p.v);
        break;
      case 'st':
        yield* st(w, p.v, reg.v * 3 + me + 1);
        break;
      case 'sec':
        if (w.owner.get(p.l) === me) break; // nested on a lock it holds: skip rather than self-deadlock
        yield* lock(w, p.l, me);
        yield* run(w, me, p.body, reg);
        yield* unlock(w, p.l, me);
        break;
      case 'choice':
        yield* run(w, me, [(yield* choose('choice')) ? p.then : p.else], reg);
        break;
      case 'cst':
        yield* condSt(w, p.r, p.w, reg.v * 3 + me + 100);
        break;
      case 'cld':
        reg.v = yield* condLd(w, p.r, p.w);
        break;
      case 'fence':
        yield* fence();
        break;
      case 'local':
        yield* local();
        break;
    }
  }
  w.vars.set(`r${me}`, reg.v); // the task's private result, part of its end state (not a step)
}

/**
 * Every end state reached: finished, failed or deadlocked (src/explore/oracles.ts); the executions
 * that ran to an end, and all that were started, those the scheduler abandoned included.
 */
function ends(prog: Prog[][], opts: DfsOptions): { states: Set<string>; traces: ReadonlySet<string>; executions: number; started: number; complete: boolean } {
  const sys = toySystem({ name: 'random program', tasks: prog.map((ps) => (w: World, me: number) => run(w, me, ps, { v: 0 })) });
  const sched = new DfsScheduler(opts);
  let started = 0;
  const next = sched.newExecution.bind(sched);
  sched.newExecution = () => (next() ? (started++, true) : false);
  const r = endStates(sys, sched, { traces: true });
  return { states: new Set(r.ends.keys()), traces: r.traces!, executions: r.executions, started, complete: r.complete };
}

/**
 * One program searched by DPOR and by naive enumeration (same bound), with what each reached in
 * `what` required equal; both results are returned for further checks.
 */
function againstNaive(prog: Prog[][], what: 'states' | 'traces', bound?: number): { d: ReturnType<typeof ends>; n: ReturnType<typeof ends> } {
  const d = ends(prog, { reduction: 'dpor', preemptionBound: bound });
  const n = ends(prog, { reduction: 'none', preemptionBound: bound });
  expect([...d[what]].sort()).toEqual([...n[what]].sort());
  return { d, n };
}

describe('DPOR against naive enumeration', () => {
  it('DPOR reaches the same end states, deadlocks included, on 300 random programs', () => {
    fc.assert(
      fc.property(program, (prog) => {
        const { d, n } = againstNaive(prog, 'states');
        expect(d.executions).toBeLessThanOrEqual(n.executions);
        expect(d.complete && n.complete).toBe(true);
      }),
      { seed: 20250211, numRuns: 300 },
    );
  });

  it('runs every trace naive enumeration runs, on 300 random programs', () => {
    // Trace by trace: end states are too coarse (a search that lost traces once still reached
    // every end state of a shipped scenario).
    fc.assert(
      fc.property(program, (prog) => {
        againstNaive(prog, 'traces');
      }),
      { seed: 20261207, numRuns: 300 },
    );
  });

  it('reaches every end state naive enumeration reaches when what a step touches depends on what it reads, on 1,000 random programs', () => {
    // Model steps record what they touch as they run (a folio freed when its count drops to
    // zero, a frame allocated): the same step's footprint differs with the state it runs in.
    // Sleep sets lost end states here until a woken task's step counted what it slept with
    // (dfs.ts `carry`): fast-check found such a program within 128 to 537 runs (seeds 1, 2).
    // Traces are not compared: `carry` adds dependencies that depend on the path.
    fc.assert(
      fc.property(condProgram, (prog) => {
        againstNaive(prog, 'states');
      }),
      { seed: 20261208, numRuns: 1000 },
    );
  });

  it('reaches what bounded naive enumeration reaches under preemption bound 1, on 300 random programs', () => {
    fc.assert(
      fc.property(program, (prog) => {
        const { d, n } = againstNaive(prog, 'states', 1);
        expect(d.executions).toBeLessThanOrEqual(n.executions);
      }),
      { seed: 20250212, numRuns: 300 },
    );
  });
});
