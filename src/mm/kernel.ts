/**
 * The model's system-call surface, driven on one CPU to completion: what a user process can ask of
 * the modelled kernel. Every entry point sets `current` to (kernel, CPU 0), runs the kernel path
 * with `complete()`, and returns the kernel's result (0 / negative errno, or a fault outcome).
 *
 * The explorer does not use this file: it steps the same kernel paths as tasks on several CPUs.
 */
import { applySettings, resolveConfig, type Config, type ConfigInput } from './config.js';
import { ModelBug } from './bug.js';
import { EFAULT, ENOENT, PAGE_SIZE, TASK_SIZE, type Vaddr } from './const.js';
import { current, setCurrent } from './current.js';
import { madviseSyscall, type MadvAdvice } from './madvise.js';
import { sysMincore } from './mincore.js';
import { dupMm } from './fork.js';
import { doBrk, doMmap, doMunmap, exitMmap, setBrkBase, type MmapRequest } from './mmap.js';
import { doMlock } from './mlock.js';
import { doMprotectPkey } from './mprotect.js';
import { doMremap } from './mremap.js';
import { AddressSpace, Kernel, MmStruct } from './mm_types.js';
import { MAX_FILE_SIZE } from './xarray.js';
import { complete } from './primitives.js';
import { rcuAdvance } from './rcu.js';
import { userAccess } from './arch/walk.js';
import { mmLockHandle } from './ptlock.js';
import { mwriteprotectRange, userfaultfdFill, userfaultfdRegister, type MfillMode, type UffdMode } from './userfaultfd.js';
import { userfaultfdMove } from './userfaultfd_move.js';
import { tcpSockAt, tcpZerocopy, type ZerocopyResult } from './tcp.js';
import { binderRelease, binderTransaction } from './binder.js';
import { swapoff } from './swapoff.js';
import { clearRefsWrite } from './clear_refs.js';
import { genericFadvise, type Fadvice } from './fadvise.js';
import { compactRange } from './migrate.js';
import { doPagesStat } from './move_pages.js';
import {
  doPagemapScan,
  pmScanArg,
  PAGE_IS_FILE,
  PAGE_IS_GUARD,
  PAGE_IS_HUGE,
  PAGE_IS_PFNZERO,
  PAGE_IS_PRESENT,
  PAGE_IS_SWAPPED,
  PAGE_IS_WRITTEN,
} from './pagemap_scan.js';

export { Kernel, MmStruct, AddressSpace, resolveConfig, applySettings, setBrkBase };
export { PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC } from './mmap.js';
export { MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP } from './mremap.js';
export { MLOCK_ONFAULT } from './mlock.js';
export type { Config, ConfigInput, Fadvice, MadvAdvice, MmapRequest, MfillMode, UffdMode };
export { FADVICES } from './fadvise.js';
export { UFFD_MODES } from './userfaultfd.js';
export { UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES } from './userfaultfd_move.js';

export function createKernel(cfg: Config): Kernel {
  const k = new Kernel(cfg);
  setCurrent(k, 0);
  return k;
}

function enter(k: Kernel, mm: MmStruct | null): void {
  setCurrent(k, 0);
  if (mm) {
    current.cpu.activeMm = mm;
    mm.cpumask |= 1 << current.cpu.id;
  }
  if (current.cpu.held.length || current.cpu.rcuNesting || current.cpu.irqDisabled) {
    throw new ModelBug('a syscall started with locks, RCU or IRQ-off state left over');
  }
}

/** mm_alloc() for a new process (its PGD is allocated but not counted in VmPTE). */
export function createProcess(k: Kernel, name: string): MmStruct {
  enter(k, null);
  const mm = new MmStruct(k, k.mms.length, name);
  k.mms.push(mm);
  void mmLockHandle(mm);
  return mm;
}

/** memfd_create() + ftruncate(). Callers validate the size (at most MAX_FILE_SIZE). */
export function createMemfd(k: Kernel, name: string, size: number): AddressSpace {
  const f = new AddressSpace(k, k.files.length, name, 'shmem', filePages(size), 0);
  k.files.push(f);
  return f;
}

/**
 * A regular file written by its creator in chunks whose folios have the given order. Its pages
 * enter the page cache block by block as they are first looked up (filemap.ts), as written.
 */
