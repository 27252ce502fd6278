/**
 * src/cli/util.ts, writeBenchResult(): a benchmark's Markdown and its JSON twin, each written whole
 * through src/util/atomic.ts into a directory made if missing, then the Markdown on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeBenchResult } from '../../src/cli/util.js';

describe('writeBenchResult', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes FILE.md and FILE.json into a new directory, leaves no temporary name, and prints the Markdown', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-bench-'));
    const out = path.join(dir, 'deep', 'er', 'SWARM.md');
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      printed.push(String(s));
      return true;
    });
    writeBenchResult(out, '# Title\n', { a: 1, b: [2, 3] });
    expect(fs.readFileSync(out, 'utf8')).toBe('# Title\n');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'deep', 'er', 'SWARM.json'), 'utf8'))).toEqual({ a: 1, b: [2, 3] });
    expect(fs.readdirSync(path.dirname(out)).sort()).toEqual(['SWARM.json', 'SWARM.md']);
    expect(printed.join('')).toBe('# Title\n');
  });
});
