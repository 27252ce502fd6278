/** `ptlab replay` (a trace or a generator on the model, as what-if variants) and `ptlab generate`. */
import os from 'node:os';
import type { Command } from 'commander';
import { formatSaving, savings } from '../report/index.js';
import { AtomicFile, writeFileAtomic } from '../util/atomic.js';
import { writeReportDir } from './report.js';
import { formatTrace } from '../trace/write.js';
import { GENERATORS, resolveParams } from '../workloads/generators/index.js';
import { POLICIES } from '../workloads/policies/index.js';
import { checkTraceFile, runJobs, TraceInputError, type Job, type TraceSource } from '../workloads/jobs.js';
import type { ReplayReport, ReplayRun } from '../workloads/report_schema.js';
import { buildReport, mergeShards, parseVariants, VARIANT_HELP, type Variant } from '../workloads/variants.js';
import { applySettings } from '../mm/config.js';
import { EXIT, UsageError, parseConfigOption, table } from './util.js';
import { intArg } from './options.js';
import { Progress } from './progress.js';

interface ReplayOpts {
  generate?: string;
  param: Record<string, string>;
  variants: string;
  policy: string[];
  config: Record<string, string>;
  samples: number;
  workers?: number;
  shards: number;
  out?: string;
  report?: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function generatorSource(name: string, given: Record<string, string>): Extract<TraceSource, { kind: 'generator' }> {
  const gen = GENERATORS[name];
  if (!gen) throw new UsageError(`--generate: unknown generator '${name}' (known: ${Object.keys(GENERATORS).join(', ')}; see ptlab generate --list)`);
  const params = resolveParams(gen, given);
  if (typeof params === 'string') throw new UsageError(`--param: ${params}`);
  return { kind: 'generator', name, params };
}

const kb = (v: number) => Math.round(v);

/** fn(), with a trace that does not parse (or no longer does, when a job reads it again) as bad input. */
export function inputErrors<T>(fn: () => T): T {
  const usage = (e: unknown) => (e instanceof TraceInputError ? new UsageError(e.message) : e);
  try {
    const r = fn();
    return r instanceof Promise ? (r.catch((e) => Promise.reject(usage(e))) as T) : r;
  } catch (e) {
    throw usage(e);
  }
}

function finalTable(runs: ReplayRun[]): string {
  return table(
    ['variant', 'VmPTE kB', 'VmRSS kB', 'PTE tables', 'empty', 'reclaimed', 'faults', 'TLB flushes', 'RCU callbacks', 'skipped', 'seconds'],
    runs.map((r) => [
      r.label + (r.interrupted ? ' (interrupted)' : ''), kb(r.final.VmPTE), kb(r.final.VmRSS), r.final.pteTables, r.final.pteTablesEmpty,
      r.final.ptesReclaimed, r.final.faults, r.final.tlbFlushes, r.final.rcuCallbacks, r.opsSkipped, (r.elapsedMs / 1000).toFixed(1),
    ]),
  );
}

/** Each run's notes once, with the labels of the runs that have it (a trace's notes are in all). */
function notesByText(runs: readonly ReplayRun[]): Map<string, string[]> {
  const byText = new Map<string, string[]>();
  for (const r of runs) for (const n of r.notes) byText.set(n, [...(byText.get(n) ?? []), r.label]);
  return byText;
}

/** The real process's counters against each variant's at the same trace point. */
function observedTable(report: ReplayReport): string {
  const rows: (string | number)[][] = [];
  for (const o of report.observed) {
    // VmSwap only where the trace recorded it (older traces did not).
    for (const f of ['VmPTE', 'VmRSS', 'RssAnon', 'RssFile', ...(o.VmSwap === undefined ? [] : ['VmSwap' as const])] as const) {
      const row: (string | number)[] = [o.label, f, o[f] ?? ''];
      for (const r of report.runs) row.push(r.checkpoints?.find((c) => c.label === o.label)?.[f] ?? '');
      rows.push(row);
    }
  }
  return table(['point', 'field (kB)', 'kernel', ...report.runs.map((r) => r.label)], rows);
}

/** What a replay runs: its source, its variants, one job per variant and shard. Bad input is a UsageError. */
function planReplay(tracePath: string | undefined, opts: ReplayOpts): { source: TraceSource; variants: Variant[]; jobs: Job[]; events: number } {
  if ((tracePath === undefined) === (opts.generate === undefined)) throw new UsageError('give either a trace file or --generate NAME');
  const bad = applySettings({}, opts.config);
  if (bad) throw new UsageError(`--config: ${bad}`);
  for (const p of opts.policy) if (!POLICIES[p]) throw new UsageError(`--policy: '${p}' is not a purge policy (expected one of ${Object.keys(POLICIES).join(', ')})`);
  const variants = parseVariants([opts.variants, ...opts.policy.map((p) => `on+${p}`)].join(','));
  if (typeof variants === 'string') throw new UsageError(`--variants: ${variants}`);
  const { samples, shards } = opts;
  let source: TraceSource;
  let events = 0; // of a generated workload: known when it has run
  if (tracePath !== undefined) {
    if (shards > 1) throw new UsageError('--shards applies to generated workloads only');
    events = inputErrors(() => checkTraceFile(tracePath).events); // before any worker starts
    source = { kind: 'file', path: tracePath, events };
  } else {
    source = generatorSource(opts.generate!, opts.param);
    if (shards > 1 && opts.generate !== 'production') throw new UsageError('--shards is supported by the production generator only');
  }
  const jobs = variants.flatMap((v: Variant) =>
    Array.from({ length: shards }, (_, shard): Job => ({ source, variant: { ...v, config: { ...opts.config, ...v.config } }, shard, shards, samples })),
  );
  return { source, variants, jobs, events };
}

/**
 * The jobs on `workers` threads, with progress on stderr. With worker threads, SIGINT or SIGTERM
 * stops the jobs, which report what they have (marked interrupted); a second signal ends the
 * process. In this thread (`workers` 0) nothing could take the signal before the end, so it keeps
 * its default action.
 */
async function runReplayJobs(jobs: Job[], workers: number, shards: number): Promise<Awaited<ReturnType<typeof runJobs>>> {
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const onSigint = () => Atomics.store(stopFlag, 0, 1);
  if (workers > 0) {
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigint);
  }
  const progress = new Progress(jobs.map((j) => `${j.variant.label}${shards > 1 ? `#${j.shard}` : ''}`));
  try {
    return await inputErrors(() => runJobs(jobs, workers, { stopFlag, onProgress: (i, d, t) => progress.update(i, d, t) }));
  } finally {
    progress.done();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

/** The tables `ptlab replay` prints: final figures, savings, the real process's counters, notes. */
function replayText(report: ReplayReport, name: string, ops: number): string {
  const runs = report.runs;
  let out = `${name}: ${ops.toLocaleString('en-US')} events\n${finalTable(runs)}\n`;
  for (const s of savings(report)) out += `${formatSaving(s)}\n`;
  if (report.observed.length) out += `\ncounters of the real process vs the model\n${observedTable(report)}\n`;
  for (const [n, labels] of notesByText(runs)) out += `note (${labels.join(', ')}): ${n}\n`;
  return out;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('replay a workload trace (or a generated workload) on the model as what-if variants, and report page-table memory over time')
    .argument('[trace]', 'a ptlab-trace file (docs/trace-format.md), e.g. from ptlab record or ptlab generate')
    .option('--generate <name>', `replay a generated workload instead of a file (${Object.keys(GENERATORS).join(', ')})`)
    .option('--param <k=v,...>', 'generator parameters (repeatable; see ptlab generate --list)', parseConfigOption, {})
    .option('--variants <list>', `comma-separated variants to compare; ${VARIANT_HELP}`, 'off,on')
    .option('--policy <name>', `add the variant on+NAME (repeatable): ${Object.keys(POLICIES).join(', ')}`, collect, [])
    .option('--config <k=v,...>', 'model settings for every variant (thp=always, fault_around_bytes=4096, ...)', parseConfigOption, {})
    .option('--samples <n>', 'samples over time per variant (1 to 100000)', intArg('--samples', 1, 100_000), 200)
    .option('--workers <n>', 'worker threads, 1 to 256 (default: one per core, at most one per job); 0 replays in this thread, one job after another (Ctrl-C then stops it with no report)', intArg('--workers', 0, 256))
    .option('--shards <n>', 'split a generated workload into n independent parts (production generator; 1 to 64)', intArg('--shards', 1, 64), 1)
    .option('-o, --out <file>', 'write the replay report (JSON) to FILE')
    .option('--report <dir>', 'also draw the report (plots, HTML, Markdown) into DIR (see ptlab report)')
    .option('--json', 'print the replay report JSON on stdout instead of tables')
    .addHelpText(
      'after',
      `
Each variant replays the whole trace on a fresh model: the kernel configuration it names, then its
purge policies, which rewrite the trace's purges as it replays (docs/workloads.md):
${Object.entries(POLICIES).map(([n, p]) => `  ${n.padEnd(11)} ${p.summary}`).join('\n')}

Prints each variant's final figures (VmPTE, RSS, PTE tables total/empty/reclaimed, faults, TLB
flushes, RCU callbacks, trace records the model could not apply) and, for a recorded trace, the real
process's counters next to the model's at the same points. Progress goes to stderr on a terminal.
Ctrl-C (or SIGTERM) stops the replay; with worker threads the report written is then partial but
valid (marked interrupted).

Examples:
  ptlab replay --generate cover-letter
  ptlab replay --generate heap --param chunk=64K,seed=7 --policy round-out --policy coalesce
  ptlab replay --generate production --param scale=0.01 --shards 2 -o prod.json --report prod/
  ptlab replay node.trace --variants off,on,S0 -o node.json

Exit codes: 0 replayed; 2 bad trace (FILE:LINE:COL), option or parameter; 4 internal error;
130 interrupted (partial report written).`,
    )
    .action(async (tracePath: string | undefined, opts: ReplayOpts) => {
      const plan = planReplay(tracePath, opts);
      const results = await runReplayJobs(plan.jobs, opts.workers ?? Math.min(os.availableParallelism(), plan.jobs.length), opts.shards);
      const { shards } = opts;
      const runs = plan.variants.map((_, vi) => mergeShards(results.slice(vi * shards, (vi + 1) * shards).map((r) => r.run)));
      const { source } = plan;
      const ops = source.kind === 'generator' ? runs[0].final.op : plan.events;
      const name = source.kind === 'file' ? source.path : source.name;
      const report = buildReport(
        { kind: source.kind === 'file' ? 'trace' : 'generator', name, ...(source.kind === 'generator' && { params: source.params }) },
        ops, results[0].observed, runs,
      );
      if (opts.out) writeFileAtomic(opts.out, JSON.stringify(report) + '\n');
      process.stdout.write(opts.json ? JSON.stringify(report) + '\n' : replayText(report, name, ops));
      if (opts.report) for (const f of await writeReportDir(report, opts.report)) process.stderr.write(`wrote ${f}\n`);
      if (opts.out) process.stderr.write(`wrote ${opts.out}\n`);
      process.exitCode = runs.some((r) => r.interrupted) ? 130 : EXIT.OK;
    });

  program
    .command('generate')
    .description('write a generated workload as a trace file (docs/trace-format.md)')
    .argument('[name]', `generator: ${Object.keys(GENERATORS).join(', ')}`)
    .argument('[params...]', 'parameters as key=value')
    .option('-o, --out <file>', 'write to FILE instead of stdout')
    .option('--list', 'list the generators and their parameters')
    .addHelpText('after', '\nExamples:\n  ptlab generate --list\n  ptlab generate heap chunk=64K seed=3 -o heap.trace && ptlab replay heap.trace --policy round-out')
    .action((name: string | undefined, params: string[], opts: { out?: string; list?: boolean }) => {
      if (opts.list || !name) {
        for (const g of Object.values(GENERATORS)) {
          process.stdout.write(`${g.name}: ${g.summary}\n`);
          for (const [k, p] of Object.entries(g.params)) process.stdout.write(`  ${k}=${p.default}${p.choices ? ` (${p.choices.join('|')})` : ''}  ${p.help}\n`);
        }
        if (!name && !opts.list) throw new UsageError(`generate: missing generator NAME (expected one of ${Object.keys(GENERATORS).join(', ')}, or --list)`);
        return;
      }
      const given: Record<string, string> = {};
      for (const p of params) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new UsageError(`'${p}' is not key=value`);
        given[p.slice(0, eq)] = p.slice(eq + 1);
      }
      const src = generatorSource(name, given);
      const gen = GENERATORS[name].generate(src.params);
      const out = opts.out ? new AtomicFile(opts.out) : null;
      let buf = '';
      const flush = () => {
        if (out) out.write(buf);
        else process.stdout.write(buf);
        buf = '';
      };
      for (const line of formatTrace(gen.records)) {
        buf += line + '\n';
        if (buf.length > 1 << 16) flush();
      }
      flush();
      if (out) {
        out.commit();
        process.stderr.write(`wrote ${opts.out} (${gen.events.toLocaleString('en-US')} events)\n`);
      }
    });
}
