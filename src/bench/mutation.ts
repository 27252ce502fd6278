/**
 * The mutation benchmark's summary (issue 13; `npm run mutation`, docs/explorer.md): StrykerJS
 * mutates the synchronisation code of src/mm (stryker.config.mjs) and runs the kill suite of
 * test/mutation/ against each mutant; this reads its report (mutation-testing-report-schema JSON)
 * and the reviewed list of equivalent mutants, and renders bench/MUTATION.md.
 *
 * A survivor is either listed as equivalent (it cannot change any outcome, with the reason) or it
 * is a blind spot of the explorer's checks; the score counts killed (and timed out) mutants among
 * the non-equivalent ones that some test covers.
 *
 * A full run takes hours. After the kill suite grows, the survivors' lines can be run again
 * (PTLAB_MUTATE=file:L-L,...) into bench/mutation/rerun.json: a mutant of the full report that the
 * rerun tested again takes the rerun's status. Sound only while the mutated files are unchanged
 * and the kill suite only grew since the full run (a kill then stays a kill); the render says so.
 */
import fs from 'node:fs';

/** The parts of Stryker's JSON report read here. */
interface StrykerReport {
  /** `source`: the file as mutated, which Stryker's report carries (absent in older merged ones). */
  readonly files: Record<string, { readonly mutants: readonly StrykerMutant[]; readonly source?: string }>;
}
interface Position {
  readonly line: number;
  readonly column: number;
}
interface StrykerMutant {
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: string;
  readonly location: { readonly start: Position; readonly end?: Position };
}

/** Code in a blind-spot line: on one line, at most this many characters. */
const SNIPPET = 60;
const snippet = (code: string): string => {
  const one = code.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > SNIPPET ? `${one.slice(0, SNIPPET - 1)}…` : one);
};

/**
 * The code a mutant replaced (Stryker's lines and columns are 1-based, the end exclusive), so that
 * a reader of the blind-spot list sees what was changed, not only where: two mutants of one place
 * and mutator can differ in what they cover.
 */
function original(source: string | undefined, m: StrykerMutant): string | undefined {
  const end = m.location.end;
  if (source === undefined || !end) return undefined;
  const lines = source.split('\n');
  const { start } = m.location;
  if (start.line < 1 || end.line > lines.length) return undefined;
  const picked = lines.slice(start.line - 1, end.line);
  picked[picked.length - 1] = picked[picked.length - 1].slice(0, end.column - 1); // first: a one-line mutant's columns count from its start
  picked[0] = picked[0].slice(start.column - 1);
  return picked.join('\n');
}

/**
 * One reviewed line of the equivalent list: `FILE:LINE:COL MUTATOR ["REPLACEMENT"] reason`; the
 * replacement (as JSON) tells apart mutants of one place and mutator (`true` and `false`).
 */
export interface Equivalent {
  readonly key: string;
  readonly replacement?: string;
  readonly reason: string;
  readonly line: number;
}

export interface FileScore {
  readonly file: string;
  readonly killed: number;
  readonly timedOut: number;
  readonly survived: number;
  readonly equivalent: number;
  readonly noCoverage: number;
  /** Everything else Stryker reports (ignored, compile or runtime errors). */
  readonly other: number;
  /** Survivors not on the equivalent list: the blind spots. */
  readonly blind: readonly string[];
}

export interface MutationSummary {
  readonly files: readonly FileScore[];
  readonly killed: number;
  readonly nonEquivalent: number;
  /** killed / non-equivalent covered mutants, in percent (null when there is none). */
  readonly score: number | null;
  /** Entries of the equivalent list that match no survivor (stale after a code change). */
  readonly stale: readonly string[];
}

const mutantKey = (file: string, m: StrykerMutant) => `${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`;
/**
 * One mutant across runs: its key, its replacement and where the code it replaces ends. Mutants of
 * one start, mutator and replacement differ only by that end (`a || b` -> `false` beside `a` ->
 * `false`), and a run may kill one and not the other.
 */
const mutantId = (file: string, m: StrykerMutant) => `${mutantKey(file, m)}${m.location.end ? `-${m.location.end.line}:${m.location.end.column}` : ''} ${JSON.stringify(m.replacement ?? '')}`;

/**
 * The full report with the statuses of a later, narrower run (the same files, unchanged) put over
 * it. Returns the merged report and how many of its mutants the rerun decided, and how many of
 * those it newly killed.
 */
