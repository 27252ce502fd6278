/**
 * Recorded traces of real programs (node, python3, sort) replayed on the model agree with the
 * kernel's own counters at exit.
 *
 * Replay creates every file fully cached, as a hot library is; the kernel's fault-around maps only
 * pages already in its page cache. So each program is recorded twice: the files the first trace
 * names are read whole in between, and the second trace is the one replayed.
 *
 * Tolerance, measured on Linux 6.18 (thp=madvise), 2026-11-26: recorded that way, all three
 * programs replayed with VmPTE and RssAnon equal to the kB and RssFile 4 kB below the kernel (the
 * vdso page, which replay does not count), in 12 of 12 runs, also with python3's libraries evicted
 * from the page cache first (`dd iflag=nocache count=0`). Recorded once from a cold cache instead,
 * the model's RssFile came out 24-44 kB above the kernel (three runs), still 0-52 kB after one plain
 * warm-up run (pages fault-around would map but nothing read stay uncached), and 100 kB in one CI
 * run. The test allows 8 kB of VmPTE (two page tables) and 16 kB of RSS (the vdso's two pages and
 * two more).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '../../src/trace/parse.js';
import type { TraceRecord } from '../../src/trace/records.js';
import { NODE_BUFFERS_JS, PTLAB_BIN as BIN, whyNotLive } from './support.js';
import { replay } from '../../src/workloads/replay.js';
import { kernelOracleAvailable, kernelFaultZeroPage } from '../../src/oracle/kernel.js';

const skipReason = await whyNotLive();
if (skipReason) console.warn(`test/record/replay.test.ts skipped: ${skipReason}`);

/** Real programs nobody here wrote, each with a workload that maps, touches and frees memory. */
const PROGRAMS: { name: string; argv: () => string[] | null }[] = [
  { name: 'node, 176 MiB of Buffers', argv: () => [process.execPath, '--expose-gc', '-e', NODE_BUFFERS_JS] },
  {
    name: 'python3, 64 bytearrays of 1 MiB and a 2M-element list',
    argv: () => (fs.existsSync('/usr/bin/python3') ? ['/usr/bin/python3', '-c', 'x=[bytearray(1<<20) for i in range(64)]; del x; y=list(range(2000000)); s=sum(y)'] : null),
  },
  {
    name: 'GNU sort -n on 400,000 shuffled lines',
    argv: () => {
      if (!fs.existsSync('/usr/bin/sort')) return null;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-sort-'));
      const input = path.join(dir, 'in.txt');
      const lines = Array.from({ length: 400_000 }, (_, i) => (i * 7_919) % 400_000);
      fs.writeFileSync(input, lines.join('\n') + '\n');
      return ['/usr/bin/sort', '-n', input, '-o', path.join(dir, 'out.txt')];
    },
  },
];

