/**
 * x86-64 geometry and kernel constants, in kernel spelling
 * (arch/x86/include/asm/pgtable_64_types.h, include/linux/mm.h, include/linux/huge_mm.h).
 * 4-level paging: the P4D level is folded into the PGD, as on the live kernel here (no la57).
 */

/** A user virtual address (bytes). Plain number: addresses stay below 2^47, exact in a double. */
export type Vaddr = number;
/** A physical frame number. Branded so that table ids, page indexes and pfns do not mix. */
export type Pfn = number & { readonly __pfn: unique symbol };
export const asPfn = (n: number): Pfn => n as Pfn;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = ~(PAGE_SIZE - 1);
export const PMD_SHIFT = 21;
export const PMD_SIZE = 2 ** PMD_SHIFT;
export const PUD_SHIFT = 30;
export const PUD_SIZE = 2 ** PUD_SHIFT;
export const PGDIR_SHIFT = 39;
export const PGDIR_SIZE = 2 ** PGDIR_SHIFT;
export const PTRS_PER_PTE = 512;
export const PTRS_PER_PMD = 512;
export const PTRS_PER_PUD = 512;
export const PTRS_PER_PGD = 512;
export const HPAGE_PMD_ORDER = PMD_SHIFT - PAGE_SHIFT;
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;
export const HPAGE_PMD_SIZE = PMD_SIZE;
/** TASK_SIZE_MAX with 4-level paging: 128 TiB minus one guard page. */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
export const FIRST_USER_ADDRESS = 0;
export const USER_PGTABLES_CEILING = 0; // 0 means "top of the address space" in free_pgd_range()

/** Page-table levels as stored in the table store. */
export const LEVEL_PTE = 1;
export const LEVEL_PMD = 2;
export const LEVEL_PUD = 3;
export const LEVEL_PGD = 4;

/** Round down / up to a power-of-two alignment; safe beyond 2^32 (no bitwise ops on addresses). */
export function alignDown(x: number, a: number): number {
  return x - (x % a);
}
export function alignUp(x: number, a: number): number {
  const r = x % a;
  return r === 0 ? x : x + (a - r);
}
/** include/linux/pgtable.h: pmd_addr_end() and friends: next boundary, clamped to end. */
export function addrEnd(addr: Vaddr, end: Vaddr, size: number): Vaddr {
  const boundary = alignDown(addr, size) + size;
  return boundary < end ? boundary : end;
}
// Index of an address in its table. `x & 511` applies ToInt32 first, which keeps the low 32 bits
// of the integer part of x (x < 2^36 here): exact, and it stays in V8's integer representation.
export const pteIndex = (addr: Vaddr): number => (addr / PAGE_SIZE) & (PTRS_PER_PTE - 1);
export const pmdIndex = (addr: Vaddr): number => (addr / PMD_SIZE) & (PTRS_PER_PMD - 1);
export const pudIndex = (addr: Vaddr): number => (addr / PUD_SIZE) & (PTRS_PER_PUD - 1);
export const pgdIndex = (addr: Vaddr): number => (addr / PGDIR_SIZE) & (PTRS_PER_PGD - 1);

/** Errno values returned by the modelled syscalls (negated, kernel style). */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
/** Kernel-internal (include/linux/errno.h): restart the system call; never seen by user space. */
export const ERESTARTNOINTR = 513;
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [ESRCH]: 'ESRCH', [EBADF]: 'EBADF', [EAGAIN]: 'EAGAIN', [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY', [EEXIST]: 'EEXIST', [EINVAL]: 'EINVAL', [ENOSPC]: 'ENOSPC',
};

/** CONFIG_NR_CPUS of the model: a scenario runs 1 to 8 CPUs (config nr_cpus). */
export const NR_CPUS = 8;
