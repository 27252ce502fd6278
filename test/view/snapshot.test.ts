/**
 * src/view/snapshot.ts, the web view's photograph of the model kernel: the table tree and its
 * links, `live` counts and entry runs, off-tree tables (freed by PT_RECLAIM, deposited under a huge
 * PMD), the entries cap, that a photograph changes nothing, and the per-step snapshots of a race
 * trace (retract_vs_dontneed). The page draws only what this module says, so a wrong count or link
 * here is a wrong picture there.
 *
 * Expected values come from the placement rule (docs/op-scripts.md: the first map of a process is
 * at 16 TiB, alone in its 512 GiB slot) and the x86-64 4-level layout: PGD index = addr >> 39
 * (16 TiB → 32), PUD index = (addr >> 30) & 511, PMD index = (addr >> 21) & 511, PTE index =
 * (addr >> 12) & 511. One PTE table per touched 2 MiB block, 4 kB per PUD/PMD/PTE table in VmPTE.
 */
import { describe, expect, it } from 'vitest';
import { procStatus } from '../../src/mm/task_mmu.js';
import { loadScenario, runScenario } from '../../src/scenarios/registry.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { runScript } from '../../src/script/exec.js';
import { parseScript } from '../../src/script/parse.js';
import { KernelSnapshot, type AddressSpaceSnapshot, type TableSnapshot } from '../../src/view/schema.js';
import { addressSpaceSnapshot, kernelSnapshot } from '../../src/view/snapshot.js';

const T = 2 ** 40;
const M = 2 ** 20;
const BASE = 16 * T;

/** Run an inline script (it must succeed) and photograph process P. */
function run(text: string, opts: { overrides?: Record<string, string>; maxEntryTables?: number; maxOffTree?: number } = {}) {
  const r = runScript(parseScript(text, 'inline.pt'), { overrides: opts.overrides, checkInvariants: true });
  expect(r.exitCode, JSON.stringify(r.lines.filter((l) => l.type === 'error'))).toBe(0);
  const k = r.kernel;
  const mm = r.processes.get('P')!;
  return { k, mm, snap: addressSpaceSnapshot(k, mm, { maxEntryTables: opts.maxEntryTables, maxOffTree: opts.maxOffTree }) };
}

const byLevel = (s: AddressSpaceSnapshot, level: TableSnapshot['level']) => s.tables.filter((t) => t.level === level);

