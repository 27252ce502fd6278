/**
 * Names for the shared objects of the model, as the explorer's dependency tracking numbers them
 * (src/scenarios/footprint.ts says what each step declares, docs/explorer.md why it is enough), and
 * the recorder through which model code reports, as it runs, the objects a step touches beyond
 * what the step declared in advance: a folio's counts, a table's life. The kind is in the low five
 * bits (objKind(), objNum()).
 */
import { NR_CPUS } from './const.js';

export const OBJ = {
  /** A page-table entry (tid * 512 + index). */
  entry: 0,
  /** A page table's life (linked, off the tree, freed) and its lock's storage. */
  table: 1,
  /** A page table's split spinlock. */
  lock: 2,
  /** An mm's page_table_lock. */
  mmlock: 3,
  /** An rw-semaphore, with the sequence words that live beside it. */
  sem: 4,
  /** A folio's lock bit. */
  folio: 5,
  /** A CPU's RCU read-side and interrupts-off sections, and its TLB. */
  rcu: 6,
  irq: 7,
  tlb: 8,
  /** An mm's VMA tree. */
  tree: 9,
  /** The RCU callback queue. */
  queue: 10,
  /** A folio's reference and map counts (by head pfn). */
  page: 11,
  /**
   * A file's page cache (mapping->i_pages and nrpages, by file id); from BINDER_OBJ_BASE on, a
   * binder alloc's pages[] slots and its `mapped` word (BinderProc.obj()), page caches of a driver.
   */
  mapping: 12,
  /** An mm's tlb_flush_pending count (mmu_gathers running on it), by mm id. */
  flushPending: 13,
  /** A swap slot's count in swap_map (by offset; mm/swapfile.c). */
  swap: 14,
  /**
   * The readers one CPU holds of an rw-semaphore (RwSem.readersOn, by sem id * NR_CPUS + cpu). A
   * reader's down and up change only its own CPU's word, so readers on different CPUs commute; a
   * writer, who waits for no readers at all, reads every CPU's word. `sem` is then the writer half
   * (owner, and the sequence words beside it), which readers read.
   */
  semReaders: 15,
  /**
   * The page allocator's state (src/mm/page_alloc.ts): number 0 is the zone (its free stacks and
   * bump pointer), number 1 + c CPU c's per-CPU page lists. Which frame an allocation returns
   * depends on the frees and allocations before it on the same lists: a frame one task frees may be
   * the one another task's allocation gets, and a stale value naming that frame (an entry read
   * before the free) then names the new folio (ABA), where in the other order it names a free
   * frame. Every allocation and every free writes the lists it uses (a refill or a drain the zone
   * too), so that DPOR runs both orders of any two that share them.
   */
  alloc: 16,
} as const;

export type ObjKind = (typeof OBJ)[keyof typeof OBJ];

/** Where binder's objects start among OBJ.mapping's numbers, above every file id. */
export const BINDER_OBJ_BASE = 1 << 24;

const KIND_BITS = 32;
export const obj = (kind: ObjKind, n: number): number => n * KIND_BITS + kind;
/** The kind of an object number (OBJ), and its number within the kind. */
export const objKind = (o: number): number => ((o % KIND_BITS) + KIND_BITS) % KIND_BITS;
export const objNum = (o: number): number => (o - objKind(o)) / KIND_BITS;

/** The readers of rw-semaphore `semId` on CPU `cpu` (OBJ.semReaders). */
export const semReadersObj = (semId: number, cpu: number): number => obj(OBJ.semReaders, semId * NR_CPUS + cpu);

/** What the running step touched beyond its declared footprint; `on` only while the explorer steps. */
export class FootprintRecorder {
  on = false;
  readonly reads: number[] = [];
  readonly writes: number[] = [];
  touch(o: number, write: boolean): void {
    if (this.on) (write ? this.writes : this.reads).push(o);
  }
  start(): void {
    this.on = true;
    this.reads.length = 0;
    this.writes.length = 0;
  }
  stop(): void {
    this.on = false;
  }
}
