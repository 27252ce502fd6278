import { defineConfig } from 'vitest/config';

// The mutation benchmark's kill suite (test/mutation/*.kill.ts), run by StrykerJS through
// `npm run mutation` (stryker.config.mjs; bench/MUTATION.md). Not part of `npm test`.
export default defineConfig({
  test: {
    include: ['test/mutation/**/*.kill.ts'],
    testTimeout: 120_000,
    pool: 'forks',
  },
});
