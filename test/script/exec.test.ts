/**
 * runScript() on what the validator lets through but the model decides at run time.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from '../../src/script/exec.js';
import { parseScript, safeParseScript } from '../../src/script/parse.js';

const run = (...lines: string[]) => runScript(parseScript(lines.join('\n') + '\n', 't.pt'));

describe('a map whose flags add calls after mmap()', () => {
  it('keeps the mapping when mlock() is the call that fails, and its name addresses it', () => {
    const r = run('process P', 'map A anon private 64K prot=--- locked err=ENOMEM', 'mprotect A 0 64K rw-', 'touch A 0 4K write', 'snapshot s A 0 64K');
    expect(r.exitCode).toBe(0);
    expect(r.lines.find((l) => l.type === 'snapshot')).toMatchObject({ delta: { VmLck: 64, RssAnon: 64 } });
  });

  it('is refused before anything runs when mmap() itself must fail (a range past TASK_SIZE): the name names nothing', () => {
    // The validator knows mmap() refuses a range past TASK_SIZE before any flag is looked at
    // (src/script/parse.ts), so a later op on A is a script error, not a run-time one.
    const r = safeParseScript(['process P', 'map A anon private 64K at=0x7ffffffff000 locked err=ENOMEM', 'touch A 0 4K write'].join('\n') + '\n', 't.pt');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.loc.line, e.message])).toEqual([[3, 'mapping A does not exist: its map at line 2 expects err=ENOMEM']]);
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
