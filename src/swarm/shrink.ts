/**
 * Shrinking a failing generated scenario (docs/swarm.md): greedy, one edit at a time, keeping an
 * edit when the smaller scenario still fails with the same finding kind (for a `model-bug`, the
 * same message up to numbers). Edits, tried in this order: drop a task, drop a setup line, drop a
 * config setting or explorer choice, drop a mapping nothing refers to any more, make a range
 * smaller (a length to one page, a 4 MiB mapping to 2 MiB, a populating touch to one page). After
 * each kept edit it starts over; it stops at a fixpoint or after `maxTries` (30) candidate searches.
 * Candidates the parser or the setup refuses are skipped.
 */
import type { GuardName } from '../mm/config.js';
import { emit, parse, type GenMap, type GenScenario } from './generate.js';
import { findingKey, MODEL_BUG, searchScenario, type SearchBudget, type SearchOutcome } from './search.js';
import { checkScenario } from '../scenarios/validate.js';
import type { Scenario } from '../scenarios/format.js';

export interface ShrinkResult {
  gen: GenScenario;
  outcome: SearchOutcome & { status: 'violation' };
  /** Edits kept. */
  steps: number;
  /** Candidate scenarios searched. */
  tries: number;
}

/** Every one-edit-smaller variant of g, in the order they are tried. */
export function candidates(g: GenScenario): GenScenario[] {
  const out: GenScenario[] = [];
  const with_ = (patch: Partial<GenScenario>): GenScenario => ({ ...g, ...patch });
  const without = <T>(xs: readonly T[], i: number): T[] => xs.filter((_, j) => j !== i);
  const replaced = <T>(xs: readonly T[], i: number, x: T): T[] => xs.map((y, j) => (j === i ? x : y));
  if (g.tasks.length > 1) g.tasks.forEach((_, i) => out.push(with_({ tasks: without(g.tasks, i) })));
  g.setup.forEach((_, i) => out.push(with_({ setup: without(g.setup, i) })));
  // nr_cpus=3 stays while a task runs on CPU 2 (the model runs 2 CPUs by default).
  const cpus = Math.max(...g.tasks.map((t) => t.cpu)) + 1;
  g.config.forEach((c, i) => {
    if (!(c.startsWith('nr_cpus=') && cpus > 2)) out.push(with_({ config: without(g.config, i) }));
  });
  g.choices.forEach((_, i) => out.push(with_({ choices: without(g.choices, i) })));
  g.maps.forEach((m, i) => {
    const used = [...g.setup, ...g.tasks.map((t) => t.op)].some((l) => l.split(/\s+/).includes(m.name));
    // A file two processes map (`two-procs`) stays while the other mapping does, and shrinks with it.
    const shares = (x: GenMap) => x.file !== undefined && x.file === m.file;
    const fileUsed = g.maps.some((x, j) => j !== i && shares(x));
    if (!used) out.push(with_({ maps: without(g.maps, i), files: fileUsed ? g.files : g.files.filter((f) => f.split(/\s+/)[1] !== m.file) }));
    if (m.size > 2 * 1024 * 1024) {
      const half = (x: GenMap): GenMap => (x === m || shares(x) ? { ...x, size: x.size / 2 } : x);
      out.push(with_({ maps: g.maps.map(half), files: g.files.map((f) => (f.split(/\s+/)[1] === m.file ? f.replace(/ \d+M/, ` ${m.size / 2 / 1024 / 1024}M`) : f)) }));
    }
    if (m.locked) out.push(with_({ maps: replaced(g.maps, i, { ...m, locked: false }) }));
  });
  g.files.forEach((f, i) => {
    if (f.includes(' folio=')) out.push(with_({ files: replaced(g.files, i, f.replace(/ folio=\S+/, '')) }));
  });
  g.tasks.forEach((t, i) => {
    for (const op of smallerOps(t.op)) out.push(with_({ tasks: replaced(g.tasks, i, { ...t, op }) }));
  });
  g.setup.forEach((l, i) => {
    for (const op of smallerOps(l)) out.push(with_({ setup: replaced(g.setup, i, op) }));
  });
  return out;
}

/** An op line with a smaller range: its length one page, or half, or `every=` dropped. */
function smallerOps(line: string): string[] {
  const w = line.split(/\s+/);
  const out: string[] = [];
  if (['touch', 'madvise', 'unmap', 'pte_offset_map', 'gup_fast'].includes(w[0]) && w[3] !== undefined && w[3] !== '4K') {
    out.push([...w.slice(0, 3), '4K', ...w.slice(4).filter((x) => !x.startsWith('every='))].join(' '));
  }
  return out;
}

function sameFinding(a: SearchOutcome & { status: 'violation' }, b: SearchOutcome, guardsOff: readonly GuardName[]): b is SearchOutcome & { status: 'violation' } {
  if (b.status !== 'violation' || b.kind !== a.kind || (a.phase === 'setup') !== (b.phase === 'setup')) return false;
  return a.kind !== MODEL_BUG || findingKey(a.kind, guardsOff, a.message) === findingKey(b.kind, guardsOff, b.message);
}

/**
 * The candidates of `g` (candidates()) that load as scenarios: an edit may remove something another
 * line refers to, or leave a range outside its mapping (a halved mapping), and `ptlab explore`
 * refuses to load such a file, so a finding shrunk to it would not replay.
 */
export function* loadableCandidates(g: GenScenario, guardsOff: readonly GuardName[]): Generator<[GenScenario, Scenario]> {
  for (const c of candidates(g)) {
    let scn: Scenario;
    try {
      scn = parse(emit(c, { name: 'shrink', about: 'candidate' }), 'shrink.scn');
    } catch {
      continue;
    }
    if (!checkScenario(scn, guardsOff).length) yield [c, scn];
  }
}

export function shrink(start: GenScenario, found: SearchOutcome & { status: 'violation' }, guardsOff: readonly GuardName[], budget: SearchBudget, seed: number, maxTries = 30): ShrinkResult {
  let gen = start;
  let outcome = found;
  let steps = 0;
  let tries = 0;
  // A smaller scenario rarely needs more interleavings than the original took to fail.
  const b: SearchBudget = { dpor: Math.min(budget.dpor, 2 * found.executions + 200), pct: budget.pct, minimize: false, explain: budget.explain };
  search: for (;;) {
    for (const [c, scn] of loadableCandidates(gen, guardsOff)) {
      if (tries >= maxTries) break search;
      tries++;
      const r = searchScenario(scn, guardsOff, b, seed);
      if (sameFinding(found, r, guardsOff)) {
        gen = c;
        outcome = r;
        steps++;
        continue search;
      }
    }
    break;
  }
  return { gen, outcome, steps, tries };
}
