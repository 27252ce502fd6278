/**
 * Scheduling points: the only places where a kernel path can be interleaved with another
 * (docs/architecture.md, "Conventions"). Each primitive first yields a `Step` describing the shared access it is about
 * to make, then makes it when resumed. Kernel paths `yield*` into these and never `yield` directly.
 *
 * This is the generator build. primitives.fast.ts holds the same functions without the yields;
 * tools/gen-fast.mjs swaps it in for the straight-line build used by replay and benchmarks.
 *
 * The driver resumes a task only when its pending step is enabled (`stepEnabled`): a lock is free,
 * an IPI's targets all have interrupts on, and so on. `complete()` drives one path alone on the
 * current CPU; a step that can never become enabled there is a deadlock.
 */
import { ModelBug, Violation } from './bug.js';
import { checkBreakBeforeMake } from './arch/tlb_conflict.js';
import { current } from './current.js';
import type { MmStruct, RwSem, Vma } from './mm_types.js';
import type { LockHandle } from './ptlock.js';
import { _PAGE_ACCESSED, _PAGE_RW, isSwapEntryPte, isSwapPte } from './pgtable_types.js';
import { callRcu } from './rcu.js';
import * as S from './sync.js';
import { captureStack } from './where.js';

export type Step =
  /** `scan` with `n`: a lockless scan that may read the n entries from ptr (pteScanNoSwap()). */
  | { op: 'ld' | 'xchg' | 'scan'; ptr: number; n?: number }
  /** `v`: the value stored, so that linking or unlinking a table is visible in the footprint. */
  | { op: 'st'; ptr: number; v: number }
  | { op: 'lock' | 'trylock' | 'unlock'; lock: LockHandle }
  | { op: 'rlock' | 'wlock' | 'rtrylock' | 'runlock' | 'wunlock'; sem: RwSem }
  /** `fwait`: wait for the folio to be unlocked without taking it (folio_wait_locked()). */
  | { op: 'flock' | 'ftrylock' | 'funlock' | 'fwait'; pfn: number }
  /** `fref`: an atomic access to a folio's reference count, as a step of its own (folioRefAccess()). */
  | { op: 'fref'; pfn: number }
  | { op: 'rcu+' | 'rcu-' | 'irq-' | 'irq+' | 'sleep' }
  | { op: 'flush'; mm: MmStruct }
  /** `tables`: what the caller frees right after the IPIs returned (semi-RCU). */
  | { op: 'ipi-sync'; tables: readonly number[] }
  | { op: 'walk'; mm: MmStruct; addr: number }
  | { op: 'call-rcu'; tables: readonly number[] }
  | { op: 'ptlock-free' | 'deposit'; tid: number }
  /** `fresh`: need_resched() asked first thing after a reschedule, which is no choice (needResched()). */
  | { op: 'choice'; what: 'need_resched' | 'batch_alloc'; fresh?: true }
  | { op: 'mt-walk' | 'mt-store' | 'seq-end'; mm: MmStruct }
  | { op: 'wdowngrade'; sem: RwSem }
  | { op: 'seq' | 'vma-get' | 'detach'; vma: Vma };

/** A kernel path: a generator of steps that returns T. In the straight-line build, just T. */
export type KGen<T> = Generator<Step, T, unknown>;

/** Whether a pending step can run now on the current CPU. */
export function stepEnabled(s: Step): boolean {
  switch (s.op) {
    case 'lock':
      return S.lockCanProceed(s.lock);
    case 'rlock':
      return S.rwsemCanRead(s.sem);
    case 'wlock':
      return S.rwsemCanWrite(s.sem);
    case 'flock':
    case 'fwait':
      return !S.folioIsLocked(s.pfn);
    case 'flush':
      // arm64 flushes by broadcast TLBI (__flush_tlb_range(), arch/arm64/include/asm/tlbflush.h):
      // no IPI, so no wait for a CPU with interrupts off.
      return current.k.cfg.arch === 'arm64' || S.ipiCanComplete(S.flushTargets(s.mm));
    case 'ipi-sync':
      return S.ipiCanComplete(current.k.cpus);
    case 'detach':
      return s.vma.vmLock.readers === 0;
    default:
      return true;
  }
}