/** `ptlab record` of CMD, parsed. */
function recordTrace(cmd: string[]): { records: TraceRecord[]; events: number } {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-replay-')), 'prog.trace');
  const r = spawnSync(process.execPath, [BIN, 'record', '-o', out, '--', ...cmd], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const parsed = parseTrace(fs.readFileSync(out, 'utf8'));
  if (!parsed.ok) throw new Error(`the trace recorded from ${cmd[0]} does not parse`);
  return parsed;
}

// The programs read memory they never wrote: a kernel without the zero page counts those pages in
// RSS, so the model replays with the kernel's fault_zero_page (the runner's probe).
const zeroPage = skipReason || !kernelOracleAvailable().ok ? undefined : await kernelFaultZeroPage();

describe.skipIf(skipReason !== null)('a recorded trace replayed on the model', () => {
  it.each(PROGRAMS)('ends with the counters the kernel reported at exit ($name)', ({ argv }) => {
    const cmd = argv();
    if (!cmd) return; // program not installed here: nothing to compare
    const warm = recordTrace(cmd);
    for (const r of warm.records) if (r.kind === 'file' && r.path && fs.existsSync(r.path)) fs.readFileSync(r.path);
    const parsed = recordTrace(cmd);
    const { observed, run } = replay(parsed.records, { events: parsed.events, config: zeroPage ? { fault_zero_page: zeroPage } : {} });
    const real = observed.find((o) => o.label === 'exit')!;
    const model = run.checkpoints!.find((o) => o.label === 'exit')!;
    const rows = (['VmPTE', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem'] as const).map((k) => `${k.padEnd(8)} kernel ${String(real[k]).padStart(7)}  model ${String(model[k]).padStart(7)}  Δ ${model[k] - real[k]}`);
    console.log(`replay of ${cmd[0]} at exit (kB, model fault_zero_page=${zeroPage ?? 'on'}):\n${rows.join('\n')}`);
    expect(Math.abs(model.VmPTE - real.VmPTE)).toBeLessThanOrEqual(8);
    for (const k of ['VmRSS', 'RssAnon', 'RssFile'] as const) expect(Math.abs(model[k] - real[k])).toBeLessThanOrEqual(16);
  });
});

const noKernel = skipReason ?? (kernelOracleAvailable().ok ? null : `kernel runner unavailable: ${(kernelOracleAvailable() as { reason: string }).reason}`);

describe.skipIf(noKernel !== null)('a recorded trace converted with --rebase', () => {
  it('runs on the kernel runner and on the model with the same figures (ptlab diff agrees)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-rebase-'));
    const trace = path.join(dir, 'py.trace');
    const script = path.join(dir, 'py.pt');
    // python3 is not a PIE here: its image sits at 0x400000 and its stack near 128 TiB, both in
    // spans the runner's own mappings share tables with.
    const rec = spawnSync(process.execPath, [BIN, 'record', '-o', trace, '--', '/usr/bin/python3', '-c', 'x = [bytearray(1 << 20) for i in range(8)]'], { encoding: 'utf8', timeout: 120_000 });
    expect(rec.status, rec.stderr).toBe(0);
    const conv = spawnSync(process.execPath, [BIN, 'trace', 'to-script', '--rebase', trace, '-o', script], { encoding: 'utf8' });
    expect(conv.status, conv.stderr).toBe(0);
    expect(fs.readFileSync(script, 'utf8')).toMatch(/^# rebased: /m);
    const diff = spawnSync(process.execPath, [BIN, 'diff', script], { encoding: 'utf8', timeout: 300_000 });
    expect(diff.stdout).toMatch(/1 of 1 scripts agree/);
    expect(diff.status, diff.stdout).toBe(0);
  });
});

// A program that swaps, recorded with a swap area of its own (`ptlab record --swap`: the kernel
// runner's loop device, root only) and replayed with the same area in the model.
const SWAPPING_PY = [
  'import mmap, os',
  'm = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)',
  'm.write(b"x" * (8 << 20))',
  'm.madvise(21)  # MADV_PAGEOUT (not in every python3 mmap module)',
  'm[0:4096] = b"y" * 4096',
  'm.madvise(mmap.MADV_DONTNEED, 4 << 20, 4 << 20)',
  'os._exit(0)  # exit with the mapping in place: VmSwap at exit counts its swap entries',
].join('\n');

describe.skipIf(skipReason !== null || !fs.existsSync('/usr/bin/python3'))('a recorded trace of a swapping program', () => {
  it('replays with the swap area it was recorded with: VmSwap and VmPTE at exit agree with the kernel', (ctx) => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-swap-')), 'py.trace');
    const r = spawnSync(process.execPath, [BIN, 'record', '--swap', '64M', '-o', out, '--', '/usr/bin/python3', '-c', SWAPPING_PY], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 3 && /could not create the swap area/.test(r.stderr)) {
      console.log(`test/record/replay.test.ts: swap program skipped: ${r.stderr.trim()}`);
      return ctx.skip();
    }
    expect(r.status, r.stderr).toBe(0);
    const parsed = parseTrace(fs.readFileSync(out, 'utf8'));
    if (!parsed.ok) throw new Error('the trace does not parse');
    expect(parsed.records).toContainEqual(expect.objectContaining({ kind: 'meta', values: expect.objectContaining({ swap: '64M' }) }));
    const { observed, run } = replay(parsed.records, { events: parsed.events, config: zeroPage ? { fault_zero_page: zeroPage } : {} });
    const real = observed.find((o) => o.label === 'exit')!;
    const model = run.checkpoints!.find((o) => o.label === 'exit')!;
    console.log(`replay of a swapping python3 at exit (kB): VmSwap kernel ${real.VmSwap} model ${model.VmSwap}; VmPTE kernel ${real.VmPTE} model ${model.VmPTE}`);
    // 2,048 pages paged out, one written back in, 1,024 of them zapped: 1,023 swap entries.
    expect(real.VmSwap).toBe(4092);
    expect(model.VmSwap).toBe(real.VmSwap);
    expect(Math.abs(model.VmPTE - real.VmPTE)).toBeLessThanOrEqual(8);
  });
});
