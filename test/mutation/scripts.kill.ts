/**
 * The mutation benchmark's kill suite, part 3: the shipped op scripts on the model. Their `expect`
 * lines, `err=` outcomes and the ops that must succeed hold the live kernel's numbers (measured on
 * this machine's kernel, test/oracle/kernel-agreement.test.ts), so a mutant that changes what the
 * model computes sequentially (which pages GUP faults in, what the rmap walkers unmap, what a
 * userfaultfd ioctl fills or returns) is killed here even when no interleaving notices it: the
 * scenarios (part 1) and the swarm corpus (part 2) judge a concurrent run against sequential runs
 * of the same mutated model. The scripts run on the generator build of src/mm, the code StrykerJS
 * mutates (`ptlab run` and test/oracle/scripts-on-model.test.ts use the fast build, src/mm-fast,
 * generated from it, which a mutant of src/mm does not reach). Not part of `npm test`.
 *
 * Left out: the scale probes (scripts/kernel-probe/01 to 03, up to 50 GiB mapped) and the selftest
 * khugepaged-collapse_compound_extreme, each 0.8 to 27 s on the model, which Stryker would pay for
 * every surviving mutant they cover; the other scripts take 4 s together.
 */
import { describe, expect, it } from 'vitest';
import { modelProblems, shippedScripts } from '../oracle/scripts.js';
import { GEN_API } from '../support/scenario.js';

const HEAVY = new Set([
  'scripts/kernel-probe/01-first-touch-dense-1g.pt',
  'scripts/kernel-probe/02-sparse-50g.pt',
  'scripts/kernel-probe/03-dontneed-partial.pt',
  'scripts/selftests/khugepaged-collapse_compound_extreme.pt',
]);

describe('shipped scripts on the model (mutation kill suite)', () => {
  const scripts = shippedScripts();
  it('leaves out only scripts that are shipped', () => {
    for (const rel of HEAVY) expect(scripts, rel).toContain(rel);
  });
  for (const rel of scripts.filter((r) => !HEAVY.has(r))) {
    it(`${rel} holds on the model`, () => {
      expect(modelProblems(rel, GEN_API)).toEqual([]);
    });
  }
});
