/**
 * One trace record applied to the model through its system-call surface (src/mm/kernel.ts): the
 * processes, files and exec images of a trace, and what each record becomes (docs/workloads.md,
 * "Replay"). A record the model cannot apply is reported to `skip` with a reason; one that failed
 * for real (`err=`) is not applied at all.
 *
 * Coarse on purpose (docs/workloads.md): a stack growing below its VMA becomes a new mapping
 * right below it; faults in special mappings (vdso, vvar) are not replayed.
 *
 * An access range (`present`, `touch`) is walked VMA by VMA (find_vma()): its holes cost one lookup
 * each, not one per page, so a record over terabytes with nothing mapped is cheap (issue 15, D12),
 * and a stride below a page touches each page once (later accesses to a present page change nothing).
 */
import type * as Api from '../mm/api.js';
import type { ModelApi } from '../mm/api.js';
import { PROT_WRITE, TRACE_MODEL_SETTINGS, type TraceRecord } from '../trace/records.js';
import type { ObservedCounters } from './report_schema.js';
import { PAGE_SIZE } from '../mm/const.js';

const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;
const MREMAP_DONTUNMAP = 4;
/** How far below a stack VMA a fault may land and still grow it (the default 8 MiB RLIMIT_STACK). */
const STACK_LIMIT = 8 * 1024 * 1024;

export interface Proc {
  name: string;
  mm: Api.MmStruct;
  /** Lowest address of the stack VMA (grows down), or -1. */
  stackLow: number;
  stackHigh: number;
  special: [number, number][];
  exited: boolean;
}

/** Count a record the model could not apply; `reason` groups them, `detail` names this one. */
export type SkipFn = (r: TraceRecord, reason: string, detail?: string) => void;

interface MappingRequest {
  start: number;
  end: number;
  prot: number;
  shared: boolean;
  file?: string;
  off: number;
  name: string;
  fixed?: boolean;
}

export class TraceApplier {
  readonly procs = new Map<string, Proc>();
  readonly files = new Map<string, Api.AddressSpace>();
  /** Ids of the trace's mms (for table scans). */
  readonly mmIds = new Set<number>();
  /** The real kernel's counters at the trace's `observed` points, and the model's there. */
  readonly observed: ObservedCounters[] = [];
  readonly checkpoints: ObservedCounters[] = [];
  cur: Proc | null = null;

  /**
   * @param kernel the model, created on first use (after the trace's meta settings are known)
   * @param settings receives the model settings of the trace's meta lines
   * @param beforeExit called just before a process exits
   */
  constructor(
    private readonly api: ModelApi,
    private readonly kernel: () => Api.Kernel,
    private readonly settings: Record<string, string>,
    private readonly skip: SkipFn,
    private readonly beforeExit: () => void,
  ) {}

  /** The mms of processes that have not exited. */
  live(): Api.MmStruct[] {
    return [...this.procs.values()].filter((p) => !p.exited).map((p) => p.mm);
  }

  apply(r: TraceRecord): void {
    const { api } = this;
    switch (r.kind) {
      case 'meta':
        for (const key of TRACE_MODEL_SETTINGS) if (r.values[key] !== undefined) this.settings[key] = r.values[key];
        return;
      case 'file':
        this.files.set(r.name, api.createFile(this.kernel(), r.name, Math.max(r.size, PAGE_SIZE), r.folio === '2M' ? 9 : 0));
        return;
      case 'memfd':
        this.files.set(r.name, api.createMemfd(this.kernel(), r.name, r.size));
        return;
      case 'process': {
        const mm = api.createProcess(this.kernel(), r.name);
        this.mmIds.add(mm.id);
        this.cur = { name: r.name, mm, stackLow: -1, stackHigh: -1, special: [], exited: false };
        this.procs.set(r.name, this.cur);
        return;
      }
      case 'switch':
        this.cur = this.procs.get(r.name)!;
        return;
    }
    const p = this.cur;
    if (!p) throw new Error(`${r.kind} before any process`);
    if (r.kind === 'observed') {
      this.observed.push({ label: r.label, VmPTE: 0, VmRSS: 0, RssAnon: 0, RssFile: 0, RssShmem: 0, ...r.values });
      const s = api.procStatus(p.mm);
      this.checkpoints.push({ label: r.label, VmPTE: s.VmPTE, VmRSS: s.VmRSS, RssAnon: s.RssAnon, RssFile: s.RssFile, RssShmem: s.RssShmem, VmSwap: s.VmSwap });
      return;
    }
    if ('err' in r && r.err) return; // failed for real: nothing to replay
    this.applyToProcess(p, r);
  }

