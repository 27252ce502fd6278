/**
 * Straight-line build of primitives.ts (see there): the same effects, no yields. One CPU drives
 * every path to completion, so a lock that is not free can never become free: that is a deadlock.
 */
import { Violation } from './bug.js';
import { checkBreakBeforeMake } from './arch/tlb_conflict.js';
import { current } from './current.js';
import type { MmStruct, RwSem, Vma } from './mm_types.js';
import type { LockHandle } from './ptlock.js';
import { _PAGE_ACCESSED, _PAGE_RW, isSwapEntryPte, isSwapPte } from './pgtable_types.js';
import { callRcu } from './rcu.js';
import * as S from './sync.js';

export type { Step } from '../mm/primitives.js';
/** In the straight-line build a kernel path simply returns its value. */
export type KGen<T> = T;

export function complete<T>(v: T): T {
  return v;
}

export function ptepGet(ptep: number): number {
  return current.k.pt.get(ptep);
}
export function setPte(ptep: number, v: number): void {
  current.k.pt.set(ptep, v);
  checkBreakBeforeMake(ptep, v);
}
export function ptepGetAndClear(ptep: number): number {
  const pt = current.k.pt;
  const v = pt.get(ptep);
  pt.set(ptep, 0);
  return v;
}
export function ptepSetWrprotect(ptep: number): void {
  const pt = current.k.pt;
  const v = pt.get(ptep);
  if (v & _PAGE_RW) pt.set(ptep, v - _PAGE_RW);
}
export function ptepTestAndClearYoung(ptep: number): boolean {
  const pt = current.k.pt;
  const v = pt.get(ptep);
  if (!(v & _PAGE_ACCESSED)) return false;
  pt.set(ptep, v - _PAGE_ACCESSED);
  return true;
}
export function pteScanNone(ptep: number, max: number): number {
  return current.k.pt.scanNone(ptep, max);
}
export function pteScanNoSwap(ptep: number, max: number, markers = false): number {
  return current.k.pt.scanWhile(ptep, max, markers ? (v) => !isSwapPte(v) : (v) => !isSwapEntryPte(v));
}

export function spinLock(l: LockHandle): void {
  S.acquire(l, false);
}
export function spinTrylock(l: LockHandle): boolean {
  if (!S.lockIsFree(l)) return false;
  S.acquire(l, true);
  return true;
}
export function spinUnlock(l: LockHandle): void {
  S.release(l);
}

export function downRead(sem: RwSem): void {
  S.mightSleep('down_read');
  S.rwsemRead(sem);
}
export function downReadTrylock(sem: RwSem): boolean {
  if (!S.rwsemCanRead(sem)) return false;
  S.rwsemRead(sem);
  return true;
}
export function upRead(sem: RwSem): void {
  S.rwsemUpRead(sem);
}
export function downWrite(sem: RwSem): void {
  S.mightSleep('down_write');
  S.rwsemWrite(sem);
}
export function upWrite(sem: RwSem): void {
  S.rwsemUpWrite(sem);
}
export function downgradeWrite(sem: RwSem): void {
  S.rwsemDowngrade(sem);
}
export function folioLock(pfn: number): void {
  S.mightSleep('folio_lock');
  S.folioSetLocked(pfn);
}
export function folioTrylock(pfn: number): boolean {
  if (S.folioIsLocked(pfn)) return false;
  S.folioSetLocked(pfn);
  return true;
}
export function folioUnlock(pfn: number): void {
  S.folioClearLocked(pfn);
}
export function folioWaitLocked(pfn: number): void {
  S.mightSleep('folio_wait_locked');
  S.folioWaitUnlocked(pfn);
}

export function folioRefAccess(_pfn: number): void {}

export function mtWalk(_mm: MmStruct): void {}
export function mtStore(mm: MmStruct): void {
  S.openTreeWrite(mm);
}
export function vmaSeqLocked(vma: Vma): boolean {
  return vma.writeSeq === vma.mm.mmapSeq;
}
export function vmaEndWriteAll(mm: MmStruct): void {
  mm.mmapSeq++;
}
export function vmaRefcountIncNotZero(vma: Vma): boolean | 'detached' {
  if (vma.detached) return 'detached';
  if (!S.rwsemCanRead(vma.vmLock)) return false;
  S.rwsemRead(vma.vmLock);
  return true;
}
export function vmaMarkDetached(vma: Vma): void {
  if (vma.vmLock.readers !== 0) throw new Violation('deadlock', 'vma_mark_detached() waits forever for readers');
  vma.detached = true;
}

export function rcuReadLock(): void {
  S.rcuEnter();
}
export function rcuReadUnlock(): void {
  S.rcuExit();
}
export function localIrqDisable(): void {
  S.irqOff();
}
export function localIrqEnable(): void {
  S.irqOn();
}
export function sleepingWait(what: string): void {
  S.mightSleep(what);
}
export function mightAlloc(): void {
  S.mightSleep('might_alloc');
}
export function condResched(): void {
  S.mightSleep('cond_resched');
  S.rescheduled();
}

export function flushTlbMmRange(mm: MmStruct, start: number, end: number, strideShift: number, freedTables: boolean): void {
  if (!S.ipiCanComplete(S.flushTargets(mm))) throw new Violation('deadlock', 'TLB flush IPI can never complete');
  S.applyTlbFlush(mm, start, end, strideShift, freedTables);
}
export function depositStore(_tid: number): void {}
export function ptlockFree(tid: number): void {
  current.k.pt.lockDead[tid] = 1;
}
export function tlbRemoveTableSyncOne(_tables: readonly number[]): void {}
export function callRcuStep(name: string, fn: () => void, tables: readonly number[]): void {
  callRcu(current.k.rcu, current.k.cpus, name, fn, tables);
}
export function hwWalkBegin(_mm: MmStruct, _addr: number): void {}

export function needResched(): boolean {
  return S.needReschedByConfig();
}
export function faultAroundSkipped(): boolean {
  return current.k.explainChoice?.('fault_around') ?? false;
}
export function trylockContendedElsewhere(): boolean {
  return current.k.explainChoice?.('mmap_trylock') ?? false;
}
export function batchAllocSucceeds(): boolean {
  return current.k.cfg.batchAlloc === 'ok';
}
