/**
 * Benchmarks (`npm run bench`): the model's speed and memory, and the same work on the live kernel
 * in the same run when the kernel runner is available. Medians of repeated runs; ratios are
 * computed from medians measured in this one run.
 */
import { spawnSync } from 'node:child_process';
import * as api from '../mm-fast/api.js';
import { placementAddress } from '../script/ast.js';
import { buildRunner, kernelOracleAvailable } from '../oracle/kernel.js';
import { coverLetterRun } from '../workloads/cover_letter.js';
import { PAGE_SIZE } from '../mm/const.js';

/**
 * ns per 4 KiB page of each phase. `touch` faults a fresh mapping in; `retouch` faults the same
 * range in again after MADV_DONTNEED. On the kernel here only `retouch` is the kernel's own cost:
 * a fresh mapping's first touch also waits for the host to back guest memory, and swings 3-5×
 * (docs/kernel-facts.md, "Timings": quote warm figures).
 */
export interface PhaseTimes {
  touch: number;
  dontneed: number;
  retouch: number;
  munmap: number;
}
const PHASES = ['touch', 'dontneed', 'retouch', 'munmap'] as const;

export interface BenchResults {
  date: string;
  node: string;
  coverLetter: { reclaim: 'off' | 'on'; cpuMs: number; wallMs: number; vmPteKb: number }[];
  /** The same with one byte touched per 2 MiB (25,600 faults), and the live kernel's time for it. */
  coverLetterSparse: { reclaim: 'off' | 'on'; cpuMs: number; vmPteKb: number }[];
  coverLetterSparseKernelMs?: number;
  dense: { gib: number; model: PhaseTimes; kernel?: PhaseTimes }[];
  memory: { residentPages: number; modelBytes: number; bytesPerPage: number };
  kernelNote: string;
  reps: number;
}

const GiB = 2 ** 30;
const PAGES_PER_GIB = GiB / PAGE_SIZE;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function now(): number {
  return performance.now();
}

/** Touch every page, DONTNEED all, touch again, munmap: ns per page of each phase, on the model. */
export function modelDense(gib: number): PhaseTimes {
  const k = api.createKernel(api.resolveConfig({}));
  const mm = api.createProcess(k, 'bench');
  const base = placementAddress(0);
  const len = gib * GiB;
  if (api.sysMmap(k, mm, { addr: base, len, shared: false, file: null, pgoff: 0, name: 'A' }) < 0) throw new Error('mmap failed');
  const pages = gib * PAGES_PER_GIB;
  let t = now();
  api.sysTouchRange(k, mm, base, base + len, PAGE_SIZE, true);
  const touch = ((now() - t) * 1e6) / pages;
  t = now();
  api.sysMadvise(k, mm, base, len, 'dontneed');
  api.quiesce(k);
  const dontneed = ((now() - t) * 1e6) / pages;
  t = now();
  api.sysTouchRange(k, mm, base, base + len, PAGE_SIZE, true);
  const retouch = ((now() - t) * 1e6) / pages;
  t = now();
  api.sysMunmap(k, mm, base, len);
  api.quiesce(k);
  const munmap = ((now() - t) * 1e6) / pages;
  return { touch, dontneed, retouch, munmap };
}

