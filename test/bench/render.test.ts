/**
 * The benchmark's arithmetic and its report (bench/RESULTS.md), on synthetic figures: per-phase
 * medians, the kernel / model ratio of every phase, and the kernel's cover-letter estimate taken
 * from its warm fault cost. Timing itself is never asserted here (benchmarks measure speed).
 */
import { describe, expect, it } from 'vitest';
import { medianPhases, modelDense, renderResults, type BenchResults, type PhaseTimes } from '../../src/bench/bench.js';

const phases = (touch: number, dontneed: number, retouch: number, munmap: number): PhaseTimes => ({ touch, dontneed, retouch, munmap });

function results(kernel: PhaseTimes | undefined): BenchResults {
  return {
    date: '2026-01-01T00:00:00.000Z',
    node: 'v20.0.0',
    coverLetter: [{ reclaim: 'on', cpuMs: 15_000, wallMs: 15_100, vmPteKb: 204 }],
    coverLetterSparse: [{ reclaim: 'on', cpuMs: 130, vmPteKb: 204 }],
    coverLetterSparseKernelMs: kernel ? 260 : undefined,
    dense: [{ gib: 4, model: phases(1000, 200, 800, 150), kernel }],
    memory: { residentPages: 1_048_576, modelBytes: 35_000_000, bytesPerPage: 33.4 },
    kernelNote: 'test kernel',
    reps: 3,
  };
}

describe('bench arithmetic and report', () => {
  it('takes the median of each phase on its own', () => {
    const m = medianPhases([phases(3, 10, 100, 7), phases(1, 30, 300, 9), phases(2, 20, 200, 8)]);
    expect(m).toEqual(phases(2, 20, 200, 8));
    expect(medianPhases([phases(1, 1, 1, 1), phases(3, 5, 7, 9)])).toEqual(phases(2, 3, 4, 5));
  });

  it('reports every phase with the kernel / model ratio, and the warm fault cost behind the cover-letter estimate', () => {
    const md = renderResults(results(phases(3000, 300, 2400, 450)));
    expect(md).toContain('| 4 GiB | touch a fresh mapping (write fault) | 1,000 | 3,000 | 3.00× |');
    expect(md).toContain('| 4 GiB | MADV_DONTNEED | 200 | 300 | 1.50× |');
    expect(md).toContain('| 4 GiB | touch again after DONTNEED (warm) | 800 | 2,400 | 3.00× |');
    expect(md).toContain('| 4 GiB | munmap (populated) | 150 | 450 | 3.00× |');
    // 13,107,200 faults × 2,400 ns = 31.5 s.
    expect(md).toContain('(dense table below): about 31 s.');
    expect(md).toContain('| on | 130 | 204 | 260 |');
  });

  it('says n/a, and estimates nothing, without the kernel', () => {
    const md = renderResults(results(undefined));
    expect(md).toContain('| 4 GiB | MADV_DONTNEED | 200 | n/a | n/a |');
    expect(md).toContain('(dense table below).');
    expect(md).not.toMatch(/about \d+ s/);
  });

  it('measures all four phases on a small model run', () => {
    const t = modelDense(1 / 64); // 16 MiB, 4,096 pages
    for (const v of Object.values(t)) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
    expect(Object.keys(t).sort()).toEqual(['dontneed', 'munmap', 'retouch', 'touch']);
  });
});
