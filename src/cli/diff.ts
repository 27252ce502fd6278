/** `ptlab diff`: run op scripts on the model and on this machine's kernel, and compare. */
import type { Command } from 'commander';
import { compareScript, prepareScript, type Comparison, type PreparedScript } from '../oracle/compare.js';
import { describeStop, fieldUnit, isPageCodeField, sumCounts, type DiffCounts, type FieldDiff, type SnapshotDiff } from '../oracle/diff.js';
import { kernelOracleAvailable, runningKdamonds } from '../oracle/kernel.js';
import { formatScriptError, type Op } from '../script/ast.js';
import { FAST_API, scriptConfig } from '../script/exec.js';
import { EXIT, UsageError, parseConfigOption, readScriptText } from './util.js';

interface DiffOpts {
  json?: boolean;
  config?: Record<string, string>;
  check?: boolean;
  expect: boolean;
  brief?: boolean;
}

const KERNEL_KEYS = new Set(['thp', 'shmem_thp', 'swap', 'fault_zero_page']);

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('run op scripts on the model and on the live kernel, and compare every snapshot field')
    .argument('<script...>', 'op script files')
    .option('--json', 'print one JSON object per script (the structured diff) and a summary object')
    .option('--config <k=v,...>', 'settings over the scripts\' config lines (repeatable); thp=, shmem_thp=, swap= and fault_zero_page= apply to both, the rest to the model only', parseConfigOption)
    .option('--check', 'check the model\'s invariants after every op')
    .option('--no-expect', 'ignore the scripts\' expect lines on both sides, so every snapshot is compared even after the model gets a field wrong')
    .option('--brief', 'print only the rows that are not equal, and the summaries')
    .addHelpText(
      'after',
      `
Compared per snapshot (paired by script line): the deltas of VmPTE, RssAnon, RssFile, RssShmem,
VmRSS, VmSize, VmLck, VmSwap; Rss, AnonHugePages, ShmemPmdMapped, FilePmdMapped; the pagemap codes of the
named range page by page, and mincore(2)'s and move_pages(2)'s for the same pages. Per script: the line where each side stopped with an error, if any, and
the THP settings and fault_zero_page. The runner probes whether a read fault maps the shared zero page;
the model follows the kernel there unless the script or --config sets fault_zero_page, and a script that
assumes otherwise than the kernel does is skipped. A script declares what the model cannot match with '# diff:' comment lines
(docs/op-scripts.md, "Declared differences").

Exit code 0 when everything agrees, 1 on any mismatch, 2 on a bad script or option, 3 when this
machine cannot serve as the oracle (the reason is printed), 4 when an executor broke.`,
    )
    .action(async (scripts: string[], opts: DiffOpts) => {
      process.exitCode = await diffCommand(scripts, opts);
    });
}

