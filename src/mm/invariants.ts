/**
 * Named invariants of the modelled kernel (docs/kernel-rules.md, "Invariants"), checkable at quiescent
 * points: after every op in tests, and at the end of every explored execution. Each returns a list
 * of human-readable failures; `checkInvariants` runs them all.
 *
 * They walk everything (cost proportional to the model's state), so they are for tests and small
 * runs, not for the replay hot path.
 */
import { PMD_SIZE, PAGE_SIZE, PGDIR_SIZE, PUD_SIZE, type Pfn } from './const.js';
import { withCurrent } from './current.js';
import type { Kernel, MmStruct, RwSem } from './mm_types.js';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS } from './mm_types.js';
import { PT_ANON, PT_FREE, PT_KERNEL, PT_PAGETABLE, PT_SHMEM, PT_ZERO } from './page_alloc.js';
import { T_DEPOSITED, T_FREED, T_LINKED, T_QUEUED, T_DETACHED } from './pgtable.js';
import { isMigrationPte, isSwapEntryPte, pmdIsTable, pmdPfn, pmdTransHuge, ptePfn, ptePresent, pteSpecial, swpOffset } from './pgtable_types.js';
import { SWAP_HAS_CACHE } from './swap_info.js';

export type InvariantName =
  | 'pgtables-bytes'
  | 'rss-counters'
  | 'no-freed-reachable'
  | 'mapcounts'
  | 'driver-refs'
  | 'tlb-no-freed'
  | 'table-states'
  | 'swap-counts'
  | 'quiescent'
  | 'exit-clean';

export interface InvariantFailure {
  invariant: InvariantName;
  message: string;
}

interface Census {
  /** Per pfn: PTE mappings seen. */
  pteMaps: Map<number, number>;
  /** Per head pfn: PMD mappings seen. */
  pmdMaps: Map<number, number>;
  /** Per head pfn of a large folio: mappings seen (PTE or PMD), per mm id + 1 (folio mm-id slots). */
  mmMaps: Map<number, Map<number, number>>;
  linkedTables: Set<number>;
  depositedTables: Set<number>;
  /** Per swap slot: swap PTEs seen. */
  swapRefs: Map<number, number>;
  /** Per page: binder's references (the alloc->pages[] slots holding it). */
  binderRefs: Map<number, number>;
}