/** Drive a kernel path to completion on the current CPU, alone. */
export function complete<T>(g: KGen<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    if (!stepEnabled(r.value)) throw new Violation('deadlock', `a lone CPU waits forever at step ${describeStep(r.value)}`);
  }
}

/**
 * Every step is yielded through here. While the explorer records a trace (`Kernel.stepStacks` set),
 * the stack of the yield is kept by CPU, so that the trace can name the kernel function each
 * step runs in (src/mm/where.ts); otherwise this costs one property read, besides the check
 * that the step's mm (if it names one) belongs to the current kernel.
 */
function at<S extends Step>(s: S): S {
  // A step acts on the kernel `current` names (setCurrent(), src/mm/current.ts): a driver that
  // stepped one kernel's path with another kernel current would mix the two kernels' state.
  const mm = 'mm' in s ? s.mm : 'vma' in s ? s.vma.mm : undefined;
  if (mm && mm.kernel !== current.k) throw new ModelBug(`step ${s.op} on mm ${mm.name} of another kernel than the current one`);
  const stacks = current.k.stepStacks;
  if (stacks) stacks[current.cpu.id] = captureStack(at);
  return s;
}

export function describeStep(s: Step): string {
  if ('ptr' in s) return `${s.op} entry ${s.ptr}`;
  if ('lock' in s) return `${s.op} lock ${s.lock}`;
  if ('pfn' in s) return `${s.op} folio ${s.pfn}`;
  if ('what' in s) return `choice ${s.what}`;
  return s.op;
}

// ---- page-table entries (include/linux/pgtable.h, arch/x86/include/asm/pgtable.h) ------------

/** ptep_get() / pmdp_get_lockless() / READ_ONCE of any entry: one atomic load. */
export function* ptepGet(ptep: number): KGen<number> {
  yield at({ op: 'ld', ptr: ptep });
  return current.k.pt.get(ptep);
}
/** set_pte_at() / set_pmd_at() / pmd_populate(): one atomic store. */
export function* setPte(ptep: number, v: number): KGen<void> {
  yield at({ op: 'st', ptr: ptep, v });
  current.k.pt.set(ptep, v);
  checkBreakBeforeMake(ptep, v);
}
/** ptep_get_and_clear() / pmdp_huge_get_and_clear(): x86 xchg. */
export function* ptepGetAndClear(ptep: number): KGen<number> {
  yield at({ op: 'xchg', ptr: ptep });
  const pt = current.k.pt;
  const v = pt.get(ptep);
  pt.set(ptep, 0);
  return v;
}
/**
 * A run of ptep_get() calls over none entries, as one step: legal only under the table's PTE lock
 * (software writers excluded, hardware never writes a none entry). Returns the run length.
 */
export function* pteScanNone(ptep: number, max: number): KGen<number> {
  yield at({ op: 'scan', ptr: ptep });
  return current.k.pt.scanNone(ptep, max);
}

/**
 * A lockless run of ptep_get_lockless() reads under RCU (swapoff's unuse_pte_range(), khugepaged's
 * __collapse_huge_page_swapin()), in one step: how many entries from `ptep`, at most `max`, are
 * not swap entries (with `markers`, not any non-present entry: is_swap_pte()). One step stands for
 * the loop only where an entry that turns into one meanwhile may be missed: the callers say why.
 * Entries that stop being one are read one by one. The step's footprint covers all `max` entries.
 */
export function* pteScanNoSwap(ptep: number, max: number, markers = false): KGen<number> {
  yield at({ op: 'scan', ptr: ptep, n: max });
  return current.k.pt.scanWhile(ptep, max, markers ? (v) => !isSwapPte(v) : (v) => !isSwapEntryPte(v));
}

/**
 * ptep_set_wrprotect() / pmdp_set_wrprotect(): clear_bit(_PAGE_BIT_RW), one atomic read-modify-write,
 * so an accessed or dirty bit the hardware sets meanwhile is not lost.
 */
