/**
 * userfaultfd (src/mm/userfaultfd.ts): registration splits and flags VMAs, missing faults are
 * SIGBUS (UFFD_FEATURE_SIGBUS), UFFDIO_COPY/ZEROPAGE fill only none slots, and a MADV_DONTNEED
 * of a registered VMA takes the mmap_lock instead of the VMA's lock (try_vma_read_lock()).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mm/api.js';
import { doMadvise } from '../../src/mm/madvise.js';
import { VM_UFFD_MINOR, VM_UFFD_MISSING, VM_UFFD_WP, type MmStruct } from '../../src/mm/mm_types.js';
import type { KGen } from '../../src/mm/primitives.js';
import { setCurrent } from '../../src/mm/current.js';

const MiB = 2 ** 20;
const BASE = 16 * 2 ** 40;
const UFFD_FLAGS = VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR;

function setup(dontneedLock: 'vma' | 'mmap' = 'vma') {
  const k = api.createKernel(api.resolveConfig({ dontneedLock }));
  const mm = api.createProcess(k, 'P');
  expect(api.sysMmap(k, mm, { addr: BASE, len: 4 * MiB, shared: false, file: null, pgoff: 0, name: 'A' })).toBe(BASE);
  const vmas = () => [...mm.vmas].map((v) => [(v.start - BASE) / MiB, (v.end - BASE) / MiB, v.flags & UFFD_FLAGS]);
  return { k, mm, vmas };
}

describe('UFFDIO_REGISTER', () => {
  it('splits the VMA at the range ends and sets the mode; another mode replaces it and the VMAs merge back', () => {
    const { k, mm, vmas } = setup();
    expect(api.sysUffdRegister(k, mm, BASE + MiB, MiB, 'missing')).toBe(0);
    expect(vmas()).toEqual([[0, 1, 0], [1, 2, VM_UFFD_MISSING], [2, 4, 0]]);
    expect(api.sysUffdRegister(k, mm, BASE, 4 * MiB, 'wp')).toBe(0);
    expect(vmas()).toEqual([[0, 4, VM_UFFD_WP]]);
    expect(api.sysUffdRegister(k, mm, BASE, 4 * MiB, 'minor')).toBe(-22); // anonymous: no minor mode
    expect(api.sysUffdRegister(k, mm, BASE + 8 * MiB, MiB, 'missing')).toBe(-22); // no VMA in the range
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('a missing fault in a registered VMA is SIGBUS until UFFDIO_COPY fills the page', () => {
    const { k, mm } = setup();
    expect(api.sysUffdRegister(k, mm, BASE, 2 * MiB, 'missing')).toBe(0);
    expect(api.sysTouch(k, mm, BASE, false)).toBe(api.FAULT_SIGBUS);
    expect(api.sysTouch(k, mm, BASE, true)).toBe(api.FAULT_SIGBUS);
    expect(api.sysTouch(k, mm, BASE + 2 * MiB, true)).toBe(api.FAULT_OK);
    expect(api.sysUffdFill(k, mm, BASE, 8192, 'copy')).toBe(0);
    expect(api.sysTouch(k, mm, BASE, true)).toBe(api.FAULT_OK);
    expect(api.sysUffdFill(k, mm, BASE + 12288, 4096, 'zeropage')).toBe(0);
    expect(api.sysUffdFill(k, mm, BASE + 8192, 8192, 'zeropage')).toBe(-11); // its second page was there: partial
    expect(api.sysUffdFill(k, mm, BASE, 4096, 'zeropage')).toBe(-17);
    expect(api.sysUffdFill(k, mm, BASE + 2 * MiB, 4096, 'copy')).toBe(-2); // not registered
    api.quiesce(k);
    expect(api.procStatus(mm).RssAnon).toBe(12);
    expect(api.checkInvariants(k)).toEqual([]);
  });
});

/** The locks a kernel path takes, in order: 'mmap' for the mmap_lock, 'vma' for a VMA's read lock. */
function locksTaken(k: api.Kernel, mm: MmStruct, g: KGen<number>): { locks: string[]; ret: number } {
  setCurrent(k, 0);
  const locks: string[] = [];
  for (;;) {
    const r = g.next();
    if (r.done) return { locks, ret: r.value };
    const s = r.value as { op: string; sem?: unknown };
    if (s.op === 'rlock' && s.sem === mm.mmapLock) locks.push('mmap');
    if (s.op === 'vma-get') locks.push('vma');
  }
}

describe('MADV_DONTNEED of a uffd-armed VMA (try_vma_read_lock())', () => {
  it('takes the VMA lock of an unregistered VMA and falls back to the mmap_lock for a registered one', () => {
    const { k, mm } = setup();
    api.sysTouchRange(k, mm, BASE, BASE + 4 * MiB, 4096, true);
    expect(locksTaken(k, mm, doMadvise(mm, BASE, 2 * MiB, 'dontneed'))).toEqual({ locks: ['vma'], ret: 0 });
    expect(api.sysUffdRegister(k, mm, BASE, 4 * MiB, 'wp')).toBe(0);
    expect(locksTaken(k, mm, doMadvise(mm, BASE, 2 * MiB, 'dontneed'))).toEqual({ locks: ['vma', 'mmap'], ret: 0 });
    // The fallback still reclaims the emptied table of each whole block it zaps.
    api.quiesce(k);
    expect(api.procStatus(mm).VmPTE).toBe(12);
    expect(api.checkInvariants(k)).toEqual([]);
  });

  it('under dontneed_lock=mmap takes the mmap_lock alone, registered or not', () => {
    const { k, mm } = setup('mmap');
    expect(api.sysUffdRegister(k, mm, BASE, 4 * MiB, 'missing')).toBe(0);
    expect(locksTaken(k, mm, doMadvise(mm, BASE, 2 * MiB, 'dontneed'))).toEqual({ locks: ['mmap'], ret: 0 });
  });
});
