/**
 * wp_page_shared() (memory/mkwrite.ts): a write to a read-only PTE of a shared regular-file
 * mapping drops the PTE lock for ->page_mkwrite() and maps the table again. (shmem has no
 * ->page_mkwrite() and no write-notify: its read faults already map the page writable.) Driven step by step through
 * the scenario system, so that a whole-block MADV_DONTNEED can reclaim the table in the window.
 */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../../src/scenarios/format.js';
import { scenarioSystem } from '../../../src/scenarios/system.js';

function instance() {
  const text = [
    'scenario mkwrite',
    'about a write fault on a read-only shared PTE against a reclaiming DONTNEED',
    'process P',
    'file F 2M',
    'map A file F 0 2M shared',
    'touch A 0 4K read',
    'cpu 0 touch A 0 4K write',
    'cpu 1 madvise A 0 2M dontneed',
  ].join('\n');
  const r = parseScenario(text, 'mkwrite.scn');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return scenarioSystem(r.scenario, []).create({ where: true });
}

type Inst = ReturnType<typeof instance>;

/** Run task t while `until` is false of its next step; returns the steps as 'fn: label'. */
function run(inst: Inst, t: number, until: (fn: string, label: string) => boolean = () => false): string[] {
  const steps: string[] = [];
  while (inst.pending(t) && inst.enabled(t)) {
    const fn = inst.where?.(t)?.fn ?? '';
    const label = inst.pending(t)!.label;
    if (until(fn, label)) break;
    steps.push(`${fn}: ${label}`);
    inst.step(t);
  }
  return steps;
}

describe('wp_page_shared() and ->page_mkwrite()', () => {
  it('a regular file: the PTE lock is dropped for filemap_page_mkwrite() and taken again', () => {
    const steps = run(instance(), 0);
    const mkwrite = steps.findIndex((s) => /^filemap_page_mkwrite: flock folio \d+$/.test(s));
    expect(mkwrite).toBeGreaterThan(0);
    const folio = steps[mkwrite].split(' ').pop();
    expect(steps[mkwrite - 2]).toBe('pte_unmap_unlock: unlock ptl(T4)');
    expect(steps.slice(mkwrite)).toContain('pte_offset_map_lock: lock ptl(T4)');
    expect(steps.slice(mkwrite)).toContain('wp_page_reuse: st pte[0]@T4');
    expect(steps.indexOf(`fault_dirty_shared_page: funlock folio ${folio}`)).toBeGreaterThan(steps.indexOf('wp_page_reuse: st pte[0]@T4'));
  });

  it('a table reclaimed while the lock is dropped: finish_mkwrite_fault() gives up, and the access faults again', () => {
    const inst = instance();
    run(inst, 0, (fn) => fn === 'filemap_page_mkwrite');
    const folio = inst.pending(0)!.label.split(' ').pop();
    const zap = run(inst, 1);
    expect(zap).toContain('try_get_and_clear_pmd: st pmd[0]@T3'); // the table is reclaimed
    const rest = run(inst, 0);
    // pte_offset_map_lock() fails its pmd_same() recheck: the table is off the tree.
    const relock = rest.indexOf('__pte_offset_map: ld pmd[0]@T3');
    expect(relock).toBeGreaterThanOrEqual(0);
    expect(rest.some((s) => s.startsWith('finish_mkwrite_fault'))).toBe(false);
    // The access faults again: do_shared_fault() allocates a new table and asks ->page_mkwrite() again.
    const again = rest.slice(relock);
    expect(again.some((s) => s.startsWith('pmd_install: st pmd[0]@T3'))).toBe(true);
    expect(again.filter((s) => s.startsWith('filemap_page_mkwrite')).length).toBe(1);
    // The page-cache folio stayed in the cache: the second fault locks and unlocks the same one.
    expect(again).toContain(`fault_dirty_shared_page: funlock folio ${folio}`);
    while (inst.pending(2) && inst.enabled(2)) inst.step(2); // the grace period frees the old table
    expect(inst.finalCheck()).toBeNull();
  });
});
