/**
 * The hardware page walker and a user access (x86 MMU behaviour, docs/kernel-rules.md, "TLB and the hardware walker"): look up the CPU's TLB;
 * on a miss walk PGD → PUD → PMD → PTE (through the paging-structure cache when it has the
 * block), fill the TLB on a present, permitted entry and set the accessed/dirty bits; otherwise
 * raise a page fault and retry.
 */
import { Violation } from '../bug.js';
import { PAGE_SIZE, PMD_SIZE, pgdIndex, pmdIndex, pteIndex, pudIndex, type Vaddr } from '../const.js';
import { current } from '../current.js';
import type { Cpu, MmStruct } from '../mm_types.js';
import { Tlb } from '../tlb.js';
import { entryPtr, T_FREED } from '../pgtable.js';
import { PG_has_data } from '../page_alloc.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_USER,
  pmdIsTable,
  pmdPfn,
  pmdTransHuge,
  pteFlags,
  ptePfn,
  ptePresent,
} from '../pgtable_types.js';
import { complete, hwWalkBegin, type KGen } from '../primitives.js';
import { doUserAddrFault, FAULT_OK } from './fault.js';

/**
 * The virtual page number the TLB is tagged with. Accesses need not be page-aligned (replayed
 * traces carry byte addresses): every byte of a page must share its TLB entry, and a flush of the
 * page must find it.
 */
function pageNumber(addr: Vaddr): number {
  return Math.floor(addr / PAGE_SIZE);
}

/**
 * A walk that ends in a page fault: the CPU drops what it cached for the faulting address (its
 * TLB entry and the paging-structure-cache entry of the block), as x86 does on a #PF.
 */
function faultInvalidate(mm: MmStruct, addr: Vaddr): number {
  const tlb = current.cpu.tlb;
  const vpn = pageNumber(addr);
  tlb.flushRange(mm.id, vpn, vpn + 1);
  const block = Math.floor(addr / PMD_SIZE);
  const ps = Tlb.slotPwc(block);
  if (tlb.pwcBlock[ps] === block && tlb.pwcMm[ps] === mm.id) {
    tlb.pwcBlock[ps] = -1;
    tlb.live--;
  }
  return -1;
}

/**
 * One hardware access: the TLB lookup, and on a miss the walk. One scheduling point: interrupts
 * (and so TLB-flush IPIs) are taken between instructions, never in the middle of one access.
 * Returns the leaf entry pointer (or 0 on a TLB hit), or -1 when the access faults.
 */
function* hwAccess(mm: MmStruct, addr: Vaddr, write: boolean): KGen<number> {
  yield* hwWalkBegin(mm, addr);
  if (tlbHit(mm, addr, write)) return 0;
  return hwWalkAtomic(mm, addr, write);
}

/** What a hardware access of addr by this CPU would touch now, for the explorer's dependency tracking. */
export interface WalkFootprint {
  /** Entries read on the way down (PGD, PUD, PMD slots), and the tables they are in. */
  readonly entries: number[];
  readonly tables: number[];
  /** The leaf (PTE, or PMD of a huge mapping) whose accessed/dirty bits the walk may set; -1 if none. */
  readonly leaf: number;
}

/**
 * The footprint of hwAccess() from the current state: through the paging-structure cache when it
 * holds the block (hwWalkAtomic() goes there directly), else from the PGD down.
 */
export function walkFootprint(mm: MmStruct, addr: Vaddr, cpu: Cpu): WalkFootprint {
  const pt = mm.kernel.pt;
  const entries: number[] = [];
  const tables: number[] = [];
  const leafIn = (tid: number, idx: number): WalkFootprint => {
    tables.push(tid);
    return { entries, tables, leaf: entryPtr(tid, idx) };
  };
  const block = Math.floor(addr / PMD_SIZE);
  const tlb = cpu.tlb;
  const ps = Tlb.slotPwc(block);
  if (tlb.pwcBlock[ps] === block && tlb.pwcMm[ps] === mm.id) return leafIn(tlb.pwcTid[ps], pteIndex(addr));
  let tid = mm.pgd;
  for (const index of [pgdIndex(addr), pudIndex(addr)]) {
    tables.push(tid);
    entries.push(entryPtr(tid, index));
    const v = pt.peek(tid, index);
    if (!pmdIsTable(v)) return { entries, tables, leaf: -1 };
    tid = pt.tidOfPfn(pmdPfn(v));
  }
  const pmdv = pt.peek(tid, pmdIndex(addr));
  if (pmdTransHuge(pmdv)) return ptePresent(pmdv) ? leafIn(tid, pmdIndex(addr)) : { entries, tables, leaf: -1 };
  tables.push(tid);
  entries.push(entryPtr(tid, pmdIndex(addr)));
  if (!pmdIsTable(pmdv)) return { entries, tables, leaf: -1 };
  return leafIn(pt.tidOfPfn(pmdPfn(pmdv)), pteIndex(addr));
}

