/**
 * The live kernel as oracle: every shipped script, and random small scripts, run on the model and
 * on this machine's kernel (runner/ptlab-runner.c) must agree on every compared field of every
 * snapshot and on where each run stops (src/oracle/diff.ts).
 *
 * Needs Linux with CONFIG_PT_RECLAIM, a C compiler and writable THP sysfs (root). Elsewhere every
 * test here is skipped, with the reason in its name.
 *
 * Both parts live in this one file on purpose: vitest runs the tests of a file one after the other,
 * and the runner's sysfs lock (flock in the runner) then never has to make a script wait.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareScript, prepareScript, runKernelQuietly } from '../../src/oracle/compare.js';
import { describeMismatches, diffRuns } from '../../src/oracle/diff.js';
import { kernelOracleAvailable } from '../../src/oracle/kernel.js';
import { ERR_NAMES, formatScriptError, type Advice } from '../../src/script/ast.js';
import { runScript } from '../../src/script/exec.js';
import { safeParseScript } from '../../src/script/parse.js';
import { readScript, shippedScripts } from './scripts.js';

const avail = kernelOracleAvailable();
const skipped = !avail.ok;
const why = avail.ok ? '' : ` [skipped: ${avail.reason}]`;
if (!avail.ok) console.log(`kernel-agreement: skipped: this machine cannot serve as the kernel oracle: ${avail.reason}`);
else if (avail.note) console.log(`kernel-agreement: note: ${avail.note}`);

describe('shipped scripts: model == kernel', () => {
  for (const rel of shippedScripts()) {
    it.skipIf(skipped)(`${rel} agrees with the kernel${why}`, async () => {
      const p = prepareScript(rel, readScript(rel));
      if (!p.ok) expect.fail(p.errors.map(formatScriptError).join('\n'));
      const c = await compareScript(p.prepared, { checkInvariants: true });
      const kernelErr = c.kernel.lines.find((l) => l.type === 'error');
      // The script's own numbers were measured on the kernel: a kernel failure means the script
      // (or the kernel) changed, not the model.
      expect(c.kernel.exitCode, kernelErr?.type === 'error' ? `kernel: ${rel}:${kernelErr.line}: ${kernelErr.message}\n${c.kernel.stderr}` : c.kernel.stderr).toBe(0);
      expect(c.diff.ok, describeMismatches(c.diff, rel)).toBe(true);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Random scripts

/** What a generated mapping is. Sizes are small so that a run takes milliseconds on both sides. */
interface GenMap {
  kind: 'anon private' | 'anon shared' | 'shmem shared' | 'shmem private';
  pages: number;
  flag: '' | 'hugepage' | 'nohugepage' | 'locked';
}

interface GenOp {
  proc: number;
  /** index into the process's maps (taken modulo their number) */
  map: number;
  what: 'touch read' | 'touch write' | 'unmap' | 'mlock' | 'munlock' | `madvise ${Advice}`;
  /** range in pages, relative and clamped to the mapping */
  start: number;
  len: number;
}

interface GenScript {
  memfdPages: number;
  procs: GenMap[][];
  ops: GenOp[];
}

const BLOCK = 512; // pages per 2 MiB block
const MEMFD_PAGES = [BLOCK, 2 * BLOCK, 4 * BLOCK, 16 * BLOCK]; // 2..64 MiB

/** A page count that is often a whole number of 2 MiB blocks, sometimes not. */
const pagesArb = fc.oneof(
  fc.constantFrom(16, BLOCK, 2 * BLOCK, 3 * BLOCK, 4 * BLOCK),
  fc.integer({ min: 1, max: 4 * BLOCK }),
);

const mapArb: fc.Arbitrary<GenMap> = fc.record({
  kind: fc.constantFrom('anon private', 'anon private', 'anon shared', 'shmem shared', 'shmem private') as fc.Arbitrary<GenMap['kind']>,
  pages: pagesArb,
  flag: fc.constantFrom('', '', '', 'hugepage', 'hugepage', 'nohugepage', 'locked') as fc.Arbitrary<GenMap['flag']>,
});

/** Advice, weighted toward what frees or fills tables. */
const ADVICE_ARB = fc.constantFrom<Advice>(
  'dontneed', 'dontneed', 'dontneed', 'dontneed_locked', 'free', 'hugepage', 'nohugepage',
  'populate_read', 'populate_write', 'guard_install', 'guard_remove', 'collapse',
);

/** A page offset within a mapping: block boundaries and their neighbours are favoured. */
const edgeArb = fc.oneof(
  fc.integer({ min: 0, max: 4 }).map((b) => b * BLOCK),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1, 256)).map(([b, d]) => Math.max(0, b * BLOCK + d)),
  fc.integer({ min: 0, max: 4 * BLOCK }),
);

const opArb: fc.Arbitrary<GenOp> = fc.record({
  proc: fc.nat(1),
  map: fc.nat(2),
  what: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('touch read', 'touch write', 'touch write') as fc.Arbitrary<GenOp['what']> },
    { weight: 5, arbitrary: ADVICE_ARB.map((a) => `madvise ${a}` as const) },
    { weight: 1, arbitrary: fc.constantFrom('unmap', 'mlock', 'munlock') as fc.Arbitrary<GenOp['what']> },
  ),
  start: edgeArb,
  len: fc.oneof(fc.constantFrom(1, 256, BLOCK, 2 * BLOCK), edgeArb),
});