export function* ptepSetWrprotect(ptep: number): KGen<void> {
  yield at({ op: 'xchg', ptr: ptep });
  const pt = current.k.pt;
  const v = pt.get(ptep);
  if (v & _PAGE_RW) pt.set(ptep, v - _PAGE_RW);
}

/**
 * ptep_test_and_clear_young() / pmdp_test_and_clear_young() (arch/x86/mm/pgtable.c):
 * test_and_clear_bit(_PAGE_BIT_ACCESSED), one atomic read-modify-write, so a dirty bit the
 * hardware walker sets meanwhile (arch/walk.ts) is not lost. Returns whether the entry was young.
 */
export function* ptepTestAndClearYoung(ptep: number): KGen<boolean> {
  yield at({ op: 'xchg', ptr: ptep });
  const pt = current.k.pt;
  const v = pt.get(ptep);
  if (!(v & _PAGE_ACCESSED)) return false;
  pt.set(ptep, v - _PAGE_ACCESSED);
  return true;
}

// ---- spinlocks (include/linux/spinlock.h) -----------------------------------------------------

export function* spinLock(l: LockHandle): KGen<void> {
  yield at({ op: 'lock', lock: l });
  S.acquire(l, false);
}
export function* spinTrylock(l: LockHandle): KGen<boolean> {
  yield at({ op: 'trylock', lock: l });
  if (!S.lockIsFree(l)) return false;
  S.acquire(l, true);
  return true;
}
export function* spinUnlock(l: LockHandle): KGen<void> {
  yield at({ op: 'unlock', lock: l });
  S.release(l);
}

// ---- sleeping locks ---------------------------------------------------------------------------

export function* downRead(sem: RwSem): KGen<void> {
  S.mightSleep('down_read');
  yield at({ op: 'rlock', sem });
  S.rwsemRead(sem);
}
export function* downReadTrylock(sem: RwSem): KGen<boolean> {
  yield at({ op: 'rtrylock', sem });
  if (!S.rwsemCanRead(sem)) return false;
  S.rwsemRead(sem);
  return true;
}
export function* upRead(sem: RwSem): KGen<void> {
  yield at({ op: 'runlock', sem });
  S.rwsemUpRead(sem);
}
export function* downWrite(sem: RwSem): KGen<void> {
  S.mightSleep('down_write');
  yield at({ op: 'wlock', sem });
  S.rwsemWrite(sem);
}
export function* upWrite(sem: RwSem): KGen<void> {
  yield at({ op: 'wunlock', sem });
  S.rwsemUpWrite(sem);
}
export function* downgradeWrite(sem: RwSem): KGen<void> {
  yield at({ op: 'wdowngrade', sem });
  S.rwsemDowngrade(sem);
}
export function* folioLock(pfn: number): KGen<void> {
  S.mightSleep('folio_lock');
  yield at({ op: 'flock', pfn });
  S.folioSetLocked(pfn);
}
export function* folioTrylock(pfn: number): KGen<boolean> {
  yield at({ op: 'ftrylock', pfn });
  if (S.folioIsLocked(pfn)) return false;
  S.folioSetLocked(pfn);
  return true;
}
export function* folioUnlock(pfn: number): KGen<void> {
  yield at({ op: 'funlock', pfn });
  S.folioClearLocked(pfn);
}
/**
 * Sleep until the folio is unlocked, without taking its lock (folio_wait_bit_common() with
 * EXCLUSIVE off, as migration_entry_wait_on_locked() waits): may sleep.
 */
export function* folioWaitLocked(pfn: number): KGen<void> {
  S.mightSleep('folio_wait_locked');
  yield at({ op: 'fwait', pfn });
  S.folioWaitUnlocked(pfn);
}

/**
 * The scheduling point of an atomic access to a folio's reference count (folio_ref_try_add() in
 * try_grab_folio_fast(), mm/gup.c): for a lockless caller whose load of an entry and reference on
 * its folio are two accesses, with nothing held between them that keeps the entry (gup_fast). The
 * caller changes the count right after (swap.ts folioRefAdd()). Elsewhere counts change inside
 * the step that holds the lock they depend on, and carry no step of their own.
 */
