/**
 * perf events + the exec watcher's photographs → `ptlab-trace 1` records (docs/trace-format.md,
 * docs/recording.md). Pure: the file system reaches it only through `statSize`.
 *
 * Which events belong to the trace
 *   Those of the traced process (perf's pid = the tgid the watcher reports; every thread), after the
 *   exec stop (the child was stopped there, so nothing of CMD ran before it; what exec itself did is
 *   in the image) and up to the exit stop. System calls are paired per thread, enter with exit, and
 *   written at their exit: the mapping change is complete by then.
 *
 * Files
 *   The syscall tracepoints give openat's filename as a user pointer, so an mmap's file is known by
 *   its open (fd → open instance) and the path comes from /proc/PID/maps at exec or exit: a mapping
 *   that is still there names its file (same start-relative offset). Instances with one path share
 *   one `file` record; a file mapped and unmapped before exit stays nameless, sized by its extent.
 */
import {
  PROT_EXEC, PROT_READ, PROT_WRITE, parseProt,
  type MadvAdvice, type MmapFlag, type MremapFlag, type ObservedKey, type TraceRecord, type VmaKind,
} from '../trace/records.js';
import { formatPageCacheExit, PAGE_CACHE_WARN_PAGES, uncachedPages, worstFiles, type PartlyCachedFile } from '../trace/page_cache.js';
import type { PerfEvent, PerfScript, TracedSyscall } from './perf_script.js';
import type { WatchReport, WatchVma } from './watch.js';

export const TASK_SIZE = 0x800000000000; // x86-64, 4-level paging: user addresses are below
const PAGE = 4096;

/** include/uapi/asm-generic/mman-common.h, mman.h */
const MAP_SHARED = 0x1, MAP_PRIVATE = 0x2, MAP_SHARED_VALIDATE = 0x3, MAP_TYPE = 0xf;
const MMAP_FLAG_BITS: readonly [number, MmapFlag][] = [
  [0x20, 'anon'], [0x10, 'fixed'], [0x100000, 'fixed'], [0x4000, 'noreserve'], [0x8000, 'populate'],
  [0x20000, 'stack'], [0x100, 'growsdown'], [0x40000, 'hugetlb'],
];
const MAP_ANONYMOUS = 0x20;
const MREMAP_FLAG_BITS: readonly [number, MremapFlag][] = [[1, 'maymove'], [2, 'fixed'], [4, 'dontunmap']];
const MADVICE_BY_NUMBER: ReadonlyMap<number, MadvAdvice> = new Map<number, MadvAdvice>([
  [3, 'willneed'], [4, 'dontneed'], [8, 'free'], [14, 'hugepage'], [15, 'nohugepage'], [20, 'cold'], [21, 'pageout'],
  [22, 'populate_read'], [23, 'populate_write'], [24, 'dontneed_locked'], [25, 'collapse'], [102, 'guard_install'], [103, 'guard_remove'],
]);
/** x86-64 errno names of the errors these system calls return. */
const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY',
  17: 'EEXIST', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 26: 'ETXTBSY',
  27: 'EFBIG', 28: 'ENOSPC', 30: 'EROFS', 36: 'ENAMETOOLONG', 38: 'ENOSYS', 40: 'ELOOP', 75: 'EOVERFLOW', 95: 'EOPNOTSUPP',
};
export const errnoName = (e: number): string => ERRNO[e] ?? `errno_${e}`;

/** Fault error_code bits (arch/x86/include/asm/trap_pf.h): X86_PF_WRITE, X86_PF_INSTR. */
const X86_PF_WRITE = 1 << 1, X86_PF_INSTR = 1 << 4;

export interface RecordEnv {
  command: string;
  kernel: string;
  thp: string;
  shmemThp: string;
  /** ISO time */
  recorded: string;
  /** The swap area `ptlab record --swap` ran the program with (a model setting: `config swap=`). */
  swap?: string;
  /** size of a file at the end of the recording; undefined when it is gone */
  statSize: (path: string) => number | undefined;
}

export interface RecordSummary {
  /** event records written, by kind (`fault` split by access: `fault:write`...) */
  counts: Record<string, number>;
  /** ns from the first to the last event written */
  duration: number;
  /** events of processes CMD forked (not recorded), by pid */
  forked: { pid: number; comm: string; events: number }[];
  /** syscall exits without their enter (lost or begun before the exec stop), enters without exit */
  unpaired: number;
  /** events after the exit stop (other threads still running): dropped */
  afterExit: number;
  warnings: string[];
}

