/**
 * Break-before-make as a sanitizer (race R8, docs/versions.md). Each store that makes a user
 * translation reachable (a present PTE, a huge PMD, or a PMD that links a table holding present
 * entries) is checked against every CPU's TLB: a CPU that still caches a translation of the same
 * virtual address with another output frame, or of another size (a 4 KiB entry against a 2 MiB
 * block), got no invalidation between the old translation's end and the new one's start.
 *
 * arm64 requires break-before-make (ARM ARM D8.16): such a pair may raise a TLB conflict abort or
 * give either translation, so `arch=arm64` reports a `tlb-conflict` violation. x86 tolerates it
 * (Intel's application note 317080 documents that mixed page sizes for one address may be used
 * nondeterministically; a stale 4 KiB entry only gives stale data, as after any MADV_DONTNEED that
 * races a fault), so `arch=x86` counts it and keeps the first few as tolerated findings.
 *
 * Dependencies (src/explore): the check reads every CPU's TLB, so it records those reads
 * (src/mm/objects.ts) and the store becomes dependent with each flush and fill. Without them the
 * search missed conflicts: a flush writes only TLBs, never the slot being stored, so a DONTNEED's
 * deferred flush and a fault's store into a new table looked independent and DPOR never tried the
 * store before the flush (a populate of page 0 on arm64 7.0, found only by naive enumeration;
 * test/scenarios/soundness.test.ts keeps it).
 */
import { Violation } from '../bug.js';
import { alignDown, LEVEL_PMD, LEVEL_PTE, LEVEL_PUD, PAGE_SIZE, PMD_SIZE, PTRS_PER_PTE, PUD_SIZE, PGDIR_SIZE, type Vaddr } from '../const.js';
import { current } from '../current.js';
import type { Kernel } from '../mm_types.js';
import { T_LINKED } from '../pgtable.js';
import { _PAGE_USER, pmdIsTable, pmdPfn, pmdTransHuge, ptePfn, ptePresent } from '../pgtable_types.js';
import { obj, OBJ } from '../objects.js';
import { Tlb } from '../tlb.js';

/** How many tolerated findings a kernel keeps (all are counted in stats.tlbConflictsTolerated). */
const KEEP_TOLERATED = 8;

/** The first address a table at `level` maps, as linked now (kept true when a table moves). */
function tableBase(k: Kernel, tid: number): Vaddr {
  const span = k.pt.level[tid] === LEVEL_PTE ? PMD_SIZE : k.pt.level[tid] === LEVEL_PMD ? PUD_SIZE : PGDIR_SIZE;
  return alignDown(k.pt.addr[tid], span);
}

/** A user translation: present and user-accessible (the model's PROT_NONE entries lack _PAGE_USER). */
function valid(v: number): boolean {
  return ptePresent(v) && (v & _PAGE_USER) !== 0;
}

/** Called after a store of `v` to slot `ptep` (primitives setPte()). */
export function checkBreakBeforeMake(ptep: number, v: number): void {
  if (v === 0) return;
  const k = current.k;
  const pt = k.pt;
  const tid = Math.floor(ptep / PTRS_PER_PTE);
  if (pt.state[tid] !== T_LINKED) return;
  const idx = ptep % PTRS_PER_PTE;
  const level = pt.level[tid];
  const mmId = pt.mm[tid];
  if (level === LEVEL_PTE) {
    if (valid(v)) checkSmall(k, mmId, tableBase(k, tid) + idx * PAGE_SIZE, ptePfn(v));
    return;
  }
  const span = level === LEVEL_PMD ? PMD_SIZE : level === LEVEL_PUD ? PUD_SIZE : PGDIR_SIZE;
  const va = tableBase(k, tid) + idx * span;
  if (level === LEVEL_PMD && pmdTransHuge(v)) {
    if (valid(v)) checkHuge(k, mmId, va, pmdPfn(v));
    return;
  }
  if (!pmdIsTable(v)) return;
  const child = pt.tidOfPfn(pmdPfn(v));
  if (!child) return;
  relink(k, child, va);
  if (level === LEVEL_PMD) pt.forEachEntry(child, (i, e) => valid(e) && checkSmall(k, mmId, va + i * PAGE_SIZE, ptePfn(e)));
}

