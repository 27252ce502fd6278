/**
 * Runs a validated op script on the model and produces the same JSON lines as the kernel runner
 * (docs/op-scripts.md). Pure: no I/O; output goes to the `onLine` callback and the result.
 *
 * By default the straight-line build (src/mm-fast) runs the script; the generator build can be
 * passed in instead (tests check that both give identical output).
 */
import * as fastApi from '../mm-fast/api.js';
import type * as Api from '../mm/api.js';
import type { ModelApi } from '../mm/api.js';
import { formatOutputLine, MINCORE_MAX_PAGES, MOVE_PAGES_MAX_PAGES, type ErrorLine, type ExpectLine, type MincoreRun, type MovePagesRun, type OutputLine, type ScanRun, type PagemapRun, type RollupValues, type SnapshotLine, type StatusValues } from './output.js';
import { placementAddress, type Op, type Script } from './ast.js';

export type { ModelApi };
export const FAST_API: ModelApi = fastApi;

export interface RunOptions {
  /** Settings applied over the script's own `config` lines (`--config`). */
  overrides?: Record<string, string>;
  /** Check the model's invariants after every op (tests); a failure stops the run. */
  checkInvariants?: boolean;
  api?: ModelApi;
  onLine?: (line: OutputLine) => void;
  /** Called with (ops done, ops total) after each op, for progress displays. */
  onProgress?: (done: number, total: number) => void;
  /** Called after each op that completed, with the kernel as the op left it (timelines). */
  onOp?: (op: Op, kernel: Api.Kernel) => void;
}

export interface RunResult {
  lines: OutputLine[];
  /** 0: all ops and expectations held; 1: an op or expectation failed; 4: the model broke. */
  exitCode: 0 | 1 | 4;
  kernel: Api.Kernel;
  /** Per process name: the mm, for callers that want more than the snapshots. */
  processes: Map<string, Api.MmStruct>;
  /** Per process name: the address of each of its mappings. */
  maps: Map<string, Map<string, number>>;
}

interface Proc {
  mm: Api.MmStruct;
  baseline: StatusValues;
  /** smaps_rollup Rss when the process was created: 0, or what a fork copied */
  baseRss: number;
  nextMap: number;
  /** each mapping's place, and for a file or memfd mapping the file and its offset in it */
  maps: Map<string, { addr: number; size: number; file: Api.AddressSpace | null; fileOffset: number }>;
  last?: SnapshotLine;
  exited: boolean;
}

class StopRun extends Error {
  constructor(readonly code: 1 | 4) {
    super('stop');
  }
}

/** Resolve the model configuration: defaults, then the script's `config` lines, then overrides. */
export function scriptConfig(api: ModelApi, script: Script, overrides: Record<string, string> = {}): Api.Config {
  const input: Api.ConfigInput = {};
  for (const op of script.ops) {
    if (op.op !== 'config') continue;
    const err = api.applySettings(input, op.settings);
    if (err) throw new Error(`${script.file}:${op.loc.line}: ${err}`);
  }
  const err = api.applySettings(input, overrides);
  if (err) throw new Error(`--config: ${err}`);
  return api.resolveConfig(input);
}

