// `ptlab diff` prints a verdict only for a kernel run that finished: a runner killed mid-script
// (SIGINT, a timeout) leaves output that proves nothing, even when every snapshot it printed agrees.
import { describe, expect, it } from 'vitest';
import { damonMayExplain, kernelBroken, renderComparison } from '../../src/cli/diff.js';
import { parseScript } from '../../src/script/parse.js';
import type { Comparison } from '../../src/oracle/compare.js';
import { diffRuns } from '../../src/oracle/diff.js';
import type { KernelRun } from '../../src/oracle/kernel.js';

function comparison(kernel: Partial<KernelRun>): Comparison {
  return {
    file: 's.pt',
    diff: diffRuns([], [], []),
    model: { lines: [], exitCode: 0 },
    kernel: { exitCode: 0, signal: null, status: 'ok', lines: [], stderr: '', ...kernel },
    kernelAttempts: 1,
    khugepagedInterfered: false,
  };
}

describe('ptlab diff verdicts', () => {
  it('agrees when both sides ran to the end with nothing to differ', () => {
    const c = comparison({});
    expect(kernelBroken(c)).toBeUndefined();
    const text = renderComparison(c, { color: false, brief: false });
    expect(text).toContain('outcome: both ran to the end');
    expect(text).toMatch(/: agree\n/);
  });

  it('gives no verdict when the kernel runner was killed', () => {
    const c = comparison({ exitCode: null, signal: 'SIGINT', status: 'killed' });
    expect(c.diff.ok).toBe(true); // the partial output alone would agree
    expect(kernelBroken(c)).toBe('the kernel runner was killed by SIGINT');
    const text = renderComparison(c, { color: false, brief: false });
    expect(text).toContain('outcome: the kernel runner was killed by SIGINT, so no verdict');
    expect(text).not.toContain('agree');
    expect(text).not.toContain('both ran to the end');
  });

  it('gives no verdict when the kernel runner failed inside', () => {
    const c = comparison({ exitCode: 4, status: 'internal' });
    expect(kernelBroken(c)).toBe('the kernel runner failed (exit 4)');
    expect(renderComparison(c, { color: false, brief: false })).toMatch(/: no verdict\n/);
  });

  it('blames DAMON only for a mismatch of a script that reclaims, never for a skipped run', () => {
    const ops = (text: string) => parseScript(text, 's.pt').ops;
    const pageout = ops('process P\nmap A anon private 2M\ntouch A 0 2M write\nmadvise A 0 2M pageout\n');
    const dontneed = ops('process P\nmap A anon private 2M\ntouch A 0 2M write\nmadvise A 0 2M dontneed\n');
    const differ = { ...comparison({}), diff: { ...diffRuns([], [], []), ok: false } };
    const skipped = { ...comparison({}), diff: diffRuns([], [{ type: 'skip', reason: 'needs root' }]) };
    expect(skipped.diff.skipped).toBe('needs root');
    expect(damonMayExplain(differ, pageout)).toBe(true);
    expect(damonMayExplain(differ, dontneed)).toBe(false);
    expect(damonMayExplain(comparison({}), pageout)).toBe(false); // agrees
    expect(damonMayExplain(skipped, pageout)).toBe(false);
  });
});
