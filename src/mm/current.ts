/**
 * The model's `current` / `smp_processor_id()`: which kernel and which CPU the running kernel path
 * belongs to. Set by whoever drives kernel paths (the single-CPU driver, or the explorer before it
 * steps a task); read by the primitives (lock owners, RCU nesting, TLB of this CPU).
 */
import type { Cpu, Kernel } from './mm_types.js';

// Global on purpose, as the kernel's `current` is: threading (kernel, CPU) through every model
// function would change every kernel signature. It carries no state between steps: every driver
// sets it before it runs a step (setCurrent), so a search still depends only on its decisions.
// eslint-disable-next-line ptlab/no-module-state -- see above
export const current = {
  k: undefined as unknown as Kernel,
  cpu: undefined as unknown as Cpu,
};

/** The one way to set `current`: run this CPU's steps on this kernel. */
export function setCurrent(k: Kernel, cpu: number): void {
  current.k = k;
  current.cpu = k.cpus[cpu];
}

/**
 * Run fn on CPU `cpu` of the current kernel, and put back the CPU that was current: an RCU
 * callback runs on the CPU that queued it, whichever task ends its grace period (rcu.ts).
 */
export function onCpu<T>(cpu: number, fn: () => T): T {
  const saved = current.cpu;
  current.cpu = current.k.cpus[cpu];
  try {
    return fn();
  } finally {
    current.cpu = saved;
  }
}

/**
 * Run fn with `current` set to kernel k (on the CPU already current when k is the current kernel,
 * else CPU 0), and put back what was current before: for readers of a kernel's state, such as the
 * invariant checks, that may be called from inside another driver's step.
 */
export function withCurrent<T>(k: Kernel, fn: () => T): T {
  const { k: savedK, cpu: savedCpu } = current;
  setCurrent(k, savedK === k && savedCpu ? savedCpu.id : 0);
  try {
    return fn();
  } finally {
    current.k = savedK;
    current.cpu = savedCpu;
  }
}