export function runScript(script: Script, opts: RunOptions = {}): RunResult {
  const api = opts.api ?? FAST_API;
  const cfg = scriptConfig(api, script, opts.overrides);
  const k = api.createKernel(cfg);
  const lines: OutputLine[] = [];
  const emit = (l: OutputLine) => {
    lines.push(l);
    opts.onLine?.(l);
  };
  const procs = new Map<string, Proc>();
  const files = new Map<string, Api.AddressSpace>();
  let cur: Proc | undefined;
  emit({ type: 'runner', executor: 'model', thp: cfg.thp, shmem_thp: cfg.shmemThp, fault_zero_page: cfg.faultZeroPage ? 'on' : 'off' });

  const fail = (op: Op, message: string): never => {
    emit({ type: 'error', line: op.loc.line, message } satisfies ErrorLine);
    throw new StopRun(1);
  };
  /** Compare an outcome (0 or an error name) with the op's `err=`. */
  const outcome = (op: Op, got: string | 0) => {
    const want = op.err ?? 0;
    if (got === want) return;
    if (want === 0) fail(op, `${op.op} failed with ${got}`);
    fail(op, `${op.op} was expected to fail with ${want} but ${got === 0 ? 'succeeded' : `failed with ${got}`}`);
  };
  const errnoName = (ret: number): string | 0 => (ret >= 0 ? 0 : (api.ERRNO_NAMES[-ret] ?? `errno ${-ret}`));
  /**
   * A mapping of the current process. The validator lets a script use the name of a `map ...
   * locked|hugepage|nohugepage err=E` (its madvise() or mlock() may be the call that fails, after
   * the mapping is made); when it was mmap() that failed, there is no mapping, and the op stops
   * the run as the kernel runner stops ("unknown mapping").
   */
  const mapping = (op: Op, map: string) => {
    const m = cur!.maps.get(map);
    if (!m) return fail(op, `mapping ${map} does not exist: its map failed in mmap()`);
    return m;
  };
  const range = (op: Op, map: string, offset: number) => mapping(op, map).addr + offset;

  const exec = (op: Op) => {
    switch (op.op) {
      case 'config':
        return;
      case 'process': {
        const mm = api.createProcess(k, op.name);
        cur = { mm, baseline: api.procStatus(mm), baseRss: 0, nextMap: 0, maps: new Map(), exited: false };
        procs.set(op.name, cur);
        return;
      }
      case 'switch':
        cur = procs.get(op.name)!;
        return;
      case 'exit': {
        const p = procs.get(op.name)!;
        api.sysExit(k, p.mm);
        p.exited = true;
        return;
      }
      case 'fork': {
        // The child's deltas count from the fork, which created it: its baseline is the copy
        // (docs/op-scripts.md, `fork`), as the kernel runner measures it in the new process.
        const p = procs.get(op.parent)!;
        const mm = api.sysFork(k, p.mm, op.name);
        if (typeof mm === 'number') return outcome(op, errnoName(mm));
        cur = { mm, baseline: api.procStatus(mm), baseRss: api.procSmapsRollup(mm).Rss, nextMap: p.nextMap, maps: new Map([...p.maps].map(([n, m]) => [n, { ...m }])), exited: false };
        procs.set(op.name, cur);
        return;
      }
      case 'memfd':
        files.set(op.name, api.createMemfd(k, op.name, op.size));
        return;
      case 'file':
        files.set(op.name, api.createFile(k, op.name, op.size, op.folio >= api.PMD_SIZE ? 9 : 0));
        return;
      case 'map': {
        const p = cur!;
        const addr = op.at ?? placementAddress(p.nextMap);
        p.nextMap++;
        const file = op.file ? files.get(op.file)! : null;
        const ret = api.sysMmap(k, p.mm, { addr, len: op.size, shared: op.shared, file, pgoff: op.offset / api.PAGE_SIZE, name: op.name, prot: op.prot, driver: op.kind === 'tcp' || op.kind === 'binder' ? op.kind : undefined });
        // The op's outcome is its first failing call: mmap(), then madvise(), then mlock(), as
        // the kernel runner makes them; a mapping made stays mapped whatever follows.
        let got = errnoName(ret);
        if (ret >= 0) {
          p.maps.set(op.name, { addr, size: op.size, file, fileOffset: op.offset ?? 0 });
          if (op.huge) got = errnoName(api.sysMadvise(k, p.mm, addr, op.size, op.huge));
          if (got === 0 && op.locked) got = errnoName(api.sysMlock(k, p.mm, addr, op.size, true));
        }
        outcome(op, got);
        return;
      }
      case 'touch': {
        const base = range(op, op.map, op.offset);
        const stride = op.every ?? api.PAGE_SIZE;
        const r = api.sysTouchRange(k, cur!.mm, base, base + op.len, stride, op.write);
        outcome(op, r === api.FAULT_OK ? 0 : r === api.FAULT_SIGSEGV ? 'SIGSEGV' : r === api.FAULT_SIGBUS ? 'SIGBUS' : 'ENOMEM');
        return;
      }
      case 'madvise':
        outcome(op, errnoName(api.sysMadvise(k, cur!.mm, range(op, op.map, op.offset), op.len, op.advice)));
        return;
      case 'fadvise': {
        // The validator lets only a file or memfd mapping name the file it advises on.
        const m = mapping(op, op.map);
        outcome(op, errnoName(api.sysFadvise(k, cur!.mm, m.file!, m.fileOffset + op.offset, op.len, op.advice)));
        return;
      }
      case 'unmap':
        outcome(op, errnoName(api.sysMunmap(k, cur!.mm, range(op, op.map, op.offset), op.len)));
        return;
      case 'mlock':
      case 'munlock':
        outcome(op, errnoName(api.sysMlock(k, cur!.mm, range(op, op.map, op.offset), op.len, op.op === 'mlock', op.op === 'mlock' && op.onfault ? api.MLOCK_ONFAULT : 0)));
        return;
      case 'mprotect':
        outcome(op, errnoName(api.sysMprotect(k, cur!.mm, range(op, op.map, op.offset), op.len, op.prot)));
        return;
      case 'uffd_register':
        outcome(op, errnoName(api.sysUffdRegister(k, cur!.mm, range(op, op.map, op.offset), op.len, op.mode)));
        return;
      case 'swapoff':
        outcome(op, errnoName(api.sysSwapoff(k, cur!.mm)));
        return;
      case 'clear_refs':
        outcome(op, errnoName(api.sysClearRefs(k, cur!.mm, op.type)));
        return;
      case 'migrate':
        api.sysMigrate(k, cur!.mm, range(op, op.map, op.offset), op.len);
        return;
      case 'tcp_zerocopy': {
        const { ret, length } = api.sysTcpZerocopy(k, cur!.mm, range(op, op.map, op.offset), op.len);
        // The script validator keeps the range inside one VMA: the kernel maps all of it or fails.
        if (ret === 0 && length !== op.len) throw new api.ModelBug(`tcp_zerocopy at line ${op.loc.line} mapped ${length} of ${op.len} bytes`);
        outcome(op, errnoName(ret));
        return;
      }
      case 'binder_transaction':
        outcome(op, errnoName(api.sysBinderTransaction(k, cur!.mm, range(op, op.map, op.offset), op.len)));
        return;
      case 'uffd_copy':
      case 'uffd_zeropage':
        outcome(op, errnoName(api.sysUffdFill(k, cur!.mm, range(op, op.map, op.offset), op.len, op.op === 'uffd_copy' ? 'copy' : 'zeropage')));
        return;
      case 'uffd_writeprotect':
        outcome(op, errnoName(api.sysUffdWriteprotect(k, cur!.mm, range(op, op.map, op.offset), op.len, op.wp)));
        return;
      case 'uffd_move': {
        const src = range(op, op.map, op.offset);
        const mode = op.holes ? api.UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES : 0;
        outcome(op, errnoName(api.sysUffdMove(k, cur!.mm, range(op, op.dst, op.dstOffset), src, op.len, mode)));
        return;
      }
      case 'mremap': {
        // `maymove` without at= takes the next placement slot (docs/op-scripts.md), moved or not:
        // like the kernel runner, try in place (no flags) and, on ENOMEM, move there with
        // MREMAP_FIXED, so that both executors make the same system calls.
        const p = cur!;
        const m = mapping(op, op.map);
        const addr = m.addr + op.offset;
        const slot = op.maymove && op.at === undefined ? placementAddress(p.nextMap++) : undefined;
        const fixed = api.MREMAP_MAYMOVE | api.MREMAP_FIXED;
        let ret = api.sysMremap(k, p.mm, addr, op.len, op.newLen, op.at !== undefined ? fixed : 0, op.at ?? 0);
        if (slot !== undefined && ret === -api.ENOMEM) ret = api.sysMremap(k, p.mm, addr, op.len, op.newLen, fixed, slot);
        outcome(op, errnoName(ret));
        if (ret < 0) return;
        m.addr = ret - op.offset;
        m.size = Math.max(m.size, op.offset + op.newLen);
        return;
      }
      case 'snapshot': {
        const p = cur!;
        const { status, smaps_rollup } = procCounters(api, p.mm);
        smaps_rollup.Rss -= p.baseRss; // the change since the process was created, as the kernel runner reports it
        const delta = Object.fromEntries(Object.entries(status).map(([f, v]) => [f, v - p.baseline[f as keyof StatusValues]])) as unknown as StatusValues;
        const snap: SnapshotLine = { type: 'snapshot', line: op.loc.line, label: op.label, process: processName(procs, p), status, delta, smaps_rollup };
        if (op.range) {
          const pages = op.range.len / api.PAGE_SIZE;
          const addr = range(op, op.range.map, op.range.offset);
          snap.pagemap = { map: op.range.map, offset: op.range.offset, pages, runs: pagemapRuns(api, p.mm, addr, pages) };
          if (pages <= MINCORE_MAX_PAGES) snap.pagemap.mincore = api.runLength(api.procMincore(k, p.mm, addr, pages)) as MincoreRun[];
          if (pages <= MOVE_PAGES_MAX_PAGES) snap.pagemap.move_pages = api.runLength(api.procMovePages(k, p.mm, addr, pages)) as MovePagesRun[];
          if (pages <= MINCORE_MAX_PAGES) snap.pagemap.scan = api.runLength(api.procPagemapScan(k, p.mm, addr, pages)) as ScanRun[];
        }
        p.last = snap;
        emit(snap);
        return;
      }
      case 'expect': {
        const p = cur!;
        const seen = expectValue(api, k, p, op.field, op.delta);
        const ok = compare(seen, op.cmp, op.value);
        const line: ExpectLine = { type: 'expect', line: op.loc.line, field: op.field, delta: op.delta, cmp: op.cmp, want: op.value, seen, ok };
        emit(line);
        if (!ok) fail(op, `expected ${op.field}${op.delta ? ' delta' : ''} ${op.cmp} ${op.value}, saw ${seen}`);
        return;
      }
    }
  };

  let exitCode: 0 | 1 | 4 = 0;
  try {
    script.ops.forEach((op, i) => {
      try {
        exec(op);
        api.quiesce(k);
        if (opts.checkInvariants) {
          const bad = api.checkInvariants(k);
          if (bad.length) {
            emit({ type: 'error', line: op.loc.line, message: `model invariant broken after this op: ${bad.map((b) => `[${b.invariant}] ${b.message}`).join('; ')}` });
            throw new StopRun(4);
          }
        }
      } catch (e) {
        if (e instanceof StopRun) throw e;
        if (e instanceof api.Violation || e instanceof api.ModelBug) {
          emit({ type: 'error', line: op.loc.line, message: `${e.name}: ${e.message}` });
          throw new StopRun(4);
        }
        throw e;
      }
      opts.onOp?.(op, k);
      opts.onProgress?.(i + 1, script.ops.length);
    });
  } catch (e) {
    if (!(e instanceof StopRun)) throw e;
    exitCode = e.code;
  }
  const processes = new Map([...procs].map(([n, p]) => [n, p.mm]));
  const maps = new Map([...procs].map(([n, p]) => [n, new Map([...p.maps].map(([m, r]) => [m, r.addr]))]));
  return { lines, exitCode, kernel: k, processes, maps };
}

