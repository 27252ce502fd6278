/**
 * Photographs of the modelled kernel for the web view (web/): one process's VMAs and page-table
 * tree, and what each CPU holds. Plain JSON values, read with peeks (no sanitizer, no scheduling
 * point), so taking one never changes the model. Works on either build of the model (the generated
 * src/mm-fast shares src/mm's data types: tools/gen-fast.mjs).
 *
 * The view never re-implements the model: everything it draws comes from here.
 */
import { LEVEL_PGD, LEVEL_PMD, LEVEL_PTE, LEVEL_PUD, PAGE_SIZE, PTRS_PER_PTE } from '../mm/const.js';
import type { Cpu, Kernel, MmStruct, Vma } from '../mm/mm_types.js';
import { PT_ANON, PT_FILE, PT_FREE, PT_SHMEM, PT_ZERO } from '../mm/page_alloc.js';
import { describeState, T_LINKED, T_UNUSED } from '../mm/pgtable.js';
import {
  isGuardPte,
  isMigrationPte,
  isPteMarker,
  isSwapPte,
  isUffdWpMarker,
  pmdIsTable,
  pmdPfn,
  pmdTransHuge,
  ptePfn,
  ptePresent,
} from '../mm/pgtable_types.js';
import { procStatus, runLength } from '../mm/task_mmu.js';
import { ENTRY_KINDS, type AddressSpaceSnapshot, type CpuSnapshot, type KernelSnapshot, type TableSnapshot, type VmaSnapshot } from './schema.js';

export interface SnapshotOptions {
  /** Record each PTE table's 512 entries only while the process has at most this many (default 4096). */
  readonly maxEntryTables?: number;
  /** Off-tree tables (detached, queued, deposited, freed) listed one by one, at most (default 64). */
  readonly maxOffTree?: number;
}

const LEVELS: Record<number, TableSnapshot['level']> = { [LEVEL_PTE]: 'pte', [LEVEL_PMD]: 'pmd', [LEVEL_PUD]: 'pud', [LEVEL_PGD]: 'pgd' };

/** One letter per entry kind (see ENTRY_KINDS for the legend the page shows). */
export function entryCode(k: Kernel, v: number): string {
  if (v === 0) return '.';
  if (ptePresent(v)) {
    const t = k.mem.type[ptePfn(v)];
    if (t === PT_ANON) return 'a';
    if (t === PT_SHMEM) return 's';
    if (t === PT_FILE) return 'f';
    if (t === PT_ZERO) return 'z';
    if (t === PT_FREE) return 'x';
    return 'o';
  }
  if (isPteMarker(v)) return isGuardPte(v) ? 'g' : isUffdWpMarker(v) ? 'u' : 'k';
  if (isMigrationPte(v)) return 'm';
  if (isSwapPte(v)) return 'w';
  return 'o';
}

function vmaSnapshot(v: Vma): VmaSnapshot {
  const kind = v.file === null ? 'anon' : v.file.kind === 'shmem' ? 'shmem' : 'file';
  return { name: v.name, start: v.start, end: v.end, kind, flags: v.flags, file: v.file?.name };
}

/** The 512 entries of a table, as run-length pairs of entry codes. */
function entryRuns(k: Kernel, tid: number): [number, string][] {
  const codes = new Array<string>(PTRS_PER_PTE).fill('.');
  k.pt.forEachEntry(tid, (i, v) => (codes[i] = entryCode(k, v)));
  return runLength(codes.join(''));
}

/** Non-none entries of a table (0..512): the store's own count (src/mm/pgtable.ts). */
function liveEntries(k: Kernel, tid: number): number {
  return k.pt.populated(tid);
}

/**
 * The tree from the PGD down (PGD → PUD → PMD → PTE tables; P4D is folded), then the tables of
 * this mm that hang off no entry: detached, queued for RCU, deposited under a huge PMD, freed.
 */
