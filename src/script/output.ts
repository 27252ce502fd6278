/**
 * The JSON lines both executors print (docs/op-scripts.md, "JSON output"): `ptlab run --json` on the
 * model side and runner/ptlab-runner.c on the kernel side. One object per line, discriminated by
 * `type`. `parseOutputLine` / `safeParseOutputLine` check the shape of a line read back.
 */
import {
  CMP_OPS, EXPECT_FIELDS, ROLLUP_FIELDS, STATUS_FIELDS,
  type CmpOp, type ExpectField,
} from './ast.js';

export type StatusField = (typeof STATUS_FIELDS)[number];
export type RollupField = (typeof ROLLUP_FIELDS)[number];

/** `/proc/PID/status` fields, kB. */
export type StatusValues = Record<StatusField, number>;
/** `/proc/PID/smaps_rollup` fields, kB (`Rss` as a delta; see SnapshotLine). */
export type RollupValues = Record<RollupField, number>;

/**
 * One character per page of `/proc/PID/pagemap`. On 6.18 a guard-region marker reads as bits
 * 62 (swap) + 58 (PM_GUARD_REGION), so markers are classified before the swap bit.
 */
export type PagemapCode = '-' | 'p' | 'x' | 's' | 'g' | 'w';
export const PAGEMAP_CODES: readonly PagemapCode[] = ['-', 'p', 'x', 's', 'g', 'w'];

/** Run-length pagemap: `[count, code]`, adjacent runs have different codes. */
export type PagemapRun = [count: number, code: PagemapCode];

/**
 * One character per page of mincore(2): `r` resident (the vector's bit 0 set), `n` not resident,
 * `-` not mapped (mincore() fails with ENOMEM). Letters, so that `3r 1n` reads unambiguously.
 */
export type MincoreCode = 'r' | 'n' | '-';
export const MINCORE_CODES: readonly MincoreCode[] = ['r', 'n', '-'];
export type MincoreRun = [count: number, code: MincoreCode];
/**
 * Snapshots of larger ranges carry no mincore runs, on either executor: mincore(2) answers page
 * by page (a 100 TiB range would be 27 G pages), where pagemap's runs follow the tables. 16 M
 * pages is 64 GiB, more than any shipped script snapshots (the cover letter's 50 GiB).
 */
export const MINCORE_MAX_PAGES = 1 << 24;

/**
 * One character per page of move_pages(2) asked with no target nodes (do_pages_stat(),
 * mm/migrate.c): `n` the page is on a node (its status is the node, 0 on a machine of one node, as
 * the model is), `e` -ENOENT (nothing mapped there, or a swap or migration entry), `f` -EFAULT (no
 * VMA there, or the zero page), `?` any other status.
 */
export type MovePagesCode = 'n' | 'e' | 'f' | '?';
export const MOVE_PAGES_CODES: readonly MovePagesCode[] = ['n', 'e', 'f', '?'];
export type MovePagesRun = [count: number, code: MovePagesCode];
/**
 * Snapshots of larger ranges (1 GiB) carry no move_pages runs, on either executor: the call takes
 * an array of addresses, one per page. A kernel without move_pages(2) (no CONFIG_NUMA) reports none.
 */
export const MOVE_PAGES_MAX_PAGES = 1 << 18;

/**
 * One character per page of the PAGEMAP_SCAN ioctl on /proc/PID/pagemap, every category but
 * soft-dirty asked (docs/op-scripts.md): `e` an empty entry of a table, `a` an anonymous page, `f` a
 * page-cache or other non-anonymous page, `z` the zero page, `h`/`t`/`y` the same mapped by a huge
 * PMD, `s` a swap entry, an anonymous page's migration entry or a uffd-wp marker, `m` a page-cache
 * page's migration entry, `g` a guard marker, `v`/`n` a PMD migration entry (anonymous, page
 * cache); lower case when PAGE_IS_WRITTEN (no uffd-wp bit), upper case when not (`E`: no table
 * there); `-` not in a VMA, `?` a combination this list lacks. Ranges up to MINCORE_MAX_PAGES pages,
 * as for mincore: the runs are built page by page.
 */
export const SCAN_CODES: readonly string[] = [...'eafzhtysmgvn', ...'EAFZHTYSMGVN', '-', '?'];
export type ScanRun = [count: number, code: string];

export interface PagemapRange {
  map: string;
  /** bytes from the start of the mapping as it was mapped */
  offset: number;
  pages: number;
  runs: PagemapRun[];
  /** mincore(2) of the same range, run-length coded (absent in output older than it) */
  mincore?: MincoreRun[];
  /** move_pages(2) statuses of the same range, run-length coded (absent in output older than it) */
  move_pages?: MovePagesRun[];
  /** PAGEMAP_SCAN categories of the same range, run-length coded (absent in output older than it) */
  scan?: ScanRun[];
  /** optional, never compared */
  pfnRuns?: unknown;
}

/** First line of every run. */
export interface RunnerLine {
  type: 'runner';
  executor: 'model' | 'kernel';
  /** `uname -r` (kernel executor) */
  kernel?: string;
  /** THP settings in effect for the run (kernel executor: after `config`; null when absent) */
  thp?: string | null;
  shmem_thp?: string | null;
  /**
   * Whether read faults map the shared zero page (`fault_zero_page` setting; kernel executor: probed
   * at start, as a read fault of one page maps it or a page of its own). Absent in older output.
   */
  fault_zero_page?: 'on' | 'off';
}

