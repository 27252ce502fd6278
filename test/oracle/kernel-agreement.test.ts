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
import { compareScript, modelOverridesFor, prepareScript, runKernelQuietly } from '../../src/oracle/compare.js';
import { describeMismatches, diffRuns } from '../../src/oracle/diff.js';
import { kernelOracleAvailable, runningKdamonds } from '../../src/oracle/kernel.js';
import { formatScriptError } from '../../src/script/ast.js';
import { runScript } from '../../src/script/exec.js';
import { MAX_MARK_ROUNDS, markOutcome, markOverlap, renderScript, scriptArb, type GenScript } from './random-scripts.js';
import { readScript, shippedScripts } from './scripts.js';

const avail = kernelOracleAvailable();
const skipped = !avail.ok;
const why = avail.ok ? '' : ` [skipped: ${avail.reason}]`;
if (!avail.ok) console.log(`kernel-agreement: skipped: this machine cannot serve as the kernel oracle: ${avail.reason}`);
else if (avail.note) console.log(`kernel-agreement: note: ${avail.note}`);

describe('shipped scripts: model == kernel', () => {
  for (const rel of shippedScripts()) {
    it.skipIf(skipped)(`${rel} agrees with the kernel${why}`, async (ctx) => {
      const p = prepareScript(rel, readScript(rel));
      if (!p.ok) expect.fail(p.errors.map(formatScriptError).join('\n'));
      let prepared = p.prepared;
      let options: Parameters<typeof compareScript>[1] = { checkInvariants: true };
      let c = await compareScript(prepared, options);
      // A script whose expect lines assume read faults map the zero page (config fault_zero_page=on)
      // is skipped by a kernel whose read faults do not; its snapshots are still compared, with the
      // expect lines dropped and the model following the kernel.
      const probed = c.kernel.runner?.fault_zero_page;
      if (c.kernel.status === 'skip' && probed && p.prepared.script.ops.some((o) => o.op === 'config' && o.settings.fault_zero_page !== undefined && o.settings.fault_zero_page !== probed)) {
        const overrides = { fault_zero_page: probed };
        const q = prepareScript(rel, readScript(rel), { noExpect: true, overrides });
        if (!q.ok) expect.fail(q.errors.map(formatScriptError).join('\n'));
        prepared = q.prepared;
        options = { checkInvariants: true, overrides };
        c = await compareScript(prepared, options);
        console.log(`kernel-agreement: ${rel}: compared without its expect lines (this kernel's read faults: fault_zero_page=${probed})`);
      }
      // The runner skips what this machine cannot do for the script (a swap area, `config swap=`,
      // needs root, no swap of the machine's own, a loop device and a tmpfs at /dev/shm).
      const skip = c.kernel.lines.find((l) => l.type === 'skip');
      if (c.kernel.status === 'skip') {
        console.log(`kernel-agreement: ${rel}: skipped: ${skip?.type === 'skip' ? skip.reason : c.kernel.stderr}`);
        ctx.skip();
        return;
      }
      // DAMON's access sampling and reclaim (a kdamond of this machine) can keep or drop pages a
      // script's MADV_PAGEOUT/MADV_COLD decides, whatever the script does: `ptlab diff` says to run
      // such a script again before trusting a mismatch (src/cli/diff.ts), and so does this test, at
      // most twice, saying so. Seen: swap-readahead.pt with 2-3 pages left resident.
      const reclaims = prepared.script.ops.some((o) => o.op === 'madvise' && (o.advice === 'pageout' || o.advice === 'cold'));
      for (let attempt = 2; !c.diff.ok && reclaims && attempt <= 3 && runningKdamonds().length > 0; attempt++) {
        console.log(`kernel-agreement: ${rel}: mismatch with DAMON running (kdamond ${runningKdamonds().join(', ')}); kernel run ${attempt} of at most 3`);
        c = await compareScript(prepared, options);
      }
      const kernelErr = c.kernel.lines.find((l) => l.type === 'error');
      // The script's own numbers were measured on the kernel: a kernel failure means the script
      // (or the kernel) changed, not the model.
      expect(c.kernel.exitCode, kernelErr?.type === 'error' ? `kernel: ${rel}:${kernelErr.line}: ${kernelErr.message}\n${c.kernel.stderr}` : c.kernel.stderr).toBe(0);
      expect(c.diff.ok, describeMismatches(c.diff, rel)).toBe(true);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Random scripts (test/oracle/random-scripts.ts): every op of the language, hostile arguments

/**
 * Runs a generated script on the kernel first and marks every op that failed there with the
 * failure it produced (err=), so the run goes on past it; a `map` the validator finds overlapping
 * another mapping is marked EEXIST first (MAP_FIXED_NOREPLACE's answer). Then the model and the
 * kernel run the marked script and must agree on every snapshot and on every op's outcome.
 */
async function checkGenerated(g: GenScript): Promise<{ text: string; problem?: string }> {
  const errs = new Map<number, string>();
  for (let round = 0; ; round++) {
    const r = renderScript(g, errs);
    const p = prepareScript('generated.pt', r.text);
    if (!p.ok) {
      if (round < MAX_MARK_ROUNDS && markOverlap(r, p.errors, errs)) continue;
      return { text: r.text, problem: `the generator wrote a bad script:\n${p.errors.map(formatScriptError).join('\n')}` };
    }
    const k = await runKernelQuietly({ text: r.text });
    if (k.run.status === 'internal' || k.run.status === 'killed') return { text: r.text, problem: `kernel runner broke (${k.run.status}): ${k.run.stderr}` };
    const stop = k.run.lines.find((l) => l.type === 'error');
    const got = stop?.type === 'error' ? /: got (\S+), expected \S+$/.exec(stop.message)?.[1] : undefined;
    if (stop && got && round < MAX_MARK_ROUNDS && markOutcome(r, stop.line, got, errs)) continue;
    const model = runScript(p.prepared.script, { checkInvariants: true, overrides: modelOverridesFor(p.prepared.script, k.run) });
    const d = diffRuns(model.lines, k.run.lines, p.prepared.directives);
    return d.ok ? { text: r.text } : { text: r.text, problem: describeMismatches(d, 'generated.pt') + (k.interfered ? '\n(khugepaged collapsed pages during every kernel run)' : '') };
  }
}

describe('random scripts: model == kernel', () => {
  const seed = Number(process.env.PTLAB_FC_SEED ?? 20261126);
  const numRuns = Number(process.env.PTLAB_FC_RUNS ?? 150);

  it.skipIf(skipped)(`${numRuns} random scripts of every op, hostile arguments included (fast-check seed ${seed}) agree${why}`, async () => {
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
