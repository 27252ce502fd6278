// StrykerJS over the synchronisation code of src/mm, killed by the kill suite of
// test/mutation/ (the shipped scenarios and a fixed swarm corpus; vitest.mutation.config.ts).
// `npm run mutation` runs it and writes bench/MUTATION.md (src/bench/mutation.ts). A benchmark,
// not a CI step: one run takes hours on two cores. Incremental: an interrupted or repeated run
// reuses the results of unchanged mutants and tests (bench/mutation/incremental.json).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: (process.env.PTLAB_MUTATE ?? [
    'src/mm/pt_reclaim.ts',
    'src/mm/memory/zap.ts',
    'src/mm/memory/fault.ts',
    'src/mm/pgtable_generic.ts',
    'src/mm/mmu_gather.ts',
    'src/mm/khugepaged.ts',
    'src/mm/gup.ts',
    'src/mm/userfaultfd.ts',
    'src/mm/page_vma_mapped.ts',
    'src/mm/rmap.ts',
    'src/mm/sync.ts',
    'src/mm/rcu.ts',
    'src/mm/ptlock.ts',
    'src/mm/mmap_lock.ts',
    'src/mm/primitives.ts',
  ].join(',')).split(','),
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