export function mergeRerun(full: StrykerReport, rerun: StrykerReport): { report: StrykerReport; rerun: number; newlyKilled: number; replaced: string[] } {
  const later = new Map<string, string>();
  for (const [file, { mutants }] of Object.entries(rerun.files)) for (const m of mutants) later.set(mutantId(file, m), m.status);
  let n = 0, newlyKilled = 0;
  const replaced: string[] = [];
  const files: Record<string, { mutants: StrykerMutant[]; source?: string }> = {};
  for (const [file, { mutants, source }] of Object.entries(full.files)) {
    // A whole-file rerun of a file that changed since (tools/mutation-rerun.mjs keeps its source):
    // positions no longer match, so its mutants replace the full run's.
    const whole = rerun.files[file];
    if (whole?.source !== undefined && whole.source !== source) {
      files[file] = { source: whole.source, mutants: [...whole.mutants] };
      n += whole.mutants.length;
      replaced.push(file);
      continue;
    }
    files[file] = {
      source,
      mutants: mutants.map((m) => {
        const status = later.get(mutantId(file, m));
        if (status === undefined) return m;
        n++;
        if ((status === 'Killed' || status === 'Timeout') && m.status !== 'Killed' && m.status !== 'Timeout') newlyKilled++;
        return { ...m, status };
      }),
    };
  }
  return { report: { files }, rerun: n, newlyKilled, replaced };
}

export function parseEquivalents(text: string, file: string): { ok: true; entries: Equivalent[] } | { ok: false; errors: string[] } {
  const entries: Equivalent[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const m = /^(\S+:\d+:\d+) ([A-Za-z]+)(?: ("(?:[^"\\]|\\.)*"))?\s+(.+)$/.exec(l);
    if (!m) errors.push(`${file}:${i + 1}: expected 'FILE:LINE:COL MUTATOR ["REPLACEMENT"] reason', got '${l}'`);
    else entries.push({ key: `${m[1]} ${m[2]}`, ...(m[3] !== undefined && { replacement: JSON.parse(m[3]) as string }), reason: m[4], line: i + 1 });
  });
  return errors.length ? { ok: false, errors } : { ok: true, entries };
}

