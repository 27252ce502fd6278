/**
 * The replay report: what `ptlab replay` measures and `ptlab report` draws. One JSON document,
 * versioned; every size is in kB as in /proc, every count is a plain number.
 *
 * A report holds one run per what-if variant (kernel config and purge policy) of the same trace, so
 * that "PT_RECLAIM off" and "on" (and any policy) can be drawn side by side.
 */
import { z } from 'zod';

export const REPORT_VERSION = 1;

/** The process's counters after `op` trace operations (summed over the trace's processes). */
export const ReplaySample = z.object({
  op: z.number().int().nonnegative(),
  /** Trace time in ns since the first event, when the trace has timestamps; else null. */
  timeNs: z.number().nullable(),
  VmPTE: z.number(),
  VmRSS: z.number(),
  RssAnon: z.number(),
  RssFile: z.number(),
  RssShmem: z.number(),
  /** Live PTE tables, and those of them with no entry. */
  pteTables: z.number().int(),
  pteTablesEmpty: z.number().int(),
  /** Tables freed by PT_RECLAIM so far (fast + slow path). */
  ptesReclaimed: z.number().int(),
  faults: z.number().int(),
  tlbFlushes: z.number().int(),
  /** Pages and freed page tables those flushes covered. */
  tlbFlushPages: z.number().int(),
  tlbFlushFreedTables: z.number().int(),
  rcuCallbacks: z.number().int(),
});
export type ReplaySample = z.infer<typeof ReplaySample>;

/** A slice of the address space and the PTE tables in it (for "where are the empty tables"). */
export const ReplayRegion = z.object({
  start: z.number(),
  end: z.number(),
  label: z.string(),
  pteTables: z.number().int(),
  pteTablesEmpty: z.number().int(),
  /** Resident pages mapped by PTEs in the region. */
  ptePages: z.number().int(),
});
export type ReplayRegion = z.infer<typeof ReplayRegion>;

export const ReplayRun = z.object({
  /** Short name of the variant, e.g. "pt_reclaim=off" or "on + round-out". */
  label: z.string(),
  /** Model settings of the run (op-script `config` keys). */
  config: z.record(z.string(), z.string()),
  /** Purge-policy transforms applied to the trace, in order. */
  policies: z.array(z.string()),
  samples: z.array(ReplaySample),
  final: ReplaySample,
  /** entriesHistogram[n] = live PTE tables holding exactly n present-or-marker entries (n = 0..512), at the end. */
  entriesHistogram: z.array(z.number().int()).length(513),
  regions: z.array(ReplayRegion),
  /** Stopped early (interrupted or budget): the samples up to that point are valid. */
  interrupted: z.boolean(),
  /** Trace ops the model did not apply (with reasons in notes). */
  opsSkipped: z.number().int(),
  notes: z.array(z.string()),
  /** Wall time of the replay in ms (informational; not compared). */
  elapsedMs: z.number(),
  /** The model's counters at the trace's `observed` points (compare with ReplayReport.observed). */
  checkpoints: z.array(z.lazy(() => ObservedCounters)).optional(),
});
export type ReplayRun = z.infer<typeof ReplayRun>;

/** Counters the real process reported (recorded traces only), per label ("exec", "exit"). */
export const ObservedCounters = z.object({
  label: z.string(),
  VmPTE: z.number(),
  VmRSS: z.number(),
  RssAnon: z.number(),
  RssFile: z.number(),
  RssShmem: z.number(),
  /** kB swapped out (VmSwap); absent in traces recorded before ptlab recorded it. */
  VmSwap: z.number().optional(),
});
export type ObservedCounters = z.infer<typeof ObservedCounters>;

export const ReplayReport = z.object({
  type: z.literal('ptlab-replay-report'),
  version: z.literal(REPORT_VERSION),
  source: z.object({
    kind: z.enum(['trace', 'generator']),
    name: z.string(),
    params: z.record(z.string(), z.unknown()).optional(),
  }),
  /** Operations in the (untransformed) trace. */
  ops: z.number().int(),
  observed: z.array(ObservedCounters),
  runs: z.array(ReplayRun).min(1),
});
export type ReplayReport = z.infer<typeof ReplayReport>;
