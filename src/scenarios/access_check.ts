/**
 * A race check of the footprints against what steps really read and write (issue 12's read side).
 *
 * DPOR runs one order of two steps it calls independent, and it calls them independent from their
 * footprints (declared, plus what model code recorded: footprint.ts, src/mm/objects.ts). That is
 * sound only if every pair of *real* conflicting accesses (the same memory word, one of them a
 * write, from two tasks) is ordered by those footprints: then every order DPOR treats as equivalent
 * keeps the two accesses in the same order, and each read sees the same value. The write check of
 * footprint_check.ts compares digests and cannot see reads; this check watches the words
 * themselves while a step runs (each frame's counts, flags and owner words in PhysMem, each
 * page-table entry through the table store, each mm's VMA tree, each file's page cache by index,
 * the swap area's slot counts and swap cache) and keeps, per word, its last writer and the readers
 * since, each with its step's place in the execution (dpor.ts EventLog: the same happens-before
 * that DPOR computes from the footprints). A conflicting access not ordered after the earlier one
 * is a footprint that lies, reported with both steps. Freeing a frame or a table writes all of it
 * (a use the footprints do not order before the free races with it); when the allocator hands it
 * out again its history starts anew, as a race detector's shadow memory does. The allocator's own
 * state is not watched word by word: every allocation and free writes the lists it uses as one
 * object each (a CPU's page lists, the zone: src/mm/objects.ts OBJ.alloc), and a frame goes from
 * its free to its next allocation only through those, which orders them. Swap slots likewise
 * start anew.
 *
 * A task's reads before its first step (ModelInstance.start()) are checked too: they happen before
 * every step of every task in every execution, so a write of another task to the same word is an
 * order the search never runs (the write first), whatever the footprints say.
 *
 * Page flags are watched bit by bit, as the kernel's bit operations on folio->flags are atomic per
 * bit: PG_locked is the folio lock, which its lock steps declare (OBJ.folio), and does not race
 * with a reader of PG_dirty. Slow (proxies on the frame arrays): for tests, with `checkFootprints`.
 */
import { ModelBug } from '../mm/bug.js';
import { HPAGE_PMD_ORDER } from '../mm/const.js';
import type { Kernel } from '../mm/mm_types.js';
import { EventLog, type Access } from '../explore/dpor.js';

/**
 * The PhysMem arrays indexed by frame: what a step reads or writes of a frame. Flags are not among
 * them: they are read and written bit by bit through PhysMem.testFlags()/setFlags()/clearFlags()
 * (lint keeps other code off the array), which are watched instead, one location per bit.
 */
const FRAME_WORDS = [
  'type',
  'order',
  'refcount',
  'mapcount',
  'entireMapcount',
  'mapping',
  'index',
  'gen',
] as const;
/** The PhysMem arrays indexed by large folio (head >> HPAGE_PMD_ORDER), named by the head frame. */
const LARGE_FOLIO_WORDS = ['largeMapcount', 'mmId0', 'mmId1', 'mmIdMapcount0', 'mmIdMapcount1', 'mmIdsShared'] as const;
const FLAG_METHODS = ['testFlags', 'setFlags', 'clearFlags'] as const;

/** The table-store methods that read or write entries, wrapped while a step runs. */
const ENTRY_METHODS = ['get', 'peek', 'scanNone', 'forEachEntry', 'populated', 'poke', 'alloc', 'free'] as const;

interface Ev {
  readonly task: number;
  /** The event's number within its task (EventLog.local), 0 for a read before the first step. */
  readonly local: number;
  readonly label: string;
}

interface Shadow {
  w: Ev | null;
  r: Ev[];
}

type Touch = { loc: string; write: boolean };
/** An access, or the allocator handing out memory: the history of what `forget` selects ends there. */
type Event = Touch | { forget: (loc: string) => boolean };

export class AccessCheck {
  private readonly log: EventLog;
  private readonly shadow = new Map<string, Shadow>();
  private touches: Event[] = [];
  private undo: (() => void) | null = null;
  /** Inside the allocator: its own bookkeeping is not a step's access. */
  private inAllocator = 0;

