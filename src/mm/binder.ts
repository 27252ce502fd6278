/**
 * Binder's buffer pages (drivers/android/binder.c, drivers/android/binder_alloc.c, Linux 6.18.2):
 * a process maps its binder device read-only (binder_mmap()); when a transaction lands in a buffer,
 * binder_install_buffer_pages() allocates each missing page of the buffer and maps it into the
 * process with vm_insert_page() (src/mm/memory/insert_page.ts), holding only the VMA's read lock
 * (lock_vma_under_rcu(), else the mmap_lock for read). docs/audit.md #18: a MADV_DONTNEED of the
 * whole block holds the same lock and may reclaim the table vm_insert_page() just allocated; the
 * install then fails with -ENOMEM and the transaction fails (binder_vs_dontneed).
 *
 * The model's transaction names its buffer (offset and length in the mapping) instead of taking it
 * from binder's allocator (binder_alloc_new_buf_locked()), and the pages stay installed until the
 * process exits (binder's shrinker, which zaps and frees unused pages, is not modelled). Left out:
 * the Rust binder driver (drivers/android/binder/page_range.rs), which calls vm_insert_page()
 * under mmap_read_lock() too (R16's window) but installs under a mutex (no -EBUSY path).
 *
 * Two transactions whose buffers share a page may install it at once: the loser's vm_insert_page()
 * is -EBUSY, and binder_page_lookup() takes the winner's page with get_user_pages_remote(), a
 * reference no path of binder drops again: the winner's allocation reference is the one binder
 * frees, so the page never returns to the allocator (test/mm/binder.test.ts; config
 * binder_lookup_put=on drops the lookup's reference).
 */
