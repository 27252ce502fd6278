// Lint for ptlab, and the one place that says how its parts may depend on each other.
//
// Layers: each folder of src/ may import only the folders listed in LAYERS for it, and a folder
// may only list folders that come before it, so the folders form no cycle (checked below, before
// ESLint runs). Read from the top: the bottom of the stack first.
//
//   util       pieces shared by the inputs and outputs (line reading, interval maps, the atomic
//              writer, the seeded PRNG); knows no other part of ptlab.
//   mm         the model. Pure (no I/O, clock, randomness; see the rule below): whoever drives it
//              comes to it, never the other way round. mm-fast is generated from it.
//   explore    the interleaving explorer. Knows nothing about page tables: a `System` is its only
//              view of a model, so it imports neither mm nor scenarios.
//   script     the op-script language: AST, parser, executor on either build, its JSON output lines.
//   oracle     the live kernel running the same scripts, and the model/kernel diff.
//   trace      the workload trace format, and a trace as an op script.
//   record     `ptlab record`: perf output and the exec watcher as a trace.
//   workloads  replay of traces on the model, generators, policies, the cover-letter test.
//   report     a replay report as plots, HTML and Markdown.
//   view       what the web view reads: snapshots of the model, the documents' schemas.
//   scenarios  race scenarios: the model's kernel paths as a System for the explorer.
//   swarm      generated scenarios, campaigns, shrinking.
//   bench      the benchmarks.
//   cli        the `ptlab` command: the only part that touches the process (argv, exit codes,
//              signals, files named on the command line).
//   fuzz       the fuzz suite, which drives the CLI in-process.
// Only script, workloads and bench run the straight-line build (mm-fast); everything else that
// steps kernel paths uses the generator build. web/ (the browser) may use what runs in a browser.
// Tests may import anything.
//
// Enforced with eslint-plugin-import-x: `no-restricted-paths` zones (resolved paths, so every
// depth of `../` is covered) and `no-cycle` between modules, src/mm included: what several of
// its files share lives in src/mm/internal.ts, as in the kernel's mm/internal.h.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import noModuleState from './tools/eslint/no-module-state.js';

/** folder of src/ → the folders of src/ it may import. */
const LAYERS = {
  util: [],
  mm: [],
  'mm-fast': ['mm'],
  explore: ['util'],
  script: ['mm', 'mm-fast', 'util'],
  oracle: ['mm', 'script', 'util'],
  trace: ['mm', 'script', 'util'],
  record: ['oracle', 'trace', 'util'],
  workloads: ['mm', 'mm-fast', 'script', 'trace', 'util'],
  report: ['workloads', 'util'],
  view: ['explore', 'mm', 'report', 'script', 'workloads', 'util'],
  scenarios: ['explore', 'mm', 'script', 'view', 'util'],
  swarm: ['explore', 'mm', 'scenarios', 'script', 'util'],
  bench: ['explore', 'mm', 'mm-fast', 'oracle', 'scenarios', 'script', 'swarm', 'workloads', 'util'],
  cli: ['bench', 'explore', 'mm', 'oracle', 'record', 'report', 'scenarios', 'script', 'swarm', 'trace', 'util', 'view', 'workloads'],
  fuzz: ['bench', 'cli', 'explore', 'mm', 'oracle', 'record', 'report', 'scenarios', 'script', 'swarm', 'trace', 'util', 'view', 'workloads'],
};
/** Modules outside src/mm and src/explore whose header says they are pure (no I/O, no clock). */
export const PURE_MODULES = [
  'src/util/lines.ts',
  'src/script/exec.ts',
  'src/workloads/replay.ts',
  'src/scenarios/explain.ts',
  'src/swarm/job.ts',
  'src/record/perf_script.ts',
  'src/record/watch.ts',
  'src/record/convert.ts',
  'src/oracle/diff.ts',
  'src/swarm/search.ts',
  'src/trace/to_script.ts',
  'src/view/docs.ts',
];
/** What the web view (web/src, bundled for the browser) may import from src/. */
const WEB_MAY_IMPORT = ['explore', 'mm', 'report', 'scenarios', 'script', 'util', 'view', 'workloads'];

const folders = Object.keys(LAYERS);
folders.forEach((f, i) => {
  for (const dep of LAYERS[f]) {
    if (!(folders.indexOf(dep) < i)) throw new Error(`eslint.config.js: LAYERS: ${f} may import ${dep}, which does not come before it`);
  }
});
const zone = (target, allowed, who) => ({
  target,
  from: folders.filter((g) => !allowed.includes(g) && `./src/${g}` !== target).map((g) => `./src/${g}`),
  message: `${who} may import only ${allowed.length ? allowed.join(', ') : 'nothing else of src/'} (layers: eslint.config.js)`,
});
const zones = [
  ...folders.filter((f) => f !== 'mm-fast').map((f) => zone(`./src/${f}`, LAYERS[f], `src/${f}`)),
  zone('./web', WEB_MAY_IMPORT, 'the web view'),
];

export default tseslint.config(
  { ignores: ['node_modules', 'src/mm-fast', 'dist', 'out', 'runner/build', '.stryker-tmp'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'prefer-const': 'error',
    },
  },
  {
    // The layers above, and no import cycles.
    files: ['src/**/*.ts', 'web/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // The model is pure: no clock, no randomness, no I/O, so that the same decisions give the same
    // steps (docs/explorer.md, "Why a \"clean\" can be trusted"). So is every module whose header
    // says it is (PURE_MODULES).
    files: ['src/mm/**/*.ts', 'src/explore/**/*.ts', ...PURE_MODULES],
    rules: {
      'no-restricted-globals': ['error', 'Date', 'performance', 'process', 'console', 'setTimeout', 'setInterval'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'the model is deterministic; take choices from the scheduler or the config' }],
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'path', 'child_process'] }],
    },
  },
  {
    // Page flags bit by bit (PhysMem.testFlags()/setFlags()/clearFlags()), so that the explorer's
    // race check sees which bits a step touches (src/scenarios/access_check.ts).
    files: ['src/**/*.ts'],
    ignores: ['src/mm/page_alloc.ts', 'src/mm-fast/**'],
    rules: {
      'no-restricted-syntax': ['error', { selector: "MemberExpression[computed=true] > MemberExpression.object[property.name='flags']", message: 'page flags: use mem.testFlags()/setFlags()/clearFlags()' }],
    },
  },
  {
    // Code the explorer re-runs in one process: a run may depend only on its decisions.
    files: ['src/mm/**/*.ts', 'src/explore/**/*.ts', 'src/scenarios/**/*.ts'],
    plugins: { ptlab: { rules: { 'no-module-state': noModuleState } } },
    rules: { 'ptlab/no-module-state': 'error' },
  },
);
