/**
 * Kernel-path entry points a scenario can put on a CPU (issue 4): each is the model's own code
 * path from src/mm (generator build), started the way the kernel would start it.
 */
import type { Advice, Fadvice } from '../script/ast.js';
import { madviseSyscall } from '../mm/madvise.js';
import { doMunmap } from '../mm/mmap.js';
import { userAccessPath } from '../mm/arch/walk.js';
import { pmdAlloc, pteAlloc, pudAlloc } from '../mm/memory/pgalloc.js';
import { pteOffsetMap, pteUnmap } from '../mm/pgtable_generic.js';
import { condResched, ptepGet, type KGen } from '../mm/primitives.js';
import type { AddressSpace, MmStruct } from '../mm/mm_types.js';
import { EBADF, EBUSY, EINVAL, ENOMEM, PAGE_SIZE, pteIndex } from '../mm/const.js';
import { genericFadvise } from '../mm/fadvise.js';
import { gupFast } from '../mm/gup.js';
import { mwriteprotectRange, userfaultfdFill } from '../mm/userfaultfd.js';
import { userfaultfdMove } from '../mm/userfaultfd_move.js';
import { folioCheckReferences, shrinkFolio } from '../mm/vmscan.js';
import { writebackFolio } from '../mm/page_writeback.js';
import { peekPageCacheFolio } from '../mm/filemap.js';
import { vmaLookup, vmaLookupUnlocked } from '../mm/vma_tree.js';
import { doMprotectPkey } from '../mm/mprotect.js';
import { doMremap, MREMAP_FIXED, MREMAP_MAYMOVE } from '../mm/mremap.js';
import { sysMincore } from '../mm/mincore.js';
import { doPagesStat } from '../mm/move_pages.js';
import { pagemapRead, showSmapsRollup, type PagemapRead, type SmapsRollup } from '../mm/task_mmu.js';
import { doPagemapScan, pmScanArg } from '../mm/pagemap_scan.js';
import { ptdumpWalkPgd } from '../mm/ptdump.js';
import { walkMm, type LruGenWalk } from '../mm/lru_gen.js';
import { taskNumaWork } from '../mm/numa_balancing.js';
import { dupMm } from '../mm/fork.js';
import { tcpSockAt, tcpZerocopy, zerocopyLockSections } from '../mm/tcp.js';
import { binderTransaction } from '../mm/binder.js';
import { swapoff } from '../mm/swapoff.js';
import { doMlock } from '../mm/mlock.js';
import { clearRefsWrite } from '../mm/clear_refs.js';
import { compactPage } from '../mm/migrate.js';
import { peekMappedFolio, peekPmdSlot } from '../mm/memory/pgalloc.js';
import { slotOf, tidOf } from '../mm/pgtable.js';
import { pmdIsTable, pmdPfn, pmdTransHuge, ptePresent } from '../mm/pgtable_types.js';
import { mmFindPmd } from '../mm/pgtable_mm.js';

