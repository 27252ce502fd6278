#!/usr/bin/env node
// Entry point of the `ptlab` command. Runs the compiled build in dist/ (made by `npm install` /
// `npm run build`): plain ESM runs the model several times faster than an on-the-fly TS loader.
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('ptlab: dist/ is missing: run `npm install` (or `npm run build`) first\n');
  process.exit(4);
}
await import(main);
