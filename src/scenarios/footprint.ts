/**
 * What each scheduling point of the model reads and writes, for the explorer's dependency
 * tracking (src/explore/types.ts): the reason DPOR may run one order of two steps instead of both.
 * Objects are numbered by src/mm/objects.ts. A footprint here is what a step declares before it
 * runs; model code adds, while the step runs, what it touches beyond that (a folio's counts, a
 * table's life: FootprintRecorder), and the explorer uses the union.
 *
 * The rules a footprint follows, and why each is enough, are in docs/explorer.md ("Dependencies");
 * src/explore/oracles.ts and the write check of system.ts test them on every shipped scenario.
 */
import { binderObjectName, type Cpu, type Kernel } from '../mm/mm_types.js';
import type { Step } from '../mm/primitives.js';
import { rcuCallbackReady } from '../mm/rcu.js';
import { walkFootprint } from '../mm/arch/walk.js';
import { pmdIsTable, pmdPfn, pmdTransHuge } from '../mm/pgtable_types.js';
import { LEVEL_PTE, NR_CPUS } from '../mm/const.js';
import { BINDER_OBJ_BASE, obj, OBJ, objKind, objNum, semReadersObj } from '../mm/objects.js';

export { obj, OBJ, objKind, objNum, semReadersObj };

const KIND_NAMES: readonly string[] = ['entry', 'table', 'lock', 'mmlock', 'sem', 'folio', 'rcu', 'irq', 'tlb', 'tree', 'queue', 'page', 'mapping', 'flush-pending', 'swap', 'sem-readers', 'page allocator'];

export interface Footprint {
  readonly reads: number[];
  readonly writes: number[];
  readonly global?: boolean;
}

const NONE: Footprint = Object.freeze({ reads: [], writes: [] }) as Footprint;

/** The table an entry pointer is in. */
const tidOf = (ptr: number): number => Math.floor(ptr / 512);

/**
 * A store into a non-leaf slot links or unlinks the table the old and new values point to;
 * clearing a huge PMD also withdraws the table deposited with it (zap_deposited_table()).
 */
function linkedTables(k: Kernel, ptr: number, newValue: number, into: number[]): void {
  const pt = k.pt;
  const tid = tidOf(ptr);
  if (pt.level[tid] === LEVEL_PTE) return;
  const old = pt.peek(tid, ptr % 512);
  if (pmdTransHuge(old)) for (let d = pt.deposit[tid], n = 0; d > 0 && n < 512; d = pt.next[d], n++) into.push(obj(OBJ.table, d));
  for (const v of [old, newValue]) {
    if (!pmdIsTable(v) || pmdTransHuge(v)) continue;
    const child = pt.tidOfPfn(pmdPfn(v));
    if (child) into.push(obj(OBJ.table, child));
  }
}

