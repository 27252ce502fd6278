/**
 * Every shipped scenario on arm64 under every release (docs/versions.md): each search ends in a
 * verdict, and the only violations are the scenario's own race where that release shipped it, the
 * break-before-make conflicts arm64 forbids (`tlb-conflict`: any fault that refills a page while
 * another CPU's MADV_DONTNEED has not flushed yet), and R9's stale walk-cache entry where the
 * release has R9 (arm64 flushes walk caches by address). Bound 1 preemption: a sweep, not a proof;
 * test/scenarios/versions.test.ts holds the verdicts that matter per release.
 */
import { describe, expect, it } from 'vitest';
import { VERSION_NAMES } from '../../src/mm/versions.js';
import { runScenario } from '../../src/scenarios/registry.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { arm64Allowed, shippedScenarios } from '../support/scenarios.js';

const scenarios: Scenario[] = shippedScenarios();

describe('scenarios on arm64', () => {
  for (const version of VERSION_NAMES) {
    it(`${version}: every scenario ends in a verdict, failing only as arm64's rules or the release's races allow (preemption bound 1)`, () => {
      for (const scn of scenarios) {
        const r = runScenario(scn, { settings: { version, arch: 'arm64' }, bound: 1, budget: { maxExecutions: 20_000 }, snapshots: false });
        expect(r.status, `${scn.name}`).not.toBe('budget');
        if (r.status !== 'violation') continue;
        expect(arm64Allowed(scn, version), `${scn.name} under ${version} on arm64: ${r.violation.kind}: ${r.violation.message}`).toContain(r.violation.kind);
      }
    });
  }
});