async function diffCommand(files: string[], opts: DiffOpts): Promise<number> {
  const config = opts.config ?? {};
  try {
    scriptConfig(FAST_API, { file: '--config', ops: [] }, config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // Validate every script (ops, directives, settings) before running any.
  const prepared: PreparedScript[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readScriptText(file);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(e.message);
      continue;
    }
    const r = prepareScript(file, text, { overrides: config, noExpect: !opts.expect });
    if (r.ok) prepared.push(r.prepared);
    else problems.push(`${r.errors.length} error(s) in ${file}:\n${r.errors.map(formatScriptError).join('\n')}`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'));

  const avail = kernelOracleAvailable();
  if (!avail.ok) {
    process.stderr.write(`ptlab diff: skipped: this machine cannot serve as the kernel oracle: ${avail.reason}\n`);
    return EXIT.NO_VERDICT;
  }
  if (avail.note) process.stderr.write(`ptlab diff: note: ${avail.note}\n`);
  const modelOnly = Object.keys(config).filter((k) => !KERNEL_KEYS.has(k));
  if (modelOnly.length) {
    process.stderr.write(`ptlab diff: note: --config ${modelOnly.join(', ')}: model only (the kernel runs as it is built and booted)\n`);
  }

  const color = !opts.json && process.stdout.isTTY && !process.env.NO_COLOR;
  const counts: DiffCounts[] = [];
  let agree = 0;
  let skipped = 0;
  let broken = 0;
  for (const p of prepared) {
    const c = await compareScript(p, { overrides: config, checkInvariants: opts.check });
    counts.push(c.diff.counts);
    const kernelBroke = kernelBroken(c);
    if (c.diff.ok && !kernelBroke) agree++;
    if (c.diff.skipped) skipped++;
    if (kernelBroke || c.model.exitCode === 4) broken++;
    if (opts.json) {
      process.stdout.write(JSON.stringify({
        type: 'diff',
        file: c.file,
        modelExit: c.model.exitCode,
        kernelExit: c.kernel.exitCode,
        kernelAttempts: c.kernelAttempts,
        khugepagedInterfered: c.khugepagedInterfered,
        ...c.diff,
        ...(kernelBroke ? { ok: false, kernelBroken: kernelBroke } : {}),
      }) + '\n');
    } else {
      process.stdout.write(renderComparison(c, { color, brief: !!opts.brief }));
    }
    if (c.khugepagedInterfered) {
      process.stderr.write(`${c.file}: note: khugepaged collapsed pages during every one of ${c.kernelAttempts} kernel runs; THP fields may differ for that reason\n`);
    }
    if (damonMayExplain(c, p.script.ops)) {
      const kdamonds = runningKdamonds();
      if (kdamonds.length) process.stderr.write(`${c.file}: note: DAMON is running here (kdamond ${kdamonds.join(', ')}); its access sampling and reclaim can keep or drop pages this script's MADV_PAGEOUT/MADV_COLD decides, so run the script again before trusting this mismatch\n`);
    }
    if (kernelBroke && c.kernel.stderr.trim()) process.stderr.write(`${c.file}: kernel runner stderr:\n${c.kernel.stderr}`);
    // What the kernel chose where the model cannot follow it (`migrate`: which pages compaction moved).
    for (const m of c.kernel.stderr.matchAll(/^ptlab-runner: (line \d+: migrate: .*)$/gm)) process.stderr.write(`${c.file}: note: kernel ${m[1]}\n`);
  }
  const total = sumCounts(counts);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ type: 'summary', scripts: prepared.length, agree, skipped, ...total }) + '\n');
  } else {
    process.stdout.write(`${summaryLine(prepared.length, agree, skipped, total, color)}\n`);
  }
  if (broken) return EXIT.INTERNAL;
  if (total.mismatches) return EXIT.FAIL;
  if (skipped) return EXIT.NO_VERDICT;
  return EXIT.OK;
}

/**
 * Why the kernel side has no verdict, or undefined: its runner was killed (a signal, a timeout) or
 * failed inside. Its output then stops anywhere, so whatever it printed proves no agreement.
 */
/**
 * Whether DAMON, when it runs here, may explain this comparison's mismatches: the script reclaims
 * (MADV_PAGEOUT/MADV_COLD, whose pages DAMON's sampling can keep or drop) and the two sides were
 * compared and differ. A skipped kernel run is not a mismatch.
 */
export function damonMayExplain(c: Comparison, ops: readonly Op[]): boolean {
  const reclaims = ops.some((o) => o.op === 'madvise' && (o.advice === 'pageout' || o.advice === 'cold'));
  return reclaims && !c.diff.ok && !c.diff.skipped;
}

