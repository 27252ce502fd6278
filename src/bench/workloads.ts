/**
 * Workload benchmarks: the production case of the series replayed at full size (target: under
 * 5 minutes and 16 GiB of peak RSS, PT_RECLAIM off and on), and the speed-up of shards on worker
 * threads. Peak RSS is the whole process's (worker threads share it).
 */
import os from 'node:os';
import { GENERATORS, resolveParams } from '../workloads/generators/index.js';
import { runJobs, type Job } from '../workloads/jobs.js';
import type { ReplayRun } from '../workloads/report_schema.js';
import { mergeShards, parseVariants, type Variant } from '../workloads/variants.js';
import { median } from './bench.js';

export interface ProductionResult {
  scale: number;
  shards: number;
  workers: number;
  wallSeconds: number;
  peakRssMiB: number;
  runs: { label: string; seconds: number; VmPTE: number; VmRSS: number; pteTables: number; pteTablesEmpty: number; ptesReclaimed: number; faults: number; events: number }[];
}

export interface SpeedupResult {
  scale: number;
  oneWorkerSeconds: number[];
  twoWorkerSeconds: number[];
  speedup: number;
}

function jobs(scale: number, shards: number, variants: Variant[]): Job[] {
  const params = resolveParams(GENERATORS.production, { scale: String(scale) });
  if (typeof params === 'string') throw new Error(params);
  return variants.flatMap((variant) =>
    Array.from({ length: shards }, (_, shard) => ({ source: { kind: 'generator' as const, name: 'production', params }, variant, shard, shards, samples: 100 })),
  );
}

async function replayProduction(scale: number, shards: number, workers: number, variants: Variant[], onProgress?: (done: number) => void): Promise<{ runs: ReplayRun[]; seconds: number }> {
  const t = performance.now();
  const done: number[] = [];
  const results = await runJobs(jobs(scale, shards, variants), workers, {
    onProgress: (i, d) => {
      done[i] = d;
      onProgress?.(done.reduce((a, b) => a + (b ?? 0), 0));
    },
  });
  const runs = variants.map((_, v) => mergeShards(results.slice(v * shards, (v + 1) * shards).map((r) => r.run)));
  return { runs, seconds: (performance.now() - t) / 1000 };
}

export async function productionBench(scale: number, shards: number, workers: number, log: (s: string) => void): Promise<ProductionResult> {
  const variants = parseVariants('off,on') as Variant[];
  let lastLog = 0;
  const { runs, seconds } = await replayProduction(scale, shards, workers, variants, (d) => {
    if (performance.now() - lastLog < 30_000) return;
    lastLog = performance.now();
    log(`production scale=${scale}: ${(d / 1e6).toFixed(1)} M events`);
  });
  return {
    scale,
    shards,
    workers,
    wallSeconds: seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    runs: runs.map((r) => ({ label: r.label, seconds: r.elapsedMs / 1000, VmPTE: r.final.VmPTE, VmRSS: r.final.VmRSS, pteTables: r.final.pteTables, pteTablesEmpty: r.final.pteTablesEmpty, ptesReclaimed: r.final.ptesReclaimed, faults: r.final.faults, events: r.final.op })),
  };
}

/** One variant (on) at a small scale: 2 shards on 2 workers against 1 shard in this thread. */
export async function shardSpeedup(scale: number, reps: number): Promise<SpeedupResult> {
  const variants = parseVariants('on') as Variant[];
  const one: number[] = [];
  const two: number[] = [];
  for (let i = 0; i < reps; i++) {
    one.push((await replayProduction(scale, 1, 0, variants)).seconds);
    two.push((await replayProduction(scale, 2, 2, variants)).seconds);
  }
  return { scale, oneWorkerSeconds: one, twoWorkerSeconds: two, speedup: median(one) / median(two) };
}

const GiB = 2 ** 20; // kB per GiB

export function renderWorkloadResults(p: ProductionResult, s: SpeedupResult): string {
  const row = (r: ProductionResult['runs'][number]) =>
    `| ${r.label} | ${(r.VmPTE / GiB).toFixed(2)} GiB | ${(r.VmRSS / GiB).toFixed(1)} GiB | ${r.pteTables.toLocaleString('en-US')} | ${r.pteTablesEmpty.toLocaleString('en-US')} | ${r.ptesReclaimed.toLocaleString('en-US')} | ${(r.faults / 1e6).toFixed(1)} M | ${r.seconds.toFixed(0)} s |`;
  return `# Workload benchmarks

Written by \`npm run bench:production\` (\`ptlab bench --production\`) on ${os.cpus().length} CPUs,
Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. One run; machines here are noisy.

## The production case (generator \`production\`, docs/workloads.md)

VIRT 55 TiB in 64 GiB arenas, every 2 MiB block used once, RES 590 GiB left in whole blocks, the
rest given back by extent-sized MADV_DONTNEEDs. Scale ${p.scale}, ${p.shards} shards on ${p.workers} worker
threads, PT_RECLAIM off then on (each variant's shards run side by side).

| variant | VmPTE | VmRSS | PTE tables | empty | reclaimed | faults | time (slowest shard) |
|---|---|---|---|---|---|---|---|
${p.runs.map(row).join('\n')}

Wall time for both variants: **${p.wallSeconds.toFixed(0)} s**; peak RSS of the process (workers
included): **${(p.peakRssMiB / 1024).toFixed(1)} GiB**. Targets: under 5 minutes, under 16 GiB.

## Shards on worker threads

The production case at scale ${s.scale}, PT_RECLAIM on: one shard in the main thread against two shards
(512 GiB groups of arenas, no shared page table at any level) on two worker threads.

| | runs (s) | median (s) |
|---|---|---|
| 1 shard, 1 thread | ${s.oneWorkerSeconds.map((x) => x.toFixed(1)).join(', ')} | ${median(s.oneWorkerSeconds).toFixed(1)} |
| 2 shards, 2 workers | ${s.twoWorkerSeconds.map((x) => x.toFixed(1)).join(', ')} | ${median(s.twoWorkerSeconds).toFixed(1)} |

Speed-up on this ${os.cpus().length}-CPU machine: **${s.speedup.toFixed(2)}×**.
`;
}
