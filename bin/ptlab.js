#!/usr/bin/env node
// Entry point of the `ptlab` command. Runs the compiled build in dist/ (made by `npm install` /
// `npm run build`): plain ESM runs the model several times faster than an on-the-fly TS loader.
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import v8 from 'node:v8';

// A modelled page fault or zap is a deep chain of small kernel functions. V8's default budget of
// bytecode inlined into one optimized function (920 bytes) runs out halfway down that chain;
// 4000 made faults about 13 % and MADV_DONTNEED about 9 % faster here (min of 25 rounds of
// 256 MiB). Set before any model code is compiled; it changes speed only, never results.
v8.setFlagsFromString('--max-inlined-bytecode-size-cumulative=4000');
// Stack traces point into src/ (dist/ carries source maps): a trace names each step's model
// source line from its stack (src/mm/where.ts), and a crash report reads as the source does.
process.setSourceMapsEnabled(true);

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('ptlab: dist/ is missing: run `npm install` (or `npm run build`) first\n');
  process.exit(4);
}
await import(main);
