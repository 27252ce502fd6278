/**
 * A recorded node trace replayed on the model agrees with the kernel's own counters at exit.
 *
 * Tolerance, measured: three recordings of this program on Linux 6.18 (thp=madvise) replayed with
 * VmPTE and RssAnon equal to the kB, and RssFile (so VmRSS) 20 kB (5 pages) above the kernel each
 * time. The test allows 8 kB of VmPTE (two page tables) and 64 kB of RSS (16 pages: one
 * fault-around window, the granularity at which file-page mapping can differ).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrace } from '../../src/trace/parse.js';
import { NODE_BUFFERS_JS, PTLAB_BIN as BIN, whyNotLive } from './support.js';
import { replay } from '../../src/workloads/replay.js';



const skipReason = await whyNotLive();
if (skipReason) console.warn(`test/record/replay.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)('a recorded trace replayed on the model', () => {
  it('ends with the counters the kernel reported at exit (node, 176 MiB of Buffers)', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-replay-')), 'node.trace');
    const js = NODE_BUFFERS_JS;
    const r = spawnSync(process.execPath, [BIN, 'record', '-o', out, '--', process.execPath, '--expose-gc', '-e', js], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const parsed = parseTrace(fs.readFileSync(out, 'utf8'));
    if (!parsed.ok) throw new Error('the recorded trace does not parse');
    const { observed, run } = replay(parsed.records, { events: parsed.events });
    const real = observed.find((o) => o.label === 'exit')!;
    const model = run.checkpoints!.find((o) => o.label === 'exit')!;
    const rows = (['VmPTE', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem'] as const).map((k) => `${k.padEnd(8)} kernel ${String(real[k]).padStart(7)}  model ${String(model[k]).padStart(7)}  Δ ${model[k] - real[k]}`);
    console.log(`replay of ${out} at exit (kB):\n${rows.join('\n')}`);
    expect(Math.abs(model.VmPTE - real.VmPTE)).toBeLessThanOrEqual(8);
    for (const k of ['VmRSS', 'RssAnon', 'RssFile'] as const) expect(Math.abs(model[k] - real[k])).toBeLessThanOrEqual(64);
  });
});
