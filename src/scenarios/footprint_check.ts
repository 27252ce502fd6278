/**
 * A check of footprint.ts against what steps really do: a digest of every object the footprints
 * name (entries, tables, locks, semaphores and the sequence words beside them, folio locks, CPU
 * sections, TLBs, VMA trees, the RCU queue, binder's page slots) before and after a step; every object that changed
 * must be one the step declared it writes. A write left out of a footprint would let DPOR run one
 * order of two steps that do not commute. Reads cannot be seen this way, except the reads of CPUs'
 * TLBs, which go through a proxy while the step runs (watchTlbReads()): a sanitizer that reads
 * another CPU's TLB without recording it hid a break-before-make breach from DPOR once (issue 12).
 * Reads of frames, page-flag bits and entries are checked by access_check.ts (a race check of
 * real accesses against the footprints); the rest are left to the commutation check of
 * src/explore/oracles.ts and to naive enumeration.
 * Slow, for tests: scenario kernels have a handful of tables.
 */
import { BINDER_SLOTS, type Kernel, type RwSem } from '../mm/mm_types.js';
import { pcpObj, PG_locked, PT_FREE, PT_PAGETABLE } from '../mm/page_alloc.js';
import type { Pfn } from '../mm/const.js';
import { entryPtr, T_ALLOCATED, T_DETACHED, T_FREED, T_QUEUED, T_UNUSED } from '../mm/pgtable.js';
import { obj, objectName, OBJ, objKind, objNum, semReadersObj } from './footprint.js';

export type Digest = Map<number, string>;

/** Every object's state, as a string per object. */
export function observe(k: Kernel): Digest {
  const d: Digest = new Map();
  const pt = k.pt;
  for (let tid = 1; tid < pt.nrTids; tid++) {
    const st = pt.state[tid];
    if (st === T_UNUSED) continue;
    // A table's life as the sanitizers read it: freed (use-after-free), off the tree (a non-none
    // store is a lost PTE), or alive. Allocated, linked and deposited differ only in bookkeeping no
    // racing check reads (a deposit list is touched only under its PMD lock); the checks that
    // need "linked" run in the store that unlinks the table, whose footprint names it.
    const life = st === T_FREED ? 'freed' : st === T_DETACHED || st === T_QUEUED ? 'off' : 'live';
    d.set(obj(OBJ.table, tid), `${life} ${pt.lockDead[tid]}`);
    d.set(obj(OBJ.lock, tid), `${pt.lockOwner[tid]}`);
    if (st === T_FREED) continue;
    pt.forEachEntry(tid, (i, v) => d.set(obj(OBJ.entry, entryPtr(tid, i)), `${v}`));
  }
  for (const mm of k.mms) {
    d.set(obj(OBJ.mmlock, mm.id), `${mm.pageTableLock}`);
    d.set(obj(OBJ.flushPending, mm.id), `${mm.tlbFlushPending}`);
    observeSem(d, k, mm.mmapLock, `seq ${mm.mmapSeq}`);
    d.set(obj(OBJ.tree, mm.id), mm.vmas.map((v) => `${v.vmLock.id}:${v.start}-${v.end}`).join(' '));
    for (const v of mm.vmas) {
      observeSem(d, k, v.vmLock, `seq ${v.writeSeq} ${v.detached}`);
      if (v.driver?.kind === 'tcp') observeSem(d, k, v.driver.skLock, ''); // lock_sock()
    }
    // A binder alloc's pages[] slots and its `mapped` word (binder.ts records each access).
    for (const proc of mm.binderProcs) {
      for (let i = 0; i < BINDER_SLOTS - 1; i++) d.set(proc.obj(i), `${proc.pages[i] ?? 0}`);
      d.set(proc.obj(BINDER_SLOTS - 1), `${proc.mapped}`);
    }
  }
  for (const f of k.files) {
    observeSem(d, k, f.iMmapRwsem, '');
    let cache = `n${f.nrpages}`;
    f.pages.forEach((i, pfn) => (cache += ` ${i}:${pfn}`));
    d.set(obj(OBJ.mapping, f.id), cache);
  }
  const mem = k.mem;
  for (let p = 1; p < mem.top; p++) {
    if (mem.testFlags(p, PG_locked)) d.set(obj(OBJ.folio, p), 'locked');
    if (mem.type[p] === PT_FREE || mem.type[p] === PT_PAGETABLE || mem.folioHead(p as Pfn) !== p) continue;
    let maps = `${mem.entireMapcount[p]}`;
    for (let i = 0; i < mem.folioNr(p as Pfn); i++) maps += `,${mem.mapcount[p + i]}`;
    // A large folio's mm-id slots (rmap.ts largeMapcountAdd()), written with its map counts.
    const f = mem.order[p] > 0 ? mem.largeIdx(p) : -1;
    if (f >= 0) maps += ` l${mem.largeMapcount[f]} ${mem.mmId0[f]}:${mem.mmIdMapcount0[f]} ${mem.mmId1[f]}:${mem.mmIdMapcount1[f]} s${mem.mmIdsShared[f]}`;
    // The counts only: page flags change on folios not yet visible to others, or under the PTE or
    // folio lock their readers hold.
    d.set(obj(OBJ.page, p), `r${mem.refcount[p]} m${maps}`);
  }
  for (const c of k.cpus) {
    // What call_rcu() sees of its readers (footprint.ts rcuReaderObj): how many it has begun, which
    // only an entry changes (an exit commutes with call_rcu(): footprint.ts outermost()). The
    // nesting itself is its own; the end of each reader is its rcuQsObj.
    d.set(obj(OBJ.rcu, c.id), `${c.rcuQs + (c.rcuNesting > 0 || c.irqDisabled > 0 ? 1 : 0)}`);
    d.set(obj(OBJ.irq, c.id), `${c.irqDisabled}`);
    const t = c.tlb;
    d.set(obj(OBJ.tlb, c.id), [t.vpn, t.pfn, t.write, t.hvpn, t.hpfn, t.hwrite, t.pwcBlock, t.pwcTid].map((a) => a.join(',')).join('|'));
  }
  d.set(obj(OBJ.queue, 0), k.rcu.pending.map((cb) => cb.name).join(','));
  d.set(obj(OBJ.alloc, 0), k.mem.zoneState());
  for (const c of k.cpus) d.set(pcpObj(c.id), k.mem.pcpState(c.id));
  return d;
}

