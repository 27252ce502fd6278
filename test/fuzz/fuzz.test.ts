/**
 * The fuzz suite, bounded (issue 15): a few hundred generated inputs of each family, run through
 * `ptlab` in-process on worker threads (src/fuzz/). Every one must exit 0 to 3, with a located
 * message when it is bad input, within its time and memory bounds. `npm run fuzz` runs the same
 * properties on 10^5 cases and writes bench/FUZZ.md. The worker threads run the compiled build
 * (dist/), which `npm test` makes first.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES } from '../../src/fuzz/families.js';
import { generateCases } from '../../src/fuzz/main.js';
import { describeCase, runCases } from '../../src/fuzz/runner.js';

/** Cases per family, and the seed: fixed, so that a failure here fails every run until fixed. */
const CASES = 150;
const SEED = 15;

describe('fuzz, bounded (npm run fuzz for the long run)', () => {
  for (const family of FAMILIES) {
    it(`${family}: exit 0-3 only, bad input located, within the time and memory bounds`, async () => {
      const cases = generateCases([family], CASES, SEED);
      const outcomes = await runCases(cases, { workers: 2, timeBaseMs: 8_000 });
      const failures = outcomes.filter((o) => o.verdict === 'failure').map((o) => `${o.why}\n${describeCase(o.c, 600)}`);
      expect(failures).toEqual([]);
      // The generators must reach past validation, not only feed it junk.
      const ran = outcomes.filter((o) => o.code === 0 || o.code === 1 || o.code === 3).length;
      expect(ran, `${family}: cases that got past validation`).toBeGreaterThan(family === 'tokens' ? 0 : CASES / 20);
    }, 300_000);
  }
});