export interface Converted {
  records: TraceRecord[];
  summary: RecordSummary;
}

/** One openat (or an fd first seen at an mmap): the unit files are tracked by until a path is known. */
interface OpenFile {
  id: number;
  path?: string;
  extent: number;
}

const big = (v: bigint | undefined): number => Number(v ?? 0n);
const fd32 = (v: bigint | undefined): number => Number(BigInt.asIntN(32, v ?? 0n));
const pageUp = (v: number) => Math.ceil(v / PAGE) * PAGE;
/**
 * The trace's files that were partly out of the page cache at exit, summed over the file pages
 * their exit VMAs map (the watcher's `cache` lines; a kernel without cachestat(2) sends none).
 */
function partlyCached(watch: WatchReport, byPath: ReadonlyMap<string, string>): (PartlyCachedFile & { path: string })[] {
  const sums = new Map<string, { pages: number; cached: number }>();
  const exitVmas = new Map((watch.exitStop?.vmas ?? []).map((v) => [v.start, v]));
  for (const c of watch.exitStop?.cache ?? []) {
    const path = exitVmas.get(c.start)?.path;
    if (path === undefined || !byPath.has(path)) continue;
    const sum = sums.get(path) ?? { pages: 0, cached: 0 };
    sum.pages += c.pages;
    sum.cached += Math.min(c.cached, c.pages);
    sums.set(path, sum);
  }
  return [...sums].filter(([, s]) => s.cached < s.pages).map(([path, s]) => ({ name: byPath.get(path)!, path, ...s }));
}

/** A trace line cannot hold a newline: control characters of a comm or path become `?`. */
// eslint-disable-next-line no-control-regex
const oneLine = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, '?');

function mapsKind(v: WatchVma): VmaKind | 'skip' {
  switch (v.path) {
    case '[stack]':
      return 'stack';
    case '[heap]':
      return 'heap';
    case '[vdso]':
    case '[vvar]':
    case '[vvar_vclock]':
      return 'special';
    case '[vsyscall]':
      return 'skip';
  }
  const shared = v.perms[3] === 's';
  if (v.inode !== 0 || (v.path !== '' && !v.path.startsWith('['))) return shared ? 'file-shared' : 'file-private';
  return shared ? 'anon-shared' : 'anon';
}

function observed(label: string, values: Partial<Record<ObservedKey, number>>): TraceRecord {
  return { kind: 'observed', label, values };
}

/** Path of the file mapped at `addr` with file offset `off`, from the maps photographs. */
function pathAt(maps: readonly WatchVma[], addr: number, off: number): string | undefined {
  for (const v of maps) {
    if (v.inode !== 0 && v.start <= addr && addr < v.end && v.off + (addr - v.start) === off) return v.path;
  }
  return undefined;
}

