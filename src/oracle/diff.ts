/**
 * Differential comparison of one op script run on two executors: the model (`runScript`) and the
 * live kernel (runner/ptlab-runner.c). Pure: it takes the JSON lines both printed (src/script/output.ts) and
 * the script's `# diff:` directives, and returns a structured verdict. Running the executors is
 * ./compare.ts's job; rendering is the CLI's.
 *
 * What is compared, per snapshot (paired by script line; a snapshot op runs once):
 *   - the `delta` of every /proc/PID/status field (VmPTE, RssAnon, RssFile, RssShmem, VmRSS,
 *     VmSize, VmLck, VmSwap): both executors measure from the moment the process was created;
 *   - smaps_rollup `Rss` (both executors report the change since the process was created) and
 *     AnonHugePages, ShmemPmdMapped, FilePmdMapped (absolute: 0 in a fresh process on both sides,
 *     what the copy shares in one made by `fork`);
 *   - the pagemap codes of the named range, page by page (present / exclusive / swap / guard),
 *     its mincore(2) codes (resident or not), its move_pages(2) statuses (on a node, -ENOENT,
 *     -EFAULT) and its PAGEMAP_SCAN categories (present, file, zero page, huge, swapped, guard,
 *     written).
 * and, per run: where each executor stopped with an error line (an op failing differently from its
 * `err=`, a failed `expect`, a broken model), and the THP settings each ran with.
 *
 * Declared tolerances (`# diff:` comment lines, docs/op-scripts.md "Declared differences") are
 * parsed here from the raw script text: both executors' parsers see them as comments.
 */
import { formatScriptError, type ScriptError } from '../script/ast.js';
import { words as blankWords } from '../util/words.js';
import type { OutputLine, PagemapRange, RollupField, RunnerLine, SnapshotLine, StatusField } from '../script/output.js';
import { PAGE_SIZE } from '../mm/const.js';

// ---------------------------------------------------------------------------------------------
// Fields

/** Status fields compared as deltas, in display order (VmPTE first: it is what ptlab is about). */
export const DIFF_STATUS_FIELDS = ['VmPTE', 'RssAnon', 'RssFile', 'RssShmem', 'VmRSS', 'VmSize', 'VmLck', 'VmSwap'] as const satisfies readonly StatusField[];
/** smaps_rollup fields, compared as they are reported (see the file comment for Rss). */
export const DIFF_ROLLUP_FIELDS = ['Rss', 'AnonHugePages', 'ShmemPmdMapped', 'FilePmdMapped'] as const satisfies readonly RollupField[];

/** The fields that hold one code per page of a snapshot's range. */
export const PAGE_CODE_FIELDS = ['pagemap', 'mincore', 'move_pages', 'scan'] as const;
export type PageCodeField = (typeof PAGE_CODE_FIELDS)[number];

export type DiffField = StatusField | RollupField | PageCodeField;
export const DIFF_FIELDS: readonly DiffField[] = [...DIFF_STATUS_FIELDS, ...DIFF_ROLLUP_FIELDS, ...PAGE_CODE_FIELDS];

export function isPageCodeField(f: DiffField): f is PageCodeField {
  return (PAGE_CODE_FIELDS as readonly DiffField[]).includes(f);
}

/** Unit of a field's values and of its declared tolerance. */
export function fieldUnit(f: DiffField): 'kB' | 'pages' {
  return isPageCodeField(f) ? 'pages' : 'kB';
}

// ---------------------------------------------------------------------------------------------
// Directives

/**
 * A declared difference, from a whole-line comment of the script:
 *
 *     # diff: ignore FIELD [snapshot=LABEL] REASON...
 *     # diff: tolerance FIELD N [kB|pages] [snapshot=LABEL] REASON...
 *
 * `ignore` shows the field but does not compare it; `tolerance` accepts |model - kernel| <= N (kB,
 * or for `pagemap` the number of pages whose codes differ). Without `snapshot=` the directive
 * covers every snapshot of the script; with it, the snapshots with that label (a snapshot-scoped
 * directive wins over a script-wide one for the same field). The reason is required.
 */
