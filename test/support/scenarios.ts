/** The shipped race scenarios (scenarios/*.scn), parsed, for the tests that run them all. */
import { listScenarioFiles, loadScenario } from '../../src/scenarios/registry.js';
import type { Scenario } from '../../src/scenarios/format.js';

export function shippedScenarios(): Scenario[] {
  return listScenarioFiles().map((f) => {
    const r = loadScenario(f);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.scenario;
  });
}