export function createFile(k: Kernel, name: string, size: number, folioOrder: number): AddressSpace {
  enter(k, null);
  const f = new AddressSpace(k, k.files.length, name, 'file', filePages(size), folioOrder);
  k.files.push(f);
  return f;
}

function filePages(size: number): number {
  if (!(size >= 0 && size <= MAX_FILE_SIZE)) throw new ModelBug(`file size ${size} is beyond the model's ${MAX_FILE_SIZE} bytes`);
  return Math.ceil(size / PAGE_SIZE);
}

export function sysMmap(k: Kernel, mm: MmStruct, req: MmapRequest): number {
  enter(k, mm);
  return complete(/* task */ doMmap(mm, req));
}
export function sysMunmap(k: Kernel, mm: MmStruct, addr: Vaddr, len: number): number {
  enter(k, mm);
  return complete(/* task */ doMunmap(mm, addr, len));
}
export function sysMadvise(k: Kernel, mm: MmStruct, addr: Vaddr, len: number, advice: MadvAdvice): number {
  enter(k, mm);
  return complete(/* task */ madviseSyscall(mm, addr, len, advice));
}
/** mlock2() (`flags`: MLOCK_ONFAULT or 0), or munlock() when `lock` is false. */
export function sysMlock(k: Kernel, mm: MmStruct, addr: Vaddr, len: number, lock: boolean, flags = 0): number {
  enter(k, mm);
  return complete(/* task */ doMlock(mm, addr, len, lock, flags));
}
/** mprotect(): 0 or a negative errno (-ENOMEM for a hole, -EINVAL for a misaligned start or bad prot). */
export function sysMprotect(k: Kernel, mm: MmStruct, addr: Vaddr, len: number, prot: number): number {
  enter(k, mm);
  return complete(/* task */ doMprotectPkey(mm, addr, len, prot));
}
/**
 * mremap(): the (new) address or a negative errno. `newAddr` is where a move goes: the user's
 * with MREMAP_FIXED, else the address the real kernel chose (the model has no get_unmapped_area()).
 */
export function sysMremap(k: Kernel, mm: MmStruct, oldAddr: Vaddr, oldLen: number, newLen: number, flags: number, newAddr: Vaddr): number {
  enter(k, mm);
  return complete(/* task */ doMremap(mm, oldAddr, oldLen, newLen, flags, newAddr));
}
/** ioctl(UFFDIO_REGISTER) on the process's userfaultfd: 0 or a negative errno. */
export function sysUffdRegister(k: Kernel, mm: MmStruct, addr: Vaddr, len: number, mode: UffdMode): number {
  enter(k, mm);
  return complete(/* task */ userfaultfdRegister(mm, addr, len, mode));
}
/** ioctl(UFFDIO_COPY) / ioctl(UFFDIO_ZEROPAGE): 0, -EAGAIN for a partial fill, or a negative errno. */
export function sysUffdFill(k: Kernel, mm: MmStruct, addr: Vaddr, len: number, mode: MfillMode): number {
  enter(k, mm);
  return complete(/* task */ userfaultfdFill(mm, addr, len, mode));
}
/** ioctl(UFFDIO_WRITEPROTECT): set (`wp`) or clear the uffd-wp protection of a range; 0 or a negative errno. */
export function sysUffdWriteprotect(k: Kernel, mm: MmStruct, addr: Vaddr, len: number, wp: boolean): number {
  enter(k, mm);
  return complete(/* task */ mwriteprotectRange(mm, addr, len, wp));
}
/** ioctl(UFFDIO_MOVE) of len bytes from src to dst: 0, -EAGAIN for a short move, or a negative errno. */
export function sysUffdMove(k: Kernel, mm: MmStruct, dst: Vaddr, src: Vaddr, len: number, mode: number): number {
  enter(k, mm);
  return complete(/* task */ userfaultfdMove(mm, dst, src, len, mode));
}
/**
 * The peer sends len bytes, then getsockopt(TCP_ZEROCOPY_RECEIVE) of them at addr (tcp.ts): the
 * call's result and the bytes it mapped.
 */