/** Walk one mm's tree: count tables and mappings; report what points at freed things. */
function walkMm(k: Kernel, mm: MmStruct, census: Census, fail: (n: InvariantName, m: string) => void): void {
  const pt = k.pt;
  let tables = 0;
  const rss = [0, 0, 0, 0];
  const visitTable = (tid: number, what: string): boolean => {
    if (!tid || pt.state[tid] === T_FREED) {
      fail('no-freed-reachable', `mm ${mm.name}: ${what} points to freed table ${tid}`);
      return false;
    }
    if (pt.state[tid] !== T_LINKED) fail('table-states', `mm ${mm.name}: reachable ${what} table ${tid} is not linked (state ${pt.state[tid]})`);
    census.linkedTables.add(tid);
    return true;
  };
  pt.forEachEntry(mm.pgd, (gi, pgdv) => {
    const pud = pt.tidOfPfn(pmdPfn(pgdv));
    if (!visitTable(pud, `PGD[${gi}]`)) return;
    tables++;
    pt.forEachEntry(pud, (ui, pudv) => {
      const pmd = pt.tidOfPfn(pmdPfn(pudv));
      if (!visitTable(pmd, `PUD[${ui}]`)) return;
      tables++;
      for (let d = pt.deposit[pmd]; d > 0; d = pt.next[d]) {
        if (pt.state[d] !== T_DEPOSITED) fail('table-states', `mm ${mm.name}: deposited table ${d} in state ${pt.state[d]}`);
        census.depositedTables.add(d);
        tables++;
      }
      pt.forEachEntry(pmd, (mi, pmdv) => {
        const base = gi * PGDIR_SIZE + ui * PUD_SIZE + mi * PMD_SIZE;
        if (pmdTransHuge(pmdv)) {
          const head = pmdPfn(pmdv);
          if (k.mem.type[head] === PT_FREE) fail('no-freed-reachable', `mm ${mm.name}: huge PMD at ${base} maps freed folio ${head}`);
          if (k.mem.type[head] === PT_ZERO) return;
          census.pmdMaps.set(head, (census.pmdMaps.get(head) ?? 0) + 1);
          countMmMap(k, census, head, mm);
          rss[counterOf(k.mem.type[head])] += 512;
          return;
        }
        if (!pmdIsTable(pmdv)) return;
        const pte = pt.tidOfPfn(pmdPfn(pmdv));
        if (!visitTable(pte, `PMD at ${base}`)) return;
        tables++;
        pt.forEachEntry(pte, (pi, e) => {
          if (isSwapEntryPte(e)) {
            census.swapRefs.set(swpOffset(e), (census.swapRefs.get(swpOffset(e)) ?? 0) + 1);
            rss[MM_SWAPENTS]++;
            return;
          }
          if (isMigrationPte(e)) {
            // A migration entry counts as the page in RSS and holds no mapping of it; the folio
            // it names is locked by migration, so it cannot have been freed.
            const head = k.mem.folioHead(ptePfn(e));
            if (k.mem.type[head] === PT_FREE) fail('no-freed-reachable', `mm ${mm.name}: migration entry at ${base + pi * PAGE_SIZE} names freed frame ${head}`);
            else rss[counterOf(k.mem.type[head])]++;
            return;
          }
          if (!ptePresent(e) || pteSpecial(e)) return;
          const pfn = ptePfn(e);
          if (k.mem.type[pfn] === PT_FREE) {
            fail('no-freed-reachable', `mm ${mm.name}: PTE at ${base + pi * PAGE_SIZE} maps freed frame ${pfn}`);
            return;
          }
          census.pteMaps.set(pfn, (census.pteMaps.get(pfn) ?? 0) + 1);
          countMmMap(k, census, k.mem.folioHead(pfn), mm);
          rss[counterOf(k.mem.type[pfn])]++;
        });
      });
    });
  });
  if (mm.pgtablesBytes !== tables * PAGE_SIZE) {
    fail('pgtables-bytes', `mm ${mm.name}: pgtables_bytes ${mm.pgtablesBytes} but ${tables} tables (${tables * PAGE_SIZE} bytes) are linked or deposited`);
  }
  for (const [i, name] of [[MM_ANONPAGES, 'anon'], [MM_FILEPAGES, 'file'], [MM_SHMEMPAGES, 'shmem'], [MM_SWAPENTS, 'swap']] as const) {
    if (mm.rss[i] !== rss[i]) fail('rss-counters', `mm ${mm.name}: ${name} RSS counter ${mm.rss[i]} but ${rss[i]} ${i === MM_SWAPENTS ? 'swap entries' : 'pages mapped'}`);
  }
}

function counterOf(type: number): number {
  if (type === PT_ANON) return MM_ANONPAGES;
  return type === PT_SHMEM ? MM_SHMEMPAGES : MM_FILEPAGES;
}

export function checkInvariants(k: Kernel): InvariantFailure[] {
  const out: InvariantFailure[] = [];
  const fail = (invariant: InvariantName, message: string) => {
    if (out.length < 50) out.push({ invariant, message });
  };
  const census: Census = { pteMaps: new Map(), pmdMaps: new Map(), mmMaps: new Map(), linkedTables: new Set(), depositedTables: new Set(), swapRefs: new Map(), binderRefs: new Map() };
  withCurrent(k, () => {
    for (const mm of k.mms) if (!mm.exited) walkMm(k, mm, census, fail);
    for (const mm of k.mms) for (const proc of mm.binderProcs) for (const p of proc.pages) if (p) census.binderRefs.set(p, (census.binderRefs.get(p) ?? 0) + 1);
    checkMapcounts(k, census, fail);
    checkTlbs(k, fail);
    checkTableStates(k, census, fail);
    checkSwapCounts(k, census, fail);
    checkQuiescent(k, fail);
  });
  return out;
}

function countMmMap(k: Kernel, c: Census, head: number, mm: MmStruct): void {
  if (k.mem.order[head] === 0) return;
  const perMm = c.mmMaps.get(head) ?? new Map<number, number>();
  c.mmMaps.set(head, perMm);
  perMm.set(mm.id + 1, (perMm.get(mm.id + 1) ?? 0) + 1);
}

