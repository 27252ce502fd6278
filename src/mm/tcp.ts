/**
 * TCP zerocopy receive (net/ipv4/tcp.c, Linux 6.18.2): a process maps its TCP socket read-only
 * (tcp_mmap()) and getsockopt(TCP_ZEROCOPY_RECEIVE) maps the received pages into that mapping
 * with vm_insert_pages() (src/mm/memory/insert_page.ts), under the VMA's read lock
 * (find_tcp_vma()). docs/audit.md #19: a concurrent MADV_DONTNEED of the whole block holds the
 * same lock and may reclaim the table insert_pages() just allocated (tcp_zerocopy_vs_dontneed).
 *
 * The model's socket keeps no queue: a receive brings its own pages (the peer's LEN bytes, page
 * aligned, as page frags of skbs of SKB_PAGES pages), maps what it can, and then drops the skb
 * references of every page, as the kernel does once the data is consumed (mapped, or read by the
 * caller afterwards: the kernel runner drains what was not mapped). Left out: the copy buffer
 * (copybuf_len), TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT (and so the retry after -EBUSY),
 * timestamps, receive-window accounting, and sockets that are not connected.
 */
import { EINVAL, ENOMEM, EPERM, PAGE_SIZE, PTRS_PER_PTE, pteIndex, type Pfn, type Vaddr } from './const.js';
import { current } from './current.js';
import { vmInsertPages } from './memory/insert_page.js';
import { zapPageRangeSingle } from './memory/zap.js';
import { lockVmaUnderRcu } from './mmap_lock.js';
import { TcpSock, VM_EXEC, VM_MAYEXEC, VM_MAYWRITE, VM_MIXEDMAP, VM_WRITE, type MmStruct, type Vma } from './mm_types.js';
import { PG_has_data, PG_uptodate, PT_KERNEL } from './page_alloc.js';
import { downRead, downWrite, mightAlloc, upRead, upWrite, type KGen } from './primitives.js';
import { folioPutRefs } from './swap.js';
import { vmaLookup } from './vma_tree.js';

/** TCP_ZEROCOPY_PAGE_BATCH_SIZE: pages handed to one vm_insert_pages(). */
const TCP_ZEROCOPY_PAGE_BATCH_SIZE = 32;
/**
 * Pages per skb the model's peer sends: a batch also ends where an skb does ("we cannot unroll
 * failed ops across skbs"). 16 pages is a 64 KiB GSO skb on loopback.
 */
export const SKB_PAGES = 16;

/**
 * The PTE-lock sections of a receive of len bytes at address that meets nothing: the page counts
 * of the batches insert_pages() maps under one pte_offset_map_lock() each (8 at most, restarting
 * at each vm_insert_pages() call, one per skb, and at each PMD boundary). Another path may run
 * between two of them, so the explainer orders them as units (src/scenarios/explain.ts).
 */
export function zerocopyLockSections(address: Vaddr, len: number): number[] {
  const out: number[] = [];
  const n = len / PAGE_SIZE;
  for (let call = 0; call < n; call += SKB_PAGES) {
    let addr = address + call * PAGE_SIZE;
    let remaining = Math.min(SKB_PAGES, n - call);
    while (remaining) {
      let inPmd = Math.min(remaining, PTRS_PER_PTE - pteIndex(addr));
      remaining -= inPmd;
      while (inPmd) {
        const batch = Math.min(inPmd, 8);
        out.push(batch);
        inPmd -= batch;
        addr += batch * PAGE_SIZE;
      }
    }
  }
  return out;
}

/** tcp_mmap(): read-only, never writable later, VM_MIXEDMAP so that no mmap_lock is needed to insert. */
export function tcpMmap(vma: Vma, sock: TcpSock): number {
  if (vma.flags & (VM_WRITE | VM_EXEC)) return -EPERM;
  vma.flags &= ~(VM_MAYWRITE | VM_MAYEXEC);
  // Instruct vm_insert_page() to not mmap_read_lock(mm)
  vma.flags |= VM_MIXEDMAP;
  vma.driver = sock; // vma->vm_ops = &tcp_vm_ops
  return 0;
}

/**
 * find_tcp_vma(): the VMA at address read-locked by lock_vma_under_rcu(), else under the
 * mmap_lock for read; null unless it maps a TCP socket. `mmapLocked` says which lock is held.
 */
function* findTcpVma(mm: MmStruct, address: Vaddr): KGen<{ vma: Vma; mmapLocked: boolean } | null> {
  const locked = yield* lockVmaUnderRcu(mm, address);
  if (locked) {
    if (locked.driver?.kind !== 'tcp') {
      yield* upRead(locked.vmLock); // vma_end_read()
      return null;
    }
    return { vma: locked, mmapLocked: false };
  }
  yield* downRead(mm.mmapLock); // mmap_read_lock()
  const vma = vmaLookup(mm, address);
  if (!vma || vma.driver?.kind !== 'tcp') {
    yield* upRead(mm.mmapLock);
    return null;
  }
  return { vma, mmapLocked: true };
}