/**
 * What a snapshot shows of a process: its /proc/PID/status memory lines and smaps_rollup, in kB.
 * Reads only (peeks); also what sequential explainability compares (src/scenarios/explain.ts).
 */
export function procCounters(api: ModelApi, mm: Api.MmStruct): { status: StatusValues; smaps_rollup: RollupValues } {
  return { status: api.procStatus(mm) as StatusValues, smaps_rollup: api.procSmapsRollup(mm) };
}

/** /proc/PID/pagemap of `pages` pages from `addr`, run-length coded (docs/op-scripts.md). */
export function pagemapRuns(api: ModelApi, mm: Api.MmStruct, addr: number, pages: number): PagemapRun[] {
  return api.procPagemap(mm, addr, pages) as PagemapRun[];
}

function processName(procs: Map<string, Proc>, p: Proc): string {
  for (const [n, q] of procs) if (q === p) return n;
  return '?';
}

function compare(a: number, cmp: string, b: number): boolean {
  switch (cmp) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<=': return a <= b;
    case '>=': return a >= b;
    case '<': return a < b;
    case '>': return a > b;
    default: return false;
  }
}

/** The value an `expect` looks at: the latest snapshot's field, or a model-only counter. */
function expectValue(api: ModelApi, k: Api.Kernel, p: Proc, field: string, delta: boolean): number {
  const snap = p.last!;
  if (field in snap.status) {
    const f = field as keyof StatusValues;
    return delta ? snap.delta[f] : snap.status[f];
  }
  if (field in snap.smaps_rollup) return snap.smaps_rollup[field as keyof typeof snap.smaps_rollup];
  switch (field) {
    case 'PageTables':
      return api.meminfoPageTables();
    case 'ptes_reclaimed_fast':
      return p.mm.stats.ptesReclaimedFast;
    case 'ptes_reclaimed_slow':
      return p.mm.stats.ptesReclaimedSlow;
    case 'pte_tables':
    case 'pte_tables_empty': {
      const [all, empty] = countPteTables(api, k, p.mm);
      return field === 'pte_tables' ? all : empty;
    }
  }
  return NaN;
}

/** Live PTE tables of an mm and how many of them hold no entry. */
export function countPteTables(api: ModelApi, k: Api.Kernel, mm: Api.MmStruct): [number, number] {
  let all = 0;
  let empty = 0;
  const seen = new Set<number>();
  for (const vma of mm.vmas) {
    for (let a = vma.start - (vma.start % api.PMD_SIZE); a < vma.end; a += api.PMD_SIZE) {
      const pmdp = api.peekPmdSlot(mm, a);
      if (!pmdp || seen.has(pmdp)) continue;
      seen.add(pmdp);
      const v = k.pt.peek(api.tidOf(pmdp), api.slotOf(pmdp));
      if (!api.pmdIsTable(v)) continue;
      all++;
      if (k.pt.populated(k.pt.tidOfPfn(api.pmdPfn(v))) === 0) empty++;
    }
  }
  return [all, empty];
}

export { formatOutputLine };
