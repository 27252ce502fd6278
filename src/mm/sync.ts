/**
 * The effects behind the scheduling-point primitives (primitives.ts): what taking a lock, entering
 * RCU or flushing a TLB does to the model's state, with the sanitizer checks that belong to each.
 * Both builds call these; only primitives.ts (generator build) yields before calling them.
 */
import { ModelBug, Violation } from './bug.js';
import { LEVEL_PMD, LEVEL_PTE, PAGE_SHIFT } from './const.js';
import { current } from './current.js';
import { PG_locked } from './page_alloc.js';
import type { Cpu, MmStruct, RwSem } from './mm_types.js';
import type { LockHandle } from './ptlock.js';

/** x86 tlb_single_page_flush_ceiling: ranges above this many pages flush the whole mm. */
export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

/** Held spinlocks of a CPU, innermost last (lockdep's view; used for lock-order checks). */
export function heldLocks(cpu: Cpu): LockHandle[] {
  return cpu.held;
}

export function lockWord(l: LockHandle): number {
  const k = current.k;
  if (l > 0) {
    if (k.pt.lockDead[l]) throw new Violation('ptl-use-after-free', `spinlock of page table ${l} used after its storage was freed`);
    return k.pt.lockOwner[l];
  }
  return k.mms[-l - 1].pageTableLock;
}
function setLockWord(l: LockHandle, v: number): void {
  if (l > 0) current.k.pt.lockOwner[l] = v;
  else current.k.mms[-l - 1].pageTableLock = v;
}

export function lockIsFree(l: LockHandle): boolean {
  return lockWord(l) === 0;
}

/**
 * Whether a spin_lock() of l can proceed now, for the scheduler: also true when the lock's storage
 * is gone, so that the step runs and the sanitizer reports the use-after-free.
 */
export function lockCanProceed(l: LockHandle): boolean {
  if (l > 0 && current.k.pt.lockDead[l]) return true;
  // Lockdep reports an inverted order when spin_lock() is called, before it spins.
  if (lockOrderInversion(l, false)) return true;
  return lockWord(l) === 0;
}

/** Lock order: PMD lock before PTE lock (mm/pt_reclaim.c: try_get_and_clear_pmd() may take them the other way only by trylock). */
function lockOrderInversion(l: LockHandle, trylock: boolean): string | null {
  if (trylock || l <= 0 || current.k.pt.level[l] !== LEVEL_PMD) return null;
  for (const o of heldLocks(current.cpu)) {
    if (o > 0 && current.k.pt.level[o] === LEVEL_PTE) return `CPU ${current.cpu.id} takes PMD lock ${l} while holding PTE lock ${o} without trylock`;
  }
  return null;
}

/** spin_lock() once the lock is free. `nested` marks spin_lock_nested(SINGLE_DEPTH_NESTING). */
export function acquire(l: LockHandle, trylock: boolean): void {
  const cpu = current.cpu;
  const inversion = lockOrderInversion(l, trylock);
  if (inversion) throw new Violation('lock-order', inversion);
  const owner = lockWord(l);
  if (owner !== 0) {
    if (owner === cpu.id + 1) throw new Violation('deadlock', `CPU ${cpu.id} takes lock ${l} it already holds`);
    throw new Violation('deadlock', `CPU ${cpu.id} blocks forever on lock ${l} held by CPU ${owner - 1}`);
  }
  const h = heldLocks(cpu);
  setLockWord(l, cpu.id + 1);
  h.push(l);
}

export function release(l: LockHandle): void {
  const cpu = current.cpu;
  if (lockWord(l) !== cpu.id + 1) throw new ModelBug(`CPU ${cpu.id} unlocks lock ${l} it does not hold`);
  setLockWord(l, 0);
  const h = heldLocks(cpu);
  if (h[h.length - 1] === l) h.pop();
  else h.splice(h.lastIndexOf(l), 1);
}

/** Sleeping while holding a spinlock or inside an RCU / IRQ-off section is a bug. */
export function mightSleep(what: string): void {
  const cpu = current.cpu;
  if (heldLocks(cpu).length > 0 || cpu.rcuNesting > 0 || cpu.irqDisabled > 0) {
    throw new Violation('sleep-in-atomic', `${what} may sleep on CPU ${cpu.id} with ${heldLocks(cpu).length} spinlock(s), rcu ${cpu.rcuNesting}, irq-off ${cpu.irqDisabled}`);
  }
}

export function rwsemCanRead(s: RwSem): boolean {
  return s.writer === 0;
}
export function rwsemCanWrite(s: RwSem): boolean {
  return s.writer === 0 && s.readers === 0;
}
export function rwsemRead(s: RwSem): void {
  if (!rwsemCanRead(s)) throw new Violation('deadlock', `down_read blocks forever: writer CPU ${s.writer - 1}`);
  s.readers++;
  s.readersOn[current.cpu.id]++;
}
export function rwsemWrite(s: RwSem): void {
  if (!rwsemCanWrite(s)) throw new Violation('deadlock', `down_write blocks forever: ${s.readers} reader(s), writer ${s.writer}`);
  s.writer = current.cpu.id + 1;
}
/** downgrade_write(): the writer becomes a reader without letting another writer in. */
export function rwsemDowngrade(s: RwSem): void {
  if (s.writer !== current.cpu.id + 1) throw new ModelBug('downgrade_write by a non-owner');
  s.writer = 0;
  s.readers++;
  s.readersOn[current.cpu.id]++;
}
/** An `mtStore()` step opens the VMA tree of mm for changes until the next step (vma.ts). */
export function openTreeWrite(mm: MmStruct): void {
  current.k.treeWriter = mm;
}
export function rwsemUpRead(s: RwSem): void {
  if (s.readers <= 0) throw new ModelBug('up_read without readers');
  s.readers--;
  s.readersOn[current.cpu.id]--;
}
export function rwsemUpWrite(s: RwSem): void {
  if (s.writer !== current.cpu.id + 1) throw new ModelBug('up_write by a non-owner');
  s.writer = 0;
}