  private applyToProcess(p: Proc, r: TraceRecord): void {
    const { api } = this;
    const k = this.kernel();
    switch (r.kind) {
      case 'vma': {
        const shared = r.vmaKind === 'anon-shared' || r.vmaKind === 'file-shared';
        this.syscall(r, this.mmap(p, { ...r, shared, name: r.name ?? '' }));
        if (r.vmaKind === 'stack') [p.stackLow, p.stackHigh] = [r.start, r.end];
        if (r.vmaKind === 'special') p.special.push([r.start, r.end]);
        return;
      }
      case 'brk-base':
        return api.setBrkBase(p.mm, r.start, r.cur);
      case 'present':
        return this.accessRange(p, r, r.start, r.end, PAGE_SIZE, r.write);
      case 'mmap': {
        if (r.flags.includes('hugetlb')) return this.skip(r, 'hugetlb mappings are not modelled');
        const shared = r.flags.includes('shared');
        const end = r.addr + Math.ceil(r.len / PAGE_SIZE) * PAGE_SIZE;
        const ret = this.mmap(p, { start: r.addr, end, prot: r.prot, shared, off: r.off, name: '', fixed: r.flags.includes('fixed'), ...(r.file !== undefined && { file: r.file }) });
        this.syscall(r, ret);
        if (ret >= 0 && r.flags.includes('populate')) {
          const write = (r.prot & PROT_WRITE) !== 0 && !shared; // mm_populate(): FOLL_WRITE for private writable
          this.syscall(r, api.sysMadvise(k, p.mm, r.addr, r.len, write ? 'populate_write' : 'populate_read'));
        }
        return;
      }
      case 'munmap':
        return this.syscall(r, api.sysMunmap(k, p.mm, r.addr, r.len));
      case 'madvise':
        if (r.advice === null) return this.skip(r, `advice ${r.raw} is not modelled`);
        return this.syscall(r, api.sysMadvise(k, p.mm, r.addr, r.len, r.advice));
      case 'mprotect':
        return this.syscall(r, api.sysMprotect(k, p.mm, r.addr, r.len, r.prot));
      case 'mremap': {
        let flags = (r.flags.includes('maymove') ? MREMAP_MAYMOVE : 0) | (r.flags.includes('fixed') ? MREMAP_FIXED : 0) | (r.flags.includes('dontunmap') ? MREMAP_DONTUNMAP : 0);
        // The kernel moved it: make the model move it to the same place (it might otherwise grow
        // in place, having no other mapping there).
        if (r.addr !== r.old) flags |= MREMAP_MAYMOVE | MREMAP_FIXED;
        return this.syscall(r, api.sysMremap(k, p.mm, r.old, r.oldLen, r.newLen, flags, r.addr));
      }
      case 'brk': {
        const got = api.sysBrk(k, p.mm, r.brk);
        if (got !== r.brk) this.skip(r, "the model's brk() ended elsewhere than the kernel's", ` (0x${got.toString(16)}, not 0x${r.brk.toString(16)})`);
        return;
      }
      case 'fault': {
        const failed = this.access(p, r.addr - (r.addr % PAGE_SIZE), r.access === 'write');
        if (failed) this.skip(r, failed.reason, failed.detail);
        return;
      }
      case 'touch':
        return this.accessRange(p, r, r.addr, r.addr + r.len, r.every, r.write);
      case 'exit':
        this.beforeExit();
        api.sysExit(k, p.mm);
        p.exited = true;
        this.cur = null;
        return;
    }
  }

  private syscall(r: TraceRecord, ret: number): void {
    if (ret < 0) this.skip(r, `the model returned ${this.api.ERRNO_NAMES[-ret] ?? `errno ${-ret}`} where the kernel succeeded`);
  }

  private mmap(p: Proc, m: MappingRequest): number {
    const file = m.file !== undefined ? this.files.get(m.file)! : null;
    return this.api.sysMmap(this.kernel(), p.mm, { addr: m.start, len: m.end - m.start, shared: m.shared, file, pgoff: Math.floor(m.off / PAGE_SIZE), name: m.name, prot: m.prot, fixed: m.fixed });
  }

