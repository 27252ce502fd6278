/**
 * Two kinds of failure, kept apart:
 * - `ModelBug`: the model broke one of its own invariants or was driven outside its contract.
 *   Always a defect of ptlab, never an expected outcome.
 * - `Violation`: a sanitizer caught the *modelled kernel* doing something unsafe (use-after-free of
 *   a page table, a PTE written into a detached table, a stale TLB entry to a freed frame...). With
 *   all guards on this is also a defect; with a guard switched off it is the expected finding, and
 *   the explorer turns it into a result value.
 */
export class ModelBug extends Error {
  override name = 'ModelBug';
}

/** The kinds of kernel violation the sanitizers report, each a different broken rule. */
export const VIOLATION_KINDS = [
  'pt-use-after-free',
  'ptl-use-after-free',
  'lost-pte',
  'nonempty-detach',
  'pmd-from-none',
  'double-free',
  'stale-tlb',
  'counter-imbalance',
  'leak',
  'lock-order',
  'deadlock',
  'sleep-in-atomic',
  'livelock',
  'stale-pin',
  'tlb-conflict',
  'no-progress',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export class Violation extends Error {
  override name = 'Violation';
  constructor(
    readonly kind: ViolationKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}
