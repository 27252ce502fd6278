/**
 * The kernel's views of an address space, in the kernel's units (fs/proc/task_mmu.c: task_mem()
 * for /proc/PID/status, smaps_rollup, pagemap_read(); fs/proc/meminfo.c: PageTables).
 * Read-only walks with no scheduling points and no sanitizers (peek, not ld), for snapshots of a
 * quiescent model; and pagemap_read() and show_smaps_rollup() as the kernel runs them
 * (`pagemapRead()`, `showSmapsRollup()`, explorer tasks): walk_page_range() under the mmap_lock
 * for read, mapping each table with pte_offset_map_lock() (docs/audit.md #68, #67). The peek and
 * the walk count each entry with the same function.
 */
import { HPAGE_PMD_NR, PAGE_SIZE, PMD_SIZE, PUD_SIZE, TASK_SIZE, alignDown, type Vaddr } from './const.js';
import { slotOf, tidOf } from './pgtable.js';
import { current } from './current.js';
import { pmdTransHugeLock } from './huge_memory.js';
import { ACTION_AGAIN, walkPageRange, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import { condResched, downRead, ptepGet, spinUnlock, upRead, type KGen } from './primitives.js';
import { peekPmdSlot } from './memory/pgalloc.js';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, type MmStruct } from './mm_types.js';
import { PT_ANON, PT_SHMEM, PT_ZERO } from './page_alloc.js';
import { findVma } from './vma_tree.js';
import {
  isGuardPte,
  isMigrationPte,
  isPmdMigrationEntry,
  isSwapPte,
  swpOffset,
  pteSwpUffdWpAny,
  pmdIsTable,
  pmdPfn,
  pmdTransHuge,
  ptePfn,
  ptePresent,
  pteSpecial,
  type Pmd,
  type Pte,
} from './pgtable_types.js';

export interface Status {
  VmSize: number;
  VmLck: number;
  VmRSS: number;
  RssAnon: number;
  RssFile: number;
  RssShmem: number;
  VmPTE: number;
  VmSwap: number;
}
export interface SmapsRollup {
  Rss: number;
  AnonHugePages: number;
  ShmemPmdMapped: number;
  FilePmdMapped: number;
}

const KB = 4; // kB per page

/** task_mem(): /proc/PID/status memory lines, in kB. */
export function procStatus(mm: MmStruct): Status {
  const anon = mm.rss[MM_ANONPAGES];
  const file = mm.rss[MM_FILEPAGES];
  const shmem = mm.rss[MM_SHMEMPAGES];
  return {
    VmSize: mm.totalVm * KB,
    VmLck: mm.lockedVm * KB,
    VmRSS: (anon + file + shmem) * KB,
    RssAnon: anon * KB,
    RssFile: file * KB,
    RssShmem: shmem * KB,
    VmPTE: mm.pgtablesBytes / 1024,
    VmSwap: mm.rss[MM_SWAPENTS] * KB, // swap_usage: get_mm_counter(mm, MM_SWAPENTS)
  };
}

/**
 * smaps_rollup of a quiescent mm, read without scheduling points: show_smaps_rollup()'s walk
 * (below) with peeks, every VMA, each entry counted by the same smaps_pmd_entry() and
 * smaps_pte_entry().
 */
export function procSmapsRollup(mm: MmStruct): SmapsRollup {
  const k = current.k;
  const r: SmapsRollup = { Rss: 0, AnonHugePages: 0, ShmemPmdMapped: 0, FilePmdMapped: 0 };
  for (const vma of mm.vmas) {
    for (let addr = alignDown(vma.start, PMD_SIZE); addr < vma.end; addr += PMD_SIZE) {
      const pmdp = peekPmdSlot(mm, addr);
      if (!pmdp) {
        addr = alignDown(addr, PUD_SIZE) + PUD_SIZE - PMD_SIZE; // no PMD table: the walk skips the PUD entry's 1 GiB
        continue;
      }
      const v = k.pt.peek(tidOf(pmdp), slotOf(pmdp));
      const lo = Math.max(addr, vma.start);
      const hi = Math.min(addr + PMD_SIZE, vma.end);
      if (pmdTransHuge(v) || isPmdMigrationEntry(v)) {
        smapsPmdEntry(v, r);
        continue;
      }
      if (!pmdIsTable(v)) continue;
      const tid = k.pt.tidOfPfn(pmdPfn(v));
      const i0 = (lo - addr) / PAGE_SIZE;
      const i1 = (hi - addr) / PAGE_SIZE;
      k.pt.forEachEntry(tid, (i, e) => {
        if (i >= i0 && i < i1) smapsPteEntry(e, r);
      });
    }
  }
  return r;
}

