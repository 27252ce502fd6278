/**
 * mulberry32: a 32-bit PRNG, small and fast, good enough to pick schedules. Ours rather than
 * Math.random so that a run is a function of its seed (docs/architecture.md, "Conventions").
 */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 2^32). */
  nextU32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, n), n ≥ 1. The modulo bias is below n / 2^32, irrelevant for task counts. */
  below(n: number): number {
    return this.nextU32() % n;
  }
}
