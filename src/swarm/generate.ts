/**
 * Generated scenarios for swarm testing (issue 13, section 1; docs/swarm.md). A seed gives one
 * scenario in the scenario format of src/scenarios/format.ts: the generator builds a small
 * description (`GenScenario`), emits it as .scn text and parses that text with `parseScenario`, so
 * every scenario it hands out is one the explorer accepts (a refusal is a generator bug and throws).
 *
 * Swarm testing (Groce et al., ISSTA 2012): each scenario first draws which feature groups it may
 * use (a coin per group), then draws everything else only from the enabled groups. Rare
 * combinations (a guard marker *and* a one-page DONTNEED; batch allocation failing *and* an RCU
 * reader) then get far more weight than they would if every feature were always on.
 *
 * Deterministic: the scenario is a function of its seed alone (mulberry32 from src/util/prng.ts).
 * The groups added later (EXTRA_FEATURES: a third CPU, a second process, arm64) draw from a second
 * stream, seeded from a hash of the seed, so the first stream's draws, and with the extras off the
 * text, are what they were before: campaigns and tests keep the scenarios of their seeds.
 */
import { Prng } from '../util/prng.js';
import { parseScenario, type Scenario } from '../scenarios/format.js';

/** Feature groups a scenario may turn on (docs/swarm.md lists what each one adds). */
export const FEATURES = [
  // configuration and the explorer's choices
  'resched', // need_resched() turns true every 1..3 zap iterations (or the explorer branches on it)
  'batch-fail', // mmu_gather batch pages cannot be allocated (or the explorer branches on it)
  'choices', // the two above as explorer choices (`choices ...`) rather than config values
  'pwc-addr', // table-freeing flushes drop only the walk-cache entries of their range (arm64-like)
  'vma-lock', // MADV_DONTNEED inside one VMA under the per-VMA lock (6.17+)
  'fault-around-1', // fault-around of one page (the default maps 16 pages around a file fault)
  'thp', // THP always (anonymous and shmem), so touches may map huge PMDs
  // mappings and their setup
  'shmem', // a memfd mapped shared (or private)
  'file', // a regular file mapped shared or private
  'anon-shared', // MAP_SHARED|MAP_ANONYMOUS
  'two-maps', // a second mapping
  'big', // 4 MiB mappings: two PTE tables, ranges straddling them
  'locked', // a VM_LOCKED mapping
  'markers', // guard markers installed during the setup
  'setup-zap', // the setup drops part of what it populated (empty or sparse tables, warm walk caches)
  'zero-page', // read faults (the zero page on anonymous mappings)
  // tasks
  'two-per-cpu', // up to two kernel paths on a CPU
  'one-cpu', // a single CPU (a sequential path against its own setup)
  'reclaim', // one path is a whole-block MADV_DONTNEED: the zap that reclaims the PTE table
  'k:dontneed', // MADV_DONTNEED / DONTNEED_LOCKED / FREE
  'k:collapse', // MADV_COLLAPSE
  'k:madvise', // the other advices: populate, guard install/remove, (no)hugepage
  'k:touch',
  'k:unmap',
  'k:pte_offset_map',
  'k:pte_alloc',
  'k:gup_fast',
  'k:uffd_move',
  'k:rmap_walk',
  'k:mprotect',
  'k:mremap', // MREMAP_FIXED of a range to another place (of the other mapping, or of its own)
  'k:mincore', // mincore(): a walker reading entries under pte_offset_map_lock()
] as const;

/**
 * Feature groups drawn from the second stream (`extraSeed`), after everything FEATURES decides, so
 * that adding them changed no seed's scenario where they are off. Each is listed in a scenario's
 * features only where it took effect (a third CPU needs `one-cpu` off; a second process needs a
 * mapping of a memfd or file to share), so a scenario none of them changed has its old text.
 */
export const EXTRA_FEATURES = [
  'three-cpus', // a third CPU (`nr_cpus=3`) with kernel paths of its own
  'two-procs', // a second process Q mapping the same memfd or file, with kernel paths of its own
  'arm64', // arch=arm64 version=7.1.9: break-before-make breaches are violations, PT_RECLAIM on
  'walkers', // each mincore path becomes a pagemap read, a ptdump walk or an MGLRU walk
  'numa', // each mprotect path becomes a NUMA balancing scan of the same range (task_numa_work())
  'fork', // each mremap path becomes a fork() of its process, reported by the range it moved
  'swap', // a swap area; P's populated private anonymous mappings paged out; pte_alloc paths become swapoff
  'migrate', // pte_offset_map and pte_alloc paths on P's private anonymous mappings become compaction's migration of that page
  'tcp', // a TCP socket mapping of P: pte_alloc paths become zerocopy receives into it (insert_pages()), a whole-block DONTNEED may move to it
  'aim', // P's lockless readers (pte_offset_map, gup_fast) move into the block P's whole-block DONTNEED reclaims
  'move-pages', // each mincore path the walkers group left becomes move_pages(2)'s node query of the same range (folio_walk_start())
  'rmap', // each rmap_walk path becomes reclaim's reference check (folio_referenced) or writeback's folio_mkclean of the same page
  'mlock', // each mprotect path the numa group left becomes mlock or munlock of the same range, or a clear_refs of its process
  'binder', // a binder mapping of P: pte_alloc paths the tcp group left become binder transactions into it (vm_insert_page()), a whole-block DONTNEED may move to it
  'collapse-zap', // each MADV_COLLAPSE path of P is followed on its CPU by a DONTNEED of the new THP's block, and P's gup_fast paths move into that block
  'scan', // each pagemap read the walkers group made, and each mincore path left, becomes the PAGEMAP_SCAN ioctl over the same range
  'evict', // the setup evicts what it zapped of a regular file from the page cache (fadvise DONTNEED); rmap paths on a file become fadvise of that page
] as const;
export type ExtraFeature = (typeof EXTRA_FEATURES)[number];
export type Feature = (typeof FEATURES)[number] | ExtraFeature;

