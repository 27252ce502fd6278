/**
 * compare.ts's pure part: which settings the model takes from the kernel run it is compared with.
 * The runner probes whether read faults map the shared zero page (runner/ptlab-runner.c,
 * probe_zero_page()); the model follows unless the script or `--config` decided.
 */
import { describe, expect, it } from 'vitest';
import { modelOverridesFor } from '../../src/oracle/compare.js';
import type { KernelRun } from '../../src/oracle/kernel.js';
import { parseScript } from '../../src/script/parse.js';

describe('modelOverridesFor: the model follows the kernel where the script leaves fault_zero_page open', () => {
  const kernelSaid = (v: 'on' | 'off') => ({ runner: { type: 'runner', executor: 'kernel', fault_zero_page: v } }) as unknown as KernelRun;
  const open = parseScript('process P\n', 'open.pt');
  const decided = parseScript('config fault_zero_page=on\nprocess P\n', 'decided.pt');

  it('takes the probed value when neither the script nor the overrides set it', () => {
    expect(modelOverridesFor(open, kernelSaid('off'))).toEqual({ fault_zero_page: 'off' });
    expect(modelOverridesFor(open, kernelSaid('on'), { thp: 'never' })).toEqual({ thp: 'never', fault_zero_page: 'on' });
  });

  it('keeps a value the script or the overrides set (the runner then skips a kernel that differs)', () => {
    expect(modelOverridesFor(decided, kernelSaid('off'))).toEqual({});
    expect(modelOverridesFor(open, kernelSaid('off'), { fault_zero_page: 'on' })).toEqual({ fault_zero_page: 'on' });
  });

  it('adds nothing when the runner could not probe', () => {
    expect(modelOverridesFor(open, { runner: undefined } as unknown as KernelRun)).toEqual({});
  });
});