/**
 * show_smaps_rollup() (fs/proc/task_mmu.c, 6.18), as a read of /proc/PID/smaps_rollup runs it (an
 * explorer task): under the mmap_lock for read, smap_gather_stats() of each VMA in turn, a
 * walk_page_vma() whose smaps_pte_range() maps each table with pte_offset_map_lock() (docs/audit.md
 * #67): a table reclaimed after the walk read its PMD is ACTION_AGAIN, then a hole. `mss` receives
 * the sums. Not modelled: dropping the lock when a writer waits (mmap_lock_is_contended()), the
 * swap and PSS fields.
 */
export function* showSmapsRollup(mm: MmStruct, mss: SmapsRollup): KGen<number> {
  yield* downRead(mm.mmapLock); // mmap_read_lock_killable()
  for (let vma = findVma(mm, 0); vma; vma = findVma(mm, vma.end)) {
    yield* walkPageRange(mm, vma.start, vma.end, SMAPS_WALK_OPS, mss); // walk_page_vma()
  }
  yield* upRead(mm.mmapLock);
  return 0;
}

/** smaps_pte_range(): a huge PMD under its lock, else each entry under the PTE lock. */
function* smapsPteRange(pmdp: number, addr: Vaddr, end: Vaddr, walk: MmWalk<SmapsRollup>): KGen<number> {
  const vma = walk.vma!;
  const ptl = yield* pmdTransHugeLock(vma, pmdp);
  if (ptl !== null) {
    smapsPmdEntry(yield* ptepGet(pmdp), walk.priv);
    yield* spinUnlock(ptl);
    yield* condResched(); // goto out
    return 0;
  }
  const out = new PteMapOut();
  const pte = yield* pteOffsetMapLock(vma.mm, pmdp, addr, out);
  if (pte < 0) {
    walk.action = ACTION_AGAIN;
    return 0;
  }
  for (let p = pte; addr !== end; p++, addr += PAGE_SIZE) smapsPteEntry(yield* ptepGet(p), walk.priv);
  yield* pteUnmapUnlock(pte, out.ptl);
  yield* condResched();
  return 0;
}

const SMAPS_WALK_OPS: MmWalkOps<SmapsRollup> = Object.freeze({ pmdEntry: smapsPteRange, walkLock: 'rdlock' });

/**
 * smaps_pmd_entry() → smaps_account() of a huge PMD: its folio (vm_normal_page_pmd(): not the huge
 * zero page; or a PMD migration entry's) is resident, counted by its kind.
 */
function smapsPmdEntry(v: Pmd, mss: SmapsRollup): void {
  const mem = current.k.mem;
  const pfn = pmdTransHuge(v) ? pmdPfn(v) : isPmdMigrationEntry(v) ? swpOffset(v) : -1;
  if (pfn < 0 || mem.type[pfn] === PT_ZERO) return;
  const t = mem.type[pfn];
  if (t === PT_ANON) mss.AnonHugePages += HPAGE_PMD_NR * KB;
  else if (t === PT_SHMEM) mss.ShmemPmdMapped += HPAGE_PMD_NR * KB;
  else mss.FilePmdMapped += HPAGE_PMD_NR * KB;
  mss.Rss += HPAGE_PMD_NR * KB;
}

/**
 * smaps_pte_entry() → smaps_account(): a present entry's normal page (vm_normal_page(): not the
 * zero page or another special mapping), or the page of a migration entry, is resident.
 */
function smapsPteEntry(e: Pte, mss: SmapsRollup): void {
  if (ptePresent(e) ? !pteSpecial(e) : isMigrationPte(e)) mss.Rss += KB;
}

