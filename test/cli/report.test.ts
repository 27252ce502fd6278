/** `ptlab report` end to end (the compiled build in dist/): files written on 0, FILE: path on 2. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureReport } from '../report/fixture.js';

const BIN = path.resolve(__dirname, '../../bin/ptlab.js');

function ptlab(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tmpJson(value: unknown): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-cli-report-'));
  const file = path.join(dir, 'replay.json');
  fs.writeFileSync(file, JSON.stringify(value));
  return { dir, file };
}

describe('ptlab report', () => {
  it('exits 0 and lists the files it wrote into -o DIR', () => {
    const { dir, file } = tmpJson(fixtureReport());
    const out = path.join(dir, 'out');
    const r = ptlab('report', file, '-o', out, '--format', 'svg,md');
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').map((f) => path.basename(f))).toEqual(['report.json', 'vmpte.svg', 'rss.svg', 'entries.svg', 'empty-tables.svg', 'summary.md']);
    expect(fs.readFileSync(path.join(out, 'summary.md'), 'utf8')).toContain('pt_reclaim=on saves');
  });

  it('writes beside the input (REPORT-report/) without -o', () => {
    const { dir, file } = tmpJson(fixtureReport());
    const r = ptlab('report', file, '--format', 'md');
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'replay-report', 'summary.md'))).toBe(true);
  });

  it('exits 2 naming the file and the path of the first problem in a malformed report', () => {
    const report = fixtureReport();
    const { runs: _runs, ...noRuns } = report;
    const { file } = tmpJson(noRuns);
    const r = ptlab('report', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`ptlab: ${file}: runs: `);
  });

  it('exits 2 for a missing file and for an unknown --format', () => {
    expect(ptlab('report', '/nonexistent/replay.json').err).toContain('/nonexistent/replay.json: cannot read the report: ENOENT');
    const { file } = tmpJson(fixtureReport());
    const r = ptlab('report', file, '--format', 'png,pdf');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--format: 'pdf' is not one of png, svg, html, md`);
  });

  it('replaces -o DIR whole, and refuses one holding files a report does not write (issue 15, D16)', () => {
    const { dir, file } = tmpJson(fixtureReport());
    const out = path.join(dir, 'out');
    expect(ptlab('report', file, '-o', out).code).toBe(0);
    expect(fs.readdirSync(out)).toContain('vmpte.png');
    // A second run with fewer formats leaves no PNG of the first beside its files.
    expect(ptlab('report', file, '-o', out, '--format', 'md').code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['report.json', 'summary.md']);
    const r = ptlab('report', file, '-o', dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`cannot write ${dir}: it holds 2 file(s) a report does not write (out, replay.json)`);
    expect(fs.readdirSync(dir).sort()).toEqual(['out', 'replay.json']);
  });

  it('killed with SIGTERM at any moment, leaves the earlier report whole or the new one, and no temporary names', async () => {
    const { dir, file } = tmpJson(fixtureReport());
    const out = path.join(dir, 'out');
    expect(ptlab('report', file, '-o', out, '--format', 'md').code).toBe(0);
    const old = fs.readFileSync(path.join(out, 'summary.md'), 'utf8');
    for (const ms of [300, 900, 1500, 2500]) {
      const child = spawn(process.execPath, [BIN, 'report', file, '-o', out], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGTERM'), ms);
      await new Promise((resolve) => child.on('exit', resolve));
      clearTimeout(timer);
      const names = fs.readdirSync(out).sort();
      if (names.length === 2) {
        expect(names).toEqual(['report.json', 'summary.md']);
        expect(fs.readFileSync(path.join(out, 'summary.md'), 'utf8')).toBe(old);
      } else {
        expect(names).toEqual(['empty-tables.png', 'empty-tables.svg', 'entries.png', 'entries.svg', 'report.html', 'report.json', 'rss.png', 'rss.svg', 'summary.md', 'vmpte.png', 'vmpte.svg']);
      }
      expect(fs.readdirSync(dir).sort()).toEqual(['out', 'replay.json']);
    }
  });

  it('explains what it reads and writes in --help', () => {
    const r = ptlab('report', '--help');
    expect(r.code).toBe(0);
    for (const text of ['ptlab-replay-report', 'vmpte.svg/png', 'report.html', 'summary.md', 'Example:', 'docs/reports.md']) expect(r.out).toContain(text);
  });
});
