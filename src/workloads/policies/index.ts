/** The purge policies by name (`ptlab replay --policy NAME`). */
import { coalesce } from './coalesce.js';
import { madvFree } from './madv_free.js';
import type { PolicyFactory } from './policy.js';
import { roundOut } from './round_out.js';

export const POLICIES: Record<string, { make: PolicyFactory; summary: string }> = {
  'round-out': { make: roundOut, summary: 'widen a DONTNEED to its whole 2 MiB block when the rest of the block is already empty' },
  coalesce: { make: () => coalesce(), summary: 'defer DONTNEEDs under 2 MiB and issue them merged (decay window 4096 events)' },
  'madv-free': { make: madvFree, summary: 'MADV_FREE instead of MADV_DONTNEED (pages stay resident without memory pressure)' },
};

export type { PurgePolicy, PolicyView } from './policy.js';