export function summarize(report: StrykerReport, equivalents: readonly Equivalent[]): MutationSummary {
  const used = new Set<Equivalent>();
  const equivalentOf = (key: string, m: StrykerMutant) => equivalents.find((e) => e.key === key && (e.replacement === undefined || e.replacement === m.replacement));
  const files: FileScore[] = [];
  for (const [file, { mutants, source }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
    let killed = 0, timedOut = 0, survived = 0, equivalent = 0, noCoverage = 0, other = 0;
    const blind: string[] = [];
    for (const m of mutants) {
      const key = mutantKey(file, m);
      if (m.status === 'Killed') killed++;
      else if (m.status === 'Timeout') timedOut++;
      else if (m.status === 'NoCoverage') noCoverage++;
      else if (m.status === 'Survived' && equivalentOf(key, m)) {
        equivalent++;
        used.add(equivalentOf(key, m)!);
      } else if (m.status === 'Survived') {
        survived++;
        const was = original(source, m);
        blind.push(`${key} ${was === undefined ? '' : `${snippet(was)} `}→ ${snippet(m.replacement ?? '')}`);
      } else other++;
    }
    files.push({ file, killed, timedOut, survived, equivalent, noCoverage, other, blind });
  }
  const killed = files.reduce((s, f) => s + f.killed + f.timedOut, 0);
  const nonEquivalent = killed + files.reduce((s, f) => s + f.survived, 0);
  return { files, killed, nonEquivalent, score: nonEquivalent ? (100 * killed) / nonEquivalent : null, stale: equivalents.filter((e) => !used.has(e)).map((e) => (e.replacement === undefined ? e.key : `${e.key} ${JSON.stringify(e.replacement)}`)) };
}

/** What a rerun changed, for the render: when it ran, how many mutants it decided, how many it newly killed. */
export interface RerunInfo {
  readonly date: string;
  readonly mutants: number;
  readonly newlyKilled: number;
  /** Files a whole-file run of their changed source replaced (mergeRerun()). */
  readonly replaced?: readonly string[];
}

/** A StrykerJS JSON report, or an error naming the file. */
function readReport(file: string): StrykerReport {
  let r: unknown;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: expected the JSON report of a StrykerJS run (${(e as Error).message})`);
  }
  if (typeof r !== 'object' || r === null || typeof (r as { files?: unknown }).files !== 'object') throw new Error(`${file}: expected the JSON report of a StrykerJS run (no "files" object)`);
  return r as StrykerReport;
}

export function readMutationSummary(reportFile: string, equivalentFile: string, rerunFile?: string): MutationSummary & { rerun?: Omit<RerunInfo, 'date'> } {
  let report = readReport(reportFile);
  let rerun: Omit<RerunInfo, 'date'> | undefined;
  if (rerunFile && fs.existsSync(rerunFile)) {
    const merged = mergeRerun(report, readReport(rerunFile));
    report = merged.report;
    rerun = { mutants: merged.rerun, newlyKilled: merged.newlyKilled, replaced: merged.replaced };
  }
  const eq = parseEquivalents(fs.existsSync(equivalentFile) ? fs.readFileSync(equivalentFile, 'utf8') : '', equivalentFile);
  if (!eq.ok) throw new Error(eq.errors.join('\n'));
  return { ...summarize(report, eq.entries), ...(rerun && { rerun }) };
}

export function renderMutation(s: MutationSummary, o: { date: string; mutated: readonly string[]; equivalentFile: string; configured?: readonly string[]; rerun?: RerunInfo }): string {
  const missing = (o.configured ?? []).filter((f) => !o.mutated.includes(f));
  const pct = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)} %`);
  const lines = [
    '# Mutation score of the explorer',
    '',
    `Written by \`npm run mutation\` (stryker.config.mjs, src/bench/mutation.ts) on ${o.date}. StrykerJS mutates the files below;`,
    'each mutant runs the kill suite of test/mutation/ (every shipped scenario guards on within preemption bound 2 with',
    'sequential explainability, within bound 1 with one lock for PTE and PMD tables, with batch_alloc=fail and on arm64,',
    "with every step's footprint checked along random executions, and with its guard off; a fixed swarm corpus; and, since",
    "2026-12-06, the shipped op scripts on the model, whose expect lines hold the live kernel's numbers).",
    'A survivor is either on the reviewed',
    `list of equivalent mutants (${o.equivalentFile}, each with its reason) or a blind spot, listed below.`,
    'Score: killed (or timed out) among the non-equivalent mutants some test covers. Target (issue 13): at least 90 %.',
    '',
    `Files mutated in this run: ${o.mutated.join(', ')}.`,
    ...(o.rerun
      ? [
          '',
          `**Rerun.** ${o.rerun.mutants} mutants, on the survivors' lines, have their status from narrowed runs of ${o.rerun.date} with the kill suite ` +
            `as it is now (bench/mutation/rerun.json, tools/mutation-rerun.mjs); ${o.rerun.newlyKilled} of them are killed now. The other mutants keep ` +
            "the full run's statuses, measured with the kill suite of that day, which has only grown since" +
            (o.rerun.replaced?.length
              ? `; ${o.rerun.replaced.join(', ')} changed since the full run and ${o.rerun.replaced.length === 1 ? 'is' : 'are'} counted from a later run of the whole file alone.`
              : '; the mutated files are unchanged.'),
        ]
      : []),
    ...(missing.length ? ['', `**Not measured yet** (in bench/mutation/files.json, not in this run): ${missing.join(', ')}. The score covers the files above only.`] : []),
    '',
    `**Score: ${pct(s.score)}** (${s.killed} of ${s.nonEquivalent} non-equivalent covered mutants).`,
    '',
    '| file | killed | timed out | survived (blind spots) | equivalent | not covered | other | score |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...s.files.map((f) => {
      const n = f.killed + f.timedOut + f.survived;
      return `| ${f.file} | ${f.killed} | ${f.timedOut} | ${f.survived} | ${f.equivalent} | ${f.noCoverage} | ${f.other} | ${pct(n ? (100 * (f.killed + f.timedOut)) / n : null)} |`;
    }),
    '',
    '## Blind spots (surviving mutants not shown equivalent)',
    '',
    ...s.files.flatMap((f) => f.blind.map((b) => `- ${b}`)),
  ];
  if (s.stale.length) lines.push('', '## Stale entries of the equivalent list (no such survivor)', '', ...s.stale.map((k) => `- ${k}`));
  return lines.join('\n') + '\n';
}