export function* folioRefAccess(pfn: number): KGen<void> {
  yield at({ op: 'fref', pfn });
}

// ---- the VMA tree and the per-VMA lock (include/linux/mmap_lock.h, mm/mmap_lock.c) --------------

/**
 * mas_walk() under rcu_read_lock(): the lockless read of the VMA tree. The caller looks the
 * address up right after (findVma()), with no scheduling point in between.
 */
export function* mtWalk(mm: MmStruct): KGen<void> {
  yield at({ op: 'mt-walk', mm });
}
/**
 * A change of the VMA tree becoming visible to lockless walkers (vma_iter_store(),
 * mas_store_prealloc(), vma_iter_clear_gfp()): the caller changes `mm.vmas` and VMA bounds right
 * after, with no scheduling point in between (checked in the explorer, vma.ts assertTreeWrite()).
 */
export function* mtStore(mm: MmStruct): KGen<void> {
  yield at({ op: 'mt-store', mm });
  S.openTreeWrite(mm);
}
/** READ_ONCE(vma->vm_lock_seq) == READ_ONCE(mm->mm_lock_seq.sequence): is the VMA write-locked? */
export function* vmaSeqLocked(vma: Vma): KGen<boolean> {
  yield at({ op: 'seq', vma });
  return vma.writeSeq === vma.mm.mmapSeq;
}
/** vma_end_write_all(): bump mm_lock_seq, which ends every VMA write lock of this section. */
export function* vmaEndWriteAll(mm: MmStruct): KGen<void> {
  yield at({ op: 'seq-end', mm });
  mm.mmapSeq++;
}
/**
 * __refcount_inc_not_zero_limited_acquire(&vma->vm_refcnt): a reader's reference, refused while a
 * writer holds the lock, and (`'detached'`) once the VMA was detached (the count is zero).
 */
export function* vmaRefcountIncNotZero(vma: Vma): KGen<boolean | 'detached'> {
  yield at({ op: 'vma-get', vma });
  if (vma.detached) return 'detached';
  if (!S.rwsemCanRead(vma.vmLock)) return false;
  S.rwsemRead(vma.vmLock);
  return true;
}
/** vma_mark_detached(): drop the tree's reference, waiting out readers that raised the count. */
export function* vmaMarkDetached(vma: Vma): KGen<void> {
  yield at({ op: 'detach', vma });
  vma.detached = true;
}

// ---- RCU and interrupts ------------------------------------------------------------------------

export function* rcuReadLock(): KGen<void> {
  yield at({ op: 'rcu+' });
  S.rcuEnter();
}
export function* rcuReadUnlock(): KGen<void> {
  yield at({ op: 'rcu-' });
  S.rcuExit();
}
export function* localIrqDisable(): KGen<void> {
  yield at({ op: 'irq-' });
  S.irqOff();
}
export function* localIrqEnable(): KGen<void> {
  yield at({ op: 'irq+' });
  S.irqOn();
}
/** A blocking wait the model does not otherwise follow (synchronize_rcu()): may sleep. */
export function* sleepingWait(what: string): KGen<void> {
  S.mightSleep(what);
  yield at({ op: 'sleep' });
}
/**
 * might_alloc(GFP_KERNEL) (include/linux/sched/mm.h): an allocation that may enter direct reclaim
 * may sleep, so it is a scheduling point. A task whose first act is such an allocation must take
 * it as a step: the allocator is shared state (objects.ts OBJ.alloc), and what a task does before
 * its first step happens before every other task's steps in every execution.
 */
export function* mightAlloc(): KGen<void> {
  S.mightSleep('might_alloc');
  yield at({ op: 'sleep' });
}
/** cond_resched(): a voluntary preemption point; may sleep. */
export function* condResched(): KGen<void> {
  S.mightSleep('cond_resched');
  yield at({ op: 'sleep' });
  S.rescheduled();
}

// ---- TLB ----------------------------------------------------------------------------------------

