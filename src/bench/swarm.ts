/**
 * Rediscovery (issue 13, section 3; docs/swarm.md): for each guard of the shipped scenarios, a swarm
 * campaign with only that guard off, of generated scenarios alone (the hand-written scenario is
 * never an input), until a finding of the violation kind the guard's scenarios expect, or a time
 * limit. Then one campaign with every guard on, as the control. Writes bench/SWARM.md.
 */
import type { GuardName } from '../mm/config.js';
import { listScenarioFiles, loadScenario } from '../scenarios/registry.js';
import { runCampaign, type CampaignFinding, type CampaignProgress, type CampaignSummary } from '../swarm/campaign.js';
import { searchScenario, type SearchBudget } from '../swarm/search.js';
import type { JobFinding } from '../swarm/job.js';
import { parseScenario } from '../scenarios/format.js';
import type { ExplainOptions } from '../scenarios/explain.js';

export interface GuardTarget {
  guard: GuardName;
  /** Violation kinds its shipped scenarios expect with it off (empty: they expect none). */
  expected: string[];
  scenarios: string[];
}

/**
 * Other kinds under which the bug an expected kind names can show first. A page-table page's split
 * lock dies with the table on every path that frees one (src/mm/pgtable.ts TableStore.free() marks
 * it dead; in the kernel the lock lives in the table's ptdesc, destroyed by pagetable_dtor() as the
 * page is freed), so a walker that takes a freed table's lock before it reads an entry meets the
 * same freed page as a ptl-use-after-free. Not the other way round: with `ptlock-rcu-free` off
 * ptlockFree() kills the lock before its table, and a ptl-use-after-free there is not a freed table.
 */
const FACES: Readonly<Record<string, readonly string[]>> = { 'pt-use-after-free': ['ptl-use-after-free'] };

/** The finding kinds that rediscover a guard: what its scenarios expect, and those kinds' faces. */
export function acceptedKinds(target: GuardTarget): string[] {
  return [...new Set(target.expected.flatMap((k) => [k, ...(FACES[k] ?? [])]))];
}

/** Whether the guard's scenarios expect an anomaly, which only sequential explainability reports. */
const wantsExplain = (target: GuardTarget) => target.expected.includes('anomaly');

/**
 * Whether a finding made with the guard off goes away with every guard on: the same search of its
 * shrunk scenario (same budget, same explainability) finds nothing of that kind. Without this an
 * accepted kind could come from something else in the scenario (an anomaly above all: any
 * unexplained outcome has that kind). A search that runs out of budget counts as gone: sampled, as
 * the campaign's own search is.
 */
export function goneWithGuardOn(f: Pick<JobFinding, 'kind' | 'scn'>, budget: SearchBudget, seed: number): boolean {
  const parsed = parseScenario(f.scn, 'finding.scn');
  if (!parsed.ok) throw new Error(`a finding's scenario does not parse: ${parsed.errors.join('; ')}`);
  const again = searchScenario(parsed.scenario, [], budget, seed);
  return !(again.status === 'violation' && again.kind === f.kind);
}

/** The guards the shipped scenarios are about, with what each expects. */
export function guardTargets(): GuardTarget[] {
  const by = new Map<GuardName, GuardTarget>();
  for (const f of listScenarioFiles()) {
    const r = loadScenario(f);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    for (const g of r.scenario.guards) {
      const t = by.get(g) ?? { guard: g, expected: [], scenarios: [] };
      if (r.scenario.violation && !t.expected.includes(r.scenario.violation)) t.expected.push(r.scenario.violation);
      t.scenarios.push(r.scenario.name);
      by.set(g, t);
    }
  }
  return [...by.values()];
}

export interface GuardRun {
  target: GuardTarget;
  /** Set on a run made alone (`--guard`) and merged into an earlier result: where and when. */
  rerun?: { commit: string; date: string };
  summary: CampaignSummary;
  /** The first finding of an expected kind, if any. */
  hit?: CampaignFinding;
  /** Keys of findings of an accepted kind that came back with every guard on (goneWithGuardOn()). */
  rejected?: string[];
}

export interface SwarmBenchOptions {
  seconds: number;
  seed: number;
  budget: SearchBudget;
  /** Only these guards' campaigns, and no control (mergeSwarmRuns() puts them into a full result). */
  only?: readonly GuardName[];
  workers?: number;
  /** Where each campaign's findings go (a folder per guard); none: not written. */
  out?: string;
  /** The allow-list for guards whose scenarios expect an anomaly (their campaigns explain). */
  explain: ExplainOptions;
  log: (s: string) => void;
  onProgress?: (p: CampaignProgress) => void;
}

