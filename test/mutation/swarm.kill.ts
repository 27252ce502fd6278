/**
 * The mutation benchmark's kill suite, part 2: a fixed swarm corpus (docs/swarm.md), the generated
 * scenarios of campaign seed CORPUS_SEED, jobs 0 to CORPUS_JOBS - 1, all guards on, each searched
 * as a campaign searches it (DPOR within a budget, then PCT) with sequential explainability on.
 * Unmutated, every job is clean (the initial run Stryker makes checks it); a mutant is killed by
 * any finding (violation, anomaly, model bug). Part 1 is scenarios.kill.ts.
 */
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/swarm/job.js';
import { loadAllowList } from '../../src/scenarios/registry.js';

// Seed 13 until the generator's `reclaim` group drew the open guard-install livelock into it (docs/explorer.md).
export const CORPUS_SEED = 17;
export const CORPUS_JOBS = 40;
const allow = loadAllowList();
if (!allow.ok) throw new Error(allow.errors.join('\n'));

describe(`swarm corpus, campaign seed ${CORPUS_SEED} (mutation kill suite)`, () => {
  for (let index = 0; index < CORPUS_JOBS; index++) {
    it(`job ${index}`, () => {
      const r = runJob({ campaignSeed: CORPUS_SEED, index, guardsOff: [], budget: { dpor: 300, pct: 50, minimize: false }, shrink: false, explain: { allow: allow.entries } });
      expect(r.finding ? `${r.finding.kind}: ${r.finding.message}` : 'clean').toBe('clean');
    });
  }
});