export type TaskSpec =
  | { kind: 'madvise'; map: string; offset: number; len: number; advice: Advice }
  | { kind: 'touch'; map: string; offset: number; len: number; write: boolean }
  | { kind: 'unmap'; map: string; offset: number; len: number }
  /**
   * A pte_offset_map() reader: map the table under RCU, read `len` bytes' entries, pte_unmap().
   * Its result is 1 if pte_offset_map() gave a table, else 0. Not the entries it read: read without
   * the PTE lock they are no snapshot (a zap may clear them one by one in between), which is why a
   * kernel reader acts on an entry only after pte_offset_map_lock() and pte_same(); an order-free
   * count would be an "anomaly" of the reader, not of the kernel (swarm seed 13, job 24).
   */
  | { kind: 'pte_offset_map'; map: string; offset: number; len: number }
  /** The first half of any fault: make sure a PTE table is installed (pte_alloc() → pmd_install()). */
  | { kind: 'pte_alloc'; map: string; offset: number }
  /** UFFDIO_MOVE of one page from `map`+`offset` to `dst`+`dstOffset` (same process). */
  | { kind: 'uffd_move'; map: string; offset: number; dst: string; dstOffset: number }
  /**
   * UFFDIO_COPY / UFFDIO_ZEROPAGE of `len` bytes at `map`+`offset` (mfill_atomic()); the range must
   * be registered in the setup (`uffd_register`). Its result is the ioctl's: 0, -EAGAIN for a
   * partial fill, or the error of the first page.
   */
  | { kind: 'uffd_copy' | 'uffd_zeropage'; map: string; offset: number; len: number }
  /** UFFDIO_WRITEPROTECT on (`wp`) or off of `len` bytes at `map`+`offset` (mwriteprotect_range()). */
  | { kind: 'uffd_writeprotect'; map: string; offset: number; len: number; wp: boolean }
  /** gup_fast() of `len` bytes (inside one 2 MiB block), for writing. */
  | { kind: 'gup_fast'; map: string; offset: number; len: number }
  /**
   * Page reclaim's rmap walk of the page-cache folio mapped at `map`+`offset` at the task's first
   * step (the folio reclaim takes off the LRU): folio lock, i_mmap, try_to_unmap_one() in every VMA.
   */
  | { kind: 'rmap_walk'; map: string; offset: number }
  /**
   * Page reclaim's reference check of the folio (anonymous or page cache) mapped at `map`+`offset`
   * (vmscan.ts folioCheckReferences(): isolated, locked, folio_referenced()'s rmap walk clearing
   * young bits). Its result: the VMAs that referenced it, -1 when i_mmap_rwsem was contended,
   * -EBUSY or -EAGAIN when another path holds it isolated or locked, -EINVAL when nothing is mapped.
   */
  | { kind: 'folio_referenced'; map: string; offset: number }
  /**
   * Writeback of the page-cache folio mapped at `map`+`offset` (page_writeback.ts writebackFolio():
   * folio_clear_dirty_for_io()'s folio_mkclean() write-protects and cleans every shared PTE of it).
   * Its result: 1 when the folio was dirty (it would be written), 0 when clean, -EINVAL for a folio
   * of a mapping that cannot write back (shmem, anonymous) or when nothing is mapped.
   */
  | { kind: 'folio_mkclean'; map: string; offset: number }
  /**
   * Compaction's migration of the small folio (anonymous or page cache) mapped at `map`+`offset`
   * at the task's first step (the folio isolate_migratepages_block() takes), to a new folio
   * (migrate.ts: migrate_pages()). Its result: 0 when it moved, -EAGAIN when it stayed busy,
   * -EBUSY when another path holds it isolated, -EINVAL when there is no small folio outside the
   * swap cache there (the model migrates no other).
   */
  | { kind: 'migrate'; map: string; offset: number }
  /** mprotect() of `len` bytes at `map`+`offset`; `prot`: PROT_READ | PROT_WRITE | PROT_EXEC bits. */
  | { kind: 'mprotect'; map: string; offset: number; len: number; prot: number }
  /**
   * mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of `len` bytes at `map`+`offset` to `dst`+`dstOffset`,
   * the same length: the move-only path of remap_move().
   */
  | { kind: 'mremap'; map: string; offset: number; len: number; dst: string; dstOffset: number }
  /**
   * mincore() of `len` bytes at `map`+`offset` (mm/mincore.c): a walker that reads entries under
   * pte_offset_map_lock(). Its result is the number of pages it found resident, or the errno.
   */
  | { kind: 'mincore'; map: string; offset: number; len: number }
  /**
   * move_pages(2) of the pages of `len` bytes at `map`+`offset` with no target nodes: the query of
   * each page's node (move_pages.ts, do_pages_stat(): folio_walk_start() under the mmap_lock for
   * read). Its result is the number of pages it found on a node.
   */
  | { kind: 'move_pages'; map: string; offset: number; len: number }
  /**
   * read(2) of /proc/PID/pagemap for `len` bytes at `map`+`offset` (fs/proc/task_mmu.c,
   * pagemap_read()): walk_page_range() under the mmap_lock for read, each table mapped with
   * pte_offset_map_lock(). It stands for the /proc walkers and the other VMA walkers whose
   * ->pmd_entry() does the same (docs/audit.md). Its result is the number of pages it reported
   * present.
   */
  | { kind: 'pagemap'; map: string; offset: number; len: number }
  /**
   * The PAGEMAP_SCAN ioctl on /proc/PID/pagemap over `len` bytes at `map`+`offset`
   * (pagemap_scan.ts, do_pagemap_scan()): walk_page_range() under the mmap_lock for read, a huge
   * PMD under its lock, each table mapped with pte_offset_map_lock(); every category asked, a
   * read-only scan (docs/audit.md #69). Its result is the number of regions it returned.
   */
  | { kind: 'pagemap_scan'; map: string; offset: number; len: number }
  /**
   * ptdump_walk_pgd() of `len` bytes at `map`+`offset` (mm/ptdump.c): under the mmap_lock for
   * write but no VMA lock, each table mapped with pte_offset_map() and read with no PTE lock. Its
   * result is 0: entries read with no lock are no snapshot (as for `pte_offset_map`).
   */
  | { kind: 'ptdump'; map: string; offset: number; len: number }
  /**
   * The multi-gen LRU's aging walk of `len` bytes at `map`+`offset` (mm/vmscan.c, walk_mm():
   * mmap_read_trylock(), walk_pte_range() under a trylocked PTE lock). Its result: the young
   * bits it cleared, or -16 (-EBUSY) when the mmap_lock was contended and it did not walk.
   */
  | { kind: 'mglru_walk'; map: string; offset: number; len: number }
  /**
   * A NUMA balancing scan of `len` bytes at `map`+`offset` (kernel/sched/fair.c, task_numa_work():
   * mmap_read_trylock(), change_prot_numa() under no VMA lock). Its result: the entries it made
   * PAGE_NONE, or -16 (-EBUSY) when the mmap_lock was contended and it did not scan. The next
   * access to such a page is a NUMA hinting fault (do_numa_page(); one node: no migration).
   */
  | { kind: 'numa_scan'; map: string; offset: number; len: number }
  /**
   * fork() of the task's process (kernel/fork.c dup_mm() → mm/mmap.c dup_mmap()): every VMA and
   * the tables under it copied into a new process. Its result: the pages of `len` bytes at
   * `map`+`offset` that the child has mapped when the copy is done (or the errno), which says
   * whether the copy saw a concurrent change of that range whole, not at all, or in part.
   */
  | { kind: 'fork'; map: string; offset: number; len: number }
  /**
   * mlock() / munlock() of `len` bytes at `map`+`offset` (mlock.ts: apply_vma_lock_flags(), the
   * walk of what is mapped already, then, for mlock, the faults of __mm_populate()). Its result:
   * 0 or the errno.
   */
  | { kind: 'mlock' | 'munlock'; map: string; offset: number; len: number }
  /**
   * TCP zerocopy receive (net/ipv4/tcp.c tcp_zerocopy_receive() → vm_insert_pages()) of `len`
   * bytes the peer sent, into the tcp mapping at `map`+`offset`. Its result: the pages mapped, or
   * the errno when the call failed.
   */
  | { kind: 'tcp_zerocopy'; map: string; offset: number; len: number }
  /**
   * A binder transaction of `len` bytes landing in the buffer at `map`+`offset` of a binder
   * mapping (binder.ts: binder_install_buffer_pages(), vm_insert_page() of each missing page under
   * the VMA's read lock). Its result: 0 or the errno.
   */
  | { kind: 'binder_transaction'; map: string; offset: number; len: number }
  /**
   * swapoff(2) of the swap area (swapoff.ts: try_to_unuse()), system-wide: it names no mapping
   * (`map` is empty). Its result: 0 or the errno.
   */
  | { kind: 'swapoff'; map: ''; offset: 0 }
  /**
   * A write of `type` (1, 2, 3 or 5) to the process's /proc/PID/clear_refs (clear_refs.ts): a walk
   * of every VMA under the mmap_lock for write, each VMA write-locked first. It names no mapping
   * (`map` is empty). Its result: 0 or the errno.
   */
  | { kind: 'clear_refs'; map: ''; offset: 0; type: number }
  /**
   * A read of the process's /proc/PID/smaps_rollup (task_mmu.ts: show_smaps_rollup(), a walk of
   * every VMA under the mmap_lock for read). It names no mapping. Its result: the Rss it reports,
   * in pages.
   */
  | { kind: 'smaps_rollup'; map: ''; offset: 0 }
  /**
   * posix_fadvise(POSIX_FADV_DONTNEED) of the file range `map` maps at [offset, offset + len)
   * (fadvise.ts: writeback of its dirty pages, then mapping_try_invalidate() of what nothing maps).
   * The file is the one the mapping maps there as the setup left it (a constant of the scenario,
   * as for folio_referenced). Its result: the pages it evicted, or -EBADF for a mapping of no file.
   */
  | { kind: 'fadvise'; map: string; offset: number; len: number; advice: Fadvice };