/** Chance of each extra group's coin. */
const EXTRA_CHANCE: Readonly<Record<ExtraFeature, number>> = { 'three-cpus': 0.25, 'two-procs': 0.5, arm64: 0.5, walkers: 0.5, numa: 0.5, fork: 0.5, swap: 0.5, migrate: 0.5, tcp: 0.5, aim: 0.5, rmap: 0.5, 'move-pages': 0.5, mlock: 0.5, binder: 0.5, 'collapse-zap': 0.5, scan: 0.5, evict: 0.5 };

/**
 * Extra groups added after the first three: their coins and draws come after addExtras()'s, so
 * that the earlier groups' draws (and the scenarios of their seeds) stay as they were.
 */
const LATE_EXTRAS: readonly ExtraFeature[] = ['walkers', 'numa', 'fork', 'swap', 'migrate', 'tcp', 'aim', 'rmap', 'move-pages', 'mlock', 'binder', 'collapse-zap', 'scan', 'evict'];

const TASK_FEATURES = FEATURES.filter((f) => f.startsWith('k:'));

export interface GenMap {
  name: string;
  /** The process that maps it: absent for P; `Q` for the second process (`two-procs`). */
  process?: string;
  kind: 'anon' | 'shmem' | 'file' | 'tcp' | 'binder';
  file?: string;
  size: number;
  shared: boolean;
  locked: boolean;
}

export interface GenTask {
  cpu: number;
  /**
   * The words after `cpu N`: `madvise A 0 2M dontneed`. Its process is the one that maps the
   * mapping it names first (names are unique across processes).
   */
  op: string;
}

/** A generated scenario before it is text: what the shrinker (shrink.ts) edits. */
export interface GenScenario {
  config: string[];
  choices: string[];
  /** `memfd F 2M`, `file F 4M folio=4K`. */
  files: string[];
  maps: GenMap[];
  /** Op-script lines run after the mappings exist, each in the process of the mapping it names. */
  setup: string[];
  tasks: GenTask[];
}

export interface Generated {
  seed: number;
  features: Feature[];
  gen: GenScenario;
  text: string;
  scenario: Scenario;
}

const K = 1024;
const M = 1024 * K;

/** A size as the op-script language spells it. */
export function size(n: number): string {
  if (n === 0) return '0';
  if (n % M === 0) return `${n / M}M`;
  return `${n / K}K`;
}

/** The bytes of a size() spelling. */
function unsize(s: string): number {
  return s === '0' ? 0 : Number(s.slice(0, -1)) * (s.endsWith('M') ? M : K);
}

/** The seed of job `index` of a campaign with seed `seed` (splitmix-like mixing). */
export function jobSeed(seed: number, index: number): number {
  let x = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The seed of the second stream of scenario seed `seed` (the extra feature groups). */
export function extraSeed(seed: number): number {
  return jobSeed(seed ^ 0x5bd1e995, 0x2545f491);
}

class Draw {
  private readonly rng: Prng;
  constructor(seed: number) {
    this.rng = new Prng(seed);
  }
  chance(p: number): boolean {
    return this.rng.nextU32() < p * 2 ** 32;
  }
  int(lo: number, hi: number): number {
    return lo + this.rng.below(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.below(xs.length)];
  }
  /** One of several weighted alternatives. */
  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    const total = xs.reduce((s, [w]) => s + w, 0);
    let r = this.rng.below(total);
    for (const [w, x] of xs) {
      if (r < w) return x;
      r -= w;
    }
    return xs[xs.length - 1][1];
  }
}

/** Pages the setup populates and the tasks aim at: a few, so that they meet. */
const PAGES = [0, 4 * K, 8 * K, 12 * K, 64 * K, 2 * M - 4 * K];

class Builder {
  readonly gen: GenScenario = { config: [], choices: [], files: [], maps: [], setup: [], tasks: [] };
  constructor(
    public d: Draw,
    readonly on: ReadonlySet<Feature>,
  ) {}

  has(f: Feature): boolean {
    return this.on.has(f);
  }

  /** Run `f` drawing from `draw` (the second stream) instead of the first. */
  drawing<T>(draw: Draw, f: () => T): T {
    const saved = this.d;
    this.d = draw;
    try {
      return f();
    } finally {
      this.d = saved;
    }
  }

  /** The mappings of a process (P: those without a `process`). */
  mapsOf(proc: string): GenMap[] {
    return this.gen.maps.filter((m) => (m.process ?? 'P') === proc);
  }

  configure(): void {
    const { d, gen } = this;
    const asChoices = this.has('choices');
    if (this.has('resched')) {
      if (asChoices) gen.choices.push('need_resched');
      else gen.config.push(`need_resched=${d.int(1, 3)}`);
    }
    if (this.has('batch-fail')) {
      if (asChoices) gen.choices.push('batch_alloc');
      else gen.config.push('batch_alloc=fail');
    }
    if (this.has('pwc-addr')) gen.config.push('pwc_flush=addr');
    if (this.has('vma-lock')) gen.config.push('dontneed_lock=vma');
    if (this.has('fault-around-1')) gen.config.push('fault_around_bytes=4096');
    if (this.has('thp')) gen.config.push('thp=always', 'shmem_thp=always');
  }

  mapping(i: number): GenMap {
    const { d } = this;
    const name = i === 0 ? 'A' : 'B';
    const sz = this.has('big') && d.chance(0.6) ? 4 * M : 2 * M;
    const kinds: ('anon' | 'anon-shared' | 'shmem' | 'file')[] = ['anon'];
    if (this.has('anon-shared')) kinds.push('anon-shared');
    if (this.has('shmem')) kinds.push('shmem', 'shmem');
    if (this.has('file')) kinds.push('file', 'file');
    // uffd_move wants two private anonymous mappings; rmap_walk a page-cache one.
    let kind = d.pick(kinds);
    if (i === 1 && this.has('k:uffd_move') && d.chance(0.6)) kind = 'anon';
    const locked = this.has('locked') && d.chance(0.3); // mlock populates the whole mapping: long executions
    if (kind === 'anon' || kind === 'anon-shared') return { name, kind: 'anon', size: sz, shared: kind === 'anon-shared', locked };
    const file = `F${i}`;
    this.gen.files.push(kind === 'shmem' ? `memfd ${file} ${size(sz)}` : `file ${file} ${size(sz)}${d.chance(0.3) ? ' folio=2M' : ''}`);
    return { name, kind, file, size: sz, shared: kind === 'shmem' ? d.chance(0.8) : d.chance(0.5), locked };
  }

