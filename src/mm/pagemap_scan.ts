/**
 * PAGEMAP_SCAN, the ioctl of /proc/PID/pagemap (fs/proc/task_mmu.c, Linux 6.18: do_pagemap_scan()
 * and its walk callbacks; docs/audit.md #69). The scan reports the pages of a range as regions of
 * PAGE_IS_* categories, walking with walk_page_range() under the mmap_lock for read, one
 * bounce buffer of regions per walk. Its ->pmd_entry() maps each table with
 * pte_offset_map_lock(), whose NULL (a table reclaimed or retracted after the walk read the PMD)
 * is ACTION_AGAIN, as for the other /proc walkers.
 *
 * PM_SCAN_WP_MATCHING, the half that writes uffd-wp bits and markers into tables, needs a VMA
 * whose userfaultfd has UFFD_FEATURE_WP_ASYNC, which the model's userfaultfd has not: such scans
 * skip every VMA (or fail with -EPERM under PM_SCAN_CHECK_WPASYNC) in pagemapScanTestWalk(), as
 * the kernel does for a VMA without it, and no write-protect path is modelled. PAGE_IS_SOFT_DIRTY is
 * never set: this machine's kernel is built without CONFIG_MEM_SOFT_DIRTY, and so is the model (no
 * VM_SOFTDIRTY, no soft-dirty bits).
 */
