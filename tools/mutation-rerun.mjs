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
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      const line = m.location.start.line;
      if (!ranges.some((r) => r.file === file && line >= r.first && line <= r.last)) continue;
      const id = `${line}:${m.location.start.column} ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`;
      if (!out.has(file)) out.set(file, new Map());
      out.get(file).set(id, { mutatorName: m.mutatorName, replacement: m.replacement, status: m.status, location: m.location });
    }
  }
}
const files = Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)).map(([f, ms]) => [f, { mutants: [...ms.values()] }]));
process.stdout.write(JSON.stringify({ files }, null, 1) + '\n');
