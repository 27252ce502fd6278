/**
 * Every shipped op script on the model alone: its `expect ... delta` lines hold the kernel's
 * numbers, so a model that passes here agrees with the kernel on everything the scripts check.
 * Needs no kernel, no root and no compiler: this is what CI machines without them still run
 * (kernel-agreement.test.ts compares every field with the live kernel where it can).
 */
import { describe, expect, it } from 'vitest';
import { formatScriptError } from '../../src/script/ast.js';
import { runScript } from '../../src/script/exec.js';
import { safeParseScript } from '../../src/script/parse.js';
import { VERSION_NAMES, versionInfo } from '../../src/mm/versions.js';
import { modelProblems, readScript, shippedScripts } from './scripts.js';

describe('shipped scripts on the model', () => {
  const files = shippedScripts();

  it('ships at least 30 scripts beside the kernel probes and the selftests', () => {
    expect(files.filter((f) => !f.includes('kernel-probe/') && !f.includes('selftests/')).length).toBeGreaterThanOrEqual(30);
  });

  it('ships the kernel selftests as scripts, each citing the selftest it comes from', () => {
    const selftests = files.filter((f) => f.includes('selftests/'));
    expect(selftests.length).toBeGreaterThanOrEqual(20);
    for (const f of selftests) expect(readScript(f), f).toMatch(/^# Linux selftest tools\/testing\/selftests\/mm\/[\w-]+\.c/);
  });

  for (const rel of files) {
    it(`${rel} holds every expect line on the model`, () => {
      expect(modelProblems(rel)).toEqual([]);
    });
  }
});

/**
 * Every release and both architectures run every shipped script (docs/versions.md). The scripts'
 * numbers were measured on 6.18; nothing a single thread observes changes between releases with
 * PT_RECLAIM, nor with arm64's TLB rules (a sequential script never breaks break-before-make), so
 * they all hold. Without PT_RECLAIM (6.13, and arm64 before 7.0) the expect lines are left out and
 * every op must still succeed; the cover letter's own expect lines must notice the tables it keeps.
 *
 * One exception, found with swap: race R9 (the freed table flushed at the address one past it:
 * 7.0 and 7.1) needs no second thread when the table holds only swap entries. Zapping them adds
 * nothing to the gather's flush range, so on arm64, which drops walk-cache entries by address, the
 * only flush misses the table, and the next access in that block walks through the freed table
 * (swap-pageout.pt: a whole-range DONTNEED of swapped-out memory, then a fault). With present pages
 * the zap's own flush covers the block, which is why no other script sees it.
 */
function sequentialR9(rel: string, version: (typeof VERSION_NAMES)[number], arch: string): boolean {
  return rel === 'scripts/swap-pageout.pt' && arch === 'arm64' && versionInfo(version).guardsOff.includes('free-pte-flush-addr');
}
describe('shipped scripts on every release and architecture', () => {
  const files = shippedScripts().map((rel) => {
    const parsed = safeParseScript(readScript(rel), rel);
    if (!parsed.ok) throw new Error(parsed.errors.map(formatScriptError).join('\n'));
    return { rel, script: parsed.script };
  });
  for (const version of VERSION_NAMES) {
    for (const arch of ['x86', 'arm64'] as const) {
      // PT_RECLAIM is on x86 from 6.14-rc1 and on arm64 from 7.0 (docs/versions.md).
      const reclaims = versionInfo(version).ptReclaimArchs.includes(arch);
      it(`${version} on ${arch}: ${reclaims ? 'every op succeeds and every expect line holds' : 'no PT_RECLAIM: every op succeeds (its expect lines, measured with reclaim, left out)'}`, () => {
        for (const { rel, script } of files) {
          const ops = reclaims ? script.ops : script.ops.filter((op) => op.op !== 'expect');
          const r = runScript({ ...script, ops }, { overrides: { version, arch } });
          const errors = r.lines.flatMap((l) => (l.type === 'error' ? [`${rel}:${l.line}: ${l.message}`] : []));
          if (sequentialR9(rel, version, arch)) {
            const line = readScript(rel).split('\n').indexOf('touch A 8K 4K read') + 1;
            expect(errors, `${version} ${arch}`).toEqual([expect.stringMatching(new RegExp(`^${rel}:${line}: Violation: stale-tlb: `))]);
            continue;
          }
          expect(errors, `${version} ${arch}`).toEqual([]);
          expect(r.exitCode, rel).toBe(0);
        }
        if (reclaims) return;
        // Without reclaim the cover letter's loop keeps its tables: its own expect lines notice.
        const cover = files.find((f) => f.rel === 'scripts/cover-letter.pt')!;
        expect(runScript(cover.script, { overrides: { version, arch } }).exitCode).toBe(1);
      });
    }
  }
});
