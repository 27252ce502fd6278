/**
 * Each kernel release races as it did (docs/versions.md): every shipped scenario runs under every
 * `version=`, with the guards that release has, and the violations found are exactly the races that
 * release shipped: R6 in 6.14-rc1, R10 in 6.17-rc1, R9 in 7.0 to 7.1.8 (the scenario asks for the
 * single-address walk-cache flush; arm64's policy gives it too), and R8 wherever arm64 reclaims
 * tables, from 7.0 (its scenario runs on arm64). The sweep is within preemption bound 2 (every scenario's race is found
 * within it); the release that fixed each race is also searched completely.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION_NAMES, versionInfo, type Version } from '../../src/mm/versions.js';
import { replayScenario, runScenario } from '../../src/scenarios/registry.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { raceOf, shippedScenarios } from '../support/scenarios.js';

const scenarios: Scenario[] = shippedScenarios();

/** The architecture a scenario's config lines choose (x86 unless one says arm64). */
const archOf = (scn: Scenario): 'x86' | 'arm64' =>
  scn.setup.ops.some((op) => op.op === 'config' && op.settings.arch === 'arm64') ? 'arm64' : 'x86';

/** The race a scenario is about: its `about` line starts with the race's name (`R6: ...`). */

/** The release that fixed each race, searched completely. */
const FIXED_IN: readonly [string, Version][] = [
  ['fastpath_after_unlock', '6.14'],
  ['collapse_vs_vma_lock', '6.17'],
  ['wrong_flush_addr', '7.1.9'],
];

describe('kernel versions', () => {
  it('has a scenario for every race a release shipped', () => {
    const races = new Set(scenarios.map(raceOf));
    for (const v of VERSION_NAMES) for (const r of versionInfo(v).races) expect(races, `${v} shipped ${r}`).toContain(r);
  });

  it('docs/versions.md gives every release the races src/mm/versions.ts says it shipped', () => {
    const doc = fs.readFileSync(new URL('../../docs/versions.md', import.meta.url), 'utf8');
    for (const v of VERSION_NAMES) {
      const row = doc.split('\n').find((l) => l.startsWith(`| ${v} `));
      expect(row, v).toBeDefined();
      expect(row!.split('|').at(-2)!.trim()).toBe(versionInfo(v).races.join(', ') || 'none');
    }
  });

  for (const version of VERSION_NAMES) {
    it(`${version}: finds exactly the races that release shipped (preemption bound 2)`, () => {
      const found: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const scn of scenarios) {
        const r = runScenario(scn, { settings: { version }, bound: 2, budget: { maxExecutions: 50_000 }, snapshots: false });
        expect(r.status, `${scn.name} under ${version}`).not.toBe('budget');
        if (r.status === 'violation') found[scn.name] = r.violation.kind;
        // A scenario with a guard shows its race with the guard off; a guardless one with a violation is a race open upstream.
        // Every race needs reclaim, which arm64 has from 7.0 only.
        const shows = scn.violation !== null && (scn.guards.length > 0 || scn.remedy !== null);
        const reclaims = versionInfo(version).ptReclaimArchs.includes(archOf(scn));
        if (shows && reclaims && versionInfo(version).races.includes(raceOf(scn)!)) expected[scn.name] = scn.violation!;
      }
      expect(found).toEqual(expected);
    });
  }

  it('R9 needs only the per-address walk-cache flush: arm64 finds it in 7.0 and 7.1, not in 7.1.9; x86 flushing everything never does', () => {
    const scn = scenarios.find((s) => s.name === 'wrong_flush_addr')!;
    const verdict = (settings: Record<string, string>) => {
      const r = runScenario(scn, { settings, budget: { maxExecutions: 50_000 }, snapshots: false });
      return r.status === 'violation' ? r.violation.kind : r.status;
    };
    expect(verdict({ version: '7.0', arch: 'arm64' })).toBe('stale-tlb');
    expect(verdict({ version: '7.1', arch: 'arm64' })).toBe('stale-tlb');
    expect(verdict({ version: '7.1.9', arch: 'arm64' })).toBe('clean');
    expect(verdict({ version: '7.0', pwc_flush: 'all' })).toBe('clean');
  });

  it('R8 on x86 is tolerated, not a violation, with a token that shows it; with the remedy nothing is left to tolerate', () => {
    const scn = scenarios.find((s) => s.name === 'deferred_flush_bbm')!;
    const x86 = runScenario(scn, { settings: { arch: 'x86' }, budget: { maxExecutions: 50_000 }, snapshots: false });
    expect(x86.status).toBe('clean');
    expect(x86.tolerated?.map((t) => t.violation.kind)).toEqual(['tlb-conflict']);
    expect(x86.tolerated![0].executions).toBeGreaterThan(0);
    expect(x86.tolerated![0].violation.message).toMatch(/4 KiB translation .* 2 MiB one/);
    const again = replayScenario(scn, x86.tolerated![0].token, [], { settings: { arch: 'x86' } });
    expect(again.tolerated?.[0].violation).toEqual(x86.tolerated![0].violation);
    const fixed = runScenario(scn, { settings: { arch: 'x86', ...scn.remedy }, budget: { maxExecutions: 50_000 }, snapshots: false });
    expect(fixed.status).toBe('clean');
    expect(fixed.tolerated).toBeUndefined();
  });

  for (const [name, version] of FIXED_IN) {
    it(`${name} is clean by a complete search in ${version}, the release that fixed it`, () => {
      const scn = scenarios.find((s) => s.name === name)!;
      const r = runScenario(scn, { settings: { version }, budget: { maxExecutions: 50_000 }, snapshots: false });
      expect(r.status).toBe('clean');
      if (r.status === 'clean') expect(r.coverage).toBe('complete');
    });
  }
});
