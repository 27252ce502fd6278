/**
 * The diff logic on fabricated executor output: no model, no kernel. Each case builds the JSON
 * lines two executors might print for one script and checks the verdict.
 */
import { describe, expect, it } from 'vitest';
import {
  DIFF_FIELDS,
  describeMismatches,
  diffRuns,
  failureOf,
  formatRuns,
  parseDiffDirectives,
  parseDiffDirectivesOrThrow,
  sumCounts,
  type DiffDirective,
} from '../../src/oracle/diff.js';
import type { ErrorLine, MincoreRun, MovePagesRun, OutputLine, PagemapRun, RunnerLine, ScanRun, SnapshotLine, StatusValues } from '../../src/script/output.js';
import { stripExpects, prepareScript } from '../../src/oracle/compare.js';

const ZERO: StatusValues = { VmSize: 0, VmRSS: 0, RssAnon: 0, RssFile: 0, RssShmem: 0, VmPTE: 0, VmLck: 0, VmSwap: 0 };

function runner(executor: 'model' | 'kernel', thp = 'madvise', shmem = 'never'): RunnerLine {
  return { type: 'runner', executor, thp, shmem_thp: shmem, ...(executor === 'kernel' ? { kernel: '6.18.0' } : {}) };
}

/** A snapshot with the given deltas; the kernel's absolute values carry a libc baseline. */
function snap(
  line: number,
  delta: Partial<StatusValues>,
  opts: { executor?: 'model' | 'kernel'; label?: string; process?: string; rollup?: Partial<SnapshotLine['smaps_rollup']>; runs?: PagemapRun[] } = {},
): SnapshotLine {
  const d = { ...ZERO, ...delta };
  const base = opts.executor === 'kernel' ? 40 : 0;
  const status = Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v + base])) as unknown as StatusValues;
  const s: SnapshotLine = {
    type: 'snapshot',
    line,
    label: opts.label ?? `s${line}`,
    process: opts.process ?? 'P',
    status,
    delta: d,
    smaps_rollup: { Rss: d.VmRSS, AnonHugePages: 0, ShmemPmdMapped: 0, FilePmdMapped: 0, ...opts.rollup },
  };
  if (opts.runs) {
    // mincore: resident exactly where pagemap says present (anonymous memory); move_pages: on a
    // node where present, -ENOENT elsewhere (inside the VMA);
    const present = (c: string) => c === 'p' || c === 'x';
    const mincore = opts.runs.map(([n, c]): MincoreRun => [n, present(c) ? 'r' : 'n']);
    const move_pages = opts.runs.map(([n, c]): MovePagesRun => [n, present(c) ? 'n' : 'e']);
    // PAGEMAP_SCAN: an anonymous page where present, an empty entry elsewhere
    const scan = opts.runs.map(([n, c]): ScanRun => [n, present(c) ? 'a' : 'e']);
    s.pagemap = { map: 'A', offset: 0, pages: opts.runs.reduce((n, [c]) => n + c, 0), runs: opts.runs, mincore, move_pages, scan };
  }
  return s;
}

function error(line: number, message: string): ErrorLine {
  return { type: 'error', line, message };
}

/** Model and kernel output of the same (fabricated) run: kernel snapshots as given, model ones changed by `tweak`. */
function pair(snaps: SnapshotLine[], tweak: (s: SnapshotLine) => SnapshotLine = (s) => s): [OutputLine[], OutputLine[]] {
  const model: OutputLine[] = [runner('model'), ...snaps.map((s) => tweak(structuredClone(s)))];
  const kernel: OutputLine[] = [runner('kernel'), ...snaps.map((s) => ({ ...s, status: Object.fromEntries(Object.entries(s.status).map(([k, v]) => [k, v + 40])) as unknown as StatusValues }))];
  return [model, kernel];
}

const DENSE = snap(5, { VmPTE: 16, RssAnon: 4096, VmRSS: 4096, VmSize: 4096 }, { runs: [[1024, 'x']] });
const AFTER = snap(7, { VmPTE: 12, RssAnon: 2048, VmRSS: 2048, VmSize: 4096 }, { runs: [[512, '-'], [512, 'x']] });

