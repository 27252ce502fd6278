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