export function addressSpaceSnapshot(k: Kernel, mm: MmStruct, o: SnapshotOptions = {}): AddressSpaceSnapshot {
  const maxEntryTables = o.maxEntryTables ?? 4096;
  const tables: TableSnapshot[] = [];
  const inTree = new Set<number>();
  const visit = (tid: number, parent: number, index: number): void => {
    inTree.add(tid);
    const level = k.pt.level[tid];
    const t: TableSnapshot = { tid, level: LEVELS[level], addr: k.pt.addr[tid], state: describeState(k.pt.state[tid]), live: liveEntries(k, tid), parent, index };
    tables.push(t);
    if (level === LEVEL_PTE) return;
    const children: [number, number][] = [];
    k.pt.forEachEntry(tid, (i, v) => children.push([i, v]));
    children.sort((a, b) => a[0] - b[0]);
    for (const [i, v] of children) {
      if (level === LEVEL_PMD && pmdTransHuge(v)) {
        (t.huge ??= []).push([i, k.mem.type[pmdPfn(v)] === PT_ANON ? 'a' : k.mem.type[pmdPfn(v)] === PT_SHMEM ? 's' : 'f']);
      } else if (level === LEVEL_PMD && !pmdIsTable(v)) {
        (t.huge ??= []).push([i, entryCode(k, v)]);
      } else {
        const child = k.pt.tidOfPfn(pmdPfn(v));
        if (child) visit(child, tid, i);
      }
    }
  };
  visit(mm.pgd, 0, 0);
  const offTree: TableSnapshot[] = [];
  const offTreeCounts: Record<string, number> = {};
  for (let tid = 1; tid < k.pt.nrTids; tid++) {
    const st = k.pt.state[tid];
    if (st === T_UNUSED || inTree.has(tid) || k.pt.mm[tid] !== mm.id) continue;
    const state = describeState(st);
    offTreeCounts[state] = (offTreeCounts[state] ?? 0) + 1;
    offTree.push({ tid, level: LEVELS[k.pt.level[tid]], addr: k.pt.addr[tid], state, live: state === 'freed' ? 0 : liveEntries(k, tid) });
  }
  // Table ids are reused after a free, so the highest ids are the most recent: keep those.
  offTree.splice(0, Math.max(0, offTree.length - (o.maxOffTree ?? 64)));
  const pteTables = tables.filter((t) => t.level === 'pte').length + offTree.filter((t) => t.level === 'pte').length;
  const withEntries = pteTables <= maxEntryTables;
  if (withEntries) for (const t of [...tables, ...offTree]) if (t.level === 'pte' && t.state !== 'freed') t.entries = entryRuns(k, t.tid);
  // A PMD table's deposited PTE tables (pgtable_trans_huge_deposit()).
  for (const t of tables) {
    if (t.level !== 'pmd') continue;
    const dep: number[] = [];
    for (let d = k.pt.deposit[t.tid]; d > 0 && dep.length < 512; d = k.pt.next[d]) dep.push(d);
    if (dep.length) t.deposited = dep;
  }
  return {
    process: mm.name,
    status: procStatus(mm),
    pageTablesKb: k.mem.nrPagetable * (PAGE_SIZE / 1024),
    tlbFlushPending: mm.tlbFlushPending,
    mmapLock: { readers: mm.mmapLock.readers, writer: mm.mmapLock.writer > 0 ? mm.mmapLock.writer - 1 : null },
    vmas: mm.vmas.filter((v) => !v.detached).map(vmaSnapshot),
    tables,
    offTree,
    offTreeCounts,
    entriesRecorded: withEntries,
  };
}

/** A lock handle as the trace labels name it: ptl(T4), pml(T3), page_table_lock. */
export function lockName(k: Kernel, l: number): string {
  if (l <= 0) return 'page_table_lock';
  return `${k.pt.level[l] === LEVEL_PMD ? 'pml' : 'ptl'}(T${l})`;
}

/** What a CPU holds and caches: spinlocks, RCU/IRQ sections, TLB and walk-cache entries. */
function cpuSnapshot(k: Kernel, c: Cpu): CpuSnapshot {
  const t = c.tlb;
  let tlb = 0;
  let stale = 0;
  for (let i = 0; i < t.vpn.length; i++) {
    if (t.vpn[i] < 0) continue;
    tlb++;
    if (k.mem.type[t.pfn[i]] === PT_FREE) stale++;
  }
  for (let i = 0; i < t.hvpn.length; i++) {
    if (t.hvpn[i] < 0) continue;
    tlb++;
    if (k.mem.type[t.hpfn[i]] === PT_FREE) stale++;
  }
  let pwc = 0;
  let pwcStale = 0;
  for (let i = 0; i < t.pwcBlock.length; i++) {
    if (t.pwcBlock[i] < 0) continue;
    pwc++;
    if (k.pt.state[t.pwcTid[i]] !== T_LINKED) pwcStale++;
  }
  return { cpu: c.id, locks: c.held.map((l) => lockName(k, l)), rcuNesting: c.rcuNesting, irqsOff: c.irqDisabled > 0, tlbEntries: tlb, tlbStale: stale, pwcEntries: pwc, pwcStale };
}

/** The whole kernel at one instant: every CPU, pending RCU callbacks, every live process. */
export function kernelSnapshot(k: Kernel, o: SnapshotOptions = {}): KernelSnapshot {
  return {
    cpus: k.cpus.map((c) => cpuSnapshot(k, c)),
    rcu: { pending: k.rcu.pending.map((cb) => cb.name), completed: k.rcu.completed },
    processes: k.mms.filter((m) => !m.exited).map((m) => addressSpaceSnapshot(k, m, o)),
  };
}

export { ENTRY_KINDS };