describe('diffRuns', () => {
  it('agrees when every field of every snapshot is equal (absolute values may differ: deltas are compared)', () => {
    const [m, k] = pair([DENSE, AFTER]);
    const r = diffRuns(m, k);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ snapshots: 2, fieldsCompared: 2 * DIFF_FIELDS.length, mismatches: 0 });
    expect(r.snapshots.every((s) => s.fields.every((f) => f.status === 'equal'))).toBe(true);
    expect(r.outcome).toEqual({ model: null, kernel: null, equal: true });
    expect(r.kernelRelease).toBe('6.18.0');
    expect(describeMismatches(r)).toBe('');
  });

  it('reports a field that differs, with both values', () => {
    const [m, k] = pair([DENSE, AFTER], (s) => (s.line === 7 ? { ...s, delta: { ...s.delta, VmPTE: 16 } } : s));
    const r = diffRuns(m, k);
    expect(r.ok).toBe(false);
    expect(r.counts).toMatchObject({ fieldMismatches: 1, mismatches: 1 });
    const f = r.snapshots[1].fields.find((x) => x.field === 'VmPTE')!;
    expect(f).toMatchObject({ model: 16, kernel: 12, status: 'mismatch' });
    expect(describeMismatches(r, 'x.pt')).toBe('x.pt:7: snapshot "s7" (P) VmPTE delta: model 16, kernel 12');
  });

  it('compares smaps_rollup Rss and the huge-page fields as reported', () => {
    const thp = snap(3, { VmPTE: 12, RssAnon: 2048, VmRSS: 2048 }, { rollup: { AnonHugePages: 2048 } });
    const [m, k] = pair([thp], (s) => ({ ...s, smaps_rollup: { ...s.smaps_rollup, Rss: 4096, AnonHugePages: 4096 } }));
    const r = diffRuns(m, k);
    expect(r.snapshots[0].fields.filter((f) => f.status === 'mismatch').map((f) => f.field)).toEqual(['Rss', 'AnonHugePages']);
  });

  it('compares pagemap codes page by page and names the first difference', () => {
    const [m, k] = pair([AFTER], (s) => ({ ...s, pagemap: { ...s.pagemap!, runs: [[511, '-'], [513, 'x']] } }));
    const r = diffRuns(m, k);
    const f = r.snapshots[0].fields.find((x) => x.field === 'pagemap')!;
    expect(f.status).toBe('mismatch');
    expect(f.model).toBe('511- 513x');
    expect(f.kernel).toBe('512- 512x');
    expect(f.detail).toBe("1 page(s) differ; first at page 511 (A+0x1ff000): model 'x', kernel '-'");
  });

  it('treats differently split but equal run lists as equal', () => {
    const [m, k] = pair([AFTER], (s) => ({ ...s, pagemap: { ...s.pagemap!, runs: [[256, '-'], [256, '-'], [512, 'x']] } }));
    expect(diffRuns(m, k).ok).toBe(true);
  });

  it('flags a pagemap present on one side only', () => {
    const [m, k] = pair([AFTER], (s) => {
      delete s.pagemap;
      return s;
    });
    const f = diffRuns(m, k).snapshots[0].fields.find((x) => x.field === 'pagemap')!;
    expect(f).toMatchObject({ status: 'mismatch', model: null, kernel: '512- 512x' });
  });

  it('compares mincore page by page, and not at all when one side reports none (older output)', () => {
    const [m, k] = pair([DENSE, AFTER], (s) => (s.line === 7 ? { ...s, pagemap: { ...s.pagemap!, mincore: [[1024, 'n']] } } : s));
    const f = diffRuns(m, k).snapshots[1].fields.find((x) => x.field === 'mincore')!;
    expect(f).toMatchObject({ status: 'mismatch', model: '1024n', kernel: '512n 512r' });
    expect(f.detail).toBe("512 page(s) differ; first at page 512 (A+0x200000): model 'n', kernel 'r'");
    const [m2, k2] = pair([AFTER], (s) => ({ ...s, pagemap: { ...s.pagemap!, mincore: undefined } }));
    const r = diffRuns(m2, k2);
    expect(r.snapshots[0].fields.map((x) => x.field)).not.toContain('mincore');
    expect(r.ok).toBe(true);
  });

  it('compares move_pages(2) statuses page by page, and not at all when one side reports none (older output, no NUMA)', () => {
    const [m, k] = pair([AFTER], (s) => ({ ...s, pagemap: { ...s.pagemap!, move_pages: [[512, 'f'], [512, 'n']] } }));
    const f = diffRuns(m, k).snapshots[0].fields.find((x) => x.field === 'move_pages')!;
    expect(f).toMatchObject({ status: 'mismatch', model: '512f 512n', kernel: '512e 512n' });
    expect(f.detail).toBe("512 page(s) differ; first at page 0 (A+0x0): model 'f', kernel 'e'");
    const kernelOnly = pair([AFTER], (s) => ({ ...s, pagemap: { ...s.pagemap!, move_pages: undefined } }));
    const r = diffRuns(...kernelOnly);
    expect(r.snapshots[0].fields.map((x) => x.field)).not.toContain('move_pages');
    expect(r.snapshots[0].fields.map((x) => x.field)).toContain('mincore');
    expect(r.ok).toBe(true);
  });

  it('compares PAGEMAP_SCAN categories page by page, and not at all when one side reports none (older output, a kernel before 6.7)', () => {
    const [m, k] = pair([AFTER], (s) => ({ ...s, pagemap: { ...s.pagemap!, scan: [[511, 'e'], [1, 'E'], [512, 'a']] } }));
    const f = diffRuns(m, k).snapshots[0].fields.find((x) => x.field === 'scan')!;
    expect(f).toMatchObject({ status: 'mismatch', model: '511e 1E 512a', kernel: '512e 512a' });
    expect(f.detail).toBe("1 page(s) differ; first at page 511 (A+0x1ff000): model 'E', kernel 'e'");
    const modelOnly = diffRuns(...pair([AFTER]).map((lines, i) => (i === 1 ? lines.map((l) => (l.type === 'snapshot' ? { ...l, pagemap: { ...l.pagemap!, scan: undefined } } : l)) : lines)) as [OutputLine[], OutputLine[]]);
    expect(modelOnly.snapshots[0].fields.map((x) => x.field)).not.toContain('scan');
    expect(modelOnly.ok).toBe(true);
  });

  it('tolerates unmapped page-cache pages the kernel reclaimed meanwhile (model r, kernel n, pagemap - on both), and only those', () => {
    const file = snap(9, {}, { runs: [[2, 'p'], [2, '-']] });
    const [m, k] = pair([file], (s) => ({ ...s, pagemap: { ...s.pagemap!, mincore: [[4, 'r']] } }));
    const kk = k.map((l) => (l.type === 'snapshot' ? { ...l, pagemap: { ...l.pagemap!, mincore: [[3, 'r'], [1, 'n']] as MincoreRun[] } } : l));
    const r = diffRuns(m, kk);
    expect(r.ok).toBe(true);
    expect(r.snapshots[0].fields.find((x) => x.field === 'mincore')).toMatchObject({ status: 'tolerated', reason: expect.stringContaining('1 unmapped page-cache page(s)') });
    // A mapped page (pagemap p) cannot be reclaimed while mapped: that is a mismatch.
    const km = k.map((l) => (l.type === 'snapshot' ? { ...l, pagemap: { ...l.pagemap!, mincore: [[1, 'n'], [3, 'r']] as MincoreRun[] } } : l));
    expect(diffRuns(m, km).snapshots[0].fields.find((x) => x.field === 'mincore')).toMatchObject({ status: 'mismatch' });
  });

  it('shows an ignored field but does not count it', () => {
    const [m, k] = pair([DENSE, AFTER], (s) => ({ ...s, smaps_rollup: { ...s.smaps_rollup, AnonHugePages: 2048 } }));
    const d: DiffDirective[] = [{ kind: 'ignore', field: 'AnonHugePages', reason: 'khugepaged timing', line: 1 }];
    const r = diffRuns(m, k, d);
    expect(r.ok).toBe(true);
    expect(r.counts).toMatchObject({ ignored: 2, fieldsCompared: 2 * (DIFF_FIELDS.length - 1), mismatches: 0 });
    const f = r.snapshots[0].fields.find((x) => x.field === 'AnonHugePages')!;
    expect(f).toMatchObject({ model: 2048, kernel: 0, status: 'ignored', reason: 'khugepaged timing' });
  });

  it('accepts a difference within a declared tolerance and rejects one beyond it', () => {
    const [m, k] = pair([DENSE, AFTER], (s) => ({ ...s, delta: { ...s.delta, VmPTE: s.delta.VmPTE + (s.line === 5 ? 4 : 8) } }));
    const d: DiffDirective[] = [{ kind: 'tolerance', field: 'VmPTE', tolerance: 4, reason: 'one table either way', line: 1 }];
    const r = diffRuns(m, k, d);
    expect(r.snapshots[0].fields[0]).toMatchObject({ status: 'tolerated', tolerance: 4 });
    expect(r.snapshots[1].fields[0]).toMatchObject({ status: 'mismatch', tolerance: 4 });
    expect(r.counts).toMatchObject({ tolerated: 1, fieldMismatches: 1 });
    expect(describeMismatches(r)).toContain('beyond the declared tolerance 4 kB');
  });

  it('applies a snapshot-scoped directive to that snapshot only, ahead of a script-wide one', () => {
    const [m, k] = pair([DENSE, AFTER], (s) => ({ ...s, delta: { ...s.delta, RssAnon: s.delta.RssAnon + 8 } }));
    const d: DiffDirective[] = [
      { kind: 'tolerance', field: 'RssAnon', tolerance: 4, reason: 'wide', line: 1 },
      { kind: 'ignore', field: 'RssAnon', snapshot: 's7', reason: 'narrow', line: 2 },
    ];
    const r = diffRuns(m, k, d);
    expect(r.snapshots[0].fields[1]).toMatchObject({ status: 'mismatch', reason: 'wide' });
    expect(r.snapshots[1].fields[1]).toMatchObject({ status: 'ignored', reason: 'narrow' });
  });

  it('is a mismatch when one executor stops with an error where the other does not', () => {
    const [m, k] = pair([DENSE]);
    m.push(error(9, 'expected VmPTE delta == 12, saw 16'));
    k.push(AFTER);
    const r = diffRuns(m, k);
    expect(r.ok).toBe(false);
    expect(r.outcome).toMatchObject({ equal: false, model: { line: 9 }, kernel: null });
    expect(r.unpaired).toEqual([{ line: 7, label: 's7', process: 'P', side: 'kernel' }]);
    expect(r.counts).toMatchObject({ outcomeMismatches: 1, unpaired: 1, fieldMismatches: 0, mismatches: 2 });
    expect(describeMismatches(r)).toContain('model stopped at line 9');
  });

  it('agrees when both stop at the same line with the same failure, in their own wording', () => {
    const [m, k] = pair([DENSE]);
    m.push(error(8, 'madvise failed with EINVAL'));
    k.push(error(8, 'madvise dontneed: got EINVAL, expected success'));
    expect(diffRuns(m, k).ok).toBe(true);
  });

  it('is a mismatch when both stop at the same line but fail differently', () => {
    const [m, k] = pair([DENSE]);
    m.push(error(8, 'madvise was expected to fail with EINVAL but succeeded'));
    k.push(error(8, 'madvise dontneed: got ENOMEM, expected EINVAL'));
    const r = diffRuns(m, k);
    expect(r.outcome).toMatchObject({ equal: false, model: { got: 'success' }, kernel: { got: 'ENOMEM' } });
  });

  it('is a mismatch when the executors ran with different THP settings', () => {
    const [m, k] = pair([DENSE]);
    k[0] = runner('kernel', 'always');
    const r = diffRuns(m, k);
    expect(r.settings[0]).toEqual({ setting: 'thp', model: 'madvise', kernel: 'always', equal: false });
    expect(r.counts.settingsMismatches).toBe(1);
    expect(r.ok).toBe(false);
  });

  it('reports a skipped kernel run as skipped, not as mismatches', () => {
    const m: OutputLine[] = [runner('model'), DENSE];
    const k: OutputLine[] = [runner('kernel'), { type: 'skip', reason: 'cannot write sysfs' }];
    const r = diffRuns(m, k);
    expect(r.skipped).toBe('cannot write sysfs');
    expect(r.ok).toBe(false);
    expect(r.counts.mismatches).toBe(0);
  });

  it('adds up counts over scripts', () => {
    const [m, k] = pair([DENSE, AFTER], (s) => ({ ...s, delta: { ...s.delta, VmPTE: 0 } }));
    const a = diffRuns(m, k).counts;
    expect(sumCounts([a, a])).toMatchObject({ snapshots: 4, fieldMismatches: 4, mismatches: 4 });
  });
});

