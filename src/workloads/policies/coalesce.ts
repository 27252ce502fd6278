/**
 * coalesce: defer DONTNEEDs smaller than 2 MiB and issue them later, merged, as an allocator with
 * a purge decay would. Pending ranges are flushed when the oldest has waited `window` events, when
 * `maxPending` are held, and before anything that must see them done (an `observed` point, an exit,
 * another advice on them). Adjacent pieces merge into ranges that may now cover whole 2 MiB blocks,
 * which PT_RECLAIM can free.
 *
 * Resident memory is kept: a page written while its purge was pending is simply not purged (the
 * allocator reused it; the original trace refaulted it, so the replay saves that fault); a page
 * read while pending is purged first, so the read maps the zero page as it did in the trace.
 */
import type { TraceRecord } from '../../trace/records.js';
import type { PolicyView, PurgePolicy } from './policy.js';
import { PAGE_SIZE } from '../../mm/const.js';

const PMD_SIZE = 2 * 1024 * 1024;

export interface CoalesceOptions {
  /** Events a purge may wait (default 4096). */
  window?: number;
  /** Ranges held per process before a flush (default 64). */
  maxPending?: number;
}

interface Pending {
  ranges: [number, number][];
  since: number;
  lo: number;
  hi: number;
}

export function coalesce(opts: CoalesceOptions = {}): PurgePolicy {
  const window = opts.window ?? 4096;
  const maxPending = opts.maxPending ?? 64;
  const byProc = new Map<string, Pending>();
  let events = 0;

  const pendingOf = (p: string): Pending => {
    let q = byProc.get(p);
    if (!q) byProc.set(p, (q = { ranges: [], since: 0, lo: Infinity, hi: -Infinity }));
    return q;
  };
  const madvise = (addr: number, end: number): TraceRecord => ({ kind: 'madvise', addr, len: end - addr, advice: 'dontneed' });

  /** Merge and issue every pending range of the process. */
  const drain = (q: Pending): TraceRecord[] => {
    if (!q.ranges.length) return [];
    const rs = q.ranges.sort((a, b) => a[0] - b[0]);
    const out: TraceRecord[] = [];
    let [s, e] = rs[0];
    for (const [a, b] of rs.slice(1)) {
      if (a <= e) e = Math.max(e, b);
      else {
        out.push(madvise(s, e));
        [s, e] = [a, b];
      }
    }
    out.push(madvise(s, e));
    q.ranges = [];
    q.lo = Infinity;
    q.hi = -Infinity;
    return out;
  };

  /** Remove [a, b) from the pending ranges; returns the parts that were pending. */
  const cut = (q: Pending, a: number, b: number): [number, number][] => {
    if (b <= q.lo || a >= q.hi) return [];
    const hit: [number, number][] = [];
    const keep: [number, number][] = [];
    for (const [s, e] of q.ranges) {
      if (e <= a || s >= b) {
        keep.push([s, e]);
        continue;
      }
      hit.push([Math.max(s, a), Math.min(e, b)]);
      if (s < a) keep.push([s, a]);
      if (e > b) keep.push([b, e]);
    }
    q.ranges = keep;
    return hit;
  };

  return {
    name: 'coalesce',
    transform(r: TraceRecord, view: PolicyView): TraceRecord[] {
      events++;
      const q = pendingOf(view.process);
      const out: TraceRecord[] = [];
      if (q.ranges.length && events - q.since >= window) out.push(...drain(q));
      switch (r.kind) {
        case 'madvise': {
          if (r.err) break;
          const end = r.addr + Math.ceil(r.len / PAGE_SIZE) * PAGE_SIZE;
          if (r.advice === 'dontneed' && end - r.addr < PMD_SIZE) {
            if (!q.ranges.length) q.since = events;
            q.ranges.push([r.addr, end]);
            q.lo = Math.min(q.lo, r.addr);
            q.hi = Math.max(q.hi, end);
            if (q.ranges.length >= maxPending) out.push(...drain(q));
            return out;
          }
          if (end > q.lo && r.addr < q.hi) out.push(...drain(q));
          break;
        }
        case 'fault':
        case 'touch': {
          const a = r.addr - (r.addr % PAGE_SIZE);
          const b = r.kind === 'fault' ? a + PAGE_SIZE : r.addr + r.len;
          const write = r.kind === 'fault' ? r.access === 'write' : r.write;
          for (const [s, e] of cut(q, a, b)) if (!write) out.push(madvise(s, e));
          break;
        }
        case 'munmap':
          cut(q, r.addr, r.addr + r.len);
          break;
        case 'mremap':
          cut(q, r.old, r.old + r.oldLen);
          break;
        case 'mmap':
          if (r.flags.includes('fixed')) cut(q, r.addr, r.addr + r.len);
          break;
        case 'observed':
        case 'exit':
        case 'switch':
          out.push(...drain(q));
          break;
      }
      out.push(r);
      return out;
    },
    flush(): TraceRecord[] {
      return [...byProc.values()].flatMap(drain);
    },
  };
}