const scriptArb: fc.Arbitrary<GenScript> = fc.record({
  memfdPages: fc.constantFrom(...MEMFD_PAGES),
  procs: fc.array(fc.array(mapArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 10 }),
});

/** The script text. `errs` maps a script line to the err= the kernel produced there. */
function renderScript(g: GenScript, errs: ReadonlyMap<number, string> = new Map()): string {
  const lines: string[] = [`memfd F ${g.memfdPages * 4}K`];
  const push = (l: string) => {
    const err = errs.get(lines.length + 1);
    lines.push(err ? `${l} err=${err}` : l);
  };
  const sizes: number[][] = g.procs.map((maps) =>
    maps.map((m) => (m.kind.startsWith('shmem') ? Math.min(m.pages, g.memfdPages) : m.pages)));
  g.procs.forEach((maps, p) => {
    push(`process P${p}`);
    maps.forEach((m, i) => {
      const size = `${sizes[p][i] * 4}K`;
      const flag = m.flag ? ` ${m.flag}` : '';
      if (m.kind.startsWith('shmem')) push(`map M${i} shmem F 0 ${size} ${m.kind.split(' ')[1]}${flag}`);
      else push(`map M${i} ${m.kind} ${size}${flag}`);
    });
  });
  let cur = g.procs.length - 1;
  for (const op of g.ops) {
    const p = op.proc % g.procs.length;
    if (p !== cur) {
      push(`switch P${p}`);
      cur = p;
    }
    const i = op.map % g.procs[p].length;
    const pages = sizes[p][i];
    const start = Math.min(op.start, pages - 1);
    const len = Math.max(1, Math.min(op.len, pages - start));
    const range = `M${i} ${start * 4}K ${len * 4}K`;
    const [verb, arg] = op.what.split(' ');
    push(verb === 'touch' ? `touch ${range} ${arg}` : verb === 'madvise' ? `madvise ${range} ${arg}` : `${verb} ${range}`);
    push(`snapshot s${lines.length + 1} M${i} 0 ${pages * 4}K`);
  }
  return lines.join('\n') + '\n';
}

const MODEL_ERRS: readonly string[] = ERR_NAMES;

/**
 * Runs a generated script on the kernel first and marks every op that failed there with the
 * failure it produced (err=), so the run goes on past it; then the model and the kernel run the
 * marked script and must agree on every snapshot and on every op's outcome.
 */
async function checkGenerated(g: GenScript): Promise<{ text: string; problem?: string }> {
  const errs = new Map<number, string>();
  for (let round = 0; ; round++) {
    const text = renderScript(g, errs);
    const k = await runKernelQuietly({ text });
    const stop = k.run.lines.find((l) => l.type === 'error');
    const got = stop?.type === 'error' ? /: got (\S+), expected success$/.exec(stop.message)?.[1] : undefined;
    if (stop?.type === 'error' && got && MODEL_ERRS.includes(got) && !errs.has(stop.line) && round < 20) {
      errs.set(stop.line, got);
      continue;
    }
    const parsed = safeParseScript(text, 'generated.pt');
    if (!parsed.ok) return { text, problem: `the generator wrote a bad script:\n${parsed.errors.map(formatScriptError).join('\n')}` };
    const model = runScript(parsed.script, { checkInvariants: true });
    const d = diffRuns(model.lines, k.run.lines);
    if (k.run.status === 'internal' || k.run.status === 'killed') return { text, problem: `kernel runner broke (${k.run.status}): ${k.run.stderr}` };
    return d.ok ? { text } : { text, problem: describeMismatches(d, 'generated.pt') + (k.interfered ? '\n(khugepaged collapsed pages during every kernel run)' : '') };
  }
}

describe('random scripts: model == kernel', () => {
  const seed = Number(process.env.PTLAB_FC_SEED ?? 20261126);
  const numRuns = Number(process.env.PTLAB_FC_RUNS ?? 40);

  it.skipIf(skipped)(`${numRuns} random scripts (fast-check seed ${seed}) agree${why}`, async () => {
    console.log(`kernel-agreement: random scripts: seed ${seed}, ${numRuns} runs (PTLAB_FC_SEED / PTLAB_FC_RUNS to change)`);
    const out = await fc.check(
      fc.asyncProperty(scriptArb, async (g) => {
        const r = await checkGenerated(g);
        if (r.problem) throw new Error(`${r.problem}\n--- script ---\n${r.text}`);
      }),
      { seed, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: false },
    );
    if (out.failed) {
      const g = out.counterexample?.[0];
      const minimal = g ? await checkGenerated(g) : undefined;
      expect.fail(
        `model and kernel differ (seed ${seed}, path ${out.counterexamplePath}, after ${out.numShrinks} shrinks).\n` +
          `Minimal script:\n${minimal?.text ?? '(none)'}\n${minimal?.problem ?? String(out.errorInstance)}`,
      );
    }
  }, 300_000);
});