describe('failureOf', () => {
  it('reads both executors\' wording', () => {
    expect(failureOf('touch write: got SIGSEGV, expected success')).toBe('SIGSEGV');
    expect(failureOf('map: got success, expected EEXIST')).toBe('success');
    expect(failureOf('touch failed with SIGSEGV')).toBe('SIGSEGV');
    expect(failureOf('map was expected to fail with EEXIST but failed with ENOMEM')).toBe('ENOMEM');
    expect(failureOf('map was expected to fail with EEXIST but succeeded')).toBe('success');
    expect(failureOf('expected VmPTE delta == 12, saw 16')).toBeUndefined();
  });
});

describe('formatRuns', () => {
  it('spells run-length pagemaps compactly', () => {
    expect(formatRuns([[1, 'g'], [511, 'x'], [512, '-']])).toBe('1g 511x 512-');
    expect(formatRuns([])).toBe('(empty)');
  });
});

describe('# diff: directives', () => {
  const text = [
    'process P',
    '# diff: ignore AnonHugePages khugepaged may collapse block 0 first',
    '#diff: tolerance VmPTE 4 kB snapshot=after one table either way',
    '  # diff: tolerance pagemap 2 pages snapshot=after two pages race',
    '# an ordinary comment that mentions diff: nothing',
    'map A anon private 4M # diff: ignore VmPTE (a trailing comment is not a directive)',
    'snapshot after',
  ].join('\n');

  it('reads ignore and tolerance lines, with optional unit and snapshot scope', () => {
    expect(parseDiffDirectivesOrThrow(text, 't.pt', new Set(['after']))).toEqual([
      { kind: 'ignore', field: 'AnonHugePages', tolerance: undefined, snapshot: undefined, reason: 'khugepaged may collapse block 0 first', line: 2 },
      { kind: 'tolerance', field: 'VmPTE', tolerance: 4, snapshot: 'after', reason: 'one table either way', line: 3 },
      { kind: 'tolerance', field: 'pagemap', tolerance: 2, snapshot: 'after', reason: 'two pages race', line: 4 },
    ]);
  });

  it('reports bad directives as script errors with line and column', () => {
    const bad = [
      '# diff: skip VmPTE because',
      '# diff: ignore VmPTEs because',
      '# diff: tolerance VmPTE lots because',
      '# diff: ignore VmPTE',
      '# diff: ignore VmPTE snapshot=nope because',
      '# diff: ignore RssAnon first',
      '# diff: ignore RssAnon second',
    ].join('\n');
    const r = parseDiffDirectives(bad, 'b.pt', new Set(['after']));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([
      [1, 9, 'syntax'],
      [2, 16, 'bad-value'],
      [3, 25, 'bad-value'],
      [4, 21, 'syntax'],
      [5, 22, 'unknown-name'],
      [7, 16, 'duplicate-name'],
    ]);
    expect(r.errors[1].message).toBe("unknown field 'VmPTEs'");
  });

  it('are comments to the script parser, and are validated by prepareScript', () => {
    const ok = prepareScript('t.pt', text);
    expect(ok.ok).toBe(true);
    const bad = prepareScript('t.pt', 'process P\n# diff: ignore Nope why\n');
    expect(bad.ok).toBe(false);
  });
});

describe('stripExpects', () => {
  it('blanks expect lines and keeps the line count', () => {
    const t = 'process P\nexpect VmPTE delta == 12\n  expect Rss 0 # x\nexpected_not_an_op\n';
    expect(stripExpects(t)).toBe('process P\n\n\nexpected_not_an_op\n');
  });
});