  page(m: GenMap): number {
    const blocks = m.size / (2 * M);
    return this.d.pick(PAGES) + 2 * M * this.d.int(0, blocks - 1);
  }

  /** What the setup leaves in a mapping: empty, one page, some pages, a sparse block, markers. */
  populate(m: GenMap): void {
    const { d, gen } = this;
    const how = d.weighted<'empty' | 'one' | 'some' | 'sparse' | 'all-blocks'>([
      [1, 'empty'],
      [3, 'one'],
      [3, 'some'],
      [1, 'sparse'],
      [m.size > 2 * M ? 1 : 0, 'all-blocks'],
    ]);
    const rw = (): string => (this.has('zero-page') && d.chance(0.5) ? 'read' : 'write');
    if (how === 'one') gen.setup.push(`touch ${m.name} ${size(this.page(m))} 4K ${rw()}`);
    else if (how === 'some') gen.setup.push(`touch ${m.name} ${size(d.pick([0, 4 * K]))} ${size(d.pick([8, 12, 16]) * K)} ${rw()}`);
    else if (how === 'sparse') gen.setup.push(`touch ${m.name} 0 2M ${rw()} every=256K`);
    else if (how === 'all-blocks') gen.setup.push(`touch ${m.name} 0 ${size(m.size)} ${rw()} every=1M`);
    if (this.has('markers') && !m.locked && d.chance(0.7)) gen.setup.push(`madvise ${m.name} ${size(d.pick([8 * K, 12 * K, 16 * K]))} 4K guard_install`);
    if (this.has('setup-zap') && how !== 'empty' && d.chance(0.7)) {
      const advice = m.locked ? 'dontneed_locked' : 'dontneed'; // DONTNEED refuses a VM_LOCKED range
      gen.setup.push(`madvise ${m.name} 0 ${d.chance(0.6) ? '4K' : '2M'} ${advice}`);
    }
  }

  /** A range of a mapping that matters: one page, a few pages, a whole block, two blocks' seam, all of it. */
  range(m: GenMap, opts: { whole?: boolean; maxLen?: number } = {}): [number, number] {
    const { d } = this;
    const max = opts.maxLen ?? Infinity;
    const alts: [number, [number, number]][] = [
      [3, [this.page(m), 4 * K]],
      [2, [d.pick([0, 4 * K]), d.pick([8, 12]) * K]],
    ];
    if (max >= 2 * M) alts.push([4, [2 * M * d.int(0, m.size / (2 * M) - 1), 2 * M]]);
    if (max >= 16 * K && m.size > 2 * M) alts.push([2, [2 * M - 8 * K, 16 * K]]);
    if (max >= m.size && (opts.whole ?? true)) alts.push([1, [0, m.size]]);
    return d.weighted(alts.filter(([, [, len]]) => len <= max));
  }

  /**
   * The path every race of this model meets: a MADV_DONTNEED of one whole 2 MiB block, whose zap
   * detaches and frees the emptied PTE table (mm/pt_reclaim.c). Drawn from the task kinds alone,
   * it is rare (about one scenario in 16 has one, one in 250 races it against a fault), because a
   * DONTNEED task is one kind of twelve and a whole block one range of five.
   */
  reclaim(maps: readonly GenMap[] = this.mapsOf('P')): string {
    const m = this.d.pick(maps);
    return `madvise ${m.name} ${size(2 * M * this.d.int(0, m.size / (2 * M) - 1))} 2M dontneed`;
  }

  /** One kernel path for a CPU, of a kind whose feature group is on, on mappings of one process. */
  task(kinds: readonly Feature[], maps: readonly GenMap[] = this.mapsOf('P')): string {
    const { d } = this;
    const m = d.pick(maps);
    const r = (o?: { whole?: boolean; maxLen?: number }) => {
      const [off, len] = this.range(m, o);
      return `${size(off)} ${size(len)}`;
    };
    switch (d.pick(kinds)) {
      case 'k:dontneed':
        return `madvise ${m.name} ${r()} ${d.weighted([[6, 'dontneed'], [1, 'dontneed_locked'], [1, 'free']])}`;
      case 'k:collapse':
        return `madvise ${m.name} ${size(2 * M * d.int(0, m.size / (2 * M) - 1))} 2M collapse`;
      case 'k:madvise': {
        const advice = d.pick(['populate_read', 'populate_write', 'guard_install', 'guard_remove', 'hugepage', 'nohugepage']);
        return `madvise ${m.name} ${advice.endsWith('hugepage') ? r() : r({ maxLen: 16 * K })} ${advice}`;
      }
      case 'k:touch':
        return `touch ${m.name} ${r({ maxLen: 8 * K })} ${d.chance(0.7) ? 'write' : 'read'}`;
      case 'k:unmap':
        return `unmap ${m.name} ${r()}`;
      case 'k:pte_offset_map': {
        const off = this.page(m);
        return `pte_offset_map ${m.name} ${size(off)} ${size(Math.min(d.pick([4, 8, 16]) * K, 2 * M - (off % (2 * M))))}`;
      }
      case 'k:pte_alloc':
        return `pte_alloc ${m.name} ${size(this.page(m))}`;
      case 'k:gup_fast': {
        const off = this.page(m);
        return `gup_fast ${m.name} ${size(off)} ${size(Math.min(d.pick([4, 8]) * K, 2 * M - (off % (2 * M))))}`;
      }
      case 'k:uffd_move': {
        const dst = d.pick(maps);
        let dOff = this.page(dst);
        const sOff = this.page(m);
        if (dst === m && dOff === sOff) dOff = sOff === 0 ? 8 * K : 0;
        // UFFDIO_MOVE wants the destination registered (validate_move_areas()); wp mode changes
        // no fault of the other paths until something write-protects a page.
        const register = `uffd_register ${dst.name} 0 ${size(dst.size)} wp`;
        if (dst.kind === 'anon' && !dst.shared && !this.gen.setup.includes(register)) this.gen.setup.push(register);
        return `uffd_move ${m.name} ${size(sOff)} ${dst.name} ${size(dOff)}`;
      }
      case 'k:mprotect':
        return `mprotect ${m.name} ${r()} ${d.pick(['none', 'r', 'rw'])}`;
      case 'k:mremap': {
        // To the other mapping's place, or elsewhere in its own (the ranges must not overlap).
        const dst = d.pick(maps);
        const [off, len] = this.range(m, dst === m ? { whole: false, maxLen: 16 * K } : { maxLen: dst.size });
        const apart = (o: number) => o + len <= dst.size && (dst !== m || o + len <= off || off + len <= o);
        const dOff = d.pick([0, 4 * K, 8 * K, 64 * K, 2 * M - 4 * K, dst.size - len].filter(apart));
        return `mremap ${m.name} ${size(off)} ${size(len)} ${dst.name} ${size(dOff)}`;
      }
      case 'k:mincore':
        return `mincore ${m.name} ${r({ maxLen: 16 * K })}`;
      default: {
        const files = maps.filter((x) => x.kind !== 'anon');
        const fm = files.length ? d.pick(files) : m;
        return `rmap_walk ${fm.name} ${size(this.page(fm))}`;
      }
    }
  }
}

