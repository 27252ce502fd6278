/** The shipped race scenarios (scenarios/*.scn), parsed, for the tests that run them all. */
import { expect } from 'vitest';
import { listScenarioFiles, loadAllowList, loadScenario } from '../../src/scenarios/registry.js';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import type { AllowEntry } from '../../src/scenarios/explain.js';
import { runScenario } from '../../src/scenarios/run.js';
import { versionInfo, type Version } from '../../src/mm/versions.js';

export function shippedScenarios(): Scenario[] {
  return listScenarioFiles().map((f) => {
    const r = loadScenario(f);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.scenario;
  });
}

/** One shipped scenario, by name. */
export function shippedScenario(name: string): Scenario {
  const r = loadScenario(name);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

/** A scenario written in a test, one line per element (the first: `scenario NAME`). */
export function inlineScenario(lines: readonly string[]): Scenario {
  const r = parseScenario(lines.join('\n'), `${lines[0].split(' ')[1]}.scn`);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

/** scenarios/anomalies.allow, the reviewed allow-list. */
export function shippedAllowList(): AllowEntry[] {
  const r = loadAllowList();
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return [...r.entries];
}

/**
 * The search of `scn` (with model `settings` over its config) is complete and clean, every outcome
 * explained by an order or by `allow`.
 */
export function expectCleanAndExplained(scn: Scenario, allow: readonly AllowEntry[] = [], settings?: Readonly<Record<string, string>>): void {
  const r = runScenario(scn, { explain: { allow }, settings });
  if (r.status !== 'clean') expect.fail(r.status === 'violation' ? `${r.violation.kind}: ${r.violation.message}` : r.status);
  expect(r.coverage).toBe('complete');
}

/**
 * The anomalies of shipped scenarios reported as candidate findings, not allow-listed (docs/explorer.md,
 * "Sequential explainability"), by the start of their message: test/scenarios/explain.test.ts pins them.
 */
export const CANDIDATE_ANOMALIES: Readonly<Record<string, readonly RegExp[]>> = {
  // R16, open upstream: vm_insert_page()'s __get_locked_pte() finds the table it allocated reclaimed (-ENOMEM).
  binder_vs_dontneed: [/^results r0 \(cpu0 binder_transaction\) = -12, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-12/],
  retract_vs_dontneed_refilled: [/^results r0 \(cpu0 madvise collapse\) = -22, r1 \(cpu1 madvise dontneed\) = 0, r2 \(cpu1 pte_alloc\) = 0; no sequential order \(of 3\) gives r0=-22/],
  // R15, open upstream: insert_pages() finds the table it allocated reclaimed (-EFAULT).
  tcp_zerocopy_vs_dontneed: [/^results r0 \(cpu0 tcp_zerocopy\) = -14, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-14/],
  uffd_copy_vs_dontneed: [/^results r0 \(cpu0 uffd_copy\) = -17, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-17/],
  // The same -EEXIST from mfill_atomic()'s second PMD read, through UFFDIO_ZEROPAGE.
  uffd_zeropage_vs_dontneed: [/^results r0 \(cpu0 uffd_zeropage\) = -17, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-17/],
  uffd_move_vs_dontneed: [
    // move_pages_ptes()'s sanity check sees the reclaimed destination PMD.
    /^results r0 \(cpu0 uffd_move\) = -22, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-22/,
    // move_pages() keeps an earlier -EAGAIN after the pass that moved the page, and runs it again.
    /^results r0 \(cpu0 uffd_move\) = -17, r1 \(cpu1 madvise dontneed\) = 0; no sequential order \(of 2\) gives r0=-17;/,
  ],
};

/**
 * What an open race (a scenario with `remedy`) may show within preemption bound 1 besides its own
 * violation: the MGLRU walk's table freed before it derives its lock pointer (pt-use-after-free),
 * where the unbounded search first meets the freed lock (ptl-use-after-free, the scenario's).
 */
export const BOUNDED_FACES: Readonly<Record<string, string>> = { mglru_vs_dontneed: 'pt-use-after-free' };

/**
 * A scenario with one path longer than the explorer's default step limit: a collapse from Q unmaps
 * the 512 PTEs P locked, 12,367 steps (explore/run.ts, 'step-limit'). Long, not stuck.
 */
export const LONG_COLLAPSE_TEXT = [
  'scenario long_collapse',
  'about a path longer than the explorer step limit (the generator no longer shares locked mappings)',
  'violation none',
  'memfd F0 2M',
  'process P',
  'map A shmem F0 0 2M shared locked',
  'process Q',
  'map C shmem F0 0 2M shared',
  'touch C 0 4K read',
  'cpu 0 madvise C 0 2M collapse',
  '',
].join('\n');

/** The race a scenario is about: the R-number its `about` line starts with. */
export const raceOf = (scn: Scenario): string | undefined => /^(R\d+)\b/.exec(scn.about)?.[1];

/**
 * The violations a shipped scenario may show on arm64 under `version` with every guard on: the
 * break-before-make conflicts arm64 forbids (`tlb-conflict`: a fault that refills a page while
 * another CPU's MADV_DONTNEED has not flushed yet; no reclaim needed), R9's stale walk-cache entry
 * where the release has R9 (arm64 flushes walk caches by address), the scenario's own race where
 * the release shipped it without the guard, and a race open upstream where the release has it.
 */
export function arm64Allowed(scn: Scenario, version: Version): Set<string> {
  const info = versionInfo(version);
  const reclaims = info.ptReclaimArchs.includes('arm64');
  const allowed = new Set<string>(['tlb-conflict']);
  if (reclaims && info.races.includes('R9')) allowed.add('stale-tlb');
  if (reclaims && scn.violation && info.guardsOff.some((g) => scn.guards.includes(g))) allowed.add(scn.violation);
  if (reclaims && scn.violation && scn.remedy && info.races.includes(raceOf(scn) ?? '')) allowed.add(BOUNDED_FACES[scn.name] ?? scn.violation);
  return allowed;
}