export interface SwarmBenchResult {
  seconds: number;
  seed: number;
  budget: SearchBudget;
  workers: number;
  cores: number;
  runs: GuardRun[];
  /** Absent from a run of some guards only (`only`). */
  control?: CampaignSummary;
}

/**
 * A full result with some guards' runs replaced by newer ones made alone, each marked with its
 * commit and date; the settings (seed, budget, limit) must be the same, or the table would mix
 * campaigns that are not comparable.
 */
export function mergeSwarmRuns(full: SwarmBenchResult, partial: SwarmBenchResult, rerun: { commit: string; date: string }): SwarmBenchResult {
  const same = (a: SwarmBenchResult) => JSON.stringify([a.seconds, a.seed, a.budget]);
  if (same(full) !== same(partial)) throw new Error(`the earlier result was made with other settings (limit, seed, budget ${same(full)}; now ${same(partial)})`);
  if (!full.control) throw new Error('the earlier result has no control campaign: it is not a full run');
  const fresh = new Map(partial.runs.map((r) => [r.target.guard, { ...r, rerun }]));
  const runs = full.runs.map((r) => fresh.get(r.target.guard) ?? r);
  for (const [guard, r] of fresh) if (!full.runs.some((x) => x.target.guard === guard)) runs.push(r);
  return { ...full, runs };
}

const MANY = 1_000_000;

export async function swarmBench(o: SwarmBenchOptions, cores: number): Promise<SwarmBenchResult> {
  const runs: GuardRun[] = [];
  const common = { seed: o.seed, scenarios: MANY, budget: o.budget, workers: o.workers, seconds: o.seconds, onProgress: o.onProgress };
  const targets = guardTargets().filter((t) => !o.only || o.only.includes(t.guard));
  for (const target of targets) {
    const accepted = acceptedKinds(target);
    const explain = wantsExplain(target) ? o.explain : undefined;
    o.log(`${target.guard} off (expects ${accepted.join(' or ') || 'nothing'}${explain ? ', explaining' : ''}), at most ${o.seconds} s`);
    const confirmed = new Map<string, boolean>();
    const rediscovers = (f: JobFinding): boolean => {
      if (!accepted.includes(f.kind)) return false;
      if (!confirmed.has(f.key)) {
        const gone = goneWithGuardOn(f, { ...o.budget, ...(explain && { explain }) }, o.seed);
        if (!gone) o.log(`  ${f.kind} also with every guard on: not this guard's (${f.message.split('\n')[0]})`);
        confirmed.set(f.key, gone);
      }
      return confirmed.get(f.key)!;
    };
    const summary = await runCampaign({
      ...common,
      guardsOff: [target.guard],
      out: o.out && `${o.out}/${target.guard}`,
      stopWhen: accepted.length ? rediscovers : undefined,
      ...(explain && { explain }),
    });
    const hit = summary.findings.find(rediscovers);
    o.log(hit ? `  found after ${hit.executionsToFind} executions, ${hit.secondsToFind.toFixed(1)} s` : `  not found (${summary.done} scenarios)`);
    runs.push({ target, summary, hit, rejected: [...confirmed].filter(([, gone]) => !gone).map(([key]) => key) });
  }
  if (o.only) return { seconds: o.seconds, seed: o.seed, budget: o.budget, workers: o.workers ?? 0, cores, runs };
  o.log(`control: every guard on, ${o.seconds} s`);
  const control = await runCampaign({ ...common, guardsOff: [], out: o.out && `${o.out}/all-guards-on` });
  return { seconds: o.seconds, seed: o.seed, budget: o.budget, workers: o.workers ?? 0, cores, runs, control };
}

const fence = (s: string) => '```\n' + s.trimEnd() + '\n```';

