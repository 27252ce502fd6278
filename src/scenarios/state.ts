/**
 * The state of a modelled kernel up to the renaming of frames and table ids, as one string: what
 * the explorer's own checks compare (src/explore/oracles.ts: DPOR against naive enumeration, and
 * the commutation check of independent steps).
 *
 * Why up to renaming: frame allocation is not a scheduling point (docs/explorer.md), so two steps
 * that each allocate a page commute in the explorer's eyes while handing out pfns in either order.
 * Every frame and table is therefore named by where it sits, never by its number: a table by the
 * mm and address of the slot that points to it (or, off the tree, by its state, level and the
 * address it maps), a page-cache page by its file and index, an anonymous folio by the first
 * (process, address) that maps it in address order. Read with peeks only, so taking it changes
 * nothing.
 */
import { PTRS_PER_PTE } from '../mm/const.js';
import type { Cpu, Kernel, MmStruct } from '../mm/mm_types.js';
import { PT_ANON, PT_FREE, PT_PAGETABLE } from '../mm/page_alloc.js';
import { describeState, T_UNUSED } from '../mm/pgtable.js';
import { pmdIsTable, pmdPfn, pmdTransHuge, pteFlags, ptePfn, ptePresent } from '../mm/pgtable_types.js';

class Namer {
  readonly frames = new Map<number, string>();
  readonly tables = new Map<number, string>();
  constructor(readonly k: Kernel) {
    const mem = k.mem;
    this.frames.set(mem.zeroPfn, 'zero');
    if (mem.hugeZeroPfn >= 0) this.frames.set(mem.hugeZeroPfn, 'hzero');
    for (const f of k.files) f.pages.forEach((i, pfn) => this.frames.set(pfn, `F${f.id}:${i}`));
  }
  /** A frame's name: its folio's name, plus the page's offset inside the folio. */
  frame(pfn: number, firstUse: string): string {
    const mem = this.k.mem;
    if (mem.type[pfn] === PT_FREE) return 'freed';
    const head = mem.folioHead(pfn as never);
    let name = this.frames.get(head);
    if (name === undefined) this.frames.set(head, (name = mem.type[head] === PT_ANON ? `A${firstUse}` : `P${firstUse}`));
    return pfn === head ? name : `${name}+${pfn - head}`;
  }
  table(tid: number): string {
    return this.tables.get(tid) ?? `${describeState(this.k.pt.state[tid])}-L${this.k.pt.level[tid]}@${this.k.pt.addr[tid]}`;
  }
}

/** An entry value with its frame replaced by the frame's name. */
function entry(n: Namer, v: number, where: string, isTable: boolean): string {
  if (v === 0) return '0';
  if (!ptePresent(v)) return `np:${v}`;
  const flags = pteFlags(v);
  if (isTable) return `t:${flags}`;
  return `${flags}:${n.frame(ptePfn(v), where)}`;
}

function tree(n: Namer, mm: MmStruct, out: string[]): void {
  const pt = n.k.pt;
  const visit = (tid: number, path: string): void => {
    n.tables.set(tid, path);
    out.push(`  table ${path} ${describeState(pt.state[tid])} lock=${pt.lockOwner[tid]}${pt.lockDead[tid] ? ' dead' : ''}`);
    const rows: [number, number][] = [];
    pt.forEachEntry(tid, (i, v) => rows.push([i, v]));
    rows.sort((a, b) => a[0] - b[0]);
    const level = pt.level[tid];
    for (const [i, v] of rows) {
      const at = `${path}.${i}`;
      const child = level > 1 && pmdIsTable(v) && !pmdTransHuge(v) ? pt.tidOfPfn(pmdPfn(v)) : 0;
      out.push(`   ${at}=${entry(n, v, `${mm.id}@${at}`, child > 0)}`);
      if (child > 0) visit(child, at);
    }
    for (let d = pt.deposit[tid], j = 0; d > 0 && j < PTRS_PER_PTE; d = pt.next[d], j++) {
      n.tables.set(d, `${path}/dep${j}`);
      out.push(`   deposited ${path}/dep${j} live=${pt.populated(d)}`);
    }
  };
  visit(mm.pgd, `${mm.id}`);
}

function offTree(n: Namer, out: string[]): void {
  const pt = n.k.pt;
  const rows: string[] = [];
  for (let tid = 1; tid < pt.nrTids; tid++) {
    const st = pt.state[tid];
    if (st === T_UNUSED || n.tables.has(tid)) continue;
    const entries: string[] = [];
    pt.forEachEntry(tid, (i, v) => entries.push(`${i}=${entry(n, v, `off@${tid}`, false)}`));
    rows.push(`  ${n.table(tid)} mm=${pt.mm[tid]} lock=${pt.lockOwner[tid]}${pt.lockDead[tid] ? ' dead' : ''} [${entries.sort().join(' ')}]`);
  }
  out.push(...rows.sort());
}

