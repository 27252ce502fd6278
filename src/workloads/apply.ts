/**
 * One trace record applied to the model through its system-call surface (src/mm/kernel.ts): the
 * processes, files and exec images of a trace, and what each record becomes (docs/workloads.md,
 * "Replay"). A record the model cannot apply is reported to `skip` with a reason; one that failed
 * for real (`err=`) is not applied at all.
 *
 * Coarse on purpose (docs/workloads.md): a stack growing below its VMA becomes a new mapping
 * right below it; faults in special mappings (vdso, vvar) are not replayed.
 */
import type * as Api from '../mm/api.js';
import { PROT_WRITE, type TraceRecord } from '../trace/records.js';
import type { ObservedCounters } from './report_schema.js';

type ModelApi = typeof Api;
const PAGE = 4096;
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
        for (const key of ['thp', 'shmem_thp'] as const) if (r.values[key] !== undefined) this.settings[key] = r.values[key];
        return;
      case 'file':
        this.files.set(r.name, api.createFile(this.kernel(), r.name, Math.max(r.size, PAGE), r.folio === '2M' ? 9 : 0));
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
      this.checkpoints.push({ label: r.label, VmPTE: s.VmPTE, VmRSS: s.VmRSS, RssAnon: s.RssAnon, RssFile: s.RssFile, RssShmem: s.RssShmem });
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
        for (let a = r.start; a < r.end; a += PAGE) this.access(p, r, a, r.write);
        return;
      case 'mmap': {
        if (r.flags.includes('hugetlb')) return this.skip(r, 'hugetlb mappings are not modelled');
        const shared = r.flags.includes('shared');
        const end = r.addr + Math.ceil(r.len / PAGE) * PAGE;
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
      case 'fault':
        return this.access(p, r, r.addr - (r.addr % PAGE), r.access === 'write');
      case 'touch': {
        const end = r.addr + r.len;
        // The common case at full speed; a range the model cannot serve all at once (special
        // mappings, a growing stack) goes page by page.
        if (!p.special.some(([s, e]) => s < end && e > r.addr) && api.sysTouchRange(k, p.mm, r.addr, end, r.every, r.write) === api.FAULT_OK) return;
        for (let a = r.addr; a < end; a += r.every) this.access(p, r, a, r.write);
        return;
      }
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
    return this.api.sysMmap(this.kernel(), p.mm, { addr: m.start, len: m.end - m.start, shared: m.shared, file, pgoff: Math.floor(m.off / PAGE), name: m.name, prot: m.prot, fixed: m.fixed });
  }

  /** One user access; a fault below the stack grows it first (expand_stack(), as a new VMA below). */
  private access(p: Proc, r: TraceRecord, addr: number, write: boolean): void {
    const { api } = this;
    const k = this.kernel();
    if (p.special.some(([s, e]) => addr >= s && addr < e)) return;
    let ret = api.sysTouch(k, p.mm, addr, write);
    if (ret === api.FAULT_SIGSEGV && this.growStack(p, addr)) ret = api.sysTouch(k, p.mm, addr, write);
    if (ret !== api.FAULT_OK) this.skip(r, `the model's fault ended in ${ret === api.FAULT_SIGSEGV ? 'SIGSEGV' : ret === api.FAULT_SIGBUS ? 'SIGBUS' : 'OOM'}`, ` (at 0x${addr.toString(16)})`);
  }

  private growStack(p: Proc, addr: number): boolean {
    if (p.stackLow < 0 || addr >= p.stackLow || addr < p.stackHigh - STACK_LIMIT) return false;
    const low = addr - (addr % PAGE);
    if (this.mmap(p, { start: low, end: p.stackLow, prot: 3, shared: false, off: 0, name: '[stack]' }) < 0) return false;
    p.stackLow = low;
    return true;
  }
}
