/**
 * The mutation benchmark's kill suite, part 1: the shipped scenarios (docs/explorer.md,
 * bench/MUTATION.md). Not part of `npm test`: `npm run mutation` runs it under StrykerJS
 * (stryker.config.mjs, vitest.mutation.config.ts) once per mutant of src/mm's synchronisation code.
 *
 * Each scenario is held to its verdicts, with sequential explainability on (an outcome no
 * sequential order of the tasks gives is an anomaly unless scenarios/anomalies.allow accepts it;
 * scenarios with a candidate anomaly, test/support/scenarios.ts, are searched without the check):
 * guards on, clean within preemption bound 2 (DPOR), and within bound 1 with one lock for the PTE
 * and PMD tables (6.18 and 7.1.9), with no batch pages for mmu_gather (batch_alloc=fail), and on
 * arm64 (only what arm64's rules allow fails); every step's footprint checked along a few random
 * executions (the explorer's soundness check); each guard off, its violation found. The
 * bound keeps one mutant's run to seconds: the benchmark measures what the explorer's bounded
 * search notices, which the report says.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, loadAllowList } from '../../src/scenarios/registry.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { endStates, RandomScheduler } from '../../src/explore/index.js';
import { VERSION_NAMES, versionInfo } from '../../src/mm/versions.js';
import { arm64Allowed, CANDIDATE_ANOMALIES, shippedScenarios } from '../support/scenarios.js';

export const KILL_BOUND = 2;
const BUDGET = { maxExecutions: 20_000 };
const allow = loadAllowList();
if (!allow.ok) throw new Error(allow.errors.join('\n'));
const explain = { allow: allow.entries };
/** The newest release that reclaims tables on arm64. */
const ARM64_VERSION = VERSION_NAMES.filter((v) => versionInfo(v).ptReclaimArchs.includes('arm64')).at(-1)!;
const SINGLE_LOCK_CONFIGS: readonly Readonly<Record<string, string>>[] = [{ split_ptlocks: 'off' }, { version: '7.1.9', split_ptlocks: 'off' }];

describe('shipped scenarios (mutation kill suite)', () => {
  for (const scn of shippedScenarios()) {
    const remedy = scn.remedy ?? {};
    it(`${scn.name}: guards on${scn.remedy ? ' with its remedy' : ''}, clean within bound ${KILL_BOUND}`, () => {
      const r = runScenario(scn, { bound: KILL_BOUND, budget: BUDGET, settings: remedy, snapshots: false, ...(CANDIDATE_ANOMALIES[scn.name] ? {} : { explain }) });
      expect(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status).toBe('clean');
    });
    // The configurations whose code paths the default one never takes: one lock for PTE and PMD
    // (no split PTE locks), as 6.18 and as 7.x, where the fast path skips the trylock of that lock.
    // The fallbacks no default run reaches: no batch page for the gathered pages or tables
    // (tlb_remove_table_one(), and the TLB flush tlb_table_invalidate() owes it first).
    it(`${scn.name}: guards on, batch_alloc=fail, clean within bound 1`, () => {
      const r = runScenario(scn, { bound: 1, budget: BUDGET, settings: { ...remedy, batch_alloc: 'fail' }, snapshots: false });
      expect(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status).toBe('clean');
    });
    // arm64 with table reclaim (the newest release): flushes at each VMA's end, walk caches flushed
    // by address, break-before-make; only what test/scenarios/arm64.test.ts allows may fail.
    it(`${scn.name}: guards on, arm64 ${ARM64_VERSION}, within bound 1 only arm64's allowed violations`, () => {
      const r = runScenario(scn, { bound: 1, budget: BUDGET, settings: { version: ARM64_VERSION, arch: 'arm64' }, snapshots: false });
      expect(r.status).not.toBe('budget');
      if (r.status === 'violation') expect(arm64Allowed(scn, ARM64_VERSION)).toContain(r.violation.kind);
    });
    // The explorer's own soundness checks (test/scenarios/soundness.test.ts): a step that writes
    // or reads what its footprint does not declare would let DPOR skip an order it must try.
    it(`${scn.name}: guards on, every step's footprint covers what it writes and reads (random executions)`, () => {
      expect(endStates(scenarioSystem(scn, [], { checkFootprints: true }), new RandomScheduler(7, 3)).executions).toBe(3);
      expect(endStates(scenarioSystem(scn, [], { checkFootprints: 'accesses' }), new RandomScheduler(11, 20)).executions).toBe(20);
    });
    for (const config of SINGLE_LOCK_CONFIGS) {
      const with_ = Object.entries(config).map(([k, v]) => `${k}=${v}`).join(',');
      it(`${scn.name}: guards on, ${with_}, clean within bound 1`, () => {
        const r = runScenario(scn, { bound: 1, budget: BUDGET, settings: { ...remedy, ...config }, snapshots: false });
        expect(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status).toBe('clean');
      });
    }
    if (scn.violation === null) continue;
    it(`${scn.name}: ${scn.guards.length ? `guard ${scn.guards.join('+')} off` : 'guards on'}, finds ${scn.violation}`, () => {
      const r = runScenario(scn, { guardsOff: scn.guards, bound: KILL_BOUND, budget: BUDGET, snapshots: false, stopAtFirst: true });
      expect(r.status === 'violation' ? r.violation.kind : r.status).toBe(scn.violation);
    });
  }
});