export const TASK_KINDS = [
  'madvise', 'touch', 'unmap', 'pte_offset_map', 'pte_alloc', 'gup_fast', 'uffd_move', 'uffd_copy', 'uffd_zeropage', 'uffd_writeprotect',
  'rmap_walk', 'folio_referenced', 'folio_mkclean', 'migrate', 'mprotect', 'mremap', 'mincore', 'move_pages', 'pagemap', 'pagemap_scan', 'ptdump', 'mglru_walk', 'numa_scan', 'fork',
  'tcp_zerocopy', 'binder_transaction', 'swapoff', 'mlock', 'munlock', 'clear_refs', 'smaps_rollup', 'fadvise',
] as const;

/** MADV_POPULATE_READ / MADV_POPULATE_WRITE: a fault per page. */
export function isPopulate(advice: Advice): boolean {
  return advice === 'populate_read' || advice === 'populate_write';
}

/** The file and page index a file or shmem mapping maps at addr; null for anonymous memory. */
function pageCacheTarget(mm: MmStruct, addr: number): { file: AddressSpace; index: number } | null {
  const vma = vmaLookup(mm, addr);
  return vma?.file ? { file: vma.file, index: vma.pgoff + (addr - vma.start) / PAGE_SIZE } : null;
}

/** What shrinkFolio() did, as the task's result. */
const SHRINK_RESULT = { unmapped: 0, 'still-mapped': 1, locked: 2, 'not-page-cache': -EINVAL, 'no-swap': 3, isolated: -EBUSY } as const;