export interface DiffDirective {
  kind: 'ignore' | 'tolerance';
  field: DiffField;
  /** `tolerance` only: kB, or pages for `pagemap` */
  tolerance?: number;
  snapshot?: string;
  reason: string;
  /** 1-based script line of the directive */
  line: number;
}

const DIRECTIVE_RE = /^[ \t]*#[ \t]*diff:(.*)$/;
const DIRECTIVE_USAGE = '# diff: ignore FIELD [snapshot=LABEL] REASON... or # diff: tolerance FIELD N [snapshot=LABEL] REASON...';

/**
 * Reads the `# diff:` directives of a script's text. `labels`, when given (the script's snapshot
 * labels), lets `snapshot=` be checked. Errors use the script error type and rendering, so a bad
 * directive is reported like a bad op (file:line:column).
 */
export function parseDiffDirectives(
  text: string,
  file: string,
  labels?: ReadonlySet<string>,
): { ok: true; directives: DiffDirective[] } | { ok: false; errors: ScriptError[] } {
  const directives: DiffDirective[] = [];
  const errors: ScriptError[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const m = DIRECTIVE_RE.exec(raw);
    if (!m) return;
    const line = i + 1;
    const bodyCol = raw.indexOf('diff:') + 'diff:'.length + 1;
    const words = blankWords(m[1], bodyCol);
    const err = (col: number, code: ScriptError['code'], message: string, expected: string) =>
      errors.push({ code, loc: { file, line, col }, message, expected });
    const endCol = raw.replace(/[ \t\r\f\v]+$/, '').length + 1;

    const kindWord = words.shift();
    if (!kindWord || (kindWord.text !== 'ignore' && kindWord.text !== 'tolerance')) {
      err(kindWord?.col ?? endCol, 'syntax', kindWord ? `unknown diff directive '${kindWord.text}'` : 'empty diff directive', DIRECTIVE_USAGE);
      return;
    }
    const kind = kindWord.text;
    const fieldWord = words.shift();
    if (!fieldWord || !(DIFF_FIELDS as readonly string[]).includes(fieldWord.text)) {
      err(fieldWord?.col ?? endCol, fieldWord ? 'bad-value' : 'syntax', fieldWord ? `unknown field '${fieldWord.text}'` : 'missing field', `one of: ${DIFF_FIELDS.join(', ')}`);
      return;
    }
    const field = fieldWord.text as DiffField;
    let tolerance: number | undefined;
    if (kind === 'tolerance') {
      const n = words.shift();
      if (!n || !/^[0-9]+$/.test(n.text)) {
        err(n?.col ?? endCol, n ? 'bad-value' : 'syntax', n ? `bad tolerance '${n.text}'` : 'missing tolerance', `a whole number of ${fieldUnit(field)}`);
        return;
      }
      tolerance = Number(n.text);
      if (words[0]?.text === fieldUnit(field)) words.shift();
    }
    let snapshot: string | undefined;
    const opt = words[0] ? /^snapshot=(.*)$/.exec(words[0].text) : null;
    if (opt) {
      const w = words.shift()!;
      snapshot = opt[1];
      if (!snapshot || (labels && !labels.has(snapshot))) {
        err(w.col, 'unknown-name', `no snapshot labelled '${snapshot}'`, labels ? `one of: ${[...labels].join(', ')}` : 'a snapshot label');
        return;
      }
    }
    if (words.length === 0) {
      err(endCol, 'syntax', 'missing reason', 'a few words saying why the model cannot match the kernel here');
      return;
    }
    const key = `${field}@${snapshot ?? ''}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      err(fieldWord.col, 'duplicate-name', `a directive for ${field}${snapshot ? ` at snapshot ${snapshot}` : ''} was already given on line ${prev}`, 'one directive per field and scope');
      return;
    }
    seen.set(key, line);
    directives.push({ kind, field, tolerance, snapshot, reason: words.map((w) => w.text).join(' '), line });
  });
  return errors.length ? { ok: false, errors } : { ok: true, directives };
}

/** Like parseDiffDirectives, throwing an Error listing every problem. */
export function parseDiffDirectivesOrThrow(text: string, file: string, labels?: ReadonlySet<string>): DiffDirective[] {
  const r = parseDiffDirectives(text, file, labels);
  if (!r.ok) throw new Error(r.errors.map(formatScriptError).join('\n'));
  return r.directives;
}

/** The directive governing `field` at a snapshot: one scoped to its label, else a script-wide one. */
function directiveFor(directives: readonly DiffDirective[], field: DiffField, label: string): DiffDirective | undefined {
  return directives.find((d) => d.field === field && d.snapshot === label) ??
    directives.find((d) => d.field === field && d.snapshot === undefined);
}

// ---------------------------------------------------------------------------------------------
// Result

/**
 * `equal`: identical. `mismatch`: different (or present on one side only), not covered by a
 * directive. `tolerated`: different within a declared tolerance. `ignored`: not compared (directive).
 */
export type FieldStatus = 'equal' | 'mismatch' | 'tolerated' | 'ignored';

export interface FieldDiff {
  field: DiffField;
  /** kB for the numeric fields; run-length text (`512x 512-`) for pagemap; null when absent */
  model: number | string | null;
  kernel: number | string | null;
  status: FieldStatus;
  /** the directive's reason, for `ignored` and `tolerated` (and a mismatch beyond a tolerance) */
  reason?: string;
  tolerance?: number;
  /** pagemap: where the codes first differ, and how many pages differ */
  detail?: string;
}

export interface SnapshotDiff {
  line: number;
  label: string;
  process: string;
  /** the pagemap range, `A+0x200000` style, when the snapshot named one */
  range?: string;
  fields: FieldDiff[];
  mismatches: number;
}

/** A snapshot only one executor produced (the other stopped earlier, or a bug). */
export interface UnpairedSnapshot {
  line: number;
  label: string;
  process: string;
  side: 'model' | 'kernel';
}

/** Where an executor stopped with an error line; null when it ran to the end. */
export interface Stop {
  line: number;
  message: string;
  /** the failure the op produced (`EINVAL`, `SIGSEGV`, `success`, ...), when the message names one */
  got?: string;
}

export interface OutcomeDiff {
  model: Stop | null;
  kernel: Stop | null;
  equal: boolean;
}

export interface SettingsDiff {
  setting: 'thp' | 'shmem_thp' | 'fault_zero_page';
  model: string | null;
  kernel: string | null;
  equal: boolean;
}

export interface DiffResult {
  snapshots: SnapshotDiff[];
  unpaired: UnpairedSnapshot[];
  outcome: OutcomeDiff;
  settings: SettingsDiff[];
  /** the kernel runner did not run the script (its `skip` line) */
  skipped?: string;
  kernelRelease?: string;
  counts: DiffCounts;
  /** no mismatch of any kind (a skipped run is not ok) */
  ok: boolean;
}

export interface DiffCounts {
  snapshots: number;
  /** fields whose two values were compared: equal + tolerated + mismatched */
  fieldsCompared: number;
  fieldMismatches: number;
  tolerated: number;
  ignored: number;
  unpaired: number;
  /** 0 or 1: the executors stopped at different lines (or one did not stop) */
  outcomeMismatches: number;
  settingsMismatches: number;
  /** fieldMismatches + unpaired + outcomeMismatches + settingsMismatches */
  mismatches: number;
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** `[[1,"x"],[511,"-"]]` as `1x 511-`. */
export function formatRuns(runs: readonly (readonly [number, string])[]): string {
  return runs.length ? runs.map(([n, c]) => `${n}${c}`).join(' ') : '(empty)';
}

function expandRuns(runs: readonly (readonly [number, string])[]): string {
  return runs.map(([n, c]) => c.repeat(n)).join('');
}

function rangeText(p: PagemapRange): string {
  return `${p.map}+0x${p.offset.toString(16)} (${p.pages} pages)`;
}

/**
 * The page codes of a snapshot's range: `pagemap`, `mincore`, `move_pages` or `scan` (the last three
 * compared only when both sides report them: output older than them, a range larger than their
 * limit, or a kernel without move_pages(2) or PAGEMAP_SCAN has none).
 */
function comparePagemap(field: PageCodeField, m: PagemapRange | undefined, k: PagemapRange | undefined, d: DiffDirective | undefined): FieldDiff | undefined {
  if (!m && !k) return undefined;
  const runsOf = (p: PagemapRange): readonly (readonly [number, string])[] | undefined => (field === 'pagemap' ? p.runs : p[field]);
  if (field !== 'pagemap' && (!m?.[field] || !k?.[field])) return undefined;
  const base: FieldDiff = {
    field,
    model: m ? formatRuns(runsOf(m)!) : null,
    kernel: k ? formatRuns(runsOf(k)!) : null,
    status: 'mismatch',
  };
  if (!m || !k) return withDirective({ ...base, detail: `pagemap only on the ${m ? 'model' : 'kernel'}` }, d, Infinity);
  if (m.map !== k.map || m.offset !== k.offset || m.pages !== k.pages) {
    return withDirective({ ...base, detail: `different ranges: model ${rangeText(m)}, kernel ${rangeText(k)}` }, d, Infinity);
  }
  const a = expandRuns(runsOf(m)!);
  const b = expandRuns(runsOf(k)!);
  // A page-cache page nothing maps may be evicted by the kernel: at any time under memory pressure
  // from other work on the machine, or by MADV_PAGEOUT's own reclaim of a clean folio it unmapped
  // (shrink_folio_list() -> __remove_mapping()). The model does neither: it never evicts, and its
  // PAGEOUT puts page-cache folios back (src/mm/vmscan.ts; docs/fidelity.md, "Inherent
  // differences"). So mincore 'r' on the model, 'n' on the kernel, where neither side's pagemap has
  // the page present, is such an eviction, not a disagreement.
  const mp = field === 'mincore' ? expandRuns(m.runs) : '';
  const kp = field === 'mincore' ? expandRuns(k.runs) : '';
  const evictable = (i: number) => field === 'mincore' && a[i] === 'r' && b[i] === 'n' && mp[i] === '-' && kp[i] === '-';
  let differ = 0;
  let evicted = 0;
  let first = -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    if (evictable(i)) {
      evicted++;
      continue;
    }
    differ++;
    if (first < 0) first = i;
  }
  if (differ === 0 && evicted > 0 && d?.kind !== 'ignore') {
    return { ...base, status: 'tolerated', reason: `${evicted} unmapped page-cache page(s) not resident on the kernel: evicted there (memory pressure, or a MADV_PAGEOUT's reclaim; the model never evicts page cache)` };
  }
  if (differ === 0) return { ...base, status: d?.kind === 'ignore' ? 'ignored' : 'equal', reason: d?.kind === 'ignore' ? d.reason : undefined };
  const off = m.offset + first * PAGE_SIZE;
  const detail = `${differ} page(s) differ; first at page ${first} (${m.map}+0x${off.toString(16)}): model '${a[first] ?? ''}', kernel '${b[first] ?? ''}'`;
  return withDirective({ ...base, detail }, d, differ);
}

/** Applies a directive to a field whose values differ by `distance` (Infinity: not comparable). */
function withDirective(f: FieldDiff, d: DiffDirective | undefined, distance: number): FieldDiff {
  if (!d) return f;
  if (d.kind === 'ignore') return { ...f, status: 'ignored', reason: d.reason };
  const within = distance <= d.tolerance!;
  return { ...f, status: within ? 'tolerated' : 'mismatch', reason: d.reason, tolerance: d.tolerance };
}

function compareNumber(field: DiffField, m: number, k: number, d: DiffDirective | undefined): FieldDiff {
  const f: FieldDiff = { field, model: m, kernel: k, status: 'equal' };
  if (m === k) return d?.kind === 'ignore' ? { ...f, status: 'ignored', reason: d.reason } : f;
  return withDirective({ ...f, status: 'mismatch' }, d, Math.abs(m - k));
}

/** Compares two snapshots of the same script line, field by field. */
export function diffSnapshot(m: SnapshotLine, k: SnapshotLine, directives: readonly DiffDirective[] = []): SnapshotDiff {
  const fields: FieldDiff[] = [];
  for (const f of DIFF_STATUS_FIELDS) fields.push(compareNumber(f, m.delta[f], k.delta[f], directiveFor(directives, f, m.label)));
  for (const f of DIFF_ROLLUP_FIELDS) fields.push(compareNumber(f, m.smaps_rollup[f], k.smaps_rollup[f], directiveFor(directives, f, m.label)));
  for (const field of PAGE_CODE_FIELDS) {
    const pm = comparePagemap(field, m.pagemap, k.pagemap, directiveFor(directives, field, m.label));
    if (pm) fields.push(pm);
  }
  const p = m.pagemap ?? k.pagemap;
  return {
    line: m.line,
    label: m.label,
    process: m.process,
    range: p ? `${p.map}+0x${p.offset.toString(16)}` : undefined,
    fields,
    mismatches: fields.filter((f) => f.status === 'mismatch').length + (m.process !== k.process ? 1 : 0),
  };
}

/**
 * The failure an error message reports, in the wording of the two executors: the runner's
 * "madvise dontneed: got EINVAL, expected success", the model's "madvise failed with EINVAL" or
 * "... was expected to fail with EINVAL but succeeded". Undefined for other errors (expect lines,
 * internal errors), which are compared by line only.
 */
export function failureOf(message: string): string | undefined {
  const k = /: got (\S+), expected \S+$/.exec(message);
  if (k) return k[1];
  if (/was expected to fail with \S+ but succeeded$/.test(message)) return 'success';
  const m = /failed with (\S+)$/.exec(message);
  return m ? m[1] : undefined;
}

function stopOf(lines: readonly OutputLine[]): Stop | null {
  for (const l of lines) {
    if (l.type === 'error') {
      const got = failureOf(l.message);
      return got === undefined ? { line: l.line, message: l.message } : { line: l.line, message: l.message, got };
    }
  }
  return null;
}

function diffOutcome(model: readonly OutputLine[], kernel: readonly OutputLine[]): OutcomeDiff {
  const m = stopOf(model);
  const k = stopOf(kernel);
  const equal = m === null ? k === null : k !== null && m.line === k.line && (m.got === undefined || k.got === undefined || m.got === k.got);
  return { model: m, kernel: k, equal };
}

function diffSettings(model: RunnerLine | undefined, kernel: RunnerLine | undefined): SettingsDiff[] {
  const out: SettingsDiff[] = [];
  for (const setting of ['thp', 'shmem_thp', 'fault_zero_page'] as const) {
    const m = model?.[setting] ?? null;
    const k = kernel?.[setting] ?? null;
    // A kernel without the sysfs file (null) has nothing to compare with.
    out.push({ setting, model: m, kernel: k, equal: m === null || k === null || m === k });
  }
  return out;
}

function snapshotsOf(lines: readonly OutputLine[]): Map<number, SnapshotLine> {
  const out = new Map<number, SnapshotLine>();
  for (const l of lines) if (l.type === 'snapshot') out.set(l.line, l);
  return out;
}

function runnerOf(lines: readonly OutputLine[]): RunnerLine | undefined {
  return lines.find((l): l is RunnerLine => l.type === 'runner');
}

/**
 * Compares the output of one script on the model and on the kernel. `directives` are the script's
 * `# diff:` lines (parseDiffDirectives).
 */
export function diffRuns(model: readonly OutputLine[], kernel: readonly OutputLine[], directives: readonly DiffDirective[] = []): DiffResult {
  const skip = kernel.find((l) => l.type === 'skip');
  const ms = snapshotsOf(model);
  const ks = snapshotsOf(kernel);
  const snapshots: SnapshotDiff[] = [];
  const unpaired: UnpairedSnapshot[] = [];
  for (const line of [...new Set([...ms.keys(), ...ks.keys()])].sort((a, b) => a - b)) {
    const m = ms.get(line);
    const k = ks.get(line);
    if (m && k) snapshots.push(diffSnapshot(m, k, directives));
    else {
      const s = (m ?? k)!;
      unpaired.push({ line, label: s.label, process: s.process, side: m ? 'model' : 'kernel' });
    }
  }
  const outcome = diffOutcome(model, kernel);
  const kr = runnerOf(kernel);
  const settings = skip ? [] : diffSettings(runnerOf(model), kr);

  const all = snapshots.flatMap((s) => s.fields);
  const fieldMismatches = snapshots.reduce((n, s) => n + s.mismatches, 0);
  const counts: DiffCounts = {
    snapshots: snapshots.length,
    fieldsCompared: all.filter((f) => f.status !== 'ignored').length,
    fieldMismatches,
    tolerated: all.filter((f) => f.status === 'tolerated').length,
    ignored: all.filter((f) => f.status === 'ignored').length,
    unpaired: skip ? 0 : unpaired.length,
    outcomeMismatches: skip || outcome.equal ? 0 : 1,
    settingsMismatches: settings.filter((s) => !s.equal).length,
    mismatches: 0,
  };
  counts.mismatches = counts.fieldMismatches + counts.unpaired + counts.outcomeMismatches + counts.settingsMismatches;
  const result: DiffResult = {
    snapshots,
    unpaired: skip ? [] : unpaired,
    outcome,
    settings,
    counts,
    ok: !skip && counts.mismatches === 0,
  };
  if (skip) result.skipped = skip.reason;
  if (kr?.kernel !== undefined) result.kernelRelease = kr.kernel;
  return result;
}

/** Adds up the counts of several results (the summary of `ptlab diff`). */
export function sumCounts(results: readonly DiffCounts[]): DiffCounts {
  const z: DiffCounts = {
    snapshots: 0, fieldsCompared: 0, fieldMismatches: 0, tolerated: 0, ignored: 0, unpaired: 0,
    outcomeMismatches: 0, settingsMismatches: 0, mismatches: 0,
  };
  for (const c of results) for (const k of Object.keys(z) as (keyof DiffCounts)[]) z[k] += c[k];
  return z;
}

/**
 * A plain-text account of what differs (nothing for an ok result): one line per mismatching
 * field, unpaired snapshot, outcome and setting. Used in test assertion messages.
 */
export function describeMismatches(r: DiffResult, file = 'script'): string {
  const out: string[] = [];
  if (r.skipped) out.push(`${file}: kernel run skipped: ${r.skipped}`);
  for (const s of r.settings) if (!s.equal) out.push(`${file}: ${s.setting}: model ${s.model}, kernel ${s.kernel}`);
  for (const s of r.snapshots) {
    for (const f of s.fields) {
      if (f.status !== 'mismatch') continue;
      const tol = f.tolerance !== undefined ? ` (beyond the declared tolerance ${f.tolerance} ${fieldUnit(f.field)})` : '';
      out.push(`${file}:${s.line}: snapshot "${s.label}" (${s.process}) ${f.field}${f.field === 'pagemap' ? '' : ' delta'}: model ${String(f.model)}, kernel ${String(f.kernel)}${f.detail ? `; ${f.detail}` : ''}${tol}`);
    }
  }
  if (!r.outcome.equal) out.push(`${file}: outcome: ${describeStop('model', r.outcome.model)}; ${describeStop('kernel', r.outcome.kernel)}`);
  for (const u of r.unpaired) out.push(`${file}:${u.line}: snapshot "${u.label}" (${u.process}) only on the ${u.side}`);
  return out.join('\n');
}

export function describeStop(side: string, s: Stop | null): string {
  return s ? `${side} stopped at line ${s.line}: ${s.message}` : `${side} ran to the end`;
}
