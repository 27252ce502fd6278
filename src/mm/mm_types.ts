/**
 * The kernel's core objects (include/linux/mm_types.h, include/linux/fs.h): the whole modelled
 * machine (`Kernel`), address spaces (`MmStruct`), VMAs, files (`AddressSpace`) and CPUs.
 */
import type { Config } from './config.js';
import { LEVEL_PGD, NR_CPUS, type Vaddr, PAGE_SIZE } from './const.js';
import { PhysMem } from './page_alloc.js';
import { TableStore } from './pgtable.js';
import { Rcu } from './rcu.js';
import { SwapInfo } from './swap_info.js';
import { Tlb } from './tlb.js';
import { BINDER_OBJ_BASE, FootprintRecorder, OBJ, obj } from './objects.js';
import { VmaTree } from './vma_tree.js';
import { XArray } from './xarray.js';
import type { StepStack } from './where.js';

/** include/linux/mm_types.h: enum of RSS counters. */
export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SWAPENTS = 2;
export const MM_SHMEMPAGES = 3;

/** include/linux/mm.h: vm_flags (kernel values). */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_UFFD_MISSING = 0x200;
export const VM_PFNMAP = 0x400;
export const VM_UFFD_WP = 0x1000;
/**
 * VM_UFFD_MINOR is bit 41 in the kernel (VM_UFFD_MINOR_BIT, include/linux/mm.h); the model's flags
 * are JavaScript numbers handled with 32-bit bitwise operators, so it takes 0x800, a bit the
 * kernel no longer uses (formerly VM_DENYWRITE).
 */
export const VM_UFFD_MINOR = 0x800;
/** __VM_UFFD_FLAGS (include/linux/userfaultfd_k.h). */
export const __VM_UFFD_FLAGS = VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR;
export const VM_LOCKED = 0x2000;
export const VM_IO = 0x4000;
export const VM_DONTCOPY = 0x20000;
export const VM_LOCKONFAULT = 0x80000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_MIXEDMAP = 0x10000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
/** VM_SPECIAL (include/linux/mm.h) without VM_DONTEXPAND, which no modelled VMA has. */
export const VM_SPECIAL = VM_IO | VM_PFNMAP | VM_MIXEDMAP;

/** include/linux/mm.h: is_cow_mapping(): private and may become writable. */
export function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** include/linux/sched/coredump.h: MMF_* bits. */
export const MMF_VM_HUGEPAGE = 1 << 0;
export const MMF_OOM_SKIP = 1 << 1;

/**
 * A read-write semaphore (mmap_lock, i_mmap_rwsem, the per-VMA lock): reader count and writer
 * (CPU + 1). `id` names it for the explorer's dependency tracking: handed out by its kernel in
 * creation order (`Kernel.newObjectId()`), so the same lock has the same id in every execution of a
 * scenario, as table and lock handles do.
 */
export class RwSem {
  readers = 0;
  /**
   * The readers by the CPU that took them (a model-only split of `readers`, as a percpu counter):
   * two readers on different CPUs change different words, so the explorer may treat their
   * acquisitions and releases as independent (src/scenarios/footprint.ts, OBJ.semReaders).
   */
  readonly readersOn = new Int32Array(NR_CPUS);
  writer = 0;
  constructor(readonly id: number) {}
}

/** Event counters, for reports and tests (the kernel keeps similar ones in /proc/vmstat). */
export class Stats {
  ptesReclaimedFast = 0;
  ptesReclaimedSlow = 0;
  slowPathNotEmpty = 0;
  pteTablesFreedByMunmap = 0;
  pteTablesRetracted = 0;
  faults = 0;
  tlbFlushes = 0;
  tlbFullFlushes = 0;
  tlbFlushPages = 0;
  tlbFlushFreedTables = 0;
  rcuCallbacks = 0;
  tableBatchesQueued = 0;
  singleTableFrees = 0;
  forceFlushes = 0;
  thpFaults = 0;
  thpSplits = 0;
  collapses = 0;
  /** TLB conflicts seen where the architecture tolerates them (x86: arch/tlb_conflict.ts). */
  tlbConflictsTolerated = 0;
  /** Flushes made by the R8 remedy (config fault_flush_pending): a fault met a pending flush. */
  faultPendingFlushes = 0;
}

/** A finding the configured architecture tolerates: reported, not failing (x86's TLB conflicts). */
export interface ToleratedFinding {
  readonly kind: 'tlb-conflict';
  readonly message: string;
}

export class AnonVma {
  constructor(readonly id: number) {}
}