  /**
   * One user access; a fault below the stack grows it first (expand_stack(), as a new VMA below).
   * Returns what went wrong, or undefined (also for an access in a special mapping, not replayed).
   */
  private access(p: Proc, addr: number, write: boolean): { reason: string; detail: string } | undefined {
    const { api } = this;
    const k = this.kernel();
    if (p.special.some(([s, e]) => addr >= s && addr < e)) return undefined;
    let ret = api.sysTouch(k, p.mm, addr, write);
    if (ret === api.FAULT_SIGSEGV && this.growStack(p, addr)) ret = api.sysTouch(k, p.mm, addr, write);
    if (ret === api.FAULT_OK) return undefined;
    return { reason: `the model's fault ended in ${ret === api.FAULT_SIGSEGV ? 'SIGSEGV' : ret === api.FAULT_SIGBUS ? 'SIGBUS' : 'OOM'}`, detail: ` (at 0x${addr.toString(16)})` };
  }

  /**
   * One access every `stride` bytes of [start, end), in order, as the trace's record says; one
   * skip for the record however many of them fail, naming the first. Mapped stretches go through
   * sysTouchRange() (page by page only where it stops: a special mapping, a refused access);
   * holes are stepped over, except where an access would grow the stack.
   */
  private accessRange(p: Proc, r: TraceRecord, start: number, end: number, stride: number, write: boolean): void {
    const { api } = this;
    const k = this.kernel();
    if (end <= start) return;
    if (stride < PAGE_SIZE) {
      // Every page from the first access's to the last one's, once.
      const last = start + Math.floor((end - 1 - start) / stride) * stride;
      [start, end, stride] = [start - (start % PAGE_SIZE), last - (last % PAGE_SIZE) + PAGE_SIZE, PAGE_SIZE];
    }
    const n = Math.ceil((end - start) / stride);
    let failed = 0;
    let first: { reason: string; detail: string } | undefined;
    const one = (addr: number) => {
      const f = this.access(p, addr, write);
      if (!f) return;
      failed++;
      first ??= f;
    };
    /** The first access index at or above address a. */
    const index = (a: number) => Math.max(0, Math.ceil((a - start) / stride));
    for (let i = 0; i < n; ) {
      const addr = start + i * stride;
      const vma = api.findVma(p.mm, addr);
      if (vma && vma.start <= addr) {
        // Accesses i..j-1 land in this VMA.
        const j = Math.min(n, index(vma.end));
        const to = start + (j - 1) * stride + 1;
        if (p.special.some(([s, e]) => s < to && e > addr) || api.sysTouchRange(k, p.mm, addr, to, stride, write) !== api.FAULT_OK) {
          for (let x = i; x < j; x++) one(start + x * stride);
        }
        i = j;
        continue;
      }
      // A hole up to the next VMA (or the end): only an access below the stack can change that.
      const holeEnd = vma ? vma.start : Infinity;
      const j = Math.min(n, index(holeEnd));
      const grows = p.stackLow >= 0 ? Math.max(i, index(p.stackHigh - STACK_LIMIT)) : j;
      if (grows < j && start + grows * stride < p.stackLow) {
        failed += grows - i;
        if (grows > i) first ??= { reason: "the model's fault ended in SIGSEGV", detail: ` (at 0x${addr.toString(16)})` };
        one(start + grows * stride); // grows the stack down to this page, or fails
        i = grows + 1;
        continue;
      }
      failed += j - i;
      first ??= { reason: "the model's fault ended in SIGSEGV", detail: ` (at 0x${addr.toString(16)})` };
      i = j;
    }
    if (first) this.skip(r, first.reason, `${first.detail}${n > 1 ? `, ${failed} of ${n} accesses` : ''}`);
  }

  private growStack(p: Proc, addr: number): boolean {
    if (p.stackLow < 0 || addr >= p.stackLow || addr < p.stackHigh - STACK_LIMIT) return false;
    const low = addr - (addr % PAGE_SIZE);
    if (this.mmap(p, { start: low, end: p.stackLow, prot: 3, shared: false, off: 0, name: '[stack]' }) < 0) return false;
    p.stackLow = low;
    return true;
  }
}