/** The footprint of the step `s` about to be taken on `cpu`, from the kernel's state now. */
export function footprint(s: Step, cpu: Cpu, k: Kernel): Footprint {
  switch (s.op) {
    case 'ld':
      return { reads: [obj(OBJ.entry, s.ptr), obj(OBJ.table, tidOf(s.ptr))], writes: [] };
    case 'scan': {
      // Under the PTE lock only the first entry can change before the scan (none entries stay
      // none: pgtable.ts scanNone()); a lockless scan (`n`) reads every entry it may cover.
      const reads = [obj(OBJ.table, tidOf(s.ptr))];
      for (let i = 0; i < (s.n ?? 1); i++) reads.push(obj(OBJ.entry, s.ptr + i));
      return { reads, writes: [] };
    }
    case 'st':
    case 'xchg': {
      const writes = [obj(OBJ.entry, s.ptr)];
      linkedTables(k, s.ptr, s.op === 'st' ? s.v : 0, writes);
      return { reads: [obj(OBJ.table, tidOf(s.ptr))], writes };
    }
    case 'lock':
    case 'trylock':
    case 'unlock':
      // A split lock's storage dies with its table (ptl-use-after-free reads that).
      return s.lock > 0 ? { reads: [obj(OBJ.table, s.lock)], writes: [obj(OBJ.lock, s.lock)] } : { reads: [], writes: [obj(OBJ.mmlock, -s.lock - 1)] };
    // A reader reads the writer half and changes only its own CPU's count; a writer (and the
    // detach below, which also waits for readers) reads every CPU's count and writes the writer
    // half. So readers on different CPUs commute (objects.ts semReaders).
    case 'rlock':
    case 'rtrylock':
      return { reads: [obj(OBJ.sem, s.sem.id)], writes: [semReadersObj(s.sem.id, cpu.id)] };
    case 'runlock':
      return { reads: [], writes: [semReadersObj(s.sem.id, cpu.id)] };
    case 'wlock':
      return { reads: allReaders(s.sem.id, k), writes: [obj(OBJ.sem, s.sem.id)] };
    case 'wunlock':
      return { reads: [], writes: [obj(OBJ.sem, s.sem.id)] };
    case 'wdowngrade':
      return { reads: [], writes: [obj(OBJ.sem, s.sem.id), semReadersObj(s.sem.id, cpu.id)] };
    case 'flock':
    case 'ftrylock':
    case 'funlock':
      return { reads: [], writes: [obj(OBJ.folio, s.pfn)] };
    case 'fwait':
      return { reads: [obj(OBJ.folio, s.pfn)], writes: [] };
    case 'fref':
      return { reads: [], writes: [obj(OBJ.page, s.pfn)] };
    // Other CPUs see a CPU's read-side state only through call_rcu() (is it inside a reader, and
    // in which one: rcuReaderObj) and through the grace period (has the reader a callback waits
    // for ended: rcuQsObj). Only the outermost entry and exit change those; nested ones change this
    // CPU's own counts, which no other task reads. Interrupts off: IPIs wait on the CPU's `irq`.
    // An exit writes only rcuQsObj: it commutes with call_rcu() (see outermost()).
    case 'rcu+':
      return outermost(cpu, cpu.rcuNesting === 0, cpu.irqDisabled === 0, []);
    case 'rcu-':
      return outermost(cpu, cpu.rcuNesting === 1, cpu.irqDisabled === 0, []);
    case 'irq-':
      return outermost(cpu, cpu.irqDisabled === 0, cpu.rcuNesting === 0, [obj(OBJ.irq, cpu.id)]);
    case 'irq+':
      return outermost(cpu, cpu.irqDisabled === 1, cpu.rcuNesting === 0, [obj(OBJ.irq, cpu.id)]);
    case 'sleep':
    case 'choice':
      return NONE;
    case 'walk': {
      // The TLB lookup, then the walk: reads the slots on its way, may set A/D bits in the leaf,
      // fills this CPU's TLB and walk cache.
      const w = walkFootprint(s.mm, s.addr, cpu);
      const reads = [...w.entries.map((p) => obj(OBJ.entry, p)), ...w.tables.map((t) => obj(OBJ.table, t))];
      const writes = [obj(OBJ.tlb, cpu.id)];
      if (w.leaf >= 0) writes.push(obj(OBJ.entry, w.leaf));
      return { reads, writes };
    }
    case 'flush': {
      // An IPI to the mm's CPUs: it waits for their interrupts (not on arm64, a broadcast TLBI) and drops their TLB entries.
      const reads: number[] = [];
      const writes: number[] = [];
      for (const c of k.cpus) {
        if (!(s.mm.cpumask & (1 << c.id))) continue;
        writes.push(obj(OBJ.tlb, c.id));
        if (c !== cpu && k.cfg.arch !== 'arm64') reads.push(obj(OBJ.irq, c.id));
      }
      return { reads, writes };
    }
    case 'ptlock-free':
    case 'deposit':
      return { reads: [], writes: [obj(OBJ.table, s.tid)] };
    case 'ipi-sync':
      return { reads: k.cpus.filter((c) => c !== cpu).map((c) => obj(OBJ.irq, c.id)), writes: s.tables.map((t) => obj(OBJ.table, t)) };
    case 'call-rcu': {
      // call_rcu() notes which CPUs are inside a read-side section right now, and which one.
      const reads = k.cpus.map((c) => rcuReaderObj(c.id));
      return { reads, writes: [obj(OBJ.queue, 0)] };
    }
    case 'mt-walk':
      return { reads: [obj(OBJ.tree, s.mm.id)], writes: [] };
    case 'mt-store':
      return { reads: [], writes: [obj(OBJ.tree, s.mm.id)] };
    case 'seq':
      // vm_lock_seq lives with the VMA's lock, mm_lock_seq with the mmap_lock.
      return { reads: [obj(OBJ.sem, s.vma.vmLock.id), obj(OBJ.sem, s.vma.mm.mmapLock.id)], writes: [] };
    case 'seq-end':
      return { reads: [], writes: [obj(OBJ.sem, s.mm.mmapLock.id)] };
    case 'vma-get':
      return { reads: [obj(OBJ.sem, s.vma.vmLock.id)], writes: [semReadersObj(s.vma.vmLock.id, cpu.id)] };
    case 'detach':
      return { reads: allReaders(s.vma.vmLock.id, k), writes: [obj(OBJ.sem, s.vma.vmLock.id)] };
  }
}