export interface SnapshotLine {
  type: 'snapshot';
  /** 1-based script line of the `snapshot` op */
  line: number;
  label: string;
  process: string;
  /** absolute values */
  status: StatusValues;
  /** change since the process was created */
  delta: StatusValues;
  /**
   * AnonHugePages, ShmemPmdMapped, FilePmdMapped absolute (0 in a fresh process, so deltas too);
   * Rss the change since the process was created, on both executors (a model process starts
   * empty, or with what its fork copied).
   */
  smaps_rollup: RollupValues;
  pagemap?: PagemapRange;
}

export interface ExpectLine {
  type: 'expect';
  line: number;
  field: ExpectField;
  /** the `delta` form: change since the process was created */
  delta: boolean;
  cmp: CmpOp;
  want: number;
  /** the value compared (absent when the executor has no value for the field) */
  seen?: number;
  /** true when the expectation held or was not checked (`skipped`) */
  ok: boolean;
  /** why the executor did not check it (kernel: absolute status/Rss values, model-only fields) */
  skipped?: string;
}

/** A failed op or expectation, a parse error (line of the script), or an internal error (line 0). */
export interface ErrorLine {
  type: 'error';
  line: number;
  message: string;
}

/** The run was not executed: missing privilege or kernel feature (kernel runner exit code 3). */
export interface SkipLine {
  type: 'skip';
  reason: string;
}

export type OutputLine = RunnerLine | SnapshotLine | ExpectLine | ErrorLine | SkipLine;

export function formatOutputLine(line: OutputLine): string {
  return JSON.stringify(line);
}

export type ParseResult = { ok: true; value: OutputLine } | { ok: false; message: string };


type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Returns a description of the first problem, or undefined when the object is well formed. */
function checkFields(o: Obj, fields: readonly string[], where: string): string | undefined {
  for (const f of fields) if (!isInt(o[f])) return `${where}.${f} is not an integer`;
  return undefined;
}

function checkPagemap(p: unknown): string | undefined {
  if (!isObj(p)) return 'pagemap is not an object';
  if (typeof p.map !== 'string' || !isInt(p.offset) || !isInt(p.pages) || !Array.isArray(p.runs)) {
    return 'pagemap needs map, offset, pages, runs';
  }
  return checkRuns(p.runs, PAGEMAP_CODES, 'pagemap', p.pages) ??
    (p.mincore === undefined ? undefined : checkRuns(p.mincore, MINCORE_CODES, 'pagemap.mincore', p.pages)) ??
    (p.move_pages === undefined ? undefined : checkRuns(p.move_pages, MOVE_PAGES_CODES, 'pagemap.move_pages', p.pages)) ??
    (p.scan === undefined ? undefined : checkRuns(p.scan, SCAN_CODES, 'pagemap.scan', p.pages));
}

function checkRuns(runs: unknown, codes: readonly string[], what: string, pages: number): string | undefined {
  if (!Array.isArray(runs)) return `${what} runs are not an array`;
  let total = 0;
  for (const r of runs) {
    if (!Array.isArray(r) || r.length !== 2 || !isInt(r[0]) || r[0] <= 0 || !codes.includes(r[1] as string)) {
      return `bad ${what} run ${JSON.stringify(r)} (expected [count > 0, one of "${codes.join('')}"])`;
    }
    total += r[0] as number;
  }
  if (total !== pages) return `${what} runs cover ${total} pages, not ${pages}`;
  return undefined;
}

function check(o: Obj): string | undefined {
  switch (o.type) {
    case 'runner':
      return o.executor === 'model' || o.executor === 'kernel' ? undefined : 'runner.executor must be "model" or "kernel"';
    case 'snapshot': {
      if (!isInt(o.line) || typeof o.label !== 'string' || typeof o.process !== 'string') {
        return 'snapshot needs line, label, process';
      }
      if (!isObj(o.status) || !isObj(o.delta) || !isObj(o.smaps_rollup)) return 'snapshot needs status, delta, smaps_rollup';
      return checkFields(o.status, STATUS_FIELDS, 'status') ??
        checkFields(o.delta, STATUS_FIELDS, 'delta') ??
        checkFields(o.smaps_rollup, ROLLUP_FIELDS, 'smaps_rollup') ??
        (o.pagemap === undefined ? undefined : checkPagemap(o.pagemap));
    }
    case 'expect':
      if (!isInt(o.line) || !EXPECT_FIELDS.includes(o.field as ExpectField)) return 'expect needs line and a known field';
      if (typeof o.delta !== 'boolean' || !(CMP_OPS as readonly string[]).includes(o.cmp as string) || !isInt(o.want)) {
        return 'expect needs delta, cmp, want';
      }
      if (typeof o.ok !== 'boolean') return 'expect.ok must be a boolean';
      if (o.seen !== undefined && !isInt(o.seen)) return 'expect.seen must be an integer';
      if (o.skipped !== undefined && typeof o.skipped !== 'string') return 'expect.skipped must be a string';
      return undefined;
    case 'error':
      return isInt(o.line) && typeof o.message === 'string' ? undefined : 'error needs line and message';
    case 'skip':
      return typeof o.reason === 'string' ? undefined : 'skip needs reason';
    default:
      return `unknown type ${JSON.stringify(o.type)} (expected runner, snapshot, expect, error or skip)`;
  }
}

export function safeParseOutputLine(text: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `not JSON: ${(e as Error).message}` };
  }
  if (!isObj(v)) return { ok: false, message: 'not a JSON object' };
  const problem = check(v);
  return problem === undefined ? { ok: true, value: v as unknown as OutputLine } : { ok: false, message: problem };
}

export function parseOutputLine(text: string): OutputLine {
  const r = safeParseOutputLine(text);
  if (!r.ok) throw new Error(`bad output line: ${r.message}: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
  return r.value;
}
