/**
 * mlock(2), mlock2(MLOCK_ONFAULT), munlock(2) (src/mm/mlock.ts): the lock flags and locked_vm of
 * mlock_fixup(), and mlock_vma_pages_range()'s walk (mlock_pte_range()) over what is mapped
 * already, which sets or clears PG_mlocked. The counters a script sees are compared with this
 * machine's kernel by scripts/mlock-onfault.pt and scripts/mlock-munlock.pt; the walk's race with
 * a reclaiming DONTNEED is scenarios/mlock_vs_dontneed.scn and munlock_vs_dontneed_locked.scn.
 */
import { describe, expect, it } from 'vitest';
import { MM_ANONPAGES, VM_IO, VM_LOCKED, VM_LOCKONFAULT, type Kernel, type MmStruct } from '../../src/mm/mm_types.js';
import { PG_mlocked } from '../../src/mm/page_alloc.js';
import { pmdPfn, ptePfn } from '../../src/mm/pgtable_types.js';
import { findVma } from '../../src/mm/vma_tree.js';
import { FIRST_MAP_ADDR, GEN_API, K, M, lines, pteAt, scenario } from '../support/scenario.js';

const api = GEN_API;
const EINVAL = -22;

function setup(...more: string[]): { k: Kernel; mm: MmStruct } {
  const s = scenario(lines('process P', 'map A anon private 2M nohugepage', ...more), { api });
  return { k: s.result.kernel as Kernel, mm: s.mm('P') as MmStruct };
}

const mlocked = (k: Kernel, mm: MmStruct, page: number): boolean => (k.mem.flags[k.mem.folioHead(ptePfn(pteAt(k, mm, FIRST_MAP_ADDR + page * 4 * K)))] & PG_mlocked) !== 0;

describe('mlock', () => {
  it('mlocks the folios mapped already, and munlock clears them, only inside the range', () => {
    const { k, mm } = setup('touch A 0 32K write');
    expect(api.sysMlock(k, mm, FIRST_MAP_ADDR, 16 * K, true)).toBe(0);
    expect([0, 1, 2, 3].map((p) => mlocked(k, mm, p))).toEqual([true, true, true, true]);
    expect([4, 7].map((p) => mlocked(k, mm, p))).toEqual([false, false]);
    expect(mm.lockedVm).toBe(4);
    expect(api.sysMlock(k, mm, FIRST_MAP_ADDR + 8 * K, 8 * K, false)).toBe(0);
    expect([0, 1, 2, 3].map((p) => mlocked(k, mm, p))).toEqual([true, true, false, false]);
    expect(mm.lockedVm).toBe(2);
  });

  it('with MLOCK_ONFAULT marks the VMA lock-on-fault and faults nothing in; the present pages are mlocked', () => {
    const { k, mm } = setup('touch A 0 4K write');
    expect(api.sysMlock(k, mm, FIRST_MAP_ADDR, 2 * M, true, api.MLOCK_ONFAULT)).toBe(0);
    const vma = findVma(mm, FIRST_MAP_ADDR)!;
    expect(vma.flags & (VM_LOCKED | VM_LOCKONFAULT | VM_IO)).toBe(VM_LOCKED | VM_LOCKONFAULT); // VM_IO only during the walk
    expect([mm.rss[MM_ANONPAGES], mm.lockedVm]).toEqual([1, 512]);
    expect(mlocked(k, mm, 0)).toBe(true);
    // A full mlock over it changes only VM_LOCKONFAULT: no second count, and the rest is faulted in.
    expect(api.sysMlock(k, mm, FIRST_MAP_ADDR, 2 * M, true)).toBe(0);
    expect([mm.rss[MM_ANONPAGES], mm.lockedVm]).toEqual([512, 512]);
    expect(findVma(mm, FIRST_MAP_ADDR)!.flags & VM_LOCKONFAULT).toBe(0);
  });

  it('refuses flags other than MLOCK_ONFAULT, and leaves a VM_SPECIAL VMA (a tcp mapping) uncounted', () => {
    const { k, mm } = setup();
    expect(api.sysMlock(k, mm, FIRST_MAP_ADDR, 4 * K, true, 2)).toBe(EINVAL);
    // The op-script validator refuses mlock of a socket mapping; the system call does not.
    const s = scenario(lines('process P', 'map S tcp 2M'), { api });
    const tcp = s.mm('P') as MmStruct;
    // mlock_fixup() skips it; __mm_populate() then faults an empty socket mapping (no ->fault:
    // VM_FAULT_SIGBUS, -EFAULT), which mlock() reports as POSIX's ENOMEM. Measured on this
    // machine's 6.18.44 (a C program mapping an accepted loopback socket with an empty queue):
    // mlock() and mlock2(MLOCK_ONFAULT) both fail with ENOMEM, munlock() returns 0, VmLck 0 kB.
    const tk = s.result.kernel as Kernel;
    expect(api.sysMlock(tk, tcp, FIRST_MAP_ADDR, 2 * M, true)).toBe(-12);
    expect(api.sysMlock(tk, tcp, FIRST_MAP_ADDR, 2 * M, false)).toBe(0);
    expect(api.sysMlock(tk, tcp, FIRST_MAP_ADDR, 2 * M, true, api.MLOCK_ONFAULT)).toBe(-12);
    expect(tcp.lockedVm).toBe(0);
    expect(findVma(tcp, FIRST_MAP_ADDR)!.flags & VM_LOCKED).toBe(0);
  });

  it('mlocks a PMD-mapped THP whole, under the PMD lock', () => {
    const s = scenario(lines('config thp=always', 'process P', 'map A anon private 2M hugepage align=2M', 'touch A 0 4K write', 'mlock A 0 2M'), { api });
    const k = s.result.kernel as Kernel;
    const mm = s.mm('P') as MmStruct;
    const pmdp = api.peekPmdSlot(mm, FIRST_MAP_ADDR);
    const head = pmdPfn(k.pt.peek((pmdp / 512) | 0, pmdp % 512));
    expect(k.mem.order[head]).toBe(9);
    expect(k.mem.flags[head] & PG_mlocked).toBeTruthy();
  });
});
