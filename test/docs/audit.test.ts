/**
 * docs/audit.md is kept true by the code: every model function its table names (`file.ts
 * \`name\``) is defined in that file of src/mm, and every scenario it names is shipped.
 */
import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listScenarioFiles } from '../../src/scenarios/registry.js';

const audit = readFileSync('docs/audit.md', 'utf8');
const rows = audit.split('\n').filter((l) => /^\| \d+ \|/.test(l));
const shipped = new Set(listScenarioFiles().map((f) => f.replace(/^.*\//, '').replace(/\.scn$/, '')));

describe('docs/audit.md', () => {
  it('has the 75 paths of the audit, numbered in order', () => {
    expect(rows.map((r) => Number(/^\| (\d+) \|/.exec(r)![1]))).toEqual(Array.from({ length: 75 }, (_, i) => i + 1));
  });

  it('names model functions that exist where it says', () => {
    const named = [...audit.matchAll(/([a-z_/]+\.ts) `([A-Za-z_]\w*)`/g)].map((m) => ({ file: `src/mm/${m[1]}`, fn: m[2] }));
    expect(named.length).toBeGreaterThan(60);
    const missing = named.filter(({ file, fn }) => {
      if (!existsSync(file)) return true;
      const src = readFileSync(file, 'utf8');
      return !new RegExp(`(function\\*?|const|class) ${fn}\\b|^\\s+\\*?${fn}\\(`, 'm').test(src);
    });
    expect(missing.map(({ file, fn }) => `${file} ${fn}`)).toEqual([]);
  });

  it('names scenarios that are shipped', () => {
    const names = new Set<string>();
    for (const r of rows) for (const m of r.matchAll(/`([a-z0-9_]+_vs_[a-z0-9_]+|[a-z0-9_]+_control|wrong_flush_addr|ptl_freed_early|range_underflow|zap_retry_progress|migration_wait_reclaimed)`/g)) names.add(m[1]);
    expect(names.size).toBeGreaterThan(40);
    expect([...names].filter((n) => !shipped.has(n))).toEqual([]);
  });
});