/** A table (and the tables below it) now maps from `va`: mremap can move whole tables. */
function relink(k: Kernel, tid: number, va: Vaddr): void {
  const pt = k.pt;
  if (pt.addr[tid] === va) return;
  pt.addr[tid] = va;
  if (pt.level[tid] === LEVEL_PTE) return;
  const span = pt.level[tid] === LEVEL_PMD ? PMD_SIZE : PUD_SIZE;
  pt.forEachEntry(tid, (i, e) => {
    if (!pmdIsTable(e)) return;
    const child = pt.tidOfPfn(pmdPfn(e));
    if (child) relink(k, child, va + i * span);
  });
}

/** CPU `id`'s TLB, read by the running step: recorded for dependency tracking (see the header). */
function readTlb(k: Kernel, id: number): Tlb {
  k.rec.touch(obj(OBJ.tlb, id), false);
  return k.cpus[id].tlb;
}

/** A 4 KiB translation of va to pfn became reachable. */
function checkSmall(k: Kernel, mmId: number, va: Vaddr, pfn: number): void {
  const vpn = Math.floor(va / PAGE_SIZE);
  const block = Math.floor(va / PMD_SIZE);
  for (const cpu of k.cpus) {
    const tlb = readTlb(k, cpu.id);
    if (tlb.live === 0) continue;
    const s = Tlb.slot4k(vpn);
    if (tlb.vpn[s] === vpn && tlb.mm[s] === mmId && tlb.pfn[s] !== pfn) conflict(k, cpu.id, va, `a 4 KiB translation to frame ${tlb.pfn[s]}`, `a 4 KiB one to frame ${pfn}`);
    const h = Tlb.slot2m(block);
    if (tlb.hvpn[h] === block && tlb.hmm[h] === mmId) conflict(k, cpu.id, va, `a 2 MiB translation to frame ${tlb.hpfn[h]}`, `a 4 KiB one to frame ${pfn}`);
  }
}

/** A 2 MiB translation of the block at va to the folio at pfn became reachable. */
function checkHuge(k: Kernel, mmId: number, va: Vaddr, pfn: number): void {
  const block = Math.floor(va / PMD_SIZE);
  const first = block * (PMD_SIZE / PAGE_SIZE);
  for (const cpu of k.cpus) {
    const tlb = readTlb(k, cpu.id);
    if (tlb.live === 0) continue;
    const h = Tlb.slot2m(block);
    if (tlb.hvpn[h] === block && tlb.hmm[h] === mmId && tlb.hpfn[h] !== pfn) conflict(k, cpu.id, va, `a 2 MiB translation to frame ${tlb.hpfn[h]}`, `a 2 MiB one to frame ${pfn}`);
    for (let vpn = first; vpn < first + PMD_SIZE / PAGE_SIZE; vpn++) {
      const s = Tlb.slot4k(vpn);
      if (tlb.vpn[s] === vpn && tlb.mm[s] === mmId) conflict(k, cpu.id, vpn * PAGE_SIZE, `a 4 KiB translation to frame ${tlb.pfn[s]}`, `a 2 MiB one to frame ${pfn}`);
    }
  }
}

function conflict(k: Kernel, holder: number, va: Vaddr, held: string, made: string): void {
  const what = `CPU ${holder} still caches ${held} for 0x${va.toString(16)} while CPU ${current.cpu.id} makes ${made} reachable, with no TLB invalidation in between`;
  if (k.cfg.arch === 'arm64') throw new Violation('tlb-conflict', `${what}: break-before-make violated (a TLB conflict abort, or either translation used)`);
  k.stats.tlbConflictsTolerated++;
  if (k.tolerated.length < KEEP_TOLERATED) k.tolerated.push({ kind: 'tlb-conflict', message: `${what} (tolerated on x86)` });
}
