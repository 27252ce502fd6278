/**
 * Swap readahead (mm/swap_state.c, 6.18): swapin_readahead(), the VMA-based readahead it takes,
 * and swap_update_readahead(), which a swap fault that finds its folio cached calls.
 *
 * swapin_readahead() takes swap_vma_readahead() when swap_use_vma_readahead(): VMA readahead is
 * enabled (/sys/kernel/mm/swap/vma_ra_enabled, on by default) and no swap area sits on a rotational
 * device. The model's swap area is non-rotational; so is the kernel runner's (a loop device over a
 * tmpfs file: docs/model.md), which is why the two agree on what readahead reads.
 *
 * swap_vma_readahead() maps the faulting PMD's table with pte_offset_map() (RCU only, no lock),
 * reads the window's entries locklessly, and unmaps the table before each read into the swap
 * cache, which may sleep; it maps the table again for the next entry. A MADV_DONTNEED may zap and
 * reclaim the table meanwhile (docs/audit.md #57): the next pte_offset_map() fails and the walk
 * ends, or an entry it read has been zapped and its slot freed, and __read_swap_cache_async() skips
 * it. Readahead only fills the swap cache; nothing is mapped.
 *
 * The window follows the VMA's swap_readahead_info: the last swap fault's address, window and
 * readahead hits (a fault that finds a folio readahead read counts a hit). A fresh VMA reads as 4
 * hits, so its first swap fault that reads from swap already reads 8 pages around the address.
 * Not modelled: swap_cluster_readahead() (rotational swap), a large folio's swap-in, and races on
 * swap_readahead_info itself (atomic_long_read() then atomic_long_set(); the model does both in one
 * step): the kernel tolerates a lost update of a heuristic.
 */
import { PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import type { Vma, VmFault } from './mm_types.js';
import { obj, OBJ } from './objects.js';
import { PG_readahead } from './page_alloc.js';
import { pteOffsetMap, pteUnmap } from './pgtable_generic.js';
import { isSwapEntryPte, swpOffset } from './pgtable_types.js';
import { ptepGet, type KGen } from './primitives.js';
import { folioPutRefs, touchFolio } from './swap.js';
import { __readSwapCacheAsync, ReadSwapOut } from './swapfile.js';

/** vm.page-cluster: 3 by default (/proc/sys/vm/page-cluster reads 3 on the live kernel). */
export const PAGE_CLUSTER = 3;
const SWAP_RA_ORDER_CEILING = 5;
/** SWAP_RA_WIN_SHIFT is PAGE_SHIFT / 2: six bits of hits, six of window, below the address. */
const SWAP_RA_HITS_MAX = (1 << (PAGE_SHIFT / 2)) - 1;
const SWAP_RA_WIN_UNIT = SWAP_RA_HITS_MAX + 1;

/** SWAP_RA_VAL(): arithmetic, not bitwise, since a user address does not fit in 32 bits. */
export const swapRaVal = (addr: Vaddr, win: number, hits: number): number =>
  addr - (addr % PAGE_SIZE) + (win % SWAP_RA_WIN_UNIT) * SWAP_RA_WIN_UNIT + (hits % SWAP_RA_WIN_UNIT);
export const swapRaAddr = (v: number): Vaddr => v - (v % PAGE_SIZE);
export const swapRaWin = (v: number): number => Math.floor(v / SWAP_RA_WIN_UNIT) % SWAP_RA_WIN_UNIT;
export const swapRaHits = (v: number): number => v % SWAP_RA_WIN_UNIT;

/**
 * GET_SWAP_RA_VAL(): the VMA's swap_readahead_info, or 4 hits ("to start up with a small window")
 * while it is 0. The word lives in the VMA beside its lock: the explorer counts it as the lock's.
 */
function getSwapRaVal(vma: Vma): number {
  current.k.rec.touch(obj(OBJ.sem, vma.vmLock.id), false);
  return vma.swapReadaheadInfo || 4;
}

function setSwapRaVal(vma: Vma, v: number): void {
  current.k.rec.touch(obj(OBJ.sem, vma.vmLock.id), true);
  vma.swapReadaheadInfo = v;
}

/**
 * swap_update_readahead(): a swap fault found `folio` in the swap cache. A folio readahead read
 * (PG_readahead, cleared here) is a hit, which the VMA counts (up to SWAP_RA_HITS_MAX); the VMA
 * remembers the address either way.
 */
export function swapUpdateReadahead(folio: Pfn, vma: Vma, addr: Vaddr): void {
  const k = current.k;
  touchFolio(folio, true);
  const readahead = k.mem.testFlags(folio, PG_readahead) !== 0; // folio_test_clear_readahead()
  k.mem.clearFlags(folio, PG_readahead);
  const raVal = getSwapRaVal(vma);
  let hits = swapRaHits(raVal);
  if (readahead) hits = Math.min(hits + 1, SWAP_RA_HITS_MAX);
  setSwapRaVal(vma, swapRaVal(addr, swapRaWin(raVal), hits));
}

/**
 * __swapin_nr_pages(): hits + 2 pages rounded up to a power of two (at least 4); without hits, 2
 * pages for a fault next to the last one and 1 otherwise; at most maxPages, and not below half the
 * previous window ("don't shrink readahead too fast").
 */
export function __swapinNrPages(prevOffset: number, offset: number, hits: number, maxPages: number, prevWin: number): number {
  let pages = hits + 2;
  if (pages === 2) {
    if (offset !== prevOffset + 1 && offset !== prevOffset - 1) pages = 1;
  } else {
    let roundup = 4;
    while (roundup < pages) roundup <<= 1;
    pages = roundup;
  }
  if (pages > maxPages) pages = maxPages;
  const lastRa = Math.floor(prevWin / 2);
  if (pages < lastRa) pages = lastRa;
  return pages;
}

/** The window swap_vma_ra_win() chose: [start, end) of the faulting block and VMA. */
interface RaWindow {
  win: number;
  start: Vaddr;
  end: Vaddr;
}

/**
 * swap_vma_ra_win(): the window from the VMA's last fault and hits, stored back with the hits
 * reset; placed after the address when the faults go up, before it when they go down, else around
 * it; clipped to the VMA and to the faulting PMD's block.
 */
function swapVmaRaWin(vmf: VmFault): RaWindow {
  const vma = vmf.vma;
  const maxWin = 1 << Math.min(PAGE_CLUSTER, SWAP_RA_ORDER_CEILING);
  const none = { win: 1, start: 0, end: 0 };
  if (maxWin === 1) return none;
  const faddr = vmf.address;
  const raVal = getSwapRaVal(vma);
  const prevFaddr = swapRaAddr(raVal);
  const win = __swapinNrPages(prevFaddr / PAGE_SIZE, faddr / PAGE_SIZE, swapRaHits(raVal), maxWin, swapRaWin(raVal));
  setSwapRaVal(vma, swapRaVal(faddr, win, 0));
  if (win === 1) return none;
  let left: number;
  if (faddr === prevFaddr + PAGE_SIZE) left = faddr;
  else if (prevFaddr === faddr + PAGE_SIZE) left = faddr - win * PAGE_SIZE + PAGE_SIZE;
  else left = faddr - Math.floor((win - 1) / 2) * PAGE_SIZE;
  const right = left + win * PAGE_SIZE;
  if (left < 0) left = 0;
  const block = faddr - (faddr % PMD_SIZE);
  return { win, start: Math.max(left, vma.start, block), end: Math.min(right, vma.end, block + PMD_SIZE) };
}

/**
 * swap_vma_readahead(): read the window's swap entries into the swap cache (marking those for
 * other addresses PG_readahead), then return the faulting entry's folio with a reference, 0 when
 * its slot is no longer in use or there is no memory. One swap area: every entry is the faulting
 * entry's type, so no get_swap_device() of another area.
 */
function* swapVmaReadahead(targEntry: number, vmf: VmFault): KGen<Pfn | 0> {
  const { win, start, end } = swapVmaRaWin(vmf);
  const out = new ReadSwapOut();
  if (win !== 1) {
    let pte = -1;
    for (let addr = start; addr < end; addr += PAGE_SIZE) {
      if (pte < 0) {
        pte = yield* pteOffsetMap(vmf.pmd, addr);
        if (pte < 0) break; // the table is gone (or became a huge PMD): no more readahead
      } else pte++;
      const pentry = yield* ptepGet(pte); // ptep_get_lockless(): one load on x86-64
      // is_swap_pte() and not non_swap_entry(): markers, migration and hwpoison entries are skipped.
      if (!isSwapEntryPte(pentry)) continue;
      yield* pteUnmap(pte);
      pte = -1;
      const folio = __readSwapCacheAsync(swpOffset(pentry), out);
      if (!folio) continue;
      if (out.allocated && addr !== vmf.address) current.k.mem.setFlags(folio, PG_readahead); // folio_set_readahead()
      folioPutRefs(folio, 1);
    }
    if (pte >= 0) yield* pteUnmap(pte);
  }
  return __readSwapCacheAsync(targEntry, out);
}

/** swapin_readahead(): the model's swap area is non-rotational, so VMA readahead (see above). */
export function* swapinReadahead(entry: number, vmf: VmFault): KGen<Pfn | 0> {
  return yield* swapVmaReadahead(entry, vmf);
}
