/**
 * `ptlab explore SCENARIO` and `ptlab scenarios`: search a scenario's interleavings on simulated
 * CPUs. Exit codes: 0 clean, 1 violation, 2 bad input, 3 no verdict (budget exhausted).
 */
import type { Command } from 'commander';
import { applySettings, GUARD_NAMES, type GuardName } from '../mm/config.js';
import { decodeToken, formatTrace, ReplayError, TokenError, verdictLine, type DfsOptions, type ExploreResult } from '../explore/index.js';
import { MAX_TOKEN_DECISIONS } from '../explore/token.js';
import { ALLOW_FILE, listScenarioFiles, loadAllowList, loadScenario, replayScenario, runScenario, type Mode } from '../scenarios/registry.js';
import type { ExplainOptions } from '../scenarios/explain.js';
import { scenarioSystem } from '../scenarios/system.js';
import type { Scenario } from '../scenarios/format.js';
import { checkScenario } from '../scenarios/validate.js';
import { EXIT, parseConfigOption, UsageError, table } from './util.js';
import { intArg, MAX_SECONDS, numberArg } from './options.js';
import { exploreDoc } from '../view/docs.js';

export function parseGuard(v: string, prev: GuardName[] = []): GuardName[] {
  const m = /^([a-z0-9-]+)=off$/.exec(v);
  if (!m || !(GUARD_NAMES as readonly string[]).includes(m[1])) {
    throw new UsageError(`--guard: expected NAME=off with NAME one of: ${GUARD_NAMES.join(', ')} (got '${v}')`);
  }
  return [...prev, m[1] as GuardName];
}

/** A scenario that parses and whose setup runs as it says, with these guards off (validate.ts). */
function load(name: string, guardsOff: (scn: Scenario) => GuardName[]): Scenario {
  const r = loadScenario(name);
  if (!r.ok) throw new UsageError(r.errors.join('\n'));
  const problems = checkScenario(r.scenario, guardsOff(r.scenario));
  if (problems.length) throw new UsageError(problems.join('\n'));
  return r.scenario;
}

/** A schedule token checked against the explorer's step limit before anything expands it. */
function checkToken(token: string, maxSteps: number): void {
  try {
    decodeToken(token, maxSteps);
  } catch (e) {
    if (e instanceof TokenError) throw new UsageError(`--replay: ${e.message}`);
    throw e;
  }
}

/** `--max-steps`: below 1 000 even short scenarios stop unjudged; above 1 000 000 an execution takes minutes. */
const MIN_MAX_STEPS = 1_000;
const MAX_MAX_STEPS = 1_000_000;

/** The values of `--reduction`: DfsOptions['reduction']. */
const REDUCTIONS: readonly string[] = ['dpor', 'none'] satisfies readonly NonNullable<DfsOptions['reduction']>[];

interface ExploreCliOptions {
  mode: Mode;
  reduction: NonNullable<DfsOptions['reduction']>;
  guard: GuardName[];
  guardOff?: boolean;
  bound?: number;
  budget: number;
  seconds?: number;
  seed: number;
  depth: number;
  replay?: string;
  maxSteps: number;
  all?: boolean;
  json?: boolean;
  locations?: boolean;
  config: Record<string, string>;
  remedy?: boolean;
  explain?: boolean;
  allow?: string;
}

/** `--explain` with the shipped allow-list, or `--allow FILE`'s. */
function explainOptions(o: ExploreCliOptions): ExplainOptions | undefined {
  if (o.allow !== undefined && !o.explain) throw new UsageError('--allow: only with --explain');
  if (!o.explain) return undefined;
  const r = loadAllowList(o.allow ?? ALLOW_FILE);
  if (!r.ok) throw new UsageError(r.errors.join('\n'));
  return { allow: r.entries };
}

