/**
 * An allocator-like heap: allocations of a size-class mix carved from one arena, random frees,
 * and decay-based purging of freed ("dirty") runs, as jemalloc/tcmalloc do with MADV_DONTNEED.
 * Purges are cut to `granularity` (only whole aligned granules of a dirty run are purged) and
 * issued in pieces of at most `chunk` bytes, so the shape of the purges, not the amount of freed
 * memory, decides whether PT_RECLAIM can free a table: it needs one DONTNEED over a whole aligned
 * 2 MiB block.
 *
 * Coarse on purpose: runs are page-granular, each class reuses its own freed runs LIFO and takes
 * new ones from a bump pointer; there is no coalescing of free runs across classes.
 */
import { Prng } from '../../util/prng.js';
import type { TraceRecord } from '../../trace/records.js';
import { GEN_BASE, MAX_GEN_EVENTS, MAX_GEN_MAPPING, RW, SEED_PARAM, type WorkloadGenerator } from './generator.js';
import { PAGE_SIZE } from '../../mm/const.js';

/** Size classes in pages and their weights (small classes dominate, as in real heaps). */
const CLASSES = [1, 2, 4, 8, 16, 64, 256, 1024];
const WEIGHTS = [30, 20, 15, 10, 10, 8, 5, 2];

interface Run {
  start: number;
  pages: number;
  /** Event count at which it was last freed. */
  freedAt: number;
  dirty: boolean;
}

export const heap: WorkloadGenerator = {
  name: 'heap',
  summary: 'allocator-like heap: size-class mix, random frees, decay-based purging at a given granularity and chunk size',
  params: {
    arena: { default: 2 ** 30, help: 'bytes of the arena mapping', min: 4096, max: MAX_GEN_MAPPING },
    ops: { default: 100_000, help: 'allocations + frees', min: 0, max: MAX_GEN_EVENTS, integer: true },
    fill: { default: 0.6, help: 'target share of the arena in use', min: 0, max: 1 },
    decay: { default: 5_000, help: 'events a freed run stays dirty before it is purged', min: 0, max: MAX_GEN_EVENTS, integer: true },
    granularity: { default: 4096, help: 'purge only whole aligned granules of this size', min: 4096, max: MAX_GEN_MAPPING },
    chunk: { default: 65_536, help: 'largest single DONTNEED (bytes)', min: 4096, max: MAX_GEN_MAPPING },
    release: { default: 0.5, help: 'share of live allocations freed at the end (then purged once they decay)', min: 0, max: 1 },
    seed: SEED_PARAM,
  },
  generate(p) {
    const arena = Math.floor((p.arena as number) / PAGE_SIZE) * PAGE_SIZE;
    const gran = Math.max(PAGE_SIZE, p.granularity as number);
    const chunk = Math.max(PAGE_SIZE, p.chunk as number);
    const rng = new Prng(p.seed as number);
    const totalW = WEIGHTS.reduce((a, b) => a + b, 0);
    const pickClass = () => {
      let r = rng.below(totalW);
      for (let i = 0; i < CLASSES.length; i++) if ((r -= WEIGHTS[i]) < 0) return i;
      return 0;
    };
    const out: TraceRecord[] = [{ kind: 'meta', values: { generator: 'heap', seed: String(p.seed) } }, { kind: 'process', name: 'P' }];
    out.push({ kind: 'mmap', addr: GEN_BASE, len: arena, prot: RW, flags: ['private', 'anon', 'noreserve'], off: 0 });
    let bump = 0;
    let inUse = 0;
    const live: Run[] = [];
    /** Freed runs in the order they were freed, with the time of that free. */
    const dirty: [Run, number][] = [];
    let oldest = 0; // dirty[oldest..] are not yet decayed
    const clean: Run[][] = CLASSES.map(() => []);
    const dirtyByClass: Run[][] = CLASSES.map(() => []);
    const target = ((p.fill as number) * arena) / PAGE_SIZE;
    let events = 1;
    const purge = (r: Run) => {
      const s = Math.ceil(r.start / gran) * gran;
      const e = Math.floor((r.start + r.pages * PAGE_SIZE) / gran) * gran;
      for (let a = s; a < e; a += chunk) {
        out.push({ kind: 'madvise', addr: GEN_BASE + a, len: Math.min(chunk, e - a), advice: 'dontneed' });
        events++;
      }
    };
    for (let op = 0; op < (p.ops as number); op++) {
      // Decay: purge runs that have been dirty long enough (oldest first).
      while (oldest < dirty.length && dirty[oldest][1] + (p.decay as number) <= events) {
        const [r, at] = dirty[oldest++];
        if (!r.dirty || r.freedAt !== at) continue; // reused meanwhile
        const c = CLASSES.indexOf(r.pages);
        const list = dirtyByClass[c];
        list.splice(list.indexOf(r), 1);
        r.dirty = false;
        purge(r);
        clean[c].push(r);
      }
      const alloc = live.length === 0 || (inUse < target && rng.below(100) < 55);
      if (alloc) {
        const c = pickClass();
        const pages = CLASSES[c];
        let r = dirtyByClass[c].pop() ?? clean[c].pop();
        if (r) r.dirty = false;
        else {
          if ((bump + pages) * PAGE_SIZE > arena) continue;
          r = { start: bump * PAGE_SIZE, pages, freedAt: 0, dirty: false };
          bump += pages;
        }
        live.push(r);
        inUse += pages;
        out.push({ kind: 'touch', addr: GEN_BASE + r.start, len: pages * PAGE_SIZE, write: true, every: PAGE_SIZE });
        events++;
      } else {
        const i = rng.below(live.length);
        const r = live[i];
        live[i] = live[live.length - 1];
        live.pop();
        inUse -= r.pages;
        r.freedAt = events;
        r.dirty = true;
        dirty.push([r, events]);
        dirtyByClass[CLASSES.indexOf(r.pages)].push(r);
      }
    }
    // The end of a burst: part of the heap is freed and, once decayed, purged.
    for (let n = Math.floor(live.length * (p.release as number)); n > 0; n--) {
      const i = rng.below(live.length);
      const r = live[i];
      live[i] = live[live.length - 1];
      live.pop();
      r.dirty = true;
      r.freedAt = events;
      dirty.push([r, events]);
    }
    // ... and everything dirty decays.
    for (const [r, at] of dirty.slice(oldest)) if (r.dirty && r.freedAt === at) purge(r);
    return { records: out, events };
  },
};