/** The feature groups a seed turns on: a fair coin each, and at least one kind of task. */
function drawFeatures(d: Draw): Set<Feature> {
  const on = new Set<Feature>(FEATURES.filter((f) => d.chance(f === 'one-cpu' ? 0.25 : f === 'reclaim' ? 0.75 : 0.5)));
  if (!TASK_FEATURES.some((f) => on.has(f))) on.add(d.pick(TASK_FEATURES));
  return on;
}

export interface GenerateOptions {
  /** Force extra groups on (`true`) or off (`false`) instead of their coins (tests). */
  readonly extras?: Readonly<Partial<Record<ExtraFeature, boolean>>>;
}

/** The scenario of a seed. */
export function generate(seed: number, opts: GenerateOptions = {}): Generated {
  const d = new Draw(seed);
  const on = drawFeatures(d);
  // The second stream: every coin is drawn, forced or not, so the draws after them do not move.
  const x = new Draw(extraSeed(seed));
  const want = new Set(EXTRA_FEATURES.filter((f) => {
    if (LATE_EXTRAS.includes(f)) return false;
    const coin = x.chance(EXTRA_CHANCE[f]);
    return opts.extras?.[f] ?? coin;
  }));
  const b = new Builder(d, on);
  b.configure();
  const nMaps = on.has('two-maps') ? 2 : 1;
  for (let i = 0; i < nMaps; i++) b.gen.maps.push(b.mapping(i));
  for (const m of b.gen.maps) b.populate(m);
  const kinds = TASK_FEATURES.filter((f) => on.has(f));
  const cpus = on.has('one-cpu') ? 1 : 2;
  const reclaimCpu = on.has('reclaim') ? d.int(0, cpus - 1) : -1;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const n = on.has('two-per-cpu') && d.chance(0.5) ? 2 : 1;
    for (let j = 0; j < n; j++) b.gen.tasks.push({ cpu, op: cpu === reclaimCpu && j === 0 ? b.reclaim() : b.task(kinds) });
  }
  const extras = b.drawing(x, () => addExtras(b, want, kinds, cpus));
  // Both coins before the walkers' draws, so that forcing one group leaves the other's coin.
  const walkersCoin = x.chance(EXTRA_CHANCE.walkers);
  const numaCoin = x.chance(EXTRA_CHANCE.numa);
  if ((opts.extras?.walkers ?? walkersCoin) && mincoreToWalkers(b.gen, x)) extras.add('walkers');
  if ((opts.extras?.numa ?? numaCoin) && mprotectToNumaScan(b.gen)) extras.add('numa');
  // Drawn after every other coin, so that the groups before it keep their scenarios.
  const forkCoin = x.chance(EXTRA_CHANCE.fork);
  if ((opts.extras?.fork ?? forkCoin) && mremapToFork(b.gen)) extras.add('fork');
  // A stream of its own: the walkers' draws above depend on whether that group is forced.
  const swapCoin = new Draw(jobSeed(extraSeed(seed), 0x53574150)).chance(EXTRA_CHANCE.swap);
  if ((opts.extras?.swap ?? swapCoin) && swapOut(b.gen)) extras.add('swap');
  const migrateCoin = new Draw(jobSeed(extraSeed(seed), 0x4d494752)).chance(EXTRA_CHANCE.migrate);
  if ((opts.extras?.migrate ?? migrateCoin) && pteOffsetMapToMigrate(b.gen)) extras.add('migrate');
  const t = new Draw(jobSeed(extraSeed(seed), 0x54435020));
  const tcpCoin = t.chance(EXTRA_CHANCE.tcp);
  if ((opts.extras?.tcp ?? tcpCoin) && pteAllocToDriver(b.gen, t, 'tcp')) extras.add('tcp');
  const aimCoin = new Draw(jobSeed(extraSeed(seed), 0x41494d20)).chance(EXTRA_CHANCE.aim);
  if ((opts.extras?.aim ?? aimCoin) && readersIntoReclaim(b.gen)) extras.add('aim');
  const r = new Draw(jobSeed(extraSeed(seed), 0x524d4150));
  const rmapCoin = r.chance(EXTRA_CHANCE.rmap);
  if ((opts.extras?.rmap ?? rmapCoin) && rmapWalkToOtherWalkers(b.gen, r)) extras.add('rmap');
  const movePagesCoin = new Draw(jobSeed(extraSeed(seed), 0x4d4f5645)).chance(EXTRA_CHANCE['move-pages']);
  if ((opts.extras?.['move-pages'] ?? movePagesCoin) && mincoreToMovePages(b.gen)) extras.add('move-pages');
  const l = new Draw(jobSeed(extraSeed(seed), 0x4d4c434b));
  const mlockCoin = l.chance(EXTRA_CHANCE.mlock);
  if ((opts.extras?.mlock ?? mlockCoin) && mprotectToMlock(b.gen, l)) extras.add('mlock');
  const n = new Draw(jobSeed(extraSeed(seed), 0x42494e44));
  const binderCoin = n.chance(EXTRA_CHANCE.binder);
  if ((opts.extras?.binder ?? binderCoin) && pteAllocToDriver(b.gen, n, 'binder')) extras.add('binder');
  const collapseZapCoin = new Draw(jobSeed(extraSeed(seed), 0x435a4150)).chance(EXTRA_CHANCE['collapse-zap']);
  if ((opts.extras?.['collapse-zap'] ?? collapseZapCoin) && zapAfterCollapse(b.gen)) extras.add('collapse-zap');
  const scanCoin = new Draw(jobSeed(extraSeed(seed), 0x5343414e)).chance(EXTRA_CHANCE.scan);
  if ((opts.extras?.scan ?? scanCoin) && pagemapToScan(b.gen)) extras.add('scan');
  const evictCoin = new Draw(jobSeed(extraSeed(seed), 0x45564354)).chance(EXTRA_CHANCE.evict);
  if ((opts.extras?.evict ?? evictCoin) && evictFromPageCache(b.gen)) extras.add('evict');
  keepInContract(b.gen);
  const features = [...FEATURES.filter((f) => on.has(f)), ...EXTRA_FEATURES.filter((f) => extras.has(f))];
  const text = emit(b.gen, { name: `swarm_${seed}`, about: `generated by ptlab swarm, seed ${seed}; features: ${features.join(' ')}` });
  return { seed, features, gen: b.gen, text, scenario: parse(text, `swarm_${seed}.scn`) };
}

