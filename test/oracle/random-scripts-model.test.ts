/**
 * The random scripts of the differential test (random-scripts.ts: every op, hostile arguments) on
 * the model alone, for machines without the kernel oracle: the model must end every script with
 * exit 0 or 1 (never a ModelBug, a sanitizer Violation, a broken invariant or a thrown error),
 * within a time bound. Each op the model refuses is marked with the model's own err= and the
 * script is run again, so that every op of it runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatScriptError } from '../../src/script/ast.js';
import { runScript } from '../../src/script/exec.js';
import { safeParseScript } from '../../src/script/parse.js';
import { MAX_MARK_ROUNDS, markOutcome, markOverlap, renderScript, scriptArb, type GenScript } from './random-scripts.js';

/** Milliseconds one generated script may take on the model (they map at most a few MiB). */
const BOUND_MS = 5_000;

function runOnModel(g: GenScript): { text: string; problem?: string } {
  const errs = new Map<number, string>();
  for (let round = 0; ; round++) {
    const r = renderScript(g, errs);
    const parsed = safeParseScript(r.text, 'generated.pt');
    if (!parsed.ok) {
      if (round < MAX_MARK_ROUNDS && markOverlap(r, parsed.errors, errs)) continue;
      return { text: r.text, problem: `the generator wrote a bad script:\n${parsed.errors.map(formatScriptError).join('\n')}` };
    }
    const t0 = performance.now();
    const run = runScript(parsed.script, { checkInvariants: true });
    const ms = performance.now() - t0;
    if (ms > BOUND_MS) return { text: r.text, problem: `the model took ${ms.toFixed(0)} ms (bound ${BOUND_MS} ms)` };
    if (run.exitCode === 0) return { text: r.text };
    const stop = run.lines.find((l) => l.type === 'error');
    if (run.exitCode !== 1 || stop?.type !== 'error') return { text: r.text, problem: `model exit ${run.exitCode}: ${stop?.type === 'error' ? stop.message : ''}` };
    // "OP failed with X", "OP was expected to fail with Y but failed with X" or "... but succeeded"
    const got = / but succeeded$/.test(stop.message) ? 'success' : /failed with (\S+)$/.exec(stop.message)?.[1];
    if (round < MAX_MARK_ROUNDS && got && markOutcome(r, stop.line, got, errs)) continue;
    return { text: r.text, problem: `the model stopped at line ${stop.line}: ${stop.message}` };
  }
}

describe('random scripts on the model alone', () => {
  const seed = Number(process.env.PTLAB_FC_SEED ?? 20261126);
  const numRuns = Number(process.env.PTLAB_FC_MODEL_RUNS ?? 150);

  it(`${numRuns} random scripts of every op run to their end on the model, in bounded time (seed ${seed})`, () => {
    fc.assert(
      fc.property(scriptArb, (g) => {
        const r = runOnModel(g);
        if (r.problem) throw new Error(`${r.problem}\n--- script ---\n${r.text}`);
      }),
      { seed, numRuns },
    );
    expect(true).toBe(true);
  }, 300_000);

  it('writes forks, and ops of the forked processes, into a fair share of the scripts', () => {
    const texts = fc.sample(scriptArb, { seed, numRuns }).map((g) => renderScript(g).text);
    // A fork makes its child current; `switch` makes a process current again.
    const actsOnForked = (t: string) => {
      const forked = new Set<string>();
      let cur = '';
      for (const line of t.split('\n')) {
        const [op, a, b] = line.split(' ');
        if (op === 'fork') forked.add((cur = b));
        else if (op === 'switch' || op === 'process') cur = a;
        else if (/^(touch|madvise|unmap|mlock|munlock|mprotect|mremap|uffd_\w+)$/.test(op) && forked.has(cur)) return true;
      }
      return false;
    };
    expect(texts.filter(actsOnForked).length).toBeGreaterThanOrEqual(numRuns / 10);
  });
});
