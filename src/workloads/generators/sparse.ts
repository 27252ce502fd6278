/**
 * Sparse random touches over a huge mapping, then purges: each touched page costs a whole PTE
 * table, and whether the purge frees it depends on its shape. `purge=pages` returns each page
 * with a 4 KiB DONTNEED (the tables stay, reclaim or not); `purge=blocks` purges each touched
 * page's whole 2 MiB block (PT_RECLAIM frees the tables); `purge=none` keeps everything.
 */
import { Prng } from '../../util/prng.js';
import type { TraceRecord } from '../../trace/records.js';
import { GEN_BASE, MAX_GEN_EVENTS, MAX_GEN_MAPPING, PMD, RW, SEED_PARAM, uniform, type WorkloadGenerator } from './generator.js';
import { PAGE_SIZE } from '../../mm/const.js';

export const sparse: WorkloadGenerator = {
  name: 'sparse',
  summary: 'N random page writes over a huge mapping, then purge a fraction of them by page or by block',
  params: {
    size: { default: 2 ** 40, help: 'bytes mapped (one anonymous mapping)', min: PMD, max: MAX_GEN_MAPPING },
    touches: { default: 100_000, help: 'random pages written', min: 0, max: MAX_GEN_EVENTS, integer: true },
    purge: { default: 'pages', choices: ['none', 'pages', 'blocks'], help: 'how touched pages are given back' },
    fraction: { default: 0.5, help: 'share of touched pages given back', min: 0, max: 1 },
    seed: SEED_PARAM,
  },
  generate(p) {
    const size = Math.floor((p.size as number) / PMD) * PMD;
    const touches = p.touches as number;
    const purged = p.purge === 'none' ? 0 : Math.floor(touches * (p.fraction as number));
    const rng = new Prng(p.seed as number);
    const pages = size / PAGE_SIZE;
    const addrs: number[] = [];
    for (let i = 0; i < touches; i++) addrs.push(GEN_BASE + uniform(rng, pages) * PAGE_SIZE);
    function* records(): Generator<TraceRecord> {
      yield { kind: 'meta', values: { generator: 'sparse', seed: String(p.seed) } };
      yield { kind: 'process', name: 'P' };
      yield { kind: 'mmap', addr: GEN_BASE, len: size, prot: RW, flags: ['private', 'anon', 'noreserve'], off: 0 };
      for (const a of addrs) yield { kind: 'fault', addr: a, access: 'write' };
      for (let i = 0; i < purged; i++) {
        const a = addrs[i];
        if (p.purge === 'pages') yield { kind: 'madvise', addr: a, len: PAGE_SIZE, advice: 'dontneed' };
        else yield { kind: 'madvise', addr: a - (a % PMD), len: PMD, advice: 'dontneed' };
      }
    }
    return { records: records(), events: 1 + touches + purged };
  },
};
