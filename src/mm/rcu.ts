/**
 * RCU (kernel/rcu/tree.c), as the model needs it: per-CPU read-side nesting (an IRQ-disabled
 * region also counts as a reader: docs/kernel-rules.md, "RCU") and callbacks that run only after every read-side
 * section in progress at call_rcu() time has ended.
 *
 * Modelled coarsely: a callback remembers, for each CPU that was inside a reader when it was
 * queued, that CPU's quiescent-state count; it is ready once each of those CPUs has left that
 * section. Grace periods end when the driver calls `rcuAdvance` (between ops in `ptlab run`; as a
 * scheduled step in the explorer), not after a modelled delay.
 */
import { current, onCpu } from './current.js';
import type { Cpu } from './mm_types.js';

export interface RcuCallback {
  /** The kernel function the callback stands for, for traces. */
  readonly name: string;
  readonly fn: () => void;
  /** The page tables the callback frees (what the grace period that runs it writes). */
  readonly tables: readonly number[];
  /** CPU id -> rcuQs value at call time, for CPUs that were inside a reader. */
  readonly waitFor: Map<number, number> | null;
  /** The CPU that queued it, where it runs (RCU_SOFTIRQ, no callback offloading): what it frees goes to that CPU's page lists. */
  readonly cpu: number;
}

export class Rcu {
  readonly pending: RcuCallback[] = [];
  /** Callbacks queued by call_rcu() and run by rcuAdvance(), for the quiescent-point check. */
  queued = 0;
  completed = 0;
}

/** call_rcu(). */
export function callRcu(rcu: Rcu, cpus: readonly Cpu[], name: string, fn: () => void, tables: readonly number[] = []): void {
  let waitFor: Map<number, number> | null = null;
  for (const c of cpus) {
    if (c.rcuNesting > 0 || c.irqDisabled > 0) (waitFor ??= new Map()).set(c.id, c.rcuQs);
  }
  rcu.pending.push({ name, fn, waitFor, tables, cpu: current.cpu?.id ?? 0 });
  rcu.queued++;
}

export function rcuCallbackReady(cb: RcuCallback, cpus: readonly Cpu[]): boolean {
  if (!cb.waitFor) return true;
  for (const [id, qs] of cb.waitFor) if (cpus[id].rcuQs === qs) return false;
  return true;
}

/** Run every callback whose grace period has ended, in call order. Returns how many ran. */
export function rcuAdvance(rcu: Rcu, cpus: readonly Cpu[]): number {
  let ran = 0;
  for (let i = 0; i < rcu.pending.length; ) {
    const cb = rcu.pending[i];
    if (!rcuCallbackReady(cb, cpus)) {
      i++;
      continue;
    }
    rcu.pending.splice(i, 1);
    onCpu(cb.cpu, cb.fn);
    rcu.completed++;
    ran++;
  }
  return ran;
}
