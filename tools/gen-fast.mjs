#!/usr/bin/env node
// Compiles the interleavable model (src/mm, kernel paths written as generators that `yield*` into
// scheduling-point primitives) into straight-line code (src/mm-fast) for replay speed.
//
// One source, two builds: the explorer steps the generator form; `ptlab run`, workloads and
// benchmarks call the straight-line form, which is the same code with every `function*` turned
// into `function` and every `yield* f(...)` into `(f(...))`. A module `X.fast.ts` replaces `X.ts`
// in the straight-line build: that is where the primitives (locks, entry loads and stores, RCU,
// TLB flushes, scheduler choices) get their non-yielding implementations.
//
// Line for line: the rewrite edits the source text in place and never adds or removes a line, so
// line N of src/mm-fast/X.ts is line N of src/mm/X.ts (of X.fast.ts for a primitives module), and
// a stack trace from the straight-line build points at the model's source line.
//
// Shared, not copied: a module with no generator that imports (at run time) only such modules is
// the same code in both builds; src/mm-fast/X.ts re-exports src/mm/X.ts. The builds then share the
// model's data types (Kernel, MmStruct, the page-table pool...) and `current`, so one `ModelApi`
// type (src/mm/api.ts) describes both builds' api.ts.
//
// It also refuses two mistakes the type checker cannot see: calling a generator (any call whose
// type is `KGen`/`Generator`, however the function was declared) without `yield*` (the call would
// silently do nothing in the generator build), and a bare `yield` outside a primitives module.
//
// `--check`: write nothing; exit 1, naming the files, if src/mm-fast differs from what this
// generator makes (run by `npm test`).
import ts from 'typescript';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'src/mm');
const outDir = path.join(root, 'src/mm-fast');
const checkOnly = process.argv.includes('--check');

function walk(dir) {
  const out = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

const files = walk(srcDir);
const { config } = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, root);
const program = ts.createProgram(files, { ...options, types: [], noEmit: true }); // src/mm uses nothing of node
const checker = program.getTypeChecker();
const sourceOf = (f) => program.getSourceFile(f);

const errors = [];
function where(sf, node) {
  const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return `${path.relative(root, sf.fileName)}:${line + 1}:${character + 1}`;
}
const isGeneratorFn = (n) => (ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n) || ts.isMethodDeclaration(n)) && !!n.asteriskToken;

/** A call whose result is a kernel path: its type is KGen<T> (= Generator<Step, T, unknown>). */
function returnsGenerator(call) {
  const sig = checker.getResolvedSignature(call);
  if (!sig) return false;
  const t = checker.getReturnTypeOfSignature(sig);
  return t.aliasSymbol?.name === 'KGen' || t.getSymbol()?.name === 'Generator';
}