export function registerExplore(program: Command): void {
  program
    .command('scenarios')
    .description('list the shipped race scenarios (scenarios/*.scn), one line each')
    .action(() => {
      const rows = listScenarioFiles().map((f) => {
        const r = loadScenario(f);
        if (!r.ok) return [f, 'BROKEN', r.errors[0]];
        const problems = checkScenario(r.scenario);
        if (problems.length) return [f, 'BROKEN', problems[0]];
        const s = r.scenario;
        const guard = s.remedy ? `none: open upstream (--remedy: ${Object.entries(s.remedy).map(([k, v]) => `${k}=${v}`).join(' ')})` : s.guards.join(', ');
        return [s.name, guard, `${s.violation ?? 'none'}${s.bound >= 0 ? ` (bound ${s.bound})` : ''}`, s.about.split(':')[0]];
      });
      process.stdout.write(table(['scenario', 'guard', 'violation with guard off', 'race'], rows) + '\n');
      process.stdout.write("\nRun one: ptlab explore NAME [--guard GUARD=off]; details: ptlab explore NAME --help\n");
    });

  program
    .command('explore')
    .description('search the interleavings of a scenario for sanitizer violations')
    .argument('<scenario>', 'a scenario name (see `ptlab scenarios`) or a .scn file')
    .option('--mode <mode>', 'dfs (exhaustive, DPOR: complete, or within --bound), random or pct (sampling)', 'dfs')
    .option('--reduction <r>', 'with --mode dfs: dpor (source-set DPOR with sleep sets) or none (every interleaving: to cross-check a verdict)', 'dpor')
    .option('--guard <NAME=off>', 'switch a guard off (repeatable)', parseGuard, [])
    .option('--guard-off', "switch off the scenario's own guard(s)")
    .option('--bound <n>', "only schedules with at most n preemptions, -1 to 20 (default: the scenario's, usually none; -1: none)", intArg('--bound', -1, 20))
    .option('--budget <n>', 'stop after this many executions (1 to 1000000000)', intArg('--budget', 1, 1e9), 100_000)
    .option('--seconds <s>', `stop after this much time (a number of seconds, at most ${MAX_SECONDS})`, numberArg('--seconds', 0, MAX_SECONDS, { exclusiveMin: true, unit: 'seconds' }))
    .option('--seed <n>', 'seed of random and pct (0 to 2147483648)', intArg('--seed', 0, 2 ** 31), 1)
    .option('--depth <d>', 'bug depth of pct (1 to 10)', intArg('--depth', 1, 10), 2)
    .option('--replay <token>', 'replay one execution from its schedule token')
    .option('--max-steps <n>', `steps an execution may take before it stops unjudged (${MIN_MAX_STEPS} to ${MAX_MAX_STEPS})`, intArg('--max-steps', MIN_MAX_STEPS, MAX_MAX_STEPS), MAX_TOKEN_DECISIONS)
    .option('--config <k=v,...>', 'model settings over the scenario\'s config lines, e.g. version=7.0, arch=x86 (repeatable)', parseConfigOption, {})
    .option('--remedy', "apply the scenario's remedy (a proposed fix for a race open upstream)")
    .option('--explain', 'also check sequential explainability: an outcome (task results, /proc counters, pagemap) no sequential order of the tasks gives is an anomaly, unless scenarios/anomalies.allow accepts it')
    .option('--allow <file>', 'with --explain: the allow-list to use instead of scenarios/anomalies.allow')
    .option('--all', 'collect every distinct violation instead of stopping at the first')
    .option('--locations', "in a trace, give each step's model source line after its kernel function")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Every failure prints a schedule token; --replay TOKEN re-runs exactly that execution.
A trace names the modelled kernel function of each step (zap_pte_range: lock ptl(T4));
--locations adds the model's source line (src/mm/memory/zap.ts:188); --json always has both.
--explain compares each execution's end with every sequential order of the scenario's tasks (whole
tasks one after another, each CPU's in order): the tasks' results, VmPTE/RSS counters and pagemap
of the mappings they name must equal one order's, else it is a violation of kind 'anomaly'
(docs/explorer.md, "Sequential explainability"); allow-listed anomalies are counted, not failed.
An execution still running after --max-steps steps (default ${MAX_TOKEN_DECISIONS}) stops unjudged: it may livelock
or only be long, so the search gives no verdict; run it again with a larger --max-steps.
Exit codes: 0 clean, 1 violation found, 2 bad input, 3 no verdict: the budget ran out before the search ended,
or an execution ran past the step limit.
Guards: ${GUARD_NAMES.join(', ')}`,
    )
    .action((name: string, o: ExploreCliOptions) => {
      if (!['dfs', 'random', 'pct'].includes(o.mode)) throw new UsageError(`--mode: '${o.mode}' is not a search mode (expected dfs, random or pct)`);
      if (!REDUCTIONS.includes(o.reduction)) throw new UsageError(`--reduction: '${o.reduction}' is not a reduction (expected ${REDUCTIONS.join(', ')})`);
      if (o.reduction !== 'dpor' && o.mode !== 'dfs') throw new UsageError(`--reduction: only with --mode dfs (--mode ${o.mode} samples schedules and reduces nothing)`);
      if (o.replay !== undefined) checkToken(o.replay, o.maxSteps);
      const guardsOf = (scn: Scenario) => [...o.guard, ...(o.guardOff ? scn.guards : [])];
      const bad = applySettings({}, o.config);
      if (bad) throw new UsageError(`--config: ${bad}`);
      const scn = load(name, guardsOf);
      if (o.remedy && !scn.remedy) throw new UsageError(`--remedy: scenario ${scn.name} has no remedy line (only races open upstream have one)`);
      const settings = { ...(o.remedy ? scn.remedy : {}), ...o.config };
      const guardsOff = guardsOf(scn);
      const explain = explainOptions(o);
      const sys = scenarioSystem(scn, guardsOff, { settings });
      const flags = [...guardsOff.map((g) => `--guard ${g}=off`), ...Object.entries(settings).map(([k, v]) => `--config ${k}=${v}`), ...(explain ? ['--explain', ...(o.allow ? [`--allow ${o.allow}`] : [])] : [])].join(' ');
      const command = ['ptlab explore', name, flags].filter(Boolean).join(' ');
      let result: ExploreResult;
      if (o.replay !== undefined) {
        try {
          result = replayScenario(scn, o.replay, guardsOff, { snapshots: !!o.json, settings, explain, maxSteps: o.maxSteps });
        } catch (e) {
          if (e instanceof TokenError) throw new UsageError(`--replay: ${e.message}`);
          if (e instanceof ReplayError) throw new UsageError(`--replay: ${e.message} (expected a token printed by ptlab explore for this scenario, with the same guards off and --config settings)`);
          throw e;
        }
      } else {
        const t0 = performance.now();
        const isTty = process.stderr.isTTY;
        result = runScenario(scn, {
          mode: o.mode,
          guardsOff,
          settings,
          explain,
          bound: o.bound,
          reduction: o.reduction,
          seed: o.seed,
          depth: o.depth,
          executions: o.budget,
          budget: { maxExecutions: o.budget, maxMs: o.seconds === undefined ? undefined : o.seconds * 1000 },
          clock: () => performance.now(),
          stopAtFirst: !o.all,
          maxSteps: o.maxSteps,
          snapshots: !!o.json,
          progressEvery: 200,
          onProgress: (p) => {
            if (isTty) process.stderr.write(`\r${p.executions} executions, ${Math.round(p.executions / Math.max(1, p.elapsedMs / 1000))}/s, depth ${p.depth}, ${Math.round(p.elapsedMs / 1000)} s `);
          },
        });
        if (isTty) process.stderr.write('\r\x1b[K');
        const ms = performance.now() - t0;
        const with_ = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ');
        if (!o.json) process.stdout.write(`${scn.name}: ${o.mode}, guards off: ${guardsOff.join(', ') || 'none'}${with_ ? `; ${with_}` : ''}; ${result.executions} executions in ${(ms / 1000).toFixed(1)} s\n`);
      }
      if (o.json) {
        process.stdout.write(JSON.stringify(exploreDoc(scn.name, guardsOff, sys.taskNames ?? [], result)) + '\n');
      } else if (result.status === 'violation') {
        // With --all, every distinct violation (the first is the result itself).
        if (result.failures.length > 1) process.stdout.write(`${result.failures.length} distinct violations${result.complete ? ' (the search is complete)' : ''}\n\n`);
        result.failures.forEach((f, i) => {
          if (i > 0) process.stdout.write('\n');
          process.stdout.write(`VIOLATION ${f.violation.kind}: ${f.violation.message}\n`);
          process.stdout.write(`replay: ${command} --replay '${f.token}'\n\n`);
          process.stdout.write(formatTrace(f.trace, result.nTasks, { names: sys.taskNames, violation: f.violation, locations: o.locations }) + '\n');
        });
      } else {
        const bound = o.bound === undefined ? scn.bound : Number(o.bound);
        process.stdout.write(verdictLine(result, bound) + '\n');
        if (result.status === 'clean' && result.coverage === 'replayed' && result.tolerated && result.trace) {
          process.stdout.write('\n' + formatTrace(result.trace, result.nTasks ?? 0, { names: sys.taskNames, locations: o.locations }) + '\n');
        }
        if (result.status === 'step-limit') {
          const { overrun } = result;
          process.stdout.write(`${overrun.message}\n`);
          if (o.replay === undefined) process.stdout.write(`see it: ${command} --max-steps ${overrun.maxSteps} --replay '${overrun.token}'\n`);
          process.stdout.write(`judge it: ${command} --max-steps ${Math.min(MAX_MAX_STEPS, overrun.maxSteps * 10)}\n`);
        }
      }
      if (!o.json) {
        for (const t of result.tolerated ?? []) {
          const what = t.violation.kind.startsWith('allowed-anomaly')
            ? 'anomaly allowed by the allow-list (not a violation)'
            : t.violation.kind === 'unexplained'
              ? 'not explained by the sequential runs made, which stop at a limit (not a violation)'
              : 'tolerated by this architecture (not a violation here)';
          process.stdout.write(`${what} in ${t.executions} execution${t.executions === 1 ? '' : 's'}: ${t.violation.kind}: ${t.violation.message}\n`);
          process.stdout.write(`  see it: ${command} --replay '${t.token}'\n`);
        }
      }
      process.exitCode = result.status === 'violation' ? EXIT.FAIL : result.status === 'clean' ? EXIT.OK : EXIT.NO_VERDICT;
    });
}