/**
 * CONFIG_MM_ID's promise (include/linux/mm.h folio_maybe_mapped_shared()): a large folio's
 * mappings are counted, each slot's mm has the mappings its slot says, and a folio two mms map is
 * marked shared. (A folio one mm maps may still be marked: the kernel clears the bit only when a
 * slot holds every mapping.)
 */
function checkMmIds(k: Kernel, c: Census, head: number, maps: number, fail: (n: InvariantName, m: string) => void): void {
  const mem = k.mem;
  const f = mem.largeIdx(head);
  if (mem.largeMapcount[f] !== maps) fail('mapcounts', `folio ${head}: large mapcount ${mem.largeMapcount[f]} but ${maps} mappings`);
  const perMm = c.mmMaps.get(head) ?? new Map<number, number>();
  for (const [id, n] of [
    [mem.mmId0[f], mem.mmIdMapcount0[f]],
    [mem.mmId1[f], mem.mmIdMapcount1[f]],
  ]) {
    if (id !== 0 && (perMm.get(id) ?? 0) !== n) fail('mapcounts', `folio ${head}: mm-id slot of mm ${id - 1} counts ${n} mappings, the tables hold ${perMm.get(id) ?? 0}`);
  }
  if (perMm.size > 1 && !mem.mmIdsShared[f]) fail('mapcounts', `folio ${head}: mapped by ${perMm.size} mms but not marked maybe mapped shared`);
}

/** Folio accounting: mapcounts equal the mappings found; refcount covers them. */
function checkMapcounts(k: Kernel, c: Census, fail: (n: InvariantName, m: string) => void): void {
  const mem = k.mem;
  for (let pfn = 1; pfn < mem.top; pfn++) {
    const t = mem.type[pfn];
    if (t === PT_FREE || t === PT_PAGETABLE || t === PT_ZERO) continue;
    const want = c.pteMaps.get(pfn) ?? 0;
    if (mem.mapcount[pfn] !== want) fail('mapcounts', `frame ${pfn}: mapcount ${mem.mapcount[pfn]} but ${want} PTEs map it`);
    const head = mem.folioHead(pfn as Pfn);
    if (head === pfn) {
      const pmd = c.pmdMaps.get(pfn) ?? 0;
      if (mem.entireMapcount[pfn] !== pmd) fail('mapcounts', `folio ${pfn}: entire mapcount ${mem.entireMapcount[pfn]} but ${pmd} PMDs map it`);
      let maps = pmd;
      for (let i = 0; i < mem.folioNr(head); i++) maps += mem.mapcount[pfn + i];
      if (mem.order[head] > 0) checkMmIds(k, c, head, maps, fail);
      if (mem.refcount[pfn] < maps) fail('mapcounts', `folio ${pfn}: refcount ${mem.refcount[pfn]} below its ${maps} mappings`);
      // The swap cache holds one reference of a folio it caches (swapfile.ts).
      const cached = k.swap?.folioSwap.has(pfn) ? 1 : 0;
      if (t === PT_ANON && mem.refcount[pfn] > maps + cached) {
        fail('mapcounts', `anonymous folio ${pfn}: refcount ${mem.refcount[pfn]} above its ${maps} mappings${cached ? ' and the swap cache' : ''} (a reference leaked)`);
      }
      // A driver's page: a socket's receive holds none once it returned; binder one per slot.
      const held = c.binderRefs.get(pfn) ?? 0;
      if (t === PT_KERNEL && mem.refcount[pfn] !== maps + held) {
        fail('driver-refs', `driver page ${pfn}: refcount ${mem.refcount[pfn]}, but ${maps} mappings and ${held} binder reference(s)${mem.refcount[pfn] > maps + held ? ' (a reference leaked)' : ''}`);
      }
    }
  }
}

/**
 * swap_map: every slot's count is the number of swap PTEs holding it; a slot has SWAP_HAS_CACHE
 * exactly when the swap cache holds a live anonymous folio for it, both ways. A folio may stay in
 * the swap cache with only the cache's reference (reclaim wrote it out) while swap PTEs hold its
 * slot, or mapped (a read fault swapped it in); one that no swap PTE and no mapping holds is a
 * leak: the model has no later reclaim pass to free it (swapfile.ts).
 */