export function convertRecording(watch: WatchReport, perf: PerfScript, env: RecordEnv): Converted {
  const image = watch.exec;
  if (!image) throw new Error('the exec watcher reported no exec image');
  const pid = image.pid;
  const exitT = watch.exitStop?.t ?? Infinity;
  const summary: RecordSummary = { counts: {}, duration: 0, forked: [], unpaired: 0, afterExit: 0, warnings: [] };
  const forked = new Map<number, { comm: string; events: number }>();
  const exitMaps = watch.exitStop?.vmas ?? [];

  // Files: one open instance per openat (or unknown fd), resolved to a path when possible.
  const opens: OpenFile[] = [];
  const fds = new Map<number, OpenFile>();
  const newOpen = (): OpenFile => {
    const o: OpenFile = { id: opens.length, extent: 0 };
    opens.push(o);
    return o;
  };
  const imageFiles = new Map<string, OpenFile>(); // exec-image files by path

  // Events, with a placeholder file name (the open instance) fixed up once paths are known.
  const events: { r: TraceRecord; open?: OpenFile }[] = [];
  const pending = new Map<number, Extract<PerfEvent, { kind: 'enter' }>>();
  let brk = image.brk;
  let t0: number | undefined;
  let tLast = 0;

  const push = (e: PerfEvent, r: TraceRecord, open?: OpenFile) => {
    t0 ??= e.time;
    tLast = e.time;
    Object.assign(r, { t: e.time - t0, tid: e.tid });
    events.push({ r, ...(open && { open }) });
  };

  for (const e of perf.events) {
    if (e.pid !== pid) {
      if (e.pid !== watch.watcher && e.time > image.t) {
        const f = forked.get(e.pid) ?? { comm: e.comm, events: 0 };
        f.events++;
        forked.set(e.pid, f);
      }
      continue;
    }
    if (e.time <= image.t) continue; // the fork and the exec: described by the image
    if (e.time > exitT) {
      summary.afterExit++;
      continue;
    }
    if (e.kind === 'fault') {
      if (e.address === null || e.address >= BigInt(TASK_SIZE)) continue; // the kernel's own memory
      const access = e.errorCode & X86_PF_INSTR ? 'exec' : e.errorCode & X86_PF_WRITE ? 'write' : 'read';
      push(e, { kind: 'fault', addr: Number(e.address), access });
      continue;
    }
    if (e.kind === 'enter') {
      if (pending.has(e.tid)) summary.unpaired++;
      pending.set(e.tid, e);
      continue;
    }
    const enter = pending.get(e.tid);
    pending.delete(e.tid);
    if (!enter || enter.syscall !== e.syscall) {
      summary.unpaired++;
      continue;
    }
    syscall(e, enter.syscall, enter.args, e.ret);
  }
  summary.unpaired += pending.size;

  function syscall(e: PerfEvent, name: TracedSyscall, a: Record<string, bigint>, ret: bigint) {
    const failed = ret < 0n && ret >= -4095n;
    const err = failed ? { err: errnoName(Number(-ret)) } : {};
    switch (name) {
      case 'openat':
        if (!failed) fds.set(Number(ret), newOpen());
        return;
      case 'close':
        if (!failed) fds.delete(fd32(a.fd));
        return;
      case 'mmap': {
        const flags = big(a.flags);
        const type = flags & MAP_TYPE;
        const out: MmapFlag[] = [type === MAP_SHARED || type === MAP_SHARED_VALIDATE ? 'shared' : 'private'];
        if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE && !failed) {
          summary.warnings.push(`mmap with map type ${type} succeeded; recorded as private`);
        }
        for (const [bit, f] of MMAP_FLAG_BITS) if (flags & bit && !out.includes(f)) out.push(f);
        const len = big(a.len);
        const addr = failed ? big(a.addr) - (big(a.addr) % PAGE) : Number(ret);
        const prot = big(a.prot) & (PROT_READ | PROT_WRITE | PROT_EXEC);
        if (flags & MAP_ANONYMOUS) {
          push(e, { kind: 'mmap', addr, len, prot, flags: out, off: 0, ...err });
          return;
        }
        const fd = fd32(a.fd);
        let open = fds.get(fd);
        if (!open) {
          open = newOpen(); // an fd from dup, socket, memfd_create, inheritance...: not seen opened
          if (fd >= 0) fds.set(fd, open);
        }
        const off = big(a.off);
        if (!failed) {
          open.extent = Math.max(open.extent, off + pageUp(len));
          open.path ??= pathAt(exitMaps, addr, off);
        }
        push(e, { kind: 'mmap', addr, len, prot, flags: out, file: '', off, ...err }, open);
        return;
      }
      case 'munmap':
        push(e, { kind: 'munmap', addr: big(a.addr), len: big(a.len), ...err });
        return;
      case 'mremap': {
        const flags = MREMAP_FLAG_BITS.filter(([bit]) => big(a.flags) & bit).map(([, f]) => f);
        push(e, { kind: 'mremap', old: big(a.addr), oldLen: big(a.old_len), newLen: big(a.new_len), addr: failed ? big(a.addr) : Number(ret), flags, ...err });
        return;
      }
      case 'mprotect':
        push(e, { kind: 'mprotect', addr: big(a.start), len: big(a.len), prot: big(a.prot) & (PROT_READ | PROT_WRITE | PROT_EXEC), ...err });
        return;
      case 'madvise': {
        const n = big(a.behavior);
        const advice = MADVICE_BY_NUMBER.get(n) ?? null;
        push(e, { kind: 'madvise', addr: big(a.start), len: big(a.len_in), advice, ...(advice === null && { raw: n }), ...err });
        return;
      }
      case 'brk': {
        const want = big(a.brk);
        const got = Number(ret);
        // brk() returns the new break, or the old one when it refused to move it.
        if (want !== 0 && got !== want) push(e, { kind: 'brk', brk: want, err: 'ENOMEM' });
        else if (got !== brk) push(e, { kind: 'brk', brk: got });
        brk = got;
        return;
      }
    }
  }

  // The exec image: its files first (declared before use), then the process and its state.
  const fileNames = new Map<OpenFile, string>();
  const byPath = new Map<string, string>();
  const header: TraceRecord[] = [];
  let nFiles = 0;
  const declare = (o: OpenFile): string => {
    const known = fileNames.get(o);
    if (known) return known;
    if (o.path !== undefined && byPath.has(o.path)) {
      const n = byPath.get(o.path)!;
      fileNames.set(o, n);
      return n;
    }
    const name = `f${nFiles++}`;
    fileNames.set(o, name);
    const extentOfPath = o.path === undefined ? o.extent : Math.max(...opens.filter((x) => x.path === o.path).map((x) => x.extent), o.extent);
    const memfd = o.path?.startsWith('/memfd:');
    const size = (o.path !== undefined && !memfd ? env.statSize(o.path.replace(/ \(deleted\)$/, '')) : undefined) ?? extentOfPath;
    if (o.path !== undefined) byPath.set(o.path, name);
    header.push(memfd ? { kind: 'memfd', name, size } : { kind: 'file', name, size, folio: '4K', ...(o.path !== undefined && { path: oneLine(o.path) }) });
    return name;
  };

  const body: TraceRecord[] = [{ kind: 'process', name: 'P', pid, comm: oneLine(image.comm) }];
  for (const v of image.vmas) {
    const kind = mapsKind(v);
    if (kind === 'skip') continue;
    const prot = parseProt(v.perms) ?? 0;
    const named = v.path.startsWith('[') ? { name: v.path } : {};
    if (kind === 'file-private' || kind === 'file-shared') {
      let o = imageFiles.get(v.path);
      if (!o) {
        o = newOpen();
        o.path = v.path;
        imageFiles.set(v.path, o);
      }
      o.extent = Math.max(o.extent, v.off + (v.end - v.start));
      body.push({ kind: 'vma', start: v.start, end: v.end, prot, vmaKind: kind, file: declare(o), off: v.off });
    } else {
      body.push({ kind: 'vma', start: v.start, end: v.end, prot, vmaKind: kind, off: 0, ...named });
    }
  }
  body.push({ kind: 'brk-base', start: image.startBrk, cur: image.brk });
  for (const p of image.present) body.push({ kind: 'present', start: p.start, end: p.end, write: p.anon });
  body.push(observed('exec', image.status));

  for (const { r, open } of events) {
    if (open && r.kind === 'mmap') r.file = declare(open);
    body.push(r);
    const k = r.kind === 'fault' ? `fault:${r.access}` : 'err' in r && r.err ? `${r.kind}:failed` : r.kind;
    summary.counts[k] = (summary.counts[k] ?? 0) + 1;
  }
  if (watch.exitStop) {
    body.push(observed('exit', watch.exitStop.status));
    body.push({ kind: 'exit', ...(t0 !== undefined && { t: tLast - t0 }) });
  } else {
    summary.warnings.push('no exit stop was seen (the process was killed before it could be stopped): no `observed exit`');
    body.push({ kind: 'exit' });
  }
  summary.duration = t0 === undefined ? 0 : tLast - t0;
  summary.forked = [...forked].map(([p, f]) => ({ pid: p, ...f }));

  const meta: Record<string, string> = {
    command: env.command, kernel: env.kernel, thp: env.thp, shmem_thp: env.shmemThp, recorded: env.recorded, recorder: 'ptlab record (perf)',
    ...(env.swap && { swap: env.swap }),
  };
  const rollup = watch.exitStop?.rollup;
  if (rollup && Object.keys(rollup).length) meta.smaps_rollup_exit = Object.entries(rollup).map(([k, v]) => `${k}=${v}`).join(' ');
  const cold = partlyCached(watch, byPath);
  if (cold.length) meta.page_cache_exit = formatPageCacheExit(cold);
  if (uncachedPages(cold) >= PAGE_CACHE_WARN_PAGES) {
    summary.warnings.push(
      `${uncachedPages(cold).toLocaleString('en-US')} pages of ${cold.length} of the ${byPath.size} files the trace maps were not in the page cache at exit ` +
        `(${worstFiles(cold, 3, (c) => c.path.replace(/^.*\//, ''))}). The kernel's fault-around maps only cached pages and replay caches every file ` +
        "whole, so replay's RssFile can come out higher than the kernel's; read the files whole (cat FILE >/dev/null) and record again for figures that agree",
    );
  }
  if (watch.execs > 1) summary.warnings.push(`the command called execve ${watch.execs - 1} more time(s): the trace starts at the last exec`);
  return { records: [{ kind: 'meta', values: meta }, ...header, ...body], summary };
}