/**
 * The extra groups (EXTRA_FEATURES), drawn from the second stream after everything else, so that
 * each only adds to the scenario the first stream made: config settings, Q's mapping and setup,
 * tasks. Returns the groups that took effect.
 */
function addExtras(b: Builder, want: ReadonlySet<ExtraFeature>, kinds: readonly Feature[], cpus: number): Set<ExtraFeature> {
  const { d, gen } = b;
  const done = new Set<ExtraFeature>();
  // arm64 from 7.0 reclaims tables (docs/versions.md); 7.1.9 is the latest release, every guard on.
  if (want.has('arm64')) {
    gen.config.push('arch=arm64', 'version=7.1.9');
    done.add('arm64');
  }
  // A second process mapping the same page cache: rmap walks, file faults, collapses and
  // reclaims that meet another mm's tables. Not a VM_LOCKED one: mlock maps all of it, and a
  // collapse from Q that unmaps 512 PTEs of P alone outlasts the explorer's 10,000 steps (search.ts
  // now searches such a run again with a larger limit, but each costs seconds per job).
  const shareable = b.mapsOf('P').filter((m) => m.kind !== 'anon' && !m.locked);
  const q: GenMap[] = [];
  if (want.has('two-procs') && shareable.length) {
    const srcs = shareable.length > 1 && d.chance(0.3) ? shareable : [d.pick(shareable)];
    srcs.forEach((m, i) => q.push({ name: i === 0 ? 'C' : 'D', process: 'Q', kind: m.kind, file: m.file, size: m.size, shared: d.chance(0.75), locked: false }));
    gen.maps.push(...q);
    for (const m of q) b.populate(m);
    done.add('two-procs');
  }
  let qTasks = 0;
  const add = (cpu: number, maps: GenMap[]) => {
    gen.tasks.push({ cpu, op: b.task(kinds, maps) });
    if (maps === q) qTasks++;
  };
  let n = cpus;
  // The model runs 2 CPUs unless told (nr_cpus, src/mm/config.ts); a third is CPU 2.
  if (want.has('three-cpus') && cpus === 2) {
    gen.config.push('nr_cpus=3');
    const k = b.has('two-per-cpu') && d.chance(0.5) ? 2 : 1;
    for (let j = 0; j < k; j++) add(2, q.length && d.chance(0.5) ? q : b.mapsOf('P'));
    n = 3;
    done.add('three-cpus');
  }
  if (q.length && !qTasks) add(d.int(0, n - 1), q);
  if (q.length && d.chance(0.3)) add(d.int(0, n - 1), q);
  return done;
}

/**
 * The `walkers` group: each mincore path becomes, by the second stream, a read of
 * /proc/PID/pagemap, a ptdump walk, or the multi-gen LRU's aging walk over the same range:
 * walk_page_range() with a ->pmd_entry() that maps the table with pte_offset_map_lock(),
 * walk_page_range_debug() under the mmap_lock for write with no PTE lock, or walk_pte_range()'s
 * trylock. The MGLRU walk runs with its remedy (`mglru_real_pmd=on`): without it every campaign
 * would report the open race mglru_vs_dontneed already shows. Whether any path changed.
 */
function mincoreToWalkers(g: GenScenario, x: Draw): boolean {
  let changed = false;
  for (const t of g.tasks) {
    if (!t.op.startsWith('mincore ')) continue;
    const walker = x.pick(['pagemap', 'ptdump', 'mglru_walk'] as const);
    t.op = walker + t.op.slice('mincore'.length);
    if (walker === 'mglru_walk' && !g.config.includes('mglru_real_pmd=on')) g.config.push('mglru_real_pmd=on');
    changed = true;
  }
  return changed;
}

/**
 * The `scan` group: each pagemap read (what the walkers group made of a mincore path) and each
 * mincore path the walkers and move-pages groups left becomes the PAGEMAP_SCAN ioctl of
 * /proc/PID/pagemap over the same range: walk_page_range() under the mmap_lock, with a huge-PMD try
 * under the PMD lock and pagemap_scan_pte_hole() (pagemap_scan.ts). Whether any path changed.
 */
