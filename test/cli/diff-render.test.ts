// `ptlab diff` prints a verdict only for a kernel run that finished: a runner killed mid-script
// (SIGINT, a timeout) leaves output that proves nothing, even when every snapshot it printed agrees.
import { describe, expect, it } from 'vitest';
import { kernelBroken, renderComparison } from '../../src/cli/diff.js';
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
});
