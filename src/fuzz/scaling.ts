/**
 * How the costs of issue 15's large inputs grow with their size, measured on the real command
 * (bin/ptlab.js, one process per input): wall time and peak resident memory (VmHWM) at two or three
 * sizes of each. Linear costs grow by the size ratio, flat ones not at all; the quadratic ones of
 * D10, D12, D13 and D15 would grow by its square. A benchmark: printed in bench/FUZZ.md, asserted nowhere.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Prng } from '../util/prng.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/ptlab.js');

export interface ScalingRow {
  input: string;
  size: number;
  unit: string;
  seconds: number;
  peakRssMiB: number;
  exit: number | null;
}

/** Run ptlab once; wall time and the process's VmHWM (read from /proc while it runs). */
function measure(args: string[]): Promise<{ seconds: number; peak: number; exit: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // gone already
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ seconds: (performance.now() - t0) / 1000, peak, exit: code });
    });
  });
}

const hex = (n: number) => `0x${n.toString(16)}`;

function writeLines(file: string, lines: Iterable<string>): void {
  const fd = fs.openSync(file, 'w');
  let buf = '';
  for (const l of lines) {
    buf += l + '\n';
    if (buf.length > 1 << 16) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
}

function shuffled(n: number, seed: number): number[] {
  const rng = new Prng(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function* scriptMaps(n: number, order: 'ascending' | 'random'): Generator<string> {
  yield 'process P';
  for (const i of order === 'random' ? shuffled(n, 1) : Array.from({ length: n }, (_, k) => k)) yield `map M${i} anon private 4K at=${hex(2 ** 44 + i * 8192)}`;
  yield 'snapshot end';
}

function* traceMaps(n: number, order: 'top-down' | 'random'): Generator<string> {
  yield 'ptlab-trace 1';
  yield 'process P';
  const slots = order === 'random' ? shuffled(n, 2) : Array.from({ length: n }, (_, k) => n - 1 - k);
  for (const i of slots) {
    yield `mmap ${hex(2 ** 44 + i * 8192)} 0x1000 rw- private,anon`;
    yield `fault ${hex(2 ** 44 + i * 8192)} write`;
  }
  yield 'exit';
}

function* traceFaults(n: number): Generator<string> {
  yield 'ptlab-trace 1';
  yield 'process P';
  yield `mmap ${hex(2 ** 44)} 0x40000000 rw- private,anon`;
  for (let i = 0; i < n; i++) yield `fault ${hex(2 ** 44 + ((i * 7 * 4096) % 2 ** 30))} write t=${i}`;
  yield 'exit';
}

export async function measureScaling(log: (m: string) => void = () => {}): Promise<ScalingRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-scaling-'));
  const rows: ScalingRow[] = [];
  const run = async (input: string, size: number, unit: string, file: string, lines: Iterable<string>, args: (f: string) => string[]) => {
    writeLines(file, lines);
    log(`${input}, ${size.toLocaleString('en-US')} ${unit}`);
    const r = await measure(args(file));
    rows.push({ input, size, unit, seconds: r.seconds, peakRssMiB: r.peak / 2 ** 20, exit: r.exit });
    fs.rmSync(file, { force: true });
  };
  try {
    const f = (n: string) => path.join(dir, n);
    for (const n of [5_000, 20_000, 80_000]) await run('op script, maps at ascending at= (D10)', n, 'maps', f('a.pt'), scriptMaps(n, 'ascending'), (p) => ['run', p]);
    for (const n of [5_000, 20_000, 80_000]) await run('op script, maps at shuffled at= (D10)', n, 'maps', f('r.pt'), scriptMaps(n, 'random'), (p) => ['run', p]);
    for (const n of [12_500, 50_000]) await run('trace, mmaps top-down + a fault each (D13)', n, 'mmaps', f('t.trace'), traceMaps(n, 'top-down'), (p) => ['replay', p, '--workers', '1', '--variants', 'on']);
    for (const n of [12_500, 50_000]) await run('trace, mmaps shuffled + a fault each (D13)', n, 'mmaps', f('s.trace'), traceMaps(n, 'random'), (p) => ['replay', p, '--workers', '1', '--variants', 'on']);
    for (const tib of [1, 100]) {
      const lines = ['ptlab-trace 1', 'process P', `present ${hex(2 ** 44)} ${hex(2 ** 44 + tib * 2 ** 40)}`, `touch ${hex(2 ** 44)} ${hex(tib * 2 ** 40)} write`, 'exit'];
      await run('trace, present + touch over TiBs with nothing mapped (D12)', tib, 'TiB', f('h.trace'), lines, (p) => ['replay', p, '--workers', '1', '--variants', 'on']);
    }
    for (const n of [250_000, 1_000_000, 4_000_000]) await run('trace of faults, replayed (D15)', n, 'faults', f('f.trace'), traceFaults(n), (p) => ['replay', p, '--workers', '1', '--variants', 'on']);
    // at=: a mapping placed without it may be at most 1 TiB (8 TiB ones were refused, exit 2).
    for (const tib of [1, 8]) {
      const lines = [`file F ${tib}T`, `memfd G ${tib}T`, 'process P', `map A file F 0 ${tib}T private prot=r-- at=0x100000000000`, `map B shmem G 0 ${tib}T shared at=0x300000000000`, `touch A 0 ${tib}T read every=1T`, `touch B 0 ${tib}T write every=1T`, 'snapshot s'];
      await run('op script, a file and a memfd of TiBs, a page of each touched (D1, D2)', tib, 'TiB', f('m.pt'), lines, (p) => ['run', p]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function renderScaling(rows: readonly ScalingRow[]): string[] {
  if (!rows.length) return [];
  const out = [
    '## Scaling of large inputs',
    '',
    'Each input run once by `bin/ptlab.js` in its own process (src/fuzz/scaling.ts): wall time and peak resident',
    'memory (VmHWM), at growing sizes. "×" is the growth of the time over the previous size of the same input, against',
    'the growth of the size: linear costs grow alike, flat ones not at all (the startup of the command, about 1 s, is in',
    'every figure).',
    '',
    '| input | size | seconds | × | peak RSS | exit |',
    '|---|---:|---:|---|---:|---:|',
  ];
  rows.forEach((r, i) => {
    const prev = rows[i - 1];
    const growth = prev && prev.input === r.input ? `${(r.seconds / prev.seconds).toFixed(1)} for ${(r.size / prev.size).toFixed(0)}× size` : '';
    out.push(`| ${r.input} | ${r.size.toLocaleString('en-US')} ${r.unit} | ${r.seconds.toFixed(2)} | ${growth} | ${r.peakRssMiB.toFixed(0)} MiB | ${r.exit} |`);
  });
  out.push('');
  return out;
}