export function sysTcpZerocopy(k: Kernel, mm: MmStruct, addr: Vaddr, len: number): ZerocopyResult {
  enter(k, mm);
  return complete(/* task */ tcpZerocopy(mm, addr, len, tcpSockAt(mm, addr)));
}
/** A binder transaction of len bytes lands in the buffer at addr of a binder mapping (binder.ts): 0 or a negative errno. */
export function sysBinderTransaction(k: Kernel, mm: MmStruct, addr: Vaddr, len: number): number {
  enter(k, mm);
  return complete(/* task */ binderTransaction(mm, addr, len));
}
/** A write of `type` to /proc/PID/clear_refs (clear_refs.ts): 0, or -EINVAL. */
export function sysClearRefs(k: Kernel, mm: MmStruct, type: number): number {
  enter(k, mm);
  return complete(/* task */ clearRefsWrite(mm, type));
}
/** swapoff(2) of the swap area (swapoff.ts): 0, or a negative errno. */
export function sysSwapoff(k: Kernel, mm: MmStruct): number {
  enter(k, mm);
  return complete(/* task */ swapoff());
}
/**
 * Compaction of the node meets the pages of [addr, addr + len) (migrate.ts): each small anonymous
 * folio mapped there moves to a new folio. Returns how many moved.
 */
export function sysMigrate(k: Kernel, mm: MmStruct, addr: Vaddr, len: number): number {
  enter(k, mm);
  return complete(/* task */ compactRange(mm, addr, len));
}
/**
 * posix_fadvise(2) of [offset, offset + len) of a file, in bytes (fadvise.ts): 0 (DONTNEED does
 * not fail on a regular file or a memfd). `mm` is the calling process (no page table is walked).
 */
export function sysFadvise(k: Kernel, mm: MmStruct, mapping: AddressSpace, offset: number, len: number, advice: Fadvice): number {
  enter(k, mm);
  return complete(/* task */ genericFadvise(mapping, offset, len, advice));
}
/** brk(): the new break, or the old one when the request is refused (as the syscall returns). */
export function sysBrk(k: Kernel, mm: MmStruct, brk: Vaddr): number {
  enter(k, mm);
  return complete(/* task */ doBrk(mm, brk));
}
/** A user access of one byte: 0 (FAULT_OK) or a fault outcome (arch/fault.ts). */
export function sysTouch(k: Kernel, mm: MmStruct, addr: Vaddr, write: boolean): number {
  enter(k, mm);
  return userAccess(mm, addr, write);
}

/**
 * One byte accessed at every `stride` bytes of [start, end), in order, as a user loop would;
 * stops at the first access that does not succeed and returns its fault outcome (0 if none).
 */
export function sysTouchRange(k: Kernel, mm: MmStruct, start: Vaddr, end: Vaddr, stride: number, write: boolean): number {
  enter(k, mm);
  for (let a = start; a < end; a += stride) {
    const r = userAccess(mm, a, write);
    if (r !== 0) return r;
  }
  return 0;
}

/**
 * fork()'s copy of `mm` (fork.ts, dup_mm()): the child's mm, named `name`, or a negative errno.
 * The child runs on no CPU until a caller enters it.
 */
export function sysFork(k: Kernel, mm: MmStruct, name: string): MmStruct | number {
  enter(k, mm);
  return complete(/* task */ dupMm(mm, name));
}

/**
 * do_exit() → exit_mmap() → mmdrop(): the PGD goes last, then check_mm(); exit_files() releases
 * the binder files (binder_release()).
 */
export function sysExit(k: Kernel, mm: MmStruct): void {
  enter(k, mm);
  complete(/* task */ exitMmap(mm));
  binderRelease(mm);
  k.pt.free(mm.pgd); // mm_free_pgd(): never visible to lockless walkers of other mms
  for (const cpu of k.cpus) {
    cpu.tlb.flushMm(mm.id);
    if (cpu.activeMm === mm) cpu.activeMm = null;
  }
}

/**
 * mincore() of a snapshot's range, page codes as the kernel runner reports them: 'r' resident, 'n'
 * not, '-' not mapped. One call over the whole range; when it fails (-ENOMEM: a hole), one call
 * per page, as the runner does, so each page of a hole reads '-'.
 */
export function procMincore(k: Kernel, mm: MmStruct, addr: Vaddr, pages: number): string {
  const call = (a: Vaddr, n: number): { ret: number; vec: number[] } => {
    enter(k, mm);
    const vec: number[] = [];
    return { ret: complete(/* task */ sysMincore(mm, a, n * PAGE_SIZE, vec)), vec };
  };
  const all = call(addr, pages);
  const code = (v: number) => (v & 1 ? 'r' : 'n');
  if (all.ret === 0) return all.vec.map(code).join('');
  let out = '';
  for (let i = 0; i < pages; i++) {
    const one = call(addr + i * PAGE_SIZE, 1);
    out += one.ret === 0 ? code(one.vec[0]) : '-';
  }
  return out;
}