/** A semaphore as two kinds of object: its writer half (with `beside`), each CPU's readers. */
function observeSem(d: Digest, k: Kernel, sem: RwSem, beside: string): void {
  d.set(obj(OBJ.sem, sem.id), `w${sem.writer} ${beside}`);
  for (const c of k.cpus) d.set(semReadersObj(sem.id, c.id), `${sem.readersOn[c.id]}`);
}

/** Tables allocated and not linked: private to the task that holds them. */
export function privateTables(k: Kernel): Set<number> {
  const out = new Set<number>();
  for (let tid = 1; tid < k.pt.nrTids; tid++) if (k.pt.state[tid] === T_ALLOCATED) out.add(tid);
  return out;
}

/** Objects whose digest changed (appeared, vanished or differs). */
export function changed(before: Digest, after: Digest): number[] {
  const out: number[] = [];
  for (const [o, v] of after) if (before.get(o) !== v) out.push(o);
  // A VMA that left the tree is no longer seen; that is a tree change, not one of its lock.
  for (const o of before.keys()) if (!after.has(o) && objKind(o) !== OBJ.sem && objKind(o) !== OBJ.semReaders) out.push(o);
  return out;
}

/**
 * The objects a step changed without declaring them, by name; empty when the footprint holds.
 * Objects that did not exist before (a table just allocated, its lock), and a table that was still
 * private to the step's task (allocated or withdrawn, not linked) with its entries, are nobody
 * else's yet.
 */
export function undeclaredWrites(privateBefore: ReadonlySet<number>, before: Digest, after: Digest, writes: readonly number[]): string[] {
  const declared = new Set(writes);
  const isPrivate = (o: number): boolean => {
    const kind = objKind(o);
    const n = objNum(o);
    if (kind === OBJ.page) return !before.has(o); // a folio just allocated
    const tid = kind === OBJ.entry ? Math.floor(n / 512) : n;
    if (kind !== OBJ.entry && kind !== OBJ.table && kind !== OBJ.lock) return false;
    return !before.has(obj(OBJ.table, tid)) || privateBefore.has(tid);
  };
  return changed(before, after)
    .filter((o) => !declared.has(o) && !isPrivate(o))
    .map(objectName);
}

/**
 * Record which CPUs' TLBs the running step reads: each CPU's `tlb` is swapped for a proxy until
 * `stop()`, which puts the real ones back and returns the TLB objects read (OBJ.tlb by CPU id).
 * A reference to a TLB taken before the step bypasses the proxy (fewer reads seen, never more).
 */
export function watchTlbReads(k: Kernel): { stop(): number[] } {
  const seen = new Set<number>();
  const real = k.cpus.map((c) => c.tlb);
  k.cpus.forEach((c, i) => {
    const proxy = new Proxy(real[i], {
      get(target, prop) {
        seen.add(obj(OBJ.tlb, c.id));
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    (c as { tlb: unknown }).tlb = proxy;
  });
  return {
    stop(): number[] {
      k.cpus.forEach((c, i) => ((c as { tlb: unknown }).tlb = real[i]));
      return [...seen];
    },
  };
}

/** The TLBs a step read without declaring or recording a read or write of them, by name. */
export function undeclaredReads(read: readonly number[], touched: readonly number[]): string[] {
  const ok = new Set(touched);
  return read.filter((o) => !ok.has(o)).map(objectName);
}
