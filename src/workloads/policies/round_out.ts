/**
 * round-out: a DONTNEED that covers part of a 2 MiB block whose other entries are all none is
 * widened to the whole block, so that PT_RECLAIM's rule (one zap covering the aligned 2 MiB inside
 * one VMA) can free the table. The widened part held nothing, so no page is dropped and no extra
 * fault follows: resident memory is unchanged.
 */
import type { TraceRecord } from '../../trace/records.js';
import type { PolicyView, PurgePolicy } from './policy.js';
import { PAGE_SIZE } from '../../mm/const.js';

const PMD_SIZE = 2 * 1024 * 1024;

export function roundOut(): PurgePolicy {
  return {
    name: 'round-out',
    transform(r: TraceRecord, view: PolicyView): TraceRecord[] {
      if (r.kind !== 'madvise' || r.advice !== 'dontneed' || r.err) return [r];
      const end = r.addr + Math.ceil(r.len / PAGE_SIZE) * PAGE_SIZE;
      let start = r.addr;
      let newEnd = end;
      const head = start - (start % PMD_SIZE);
      if (head !== start && view.blockEmptyOutside(head, start, end)) start = head;
      const tail = end - (end % PMD_SIZE);
      if (tail !== end && view.blockEmptyOutside(tail, r.addr, end)) newEnd = tail + PMD_SIZE;
      if (start === r.addr && newEnd === end) return [r];
      return [{ ...r, addr: start, len: newEnd - start }];
    },
    flush: () => [],
  };
}