  constructor(
    private readonly k: Kernel,
    nTasks: number,
  ) {
    this.log = new EventLog(nTasks);
  }

  /** Start watching the kernel's words (before a step, or a task's start). */
  begin(): void {
    this.touches = [];
    const undo: (() => void)[] = [];
    const mem = this.k.mem as unknown as Record<string, unknown>;
    for (const name of [...FRAME_WORDS, ...LARGE_FOLIO_WORDS]) {
      const real = mem[name] as Uint8Array | Uint16Array | Int32Array;
      const large = (LARGE_FOLIO_WORDS as readonly string[]).includes(name);
      const proxy = this.arrayProxy(real, (i) => `${name}[${large ? Number(i) << HPAGE_PMD_ORDER : i}]`);
      mem[name] = proxy;
      // PhysMem.grow() may replace the array while the step runs: keep the new one.
      undo.push(() => {
        if (mem[name] === proxy) mem[name] = real;
      });
    }
    const memo = this.k.mem as unknown as Record<string, (...a: number[]) => unknown>;
    for (const name of FLAG_METHODS) {
      const real = memo[name];
      memo[name] = (pfn: number, bits: number) => {
        if (!this.inAllocator) for (let b = bits; b; b &= b - 1) this.touch(`flags[${pfn}] bit ${31 - Math.clz32(b & -b)}`, name !== 'testFlags');
        return real.call(this.k.mem, pfn, bits);
      };
      undo.push(() => delete memo[name]);
    }
    for (const name of ['allocPages', 'freePages'] as const) {
      const real = memo[name];
      memo[name] = (...a: number[]) => {
        this.inAllocator++;
        let r: unknown;
        try {
          r = real.apply(this.k.mem, a);
        } finally {
          this.inAllocator--;
        }
        // Handed out, even inside another allocator (a page table's frame): no history from here.
        if (name === 'allocPages' && (r as number) > 0) this.forgetFrames(r as number, 1 << a[0]);
        else if (name === 'freePages' && !this.inAllocator) this.freeFrames(a[0], 1 << a[1]);
        return r;
      };
      undo.push(() => delete memo[name]);
    }
    this.watchSharedStructures(undo);
    const pt = this.k.pt as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const name of ENTRY_METHODS) {
      const real = pt[name];
      pt[name] = (...a: unknown[]) => this.entryAccess(name, a, () => real.apply(this.k.pt, a));
      undo.push(() => delete pt[name]);
    }
    this.undo = () => undo.forEach((f) => f());
  }

  /**
   * The shared structures beside frames and tables: each mm's VMA tree (one location per tree: its
   * readers and its maple-tree stores), each file's page cache (a location per index, and one for
   * the whole cache that a store writes and a walk of every entry reads), and the swap area (each
   * slot's count, the swap cache by slot and by folio). A slot freed (count 0) starts again, as a
   * freed frame does; the slot search itself is the allocator's bookkeeping.
   */
  private watchSharedStructures(undo: (() => void)[]): void {
    const wrap = (o: object, name: string, touches: (a: unknown[], result: unknown) => Touch[], allocator = false): void => {
      const rec = o as Record<string, (...a: unknown[]) => unknown>;
      const real = rec[name];
      rec[name] = (...a: unknown[]) => {
        if (allocator) this.inAllocator++;
        let result: unknown;
        try {
          result = real.apply(o, a);
        } finally {
          if (allocator) this.inAllocator--;
        }
        if (!this.inAllocator) for (const t of touches(a, result)) this.touch(t.loc, t.write);
        return result;
      };
      undo.push(() => delete rec[name]);
    };
    for (const mm of this.k.mms) {
      const tree = [`tree ${mm.id}`];
      for (const m of ['slice', 'findEndAbove', 'has', 'around', 'prev', 'next']) wrap(mm.vmas, m, () => tree.map((loc) => ({ loc, write: false })));
      for (const m of ['insert', 'remove', 'clear']) wrap(mm.vmas, m, () => tree.map((loc) => ({ loc, write: true })));
    }
    for (const f of this.k.files) {
      const at = (a: unknown[], write: boolean): Touch[] => [{ loc: `cache ${f.id}:${a[0] as number}`, write }];
      wrap(f.pages, 'load', (a) => at(a, false));
      wrap(f.pages, 'touched', (a) => at(a, false));
      wrap(f.pages, 'store', (a) => [...at(a, true), { loc: `cache ${f.id}:*`, write: true }]);
      wrap(f.pages, 'forEach', () => [{ loc: `cache ${f.id}:*`, write: false }]);
    }
    const si = this.k.swap;
    if (!si) return;
    const map = si.swapMap;
    const proxy = this.arrayProxy(map, (i) => `swap ${i}`);
    (si as { swapMap: Uint8Array }).swapMap = proxy;
    undo.push(() => ((si as { swapMap: Uint8Array }).swapMap = map));
    // The slot search is the allocator: the slot it hands out starts with no history.
    const scan = si.scan;
    (si as { scan: () => number }).scan = () => {
      this.inAllocator++;
      let off = 0;
      try {
        off = scan.call(si);
      } finally {
        this.inAllocator--;
      }
      if (off > 0 && !this.inAllocator) this.forget((loc) => loc === `swap ${off}` || loc === `swapcache ${off}`);
      return off;
    };
    undo.push(() => delete (si as { scan?: unknown }).scan);
    for (const [m, name] of [
      [si.cache, 'swapcache'],
      [si.folioSwap, 'folioswap'],
    ] as const) {
      wrap(m, 'get', (a) => [{ loc: `${name} ${a[0] as number}`, write: false }]);
      wrap(m, 'has', (a) => [{ loc: `${name} ${a[0] as number}`, write: false }]);
      wrap(m, 'set', (a) => [{ loc: `${name} ${a[0] as number}`, write: true }]);
      wrap(m, 'delete', (a) => [{ loc: `${name} ${a[0] as number}`, write: true }]);
    }
  }

  /** Run a table-store method, noting the entries it reads or writes. */
  private entryAccess(name: (typeof ENTRY_METHODS)[number], a: unknown[], run: () => unknown): unknown {
    const byPtep = name === 'get' || name === 'scanNone';
    const tid = byPtep ? Math.floor((a[0] as number) / 512) : (a[0] as number);
    const idx = byPtep ? (a[0] as number) % 512 : (a[1] as number);
    if (name === 'alloc') {
      this.inAllocator++;
      let made: unknown;
      try {
        made = run();
      } finally {
        this.inAllocator--;
      }
      if (!this.inAllocator && (made as number) > 0) {
        const prefix = `entry ${made as number}:`;
        this.forget((loc) => loc.startsWith(prefix));
      }
      return made;
    }
    const result = run();
    if (this.inAllocator) return result;
    switch (name) {
      case 'free':
        // Freeing writes every entry: a reader the footprints do not order with it races.
        for (let i = 0; i < 512; i++) this.touch(`entry ${tid}:${i}`, true);
        break;
      case 'get':
      case 'peek':
      case 'poke':
        this.touch(`entry ${tid}:${idx}`, name === 'poke');
        break;
      case 'scanNone':
        // The run of none entries and the entry that ends it.
        for (let i = 0; i <= Math.min(result as number, 511 - idx); i++) this.touch(`entry ${tid}:${idx + i}`, false);
        break;
      case 'forEachEntry':
      case 'populated':
        for (let i = 0; i < 512; i++) this.touch(`entry ${tid}:${i}`, false);
    }
    return result;
  }

  /** A typed array whose element reads and writes are noted as accesses of `loc(index)`. */
  private arrayProxy<A extends Uint8Array | Uint16Array | Int32Array>(real: A, loc: (index: string) => string): A {
    return new Proxy(real, {
      get: (target, prop) => {
        if (typeof prop === 'string' && isIndex(prop)) {
          if (!this.inAllocator) this.touch(loc(prop), false);
          return target[Number(prop)];
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
      set: (target, prop, value: number) => {
        if (typeof prop !== 'string' || !isIndex(prop)) return Reflect.set(target, prop, value, target);
        target[Number(prop)] = value;
        if (!this.inAllocator) this.touch(loc(prop), true);
        return true;
      },
    });
  }

  private touch(loc: string, write: boolean): void {
    this.touches.push({ loc, write });
  }

  /** Freeing writes every word of the frames (a use the footprints do not order before it races). */
  private freeFrames(pfn: number, nr: number): void {
    if (nr === 1 << HPAGE_PMD_ORDER) for (const name of LARGE_FOLIO_WORDS) this.touch(`${name}[${pfn}]`, true);
    for (let p = pfn; p < pfn + nr; p++) {
      for (const name of FRAME_WORDS) this.touch(`${name}[${p}]`, true);
      for (let b = 0; b < 16; b++) this.touch(`flags[${p}] bit ${b}`, true);
    }
  }

  /** Frames the allocator handed out start with no history (which frames is bookkeeping). */
  private forgetFrames(pfn: number, nr: number): void {
    this.forget((loc) => {
      const p = frameOf(loc);
      return p >= pfn && p < pfn + nr;
    });
  }

  /** From here on, the locations `gone` selects have no history (memory handed out anew). */
  private forget(gone: (loc: string) => boolean): void {
    this.touches.push({ forget: gone });
  }

  /** Stop watching; nothing is checked (an exception ended the step). */
  abort(): void {
    this.undo?.();
    this.undo = null;
  }

  /**
   * Stop watching after a step of `task` whose footprint (declared and recorded) is `access`: place
   * the step in the execution's happens-before and check each word it touched against the
   * earlier accesses of other tasks. Throws a ModelBug naming both steps and the word.
   */
  endStep(task: number, access: Access, label: string): void {
    this.abort();
    const { clock } = this.log.races(task, access);
    this.log.push(task, access, clock);
    const ev: Ev = { task, local: clock[task], label };
    const ordered = (e: Ev): boolean => e.task === task || (e.local > 0 && clock[e.task] >= e.local);
    for (const t of this.touches) {
      if ('forget' in t) {
        for (const loc of [...this.shadow.keys()]) if (t.forget(loc)) this.shadow.delete(loc);
        continue;
      }
      const s = this.shadowOf(t.loc);
      const earlier = t.write ? [...(s.w ? [s.w] : []), ...s.r] : s.w ? [s.w] : [];
      const bad = earlier.find((e) => !ordered(e));
      if (bad) throw new ModelBug(race(t, ev, bad, bad === s.w));
      if (t.write) {
        s.w = ev;
        s.r = [];
      } else if (!s.r.some((e) => e.task === task && e.local === ev.local)) s.r.push(ev);
    }
  }

  /** Stop watching after task `task` ran to its first step: its reads come before everything. */
  endStart(task: number, label: string): void {
    this.abort();
    const ev: Ev = { task, local: 0, label };
    for (const t of this.touches) if (!('forget' in t) && !t.write) this.shadowOf(t.loc).r.push(ev);
  }

  private shadowOf(loc: string): Shadow {
    let s = this.shadow.get(loc);
    if (!s) this.shadow.set(loc, (s = { w: null, r: [] }));
    return s;
  }
}

/** A typed array's element key (a proxy sees every key as a string). */
const isIndex = (prop: string): boolean => prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57;

/** The frame a location of FRAME_WORDS or of the flags is in; -1 for an entry. */
function frameOf(loc: string): number {
  const m = /^\w+\[(\d+)\]/.exec(loc);
  return m ? Number(m[1]) : -1;
}

function race(t: Touch, now: Ev, before: Ev, beforeWrote: boolean): string {
  const who = (e: Ev): string => (e.local === 0 ? `task ${e.task} ('${e.label}') before its first step` : `step '${e.label}' of task ${e.task}`);
  return (
    `${who(now)} ${t.write ? 'wrote' : 'read'} ${t.loc}, which ${who(before)} ${beforeWrote ? 'wrote' : 'read'}, ` +
    `and no footprint orders the two: DPOR may run them the other way round as if nothing changed`
  );
}