/**
 * A CPU's read-side state as other CPUs see it: whether it is inside a reader (an RCU section or
 * interrupts off) and how many it has left (rcuQs). Written by the outermost entry and exit only.
 */
const rcuReaderObj = (cpu: number): number => obj(OBJ.rcu, cpu);

/**
 * The end of CPU `cpu`'s reader number `qs` (its rcuQs while inside it): what a callback queued
 * during that reader waits for. One object per reader, so that the grace period, which reads it,
 * does not depend on the CPU's later readers (rcuQs only grows: once the reader ended, nothing the
 * CPU does changes what the grace period sees of it). Numbered after the rcuReaderObj() objects.
 */
const rcuQsObj = (cpu: number, qs: number): number => obj(OBJ.rcu, NR_CPUS * (qs + 1) + cpu);

/**
 * The footprint of an entry into or exit from a reader, when it is the outermost one (`edge`, and
 * the other kind of reader not active: `alone`): an entry writes the CPU's reader state, which
 * call_rcu() reads; an exit ends the reader's rcuQsObj(), which the grace period reads, and does
 * not write the reader state. An exit commutes with call_rcu(): a callback queued just before it
 * waits for a reader that ends at once, which is to wait for nothing, as a callback queued just
 * after it does (rcu.ts rcuCallbackReady(); the two states differ only in a wait already satisfied,
 * which state.ts does not print). So DPOR need not run both orders of every reader's end and every
 * call_rcu(); it still runs both orders of its beginning, where the callback's wait differs.
 */
function outermost(cpu: Cpu, edge: boolean, alone: boolean, writes: number[]): Footprint {
  if (!(edge && alone)) return { reads: [], writes };
  const inside = cpu.rcuNesting > 0 || cpu.irqDisabled > 0;
  return { reads: [], writes: inside ? [...writes, rcuQsObj(cpu.id, cpu.rcuQs)] : [...writes, rcuReaderObj(cpu.id)] };
}

/** Every CPU's reader count of a semaphore: what waits for no readers at all reads. */
function allReaders(semId: number, k: Kernel): number[] {
  return k.cpus.map((c) => semReadersObj(semId, c.id));
}

/**
 * The RCU task's step: end the grace period of every callback that is ready and run them. It
 * reads the sections of the CPUs those callbacks wait for and writes the queue and the tables the
 * callbacks free. Waiting for call_rcu() with nothing queued reads the queue only.
 */
export function gracePeriodFootprint(k: Kernel | null): Footprint {
  const reads: number[] = [];
  const writes = [obj(OBJ.queue, 0)];
  if (!k?.rcu.pending.length) return { reads: writes, writes: [] };
  for (const cb of k.rcu.pending) {
    if (cb.waitFor) for (const [id, qs] of cb.waitFor) reads.push(rcuQsObj(id, qs));
    if (!rcuCallbackReady(cb, k.cpus)) continue;
    for (const t of cb.tables) writes.push(obj(OBJ.table, t));
  }
  return { reads, writes };
}

/** An object as people read it, for messages: 'entry pte[3]@T4', 'table T4', 'tlb CPU1'. */
export function objectName(o: number): string {
  const kind = objKind(o);
  const n = objNum(o);
  const name = KIND_NAMES[kind] ?? `kind${kind}`;
  switch (kind) {
    case OBJ.entry:
      return `entry ${n % 512}@T${tidOf(n)}`;
    case OBJ.table:
    case OBJ.lock:
      return `${name} T${n}`;
    case OBJ.rcu:
      return n < NR_CPUS ? `rcu CPU${n}` : `rcu CPU${n % NR_CPUS} reader ${Math.floor(n / NR_CPUS) - 1}`;
    case OBJ.irq:
    case OBJ.tlb:
      return `${name} CPU${n}`;
    case OBJ.semReaders:
      return `${name} ${Math.floor(n / NR_CPUS)} CPU${n % NR_CPUS}`;
    case OBJ.alloc:
      return n === 0 ? `${name} zone` : `${name} pcp CPU${n - 1}`;
    case OBJ.mapping:
      return n < BINDER_OBJ_BASE ? `${name} ${n}` : binderObjectName(n);
    default:
      return `${name} ${n}`;
  }
}
