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
export type Feature = (typeof FEATURES)[number];

const TASK_FEATURES = FEATURES.filter((f) => f.startsWith('k:'));

export interface GenMap {
  name: string;
  kind: 'anon' | 'shmem' | 'file';
  file?: string;
  size: number;
  shared: boolean;
  locked: boolean;
}

export interface GenTask {
  cpu: number;
  /** The words after `cpu N`: `madvise A 0 2M dontneed`. */
  op: string;
}

/** A generated scenario before it is text: what the shrinker (shrink.ts) edits. */
export interface GenScenario {
  config: string[];
  choices: string[];
  /** `memfd F 2M`, `file F 4M folio=4K`. */
  files: string[];
  maps: GenMap[];
  /** Op-script lines run after the mappings exist. */
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

/** The seed of job `index` of a campaign with seed `seed` (splitmix-like mixing). */
export function jobSeed(seed: number, index: number): number {
  let x = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
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
    readonly d: Draw,
    readonly on: ReadonlySet<Feature>,
  ) {}

  has(f: Feature): boolean {
    return this.on.has(f);
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
  reclaim(): string {
    const m = this.d.pick(this.gen.maps);
    return `madvise ${m.name} ${size(2 * M * this.d.int(0, m.size / (2 * M) - 1))} 2M dontneed`;
  }

  /** One kernel path for a CPU, of a kind whose feature group is on. */
  task(kinds: readonly Feature[]): string {
    const { d, gen } = this;
    const m = d.pick(gen.maps);
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
        const dst = d.pick(gen.maps);
        let dOff = this.page(dst);
        const sOff = this.page(m);
        if (dst === m && dOff === sOff) dOff = sOff === 0 ? 8 * K : 0;
        return `uffd_move ${m.name} ${size(sOff)} ${dst.name} ${size(dOff)}`;
      }
      case 'k:mprotect':
        return `mprotect ${m.name} ${r()} ${d.pick(['none', 'r', 'rw'])}`;
      case 'k:mremap': {
        // To the other mapping's place, or elsewhere in its own (the ranges must not overlap).
        const dst = d.pick(gen.maps);
        const [off, len] = this.range(m, dst === m ? { whole: false, maxLen: 16 * K } : { maxLen: dst.size });
        const apart = (o: number) => o + len <= dst.size && (dst !== m || o + len <= off || off + len <= o);
        const dOff = d.pick([0, 4 * K, 8 * K, 64 * K, 2 * M - 4 * K, dst.size - len].filter(apart));
        return `mremap ${m.name} ${size(off)} ${size(len)} ${dst.name} ${size(dOff)}`;
      }
      case 'k:mincore':
        return `mincore ${m.name} ${r({ maxLen: 16 * K })}`;
      default: {
        const files = gen.maps.filter((x) => x.kind !== 'anon');
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

/** The scenario of a seed. */
export function generate(seed: number): Generated {
  const d = new Draw(seed);
  const on = drawFeatures(d);
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
  keepInContract(b.gen);
  const features = FEATURES.filter((f) => on.has(f));
  const text = emit(b.gen, { name: `swarm_${seed}`, about: `generated by ptlab swarm, seed ${seed}; features: ${features.join(' ')}` });
  return { seed, features, gen: b.gen, text, scenario: parse(text, `swarm_${seed}.scn`) };
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
  // mremap unmaps its target and its source.
  const unmaps = g.tasks.some((t) => t.op.startsWith('unmap ') || t.op.startsWith('mremap '));
  const anonCollapse = g.tasks.some((t) => t.op.endsWith(' collapse') && anon.has(t.op.split(' ')[1]));
  for (const t of g.tasks) {
    const [op, map, off] = t.op.split(' ');
    if (op === 'pte_alloc' && (unmaps || anonCollapse)) t.op = `touch ${map} ${off} 4K write`;
    if (op === 'pte_offset_map' && unmaps) t.op = `touch ${map} ${off} 4K read`;
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
  out.push(...g.files, 'process P');
  for (const m of g.maps) {
    const what = m.kind === 'anon' ? `anon ${m.shared ? 'shared' : 'private'} ${size(m.size)}` : `${m.kind} ${m.file} 0 ${size(m.size)} ${m.shared ? 'shared' : 'private'}`;
    out.push(`map ${m.name} ${what}${m.locked ? ' locked' : ''}`);
  }
  out.push(...g.setup);
  for (const t of g.tasks) out.push(`cpu ${t.cpu} ${t.op}`);
  return out.join('\n') + '\n';
}

/** Parse generated text; a refusal is a bug of the generator (or the shrinker), not of the input. */
export function parse(text: string, file: string): Scenario {
  const r = parseScenario(text, file);
  if (!r.ok) throw new Error(`swarm: generated scenario refused by the parser:\n${r.errors.join('\n')}\n${text}`);
  return r.scenario;
}
