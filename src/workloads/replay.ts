/**
 * Replays a workload trace (docs/trace-format.md) on the model, one record at a time through the
 * model's system-call surface, through a chain of purge policies, sampling the counters as it goes.
 * Pure: no I/O, no clock (elapsed time is measured by the caller through `now`).
 *
 * The kernel's address-space allocator is not modelled: every mapping goes where the trace says the
 * real kernel put it. Where the trace and the model disagree (a fault the model cannot serve, a
 * call that fails in the model but succeeded for real), the record is counted as skipped and the
 * first few are named in the run's notes; nothing is dropped silently.
 */
import * as fastApi from '../mm-fast/api.js';
import type * as Api from '../mm/api.js';
import { PROT_WRITE, type TraceRecord } from '../trace/records.js';
import { blockEmptyOutside, scanPteTables, tableRegions, takeSample, type TableScan } from './measure.js';
import type { PolicyView, PurgePolicy } from './policies/policy.js';
import type { ObservedCounters, ReplayRun, ReplaySample } from './report_schema.js';

type ModelApi = typeof Api;
const FAST_API = fastApi as unknown as ModelApi;
const PAGE = 4096;
const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;
const MREMAP_DONTUNMAP = 4;
/** How far below a stack VMA a fault may land and still grow it (the default 8 MiB RLIMIT_STACK). */
const STACK_LIMIT = 8 * 1024 * 1024;
/** Notes per kind of skipped record. */
const MAX_NOTES_PER_KIND = 3;

export interface ReplayOptions {
  label?: string;
  /** Model settings over the trace's own (`thp=`, `shmem_thp=` of its meta lines). */
  config?: Record<string, string>;
  policies?: PurgePolicy[];
  /** Target number of samples over the run (default 200). */
  samples?: number;
  /** Events in the trace, if known (for sampling and progress). */
  events?: number;
  onProgress?: (done: number, total: number | undefined) => void;
  /** Polled now and then; true stops the replay, which then reports what it has (interrupted). */
  shouldStop?: () => boolean;
  /** A clock in ms for the run's elapsed time (the caller's; the replay itself has none). */
  now?: () => number;
  api?: ModelApi;
}

interface Proc {
  name: string;
  mm: Api.MmStruct;
  /** Lowest address of the stack VMA (grows down), or -1. */
  stackLow: number;
  stackHigh: number;
  special: [number, number][];
  exited: boolean;
}

/** The settings a trace asks for through its meta lines. */
function metaSettings(r: TraceRecord, into: Record<string, string>): void {
  if (r.kind !== 'meta') return;
  for (const key of ['thp', 'shmem_thp'] as const) if (r.values[key] !== undefined) into[key] = r.values[key];
}

export interface ReplayResult {
  run: ReplayRun;
  /** The real kernel's counters at the trace's `observed` points (recorded traces). */
  observed: ObservedCounters[];
}

/** The end state a report shows: the last sample, the histogram and the regions at that moment. */
interface EndState {
  sample: ReplaySample;
  hist: number[];
  regions: ReplayRun['regions'];
}

