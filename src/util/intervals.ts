/**
 * A set of disjoint half-open intervals [start, end), each with an owner, kept sorted: what the
 * op-script validator and the trace converter know of a process's address space. Lookups are
 * binary searches and changes touch one chunk of at most CHUNK intervals, so a script or trace with
 * n mappings costs O(n log n) plus O(n × CHUNK) at worst, never O(n²) (issue 15, D10).
 */

export interface Interval<T> {
  start: number;
  end: number;
  owner: T;
}

/** Intervals per chunk before it is split in two. */
const CHUNK = 512;

export class IntervalMap<T> {
  /** Sorted, disjoint intervals, in chunks of at most 2 × CHUNK; no chunk is empty. */
  private chunks: Interval<T>[][] = [];

  get size(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** Index of the first chunk whose last interval ends above `a` (chunks.length if none). */
  private chunkAfter(a: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.chunks[mid];
      if (c[c.length - 1].end <= a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index in chunk c of the first interval that ends above `a`. */
  private static firstIn<T>(c: Interval<T>[], a: number): number {
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid].end <= a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A copy that changes independently of this one (owners are shared, not copied). */
  clone(): IntervalMap<T> {
    const c = new IntervalMap<T>();
    c.chunks = this.chunks.map((chunk) => chunk.map((iv) => ({ ...iv })));
    return c;
  }

  /** Every interval that overlaps [lo, hi), in address order (not clipped). */
  *overlapping(lo: number, hi: number): Generator<Interval<T>> {
    const first = this.chunkAfter(lo);
    for (let ci = first; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci];
      for (let i = ci === first ? IntervalMap.firstIn(c, lo) : 0; i < c.length; i++) {
        if (c[i].start >= hi) return;
        yield c[i];
      }
    }
  }

  /** The first interval overlapping [lo, hi), or undefined. */
  firstOverlap(lo: number, hi: number): Interval<T> | undefined {
    for (const iv of this.overlapping(lo, hi)) return iv;
    return undefined;
  }

  /** The interval containing `a`, or undefined. */
  at(a: number): Interval<T> | undefined {
    const iv = this.firstOverlap(a, a + 1);
    return iv && iv.start <= a ? iv : undefined;
  }

  /** Cut [lo, hi) out of every interval (splitting those that straddle it). */
  remove(lo: number, hi: number): void {
    if (hi <= lo) return;
    let ci = this.chunkAfter(lo);
    while (ci < this.chunks.length && this.chunks[ci][0].start < hi) {
      const c = this.chunks[ci];
      const i = IntervalMap.firstIn(c, lo);
      let j = i;
      const keep: Interval<T>[] = [];
      for (; j < c.length && c[j].start < hi; j++) {
        const e = c[j];
        if (e.start < lo) keep.push({ start: e.start, end: lo, owner: e.owner });
        if (e.end > hi) keep.push({ start: hi, end: e.end, owner: e.owner });
      }
      const toEnd = j === c.length; // the range may go on into the next chunk
      c.splice(i, j - i, ...keep);
      if (c.length === 0) this.chunks.splice(ci, 1);
      else ci += this.splitIfBig(ci);
      if (!toEnd) return;
    }
  }

  /** Add [start, end) for `owner`, replacing whatever was there. */
  add(start: number, end: number, owner: T): void {
    if (end <= start) return;
    this.remove(start, end);
    const iv = { start, end, owner };
    if (this.chunks.length === 0) {
      this.chunks.push([iv]);
      return;
    }
    let ci = this.chunkAfter(start);
    if (ci === this.chunks.length) ci--; // after every interval: append to the last chunk
    const c = this.chunks[ci];
    c.splice(IntervalMap.firstIn(c, start), 0, iv);
    this.splitIfBig(ci);
  }

  /** Give `to` every interval of `owner` for which `pick` holds. O(n): for rare operations. */
  reassign(owner: T, pick: (iv: Interval<T>) => boolean, to: T): void {
    for (const c of this.chunks) for (const iv of c) if (iv.owner === owner && pick(iv)) iv.owner = to;
  }

  /** Split chunk ci when it has grown past 2 × CHUNK; returns how many chunks it now is. */
  private splitIfBig(ci: number): number {
    const c = this.chunks[ci];
    if (c.length <= 2 * CHUNK) return 1;
    this.chunks.splice(ci, 1, c.slice(0, CHUNK), c.slice(CHUNK));
    return 2;
  }
}