export function renderSwarmBench(r: SwarmBenchResult): string {
  const rows = r.runs.map(({ target, summary, hit, rejected, rerun }) => {
    const found = hit ? (target.expected.includes(hit.kind) ? 'yes' : `yes, as ${hit.kind}`) : target.expected.length ? '**no**' : 'nothing to find';
    // One entry per kind, the findings the same search found with every guard on too apart.
    const groups = new Map<string, { kind: string; rejected: boolean; count: number; distinct: number }>();
    for (const f of summary.findings) {
      if (f.key === hit?.key) continue; // by key: a result read back from SWARM.json holds copies
      const rej = rejected?.includes(f.key) ?? false;
      const e = groups.get(`${f.kind}/${rej}`) ?? { kind: f.kind, rejected: rej, count: 0, distinct: 0 };
      groups.set(`${f.kind}/${rej}`, { ...e, count: e.count + f.count, distinct: e.distinct + 1 });
    }
    const others = [...groups.values()]
      .map((e) => {
        const notes = [e.distinct > 1 ? `${e.distinct} distinct` : '', e.rejected ? 'also with every guard on' : ''].filter(Boolean);
        return `${e.kind} ×${e.count}${notes.length ? ` (${notes.join('; ')})` : ''}`;
      })
      .join(', ');
    return `| \`${target.guard}\`${rerun ? ` (run alone at ${rerun.commit}, ${rerun.date})` : ''} | ${target.expected.join(', ') || 'none'} | ${found} | ${hit ? hit.executionsToFind.toLocaleString('en-US') : '-'} | ${hit ? hit.secondsToFind.toFixed(1) : '-'} | ${summary.done} | ${summary.executions.toLocaleString('en-US')} | ${summary.seconds} | ${others || '-'} |`;
  });
  const found = r.runs.filter((x) => x.hit).length;
  const findable = r.runs.filter((x) => x.target.expected.length).length;
  const details = r.runs.map(({ target, hit, summary }) => {
    if (!hit) return `### \`${target.guard}\`\n\nNot rediscovered in ${summary.seconds} s (${summary.done} scenarios, ${summary.executions.toLocaleString('en-US')} executions)${target.expected.length ? '' : `: its scenario ${target.scenarios.join(', ')} expects no violation with the guard off either`}.\n`;
    return `### \`${target.guard}\`\n\n${hit.kind}: ${hit.message.split('\n')[0]}\n(job ${hit.index}, found by ${hit.phase}; shrunk from ${hit.linesBefore} to ${hit.linesAfter} lines)\n\n${fence(hit.scn)}\n`;
  });
  const c = r.control;
  if (!c) throw new Error('a swarm result without its control campaign: merge it into a full one first (mergeSwarmRuns)');
  const controlFindings = c.findings.length
    ? c.findings.map((f) => `- ${f.kind} ×${f.count}: ${f.message.split('\n')[0]} (job ${f.index})\n\n${fence(f.scn)}`).join('\n\n')
    : 'No findings.';
  return `# Swarm rediscovery

Written by \`ptlab bench --swarm\` (src/bench/swarm.ts; docs/swarm.md). For each guard of the shipped
scenarios, a campaign of generated scenarios only (the hand-written scenario is never an input)
with only that guard off, until a finding of the kind the guard's scenarios expect, or
**${r.seconds} s** per guard. A ptl-use-after-free counts for an expected pt-use-after-free: the
split lock dies with its table, so a walker that locks a freed table meets the same freed page
("yes, as ..."). A finding counts only if the same search of its shrunk scenario with every guard on
does not find its kind again. The campaign of a guard whose scenarios expect an anomaly checks
sequential explainability (scenarios/anomalies.allow applies); the others do not. Campaign seed
${r.seed}; per scenario DPOR up to ${r.budget.dpor} executions, then PCT for ${r.budget.pct}; ${r.workers || 'no'} worker thread(s) on
${r.cores} cores shared with other work. Issue 13 asks for at most 10 minutes per guard; this run used a shorter
limit (the machine is shared), so a guard not found here may still be found within 10 minutes.

"Executions to find" counts every execution of the scenarios before the finding one (in job
order) plus that one's executions up to the failure: independent of the worker count. Seconds are
wall clock until that job finished (with workers running other jobs meanwhile).

**Rediscovered: ${found} of ${findable}** guards whose scenarios expect a violation.
${r.runs.some((x) => x.rerun) ? '\nRows marked "run alone" were re-run by `ptlab bench --swarm --guard NAME` after the full run, with its seed, budget and limit, and merged into it; the other rows and the control are the full run\'s.\n' : ''}
| guard off | expected | found | executions to find | seconds to find | scenarios run | executions | seconds | other findings |
|---|---|---|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

## All guards on (control)

${c.done} scenarios, ${c.executions.toLocaleString('en-US')} executions in ${c.seconds} s.

${controlFindings}

## The minimized findings

${details.join('\n')}`;
}