export function replay(records: Iterable<TraceRecord>, opts: ReplayOptions = {}): ReplayResult {
  const api = opts.api ?? FAST_API;
  const now = opts.now ?? (() => 0);
  const t0 = now();
  const policies = opts.policies ?? [];
  const settings: Record<string, string> = {};
  let k: Api.Kernel | null = null;
  const procs = new Map<string, Proc>();
  const files = new Map<string, Api.AddressSpace>();
  const mmIds = new Set<number>();
  let cur: Proc | null = null;
  let events = 0;
  let skipped = 0;
  const notes: string[] = [];
  const noteCount = new Map<string, number>();
  const observed: ObservedCounters[] = [];
  const atObserved: ObservedCounters[] = [];
  const samples: ReplaySample[] = [];
  let lastTime: number | null = null;
  const interval = Math.max(1, Math.floor((opts.events ?? 0) / (opts.samples ?? 200)) || 4096);
  let interrupted = false;

  const kernel = (): Api.Kernel => {
    if (k) return k;
    const input: Api.ConfigInput = {};
    for (const s of [settings, opts.config ?? {}]) {
      const err = api.applySettings(input, s);
      if (err) throw new Error(`config: ${err}`);
    }
    k = api.createKernel(api.resolveConfig(input));
    return k;
  };
  /** Count a record the model could not apply; name the first few of each kind and reason. */
  const skip = (r: TraceRecord, reason: string, detail = '') => {
    skipped++;
    const key = `${r.kind}: ${reason}`;
    const n = (noteCount.get(key) ?? 0) + 1;
    noteCount.set(key, n);
    if (n <= MAX_NOTES_PER_KIND) notes.push(`skipped ${r.kind}${r.line ? ` (line ${r.line})` : ''}: ${reason}${detail}`);
  };
  const live = () => [...procs.values()].filter((p) => !p.exited).map((p) => p.mm);
  let scan: TableScan = { pteTables: 0, pteTablesEmpty: 0 };
  const sample = () => {
    if (!k) return;
    scan = scanPteTables(k, mmIds);
    samples.push(takeSample(api, k, live(), events, lastTime, scan));
  };
  const errnoOf = (ret: number) => api.ERRNO_NAMES[-ret] ?? `errno ${-ret}`;
  const syscall = (r: TraceRecord, ret: number) => {
    if (ret < 0) skip(r, `the model returned ${errnoOf(ret)} where the kernel succeeded`);
  };

  const view: PolicyView = {
    get process() {
      return cur?.name ?? '';
    },
    blockEmptyOutside(block: number, except: number, exceptEnd: number): boolean {
      return k !== null && cur !== null && blockEmptyOutside(api, k, cur.mm, block, except, exceptEnd);
    },
  };

  /** A fault the model cannot serve may be a stack growing down (expand_stack()), modelled as a new VMA below. */
  const growStack = (p: Proc, addr: number): boolean => {
    if (p.stackLow < 0 || addr >= p.stackLow || addr < p.stackHigh - STACK_LIMIT) return false;
    const low = addr - (addr % PAGE);
    const ret = api.sysMmap(kernel(), p.mm, { addr: low, len: p.stackLow - low, shared: false, file: null, pgoff: 0, name: '[stack]' });
    if (ret < 0) return false;
    p.stackLow = low;
    return true;
  };
  const access = (p: Proc, r: TraceRecord, addr: number, write: boolean) => {
    const kk = kernel();
    if (p.special.some(([s, e]) => addr >= s && addr < e)) return;
    let ret = api.sysTouch(kk, p.mm, addr, write);
    if (ret === api.FAULT_SIGSEGV && growStack(p, addr)) ret = api.sysTouch(kk, p.mm, addr, write);
    if (ret !== api.FAULT_OK) skip(r, `the model's fault ended in ${ret === api.FAULT_SIGSEGV ? 'SIGSEGV' : ret === api.FAULT_SIGBUS ? 'SIGBUS' : 'OOM'}`, ` (at 0x${addr.toString(16)})`);
  };
  const mmapOf = (p: Proc, r: { start: number; end: number; prot: number; shared: boolean; file?: string; off: number; name: string; fixed?: boolean }) => {
    const file = r.file !== undefined ? files.get(r.file)! : null;
    const req = { addr: r.start, len: r.end - r.start, shared: r.shared, file, pgoff: Math.floor(r.off / PAGE), name: r.name, prot: r.prot, fixed: r.fixed };
    return api.sysMmap(kernel(), p.mm, req);
  };

  const apply = (r: TraceRecord) => {
    const p = cur;
    switch (r.kind) {
      case 'meta':
        metaSettings(r, settings);
        return;
      case 'file':
        files.set(r.name, api.createFile(kernel(), r.name, Math.max(r.size, PAGE), r.folio === '2M' ? 9 : 0));
        return;
      case 'memfd':
        files.set(r.name, api.createMemfd(kernel(), r.name, r.size));
        return;
      case 'process': {
        const mm = api.createProcess(kernel(), r.name);
        mmIds.add(mm.id);
        cur = { name: r.name, mm, stackLow: -1, stackHigh: -1, special: [], exited: false };
        procs.set(r.name, cur);
        return;
      }
      case 'switch':
        cur = procs.get(r.name)!;
        return;
      case 'observed': {
        observed.push({ label: r.label, VmPTE: 0, VmRSS: 0, RssAnon: 0, RssFile: 0, RssShmem: 0, ...r.values });
        const s = api.procStatus(p!.mm);
        atObserved.push({ label: r.label, VmPTE: s.VmPTE, VmRSS: s.VmRSS, RssAnon: s.RssAnon, RssFile: s.RssFile, RssShmem: s.RssShmem });
        return;
      }
    }
    if (!p) throw new Error(`${r.kind} before any process`);
    if ('err' in r && r.err) return; // failed for real: nothing to replay
    switch (r.kind) {
      case 'vma': {
        const shared = r.vmaKind === 'anon-shared' || r.vmaKind === 'file-shared';
        const ret = mmapOf(p, { ...r, shared, name: r.name ?? '' });
        syscall(r, ret);
        if (r.vmaKind === 'stack') [p.stackLow, p.stackHigh] = [r.start, r.end];
        if (r.vmaKind === 'special') p.special.push([r.start, r.end]);
        return;
      }
      case 'brk-base':
        return api.setBrkBase(p.mm, r.start, r.cur);
      case 'present':
        for (let a = r.start; a < r.end; a += PAGE) access(p, r, a, r.write);
        return;
      case 'mmap': {
        if (r.flags.includes('hugetlb')) return skip(r, 'hugetlb mappings are not modelled');
        const shared = r.flags.includes('shared');
        const ret = mmapOf(p, { start: r.addr, end: r.addr + Math.ceil(r.len / PAGE) * PAGE, prot: r.prot, shared, off: r.off, name: '', fixed: r.flags.includes('fixed'), ...(r.file !== undefined && { file: r.file }) });
        syscall(r, ret);
        if (ret >= 0 && r.flags.includes('populate')) {
          const write = (r.prot & PROT_WRITE) !== 0 && !shared;
          syscall(r, api.sysMadvise(kernel(), p.mm, r.addr, r.len, write ? 'populate_write' : 'populate_read'));
        }
        return;
      }
      case 'munmap':
        return syscall(r, api.sysMunmap(kernel(), p.mm, r.addr, r.len));
      case 'madvise':
        if (r.advice === null) return skip(r, `advice ${r.raw} is not modelled`);
        return syscall(r, api.sysMadvise(kernel(), p.mm, r.addr, r.len, r.advice));
      case 'mprotect':
        return syscall(r, api.sysMprotect(kernel(), p.mm, r.addr, r.len, r.prot));
      case 'mremap': {
        let flags = (r.flags.includes('maymove') ? MREMAP_MAYMOVE : 0) | (r.flags.includes('fixed') ? MREMAP_FIXED : 0) | (r.flags.includes('dontunmap') ? MREMAP_DONTUNMAP : 0);
        // The kernel moved it: make the model move it to the same place (it might otherwise grow
        // in place, having no other mapping there).
        if (r.addr !== r.old) flags |= MREMAP_MAYMOVE | MREMAP_FIXED;
        return syscall(r, api.sysMremap(kernel(), p.mm, r.old, r.oldLen, r.newLen, flags, r.addr));
      }
      case 'brk': {
        const got = api.sysBrk(kernel(), p.mm, r.brk);
        if (got !== r.brk) skip(r, "the model's brk() ended elsewhere than the kernel's", ` (0x${got.toString(16)}, not 0x${r.brk.toString(16)})`);
        return;
      }
      case 'fault':
        return access(p, r, r.addr - (r.addr % PAGE), r.access === 'write');
      case 'touch': {
        const end = r.addr + r.len;
        if (p.special.some(([s, e]) => s < end && e > r.addr)) {
          for (let a = r.addr; a < end; a += r.every) access(p, r, a, r.write);
          return;
        }
        // The common case at full speed; a range the model cannot serve is retried page by page.
        if (api.sysTouchRange(kernel(), p.mm, r.addr, end, r.every, r.write) !== api.FAULT_OK) {
          for (let a = r.addr; a < end; a += r.every) access(p, r, a, r.write);
        }
        return;
      }
      case 'exit':
        preExit ??= endState();
        api.sysExit(kernel(), p.mm);
        p.exited = true;
        cur = null;
        return;
    }
  };

  const endState = (): EndState => {
    sample();
    const hist = new Float64Array(513);
    scanPteTables(kernel(), mmIds, hist);
    return { sample: samples[samples.length - 1], hist: [...hist], regions: tableRegions(kernel(), live(), mmIds) };
  };
  /**
   * The state just before the last exit, while no event followed it: a trace that ends with its
   * process exiting reports the address space as it was, not the empty one after exit_mmap().
   */
  let preExit: EndState | null = null;

  /** Run r through policies[i..] and apply what comes out. */
  const feed = (r: TraceRecord, i: number) => {
    if (i === policies.length) {
      apply(r);
      if (r.kind !== 'fault' && r.kind !== 'touch' && k) api.quiesce(k);
      return;
    }
    for (const out of policies[i].transform(r, view)) feed(out, i + 1);
  };

  for (const r of records) {
    if ('t' in r && r.t !== undefined) lastTime = r.t;
    feed(r, 0);
    if (r.kind === 'mmap' || r.kind === 'munmap' || r.kind === 'mremap' || r.kind === 'mprotect' || r.kind === 'madvise' || r.kind === 'brk' || r.kind === 'fault' || r.kind === 'touch' || r.kind === 'exit') {
      events++;
      if (r.kind !== 'exit') preExit = null;
      if (events % interval === 0) sample();
      if ((events & 0x3ff) === 0) opts.onProgress?.(events, opts.events);
      // Polled at every event (an atomic load): one event may be a 2 MiB touch.
      if (opts.shouldStop?.()) {
        interrupted = true;
        break;
      }
    }
  }
  if (!interrupted) policies.forEach((pol, i) => pol.flush(view).forEach((r) => feed(r, i + 1)));
  const end = preExit ?? endState();
  if (preExit) notes.push('the trace ends with its processes exiting: final figures are from just before the exit');
  const run: ReplayRun = {
    label: opts.label ?? 'replay',
    config: { ...settings, ...opts.config },
    policies: policies.map((p) => p.name),
    samples,
    final: end.sample,
    entriesHistogram: end.hist,
    regions: end.regions,
    interrupted,
    opsSkipped: skipped,
    notes,
    elapsedMs: now() - t0,
    checkpoints: atObserved,
  };
  return { run, observed };
}