/**
 * /proc/PID/pagemap of [start, start + pages * 4K), run-length coded: [[count, code], ...], one code
 * per page (docs/op-scripts.md). The walk skips what has no table (1 GiB where there is no PMD
 * table, 2 MiB where there is no PTE table), so its time and memory follow the page tables, not
 * the range: a snapshot of terabytes with little mapped is quick (issue 15: a per-page string of
 * 4 TiB ran out of memory).
 */
export function procPagemap(mm: MmStruct, start: Vaddr, pages: number): [number, string][] {
  const k = current.k;
  const runs: [number, string][] = [];
  const put = (n: number, c: string) => {
    const last = runs[runs.length - 1];
    if (last && last[1] === c) last[0] += n;
    else runs.push([n, c]);
  };
  const end = start + pages * PAGE_SIZE;
  for (let addr = start; addr < end; ) {
    if (addr >= TASK_SIZE) {
      put((end - addr) / PAGE_SIZE, '-'); // pagemap_read() ends at TASK_SIZE: nothing there
      break;
    }
    const pmdp = peekPmdSlot(mm, addr);
    if (!pmdp) {
      const next = Math.min(alignDown(addr, PUD_SIZE) + PUD_SIZE, end);
      put((next - addr) / PAGE_SIZE, '-');
      addr = next;
      continue;
    }
    const blockEnd = Math.min(alignDown(addr, PMD_SIZE) + PMD_SIZE, end);
    const v = k.pt.peek(tidOf(pmdp), slotOf(pmdp));
    if (pmdTransHuge(v)) {
      // pagemap_pmd_range_thp() asks __folio_page_mapped_exclusively() about `page`, the PMD's
      // first page, for every page it reports: a PTE mapping of another page of the folio does
      // not make those pages shared here (CONFIG_PAGE_MAPCOUNT: the precise page mapcount).
      put((blockEnd - addr) / PAGE_SIZE, pagemapPmdCode(v));
      addr = blockEnd;
      continue;
    }
    if (!pmdIsTable(v)) {
      put((blockEnd - addr) / PAGE_SIZE, '-');
      addr = blockEnd;
      continue;
    }
    const tid = k.pt.tidOfPfn(pmdPfn(v));
    for (; addr < blockEnd; addr += PAGE_SIZE) {
      put(1, pagemapPteCode(k.pt.peek(tid, (addr / PAGE_SIZE) % 512)));
    }
  }
  return runs;
}

/**
 * The pagemap code of a PTE (pte_to_pagemap_entry(), docs/op-scripts.md): '-' none, 'x' present
 * and mapped only here (PM_MMAP_EXCLUSIVE: the page's precise mapcount is 1, CONFIG_PAGE_MAPCOUNT),
 * 'p' present otherwise, 'g' a guard marker, 'w' a uffd-wp marker or a uffd-wp protected swap or
 * migration entry, 's' another swap or migration entry.
 */
export function pagemapPteCode(e: Pte): string {
  const mem = current.k.mem;
  if (e === 0) return '-';
  if (ptePresent(e)) {
    const pfn = ptePfn(e);
    return !pteSpecial(e) && mem.mapcount[pfn] + mem.entireMapcount[mem.folioHead(pfn)] === 1 ? 'x' : 'p';
  }
  if (isGuardPte(e)) return 'g';
  if (pteSwpUffdWpAny(e)) return 'w'; // PM_UFFD_WP: a uffd-wp marker, or a protected swap or migration entry
  return isSwapPte(e) ? 's' : '-';
}

/**
 * The code of every page under a huge PMD (pagemap_pmd_range_thp()): it asks
 * __folio_page_mapped_exclusively() about the PMD's first page for every page it reports, so a
 * PTE mapping of another page of the folio does not make those pages shared here.
 */
export function pagemapPmdCode(v: Pmd): string {
  const mem = current.k.mem;
  const head = pmdPfn(v);
  return mem.entireMapcount[head] + mem.mapcount[head] === 1 ? 'x' : 'p';
}

/** struct pagemapread: the codes of the pages read so far; `pos` counts this chunk's. */
export interface PagemapRead {
  codes: string[];
  pos: number;
}
/** PAGEMAP_WALK_SIZE >> PAGE_SHIFT: pagemap_read()'s buffer holds one PMD's worth of entries. */
const PAGEMAP_LEN = PMD_SIZE / PAGE_SIZE;
const PM_END_OF_BUFFER = 1;

