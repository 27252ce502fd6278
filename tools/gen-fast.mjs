#!/usr/bin/env node
// Compiles the interleavable model (src/mm, kernel paths written as generators that `yield*` into
// scheduling-point primitives) into straight-line code (src/mm-fast) for replay speed.
//
// One source, two builds: the explorer steps the generator form; `ptlab run`, workloads and
// benchmarks call the straight-line form, which is the same code with every `function*` turned
// into `function` and every `yield* f(...)` into `f(...)`. A module `X.fast.ts` replaces `X.ts`
// in the straight-line build: that is where the primitives (locks, entry loads and stores, RCU,
// TLB flushes, scheduler choices) get their non-yielding implementations.
//
// It also refuses two mistakes the type checker cannot see: calling a generator without `yield*`
// (the call would silently do nothing in the generator build) and a bare `yield` outside a
// primitives module.
import ts from 'typescript';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'src/mm');
const outDir = path.join(root, 'src/mm-fast');

function walk(dir) {
  const out = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const files = walk(srcDir);
const parsed = new Map(files.map((f) => [f, ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true)]));

// Names of every generator function and generator method in src/mm.
const genNames = new Set();
for (const sf of parsed.values()) {
  const visit = (n) => {
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.asteriskToken && n.name) genNames.add(n.name.getText(sf));
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

const errors = [];
function where(sf, node) {
  const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return `${path.relative(root, sf.fileName)}:${line + 1}:${character + 1}`;
}
function calleeName(call) {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}

function check(sf, isPrimitives) {
  const visit = (n) => {
    if (ts.isYieldExpression(n) && !n.asteriskToken && !isPrimitives) {
      errors.push(`${where(sf, n)}: bare \`yield\` outside a primitives module; yield* into a primitive instead`);
    }
    if (ts.isCallExpression(n)) {
      const name = calleeName(n);
      const parent = n.parent;
      const delegated = parent && ts.isYieldExpression(parent) && parent.asteriskToken && parent.expression === n;
      if (name && genNames.has(name) && !delegated && !isAllowedUndelegated(n)) {
        errors.push(`${where(sf, n)}: generator \`${name}\` called without \`yield*\``);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}
// A call may stay undelegated where a generator object is wanted on purpose (a task body handed to
// a scheduler): mark it with a `/* task */` comment right before the call.
function isAllowedUndelegated(call) {
  const sf = call.getSourceFile();
  const text = sf.text.slice(Math.max(0, call.getFullStart()), call.getStart(sf));
  return /\/\*\s*task\s*\*\//.test(text);
}

const transformer = (ctx) => (sf) => {
  const visit = (n) => {
    if (ts.isYieldExpression(n) && n.asteriskToken && n.expression) {
      return ts.factory.createParenthesizedExpression(ts.visitNode(n.expression, visit));
    }
    if (ts.isFunctionDeclaration(n) && n.asteriskToken) {
      return ts.factory.updateFunctionDeclaration(n, n.modifiers, undefined, n.name, n.typeParameters,
        ts.visitNodes(n.parameters, visit), n.type, ts.visitNode(n.body, visit));
    }
    if (ts.isFunctionExpression(n) && n.asteriskToken) {
      return ts.factory.updateFunctionExpression(n, n.modifiers, undefined, n.name, n.typeParameters,
        ts.visitNodes(n.parameters, visit), n.type, ts.visitNode(n.body, visit));
    }
    if (ts.isMethodDeclaration(n) && n.asteriskToken) {
      return ts.factory.updateMethodDeclaration(n, n.modifiers, undefined, n.name, n.questionToken, n.typeParameters,
        ts.visitNodes(n.parameters, visit), n.type, ts.visitNode(n.body, visit));
    }
    return ts.visitEachChild(n, visit, ctx);
  };
  return ts.visitNode(sf, visit);
};

const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
const outputs = new Map();
for (const [file, sf] of parsed) {
  const rel = path.relative(srcDir, file);
  if (rel.endsWith('.fast.ts')) continue;
  const fastTwin = file.replace(/\.ts$/, '.fast.ts');
  const isPrimitives = fs.existsSync(fastTwin);
  check(sf, isPrimitives);
  let text;
  if (isPrimitives) {
    text = fs.readFileSync(fastTwin, 'utf8');
  } else {
    const res = ts.transform(sf, [transformer]);
    text = printer.printFile(res.transformed[0]);
    res.dispose();
  }
  const header = `// GENERATED by tools/gen-fast.mjs from src/mm/${rel.replace(/\\/g, '/')}${isPrimitives ? ' (its .fast.ts twin)' : ''}: do not edit.\n`;
  outputs.set(path.join(outDir, rel), header + text);
}

if (errors.length) {
  for (const e of errors) console.error(e);
  console.error(`gen-fast: ${errors.length} error(s); src/mm-fast not written`);
  process.exit(1);
}

fs.rmSync(outDir, { recursive: true, force: true });
for (const [out, text] of outputs) {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
}
console.error(`gen-fast: ${outputs.size} modules -> ${path.relative(root, outDir)}`);
