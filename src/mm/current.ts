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

export function setCurrent(k: Kernel, cpu: number): void {
  current.k = k;
  current.cpu = k.cpus[cpu];
}