import { EFAULT, EINVAL, ENOENT, ENOSPC, EPERM, PAGE_SIZE, PMD_SIZE, TASK_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { isHugeZeroPmd, pmdTransHugeLock } from './huge_memory.js';
import { VM_PFNMAP, VM_UFFD_WP, type MmStruct, type Vma } from './mm_types.js';
import { PT_ANON } from './page_alloc.js';
import { ACTION_AGAIN, walkPageRange, type MmWalk, type MmWalkOps } from './pagewalk.js';
import { PteMapOut, pteOffsetMapLock, pteUnmapUnlock } from './pgtable_generic.js';
import {
  _PAGE_SWP_UFFD_WP,
  isGuardPte,
  isMigrationPte,
  isSwapPte,
  pteSwpUffdWpAny,
  pmdPfn,
  pmdPresent,
  pteFlags,
  pteNone,
  ptePfn,
  ptePresent,
  pteSpecial,
  pteUffdWp,
  swpOffset,
  type Pmd,
  type Pte,
} from './pgtable_types.js';
import { condResched, downRead, ptepGet, spinUnlock, upRead, type KGen } from './primitives.js';

/** The PAGE_IS_* categories (include/uapi/linux/fs.h, 6.18). */
export const PAGE_IS_WPALLOWED = 1 << 0;
export const PAGE_IS_WRITTEN = 1 << 1;
export const PAGE_IS_FILE = 1 << 2;
export const PAGE_IS_PRESENT = 1 << 3;
export const PAGE_IS_SWAPPED = 1 << 4;
export const PAGE_IS_PFNZERO = 1 << 5;
export const PAGE_IS_HUGE = 1 << 6;
export const PAGE_IS_SOFT_DIRTY = 1 << 7;
export const PAGE_IS_GUARD = 1 << 8;
export const PM_SCAN_WP_MATCHING = 1 << 0;
export const PM_SCAN_CHECK_WPASYNC = 1 << 1;
const PM_SCAN_CATEGORIES =
  PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_FILE | PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO | PAGE_IS_HUGE | PAGE_IS_SOFT_DIRTY | PAGE_IS_GUARD;
const PM_SCAN_FLAGS = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
/** Every category but soft-dirty (never set here): what a snapshot asks to be returned. */
export const PM_SCAN_MODELLED = PM_SCAN_CATEGORIES & ~PAGE_IS_SOFT_DIRTY;

/** struct page_region. */
export interface PageRegion {
  start: Vaddr;
  end: Vaddr;
  categories: number;
}

/** struct pm_scan_arg; `vec` is the user's array of regions, `vecLen` its room. */
export interface PmScanArg {
  flags: number;
  start: Vaddr;
  end: Vaddr;
  walkEnd: Vaddr;
  vec: PageRegion[];
  vecLen: number;
  /** 0: no limit */
  maxPages: number;
  categoryInverted: number;
  categoryMask: number;
  categoryAnyofMask: number;
  returnMask: number;
}

/** A read-only scan of [start, end) that returns `returnMask` and matches every page. */
export function pmScanArg(start: Vaddr, end: Vaddr, vecLen: number, returnMask = PM_SCAN_MODELLED): PmScanArg {
  return { flags: 0, start, end, walkEnd: 0, vec: [], vecLen, maxPages: 0, categoryInverted: 0, categoryMask: 0, categoryAnyofMask: 0, returnMask };
}

/** struct pagemap_scan_private. */
interface PagemapScanPrivate {
  arg: PmScanArg;
  masksOfInterest: number;
  curVmaCategory: number;
  vecBuf: PageRegion[] | null;
  vecBufLen: number;
  vecBufIndex: number;
  foundPages: number;
}

/** PAGEMAP_WALK_SIZE >> PAGE_SHIFT: the bounce buffer's regions. */
const PAGEMAP_WALK_REGIONS = PMD_SIZE / PAGE_SIZE;

/** vm_normal_page() of a present entry is a page-cache (or other non-anonymous) page. */
function isFilePage(pfn: number): boolean {
  const mem = current.k.mem;
  return mem.type[mem.folioHead(pfn as Pfn)] !== PT_ANON;
}

/**
 * pagemap_page_category(). An empty entry is PAGE_IS_WRITTEN, as this machine's kernel (6.18.44)
 * reports it, where the 6.18.2 source gives it no category (measured; docs/op-scripts.md,
 * "PAGEMAP_SCAN codes").
 */
function pagemapPageCategory(p: PagemapScanPrivate, pte: Pte): number {
  let categories = 0;
  if (pteNone(pte)) {
    categories |= PAGE_IS_WRITTEN;
  } else if (ptePresent(pte)) {
    categories |= PAGE_IS_PRESENT;
    if (!pteUffdWp(pte)) categories |= PAGE_IS_WRITTEN;
    // vm_normal_page(): a special entry (the zero page) has no page.
    if (p.masksOfInterest & PAGE_IS_FILE && !pteSpecial(pte) && isFilePage(ptePfn(pte))) categories |= PAGE_IS_FILE;
    if (ptePfn(pte) === current.k.mem.zeroPfn) categories |= PAGE_IS_PFNZERO;
  } else if (isSwapPte(pte)) {
    categories |= PAGE_IS_SWAPPED;
    if (!pteSwpUffdWpAny(pte)) categories |= PAGE_IS_WRITTEN;
    if (isGuardPte(pte)) categories |= PAGE_IS_GUARD;
    // is_pfn_swap_entry(): of the model's entries, a migration entry names its page
    else if (p.masksOfInterest & PAGE_IS_FILE && isMigrationPte(pte) && isFilePage(swpOffset(pte))) categories |= PAGE_IS_FILE;
  }
  return categories;
}

/** pagemap_thp_category(): a huge PMD or a PMD migration entry. */
function pagemapThpCategory(p: PagemapScanPrivate, pmd: Pmd): number {
  let categories = PAGE_IS_HUGE;
  if (pmdPresent(pmd)) {
    categories |= PAGE_IS_PRESENT;
    if (!pteUffdWp(pmd)) categories |= PAGE_IS_WRITTEN;
    // vm_normal_page_pmd(): the huge zero page has no page.
    if (p.masksOfInterest & PAGE_IS_FILE && !isHugeZeroPmd(pmd) && isFilePage(pmdPfn(pmd))) categories |= PAGE_IS_FILE;
    if (isHugeZeroPmd(pmd)) categories |= PAGE_IS_PFNZERO;
  } else if (isSwapPte(pmd)) {
    categories |= PAGE_IS_SWAPPED;
    if (!(pteFlags(pmd) & _PAGE_SWP_UFFD_WP)) categories |= PAGE_IS_WRITTEN;
    if (p.masksOfInterest & PAGE_IS_FILE && isMigrationPte(pmd) && isFilePage(swpOffset(pmd))) categories |= PAGE_IS_FILE;
  }
  return categories;
}

/** pagemap_scan_is_interesting_page(). */
function pagemapScanIsInterestingPage(categories: number, p: PagemapScanPrivate): boolean {
  categories ^= p.arg.categoryInverted;
  if ((categories & p.arg.categoryMask) !== p.arg.categoryMask) return false;
  if (p.arg.categoryAnyofMask && !(categories & p.arg.categoryAnyofMask)) return false;
  return true;
}

/** pagemap_scan_is_interesting_vma(). */
function pagemapScanIsInterestingVma(categories: number, p: PagemapScanPrivate): boolean {
  const required = p.arg.categoryMask & PAGE_IS_WPALLOWED;
  categories ^= p.arg.categoryInverted;
  return (categories & required) === required;
}

/** pagemap_scan_test_walk(): 0 walks the VMA, 1 skips it. */
function pagemapScanTestWalk(_start: Vaddr, _end: Vaddr, walk: MmWalk<PagemapScanPrivate>): number {
  const p = walk.priv;
  const vma: Vma = walk.vma!;
  let vmaCategory = 0;
  // userfaultfd_wp_async() && userfaultfd_wp_use_markers(): no model VMA has UFFD_FEATURE_WP_ASYNC.
  const wpAllowed = false;
  if (!wpAllowed) {
    // User requested explicit failure over wp-async capability
    if (p.arg.flags & PM_SCAN_CHECK_WPASYNC) return -EPERM;
    // User requires wr-protect, and allows silently skipping unsupported vmas.
    if (p.arg.flags & PM_SCAN_WP_MATCHING) return 1;
  }
  if (vma.flags & VM_PFNMAP) return 1;
  if (wpAllowed) vmaCategory |= PAGE_IS_WPALLOWED;
  if (!pagemapScanIsInterestingVma(vmaCategory, p)) return 1;
  p.curVmaCategory = vmaCategory;
  return 0;
}

/** pagemap_scan_push_range(): extend the current region or start the next; false when the buffer is full. */
function pagemapScanPushRange(categories: number, p: PagemapScanPrivate, addr: Vaddr, end: Vaddr): boolean {
  const buf = p.vecBuf!;
  let cur = buf[p.vecBufIndex];
  if (addr === cur.end && categories === cur.categories) {
    cur.end = end;
    return true;
  }
  if (cur.end) {
    if (p.vecBufIndex >= p.vecBufLen - 1) return false;
    cur = buf[++p.vecBufIndex];
  }
  cur.start = addr;
  cur.end = end;
  cur.categories = categories;
  return true;
}

/**
 * pagemap_scan_output(): report [addr, end.v) with `categories`; `end.v` is cut back where the page
 * limit or a full buffer stops the walk (then -ENOSPC, and walk_end records where).
 */
function pagemapScanOutput(categories: number, p: PagemapScanPrivate, addr: Vaddr, end: { v: Vaddr }): number {
  let ret = 0;
  if (!p.vecBuf) return 0;
  categories &= p.arg.returnMask;
  let nPages = (end.v - addr) / PAGE_SIZE;
  if (p.foundPages + nPages > p.arg.maxPages) {
    const nTooMuch = p.foundPages + nPages - p.arg.maxPages;
    end.v -= nTooMuch * PAGE_SIZE;
    nPages -= nTooMuch;
    ret = -ENOSPC;
  }
  if (!pagemapScanPushRange(categories, p, addr, end.v)) {
    end.v = addr;
    nPages = 0;
    ret = -ENOSPC;
  }
  p.foundPages += nPages;
  if (ret) p.arg.walkEnd = end.v;
  return ret;
}

/** pagemap_scan_thp_entry(): a huge PMD (or PMD migration entry) under its lock; -ENOENT if none. */
function* pagemapScanThpEntry(pmdp: number, start: Vaddr, end: Vaddr, walk: MmWalk<PagemapScanPrivate>): KGen<number> {
  const p = walk.priv;
  const ptl = yield* pmdTransHugeLock(walk.vma!, pmdp);
  if (ptl === null) return -ENOENT;
  let ret = 0;
  const categories = p.curVmaCategory | pagemapThpCategory(p, yield* ptepGet(pmdp));
  // PM_SCAN_WP_MATCHING never walks a VMA here (pagemapScanTestWalk()): nothing to write-protect.
  if (pagemapScanIsInterestingPage(categories, p)) ret = pagemapScanOutput(categories, p, start, { v: end });
  yield* spinUnlock(ptl);
  return ret;
}

/**
 * pagemap_scan_pmd_entry(): a huge PMD whole, else each entry of the table under
 * pte_offset_map_lock(); NULL (the table went away after the walk read the PMD) is ACTION_AGAIN.
 */
function* pagemapScanPmdEntry(pmdp: number, start: Vaddr, end: Vaddr, walk: MmWalk<PagemapScanPrivate>): KGen<number> {
  const p = walk.priv;
  let ret = yield* pagemapScanThpEntry(pmdp, start, end, walk);
  if (ret !== -ENOENT) return ret;
  ret = 0;
  const out = new PteMapOut();
  const startPte = yield* pteOffsetMapLock(walk.mm, pmdp, start, out);
  if (startPte < 0) {
    walk.action = ACTION_AGAIN;
    return 0;
  }
  let pte = startPte;
  // Not modelled, as no walked VMA can reach it (pagemapScanTestWalk()): the PM_SCAN_WP_MATCHING
  // paths, the exclusive write-protect fast path first, make_uffd_wp_pte() after each output below,
  // and the flush_tlb_range() of what they protected.
  if (!p.arg.categoryAnyofMask && !p.arg.categoryInverted && p.arg.categoryMask === PAGE_IS_WRITTEN && p.arg.returnMask === PAGE_IS_WRITTEN) {
    // Only written pages, reported as written: every entry without a uffd-wp bit, none included.
    for (let addr = start; addr < end; pte++, addr += PAGE_SIZE) {
      const next = { v: addr + PAGE_SIZE };
      const ptent = yield* ptepGet(pte);
      if ((ptePresent(ptent) && pteUffdWp(ptent)) || pteSwpUffdWpAny(ptent)) continue;
      ret = pagemapScanOutput(p.curVmaCategory | PAGE_IS_WRITTEN, p, addr, next);
      if (next.v === addr) break;
    }
  } else {
    for (let addr = start; addr !== end; pte++, addr += PAGE_SIZE) {
      const categories = p.curVmaCategory | pagemapPageCategory(p, yield* ptepGet(pte));
      const next = { v: addr + PAGE_SIZE };
      if (!pagemapScanIsInterestingPage(categories, p)) continue;
      ret = pagemapScanOutput(categories, p, addr, next);
      if (next.v === addr) break;
    }
  }
  yield* pteUnmapUnlock(startPte, out.ptl);
  yield* condResched();
  return ret;
}

/**
 * pagemap_scan_pte_hole(): no table; inside a VMA, its pages have the VMA's categories, and
 * PAGE_IS_WRITTEN in a VMA registered for uffd-wp, as this machine's kernel (6.18.44) reports them
 * where the 6.18.2 source does not (measured; docs/op-scripts.md, "PAGEMAP_SCAN codes").
 */
function pagemapScanPteHole(addr: Vaddr, end: Vaddr, _depth: number, walk: MmWalk<PagemapScanPrivate>): number {
  const p = walk.priv;
  if (!walk.vma) return 0;
  const categories = p.curVmaCategory | (walk.vma.flags & VM_UFFD_WP ? PAGE_IS_WRITTEN : 0);
  if (!pagemapScanIsInterestingPage(categories, p)) return 0;
  return pagemapScanOutput(categories, p, addr, { v: end });
}

const PAGEMAP_SCAN_OPS: MmWalkOps<PagemapScanPrivate> = Object.freeze({
  testWalk: pagemapScanTestWalk,
  pmdEntry: pagemapScanPmdEntry,
  pteHole: pagemapScanPteHole,
  walkLock: 'rdlock',
});

/** pagemap_scan_get_args(): validate, then fill in the defaults. */
function pagemapScanGetArgs(arg: PmScanArg): number {
  if (arg.flags & ~PM_SCAN_FLAGS) return -EINVAL;
  const masks = arg.categoryInverted | arg.categoryMask | arg.categoryAnyofMask | arg.returnMask;
  if (masks & ~PM_SCAN_CATEGORIES) return -EINVAL;
  if (arg.start % PAGE_SIZE) return -EINVAL;
  // access_ok(start, end - start): the size is unsigned, so an end below start fails too.
  if (arg.end < arg.start || arg.end > TASK_SIZE) return -EFAULT;
  arg.end = Math.ceil(arg.end / PAGE_SIZE) * PAGE_SIZE;
  arg.walkEnd = 0;
  if (!arg.maxPages) arg.maxPages = Number.MAX_SAFE_INTEGER; // ULONG_MAX
  return 0;
}

/** pagemap_scan_flush_buffer(): copy the buffer's regions out; how many. */
function pagemapScanFlushBuffer(p: PagemapScanPrivate): number {
  const buf = p.vecBuf;
  if (!buf) return 0;
  let n = p.vecBufIndex;
  if (buf[n].end !== buf[n].start) n++;
  if (!n) return 0;
  for (let i = 0; i < n; i++) p.arg.vec.push({ ...buf[i] });
  p.arg.vecLen -= n;
  p.vecBufIndex = 0;
  p.vecBufLen = Math.min(p.vecBufLen, p.arg.vecLen);
  buf[0].start = buf[0].end = 0;
  return n;
}

/**
 * do_pagemap_scan(): the number of regions written to `arg.vec`, or a negative errno; `arg.walkEnd`
 * is where the scan stopped (its end when it covered the range). One walk_page_range() per
 * mmap_lock hold, each until the bounce buffer (512 regions) or the caller's vector is full.
 */
export function* doPagemapScan(mm: MmStruct, arg: PmScanArg): KGen<number> {
  let ret = pagemapScanGetArgs(arg);
  if (ret) return ret;
  const vecBufLen = Math.min(PAGEMAP_WALK_REGIONS, arg.vecLen);
  const p: PagemapScanPrivate = {
    arg,
    masksOfInterest: arg.categoryMask | arg.categoryAnyofMask | arg.returnMask,
    curVmaCategory: 0,
    // pagemap_scan_init_bounce_buffer()
    vecBuf: arg.vecLen ? Array.from({ length: vecBufLen }, () => ({ start: 0, end: 0, categories: 0 })) : null,
    vecBufLen,
    vecBufIndex: 0,
    foundPages: 0,
  };
  let nRangesOut = 0;
  for (let walkStart = arg.start; walkStart < arg.end; walkStart = arg.walkEnd) {
    yield* downRead(mm.mmapLock); // mmap_read_lock_killable()
    ret = yield* walkPageRange(mm, walkStart, arg.end, PAGEMAP_SCAN_OPS, p);
    yield* upRead(mm.mmapLock);
    nRangesOut += pagemapScanFlushBuffer(p);
    if (ret !== -ENOSPC) break;
    if (arg.vecLen === 0 || p.foundPages === arg.maxPages) break;
  }
  // ENOSPC signifies early stop (buffer full) from the walk.
  if (!ret || ret === -ENOSPC) ret = nRangesOut;
  // The walk_end isn't set when ret is zero
  if (!arg.walkEnd) arg.walkEnd = arg.end;
  return ret;
}
