/**
 * The production process that motivated the series (docs/workloads.md, "The production case, reconstructed"): one process with VIRT 55 TiB,
 * RES 590 GiB and VmPTE 110 GiB — a PTE table for essentially every 2 MiB of its address space,
 * while only ~1 % of it was resident. Reconstructed, not recorded: 64 GiB arenas (jemalloc-style)
 * cover VIRT; every 2 MiB block was used at some point (`touched` pages written), and all but the
 * resident blocks were then given back with MADV_DONTNEED. `purge=extents` gives back whole runs
 * of free blocks in one call each (whole aligned 2 MiB blocks: PT_RECLAIM frees their tables);
 * `purge=pages` gives back only the touched pages, one call each (no call covers a block: every
 * table stays, reclaim or not).
 *
 * At scale=1: 880 arenas, 28,835,840 blocks (VmPTE 110 GiB without reclaim), 302,080 resident
 * blocks of 512 pages (RES 590 GiB, 154.7 M pages). `scale` shrinks the arena count.
 *
 * `shard`/`shards` select the arenas of one worker: arenas are grouped by 512 GiB (one PUD table,
 * one PGD entry), so shards share no page table at any level and their counters simply add up.
 */
import { Prng } from '../../util/prng.js';
import type { TraceRecord } from '../../trace/records.js';
import { GEN_BASE, GiB, MAX_GEN_MAPPING, PMD, RW, SEED_PARAM, uniform, type WorkloadGenerator } from './generator.js';
import { PAGE_SIZE } from '../../mm/const.js';

const ARENA = 64 * GiB;
const BLOCKS_PER_ARENA = ARENA / PMD;
const ARENAS_PER_PUD = (512 * GiB) / ARENA;

export const production: WorkloadGenerator = {
  name: 'production',
  summary: 'the VIRT 55 TiB / RES 590 GiB / VmPTE 110 GiB process of the series, at any scale',
  params: {
    scale: { default: 1, help: 'fraction of the full size (arena count = round(880 × scale))', min: 1e-6, max: 1 },
    virt: { default: 55 * 2 ** 40, help: 'VIRT at scale 1 (bytes; 64 GiB arenas)', min: ARENA, max: MAX_GEN_MAPPING },
    res: { default: 590 * 2 ** 30, help: 'RES at scale 1 (bytes, in fully used 2 MiB blocks)', min: 0, max: MAX_GEN_MAPPING },
    touched: { default: 1, help: 'pages written in each block that is given back', min: 1, max: 512, integer: true },
    purge: { default: 'extents', choices: ['extents', 'pages'], help: 'how blocks are given back' },
    seed: SEED_PARAM,
    shard: { default: 0, help: 'this worker\'s shard (0-based, below shards)', min: 0, max: 63, integer: true },
    shards: { default: 1, help: 'number of shards (workers)', min: 1, max: 64, integer: true },
  },
  check: (p) => ((p.shard as number) < (p.shards as number) ? undefined : `parameter shard: ${p.shard} is not below shards=${p.shards} (expected 0 to ${(p.shards as number) - 1})`),
  generate(p) {
    const scale = p.scale as number;
    const arenas = Math.max(1, Math.round(((p.virt as number) / ARENA) * scale));
    const totalBlocks = arenas * BLOCKS_PER_ARENA;
    const residentBlocks = Math.min(totalBlocks, Math.round(((p.res as number) / PMD) * scale));
    const touched = Math.max(1, Math.min(512, p.touched as number));
    const shard = p.shard as number;
    const shards = p.shards as number;
    const mine = (a: number) => Math.floor(a / ARENAS_PER_PUD) % shards === shard;
    // Resident blocks are spread evenly: block b of the whole space is resident when it is one of
    // the `residentBlocks` multiples of the stride (offset by a seeded jitter per arena).
    const stride = totalBlocks / residentBlocks;
    const rng = new Prng(p.seed as number);
    const jitter = Array.from({ length: arenas }, () => uniform(rng, Math.max(1, Math.floor(stride))));
    const isResident = (a: number, b: number) => {
      const g = a * BLOCKS_PER_ARENA + b - jitter[a];
      return g >= 0 && Math.floor(g / stride) !== Math.floor((g - 1) / stride);
    };
    let events = 0;
    for (let a = 0; a < arenas; a++) {
      if (!mine(a)) continue;
      let resident = 0;
      let runs = 0;
      let inRun = false;
      for (let b = 0; b < BLOCKS_PER_ARENA; b++) {
        const r = isResident(a, b);
        if (r) resident++;
        if (!r && !inRun) runs++;
        inRun = !r;
      }
      const free = BLOCKS_PER_ARENA - resident;
      events += 1 + resident + free * touched + (p.purge === 'extents' ? runs : free * touched);
    }
    function* records(): Generator<TraceRecord> {
      yield { kind: 'meta', values: { generator: 'production', scale: String(scale), purge: String(p.purge), shard: `${shard}/${shards}` } };
      yield { kind: 'process', name: 'P' };
      for (let a = 0; a < arenas; a++) {
        if (!mine(a)) continue;
        const base = GEN_BASE + a * ARENA;
        yield { kind: 'mmap', addr: base, len: ARENA, prot: RW, flags: ['private', 'anon', 'noreserve'], off: 0 };
        // The i-th touched page of block b: spread over the block, different in every block.
        const pageOf = (b: number, i: number) => base + b * PMD + ((i * 97 + b) % 512) * PAGE_SIZE;
        for (let b = 0; b < BLOCKS_PER_ARENA; b++) {
          if (isResident(a, b)) yield { kind: 'touch', addr: base + b * PMD, len: PMD, write: true, every: PAGE_SIZE };
          else for (let i = 0; i < touched; i++) yield { kind: 'fault', addr: pageOf(b, i), access: 'write' };
        }
        let runStart = -1;
        for (let b = 0; b <= BLOCKS_PER_ARENA; b++) {
          const free = b < BLOCKS_PER_ARENA && !isResident(a, b);
          if (p.purge === 'pages' && free) for (let i = 0; i < touched; i++) yield { kind: 'madvise', addr: pageOf(b, i), len: PAGE_SIZE, advice: 'dontneed' };
          if (p.purge !== 'extents') continue;
          if (free && runStart < 0) runStart = b;
          if (!free && runStart >= 0) {
            yield { kind: 'madvise', addr: base + runStart * PMD, len: (b - runStart) * PMD, advice: 'dontneed' };
            runStart = -1;
          }
        }
      }
    }
    return { records: records(), events };
  },
};
