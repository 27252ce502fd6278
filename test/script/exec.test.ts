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

describe('move_pages(2) statuses in a snapshot (do_pages_stat())', () => {
  const codes = (...lines: string[]) => {
    const r = run(...lines);
    expect(r.exitCode, JSON.stringify(r.lines.filter((l) => l.type === 'error'))).toBe(0);
    const s = r.lines.find((l) => l.type === 'snapshot');
    return s?.type === 'snapshot' ? s.pagemap?.move_pages : undefined;
  };

  it('reports a page on a node, -ENOENT where nothing is mapped and -EFAULT past the VMA', () => {
    expect(codes('config thp=never', 'process P', 'map A anon private 64K', 'touch A 0 8K write', 'unmap A 32K 32K', 'snapshot s A 0 64K')).toEqual([
      [2, 'n'], [6, 'e'], [8, 'f'],
    ]);
  });

  it('reports the zero page and the huge zero page as -EFAULT (is_zero_folio()), a THP as on a node', () => {
    expect(codes('config thp=never fault_zero_page=on', 'process P', 'map A anon private 16K', 'touch A 0 4K read', 'touch A 4K 4K write', 'snapshot s A 0 16K')).toEqual([
      [1, 'f'], [1, 'n'], [2, 'e'],
    ]);
    expect(codes('config thp=always fault_zero_page=on', 'process P', 'map A anon private 4M', 'touch A 0 4K read', 'touch A 2M 4K write', 'snapshot s A 0 4M')).toEqual([
      [512, 'f'], [512, 'n'],
    ]);
  });

  it('reports swapped-out pages and guard markers as -ENOENT: folio_walk_start() finds no folio there', () => {
    expect(codes('config thp=never swap=16M', 'process P', 'map A anon private 16K', 'touch A 0 16K write', 'madvise A 0 4K pageout', 'madvise A 8K 4K guard_install', 'snapshot s A 0 16K')).toEqual([
      [1, 'e'], [1, 'n'], [1, 'e'], [1, 'n'],
    ]);
  });

  it('leaves out ranges of more than MOVE_PAGES_MAX_PAGES pages, as the runner does', () => {
    expect(codes('process P', 'map A anon private 2G', 'snapshot s A 0 2G')).toBeUndefined();
  });
});
