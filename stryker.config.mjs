// StrykerJS over the synchronisation code of src/mm, killed by the kill suite of
// test/mutation/ (the shipped scenarios and a fixed swarm corpus; vitest.mutation.config.ts).
// `npm run mutation` runs it and writes bench/MUTATION.md (src/bench/mutation.ts). A benchmark,
// not a CI step: one run takes hours on two cores. Incremental: an interrupted or repeated run
// reuses the results of unchanged mutants and tests (bench/mutation/incremental.json).
import fs from 'node:fs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  // The files to mutate: bench/mutation/files.json (the report says which of them a run covered),
  // or PTLAB_MUTATE=a.ts,b.ts for a narrower run.
  mutate: process.env.PTLAB_MUTATE?.split(',') ?? JSON.parse(fs.readFileSync('bench/mutation/files.json', 'utf8')),
  // Text of messages and names is not synchronisation: a mutated message changes no verdict.
  mutator: { excludedMutations: ['StringLiteral', 'Regex'] },
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  concurrency: Number(process.env.PTLAB_MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 60_000,
  incremental: true,
  incrementalFile: 'bench/mutation/incremental.json',
  reporters: ['progress-append-only', 'json'],
  jsonReporter: { fileName: 'bench/mutation/report.json' },
  ignorePatterns: ['dist', 'examples', 'bench', 'web', 'docs', '.stryker-tmp', 'test/browser'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