function pagemapToScan(g: GenScenario): boolean {
  let changed = false;
  for (const t of g.tasks) {
    const m = /^(pagemap|mincore) /.exec(t.op);
    if (!m) continue;
    t.op = 'pagemap_scan' + t.op.slice(m[1].length);
    changed = true;
  }
  return changed;
}

/**
 * The `evict` group: after the setup's MADV_DONTNEED of a regular file's mapping, a
 * posix_fadvise(POSIX_FADV_DONTNEED) of the same range evicts the zapped pages from the page cache,
 * so a kernel path's fault there misses the cache: readahead, the retry under the mmap_lock, and in
 * a VM_LOCKED mapping filemap_fault_recheck_pte_none() (audit #8); and each reclaim or writeback
 * path of a page of a regular file (rmap_walk, folio_referenced, folio_mkclean) becomes a fadvise
 * of that page, which writes it back and evicts it if nothing maps it (src/mm/fadvise.ts).
 * Whether anything changed.
 */
function evictFromPageCache(g: GenScenario): boolean {
  const files = new Set(g.maps.filter((m) => m.kind === 'file').map((m) => m.name));
  let changed = false;
  for (let i = 0; i < g.setup.length; i++) {
    const z = /^madvise (\S+) (\S+) (\S+) dontneed(?:_locked)?$/.exec(g.setup[i]);
    if (!z || !files.has(z[1])) continue;
    g.setup.splice(++i, 0, `fadvise ${z[1]} ${z[2]} ${z[3]} dontneed`);
    changed = true;
  }
  for (const t of g.tasks) {
    const w = /^(?:rmap_walk|folio_referenced|folio_mkclean) (\S+) (\S+)$/.exec(t.op);
    if (!w || !files.has(w[1])) continue;
    t.op = `fadvise ${w[1]} ${w[2]} 4K dontneed`;
    changed = true;
  }
  return changed;
}

/**
 * The `rmap` group: each rmap_walk path (reclaim's try_to_unmap()) becomes one of the other rmap
 * walkers of the same page: reclaim's reference check (folio_referenced(), which clears young bits)
 * or writeback's folio_mkclean() (which write-protects and cleans shared PTEs). Whether any changed.
 */
function rmapWalkToOtherWalkers(g: GenScenario, r: Draw): boolean {
  let changed = false;
  for (const t of g.tasks) {
    if (!t.op.startsWith('rmap_walk ')) continue;
    t.op = r.pick(['folio_referenced', 'folio_mkclean'] as const) + t.op.slice('rmap_walk'.length);
    changed = true;
  }
  return changed;
}

/**
 * The `move-pages` group: each mincore path (those the walkers group left) becomes move_pages(2)
 * with no target nodes over the same range: folio_walk_start() per page under the mmap_lock for
 * read (src/mm/move_pages.ts, audit #29). Whether any changed.
 */
function mincoreToMovePages(g: GenScenario): boolean {
  let changed = false;
  for (const t of g.tasks) {
    if (!t.op.startsWith('mincore ')) continue;
    t.op = 'move_pages' + t.op.slice('mincore'.length);
    changed = true;
  }
  return changed;
}

/**
 * The `numa` group: each mprotect path becomes a NUMA balancing scan of the same range
 * (task_numa_work(): change_protection() to PAGE_NONE under the mmap_lock for read and no VMA
 * lock, where mprotect holds it for write and write-locks the VMA). Whether any path changed.
 */
function mprotectToNumaScan(g: GenScenario): boolean {
  let changed = false;
  for (const t of g.tasks) {
    const m = /^mprotect (\S+ \S+ \S+) \S+$/.exec(t.op);
    if (!m) continue;
    t.op = `numa_scan ${m[1]}`;
    changed = true;
  }
  return changed;
}

/**
 * The `mlock` group: each mprotect path (those the numa group left) becomes mlock() or munlock()
 * of the same range (mlock_fixup()'s split and VMA write lock, then mlock_pte_range()'s walk of
 * what is mapped: audit #38), or a write to clear_refs (of P: the line names no mapping; a PGWALK_WRLOCK walk of
 * every VMA: audit #70). Whether any path changed.
 */
function mprotectToMlock(g: GenScenario, r: Draw): boolean {
  let changed = false;
  for (const t of g.tasks) {
    const m = /^mprotect (\S+ \S+ \S+) \S+$/.exec(t.op);
    if (!m) continue;
    const to = r.pick(['mlock', 'munlock', 'clear_refs'] as const);
    t.op = to === 'clear_refs' ? `clear_refs ${r.pick(['1', '2', '3'] as const)}` : `${to} ${m[1]}`;
    changed = true;
  }
  return changed;
}

/**
 * The `fork` group: each mremap path becomes a fork() of its process (dup_mmap(): the mmap_lock
 * for write and every VMA write-locked, as mremap; copy_pte_range() with no PMD recheck), whose
 * result is the pages of mremap's source range the child maps. Whether any path changed.
 */
function mremapToFork(g: GenScenario): boolean {
  let changed = false;
  for (const t of g.tasks) {
    const m = /^mremap (\S+ \S+ \S+) \S+ \S+$/.exec(t.op);
    if (!m) continue;
    t.op = `fork ${m[1]}`;
    changed = true;
  }
  return changed;
}

/**
 * The `swap` group: a swap area (`config swap=1M`), every populated private anonymous mapping of P
 * paged out at the end of the setup (MADV_PAGEOUT: swap entries, their pages in the swap cache), and
 * each pte_alloc path becomes a swapoff (try_to_unuse()). The other paths then meet swap entries:
 * swap-in faults, zaps that free slots, collapses that swap in, walkers. Whether it took effect.
 */
function swapOut(g: GenScenario): boolean {
  const out = g.maps.filter((m) => !m.process && m.kind === 'anon' && !m.shared && !m.locked && g.setup.some((l) => l.startsWith(`touch ${m.name} `)));
  if (!out.length) return false;
  g.config.push('swap=1M');
  for (const m of out) g.setup.push(`madvise ${m.name} 0 ${size(m.size)} pageout`);
  for (const t of g.tasks) if (t.op.startsWith('pte_alloc ')) t.op = 'swapoff';
  return true;
}

