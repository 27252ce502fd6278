/**
 * The test program of the series' cover letter (README.md, "Quick start"): map 50 GiB, then 25,600 times touch
 * 2 MiB and MADV_DONTNEED the same 2 MiB. Without PT_RECLAIM every round leaves its PTE table
 * behind (+102,400 kB); with it every round frees it.
 */
import { GEN_BASE, PMD, RW, type WorkloadGenerator } from './generator.js';
import type { TraceRecord } from '../../trace/records.js';

export const coverLetter: WorkloadGenerator = {
  name: 'cover-letter',
  summary: 'map 50 GiB; N rounds of touch 2 MiB + MADV_DONTNEED 2 MiB (the series cover letter test)',
  params: { rounds: { default: 25_600, help: 'rounds of touch + DONTNEED (the mapping is rounds × 2 MiB)', min: 1, max: 500_000, integer: true } },
  generate(p) {
    const rounds = p.rounds as number;
    function* records(): Generator<TraceRecord> {
      yield { kind: 'meta', values: { generator: 'cover-letter', rounds: String(rounds) } };
      yield { kind: 'process', name: 'P' };
      yield { kind: 'mmap', addr: GEN_BASE, len: rounds * PMD, prot: RW, flags: ['private', 'anon'], off: 0 };
      for (let i = 0; i < rounds; i++) {
        yield { kind: 'touch', addr: GEN_BASE + i * PMD, len: PMD, write: true, every: 4096 };
        yield { kind: 'madvise', addr: GEN_BASE + i * PMD, len: PMD, advice: 'dontneed' };
      }
    }
    return { records: records(), events: 1 + 2 * rounds };
  },
};
