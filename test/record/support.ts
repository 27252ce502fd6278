/** Shared by the live `ptlab record` tests: whether perf can record here, and the node workload. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPerf, perfPreflight } from '../../src/record/perf.js';

export const PTLAB_BIN = path.resolve(__dirname, '../../bin/ptlab.js');

/** Why the live tests cannot run on this machine, or null when perf may record tracepoints. */
export async function whyNotLive(): Promise<string | null> {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  const perf = findPerf();
  if (!perf) return 'perf is not installed (apt-get install linux-perf)';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-preflight-'));
  try {
    const problem = await perfPreflight(perf, path.join(dir, 'p.data'));
    return problem ? `perf cannot record here: ${problem.message.split('\n')[0]}` : null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * For `node --expose-gc -e`: four 32 MiB Buffers alive together (fresh mmaps each: glibc serves
 * > 128 KiB from mmap until a free raises its threshold), filled, dropped and collected; then
 * three 16 MiB ArrayBuffers, filled. 176 MiB touched in all.
 */
export const NODE_BUFFERS_JS =
  'let keep=[];for(let i=0;i<4;i++){const b=Buffer.allocUnsafeSlow(32<<20);b.fill(i+1);keep.push(b)}' +
  'keep=null;gc();for(let i=0;i<3;i++){const a=new ArrayBuffer(16<<20);new Uint8Array(a).fill(7)}gc()';