/**
 * The `migrate` group: each pte_offset_map or pte_alloc path on a private anonymous mapping of P becomes
 * compaction's migration of the page at its offset (migrate_pages(): migration entries, then the
 * new folio mapped), unless another path of P is one the model cannot meet migration with: an
 * munmap, mremap or anonymous collapse (the anon_vma lock the kernel's rmap walk holds excludes
 * them; the model's walk has none), a fork (the child's migration entries, which the model's
 * anonymous rmap walk does not reach) or a UFFDIO_MOVE (the model's gives up with -EINVAL on a
 * non-present source, where the kernel waits for the migration). Whether it took effect.
 */
function pteOffsetMapToMigrate(g: GenScenario): boolean {
  const anon = new Set(g.maps.filter((m) => !m.process && m.kind === 'anon' && !m.shared).map((m) => m.name));
  const proc = processOf(g);
  const mine = g.tasks.filter((t) => proc(t.op) === 'P');
  const excluded = mine.some((t) => /^(unmap|mremap|fork|uffd_move) /.test(t.op) || (t.op.endsWith(' collapse') && anon.has(t.op.split(' ')[1])));
  if (excluded) return false;
  let changed = false;
  for (const t of mine) {
    const [op, map, off] = t.op.split(' ');
    if ((op !== 'pte_offset_map' && op !== 'pte_alloc') || !anon.has(map)) continue;
    t.op = `migrate ${map} ${off}`;
    changed = true;
  }
  return changed;
}

/** The driver mappings of the `tcp` and `binder` groups: the mapping's name and the op that fills it. */
const DRIVERS = {
  tcp: { name: 'S', op: 'tcp_zerocopy' },
  binder: { name: 'N', op: 'binder_transaction' },
} as const;

/**
 * The `tcp` and `binder` groups: P maps a driver that fills the mapping itself under the VMA's
 * read lock, a TCP socket (`map S tcp 2M`, net/ipv4/tcp.c tcp_mmap(): TCP_ZEROCOPY_RECEIVE's
 * vm_insert_pages(), audit #19) or a binder device (`map N binder 2M`: a transaction's
 * vm_insert_page(), audit #18); its setup may fill a first page, each pte_alloc path of P becomes
 * a fill at the same offset (both allocate and fill the table with pte_alloc_map_lock()), and
 * each whole-block DONTNEED of P may move to the driver's mapping, so that the two meet (R15,
 * R16). The binder group runs after tcp, on the pte_alloc paths tcp left, and takes only the first:
 * two transactions installing one page at once leak a page reference in binder itself (its
 * -EBUSY path, src/mm/binder.ts), a driver bug no page-table path takes part in, which would
 * otherwise be the finding of every such campaign job. Whether it took effect.
 */
function pteAllocToDriver(g: GenScenario, d: Draw, kind: keyof typeof DRIVERS): boolean {
  const { name, op } = DRIVERS[kind];
  const proc = processOf(g);
  const allocs = g.tasks.filter((t) => t.op.startsWith('pte_alloc ') && proc(t.op) === 'P');
  if (!allocs.length) return false;
  g.maps.push({ name, kind, size: 2 * M, shared: true, locked: false });
  if (d.chance(0.5)) g.setup.push(`${op} ${name} 0 4K`);
  for (const t of kind === 'binder' ? allocs.slice(0, 1) : allocs) t.op = `${op} ${name} ${size(d.pick(PAGES.slice(0, -1)))} ${d.pick(['4K', '16K'])}`;
  for (const t of g.tasks) if (/^madvise \w+ \S+ 2M dontneed$/.test(t.op) && proc(t.op) === 'P' && d.chance(0.7)) t.op = `madvise ${name} 0 2M dontneed`;
  return true;
}

/**
 * The `aim` group: each lockless reader of P (pte_offset_map, gup_fast) moves to the mapping and
 * 2 MiB block of P's first whole-block MADV_DONTNEED, keeping its offset in the block and its
 * length. Drawn independently, a reader and the reclaim meet the same table in few scenarios (they
 * pick mappings, blocks and pages apart), and a table freed under a reader is the race every RCU
 * rule of PT_RECLAIM is about (R1, R3). Whether it took effect.
 */
function readersIntoReclaim(g: GenScenario): boolean {
  const proc = processOf(g);
  const reclaim = g.tasks.find((t) => /^madvise \w+ \S+ 2M dontneed$/.test(t.op) && proc(t.op) === 'P');
  if (!reclaim) return false;
  const [, map, block] = reclaim.op.split(' ');
  const base = unsize(block);
  let changed = false;
  for (const t of g.tasks) {
    const [op, m, off, len] = t.op.split(' ');
    if ((op !== 'pte_offset_map' && op !== 'gup_fast') || proc(t.op) !== 'P') continue;
    const moved = `${op} ${map} ${atInBlock(base, off)} ${len}`;
    if (moved !== t.op || m !== map) changed = true;
    t.op = moved;
  }
  return changed;
}

/**
 * The `collapse-zap` group: each MADV_COLLAPSE path of P is followed on its CPU by a MADV_DONTNEED
 * of the block it collapsed, and each gup_fast path of P moves into the first such block (its
 * offset in the block and its length kept). An anonymous collapse deposits the old PTE table under
 * the THP's PMD (collapse_huge_page(), mm/khugepaged.c), and the zap of the THP frees it at once,
 * with no grace period (zap_huge_pmd() -> zap_deposited_table(), mm/huge_memory.c): the one table
 * free in the model that neither RCU nor a flush IPI of the zap itself delays, so a lockless walker
 * that read the PMD before the collapse relies on the collapse's own IPI (guard `collapse-ipi`).
 * Drawn independently, they hardly meet: of the first 5,000 scenarios of campaign seed 1, three had
 * a gup_fast path and a collapse followed on its CPU by a zap, none of them of the same block.
 * A block the setup did not touch gets two written pages, so that the collapse has a table to
 * replace. When the collapse is anonymous, P's pte_offset_map paths become gup_fast paths too (same range):
 * the kernel callers of pte_offset_map hold the mmap_lock or the VMA lock, which an anonymous
 * collapse excludes, so against it they would be out of contract (keepInContract()); gup_fast is
 * the lockless walker that does meet it. Whether it took effect.
 */
