/** `ptlab replay` and `ptlab generate` end to end (the compiled build, worker threads included). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplayReport } from '../../src/workloads/report_schema.js';

const BIN = path.resolve(__dirname, '../../bin/ptlab.js');
const ptlab = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-replay-'));

describe('ptlab replay', () => {
  it('replays a generated workload as variants on two worker threads and writes a valid report', () => {
    const dir = tmp();
    const out = path.join(dir, 'r.json');
    const r = ptlab('replay', '--generate', 'cover-letter', '--param', 'rounds=64', '--policy', 'round-out', '-o', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^off\s+264\s/m); // 64 PTE tables + 1 PMD + 1 PUD table, 4 kB each
    expect(r.out).toMatch(/^on\s+8\s/m);
    expect(r.out).toContain('on saves 256 kB of page tables (97.0 %) and needs no extra faults and no extra TLB flushes (against off)');
    const report = ReplayReport.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
    expect(report.runs.map((x) => x.label)).toEqual(['off', 'on', 'on+round-out']);
    expect(report.runs[1].final.ptesReclaimed).toBe(64);
  });

  it('replays a trace file written by ptlab generate, with the same figures as the generator itself', () => {
    const dir = tmp();
    const trace = path.join(dir, 'heap.trace');
    const g = ptlab('generate', 'heap', 'arena=32M', 'ops=2000', 'seed=3', '-o', trace);
    expect(g.code).toBe(0);
    const a = ptlab('replay', trace, '--json');
    const b = ptlab('replay', '--generate', 'heap', '--param', 'arena=32M,ops=2000,seed=3', '--json');
    expect(a.code).toBe(0);
    const fa = ReplayReport.parse(JSON.parse(a.out)).runs.map((x) => x.final);
    const fb = ReplayReport.parse(JSON.parse(b.out)).runs.map((x) => x.final);
    expect(fa.map(({ timeNs: _t, ...x }) => x)).toEqual(fb.map(({ timeNs: _t, ...x }) => x));
  });

  it('exits 2 naming FILE:LINE:COL of a bad trace, and for unknown variants or parameters', () => {
    const dir = tmp();
    const bad = path.join(dir, 'bad.trace');
    fs.writeFileSync(bad, 'ptlab-trace 1\nprocess P\nfault 0x1000 poke\n');
    const r = ptlab('replay', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}:3:14: bad access 'poke'`);
    expect(ptlab('replay', '--generate', 'heap', '--variants', 'on+nonsense').code).toBe(2);
    expect(ptlab('replay', '--generate', 'heap', '--param', 'colour=blue').err).toMatch(/unknown parameter 'colour'/);
    expect(ptlab('replay').code).toBe(2);
  });
});

describe('ptlab generate', () => {
  it('lists the generators with their parameters', () => {
    const r = ptlab('generate', '--list');
    expect(r.code).toBe(0);
    for (const g of ['cover-letter', 'heap', 'sparse', 'production']) expect(r.out).toContain(`${g}: `);
    expect(r.out).toMatch(/^ {2}purge=extents \(extents\|pages\)/m);
  });
});

describe('ptlab replay interrupted', () => {
  it('stops on SIGINT, writes a partial but valid report marked interrupted, and exits 130', async () => {
    const { spawn } = await import('node:child_process');
    const out = path.join(tmp(), 'partial.json');
    const child = spawn(process.execPath, [BIN, 'replay', '--generate', 'cover-letter', '--variants', 'on', '-o', out], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 4000)); // well after start-up, well before the ~20 s replay ends
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    const report = ReplayReport.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
    expect(report.runs[0].interrupted).toBe(true);
    expect(report.runs[0].final.op).toBeGreaterThan(0);
    expect(report.runs[0].final.op).toBeLessThan(51_201);
  }, 60_000);
});

describe('hostile traces (issue 15)', () => {
  const write = (text: string) => {
    const f = path.join(tmp(), 't.trace');
    fs.writeFileSync(f, text);
    return f;
  };

  it('a meta value replay would read, and a file past the model\'s 8T, are bad input at their column', () => {
    const r = ptlab('replay', write('ptlab-trace 1\nmeta thp=bogus\nmemfd F 0x1fffffffff000\nprocess P\nexit\n'), '--workers', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/t\.trace:2:10: bad value 'bogus' for meta thp \(expected one of: always, madvise, never\)/);
    expect(r.err).toMatch(/t\.trace:3:9: SIZE 0x1fffffffff000 is larger than the model's largest file \(expected at most/);
  });

  it('trace to-script writes nothing for a bad trace, and for a good one a script ptlab run accepts', () => {
    const dir = tmp();
    const out = path.join(dir, 'out.pt');
    expect(ptlab('trace', 'to-script', write('ptlab-trace 1\nprocess P\nfault 0x900000000000 write\n'), '-o', out).code).toBe(2);
    expect(fs.readdirSync(dir)).toEqual([]);
    const t = write('ptlab-trace 1\nprocess P\nmmap 0x100000000000 0x400000 rw- private,anon\ntouch 0x100000000000 0x400000 write every=6144\nexit\n');
    const r = ptlab('trace', 'to-script', t, '-o', out);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['out.pt']);
    expect(ptlab('run', out).code).toBe(0);
  });
});