/** The receive's running state: struct tcp_zerocopy_receive's length and the local address/seq. */
interface Zc {
  address: Vaddr;
  /** Bytes mapped or pending (`length` in tcp_zerocopy_receive()). */
  length: number;
}

/**
 * tcp_zerocopy_vm_insert_batch() and, on an error, tcp_zerocopy_vm_insert_batch_error() without
 * the TLB_CLEAN_HINT retry: the pages not mapped are taken back out of `length`.
 */
function* tcpZerocopyVmInsertBatch(vma: Vma, pages: readonly Pfn[], zc: Zc): KGen<number> {
  const { ret, remaining } = yield* vmInsertPages(vma, zc.address, pages);
  // Even if vm_insert_pages fails, it may have partially succeeded in mapping.
  zc.address += PAGE_SIZE * (pages.length - remaining);
  if (!ret) return 0;
  zc.length -= PAGE_SIZE * remaining;
  return ret;
}

/** What a receive returns: the getsockopt() result, and zc->length (the bytes mapped). */
export interface ZerocopyResult {
  ret: number;
  length: number;
}

/**
 * tcp_zerocopy_receive() of `inq` (= the received pages) into the mapping at address, asking for
 * `want` bytes: the range is zapped first (no TLB_CLEAN_HINT), then the pages are inserted in
 * batches. An error after some pages were mapped is not returned: the caller sees fewer bytes.
 */
function* tcpZerocopyReceive(mm: MmStruct, address: Vaddr, want: number, received: readonly Pfn[]): KGen<ZerocopyResult> {
  if (address % PAGE_SIZE) return { ret: -EINVAL, length: 0 };
  const inq = received.length * PAGE_SIZE;
  const found = yield* findTcpVma(mm, address);
  if (!found) return { ret: -EINVAL, length: 0 };
  const { vma, mmapLocked } = found;
  const vmaLen = Math.min(want, vma.end - address);
  const totalBytesToMap = Math.min(vmaLen, inq) & ~(PAGE_SIZE - 1);
  if (totalBytesToMap) yield* zapPageRangeSingle(vma, address, totalBytesToMap, null);
  const zc: Zc = { address, length: 0 };
  let ret = 0;
  let batch: Pfn[] = [];
  for (let i = 0; zc.length + PAGE_SIZE <= totalBytesToMap; i++) {
    batch.push(received[i]);
    zc.length += PAGE_SIZE;
    // Either full batch, or we're about to go to next skb.
    if (batch.length === TCP_ZEROCOPY_PAGE_BATCH_SIZE || (i + 1) % SKB_PAGES === 0) {
      ret = yield* tcpZerocopyVmInsertBatch(vma, batch, zc);
      if (ret) break;
      batch = [];
    }
  }
  if (!ret && batch.length) ret = yield* tcpZerocopyVmInsertBatch(vma, batch, zc);
  yield* upRead(mmapLocked ? mm.mmapLock : vma.vmLock);
  // Data was consumed: the error of a later batch is not reported.
  if (zc.length) ret = 0;
  return { ret, length: zc.length };
}

/**
 * The socket a TCP mapping at address maps, null when none does: which socket the caller's
 * getsockopt() names (its fd), for tcpZerocopy().
 */
export function tcpSockAt(mm: MmStruct, address: Vaddr): TcpSock | null {
  const driver = vmaLookup(mm, address)?.driver;
  return driver?.kind === 'tcp' ? driver : null;
}

/**
 * The peer sends len bytes, then TCP_ZEROCOPY_RECEIVE of len bytes at address on socket `sock`
 * (do_tcp_getsockopt(): sockopt_lock_sock() around tcp_zerocopy_receive(), so two receives on
 * one socket never overlap; null: the address maps no socket, and the receive finds no VMA);
 * afterwards every received page loses its skb reference (consumed, or drained by the caller).
 * -ENOMEM when the model has no frames left for the data.
 */
export function* tcpZerocopy(mm: MmStruct, address: Vaddr, len: number, sock: TcpSock | null): KGen<ZerocopyResult> {
  const mem = current.k.mem;
  const received: Pfn[] = [];
  yield* mightAlloc(); // the peer's send allocates the skb pages
  for (let i = 0; i < len / PAGE_SIZE; i++) {
    const page = mem.allocPages(0, PT_KERNEL);
    if (page < 0) break;
    mem.setFlags(page, PG_uptodate | PG_has_data);
    received.push(page);
  }
  let res: ZerocopyResult = { ret: -ENOMEM, length: 0 };
  if (received.length * PAGE_SIZE === len) {
    if (sock) yield* downWrite(sock.skLock); // sockopt_lock_sock()
    res = yield* tcpZerocopyReceive(mm, address, len, received);
    if (sock) yield* upWrite(sock.skLock); // sockopt_release_sock()
  }
  for (const page of received) folioPutRefs(page, 1); // tcp_recv_skb() → skb_frag_unref() as skbs are eaten
  return res;
}