/**
 * Start a task; `maps` gives the address of each mapping of the task's process. `onUnit` is
 * called between two units of the task (explain.ts, taskUnits(): the pages of a touch), so that a
 * sequential run can stop there and run another task.
 */
export function* runTask(mm: MmStruct, maps: ReadonlyMap<string, number>, t: TaskSpec, onUnit?: () => void): KGen<number> {
  if (t.kind === 'swapoff') return yield* swapoff();
  if (t.kind === 'clear_refs') return yield* clearRefsWrite(mm, t.type);
  if (t.kind === 'smaps_rollup') {
    const mss: SmapsRollup = { Rss: 0, AnonHugePages: 0, ShmemPmdMapped: 0, FilePmdMapped: 0 };
    yield* showSmapsRollup(mm, mss);
    return mss.Rss / (PAGE_SIZE / 1024);
  }
  const addr = maps.get(t.map)! + t.offset;
  switch (t.kind) {
    case 'madvise':
      // MADV_POPULATE_(READ|WRITE) is a loop of faults, page by page (faultin_page_range()), and
      // other paths may run between two of them: a sequential run of the explainer (`onUnit`)
      // populates one page per unit, as it touches one page per unit.
      if (onUnit && isPopulate(t.advice)) {
        for (let a = addr; a < addr + t.len; a += PAGE_SIZE) {
          if (a !== addr) onUnit();
          const r = yield* madviseSyscall(mm, a, PAGE_SIZE, t.advice);
          if (r) return r;
        }
        return 0;
      }
      return yield* madviseSyscall(mm, addr, t.len, t.advice);
    case 'touch': {
      for (let a = addr; a < addr + t.len; a += PAGE_SIZE) {
        if (a !== addr) onUnit?.();
        const r = yield* userAccessPath(mm, a, t.write);
        if (r) return -r;
      }
      return 0;
    }
    case 'unmap':
      return yield* doMunmap(mm, addr, t.len);
    case 'pte_offset_map': {
      const pmdp = yield* mmFindPmd(mm, addr);
      if (!pmdp) return 0;
      const pte = yield* pteOffsetMap(pmdp, addr);
      if (pte < 0) return 0;
      for (let i = 0; i < t.len / PAGE_SIZE; i++) yield* ptepGet(pte + i);
      yield* pteUnmap(pte);
      return 1;
    }
    case 'uffd_move':
      return yield* userfaultfdMove(mm, maps.get(t.dst)! + t.dstOffset, addr, PAGE_SIZE, 0);
    case 'uffd_copy':
    case 'uffd_zeropage':
      return yield* userfaultfdFill(mm, addr, t.len, t.kind === 'uffd_copy' ? 'copy' : 'zeropage');
    case 'uffd_writeprotect':
      return yield* mwriteprotectRange(mm, addr, t.len, t.wp);
    case 'gup_fast':
      return yield* gupFast(mm, addr, t.len / PAGE_SIZE, true);
    case 'rmap_walk': {
      // Reclaim meets the folio on the LRU after a cond_resched() between batches (shrink_lruvec());
      // the model finds it through the page table in that step, as compaction does (migrate.ts).
      yield* condResched();
      const head = peekMappedFolio(mm, addr);
      return head ? SHRINK_RESULT[yield* shrinkFolio(head)] : -EINVAL;
    }
    case 'folio_referenced':
    case 'folio_mkclean': {
      // Both meet the folio after a cond_resched(), writeback in the page cache, reclaim on the
      // LRU. A page-cache folio stays in the cache when it is unmapped, so the task's target is
      // the page of the file the mapping maps there, as the setup left it: a constant of the
      // scenario, read before the first step, not state the task observes. The folio is looked
      // up in that step (a collapse may have replaced it); an anonymous one through the page
      // table, as rmap_walk does.
      const target = pageCacheTarget(mm, addr);
      yield* condResched();
      const head = target ? peekPageCacheFolio(target.file, target.index) : peekMappedFolio(mm, addr);
      if (!head) return -EINVAL;
      if (t.kind === 'folio_mkclean') return yield* writebackFolio(head);
      const vma = vmaLookupUnlocked(mm, addr);
      return yield* folioCheckReferences(head, vma ? { head, vma, address: addr } : undefined);
    }
    case 'migrate':
      return yield* compactPage(mm, addr);
    case 'fadvise': {
      const target = pageCacheTarget(mm, addr);
      if (!target) return -EBADF;
      const out = { evicted: 0 };
      yield* genericFadvise(target.file, target.index * PAGE_SIZE, t.len, t.advice, out);
      return out.evicted;
    }
    case 'mprotect':
      return yield* doMprotectPkey(mm, addr, t.len, t.prot);
    case 'move_pages': {
      const pages = Array.from({ length: t.len / PAGE_SIZE }, (_, i) => addr + i * PAGE_SIZE);
      // A sequential run of the explainer (`onUnit`) asks page by page, so that another task can
      // run between two pages (explain.ts, taskUnits()).
      if (!onUnit) return (yield* doPagesStat(mm, pages)).filter((s) => s >= 0).length;
      let found = 0;
      for (const [i, a] of pages.entries()) {
        if (i) onUnit();
        if ((yield* doPagesStat(mm, [a]))[0] >= 0) found++;
      }
      return found;
    }
    case 'mremap': {
      // The new address, or a negative errno.
      const r = yield* doMremap(mm, addr, t.len, t.len, MREMAP_MAYMOVE | MREMAP_FIXED, maps.get(t.dst)! + t.dstOffset);
      return r < 0 ? r : 0;
    }
    case 'mincore': {
      const vec: number[] = [];
      const r = yield* sysMincore(mm, addr, t.len, vec);
      return r < 0 ? r : vec.reduce((n, v) => n + v, 0);
    }
    case 'pagemap': {
      const pm: PagemapRead = { codes: [], pos: 0 };
      const r = yield* pagemapRead(mm, addr, t.len / PAGE_SIZE, pm);
      return r < 0 ? r : pm.codes.filter((c) => c === 'x' || c === 'p').length;
    }
    case 'pagemap_scan':
      return yield* doPagemapScan(mm, pmScanArg(addr, addr + t.len, t.len / PAGE_SIZE));
    case 'ptdump':
      yield* ptdumpWalkPgd({ present: 0, holes: 0 }, mm, addr, addr + t.len);
      return 0;
    case 'mglru_walk': {
      const walk: LruGenWalk = { young: 0, busy: 0 };
      return (yield* walkMm(mm, addr, addr + t.len, walk)) ? walk.young : -EBUSY;
    }
    case 'numa_scan':
      return yield* taskNumaWork(mm, addr, addr + t.len);
    case 'mlock':
    case 'munlock':
      return yield* doMlock(mm, addr, t.len, t.kind === 'mlock');
    case 'fork': {
      const child = yield* dupMm(mm, `${mm.name}.child`);
      return typeof child === 'number' ? child : mappedPages(child, addr, t.len);
    }
    case 'tcp_zerocopy': {
      // A sequential run of the explainer receives one PTE-lock section per unit (taskUnits()):
      // another path may run between two batches of insert_pages(), with or without reclaim.
      const sections = onUnit ? zerocopyLockSections(t.offset, t.len) : [t.len / PAGE_SIZE];
      // The socket whose fd the getsockopt() names: the one the mapping maps as the setup left
      // it, a constant of the scenario (read before the first step, as pageCacheTarget()).
      const sock = tcpSockAt(mm, addr);
      let pages = 0;
      let at = addr;
      for (const [i, n] of sections.entries()) {
        if (i) onUnit?.();
        const { ret, length } = yield* tcpZerocopy(mm, at, n * PAGE_SIZE, sock);
        // As the kernel: an error after some data was mapped is not reported.
        if (ret < 0) return pages || ret;
        pages += length / PAGE_SIZE;
        at += n * PAGE_SIZE;
      }
      return pages;
    }
    case 'binder_transaction': {
      // A sequential run of the explainer installs one page per unit (taskUnits()): no lock is
      // held from one page to the next.
      if (!onUnit) return yield* binderTransaction(mm, addr, t.len);
      for (let off = 0; off < t.len; off += PAGE_SIZE) {
        if (off) onUnit();
        const ret = yield* binderTransaction(mm, addr + off, PAGE_SIZE);
        if (ret) return ret;
      }
      return 0;
    }
    case 'pte_alloc': {
      const pudp = yield* pudAlloc(mm, addr);
      const pmdp = pudp ? yield* pmdAlloc(mm, pudp, addr) : 0;
      return pmdp && (yield* pteAlloc(mm, pmdp, addr)) ? 0 : -ENOMEM;
    }
  }
}

/**
 * The pages of [addr, addr + len) that `mm` maps (a present PTE or a huge PMD), read without
 * scheduling points: a child fork has just made, which no other path can reach yet.
 */
function mappedPages(mm: MmStruct, addr: number, len: number): number {
  const pt = mm.kernel.pt;
  let n = 0;
  for (let a = addr; a < addr + len; a += PAGE_SIZE) {
    const pmdp = peekPmdSlot(mm, a);
    const pmdv = pmdp ? pt.peek(tidOf(pmdp), slotOf(pmdp)) : 0;
    if (pmdTransHuge(pmdv)) n++;
    else if (pmdIsTable(pmdv) && ptePresent(pt.peek(pt.tidOfPfn(pmdPfn(pmdv)), pteIndex(a)))) n++;
  }
  return n;
}