/**
 * A TCP socket a process mapped (net/ipv4/tcp.c tcp_mmap()): the VMA's vm_file, and its vm_ops is
 * tcp_vm_ops, which has no ->fault. The model keeps no receive queue: a zerocopy receive brings its
 * own pages and frees what it did not map (src/mm/tcp.ts).
 */
export class TcpSock {
  readonly kind = 'tcp';
  constructor(
    readonly id: number,
    readonly name: string,
    /**
     * sk->sk_lock as lock_sock() takes it: one owner at a time, others sleep (the write side of
     * a semaphore here). getsockopt(TCP_ZEROCOPY_RECEIVE) holds it for the whole receive.
     */
    readonly skLock: RwSem,
  ) {}
  /** vm_ops->close: tcp_vm_ops has none. */
  vmaClose(): void {}
}

/**
 * A binder device a process opened and mapped (drivers/android/binder.c binder_mmap(), struct
 * binder_alloc of drivers/android/binder_alloc.c): the buffer pages binder installed into the
 * mapping, which binder keeps a reference on until the file is released (src/mm/binder.ts).
 */
export class BinderProc {
  readonly kind = 'binder';
  /** alloc->vm_start and alloc->buffer_size (at most 4M of the mapping). */
  vmStart = 0;
  bufferSize = 0;
  /**
   * alloc->pages[]: per page index of the buffer, the installed page (0 = none). Accessed through
   * binder.ts (binder_get_installed_page(), binder_set_installed_page()), which report each access
   * to the explorer: installs of one page race on its slot.
   */
  pages: number[] = [];
  /** alloc->mapped: set by binder_alloc_mmap_handler(), cleared by binder_vma_close(). */
  mapped = false;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly mm: MmStruct,
  ) {}
  /** The explorer's object of slot `index` of pages[]; BINDER_SLOTS - 1 is the `mapped` word. */
  obj(index: number): number {
    return obj(OBJ.mapping, BINDER_OBJ_BASE + this.id * BINDER_SLOTS + index);
  }
  /** vm_ops->close: binder_vma_close() → binder_alloc_vma_close(). */
  vmaClose(): void {
    this.mm.kernel.rec.touch(this.obj(BINDER_SLOTS - 1), true);
    this.mapped = false; // binder_alloc_set_mapped(alloc, false)
  }
}

/** SZ_4M: binder uses at most this much of its mapping as buffer space (binder_alloc_mmap_handler()). */
export const BINDER_BUFFER_MAX = 4 << 20;
/** Slots of a binder alloc's explorer objects: a page each of the buffer space, then `mapped`. */
export const BINDER_SLOTS = BINDER_BUFFER_MAX / PAGE_SIZE + 1;

/**
 * A binder object as messages name it: the inverse of BinderProc.obj(), for OBJ.mapping's number
 * `n` from BINDER_OBJ_BASE on ('binder 3 pages[0]', 'binder 3 mapped'; 3 is the alloc's id).
 */
export function binderObjectName(n: number): string {
  const slot = (n - BINDER_OBJ_BASE) % BINDER_SLOTS;
  const id = Math.floor((n - BINDER_OBJ_BASE) / BINDER_SLOTS);
  return slot === BINDER_SLOTS - 1 ? `binder ${id} mapped` : `binder ${id} pages[${slot}]`;
}

/** The driver behind a VMA whose vm_file is neither a regular file nor shmem. */
export type DriverFile = TcpSock | BinderProc;

export class Vma {
  anonVma: AnonVma | null = null;
  /** A driver mapping (vm_ops == &tcp_vm_ops or &binder_vm_ops), else null; kept across splits, as vm_file is. */
  driver: DriverFile | null = null;
  /** Removed from the tree: never returned to fault lookups again. */
  detached = false;
  /** The model's label of the mapping (the script's map name), kept across splits. */
  name = '';
  /** The per-VMA lock: readers are faults (vma_start_read()); see writeSeq. */
  readonly vmLock: RwSem;
  /** vm_lock_seq: equal to mm.mmapSeq while write-locked (vma_start_write() until mmap_write_unlock()). */
  writeSeq = -1;
  constructor(
    public mm: MmStruct,
    public start: Vaddr,
    public end: Vaddr,
    public flags: number,
    public file: AddressSpace | null,
    /** Page offset in the file; for anonymous mappings start >> PAGE_SHIFT, as in the kernel. */
    public pgoff: number,
  ) {
    this.vmLock = new RwSem(mm.kernel.newObjectId());
  }
  /** vma_is_anonymous(): no vm_ops (neither a file nor a driver behind it). */
  isAnonymous(): boolean {
    return this.file === null && this.driver === null;
  }
  /** vma_is_shmem(): shmem-backed (memfd, MAP_SHARED|MAP_ANONYMOUS). */
  isShmem(): boolean {
    return this.file !== null && this.file.kind === 'shmem';
  }
  /** A MAP_SHARED|MAP_ANONYMOUS mapping is shmem-backed, but we remember how it was created. */
  anonShared = false;
  /**
   * swap_readahead_info (swap_state.ts): the last swap fault's address, readahead window and hits,
   * packed as SWAP_RA_VAL() packs them; 0 until the first swap fault of the VMA.
   */
  swapReadaheadInfo = 0;
}

