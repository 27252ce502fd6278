/**
 * `npm run fuzz`: the long run of the fuzz suite (issue 15). Generates cases of every input family
 * (families.ts, seeded), runs them in-process on worker threads (runner.ts), and writes
 * bench/FUZZ.md (and FUZZ.json): cases per family, outcomes by exit code, peak memory, the slowest
 * case, every failure with its input; then measures how the limits of docs/limits.md scale with the
 * input's size (scaling.ts). Exit code 1 when any case failed.
 *
 *   node dist/fuzz/main.js [--cases N] [--seed S] [--workers W] [--families a,b] [--out FILE] [--no-scaling]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FAMILIES, familyArbitraries, type Family, type FuzzCase, type Json } from './families.js';
import { describeCase, runCases, summarize, timeLimitMs, type FamilyStats, type Outcome } from './runner.js';
import { measureScaling, renderScaling, type ScalingRow } from './scaling.js';
import { writeFileAtomic } from '../util/atomic.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The shipped example documents, the seeds of the documents family. */
export function loadExamples(): { name: string; doc: Json }[] {
  const dir = path.join(ROOT, 'examples');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => ({ name: f, doc: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Json }));
}

/** `n` cases of each family, from one seed (family i uses seed + i). */
export function generateCases(families: readonly Family[], perFamily: number, seed: number): FuzzCase[] {
  const arbs = familyArbitraries(loadExamples());
  return families.flatMap((f, i) => fc.sample(arbs[f], { seed: seed + FAMILIES.indexOf(f) * 1000 + i, numRuns: perFamily }));
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

function render(stats: FamilyStats[], meta: { cases: number; seed: number; workers: number; seconds: number; rssStart: number; rssMax: number }, scaling: ScalingRow[]): string {
  const codes = ['0', '1', '2', '3', '4', 'timeout', 'crash', 'memory'];
  const rows = stats.map((s) => {
    const slow = s.slowest ? `${(s.slowest.ms / 1000).toFixed(2)} s (${s.slowest.c.argv[0]}, exit ${s.slowest.code})` : '–';
    return `| ${s.family} | ${s.cases.toLocaleString('en-US')} | ${codes.map((c) => (s.byCode[c] ?? 0).toLocaleString('en-US')).join(' | ')} | ${s.failures.length} | ${mib(s.peakRss)} | ${mib(s.peakHeap)} | ${slow} |`;
  });
  const total = stats.reduce((n, s) => n + s.cases, 0);
  const failures = stats.flatMap((s) => s.failures);
  const lines = [
    '# Fuzz results',
    '',
    `Written by \`npm run fuzz\` (src/fuzz/main.ts): ${total.toLocaleString('en-US')} cases (seed ${meta.seed}) on ${meta.workers} worker threads, ` +
      `${(meta.seconds / 60).toFixed(1)} min on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    'Each case is a `ptlab` command line run in-process (src/cli/program.ts) with generated input files; the families and',
    'their arbitraries are in src/fuzz/families.ts. A case fails when it exits other than 0–3, prints an internal error,',
    'exits 2 without a located message, runs past 15 s + 50 µs per unit of modelled work (its thread is terminated),',
    'raises the resident memory of the process, while it runs, by more than 1.5 GiB + 100 bytes per unit of work (or its',
    'thread passes a 1 GiB heap), or, for `trace to-script`, writes a script the op-script parser rejects (src/fuzz/runner.ts).',
    '',
    '| family | cases | exit 0 | exit 1 | exit 2 | exit 3 | exit 4 | timeout | crash | memory | failures | peak RSS rise | peak heap | slowest |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    'Peak RSS rise: the most the resident memory of the whole process (the runner and its worker threads) rose while a case of',
    `the family ran, above its level when the case started. The process started at ${mib(meta.rssStart)} and peaked at ${mib(meta.rssMax)}.`,
    'Peak heap: the most a worker thread held after a case of the family.',
    '',
    `## Failures (${failures.length})`,
    '',
    ...(failures.length ? failures.slice(0, 30).flatMap((o) => [`- **${o.c.family}**: ${o.why}`, '', '```', describeCase(o.c), '```', '']) : ['None.', '']),
    ...renderScaling(scaling),
  ];
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const val = (flag: string, dflt: string) => {
    const i = args.indexOf(flag);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
  };
  const cases = Number(val('--cases', '100000'));
  const seed = Number(val('--seed', '15'));
  const workers = Number(val('--workers', String(Math.max(1, os.availableParallelism()))));
  const families = val('--families', FAMILIES.join(',')).split(',') as Family[];
  const out = val('--out', path.join(ROOT, 'bench/FUZZ.md'));
  if (!Number.isInteger(cases) || cases < families.length || families.some((f) => !FAMILIES.includes(f))) {
    process.stderr.write(`usage: fuzz [--cases N >= ${families.length}] [--seed S] [--workers W] [--families ${FAMILIES.join(',')}] [--out FILE] [--no-scaling]\n`);
    return 2;
  }
  const perFamily = Math.ceil(cases / families.length);
  process.stderr.write(`fuzz: generating ${perFamily} cases of each of ${families.join(', ')} (seed ${seed})\n`);
  const all = generateCases(families, perFamily, seed);
  const t0 = performance.now();
  const rssStart = process.memoryUsage.rss();
  let rssMax = rssStart;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 200);
  let lastReport = 0;
  const outcomes: Outcome[] = await runCases(all, {
    workers,
    onOutcome: (o, done) => {
      if (o.verdict === 'failure') process.stderr.write(`\nfuzz: FAILURE (${o.c.family}): ${o.why}\n${describeCase(o.c, 400)}\n`);
      const now = performance.now();
      if (now - lastReport > 10_000 || done === all.length) {
        lastReport = now;
        process.stderr.write(`fuzz: ${done}/${all.length} cases, ${((now - t0) / 1000).toFixed(0)} s\n`);
      }
    },
  });
  clearInterval(sampler);
  const seconds = (performance.now() - t0) / 1000;
  const stats = summarize(outcomes);
  const scaling = args.includes('--no-scaling') ? [] : await measureScaling((m) => process.stderr.write(`fuzz: scaling: ${m}\n`));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  writeFileAtomic(out, render(stats, { cases: all.length, seed, workers, seconds, rssStart, rssMax }, scaling));
  const json = {
    cases: all.length,
    seed,
    workers,
    seconds,
    families: stats.map((s) => ({ ...s, failures: s.failures.map((o) => ({ why: o.why, case: describeCase(o.c) })), slowest: s.slowest && { ms: s.slowest.ms, limitMs: timeLimitMs(s.slowest.c), case: describeCase(s.slowest.c, 300) } })),
    scaling,
  };
  writeFileAtomic(out.replace(/\.md$/, '.json'), JSON.stringify(json, null, 2) + '\n');
  process.stderr.write(`fuzz: wrote ${out}\n`);
  return stats.some((s) => s.failures.length) ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) process.exitCode = await main();