function check(sf, isPrimitives) {
  const visit = (n) => {
    if (ts.isYieldExpression(n) && !n.asteriskToken && !isPrimitives) {
      errors.push(`${where(sf, n)}: bare \`yield\` outside a primitives module; yield* into a primitive instead`);
    }
    if (ts.isCallExpression(n) && returnsGenerator(n)) {
      const parent = n.parent;
      const delegated = parent && ts.isYieldExpression(parent) && parent.asteriskToken && parent.expression === n;
      if (!delegated && !isAllowedUndelegated(sf, n)) {
        errors.push(`${where(sf, n)}: generator \`${n.expression.getText(sf)}\` called without \`yield*\``);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}
// A call may stay undelegated where a generator object is wanted on purpose (a task body handed to
// a scheduler): mark it with a `/* task */` comment right before the call.
function isAllowedUndelegated(sf, call) {
  const text = sf.text.slice(Math.max(0, call.getFullStart()), call.getStart(sf));
  return /\/\*\s*task\s*\*\//.test(text);
}

/** The straight-line text: `function*` → `function`, `yield* e` → `(e)`, every line kept. */
function straightLine(sf) {
  const edits = []; // [start, end, replacement]
  const visit = (n) => {
    if (isGeneratorFn(n)) {
      const star = n.asteriskToken;
      const s = star.getStart(sf);
      const spaced = /\s/.test(sf.text[s - 1]) || /\s/.test(sf.text[s + 1]);
      edits.push([s, star.getEnd(), spaced ? '' : ' ']);
    }
    if (ts.isYieldExpression(n) && n.asteriskToken && n.expression) {
      const s = n.getStart(sf);
      const e = n.expression.getStart(sf);
      edits.push([s, e, '(' + sf.text.slice(s, e).replace(/[^\n]/g, '')]);
      edits.push([n.expression.getEnd(), n.expression.getEnd(), ')']);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  edits.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  let text = sf.text;
  for (const [s, e, r] of edits) text = text.slice(0, s) + r + text.slice(e);
  return text;
}

// Which modules both builds share: no generator, no `.fast.ts` twin, and only shared modules
// imported for their values (type-only imports are erased).
const info = new Map();
for (const file of files) {
  if (file.endsWith('.fast.ts')) continue;
  const sf = sourceOf(file);
  let hasGenerator = false;
  const visit = (n) => {
    if (isGeneratorFn(n)) hasGenerator = true;
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const imports = [];
  for (const s of sf.statements) {
    if (!(ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) || !s.moduleSpecifier) continue;
    const spec = s.moduleSpecifier.text;
    if (!spec.startsWith('.')) continue;
    const clause = ts.isImportDeclaration(s) ? s.importClause : undefined;
    const typeOnly = ts.isImportDeclaration(s)
      ? !!clause && (clause.isTypeOnly || (!clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.every((e) => e.isTypeOnly)))
      : s.isTypeOnly || (!!s.exportClause && ts.isNamedExports(s.exportClause) && s.exportClause.elements.every((e) => e.isTypeOnly));
    if (!typeOnly) imports.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  info.set(file, { hasGenerator, imports, isPrimitives: fs.existsSync(file.replace(/\.ts$/, '.fast.ts')) });
}
const shared = new Map();
function isShared(file, visiting = new Set()) {
  if (shared.has(file)) return shared.get(file);
  if (visiting.has(file)) return true; // an import cycle is shared if nothing else in it breaks it
  visiting.add(file);
  const i = info.get(file);
  let ok = !i.hasGenerator && !i.isPrimitives;
  for (const dep of i.imports) if (!isShared(dep, visiting)) ok = false;
  visiting.delete(file);
  if (visiting.size === 0) shared.set(file, ok);
  return ok;
}

const outputs = new Map();
for (const [file, i] of info) {
  const rel = path.relative(srcDir, file).replace(/\\/g, '/');
  const sf = sourceOf(file);
  check(sf, i.isPrimitives);
  const out = path.join(outDir, rel);
  let text;
  if (isShared(file)) {
    const target = path.relative(path.dirname(out), file).replace(/\\/g, '/').replace(/\.ts$/, '.js');
    text = `// GENERATED by tools/gen-fast.mjs: src/mm/${rel} has no kernel path, so both builds share it. Do not edit.\nexport * from '${target}';\n`;
  } else {
    const from = i.isPrimitives ? `src/mm/${rel.replace(/\.ts$/, '.fast.ts')}` : `src/mm/${rel}`;
    const body = i.isPrimitives ? fs.readFileSync(file.replace(/\.ts$/, '.fast.ts'), 'utf8') : straightLine(sf);
    text = `/* GENERATED by tools/gen-fast.mjs from ${from}, line for line: do not edit. */ ${body}`;
  }
  outputs.set(out, text);
}

if (errors.length) {
  for (const e of errors) console.error(e);
  console.error(`gen-fast: ${errors.length} error(s); src/mm-fast not written`);
  process.exit(1);
}

// What differs between src/mm-fast and what src/mm generates: files to write, files to delete.
const onDisk = fs.existsSync(outDir) ? walk(outDir) : [];
const stale = [...outputs].filter(([out, text]) => !fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== text);
const extra = onDisk.filter((f) => !outputs.has(f));

if (checkOnly) {
  const differ = [
    ...stale.map(([out]) => `${path.relative(root, out)}: ${fs.existsSync(out) ? 'differs' : 'missing'}`),
    ...extra.map((f) => `${path.relative(root, f)}: not generated from src/mm`),
  ];
  if (differ.length) {
    for (const d of differ) console.error(d);
    console.error(`gen-fast --check: ${differ.length} file(s) of src/mm-fast are not what src/mm generates; run node tools/gen-fast.mjs`);
    process.exit(1);
  }
  console.error(`gen-fast --check: ${outputs.size} modules of src/mm-fast up to date`);
  process.exit(0);
}

// Only what changed is written (a test run reading src/mm-fast meanwhile never sees it missing).
for (const f of extra) fs.rmSync(f);
for (const [out, text] of stale) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
}
const nShared = [...info.keys()].filter((f) => isShared(f)).length;
console.error(`gen-fast: ${outputs.size} modules -> ${path.relative(root, outDir)} (${nShared} shared with src/mm, ${stale.length} written, ${extra.length} removed)`);