/**
 * vm_area_init_from() (mm/vma_init.c, 6.18) for the fields the model keeps beyond the constructor's:
 * a VMA split, copied or duplicated from `src` takes its name, kind, driver and swap readahead state
 * (anon_vma is each caller's: dup_mmap() gives the child its own).
 */
export function vmAreaInitFrom(src: Vma, dest: Vma): void {
  dest.name = src.name;
  dest.anonShared = src.anonShared;
  dest.driver = src.driver;
  dest.swapReadaheadInfo = src.swapReadaheadInfo;
}

export class AddressSpace {
  /** i_pages: per page index, the pfn of the page-cache page (0 = hole); sparse (xarray.ts). */
  readonly pages = new XArray();
  /** i_mmap: the VMAs mapping this file. */
  readonly iMmap: Vma[] = [];
  readonly iMmapRwsem: RwSem;
  constructor(
    kernel: Kernel,
    readonly id: number,
    readonly name: string,
    readonly kind: 'shmem' | 'file',
    public sizePages: number,
    /** Folio order the file's writes produced (regular files). */
    readonly writeOrder: number,
  ) {
    this.iMmapRwsem = new RwSem(kernel.newObjectId());
  }
  nrpages = 0;
}

export class MmStruct {
  pgd: number;
  /** mm_mt: the VMAs in address order (vma_tree.ts). */
  readonly vmas = new VmaTree();
  pgtablesBytes = 0;
  readonly rss = new Float64Array(4);
  totalVm = 0;
  lockedVm = 0;
  /** start_brk / brk: the heap's base and the current break (set by setBrkBase(), moved by brk()). */
  startBrk = 0;
  brk = 0;
  readonly mmapLock: RwSem;
  /** page_table_lock: 0 free, else owner CPU + 1. */
  pageTableLock = 0;
  /** mm_lock_seq: bumped when the mmap write lock is released, ending VMA write locks. */
  mmapSeq = 0;
  tlbFlushPending = 0;
  cpumask = 0;
  users = 1;
  flags = 0;
  exited = false;
  /** The binder files this process opened and mapped (its fd table's, for binder_release() at exit). */
  readonly binderProcs: BinderProc[] = [];
  readonly stats = new Stats();
  constructor(
    readonly kernel: Kernel,
    readonly id: number,
    readonly name: string,
  ) {
    // mm_alloc_pgd(): the PGD is not counted in pgtables_bytes (spec: VmPTE counts PTE+PMD+PUD).
    this.pgd = kernel.pt.alloc(LEVEL_PGD, id, 0);
    this.mmapLock = new RwSem(kernel.newObjectId());
  }
}

/**
 * !mm_forbids_zeropage() as the read-fault paths ask it (do_anonymous_page(),
 * do_huge_pmd_anonymous_page()): upstream it is 0 on x86 (include/linux/mm.h). A vendor 6.18.44
 * booted with pvm_no_zero_page=1 maps pages of its own at these two sites only: its
 * UFFDIO_ZEROPAGE and its remap after a THP split still map the zero page (measured,
 * docs/fidelity.md). `fault_zero_page=off` models that kernel.
 */
export function faultMayMapZeroPage(mm: MmStruct): boolean {
  return mm.kernel.cfg.faultZeroPage;
}

export class Cpu {
  readonly tlb: Tlb;
  rcuNesting = 0;
  /** Incremented whenever this CPU leaves its outermost RCU read-side (or IRQ-off) section. */
  rcuQs = 0;
  irqDisabled = 0;
  /** Spinlocks held, innermost last. */
  readonly held: number[] = [];
  activeMm: MmStruct | null = null;
  /**
   * need_resched() of the task running here, under the config's policy (sync.needReschedByConfig):
   * how often it was asked, TIF_NEED_RESCHED, and "just rescheduled". Per CPU, as the flag is per
   * task in the kernel: two CPUs' zap loops must not share one counter.
   */
  reschedTicks = 0;
  reschedPending = false;
  reschedFresh = false;
  constructor(
    readonly id: number,
    pwcFlush: Config['pwcFlush'] = 'all',
  ) {
    this.tlb = new Tlb(pwcFlush);
  }
}

