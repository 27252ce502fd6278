/**
 * madv-free: MADV_FREE in place of every MADV_DONTNEED. The pages stay mapped (and counted in RSS)
 * until memory pressure reclaims them, and the PTE tables stay too: the model has no memory
 * pressure, so this policy shows what lazy freeing costs in resident memory, not what it saves.
 */
import type { TraceRecord } from '../../trace/records.js';
import type { PurgePolicy } from './policy.js';

export function madvFree(): PurgePolicy {
  return {
    name: 'madv-free',
    transform: (r: TraceRecord) => (r.kind === 'madvise' && r.advice === 'dontneed' ? [{ ...r, advice: 'free' }] : [r]),
    flush: () => [],
  };
}
