/**
 * The kernel's views of an address space, in the kernel's units (fs/proc/task_mmu.c: task_mem()
 * for /proc/PID/status, smaps_rollup, pagemap_read(); fs/proc/meminfo.c: PageTables).
 * Read-only walks with no scheduling points and no sanitizers (peek, not ld).
 */
import { HPAGE_PMD_NR, PAGE_SIZE, PMD_SIZE, PUD_SIZE, TASK_SIZE, alignDown, type Vaddr } from './const.js';
import { current } from './current.js';
import { peekPmdSlot } from './memory/pgalloc.js';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, type MmStruct } from './mm_types.js';
import { PT_ANON, PT_SHMEM } from './page_alloc.js';
import {
  isGuardPte,
  isSwapPte,
  isUffdWpMarker,
  pmdIsTable,
  pmdPfn,
  pmdTransHuge,
  ptePfn,
  ptePresent,
  pteSpecial,
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

/** show_smaps_rollup(): a page walk over every VMA. */
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
      const v = k.pt.peek((pmdp / 512) | 0, pmdp % 512);
      const lo = Math.max(addr, vma.start);
      const hi = Math.min(addr + PMD_SIZE, vma.end);
      if (pmdTransHuge(v)) {
        const pfn = pmdPfn(v);
        if (k.mem.type[pfn] === 5) continue; // the huge zero page is not a normal page
        r.Rss += HPAGE_PMD_NR * KB;
        const t = k.mem.type[pfn];
        if (t === PT_ANON) r.AnonHugePages += HPAGE_PMD_NR * KB;
        else if (t === PT_SHMEM) r.ShmemPmdMapped += HPAGE_PMD_NR * KB;
        else r.FilePmdMapped += HPAGE_PMD_NR * KB;
        continue;
      }
      if (!pmdIsTable(v)) continue;
      const tid = k.pt.tidOfPfn(pmdPfn(v));
      const i0 = (lo - addr) / PAGE_SIZE;
      const i1 = (hi - addr) / PAGE_SIZE;
      k.pt.forEachEntry(tid, (i, e) => {
        if (i >= i0 && i < i1 && ptePresent(e) && !pteSpecial(e)) r.Rss += KB;
      });
    }
  }
  return r;
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
  const mem = k.mem;
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
    const v = k.pt.peek((pmdp / 512) | 0, pmdp % 512);
    if (pmdTransHuge(v)) {
      // pagemap_pmd_range_thp() asks __folio_page_mapped_exclusively() about `page`, the PMD's
      // first page, for every page it reports: a PTE mapping of another page of the folio does
      // not make those pages shared here (CONFIG_PAGE_MAPCOUNT: the precise page mapcount).
      const head = pmdPfn(v);
      put((blockEnd - addr) / PAGE_SIZE, mem.entireMapcount[head] + mem.mapcount[head] === 1 ? 'x' : 'p');
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
      const e = k.pt.peek(tid, (addr / PAGE_SIZE) % 512);
      if (e === 0) put(1, '-');
      else if (ptePresent(e)) {
        const pfn = ptePfn(e);
        const head = mem.folioHead(pfn);
        put(1, !pteSpecial(e) && mem.mapcount[pfn] + mem.entireMapcount[head] === 1 ? 'x' : 'p');
      } else if (isGuardPte(e)) put(1, 'g');
      else if (isUffdWpMarker(e)) put(1, 'w');
      else if (isSwapPte(e)) put(1, 's');
      else put(1, '-');
    }
  }
  return runs;
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