function frames(n: Namer, out: string[]): void {
  const mem = n.k.mem;
  const rows: string[] = [];
  for (let p = 1; p < mem.top; p++) {
    if (mem.type[p] === PT_FREE || mem.type[p] === PT_PAGETABLE) continue;
    if (mem.folioHead(p as never) !== p) continue;
    const name = n.frames.get(p) ?? `unmapped-type${mem.type[p]}`;
    const shared = mem.order[p] > 0 ? ` s${mem.mmIdsShared[mem.largeIdx(p)]}` : ''; // maybe mapped shared (rmap.ts largeMapcountAdd())
    rows.push(`  ${name} t${mem.type[p]} o${mem.order[p]} f${mem.testFlags(p, 0xffff)} r${mem.refcount[p]} m${mem.mapcount[p]} e${mem.entireMapcount[p]}${shared}`);
  }
  out.push(...rows.sort());
}

function tlbOf(n: Namer, c: Cpu): string {
  const t = c.tlb;
  const mem = n.k.mem;
  const rows: string[] = [];
  for (let s = 0; s < t.vpn.length; s++) {
    if (t.vpn[s] < 0) continue;
    const stale = mem.gen[t.pfn[s]] !== t.gen[s];
    rows.push(`4k ${t.mm[s]}:${t.vpn[s]}->${stale ? 'stale' : n.frame(t.pfn[s], '?')}${t.write[s] ? 'w' : ''}`);
  }
  for (let s = 0; s < t.hvpn.length; s++) {
    if (t.hvpn[s] < 0) continue;
    const stale = mem.gen[t.hpfn[s]] !== t.hgen[s];
    rows.push(`2m ${t.hmm[s]}:${t.hvpn[s]}->${stale ? 'stale' : n.frame(t.hpfn[s], '?')}${t.hwrite[s] ? 'w' : ''}`);
  }
  for (let s = 0; s < t.pwcBlock.length; s++) if (t.pwcBlock[s] >= 0) rows.push(`pwc ${t.pwcMm[s]}:${t.pwcBlock[s]}->${n.table(t.pwcTid[s])}`);
  return rows.sort().join(' ');
}

/**
 * The canonical state: processes (counters, VMAs, the page-table tree with every entry), tables
 * off the tree, live frames with their counts, files, CPUs (sections, held locks, TLB and walk
 * cache), pending RCU callbacks, the kernel's event counters, and the tasks' results.
 */
export function canonicalState(k: Kernel, results: readonly (number | undefined)[] = []): string {
  const n = new Namer(k);
  const out: string[] = [];
  for (const mm of k.mms) {
    out.push(
      `mm ${mm.id} ${mm.name} rss=${[...mm.rss].join(',')} pt=${mm.pgtablesBytes} vm=${mm.totalVm}/${mm.lockedVm} brk=${mm.startBrk}-${mm.brk}` +
        ` mmap=${mm.mmapLock.readers}/${mm.mmapLock.writer} seq=${mm.mmapSeq} ptl=${mm.pageTableLock} flushpending=${mm.tlbFlushPending} users=${mm.users} exited=${mm.exited}`,
    );
    const anon = new Map<unknown, number>();
    for (const v of mm.vmas) {
      const av = v.anonVma === null ? '-' : (anon.get(v.anonVma) ?? anon.set(v.anonVma, anon.size).get(v.anonVma));
      out.push(
        `  vma ${v.start}-${v.end} f${v.flags} pg${v.pgoff} file=${v.file?.id ?? '-'} av=${av} ${v.name}${v.detached ? ' detached' : ''}` +
          ` wlocked=${v.writeSeq === mm.mmapSeq} lock=${v.vmLock.readers}/${v.vmLock.writer}`,
      );
    }
    if (!mm.exited) tree(n, mm, out);
  }
  offTree(n, out);
  for (const f of k.files) out.push(`file ${f.id} ${f.name} size=${f.sizePages} cached=${f.nrpages} i_mmap=${f.iMmap.length} rwsem=${f.iMmapRwsem.readers}/${f.iMmapRwsem.writer}`);
  frames(n, out);
  for (const c of k.cpus) {
    out.push(`cpu ${c.id} rcu=${c.rcuNesting} irq=${c.irqDisabled} held=[${c.held.map((l) => (l > 0 ? n.table(l) : `mm${-l - 1}`)).join(',')}] mm=${c.activeMm?.id ?? "-"} resched=${c.reschedTicks}/${c.reschedPending}/${c.reschedFresh}`);
    out.push(`  tlb ${tlbOf(n, c)}`);
  }
  // A callback's waits on readers that have ended are printed as none: such a wait holds nothing
  // back, and one queued after the reader's end has none (footprint.ts outermost()).
  out.push(`rcu ${k.rcu.pending.map((cb) => `${cb.name}(${cb.waitFor ? [...cb.waitFor].filter(([id, qs]) => k.cpus[id].rcuQs === qs).map(([id]) => `${id}w`).join('') : ''})`).join(' ')} completed=${k.rcu.completed}`);
  out.push(`mem used=${[...k.mem.used].join(',')} pagetables=${k.mem.nrPagetable} tables=${[...k.pt.countByState].join(',')}`);
  out.push(`stats ${Object.entries(k.stats).map(([key, v]) => `${key}=${v}`).join(' ')}`);
  out.push(`results ${results.map((r) => (r === undefined ? '-' : r)).join(' ')}`);
  return out.join('\n');
}