import { EBUSY, EINVAL, ENOMEM, EPERM, ESRCH, PAGE_SIZE, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { vmInsertPage } from './memory/insert_page.js';
import { lockVmaUnderRcu } from './mmap_lock.js';
import { BINDER_BUFFER_MAX, BINDER_SLOTS, BinderProc, VM_DONTCOPY, VM_MAYWRITE, VM_MIXEDMAP, VM_WRITE, type MmStruct, type Vma } from './mm_types.js';
import { PG_uptodate, PT_KERNEL } from './page_alloc.js';
import { downRead, mightAlloc, upRead, type KGen } from './primitives.js';
import { FOLL_NOFAULT, getUserPagesRemote } from './gup.js';
import { folioPutRefs } from './swap.js';
import { vmaLookup } from './vma_tree.js';

/** binder_get_installed_page(): smp_load_acquire() of the slot (a read the explorer orders). */
function binderGetInstalledPage(proc: BinderProc, index: number): number {
  current.k.rec.touch(proc.obj(index), false);
  return proc.pages[index];
}

/** binder_set_installed_page(): smp_store_release() of the slot. */
function binderSetInstalledPage(proc: BinderProc, index: number, page: number): void {
  current.k.rec.touch(proc.obj(index), true);
  proc.pages[index] = page;
}

/** binder_alloc_is_mapped(): smp_load_acquire() of alloc->mapped. */
function binderAllocIsMapped(proc: BinderProc): boolean {
  current.k.rec.touch(proc.obj(BINDER_SLOTS - 1), false);
  return proc.mapped;
}

/** open() of the binder device: binder_open() creates the process's binder_proc. */
export function binderOpen(mm: MmStruct, name: string): BinderProc {
  const proc = new BinderProc(mm.kernel.newObjectId(), name, mm);
  mm.binderProcs.push(proc);
  return proc;
}

/**
 * binder_mmap() and binder_alloc_mmap_handler(): never writable (FORBIDDEN_MMAP_FLAGS), not copied
 * by fork, VM_MIXEDMAP so that vm_insert_page() needs no mmap_lock for write; one mapping per
 * open binder file (-EBUSY: "already mapped").
 */
export function binderMmap(vma: Vma, proc: BinderProc): number {
  if (vma.flags & VM_WRITE) return -EPERM;
  vma.flags = (vma.flags | VM_DONTCOPY | VM_MIXEDMAP) & ~VM_MAYWRITE; // vm_flags_mod()
  vma.driver = proc; // vma->vm_ops = &binder_vm_ops; vma->vm_private_data = proc
  if (vma.mm !== proc.mm) return -EINVAL;
  if (proc.bufferSize) return -EBUSY;
  proc.bufferSize = Math.min(vma.end - vma.start, BINDER_BUFFER_MAX);
  proc.vmStart = vma.start;
  proc.pages = new Array<number>(proc.bufferSize / PAGE_SIZE).fill(0);
  proc.mapped = true; // binder_alloc_set_mapped()
  return 0;
}

/**
 * binder_page_insert(): vm_insert_page() under the VMA's read lock, else under the mmap_lock for
 * read; -ESRCH when no VMA is there or the binder mapping is gone (binder_alloc_is_mapped()).
 */
function* binderPageInsert(proc: BinderProc, addr: Vaddr, page: Pfn): KGen<number> {
  const mm = proc.mm;
  let ret = -ESRCH;
  // attempt per-vma lock first
  const locked = yield* lockVmaUnderRcu(mm, addr);
  if (locked) {
    if (binderAllocIsMapped(proc)) ret = yield* vmInsertPage(locked, addr, page);
    yield* upRead(locked.vmLock); // vma_end_read()
    return ret;
  }
  // fall back to mmap_lock
  yield* downRead(mm.mmapLock);
  const vma = vmaLookup(mm, addr);
  if (vma && binderAllocIsMapped(proc)) ret = yield* vmInsertPage(vma, addr, page);
  yield* upRead(mm.mmapLock);
  return ret;
}

/**
 * binder_page_lookup(): the page mapped at addr, referenced by get_user_pages_remote() with
 * FOLL_NOFAULT (nothing is faulted in); 0 when there is none or the mapping is gone.
 */
function* binderPageLookup(proc: BinderProc, addr: Vaddr): KGen<number> {
  const mm = proc.mm;
  const pages: Pfn[] = [];
  let npages = 0;
  // Find an existing page in the remote mm. If missing, don't attempt to fault-in just propagate an error.
  yield* downRead(mm.mmapLock);
  if (binderAllocIsMapped(proc)) npages = yield* getUserPagesRemote(mm, addr, FOLL_NOFAULT, pages);
  yield* upRead(mm.mmapLock);
  return npages > 0 ? pages[0] : 0;
}

/**
 * binder_install_single_page(): a new zeroed page (binder_page_alloc()) mapped at addr and marked
 * installed; on an error the page is freed again and the error returned. -EBUSY (another install
 * mapped the slot first) is success with the page found there.
 */
function* binderInstallSinglePage(proc: BinderProc, index: number, addr: Vaddr): KGen<number> {
  if (proc.mm.exited) return -ESRCH; // mmget_not_zero()
  const mem = current.k.mem;
  yield* mightAlloc();
  let page = mem.allocPages(0, PT_KERNEL); // alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO)
  if (page < 0) return -ENOMEM;
  mem.setFlags(page, PG_uptodate);
  let ret = yield* binderPageInsert(proc, addr, page);
  if (ret === -EBUSY) {
    // EBUSY is ok. Someone installed the pte first but the alloc->pages[index] has not been
    // updated yet. Discard our page and look up the one already installed.
    ret = 0;
    folioPutRefs(page, 1); // binder_free_page()
    page = (yield* binderPageLookup(proc, addr)) as Pfn;
    if (!page) return -ESRCH; // pr_err("... failed to find page at offset ...")
    // The remedy (config binder_lookup_put): the installer's own reference is binder's.
    if (current.k.cfg.binderLookupPut) folioPutRefs(page, 1);
  }
  if (ret === 0) binderSetInstalledPage(proc, index, page);
  else folioPutRefs(page, 1); // binder_free_page(); pr_err("... failed to insert page ...")
  return ret;
}

/**
 * binder_install_buffer_pages() for a buffer of `size` bytes at `userData` (an address in the
 * mapping): each page not yet installed, in order; the first error ends the transaction. No mm
 * lock is held across pages.
 */
export function* binderInstallBufferPages(proc: BinderProc, userData: Vaddr, size: number): KGen<number> {
  const start = userData - (userData % PAGE_SIZE);
  const final = Math.ceil((userData + size) / PAGE_SIZE) * PAGE_SIZE;
  for (let pageAddr = start; pageAddr < final; pageAddr += PAGE_SIZE) {
    const index = (pageAddr - proc.vmStart) / PAGE_SIZE;
    if (binderGetInstalledPage(proc, index)) continue;
    const ret = yield* binderInstallSinglePage(proc, index, pageAddr);
    if (ret) return ret;
  }
  return 0;
}

/**
 * A transaction of `len` bytes delivered into the buffer at `addr` of the process's binder mapping
 * there (binder_alloc_new_buf() after the buffer was chosen): 0, or the install's error; -EINVAL
 * when addr is not in a binder mapping's buffer space.
 */
export function* binderTransaction(mm: MmStruct, addr: Vaddr, len: number): KGen<number> {
  const proc = mm.binderProcs.find((p) => p.bufferSize && addr >= p.vmStart && addr + len <= p.vmStart + p.bufferSize);
  if (!proc || len <= 0) return -EINVAL;
  if (!binderAllocIsMapped(proc)) return -ESRCH; // binder_alloc_new_buf()
  return yield* binderInstallBufferPages(proc, addr, len);
}

/**
 * binder_release() → binder_alloc_deferred_release(), when the process exits after exit_mmap():
 * binder drops its reference on every installed page.
 */
export function binderRelease(mm: MmStruct): void {
  for (const proc of mm.binderProcs) {
    for (const page of proc.pages) if (page) folioPutRefs(page as Pfn, 1); // __free_page()
    proc.pages = [];
    proc.bufferSize = 0;
  }
}
