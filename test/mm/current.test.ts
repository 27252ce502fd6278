/**
 * `current` (src/mm/current.ts): a step runs on the kernel `current` names, and a reader that sets
 * it for a while puts back what was current before.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/mm/api.js';
import { resolveConfig } from '../../src/mm/config.js';
import { current, setCurrent, withCurrent } from '../../src/mm/current.js';
import { doMadvise } from '../../src/mm/madvise.js';

const BASE = 2 ** 44;

function kernelWithMapping(): { k: api.Kernel; mm: api.MmStruct } {
  const k = api.createKernel(resolveConfig());
  const mm = api.createProcess(k, 'p');
  expect(api.sysMmap(k, mm, { addr: BASE, len: 2 ** 21, shared: false, file: null, pgoff: 0, name: 'M' })).toBe(BASE);
  expect(api.sysTouch(k, mm, BASE, true)).toBe(api.FAULT_OK);
  return { k, mm };
}

/** Run a kernel path's steps one by one, with nothing else scheduled. */
function runSteps(gen: Generator<unknown, unknown, unknown>): unknown {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

describe('current', () => {
  it('a step on an mm of another kernel than the current one is a model bug', () => {
    const a = kernelWithMapping();
    const b = kernelWithMapping();
    setCurrent(a.k, 0);
    expect(() => runSteps(doMadvise(b.mm, BASE, 2 ** 21, 'dontneed'))).toThrow(api.ModelBug);
    expect(() => runSteps(doMadvise(b.mm, BASE, 2 ** 21, 'dontneed'))).toThrow(/of another kernel than the current one/);
  });

  it('the same path runs once its own kernel is current', () => {
    const b = kernelWithMapping();
    setCurrent(b.k, 0);
    expect(runSteps(doMadvise(b.mm, BASE, 2 ** 21, 'dontneed'))).toBe(0);
    expect(api.procStatus(b.mm).VmRSS).toBe(0);
  });

  it('withCurrent() sets the kernel for a while and puts the previous one back, also on a throw', () => {
    const a = kernelWithMapping();
    const b = kernelWithMapping();
    setCurrent(a.k, 1);
    const cpuBefore = current.cpu;
    expect(withCurrent(b.k, () => current.k)).toBe(b.k);
    expect(current.k).toBe(a.k);
    expect(current.cpu).toBe(cpuBefore);
    expect(() =>
      withCurrent(b.k, () => {
        throw new Error('reader failed');
      }),
    ).toThrow('reader failed');
    expect(current.k).toBe(a.k);
    expect(current.cpu).toBe(cpuBefore);
    // The same kernel keeps the CPU that was current.
    expect(withCurrent(a.k, () => current.cpu.id)).toBe(1);
  });
});