describe('the table tree', () => {
  it('links PGD → PUD → PMD → PTE at the indices the address gives, with live counts and entry runs', () => {
    // Block 1 of A (16 TiB + 2 MiB): page 0 written (anon page), page 511 read (zero page).
    const { snap } = run('process P\nmap A anon private 4M\ntouch A 2M 4K write\ntouch A 0x3ff000 4K read\n');
    const [pgd] = byLevel(snap, 'pgd');
    const [pud] = byLevel(snap, 'pud');
    const [pmd] = byLevel(snap, 'pmd');
    const ptes = byLevel(snap, 'pte');
    expect(snap.tables).toHaveLength(4);
    expect(ptes).toHaveLength(1);
    const pte = ptes[0];
    // Parents first, then children; each child names its parent and the parent's slot.
    expect(snap.tables.map((t) => t.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    expect([pud.parent, pud.index]).toEqual([pgd.tid, 32]);
    expect([pmd.parent, pmd.index]).toEqual([pud.tid, 0]);
    expect([pte.parent, pte.index]).toEqual([pmd.tid, 1]);
    expect(pte.addr).toBe(BASE + 2 * M);
    expect([pgd.live, pud.live, pmd.live, pte.live]).toEqual([1, 1, 1, 2]);
    expect(pte.entries).toEqual([[1, 'a'], [510, '.'], [1, 'z']]);
    expect(pte.state).toBe('linked');
    // PUD + PMD + PTE table; one anonymous page (the zero page is not RSS).
    expect(snap.status.VmPTE).toBe(12);
    expect(snap.status.RssAnon).toBe(4);
    expect(snap.vmas).toEqual([expect.objectContaining({ name: 'A', start: BASE, end: BASE + 4 * M, kind: 'anon' })]);
    expect(snap.offTree).toEqual([]);
    expect(snap.entriesRecorded).toBe(true);
  });

  it('lists PTE tables in address order, one per touched block, and a new PMD table per GiB', () => {
    const { snap } = run('process P\nmap A anon private 2G\ntouch A 1G 4K write\ntouch A 6M 4K write\ntouch A 0 4K write\n');
    const pmds = byLevel(snap, 'pmd');
    expect(pmds.map((t) => t.index)).toEqual([0, 1]);
    expect(pmds.map((t) => t.live)).toEqual([2, 1]);
    const ptes = byLevel(snap, 'pte');
    expect(ptes.map((t) => [t.parent, t.index, t.addr])).toEqual([
      [pmds[0].tid, 0, BASE],
      [pmds[0].tid, 3, BASE + 6 * M],
      [pmds[1].tid, 0, BASE + 1024 * M],
    ]);
    // PUD + 2 PMD + 3 PTE tables.
    expect(snap.status.VmPTE).toBe(24);
  });

  it("codes shmem pages 's' and page-cache pages 'f' (fault-around maps 16 cached pages)", () => {
    const shm = run('memfd F 2M\nprocess P\nmap A shmem F 0 2M shared\ntouch A 0 8K write\n').snap;
    expect(byLevel(shm, 'pte')[0].entries).toEqual([[2, 's'], [510, '.']]);
    expect(shm.status.RssShmem).toBe(8);
    expect(shm.vmas[0].kind).toBe('shmem');
    // A read fault on a file whose pages are all cached maps the whole 64 kB fault-around window.
    const file = run('file G 2M\nprocess P\nmap A file G 0 2M private\ntouch A 0 4K read\n').snap;
    expect(byLevel(file, 'pte')[0].entries).toEqual([[16, 'f'], [496, '.']]);
    expect(byLevel(file, 'pte')[0].live).toBe(16);
    expect(file.vmas[0]).toMatchObject({ kind: 'file', file: 'G' });
  });
});

describe('off-tree tables', () => {
  const dense = 'process P\nmap A anon private 4M\ntouch A 0 4M write\nmadvise A 0 2M dontneed\n';

  it('with pt_reclaim=on, DONTNEED of a whole block frees its PTE table: off the tree, freed after RCU', () => {
    const { snap } = run(dense, { overrides: { pt_reclaim: 'on' } });
    const ptes = byLevel(snap, 'pte');
    expect(ptes.map((t) => t.addr)).toEqual([BASE + 2 * M]);
    expect(byLevel(snap, 'pmd')[0].live).toBe(1);
    expect(snap.offTree).toEqual([expect.objectContaining({ level: 'pte', addr: BASE, state: 'freed', live: 0 })]);
    expect(snap.offTree[0].entries).toBeUndefined();
    expect(snap.offTree[0].parent).toBeUndefined();
    expect(snap.offTreeCounts).toEqual({ freed: 1 });
    expect(snap.status.VmPTE).toBe(12);
    // PGD + PUD + PMD + the remaining PTE table, 4 kB each, once the RCU callback ran.
    expect(snap.pageTablesKb).toBe(16);
  });

  it('with pt_reclaim=off, the emptied PTE table stays linked with live 0', () => {
    const { snap } = run(dense, { overrides: { pt_reclaim: 'off' } });
    const ptes = byLevel(snap, 'pte');
    expect(ptes.map((t) => [t.addr, t.live, t.state])).toEqual([[BASE, 0, 'linked'], [BASE + 2 * M, 512, 'linked']]);
    expect(ptes[0].entries).toEqual([[512, '.']]);
    expect(ptes[1].entries).toEqual([[512, 'a']]);
    expect(byLevel(snap, 'pmd')[0].live).toBe(2);
    expect(snap.offTree).toEqual([]);
    expect(snap.offTreeCounts).toEqual({});
    expect(snap.status.VmPTE).toBe(16);
  });

  it('counts every off-tree table but lists at most maxOffTree of them', () => {
    const { snap } = run('process P\nmap A anon private 8M\ntouch A 0 8M write\nmadvise A 0 8M dontneed\n', { maxOffTree: 2 });
    expect(byLevel(snap, 'pte')).toEqual([]);
    expect(snap.offTreeCounts).toEqual({ freed: 4 });
    expect(snap.offTree).toHaveLength(2);
  });

  it('a huge anonymous PMD shows in its PMD table, with the PTE table deposited for it', () => {
    const { snap } = run('config thp=madvise\nprocess P\nmap A anon private 4M hugepage align=2M\ntouch A 0 4K write\n');
    const [pmd] = byLevel(snap, 'pmd');
    expect(pmd.huge).toEqual([[0, 'a']]);
    expect(pmd.live).toBe(1);
    expect(byLevel(snap, 'pte')).toEqual([]);
    // do_huge_pmd_anonymous_page() deposits a preallocated PTE table (pgtable_trans_huge_deposit()).
    expect(pmd.deposited).toHaveLength(1);
    const dep = snap.offTree.find((t) => t.tid === pmd.deposited![0]);
    expect(dep).toMatchObject({ level: 'pte', state: 'deposited', live: 0, entries: [[512, '.']] });
    expect(snap.offTreeCounts).toEqual({ deposited: 1 });
    // 2 MiB of anonymous memory for one touch; the deposited table counts in VmPTE.
    expect(snap.status.RssAnon).toBe(2048);
    expect(snap.status.VmPTE).toBe(12);
  });
});

describe('entries cap and purity', () => {
  const three = 'process P\nmap A anon private 8M\ntouch A 0 4K write\ntouch A 2M 4K write\ntouch A 4M 4K write\n';

  it('records entries only while the process has at most maxEntryTables PTE tables', () => {
    const at = run(three, { maxEntryTables: 3 }).snap;
    expect(at.entriesRecorded).toBe(true);
    expect(byLevel(at, 'pte').map((t) => t.entries)).toEqual([[[1, 'a'], [511, '.']], [[1, 'a'], [511, '.']], [[1, 'a'], [511, '.']]]);
    const over = run(three, { maxEntryTables: 2 }).snap;
    expect(over.entriesRecorded).toBe(false);
    expect(byLevel(over, 'pte')).toHaveLength(3);
    expect(over.tables.every((t) => t.entries === undefined)).toBe(true);
    // Everything else is the same picture.
    expect({ ...over, entriesRecorded: true, tables: over.tables.map((t) => t.tid) }).toEqual({ ...at, tables: at.tables.map((t) => t.tid) });
  });

  it('taking a snapshot changes nothing: status, table counts and a second snapshot are the same', () => {
    const { k, mm } = run('config thp=madvise\nprocess P\nmap A anon private 8M\nmap B anon private 4M hugepage\ntouch A 0 8M write\ntouch B 0 4K write\nmadvise A 2M 2M dontneed\n');
    const status = procStatus(mm);
    const states = Array.from(k.pt.countByState);
    const pagetables = k.mem.nrPagetable;
    const first = kernelSnapshot(k);
    const second = kernelSnapshot(k);
    expect(second).toEqual(first);
    expect(procStatus(mm)).toEqual(status);
    expect(Array.from(k.pt.countByState)).toEqual(states);
    expect(k.mem.nrPagetable).toBe(pagetables);
    expect(KernelSnapshot.safeParse(first).success).toBe(true);
    expect(first.processes.map((p) => p.process)).toEqual(['P']);
    expect(first.cpus.length).toBe(k.cpus.length);
  });
});

describe('snapshots in a race trace: retract_vs_dontneed, guard retract-pmd-recheck off', () => {
  it('photographs every step; at the violation the table is off the tree and the collapse CPU holds the PMD lock', () => {
    const loaded = loadScenario('retract_vs_dontneed');
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    const scn = loaded.scenario;
    expect(scn.guards).toEqual(['retract-pmd-recheck']);
    const r = runScenario(scn, { guardsOff: scn.guards, budget: { maxExecutions: 50_000 } });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violation.kind).toBe('pt-use-after-free');

    const initial = KernelSnapshot.parse(r.initial);
    const snaps = r.trace.map((s, i) => {
      const p = KernelSnapshot.safeParse(s.snapshot);
      expect(p.success, `step ${i} (${s.label}): ${p.error?.message}`).toBe(true);
      return p.data!;
    });
    // Before any step: the shmem page touched by the setup, in one PTE table under the PMD.
    const [pte0] = byLevel(initial.processes[0], 'pte');
    expect(pte0).toMatchObject({ state: 'linked', live: 1, entries: [[1, 's'], [511, '.']] });
    const pmdTid = pte0.parent!;

    const vi = r.trace.findIndex((s) => s.violating);
    expect(vi).toBe(r.trace.length - 1);
    const atViolation = snaps[vi].processes[0];
    expect(atViolation.tables.some((t) => t.tid === pte0.tid)).toBe(false);
    expect(atViolation.tables.find((t) => t.tid === pmdTid)!.live).toBe(0);
    const off = atViolation.offTree.find((t) => t.tid === pte0.tid);
    expect(['detached', 'queued', 'freed']).toContain(off?.state);

    // The violating step is the collapse's; its CPU holds pml(T<the PMD table>).
    const sys = scenarioSystem(scn, scn.guards);
    const name = sys.taskNames![r.trace[vi].task];
    expect(name).toMatch(/collapse/);
    const cpu = Number(/^CPU(\d+)/.exec(name)![1]);
    expect(snaps[vi].cpus[cpu].locks).toContain(`pml(T${pmdTid})`);
  });
});