/** The same phases on the live kernel, timed inside the runner's child process. */
export function kernelDense(runner: string, gib: number): PhaseTimes {
  const script = [
    'process P',
    `map A anon private ${gib}G`,
    `touch A 0 ${gib}G write`,
    `madvise A 0 ${gib}G dontneed`,
    `touch A 0 ${gib}G write`,
    `unmap A 0 ${gib}G`,
  ].join('\n');
  const r = spawnSync(runner, ['-'], { input: script, encoding: 'utf8', env: { ...process.env, PTLAB_RUNNER_TIMING: '1' }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`kernel runner exited ${r.status}: ${r.stdout}${r.stderr}`);
  const ns = new Map<number, number>();
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{"type":"timing"')) continue;
    const o = JSON.parse(line) as { line: number; ns: number };
    ns.set(o.line, o.ns);
  }
  const pages = gib * PAGES_PER_GIB;
  return { touch: ns.get(3)! / pages, dontneed: ns.get(4)! / pages, retouch: ns.get(5)! / pages, munmap: ns.get(6)! / pages };
}

/**
 * Bytes of model state per resident page at `gib` GiB resident: the typed arrays of physical
 * memory (per frame) plus the page-table store, over the resident pages.
 */
export function modelMemory(gib: number): BenchResults['memory'] {
  const k = api.createKernel(api.resolveConfig({}));
  const mm = api.createProcess(k, 'mem');
  const base = placementAddress(0);
  api.sysMmap(k, mm, { addr: base, len: gib * GiB, shared: false, file: null, pgoff: 0, name: 'A' });
  api.sysTouchRange(k, mm, base, base + gib * GiB, PAGE_SIZE, true);
  const mem = k.mem;
  const perFrame = 1 + 2 + 1 + 4 + 4 + 4 + 4 + 4 + 2; // type flags order refcount mapcount entire mapping index gen
  const modelBytes = mem.top * perFrame + k.pt.bytesInUse();
  const residentPages = mm.rss[1];
  return { residentPages, modelBytes, bytesPerPage: modelBytes / residentPages };
}

export interface BenchOptions {
  reps: number;
  kernel: boolean;
  gibs: number[];
  log: (s: string) => void;
}

/** The cover-letter demo on the model: median CPU and wall time of `reps` runs of one variant. */
function coverLetterModel(reclaim: 'off' | 'on', touch: 'all' | 'one', reps: number): { cpuMs: number; wallMs: number; vmPteKb: number } {
  const cpu: number[] = [];
  const wall: number[] = [];
  let vmPteKb = 0;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = now();
    vmPteKb = coverLetterRun(25_600, reclaim, touch, () => performance.now()).vmPteKb;
    wall.push(now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { cpuMs: median(cpu), wallMs: median(wall), vmPteKb };
}

/** The sparse cover-letter test on the live kernel: the runner's own timing of every op, summed. */
export function kernelCoverLetterSparse(runner: string): number {
  const lines = ['process P', 'map A anon private 50G'];
  for (let i = 0; i < 25_600; i++) lines.push(`touch A ${2 * i}M 2M write every=2M`, `madvise A ${2 * i}M 2M dontneed`);
  const r = spawnSync(runner, ['-'], { input: lines.join('\n'), encoding: 'utf8', env: { ...process.env, PTLAB_RUNNER_TIMING: '1' }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`kernel runner exited ${r.status}: ${r.stderr}`);
  let ns = 0;
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{"type":"timing"')) continue;
    const o = JSON.parse(line) as { line: number; ns: number };
    if (o.line > 2) ns += o.ns;
  }
  return ns / 1e6;
}

export function runBench(opts: BenchOptions): BenchResults {
  const coverLetter: BenchResults['coverLetter'] = [];
  const coverLetterSparse: BenchResults['coverLetterSparse'] = [];
  for (const reclaim of ['off', 'on'] as const) {
    const dense = coverLetterModel(reclaim, 'all', opts.reps);
    coverLetter.push({ reclaim, ...dense });
    opts.log(`cover letter, PT_RECLAIM ${reclaim}: ${dense.cpuMs.toFixed(0)} ms CPU (median of ${opts.reps})`);
    const sparse = coverLetterModel(reclaim, 'one', opts.reps);
    coverLetterSparse.push({ reclaim, cpuMs: sparse.cpuMs, vmPteKb: sparse.vmPteKb });
    opts.log(`cover letter, one byte per 2 MiB, PT_RECLAIM ${reclaim}: ${sparse.cpuMs.toFixed(0)} ms CPU`);
  }
  let kernelNote = 'kernel runner not used (--no-kernel)';
  const runner = opts.kernel ? built : undefined;
  if (opts.kernel) {
    const avail = kernelOracleAvailable();
    if (!avail.ok) kernelNote = `kernel runner unavailable: ${avail.reason}`;
    else if (runner) kernelNote = `${kernelRelease()}; phases timed with CLOCK_MONOTONIC inside the runner's child process`;
  }
  const dense: BenchResults['dense'] = [];
  for (const gib of opts.gibs) {
    const runs: PhaseTimes[] = [];
    for (let i = 0; i < opts.reps; i++) runs.push(modelDense(gib));
    const model = medianPhases(runs);
    let kernel: PhaseTimes | undefined;
    if (runner) {
      const kr: PhaseTimes[] = [];
      for (let i = 0; i < opts.reps; i++) kr.push(kernelDense(runner, gib));
      kernel = medianPhases(kr);
    }
    dense.push({ gib, model, kernel });
    const show = (t: PhaseTimes) => PHASES.map((p) => t[p].toFixed(0)).join(' / ');
    opts.log(`dense ${gib} GiB, ns/page (${PHASES.join(' / ')}): model ${show(model)}` + (kernel ? `; kernel ${show(kernel)}` : ''));
  }
  let coverLetterSparseKernelMs: number | undefined;
  if (runner) {
    coverLetterSparseKernelMs = median(Array.from({ length: opts.reps }, () => kernelCoverLetterSparse(runner)));
    opts.log(`cover letter, one byte per 2 MiB, live kernel: ${coverLetterSparseKernelMs.toFixed(0)} ms`);
  }
  const memory = modelMemory(4);
  opts.log(`memory at 4 GiB resident: ${memory.bytesPerPage.toFixed(1)} bytes of model state per page`);
  return { date: new Date().toISOString(), node: process.version, coverLetter, coverLetterSparse, coverLetterSparseKernelMs, dense, memory, kernelNote, reps: opts.reps };
}

export function medianPhases(xs: PhaseTimes[]): PhaseTimes {
  return Object.fromEntries(PHASES.map((p) => [p, median(xs.map((x) => x[p]))])) as unknown as PhaseTimes;
}

const PHASE_NAMES: Record<keyof PhaseTimes, string> = {
  touch: 'touch a fresh mapping (write fault)',
  dontneed: 'MADV_DONTNEED',
  retouch: 'touch again after DONTNEED (warm)',
  munmap: 'munmap (populated)',
};

let built: string | undefined;
function kernelRelease(): string {
  const r = spawnSync('uname', ['-sr'], { encoding: 'utf8' });
  return r.stdout.trim() || 'Linux';
}
/** Build the C runner before the synchronous benchmark loop. */
export async function prepareRunner(): Promise<void> {
  if (kernelOracleAvailable().ok) built = await buildRunner();
}

/** ": about N s" from the largest dense run's warm kernel fault cost, or nothing without the kernel. */
function kernelCoverLetterAllS(r: BenchResults): string {
  const k = r.dense.filter((d) => d.kernel).sort((a, b) => b.gib - a.gib)[0]?.kernel;
  return k ? `: about ${((13_107_200 * k.retouch) / 1e9).toFixed(0)} s` : '';
}

/** bench/RESULTS.md. */
export function renderResults(r: BenchResults): string {
  const f = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const ratio = (k: number | undefined, m: number) => (k === undefined ? 'n/a' : `${(k / m).toFixed(2)}×`);
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${r.date} (Node ${r.node}); medians of ${r.reps} runs in one run of the benchmark.`,
    'Machines here are noisy (2 shared vCPUs): compare ratios measured together, not figures across runs.',
    '',
    '## Cover-letter demo (50 GiB, 25,600 × touch 2 MiB + MADV_DONTNEED 2 MiB; 13.1 M page faults)',
    '',
    '| PT_RECLAIM | CPU (ms) | wall (ms) | VmPTE delta (kB) | target |',
    '|---|---|---|---|---|',
    ...r.coverLetter.map((c) => `| ${c.reclaim} | ${f(c.cpuMs)} | ${f(c.wallMs)} | ${f(c.vmPteKb)} | < 1,000 ms CPU |`),
    '',
    'The cover letter says "touch 2M memory". Read as every page, the test is 13.1 M page faults, and',
    `the live kernel itself needs about 13.1 M × its warm ns per fault (dense table below)${kernelCoverLetterAllS(r)}.`,
    'Read as one byte per 2 MiB (how docs/kernel-facts.md measures the 50 GiB case), it is 25,600 faults:',
    '',
    '| PT_RECLAIM | model CPU (ms), one byte per 2 MiB | VmPTE delta (kB) | live kernel (ms, sum of the runner\'s per-op times, PT_RECLAIM on) |',
    '|---|---|---|---|',
    ...r.coverLetterSparse.map((c) => `| ${c.reclaim} | ${f(c.cpuMs)} | ${f(c.vmPteKb)} | ${c.reclaim === 'on' && r.coverLetterSparseKernelMs !== undefined ? f(r.coverLetterSparseKernelMs) : '—'} |`),
    '',
    '## Dense anonymous memory: ns per 4 KiB page, model vs live kernel',
    '',
    `Kernel: ${r.kernelNote}. A ratio above 1 means the model is faster (target: ≥ 10×).`,
    'The kernel\'s fault cost is the warm touch: a fresh mapping\'s first touch also waits for the host',
    'to back guest memory and swings 3-5× between runs (docs/kernel-facts.md: quote warm figures).',
    '',
    '| size | phase | model (ns/page) | kernel (ns/page) | kernel / model |',
    '|---|---|---|---|---|',
    ...r.dense.flatMap((d) =>
      PHASES.map((p) => `| ${d.gib} GiB | ${PHASE_NAMES[p]} | ${f(d.model[p])} | ${d.kernel ? f(d.kernel[p]) : 'n/a'} | ${ratio(d.kernel?.[p], d.model[p])} |`),
    ),
    '',
    '## Memory',
    '',
    `At ${f(r.memory.residentPages)} resident pages (4 GiB): ${r.memory.bytesPerPage.toFixed(1)} bytes of model state per resident page`,
    `(typed arrays per frame plus the page-table store; target ≤ 64, the kernel spends 72).`,
    '',
    'The explorer\'s figures are in bench/EXPLORER.md (`ptlab bench --explorer`).',
    '',
  ];
  return lines.join('\n');
}
