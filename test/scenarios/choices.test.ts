/**
 * `choices need_resched`: the explorer answers need_resched() both ways, except at the first check
 * after a reschedule, which sees the flag clear (src/mm/primitives.ts needResched(), src/mm/sync.ts).
 * Without that rule an explorer answering "yes" after every cond_resched() keeps zap_pte_range()
 * retrying with no progress, so every search of such a scenario ran into the step limit.
 */
import { describe, expect, it } from 'vitest';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import { runScenario } from '../../src/scenarios/run.js';

function scenario(text: string): Scenario {
  const r = parseScenario(text, 'choices.scn');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

const ZAP = ['scenario zap_choices', 'about a zap whose need_resched() checks the explorer answers', 'choices need_resched', 'process P', 'map A anon private 2M nohugepage', 'touch A 0 12K write'];

describe('choices need_resched', () => {
  it('a zap alone: every answer is explored, and the search ends (no path runs past the step limit)', () => {
    const r = runScenario(scenario([...ZAP, 'cpu 0 madvise A 0 2M dontneed', ''].join('\n')), { budget: { maxExecutions: 5000 }, snapshots: false });
    expect(r.status).toBe('clean');
    if (r.status !== 'clean') return;
    expect(r.coverage).toBe('complete');
    // More than one execution: the checks are choices, not the config's answer.
    expect(r.executions).toBeGreaterThan(1);
  });

  it('two zaps of the same block, each answered both ways, end too', () => {
    const r = runScenario(scenario([...ZAP, 'cpu 0 madvise A 0 2M dontneed', 'cpu 1 madvise A 0 2M dontneed', ''].join('\n')), { budget: { maxExecutions: 50_000 }, snapshots: false });
    expect(r.status).toBe('clean');
    if (r.status === 'clean') expect(r.coverage).toBe('complete');
  });
});