function checkSwapCounts(k: Kernel, c: Census, fail: (n: InvariantName, m: string) => void): void {
  const si = k.swap;
  if (!si) {
    if (c.swapRefs.size) fail('swap-counts', `${c.swapRefs.size} swap slots referenced without a swap area`);
    return;
  }
  const mem = k.mem;
  let inuse = 0;
  for (let off = 0; off < si.pages; off++) {
    const v = si.swapMap[off];
    if (v !== 0) inuse++;
    const want = c.swapRefs.get(off) ?? 0;
    const count = v & ~SWAP_HAS_CACHE;
    if (count !== want) fail('swap-counts', `swap slot ${off}: count ${count} but ${want} swap PTEs hold it`);
    const head = si.cache.get(off);
    if (!(v & SWAP_HAS_CACHE)) {
      if (head !== undefined) fail('swap-counts', `swap slot ${off}: the swap cache holds folio ${head} but the slot has no SWAP_HAS_CACHE`);
      continue;
    }
    if (head === undefined) {
      fail('swap-counts', `swap slot ${off} has SWAP_HAS_CACHE but no folio in the swap cache`);
      continue;
    }
    if (mem.type[head] !== PT_ANON || si.folioSwap.get(head) !== off) {
      fail('swap-counts', `swap slot ${off}: swap cache folio ${head} is not a live anonymous folio of this slot (type ${mem.type[head]})`);
      continue;
    }
    if (mem.refcount[head] < 1) fail('swap-counts', `swap slot ${off}: swap cache folio ${head} has no reference`);
    if (count === 0 && mem.mapcount[head] === 0) {
      fail('swap-counts', `swap slot ${off}: folio ${head} is held by the swap cache alone, mapped nowhere and no swap PTE refers to it (leak)`);
    }
  }
  if (inuse !== si.inusePages) fail('swap-counts', `inuse_pages ${si.inusePages} but ${inuse} slots in use`);
  if (si.folioSwap.size !== si.cache.size) fail('swap-counts', `swap cache: ${si.cache.size} slots but ${si.folioSwap.size} folios`);
}

/** No CPU's TLB or paging-structure cache refers to a freed frame or table. */
function checkTlbs(k: Kernel, fail: (n: InvariantName, m: string) => void): void {
  for (const cpu of k.cpus) {
    const t = cpu.tlb;
    for (let s = 0; s < t.vpn.length; s++) {
      if (t.vpn[s] >= 0 && k.mem.gen[t.pfn[s]] !== t.gen[s]) fail('tlb-no-freed', `CPU ${cpu.id}: TLB entry for page ${t.vpn[s] * PAGE_SIZE} refers to freed frame ${t.pfn[s]}`);
      if (t.vpn[s] >= 0 && k.mem.type[t.pfn[s]] === PT_FREE) fail('tlb-no-freed', `CPU ${cpu.id}: TLB entry for page ${t.vpn[s] * PAGE_SIZE} refers to free frame ${t.pfn[s]}`);
    }
    for (let s = 0; s < t.pwcBlock.length; s++) {
      if (t.pwcBlock[s] >= 0 && k.pt.state[t.pwcTid[s]] === T_FREED) fail('tlb-no-freed', `CPU ${cpu.id}: paging-structure cache entry refers to freed table ${t.pwcTid[s]}`);
    }
  }
}

/** Linked tables are exactly the reachable ones; nothing is left detached at a quiescent point. */
function checkTableStates(k: Kernel, c: Census, fail: (n: InvariantName, m: string) => void): void {
  const pt = k.pt;
  for (let tid = 1; tid < pt.nrTids; tid++) {
    const st = pt.state[tid];
    if (st === T_LINKED && !c.linkedTables.has(tid) && !isLivePgd(k, tid)) fail('table-states', `table ${tid} is linked but unreachable`);
    if (st === T_DEPOSITED && !c.depositedTables.has(tid)) fail('table-states', `table ${tid} is deposited but on no deposit list`);
    if (st === T_DETACHED) fail('table-states', `table ${tid} was detached but never queued for freeing (leak)`);
    if (st === T_QUEUED && k.rcu.pending.length === 0) fail('table-states', `table ${tid} is queued but no RCU callback is pending`);
  }
}