export function folioIsLocked(pfn: number): boolean {
  return current.k.mem.testFlags(pfn, PG_locked) !== 0;
}
export function folioSetLocked(pfn: number): void {
  if (folioIsLocked(pfn)) throw new Violation('deadlock', `folio ${pfn} lock blocks forever`);
  current.k.mem.setFlags(pfn, PG_locked);
}
/** The folio is unlocked, as a waiter resumed by the driver finds it; alone on its CPU, locked forever. */
export function folioWaitUnlocked(pfn: number): void {
  if (folioIsLocked(pfn)) throw new Violation('deadlock', `folio ${pfn} stays locked forever`);
}
export function folioClearLocked(pfn: number): void {
  if (!folioIsLocked(pfn)) throw new ModelBug(`unlock of unlocked folio ${pfn}`);
  current.k.mem.clearFlags(pfn, PG_locked);
}

export function rcuEnter(): void {
  current.cpu.rcuNesting++;
}
export function rcuExit(): void {
  const cpu = current.cpu;
  if (cpu.rcuNesting <= 0) throw new ModelBug('rcu_read_unlock without rcu_read_lock');
  if (--cpu.rcuNesting === 0 && cpu.irqDisabled === 0) cpu.rcuQs++;
}
export function irqOff(): void {
  current.cpu.irqDisabled++;
}
export function irqOn(): void {
  const cpu = current.cpu;
  if (cpu.irqDisabled <= 0) throw new ModelBug('local_irq_enable without disable');
  if (--cpu.irqDisabled === 0 && cpu.rcuNesting === 0) cpu.rcuQs++;
}

/** CPUs that must acknowledge a flush IPI for mm (mm_cpumask). */
export function flushTargets(mm: MmStruct): Cpu[] {
  return current.k.cpus.filter((c) => (mm.cpumask & (1 << c.id)) !== 0);
}
/** An IPI completes only once every target has interrupts enabled (docs/kernel-rules.md, "TLB and the hardware walker", "RCU"). */
export function ipiCanComplete(targets: readonly Cpu[]): boolean {
  const self = current.cpu;
  return targets.every((c) => c === self || c.irqDisabled === 0);
}

/**
 * arch/x86/mm/tlb.c: flush_tlb_mm_range(), applied on every target CPU. Ranges above
 * tlb_single_page_flush_ceiling pages flush the whole mm; a flush with freed_tables also drops
 * paging-structure caches (all of the mm's, or those of the range: config pwc_flush).
 */
export function applyTlbFlush(mm: MmStruct, start: number, end: number, strideShift: number, freedTables: boolean): void {
  const k = current.k;
  const pages = (end - start) / 2 ** strideShift;
  const full = pages > TLB_SINGLE_PAGE_FLUSH_CEILING;
  for (const s of [k.stats, mm.stats]) {
    s.tlbFlushes++;
    s.tlbFlushPages += (end - start) / 2 ** PAGE_SHIFT;
    if (full) s.tlbFullFlushes++;
    if (freedTables) s.tlbFlushFreedTables++;
  }
  for (const cpu of flushTargets(mm)) {
    if (full) cpu.tlb.flushMm(mm.id);
    else cpu.tlb.flushRange(mm.id, start / 2 ** PAGE_SHIFT, end / 2 ** PAGE_SHIFT, 2 ** (strideShift - PAGE_SHIFT));
    if (freedTables) cpu.tlb.flushPwcRange(mm.id, start / 2 ** PAGE_SHIFT, end / 2 ** PAGE_SHIFT);
  }
}

/**
 * The single-CPU policy for need_resched(): TIF_NEED_RESCHED gets set every
 * cfg.needReschedEvery calls and stays set until the task reschedules (cond_resched()). A task
 * that was just rescheduled starts a fresh timeslice: its first check sees the flag clear, so
 * even need_resched=1 lets every retry of the zap loop make one iteration of progress.
 */
export function needReschedByConfig(): boolean {
  const cpu = current.cpu;
  const every = current.k.cfg.needReschedEvery;
  if (every === 0) return false;
  if (cpu.reschedFresh) {
    cpu.reschedFresh = false;
    return false;
  }
  if (!cpu.reschedPending && ++cpu.reschedTicks % every === 0) cpu.reschedPending = true;
  return cpu.reschedPending;
}

/** The explorer answered need_resched() "yes": the flag stays set until the task reschedules. */
export function reschedChosen(): void {
  current.cpu.reschedPending = true;
}

/** cond_resched(): the task schedules, which clears its need_resched flag. */
export function rescheduled(): void {
  const cpu = current.cpu;
  if (cpu.reschedPending) cpu.reschedFresh = true;
  cpu.reschedPending = false;
}
