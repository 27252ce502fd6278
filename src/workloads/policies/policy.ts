/**
 * Purge policies: what-if transforms of a trace's purges, applied while it replays. A policy sees
 * each record before the model does and may pass it on, change it, hold it back or add records;
 * it may look at the model's current page tables (through PolicyView) to decide.
 *
 * Each policy lives in its own file and must keep the trace's final resident memory, except where
 * its whole point is not to (madv-free: lazily freed pages stay resident until memory pressure).
 */
import type { TraceRecord } from '../../trace/records.js';

/** What a policy may ask of the model while the trace replays. */
export interface PolicyView {
  /** Name of the process the next record belongs to. */
  readonly process: string;
  /**
   * Whether every PTE of the 2 MiB block at `block` lies inside one VMA and, outside
   * [except, exceptEnd), holds nothing (no page, no marker). False when the block is mapped by a
   * huge PMD or has no PTE table.
   */
  blockEmptyOutside(block: number, except: number, exceptEnd: number): boolean;
}

export interface PurgePolicy {
  readonly name: string;
  /** Records to apply in place of `r` (r itself to pass it on unchanged). */
  transform(r: TraceRecord, view: PolicyView): TraceRecord[];
  /** Held-back records to apply now (end of trace). */
  flush(view: PolicyView): TraceRecord[];
}

export type PolicyFactory = () => PurgePolicy;
