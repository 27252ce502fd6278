#!/usr/bin/env node
/**
 * Regenerate the shipped examples (examples/*.json and examples/index.json) that `ptlab serve`
 * lists and the browser tests open. Run after a change to the model, the explorer or the
 * document schemas: `npm run examples` (about a minute).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'examples');
const ptlab = (args, okCodes = [0]) => {
  try {
    return execFileSync(process.execPath, [path.join(root, 'bin/ptlab.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    if (okCodes.includes(e.status)) return e.stdout;
    throw e;
  }
};

const examples = [
  ...[
    ['retract_vs_dontneed', 'R3: khugepaged retract vs MADV_DONTNEED reclaim, without the PMD-state recheck: a PTE lock taken from an empty PMD'],
    ['fastpath_after_unlock', 'R6: the reclaim fast path clears the PMD after dropping the PTE lock: a fault maps a page into a detached table'],
    ['wrong_flush_addr', 'R9: freeing a table with a flush of the wrong range (arm64-like walk cache): a CPU walks a freed table'],
  ].map(([name, about]) => {
    const file = `${name}.explore.json`;
    fs.writeFileSync(path.join(dir, file), ptlab(['explore', name, '--guard-off', '--json'], [1]));
    return { file, about };
  }),
  (() => {
    const file = 'cover-letter.report.json';
    ptlab(['replay', '--generate', 'cover-letter', '--param', 'rounds=2560', '-o', path.join(dir, file)]);
    return { file, about: 'the cover-letter test at 1/10 size, replayed with PT_RECLAIM off and on' };
  })(),
  (() => {
    const file = 'heap.report.json';
    ptlab(['replay', '--generate', 'heap', '--param', 'arena=256M,ops=20000,seed=1', '--variants', 'off,on,on+round-out', '-o', path.join(dir, file)]);
    return { file, about: 'an allocator-like heap: PT_RECLAIM off, on, and on with round-out purging' };
  })(),
  (() => {
    const file = 'dontneed-half-blocks.run.json';
    ptlab(['run', 'scripts/dontneed-half-blocks.pt', '--timeline', path.join(dir, file)]);
    return { file, about: 'op script scripts/dontneed-half-blocks.pt: the address space after every op' };
  })(),
];
fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(examples, null, 2) + '\n');
console.log(`wrote ${examples.length} examples to ${dir}`);