function zapAfterCollapse(g: GenScenario): boolean {
  const proc = processOf(g);
  const anon = new Set(g.maps.filter((m) => m.kind === 'anon').map((m) => m.name));
  const collapses = g.tasks.filter((t) => t.op.endsWith(' collapse') && proc(t.op) === 'P');
  if (!collapses.length) return false;
  for (const c of collapses) {
    g.tasks.splice(g.tasks.indexOf(c) + 1, 0, { cpu: c.cpu, op: c.op.replace(/ collapse$/, ' dontneed') });
    // Something to collapse: MADV_COLLAPSE of a block without a PTE table fails (SCAN_PMD_NULL).
    const [, m, at] = c.op.split(' ');
    const from = unsize(at);
    const touched = g.setup.some((l) => {
      const [verb, name, off, len] = l.split(' ');
      return verb === 'touch' && name === m && unsize(off) < from + 2 * M && unsize(off) + unsize(len) > from;
    });
    if (!touched) g.setup.push(`touch ${m} ${at} 8K write`);
  }
  const [, map, block] = collapses[0].op.split(' ');
  const anonCollapse = collapses.some((c) => anon.has(c.op.split(' ')[1]));
  for (const t of g.tasks) {
    if (proc(t.op) !== 'P') continue;
    const [op, , off, len] = t.op.split(' ');
    if (op === 'gup_fast' || (op === 'pte_offset_map' && anonCollapse)) t.op = `gup_fast ${map} ${atInBlock(unsize(block), off)} ${len}`;
  }
  return true;
}

/** The offset `off` keeps within its 2 MiB block, moved into the block at `base` (the aim groups). */
function atInBlock(base: number, off: string): string {
  return size(base + (unsize(off) % (2 * M)));
}

/** Which process maps each mapping (names are unique across processes). */
function processOf(g: GenScenario): (line: string) => string {
  const of = new Map(g.maps.map((m) => [m.name, m.process ?? 'P']));
  return (line) => of.get(line.split(' ')[1]) ?? 'P';
}

/**
 * The pte_offset_map and pte_alloc tasks take no mmap_lock, but their kernel callers hold it or the
 * VMA lock (a fault, a page-table walk), which excludes munmap (or mremap) freeing tables under them and an
 * anonymous collapse replacing the PMD (mmap and VMA write locks). Against those they would be out
 * of contract, and report use-after-frees and counter imbalances no kernel caller can cause: they
 * become the faults (touch) they stand for, which take the locks.
 */
function keepInContract(g: GenScenario): void {
  const anon = new Set(g.maps.filter((m) => m.kind === 'anon').map((m) => m.name));
  const proc = processOf(g);
  // Only paths of the same mm matter: another process's munmap frees its own tables, and its file
  // collapse retracts ours without our mmap_lock in the kernel too (what pte_offset_map's RCU is for).
  for (const p of new Set(g.tasks.map((t) => proc(t.op)))) {
    const mine = g.tasks.filter((t) => proc(t.op) === p);
    // mremap unmaps its target and its source.
    const unmaps = mine.some((t) => t.op.startsWith('unmap ') || t.op.startsWith('mremap '));
    const anonCollapse = mine.some((t) => t.op.endsWith(' collapse') && anon.has(t.op.split(' ')[1]));
    for (const t of mine) {
      const [op, map, off] = t.op.split(' ');
      if (op === 'pte_alloc' && (unmaps || anonCollapse)) t.op = `touch ${map} ${off} 4K write`;
      if (op === 'pte_offset_map' && unmaps) t.op = `touch ${map} ${off} 4K read`;
    }
  }
}

export interface Header {
  name: string;
  about: string;
  guards?: readonly string[];
  violation?: string;
  /** Comment lines (without `#`) put after the header. */
  comments?: readonly string[];
}

/** The .scn text of a generated scenario. */
export function emit(g: GenScenario, h: Header): string {
  const out = [`scenario ${h.name}`, `about ${h.about}`];
  if (h.guards?.length) out.push(`guard ${h.guards.join(' ')}`);
  if (h.violation) out.push(`violation ${h.violation}`);
  for (const c of h.comments ?? []) out.push(`# ${c}`);
  if (g.choices.length) out.push(`choices ${g.choices.join(' ')}`);
  if (g.config.length) out.push(`config ${g.config.join(' ')}`);
  out.push(...g.files);
  // Each process: its mappings, then the setup lines on them; then the CPU lines, each in the
  // process of its mapping (`switch` where that changes), in order.
  const proc = processOf(g);
  const procs = ['P', ...new Set(g.maps.flatMap((m) => (m.process ? [m.process] : [])))];
  for (const p of procs) {
    out.push(`process ${p}`);
    for (const m of g.maps.filter((x) => (x.process ?? 'P') === p)) {
      const what =
        m.kind === 'anon' ? `anon ${m.shared ? 'shared' : 'private'} ${size(m.size)}` : m.kind === 'tcp' || m.kind === 'binder' ? `${m.kind} ${size(m.size)}` : `${m.kind} ${m.file} 0 ${size(m.size)} ${m.shared ? 'shared' : 'private'}`;
      out.push(`map ${m.name} ${what}${m.locked ? ' locked' : ''}`);
    }
    out.push(...g.setup.filter((l) => proc(l) === p));
  }
  let cur = procs[procs.length - 1];
  for (const t of g.tasks) {
    if (proc(t.op) !== cur) out.push(`switch ${(cur = proc(t.op))}`);
    out.push(`cpu ${t.cpu} ${t.op}`);
  }
  return out.join('\n') + '\n';
}

/** Parse generated text; a refusal is a bug of the generator (or the shrinker), not of the input. */
export function parse(text: string, file: string): Scenario {
  const r = parseScenario(text, file);
  if (!r.ok) throw new Error(`swarm: generated scenario refused by the parser:\n${r.errors.join('\n')}\n${text}`);
  return r.scenario;
}
