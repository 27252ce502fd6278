/**
 * Traces name each step's modelled kernel function (src/mm/where.ts): from the step's stack, the
 * innermost frame in src/mm that is neither a primitive nor a model helper, in kernel spelling.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelName, MODEL_HELPERS, stepWhere } from '../../src/mm/where.js';
import { loadScenario, runScenario } from '../../src/scenarios/registry.js';

const stack = (...frames: string[]) => ['Error', ...frames.map((f) => `    at ${f}`)].join('\n');

describe('stepWhere', () => {
  it('spells camelCase model names as the kernel does', () => {
    expect(kernelName('zapPteRange')).toBe('zap_pte_range');
    expect(kernelName('__pteOffsetMap')).toBe('__pte_offset_map');
    expect(kernelName('pmdpGetLockless')).toBe('pmdp_get_lockless');
  });

  it('skips the primitive, the generator plumbing and model helpers, and keeps the source line', () => {
    const s = stack(
      'at (/r/src/mm/primitives.ts:300:3)',
      'spinLock (/r/src/mm/primitives.ts:130:3)',
      'spinLock.next (<anonymous>)',
      'folioGetLockIfMapped (/r/src/mm/filemap.ts:40:5)',
      'filemapFault (file:///r/src/mm/filemap.ts:120:7)',
      'handleMmFault (/r/src/mm/memory/fault.ts:10:1)',
    );
    expect(stepWhere(s)).toEqual({ fn: 'filemap_fault', loc: 'src/mm/filemap.ts:120' });
  });

  it('names a callback of an ops table by its own name, also when V8 adds the property it was called through', () => {
    const s = stack('spinLock (/r/src/mm/primitives.ts:130:3)', 'Object.swapinWalkPmdEntry [as pmdEntry] (/r/src/mm/madvise_willneed.ts:50:9)', 'walkPmdRange (/r/src/mm/pagewalk.ts:80:5)');
    expect(stepWhere(s)).toEqual({ fn: 'swapin_walk_pmd_entry', loc: 'src/mm/madvise_willneed.ts:50' });
  });

  it('names no function for a step outside src/mm', () => {
    expect(stepWhere(stack('spinLock (/r/src/mm/primitives.ts:130:3)', 'runTask (/r/src/scenarios/tasks.ts:5:1)'))).toBeUndefined();
  });

  it('lists as helpers only functions that exist in src/mm', () => {
    const root = path.resolve(__dirname, '../../src/mm');
    const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const text = files.map((f) => fs.readFileSync(path.join(root, f), 'utf8')).join('\n');
    for (const name of MODEL_HELPERS) expect(text, name).toMatch(new RegExp(`function\\* ?${name.replace('$', '\\$')}\\(`));
  });
});

describe('a recorded trace', () => {
  it("names each CPU's kernel functions in retract_vs_dontneed's use-after-free", () => {
    const scn = loadScenario(path.resolve(__dirname, '../../scenarios/retract_vs_dontneed.scn'));
    if (!scn.ok) throw new Error(scn.errors.join('\n'));
    const r = runScenario(scn.scenario, { guardsOff: scn.scenario.guards, snapshots: false });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    const last = r.trace[r.trace.length - 1];
    expect(last.violating).toBe(true);
    expect(last.fn).toBe('retract_page_tables');
    expect(last.loc).toMatch(/^src\/mm\/khugepaged\.ts:\d+$/);
    const fns = new Set(r.trace.map((s) => s.fn));
    for (const fn of ['zap_pte_range', 'try_get_and_clear_pmd', 'collapse_file']) expect(fns).toContain(fn);
    // Every step of a kernel path names a function (the RCU task's steps name none).
    const rcu = r.nTasks - 1;
    expect(r.trace.filter((s) => s.task !== rcu && !s.fn)).toEqual([]);
  });
});
