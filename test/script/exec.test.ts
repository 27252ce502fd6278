/**
 * runScript() on what the validator lets through but the model decides at run time.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from '../../src/script/exec.js';
import { parseScript } from '../../src/script/parse.js';

const run = (...lines: string[]) => runScript(parseScript(lines.join('\n') + '\n', 't.pt'));

describe('a map whose flags add calls after mmap()', () => {
  it('keeps the mapping when mlock() is the call that fails, and its name addresses it', () => {
    const r = run('process P', 'map A anon private 64K prot=--- locked err=ENOMEM', 'mprotect A 0 64K rw-', 'touch A 0 4K write', 'snapshot s A 0 64K');
    expect(r.exitCode).toBe(0);
    expect(r.lines.find((l) => l.type === 'snapshot')).toMatchObject({ delta: { VmLck: 64, RssAnon: 64 } });
  });

  it('stops the run at the first op on it, with exit 1 and the line, when mmap() was the call that failed', () => {
    const r = run('process P', 'map A anon private 64K at=0x7ffffffff000 locked err=ENOMEM', 'touch A 0 4K write');
    expect(r.exitCode).toBe(1);
    expect(r.lines.find((l) => l.type === 'error')).toMatchObject({ line: 3, message: 'mapping A does not exist: its map failed in mmap()' });
  });
});

describe('snapshot ranges', () => {
  it('reports the pagemap of 100 TiB with two touched spots as four runs, walking tables, not pages', () => {
    const t0 = performance.now();
    const r = run('process P', 'map A anon private 100T at=0x100000000000', 'touch A 0 8M write', 'touch A 50T 4K write', 'snapshot s A 0 100T');
    expect(r.exitCode).toBe(0);
    const pages = 100 * 2 ** 28;
    const half = 50 * 2 ** 28;
    expect(r.lines.find((l) => l.type === 'snapshot')).toMatchObject({ pagemap: { pages, runs: [[2048, 'x'], [half - 2048, '-'], [1, 'x'], [pages - half - 1, '-']] } });
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