/** arch/x86/mm/tlb.c: flush_tlb_mm_range(): IPIs to the mm's CPUs, waiting for each (arm64: a broadcast, see stepEnabled()). */
export function* flushTlbMmRange(mm: MmStruct, start: number, end: number, strideShift: number, freedTables: boolean): KGen<void> {
  yield at({ op: 'flush', mm });
  S.applyTlbFlush(mm, start, end, strideShift, freedTables);
}
/**
 * The hardware page walker: a whole walk is one step. Interrupts (and so TLB-flush IPIs) are taken
 * between instructions, never in the middle of the walk of one access.
 */
export function* hwWalkBegin(mm: MmStruct, addr: number): KGen<void> {
  yield at({ op: 'walk', mm, addr });
}

/**
 * call_rcu(): queue a callback behind a grace period. A step of its own: it is what makes the RCU
 * grace-period task have work. `tables`: the page tables the callback frees, for the footprint of
 * the grace period that runs it.
 */
export function* callRcuStep(name: string, fn: () => void, tables: readonly number[]): KGen<void> {
  yield at({ op: 'call-rcu', tables });
  callRcu(current.k.rcu, current.k.cpus, name, fn, tables);
}

/**
 * ptlock_free() of a table that is still reachable by lockless walkers: the destructor run at
 * pte_free_tlb() time (race R2, linux-next only). Its own step, so that the lock's death is
 * ordered against every use of that lock.
 */
export function* ptlockFree(tid: number): KGen<void> {
  yield at({ op: 'ptlock-free', tid });
  current.k.pt.lockDead[tid] = 1;
}

/** The store of pgtable_trans_huge_deposit() (pmd_huge_pte(mm, pmd) = pgtable). */
export function* depositStore(tid: number): KGen<void> {
  yield at({ op: 'deposit', tid });
}

/** mm/mmu_gather.c: tlb_remove_table_sync_one(): an IPI to every CPU, waiting for each. */
export function* tlbRemoveTableSyncOne(tables: readonly number[]): KGen<void> {
  yield at({ op: 'ipi-sync', tables });
}

// ---- nondeterministic choices -------------------------------------------------------------------

/**
 * need_resched(). The explorer answers the choice; alone (`complete`) the config decides:
 * true every `needReschedEvery` calls, never by default.
 */
export function* needResched(): KGen<boolean> {
  // The first check after cond_resched() sees the flag clear (a fresh timeslice, sync.ts), so the
  // explorer is given no choice there: answering "yes" after every reschedule would keep a zap loop
  // from ever making progress, a schedule no kernel runs forever.
  const v = yield at(current.cpu.reschedFresh ? { op: 'choice', what: 'need_resched', fresh: true } : { op: 'choice', what: 'need_resched' });
  if (typeof v !== 'boolean') return S.needReschedByConfig();
  if (v) S.reschedChosen();
  return v;
}
/**
 * Whether a read fault maps no neighbour (do_fault_around() skipped). The concurrent search always
 * maps them, as the config says; the explainer's sequential orders try both (Kernel.explainChoice),
 * since mapping cached neighbours is opportunistic (filemap_map_pages() maps only the folios it can
 * trylock and finds uptodate) and a fault that maps none is a run of the same kernel. Not a step.
 */
export function faultAroundSkipped(): boolean {
  return current.k.explainChoice?.('fault_around') ?? false;
}
/**
 * Whether an mmap_read_trylock() of a path that skips its work on contention (the NUMA scan, the
 * MGLRU walk) fails for a holder outside the scenario, another thread of the process in mmap(),
 * say. The concurrent search never says so (there only the scenario's tasks hold the lock); the
 * explainer's sequential orders try both (Kernel.explainChoice), since alone the trylock cannot
 * fail and a skipped pass is an ordinary outcome of these paths. Not a step.
 */
export function trylockContendedElsewhere(): boolean {
  return current.k.explainChoice?.('mmap_trylock') ?? false;
}
/** Whether a GFP_NOWAIT allocation of an mmu_gather batch page succeeds. */
export function* batchAllocSucceeds(): KGen<boolean> {
  const v = yield at({ op: 'choice', what: 'batch_alloc' });
  if (typeof v === 'boolean') return v;
  return current.k.cfg.batchAlloc === 'ok';
}