/**
 * move_pages(2) with no target nodes over a snapshot's range (move_pages.ts, do_pages_stat()), page
 * codes as the kernel runner reports them: 'n' on a node, 'e' -ENOENT, 'f' -EFAULT.
 */
export function procMovePages(k: Kernel, mm: MmStruct, addr: Vaddr, pages: number): string {
  enter(k, mm);
  const addrs = Array.from({ length: pages }, (_, i) => addr + i * PAGE_SIZE);
  const status = complete(/* task */ doPagesStat(mm, addrs));
  return status.map((s) => (s >= 0 ? 'n' : s === -ENOENT ? 'e' : s === -EFAULT ? 'f' : '?')).join('');
}

/**
 * The snapshot letter of a PAGEMAP_SCAN page (docs/op-scripts.md; runner/ptlab-runner.c
 * scan_code() is the same table): its categories other than PAGE_IS_WRITTEN pick the letter, in
 * lower case when written (PAGE_IS_WRITTEN: no uffd-wp bit), upper case when not; '?' a combination
 * the table lacks.
 */
const SCAN_LETTERS: ReadonlyMap<number, string> = new Map([
  [0, 'e'],
  [PAGE_IS_PRESENT, 'a'],
  [PAGE_IS_PRESENT | PAGE_IS_FILE, 'f'],
  [PAGE_IS_PRESENT | PAGE_IS_PFNZERO, 'z'],
  [PAGE_IS_HUGE | PAGE_IS_PRESENT, 'h'],
  [PAGE_IS_HUGE | PAGE_IS_PRESENT | PAGE_IS_FILE, 't'],
  [PAGE_IS_HUGE | PAGE_IS_PRESENT | PAGE_IS_PFNZERO, 'y'],
  [PAGE_IS_SWAPPED, 's'],
  [PAGE_IS_SWAPPED | PAGE_IS_FILE, 'm'],
  [PAGE_IS_SWAPPED | PAGE_IS_GUARD, 'g'],
  [PAGE_IS_HUGE | PAGE_IS_SWAPPED, 'v'],
  [PAGE_IS_HUGE | PAGE_IS_SWAPPED | PAGE_IS_FILE, 'n'],
]);
export function pagemapScanCode(categories: number): string {
  const letter = SCAN_LETTERS.get(categories & ~PAGE_IS_WRITTEN);
  if (letter === undefined) return '?';
  return categories & PAGE_IS_WRITTEN ? letter : letter.toUpperCase();
}
/** The regions the runner asks for per PAGEMAP_SCAN call (its vector's room). */
export const SCAN_VEC_LEN = 4096;

/**
 * PAGEMAP_SCAN over a snapshot's range (pagemap_scan.ts), every category but soft-dirty asked,
 * page codes as the kernel runner reports them: the calls the runner makes (another from walk_end
 * while one fills its SCAN_VEC_LEN regions), regions expanded page by page, '-' for pages no
 * region covers (no VMA there) and for pages past TASK_SIZE, where the ioctl would fail.
 */
export function procPagemapScan(k: Kernel, mm: MmStruct, addr: Vaddr, pages: number): string {
  const codes: string[] = new Array<string>(pages).fill('-');
  const end = Math.min(addr + pages * PAGE_SIZE, TASK_SIZE);
  for (let start = addr; start < end; ) {
    enter(k, mm);
    const arg = pmScanArg(start, end, SCAN_VEC_LEN);
    const ret = complete(/* task */ doPagemapScan(mm, arg));
    if (ret < 0) throw new ModelBug(`PAGEMAP_SCAN of a snapshot's range failed: ${ret}`);
    for (const r of arg.vec) codes.fill(pagemapScanCode(r.categories), (r.start - addr) / PAGE_SIZE, (r.end - addr) / PAGE_SIZE);
    if (ret < SCAN_VEC_LEN) break; // only a full vector stops the scan early
    start = arg.walkEnd;
  }
  return codes.join('');
}

/** Let every pending RCU grace period end and run its callbacks (between ops). */
export function quiesce(k: Kernel): number {
  setCurrent(k, 0);
  return rcuAdvance(k.rcu, k.cpus);
}