/**
 * Nothing is held or owed at a quiescent point: no CPU inside an RCU read-side or IRQ-off section
 * or holding a spinlock, no rw-semaphore (mmap_lock, VMA lock, i_mmap_rwsem) or page_table_lock
 * held, and every callback call_rcu() queued has run, once (rcu.ts counts both sides).
 */
function checkQuiescent(k: Kernel, fail: (n: InvariantName, m: string) => void): void {
  for (const cpu of k.cpus) {
    if (cpu.held.length) fail('quiescent', `CPU ${cpu.id} still holds ${cpu.held.length} spinlock(s): ${cpu.held.join(', ')}`);
    if (cpu.rcuNesting) fail('quiescent', `CPU ${cpu.id} is still inside an RCU read-side section (nesting ${cpu.rcuNesting})`);
    if (cpu.irqDisabled) fail('quiescent', `CPU ${cpu.id} still has interrupts off (depth ${cpu.irqDisabled})`);
  }
  const sem = (s: RwSem, what: string) => {
    if (s.readers || s.writer) fail('quiescent', `${what} is still held (${s.readers} reader(s)${s.writer ? `, writer CPU ${s.writer - 1}` : ''})`);
  };
  for (const mm of k.mms) {
    if (mm.exited) continue;
    sem(mm.mmapLock, `mm ${mm.name}: mmap_lock`);
    if (mm.pageTableLock) fail('quiescent', `mm ${mm.name}: page_table_lock still held by CPU ${mm.pageTableLock - 1}`);
    for (const vma of mm.vmas) sem(vma.vmLock, `mm ${mm.name}: the VMA lock of [${vma.start.toString(16)}, ${vma.end.toString(16)})`);
  }
  for (const f of k.files) sem(f.iMmapRwsem, `file ${f.name}: i_mmap_rwsem`);
  const r = k.rcu;
  if (r.pending.length) fail('quiescent', `${r.pending.length} RCU callback(s) still queued: ${r.pending.map((cb) => cb.name).join(', ')}`);
  if (r.completed !== r.queued - r.pending.length) fail('quiescent', `call_rcu() queued ${r.queued} callbacks, ${r.pending.length} pending, but ${r.completed} ran`);
}

function isLivePgd(k: Kernel, tid: number): boolean {
  return k.mms.some((mm) => !mm.exited && mm.pgd === tid);
}

/**
 * After every process exited and RCU callbacks ran: every table freed, every anonymous page
 * freed, counters zero; what remains is the page cache of files and the zero pages.
 */
export function checkExitClean(k: Kernel): InvariantFailure[] {
  const out: InvariantFailure[] = [];
  for (const mm of k.mms) {
    if (!mm.exited) out.push({ invariant: 'exit-clean', message: `mm ${mm.name} has not exited` });
    if (mm.pgtablesBytes !== 0) out.push({ invariant: 'exit-clean', message: `mm ${mm.name}: pgtables_bytes ${mm.pgtablesBytes} at exit` });
    for (let i = 0; i < 4; i++) if (mm.rss[i] !== 0) out.push({ invariant: 'exit-clean', message: `mm ${mm.name}: RSS counter ${i} is ${mm.rss[i]} at exit (Bad rss-counter state)` });
  }
  const pt = k.pt;
  for (let tid = 1; tid < pt.nrTids; tid++) {
    if (pt.state[tid] !== T_FREED) out.push({ invariant: 'exit-clean', message: `page table ${tid} not freed (state ${pt.state[tid]})` });
  }
  if (k.mem.used[PT_ANON] !== 0) out.push({ invariant: 'exit-clean', message: `${k.mem.used[PT_ANON]} anonymous pages leaked` });
  // Receive pages a socket lent to a mapping are freed by the last unmap, the rest by the receive;
  // binder buffer pages by binder_release() at exit.
  if (k.mem.used[PT_KERNEL] !== 0) out.push({ invariant: 'exit-clean', message: `${k.mem.used[PT_KERNEL]} driver pages (socket receive, binder buffer) leaked` });
  if (k.mem.nrPagetable !== 0) out.push({ invariant: 'exit-clean', message: `NR_PAGETABLE is ${k.mem.nrPagetable}` });
  if (k.swap && k.swap.inusePages !== 0) out.push({ invariant: 'exit-clean', message: `${k.swap.inusePages} swap slots still in use` });
  return out.slice(0, 50);
}