/** add_to_pagemap(). */
function addToPagemap(code: string, pm: PagemapRead): number {
  pm.codes.push(code);
  return ++pm.pos >= PAGEMAP_LEN ? PM_END_OF_BUFFER : 0;
}

/** pagemap_pte_hole(): no entries, inside a VMA or not (soft-dirty is not modelled). */
function pagemapPteHole(start: Vaddr, end: Vaddr, _depth: number, walk: MmWalk<PagemapRead>): number {
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    const err = addToPagemap('-', walk.priv);
    if (err) return err;
  }
  return 0;
}

/**
 * pagemap_pmd_range(): a huge PMD under its lock (pmd_trans_huge_lock()); else the table under
 * pte_offset_map_lock(), whose NULL (the table was reclaimed or retracted after the walk read the
 * PMD) is ACTION_AGAIN: walk_pmd_range() reads the PMD again and finds the hole.
 */
function* pagemapPmdRange(pmdp: number, start: Vaddr, end: Vaddr, walk: MmWalk<PagemapRead>): KGen<number> {
  const vma = walk.vma!;
  const pm = walk.priv;
  let err = 0;
  const ptl = yield* pmdTransHugeLock(vma, pmdp);
  if (ptl !== null) {
    const v = yield* ptepGet(pmdp);
    const code = pmdTransHuge(v) ? pagemapPmdCode(v) : 's'; // a PMD migration entry is PM_SWAP
    for (let addr = start; addr !== end && !err; addr += PAGE_SIZE) err = addToPagemap(code, pm);
    yield* spinUnlock(ptl);
    return err;
  }
  const out = new PteMapOut();
  const orig = yield* pteOffsetMapLock(vma.mm, pmdp, start, out);
  if (orig < 0) {
    walk.action = ACTION_AGAIN;
    return err;
  }
  for (let addr = start, pte = orig; addr < end; pte++, addr += PAGE_SIZE) {
    err = addToPagemap(pagemapPteCode(yield* ptepGet(pte)), pm);
    if (err) break;
  }
  yield* pteUnmapUnlock(orig, out.ptl);
  yield* condResched();
  return err;
}

const PAGEMAP_OPS: MmWalkOps<PagemapRead> = Object.freeze({ pmdEntry: pagemapPmdRange, pteHole: pagemapPteHole, walkLock: 'rdlock' });

/**
 * pagemap_read() of the entries of [start, start + pages * 4K), as read(2) of /proc/PID/pagemap
 * at that position: one PMD's worth per mmap_lock hold, each a walk_page_range(). `pm.codes`
 * receives one code per page. Returns 0, or what the last walk returned (PM_END_OF_BUFFER is a
 * full buffer, not an error: read() returns the bytes copied).
 */
export function* pagemapRead(mm: MmStruct, start: Vaddr, pages: number, pm: PagemapRead): KGen<number> {
  const endVaddr = Math.min(start + pages * PAGE_SIZE, TASK_SIZE);
  let ret = 0;
  for (let startVaddr = start; startVaddr < endVaddr; ) {
    pm.pos = 0;
    const end = Math.min(alignDown(startVaddr + PMD_SIZE, PMD_SIZE), endVaddr);
    yield* downRead(mm.mmapLock); // mmap_read_lock_killable()
    ret = yield* walkPageRange(mm, startVaddr, end, PAGEMAP_OPS, pm);
    yield* upRead(mm.mmapLock);
    startVaddr = end;
  }
  return ret === PM_END_OF_BUFFER ? 0 : ret;
}

/** Run-length form of a pagemap string: [[count, code], ...]. */
export function runLength(codes: string): [number, string][] {
  const runs: [number, string][] = [];
  for (const c of codes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === c) last[0]++;
    else runs.push([1, c]);
  }
  return runs;
}

/** /proc/meminfo PageTables, in kB (drops only when the RCU callbacks free the tables). */
export function meminfoPageTables(): number {
  return current.k.mem.nrPagetable * KB;
}