export function kernelBroken(c: Comparison): string | undefined {
  if (c.kernel.status === 'killed') return `the kernel runner was killed by ${c.kernel.signal ?? 'a signal'}`;
  if (c.kernel.status === 'internal') return `the kernel runner failed (exit ${c.kernel.exitCode})`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Text rendering

const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';
const MAX_CELL = 56;

function paint(s: string, code: string, on: boolean): string {
  return on ? `${code}${s}${RESET}` : s;
}

function cell(v: number | string | null): string {
  if (v === null) return '(none)';
  if (typeof v === 'number') return v.toLocaleString('en-US');
  return v.length > MAX_CELL ? `${v.slice(0, MAX_CELL - 1)}…` : v;
}

function mark(f: FieldDiff): string {
  const unit = fieldUnit(f.field);
  switch (f.status) {
    case 'equal':
      return '';
    case 'mismatch':
      return `<< differs${f.detail ? `: ${f.detail}` : ''}${f.tolerance !== undefined ? ` (beyond ±${f.tolerance} ${unit}: ${f.reason})` : ''}`;
    case 'tolerated':
      // A declared tolerance has a bound; the built-in one (page-cache pages the kernel reclaimed) has none.
      return f.tolerance !== undefined ? `~ within ±${f.tolerance} ${unit}: ${f.reason}` : `~ tolerated: ${f.reason}`;
    case 'ignored':
      return `ignored: ${f.reason}`;
  }
}

function fieldName(f: FieldDiff): string {
  return isPageCodeField(f.field) || f.field === 'Rss' || f.field.endsWith('PmdMapped') || f.field === 'AnonHugePages'
    ? f.field
    : `${f.field} delta`;
}

function renderSnapshot(s: SnapshotDiff, o: { color: boolean; brief: boolean }): string {
  const rows = o.brief ? s.fields.filter((f) => f.status !== 'equal') : s.fields;
  if (rows.length === 0) return '';
  const cells = rows.map((f) => [fieldName(f), cell(f.model), cell(f.kernel), mark(f)]);
  const w = [0, 1, 2].map((i) => Math.max(['field', 'model', 'kernel'][i].length, ...cells.map((c) => c[i].length)));
  const head = `snapshot "${s.label}" (process ${s.process}, line ${s.line}${s.range ? `, pagemap ${s.range}` : ''})`;
  const lines = [
    s.mismatches ? paint(head, BOLD, o.color) : head,
    `  ${'field'.padEnd(w[0])}  ${'model'.padStart(w[1])}  ${'kernel'.padStart(w[2])}`,
  ];
  rows.forEach((f, i) => {
    const c = cells[i];
    const text = `  ${c[0].padEnd(w[0])}  ${c[1].padStart(w[1])}  ${c[2].padStart(w[2])}${c[3] ? `  ${c[3]}` : ''}`;
    lines.push(f.status === 'mismatch' ? paint(text, RED, o.color) : f.status === 'equal' ? text : paint(text, YELLOW, o.color));
  });
  return lines.join('\n') + '\n';
}

export function renderComparison(c: Comparison, o: { color: boolean; brief: boolean }): string {
  const d = c.diff;
  const settings = d.settings.map((s) => `${s.setting}=${s.kernel ?? s.model ?? '?'}`).join(', ');
  const out: string[] = [`== ${c.file}${d.kernelRelease ? `  (kernel ${d.kernelRelease}${settings ? `, ${settings}` : ''})` : ''}`];
  if (d.skipped) {
    out.push(`skipped on the kernel: ${d.skipped}`, '');
    return out.join('\n') + '\n';
  }
  for (const s of d.settings) {
    if (!s.equal) out.push(paint(`setting ${s.setting}: model ${s.model}, kernel ${s.kernel}  << differs`, RED, o.color));
  }
  for (const s of d.snapshots) {
    const t = renderSnapshot(s, o);
    if (t) out.push(t);
  }
  for (const u of d.unpaired) {
    out.push(paint(`snapshot "${u.label}" (process ${u.process}, line ${u.line}) only on the ${u.side}  << differs`, RED, o.color));
  }
  const oc = d.outcome;
  const broke = kernelBroken(c);
  if (broke) {
    out.push(paint(`outcome: ${broke}, so no verdict`, RED, o.color));
  } else if (!oc.equal) {
    out.push(paint(`outcome differs: ${describeStop('model', oc.model)}; ${describeStop('kernel', oc.kernel)}`, RED, o.color));
  } else if (oc.model) {
    out.push(`outcome: both stopped at line ${oc.model.line} (model: ${oc.model.message}; kernel: ${oc.kernel!.message})`);
  } else if (!o.brief) {
    out.push('outcome: both ran to the end');
  }
  const k = d.counts;
  const verdict = broke ? paint('no verdict', RED, o.color) : d.ok ? 'agree' : paint(plural(k.mismatches, 'mismatch'), RED, o.color);
  out.push(`${c.file}: ${plural(k.snapshots, 'snapshot')}, ${plural(k.fieldsCompared, 'field')} compared${extras(k)}: ${verdict}`, '');
  return out.join('\n') + '\n';
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : word.endsWith('h') ? 'es' : 's'}`;
}

function extras(k: DiffCounts): string {
  const parts: string[] = [];
  if (k.tolerated) parts.push(`${k.tolerated} within a declared tolerance`);
  if (k.ignored) parts.push(`${k.ignored} ignored by declaration`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function summaryLine(scripts: number, agree: number, skipped: number, k: DiffCounts, color: boolean): string {
  const parts = [
    plural(scripts, 'script'),
    plural(k.snapshots, 'snapshot'),
    `${plural(k.fieldsCompared, 'field')} compared${extras(k)}`,
  ];
  const mism = plural(k.mismatches, 'mismatch') +
    (k.mismatches ? ` (${k.fieldMismatches} in fields, ${k.outcomeMismatches} in outcomes, ${k.unpaired} unpaired snapshots, ${k.settingsMismatches} in settings)` : '');
  const tail = `${agree} of ${scripts} scripts agree${skipped ? `, ${skipped} skipped` : ''}`;
  return `diff: ${parts.join(', ')}: ${k.mismatches ? paint(mism, RED, color) : mism}; ${tail}`;
}