/** The walk itself: plain loads and A/D-bit updates, no scheduling point inside. */
function hwWalkAtomic(mm: MmStruct, addr: Vaddr, write: boolean): number {
  const k = current.k;
  const pt = k.pt;
  const cpu = current.cpu;
  const tlb = cpu.tlb;
  const block = Math.floor(addr / PMD_SIZE);
  let ptep: number;
  const ps = Tlb.slotPwc(block);
  if (tlb.pwcBlock[ps] === block && tlb.pwcMm[ps] === mm.id) {
    const tid = tlb.pwcTid[ps];
    if (k.pt.state[tid] === T_FREED) throw new Violation('stale-tlb', `CPU ${cpu.id} walked through freed PTE table ${tid} from its paging-structure cache`);
    ptep = entryPtr(tid, pteIndex(addr));
  } else {
    const pgdv = pt.get(entryPtr(mm.pgd, pgdIndex(addr)));
    if (!pmdIsTable(pgdv)) return faultInvalidate(mm, addr);
    const pudv = pt.get(entryPtr(k.pt.tidOfPfn(pmdPfn(pgdv)), pudIndex(addr)));
    if (!pmdIsTable(pudv)) return faultInvalidate(mm, addr);
    const pmdp = entryPtr(k.pt.tidOfPfn(pmdPfn(pudv)), pmdIndex(addr));
    const pmdv = pt.get(pmdp);
    if (pmdTransHuge(pmdv)) {
      // A PMD invalidated mid-split (pmdp_invalidate()) has _PAGE_PSE without _PAGE_PRESENT: a fault.
      if (!ptePresent(pmdv) || !(pteFlags(pmdv) & _PAGE_USER) || (write && !(pteFlags(pmdv) & _PAGE_RW))) return faultInvalidate(mm, addr);
      const want = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
      if ((pteFlags(pmdv) & want) !== want) pt.set(pmdp, pmdv + (want & ~pteFlags(pmdv)));
      const pfn = pmdPfn(pmdv);
      if (write) k.mem.setFlags(pfn + pteIndex(addr), PG_has_data); // the store reaches this page
      tlb.fill2m(mm.id, block, pfn, k.mem.gen[pfn], (pteFlags(pmdv) & _PAGE_RW) !== 0);
      return pmdp;
    }
    if (!pmdIsTable(pmdv)) return faultInvalidate(mm, addr);
    const tid = k.pt.tidOfPfn(pmdPfn(pmdv));
    tlb.fillPwc(mm.id, block, tid);
    ptep = entryPtr(tid, pteIndex(addr));
  }
  const pte = pt.get(ptep);
  // No _PAGE_USER: the model's PAGE_NONE entry (docs/model.md); the fault finds a PROT_NONE VMA,
  // or in an accessible one a NUMA hinting entry (do_numa_page()).
  if (!ptePresent(pte) || !(pte & _PAGE_USER) || (write && !(pte & _PAGE_RW))) return faultInvalidate(mm, addr);
  const want = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
  if ((pteFlags(pte) & want) !== want) pt.set(ptep, pte + (want & ~pteFlags(pte))); // hardware A/D update
  const pfn = ptePfn(pte);
  if (write) k.mem.setFlags(pfn, PG_has_data); // the store reaches this page
  tlb.fill4k(mm.id, pageNumber(addr), pfn, k.mem.gen[pfn], (pte & _PAGE_RW) !== 0);
  return ptep;
}

/** A TLB hit: valid only if the frame was not freed and reused since the fill. */
function tlbHit(mm: MmStruct, addr: Vaddr, write: boolean): boolean {
  const k = current.k;
  const tlb = current.cpu.tlb;
  const vpn = pageNumber(addr);
  const s = Tlb.slot4k(vpn);
  if (tlb.vpn[s] === vpn && tlb.mm[s] === mm.id && (!write || tlb.write[s])) {
    if (k.mem.gen[tlb.pfn[s]] !== tlb.gen[s]) throw new Violation('stale-tlb', `CPU ${current.cpu.id} used a TLB entry for ${addr} whose frame ${tlb.pfn[s]} was freed and reused`);
    if (write) k.mem.setFlags(tlb.pfn[s], PG_has_data);
    return true;
  }
  const block = Math.floor(addr / PMD_SIZE);
  const h = Tlb.slot2m(block);
  if (tlb.hvpn[h] === block && tlb.hmm[h] === mm.id && (!write || tlb.hwrite[h])) {
    if (k.mem.gen[tlb.hpfn[h]] !== tlb.hgen[h]) throw new Violation('stale-tlb', `CPU ${current.cpu.id} used a huge TLB entry for ${addr} whose frame was freed and reused`);
    if (write) k.mem.setFlags(tlb.hpfn[h] + pteIndex(addr), PG_has_data);
    return true;
  }
  return false;
}

/** Maximum fault retries for one access before the model calls it a livelock. */
const MAX_RETRIES = 64;

/**
 * One user access by the current CPU to addr, as a kernel-path task: walk, fault, walk again.
 * Returns FAULT_OK or the fault outcome (FAULT_SIGSEGV, FAULT_SIGBUS, FAULT_OOM).
 */
export function* userAccessPath(mm: MmStruct, addr: Vaddr, write: boolean): KGen<number> {
  mm.cpumask |= 1 << current.cpu.id;
  for (let i = 0; i < MAX_RETRIES; i++) {
    if ((yield* hwAccess(mm, addr, write)) >= 0) return FAULT_OK;
    const r = yield* doUserAddrFault(mm, addr, write);
    if (r !== FAULT_OK) return r;
  }
  throw new Violation('livelock', `access to ${addr} still faults after ${MAX_RETRIES} page faults`);
}

/** userAccessPath() driven alone on the current CPU. */
export function userAccess(mm: MmStruct, addr: Vaddr, write: boolean): number {
  return complete(/* task */ userAccessPath(mm, addr, write));
}
