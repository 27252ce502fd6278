#!/usr/bin/env node
// Builds bench/mutation/rerun.json from StrykerJS runs narrowed to some lines
// (PTLAB_MUTATE=src/mm/a.ts:98-98,... npx stryker run --force; without --force a mutant whose
// covering tests Stryker thinks unchanged keeps its incremental result): each such run's report also lists the
// mutants it did not test (reused from the incremental file), so only the mutants on the lines it
// was given are kept. `ptlab bench --mutation` puts their statuses over the full run's
// (src/bench/mutation.ts mergeRerun(); docs/explorer.md, "Mutation score").
//
//   node tools/mutation-rerun.mjs RANGES REPORT [RANGES REPORT ...] > bench/mutation/rerun.json
//
// RANGES is the PTLAB_MUTATE value of that run (file:FIRST-LAST, comma-separated); a later pair
// wins over an earlier one for a mutant both tested.
import fs from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2) {
  process.stderr.write('usage: node tools/mutation-rerun.mjs RANGES REPORT [RANGES REPORT ...] > bench/mutation/rerun.json\n');
  process.exit(2);
}
const out = new Map(); // file -> Map(id -> mutant)
const sources = new Map(); // file -> source, for files the last run that tested them covered whole
for (let i = 0; i < args.length; i += 2) {
  const ranges = args[i].split(',').map((r) => {
    const m = /^(.+):(\d+)-(\d+)$/.exec(r);
    if (!m) {
      process.stderr.write(`mutation-rerun: bad range '${r}' (expected file:FIRST-LAST)\n`);
      process.exit(2);
    }
    return { file: m[1], first: Number(m[2]), last: Number(m[3]) };
  });
  let report;
  try {
    report = JSON.parse(fs.readFileSync(args[i + 1], 'utf8'));
    if (typeof report?.files !== 'object' || report.files === null) throw new Error('no "files" object');
  } catch (e) {
    process.stderr.write(`mutation-rerun: ${args[i + 1]}: expected the JSON report of a StrykerJS run (${e.message})\n`);
    process.exit(2);
  }
  for (const [file, { mutants, source }] of Object.entries(report.files)) {
    // A run over the whole file keeps the file's source: if the file has changed since the full
    // run, its mutants then replace the full run's instead of being matched to them by position.
    const whole = source !== undefined && ranges.some((r) => r.file === file && r.first <= 1 && r.last >= source.split('\n').length);
    if (whole) sources.set(file, source);
    else if (ranges.some((r) => r.file === file)) sources.delete(file);
    for (const m of mutants) {
      const line = m.location.start.line;
      if (!ranges.some((r) => r.file === file && line >= r.first && line <= r.last)) continue;
      // The end too: mutants of one start, mutator and replacement differ by the code they replace
      // (`a || b` -> `false` and `a` -> `false`), and StrykerJS may decide them differently.
      const end = m.location.end ? `-${m.location.end.line}:${m.location.end.column}` : '';
      const id = `${line}:${m.location.start.column}${end} ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`;
      if (!out.has(file)) out.set(file, new Map());
      out.get(file).set(id, { mutatorName: m.mutatorName, replacement: m.replacement, status: m.status, location: m.location });
    }
  }
}
const files = Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)).map(([f, ms]) => [f, { mutants: [...ms.values()], ...(sources.has(f) && { source: sources.get(f) }) }]));
process.stdout.write(JSON.stringify({ files }, null, 1) + '\n');
