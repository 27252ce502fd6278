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

describe('TLB flushes on arm64 are broadcasts, not IPIs', () => {
  const scn = scenarios.find((s) => s.name === 'collapse_vs_gup_fast')!;
  const search = (arch: 'x86' | 'arm64', guardsOff: readonly 'collapse-ipi'[]) =>
    runScenario(scn, { settings: { arch }, guardsOff, snapshots: false, stopAtFirst: true });

  it("collapse's tlb_remove_table_sync_one() is what keeps gup_fast off the freed deposited table on arm64", () => {
    const off = search('arm64', ['collapse-ipi']);
    expect(off.status === 'violation' ? off.violation.kind : off.status).toBe('pt-use-after-free');
    const on = search('arm64', []);
    expect(on.status === 'clean' && on.complete).toBe(true);
  });

  it("on x86 the collapse's flush IPI waits for gup_fast's interrupts: the same search is clean without the guard", () => {
    const off = search('x86', ['collapse-ipi']);
    expect(off.status === 'clean' && off.complete).toBe(true);
  });
});
