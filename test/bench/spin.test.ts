/**
 * The Promela model of retract_vs_dontneed (bench/spin) must reach the explorer's verdicts, or the
 * states/s the bench sets beside the explorer's figures would be for a different protocol: SPIN's
 * exhaustive search finds no error with the guard on and the use-after-free with it off.
 * .ci/run installs Debian's spin; elsewhere the test says why it skips.
 */
import { describe, expect, it } from 'vitest';
import { spinAvailable, spinCheck } from '../../src/bench/spin.js';
import { loadScenario, runScenario } from '../../src/scenarios/registry.js';

const have = spinAvailable();
if (!have) console.warn('spin.test: `spin` or `gcc` not on PATH (Debian: apt-get install spin); skipped');

describe.skipIf(!have)('SPIN on the Promela model of retract_vs_dontneed', () => {
  const r = loadScenario('retract_vs_dontneed');
  if (!r.ok) throw new Error(r.errors.join('\n'));

  it('agrees with the explorer with the guard on: an exhaustive search without errors', () => {
    const on = spinCheck([]);
    expect(on.errors).toBe(0);
    expect(on.complete).toBe(true);
    expect(on.states).toBeGreaterThan(100);
    expect(runScenario(r.scenario).status).toBe('clean');
  }, 120_000);

  it('agrees with the explorer with the guard off: both find the PTE lock taken from a none PMD', () => {
    const off = spinCheck(['-DGUARD_OFF']);
    expect(off.errors).toBe(1);
    expect(off.firstError).toMatch(/assertion violated/);
    const ex = runScenario(r.scenario, { guardsOff: r.scenario.guards });
    expect(ex.status).toBe('violation');
    if (ex.status === 'violation') expect(ex.violation.message).toMatch(/pte_lockptr\(\) of PMD value 0/);
  }, 120_000);
});
