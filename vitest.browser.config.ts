/**
 * `npm run test:browser`: the web view in a real browser (Debian's chromium driven by
 * playwright-core), against pages served by `ptlab serve`. Separate from `npm test` because it
 * needs the chromium package, which .ci/run installs.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    reporters: ['default', './test/support/count-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One browser at a time: two cores, and each test file starts its own server and browser.
    fileParallelism: false,
  },
});
