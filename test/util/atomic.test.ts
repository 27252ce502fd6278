/**
 * The one writer of output files and directories (src/util/atomic.ts, issue 15 D16): a target is
 * either its old self or the whole new output, never a mix, and nothing temporary stays behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtomicFile, OutputError, removePendingTemps, writeDirAtomic, writeFileAtomic } from '../../src/util/atomic.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-atomic-'));
}

describe('AtomicFile', () => {
  it('leaves the old file until commit, and only the new one after', () => {
    const d = tmpDir();
    const f = path.join(d, 'out.txt');
    fs.writeFileSync(f, 'old\n');
    const w = new AtomicFile(f);
    w.write('new '.repeat(50_000));
    expect(fs.readFileSync(f, 'utf8')).toBe('old\n');
    w.commit();
    expect(fs.readFileSync(f, 'utf8')).toBe('new '.repeat(50_000));
    expect(fs.readdirSync(d)).toEqual(['out.txt']);
  });

  it('abort and removePendingTemps (what SIGINT/SIGTERM run) remove the temporary file and keep the old one', () => {
    const d = tmpDir();
    const f = path.join(d, 'out.txt');
    fs.writeFileSync(f, 'old\n');
    new AtomicFile(f).write('half');
    removePendingTemps();
    expect(fs.readdirSync(d)).toEqual(['out.txt']);
    const w = new AtomicFile(f);
    w.write('x');
    w.abort();
    w.abort();
    expect(fs.readdirSync(d)).toEqual(['out.txt']);
    expect(fs.readFileSync(f, 'utf8')).toBe('old\n');
  });

  it('reports a target it cannot write as an OutputError naming it', () => {
    expect(() => writeFileAtomic('/nonexistent-dir/x.json', '{}')).toThrow(OutputError);
    expect(() => writeFileAtomic('/nonexistent-dir/x.json', '{}')).toThrow('cannot write /nonexistent-dir/x.json: ENOENT');
  });
});

describe('writeDirAtomic', () => {
  const only = (allowed: string[]) => (names: string[]) => (names.every((n) => allowed.includes(n)) ? undefined : 'holds other files');

  it('replaces a directory whole: no file of the earlier output survives beside the new ones', async () => {
    const d = tmpDir();
    const out = path.join(d, 'report');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'a.png'), 'old');
    fs.writeFileSync(path.join(out, 'report.json'), 'old');
    await writeDirAtomic(out, only(['a.png', 'report.json']), async (tmp) => fs.writeFileSync(path.join(tmp, 'report.json'), 'new'));
    expect(fs.readdirSync(out)).toEqual(['report.json']);
    expect(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).toBe('new');
    expect(fs.readdirSync(d)).toEqual(['report']);
  });

  it('refuses a directory holding files it would not write, and changes nothing', async () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'thesis.tex'), 'precious');
    await expect(writeDirAtomic(d, only(['report.json']), async () => undefined)).rejects.toThrow(/holds other files/);
    expect(fs.readdirSync(d)).toEqual(['thesis.tex']);
  });

  it('keeps the old directory when filling the new one fails', async () => {
    const d = tmpDir();
    const out = path.join(d, 'r');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'report.json'), 'old');
    await expect(
      writeDirAtomic(out, only(['report.json']), async (tmp) => {
        fs.writeFileSync(path.join(tmp, 'report.json'), 'half');
        throw new Error('interrupted');
      }),
    ).rejects.toThrow('interrupted');
    expect(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).toBe('old');
    expect(fs.readdirSync(d)).toEqual(['r']);
  });
});