export class Kernel {
  readonly mem: PhysMem;
  readonly pt: TableStore;
  readonly mms: MmStruct[] = [];
  readonly files: AddressSpace[] = [];
  readonly cpus: Cpu[] = [];
  readonly rcu = new Rcu();
  /** The swap area (swap_info[0]); null without swap (config swap=off, the default). */
  readonly swap: SwapInfo | null;
  readonly stats = new Stats();
  /** The first few tolerated findings (counted in stats.tlbConflictsTolerated), oldest first. */
  readonly tolerated: ToleratedFinding[] = [];
  nextAnonVma = 1;
  /**
   * The mm whose VMA tree the current step may change (set by an `mtStore()` step). The explorer
   * clears it before every step and sets `checkTreeWrites`, so that a tree change made anywhere
   * but right after a store step is a model bug rather than a dependency it cannot see.
   */
  treeWriter: MmStruct | null = null;
  checkTreeWrites = false;
  /** Ids of objects that have no number of their own (rw-semaphores), in creation order. */
  private objectIds = 0;
  newObjectId(): number {
    return ++this.objectIds;
  }
  /** Objects the running step touches beyond its declared footprint (on only in the explorer). */
  readonly rec = new FootprintRecorder();
  /**
   * Set only while the explainer runs tasks one at a time (src/scenarios/system.ts,
   * runSequentially()): answers the choices a sequential order may take that the concurrent search
   * leaves to the config (faultAroundSkipped(), trylockContendedElsewhere()), so that the
   * sequential outcomes include them.
   */
  explainChoice: ((what: 'fault_around' | 'mmap_trylock') => boolean) | null = null;
  /**
   * While the explorer records a trace: by CPU, the stack of the step it yielded last
   * (primitives.ts), from which src/mm/where.ts names the kernel function; null otherwise.
   */
  stepStacks: StepStack[] | null = null;
  constructor(readonly cfg: Config) {
    this.mem = new PhysMem(cfg.totalPages, this.rec);
    this.pt = new TableStore(this.mem, this.rec);
    this.swap = cfg.swapPages > 0 ? new SwapInfo(cfg.swapPages) : null;
    for (let i = 0; i < cfg.nrCpus; i++) this.cpus.push(new Cpu(i, cfg.pwcFlush));
  }
}

/** include/linux/mm_types.h: enum fault_flag. */
export const FAULT_FLAG_WRITE = 0x1;
export const FAULT_FLAG_MKWRITE = 0x2;
export const FAULT_FLAG_ALLOW_RETRY = 0x4;
export const FAULT_FLAG_KILLABLE = 0x10;
export const FAULT_FLAG_TRIED = 0x20;
export const FAULT_FLAG_USER = 0x40;
export const FAULT_FLAG_REMOTE = 0x80;
export const FAULT_FLAG_UNSHARE = 0x400;
export const FAULT_FLAG_ORIG_PTE_VALID = 0x800;
export const FAULT_FLAG_VMA_LOCK = 0x1000;

/** include/linux/mm_types.h: enum vm_fault_reason. */
export const VM_FAULT_OOM = 0x1;
export const VM_FAULT_SIGBUS = 0x2;
export const VM_FAULT_MAJOR = 0x4;
export const VM_FAULT_HWPOISON = 0x10;
export const VM_FAULT_SIGSEGV = 0x40;
export const VM_FAULT_NOPAGE = 0x100;
export const VM_FAULT_LOCKED = 0x200;
export const VM_FAULT_RETRY = 0x400;
export const VM_FAULT_FALLBACK = 0x800;
export const VM_FAULT_DONE_COW = 0x1000;
export const VM_FAULT_COMPLETED = 0x4000;
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON | VM_FAULT_FALLBACK;

/** struct vm_fault: the state of one fault, passed down the handlers. */
export class VmFault {
  pmd = 0;
  pte = -1;
  ptl = 0;
  /** The PMD value the last pte_offset_map*() saw (its out-parameter; see PteMapOut). */
  pmdval = 0;
  origPte = 0;
  origPmd = 0;
  /** A PTE table allocated before taking locks (0 = none), freed at the end if unused. */
  preallocPte = 0;
  /** The page (pfn) the ->fault handler returned, locked and referenced. */
  page = 0;
  cowPage = 0;
  pgoff: number;
  constructor(
    readonly vma: Vma,
    /** Page-aligned faulting address. */
    readonly address: number,
    public flags: number,
  ) {
    this.pgoff = linearPageIndex(vma, address);
  }
}

/** linear_page_index(). */
export function linearPageIndex(vma: Vma, address: number): number {
  return (address - vma.start) / PAGE_SIZE + vma.pgoff;
}
