/**
 * Golden figures of the workload generators, derived from the page-table geometry (a PTE table
 * maps 2 MiB, a PMD table 1 GiB, a PUD table 512 GiB; each costs 4 kB of VmPTE), not copied from
 * a run: the model must produce exactly what the kernel's rules imply.
 */
import { describe, expect, it } from 'vitest';
import { GENERATORS, resolveParams } from '../../src/workloads/generators/index.js';
import { parseParamNumber } from '../../src/workloads/generators/generator.js';
import { parseSize } from '../../src/script/grammar.js';
import { runJob, type Job } from '../../src/workloads/jobs.js';
import { replay } from '../../src/workloads/replay.js';
import { mergeShards } from '../../src/workloads/variants.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function run(name: string, given: Record<string, string>, config: Record<string, string>) {
  const gen = GENERATORS[name];
  const params = resolveParams(gen, given);
  if (typeof params === 'string') throw new Error(params);
  const g = gen.generate(params);
  return replay(g.records, { config, events: g.events }).run;
}

describe('cover-letter generator', () => {
  // 25,600 rounds over 50 GiB: 25,600 PTE tables (102,400 kB), 50 PMD tables (200 kB), 1 PUD (4 kB).
  it('leaves one 4 kB table per round without PT_RECLAIM and none with it (the series\' headline figure)', () => {
    const rounds = 25_600;
    const pmdTables = Math.ceil((rounds * 2 * MiB) / GiB);
    const off = run('cover-letter', { rounds: String(rounds) }, { pt_reclaim: 'off' });
    expect(off.final.pteTables).toBe(rounds);
    expect(off.final.VmPTE).toBe(rounds * 4 + pmdTables * 4 + 4);
    expect(off.final.VmPTE - pmdTables * 4 - 4).toBe(102_400);
    const on = run('cover-letter', { rounds: String(rounds) }, { pt_reclaim: 'on' });
    expect(on.final.pteTables).toBe(0);
    expect(on.final.VmPTE).toBe(pmdTables * 4 + 4);
    expect(on.final.ptesReclaimed).toBe(rounds);
    expect(on.final.VmRSS).toBe(0);
    expect(on.entriesHistogram.reduce((a, b) => a + b, 0)).toBe(0);
    expect(off.entriesHistogram[0]).toBe(rounds);
  }, 900_000); // a bound against hangs, not a speed check (bench/ measures speed): up to 437 s on 2 loaded cores
});

describe('production generator (small scale)', () => {
  const scale = String(2 / 880); // two 64 GiB arenas: 65,536 blocks
  const blocks = 2 * 32_768;
  const resident = Math.round(((590 * GiB) / (2 * MiB)) * (2 / 880));

  it('keeps a PTE table for every block without reclaim; with purge=extents reclaim keeps only the resident blocks\'', () => {
    const off = run('production', { scale }, { pt_reclaim: 'off' });
    const on = run('production', { scale }, { pt_reclaim: 'on' });
    expect(off.final.pteTables).toBe(blocks);
    expect(off.final.pteTablesEmpty).toBe(blocks - resident);
    expect(off.final.VmPTE).toBe(blocks * 4 + 2 * 64 * 4 + 4);
    expect(on.final.pteTables).toBe(resident);
    expect(on.final.VmPTE).toBe(resident * 4 + 2 * 64 * 4 + 4);
    expect(on.final.VmRSS).toBe(off.final.VmRSS);
    expect(on.final.VmRSS).toBe(resident * 2048);
    expect(on.entriesHistogram[512]).toBe(resident);
  }, 120_000);

  it('with purge=pages no DONTNEED covers a block, so reclaim frees nothing', () => {
    const on = run('production', { scale, purge: 'pages' }, { pt_reclaim: 'on' });
    expect(on.final.pteTables).toBe(blocks);
    expect(on.final.ptesReclaimed).toBe(0);
  }, 120_000);

  it('two shards (512 GiB apart) add up to the unsharded run', () => {
    const scale16 = String(16 / 880); // 16 arenas: two PUD groups of 8
    const params = resolveParams(GENERATORS.production, { scale: scale16, res: '59G' }) as Record<string, number | string>;
    const job = (shard: number, shards: number): Job => ({
      source: { kind: 'generator', name: 'production', params },
      variant: { label: 'on', config: { pt_reclaim: 'on' }, policies: [] },
      shard,
      shards,
      samples: 20,
    });
    const whole = runJob(job(0, 1)).run;
    const merged = mergeShards([runJob(job(0, 2)).run, runJob(job(1, 2)).run]);
    for (const f of ['VmPTE', 'VmRSS', 'pteTables', 'pteTablesEmpty', 'ptesReclaimed'] as const) expect(merged.final[f]).toBe(whole.final[f]);
    // Adjacent arenas merge into one VMA; a shard boundary splits it. Each VMA's first fault
    // prepares its anon_vma under a trylock of the mmap_lock without retrying (__vmf_anon_prepare(),
    // mm/memory.c, 6.18), so the extra VMA adds no fault.
    expect(merged.final.faults).toBe(whole.final.faults);
    expect(merged.entriesHistogram).toEqual(whole.entriesHistogram);
  }, 300_000);
});

describe('sparse generator', () => {
  it('costs one PTE table per touched block; purge=blocks lets reclaim free those it empties', () => {
    const given = { size: '64G', touches: '3000', purge: 'blocks', fraction: '1', seed: '5' };
    const off = run('sparse', given, { pt_reclaim: 'off' });
    const on = run('sparse', given, { pt_reclaim: 'on' });
    expect(off.final.VmRSS).toBe(0);
    expect(on.final.pteTables).toBe(0);
    expect(on.final.ptesReclaimed).toBe(off.final.pteTables);
    expect(off.final.pteTablesEmpty).toBe(off.final.pteTables);
  });
});

describe('generator parameters', () => {
  it('are refused outside their range, naming the parameter and the range (issue 15, D9)', () => {
    expect(resolveParams(GENERATORS.sparse, { size: '0' })).toMatch(/^parameter size: '0' is out of range \(expected a number from 2097152 to /);
    expect(resolveParams(GENERATORS.heap, { ops: '1.5' })).toMatch(/^parameter ops: '1.5' is out of range \(expected an integer from 0 to 10000000\)/);
    expect(resolveParams(GENERATORS['cover-letter'], { rounds: '1e12' })).toMatch(/^parameter rounds: '1e12' is out of range/);
    expect(resolveParams(GENERATORS.heap, { seed: 'x' })).toMatch(/^parameter seed: 'x' is not a number/);
    expect(resolveParams(GENERATORS.production, { shard: '2', shards: '2' })).toMatch(/^parameter shard: 2 is not below shards=2/);
  });

  it('spell sizes as op scripts do, and fractions as decimals', () => {
    for (const w of ['4096', '0x1000', '4K', '4k', '2M', '0x2M', '1T']) expect(parseParamNumber(w), w).toBe(parseSize(w));
    expect(parseParamNumber('0.25')).toBe(0.25);
    expect(parseParamNumber('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseParamNumber('1e-3')).toBe(0.001);
    for (const w of ['', 'x', '4KB', '-1', '1.5.2', '0x']) expect(parseParamNumber(w), w).toBeNull();
  });

  it('every default is within its own range', () => {
    for (const g of Object.values(GENERATORS)) expect(resolveParams(g, {}), g.name).not.toBeTypeOf('string');
  });
});
