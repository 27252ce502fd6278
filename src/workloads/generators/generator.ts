/**
 * Workload generators: parameters and a seed in, a trace out (the same records `ptlab record`
 * writes), so a synthetic workload replays, transforms and reports exactly like a recorded one.
 * One generator per file; each declares its parameters with defaults and a line of help.
 */
import type { TraceRecord } from '../../trace/records.js';

export interface ParamSpec {
  default: number | string;
  help: string;
  /** For string parameters: the allowed values. */
  choices?: readonly string[];
}

export interface GeneratedTrace {
  records: Iterable<TraceRecord>;
  /** Exact number of event records the iterable yields. */
  events: number;
}

export interface WorkloadGenerator {
  readonly name: string;
  readonly summary: string;
  readonly params: Record<string, ParamSpec>;
  generate(params: Record<string, number | string>): GeneratedTrace;
}

/** First mapping address of generated traces: 16 TiB, as the op-script placement rule. */
export const GEN_BASE = 2 ** 44;
export const PAGE = 4096;
export const PMD = 2 ** 21;
export const GiB = 2 ** 30;
export const RW = 3;

/** Uniform integer in [0, n) for n up to 2^53, from two 32-bit draws. */
export function uniform(rng: { nextU32(): number }, n: number): number {
  const u = (rng.nextU32() * 2 ** 21 + (rng.nextU32() >>> 11)) / 2 ** 53;
  return Math.min(n - 1, Math.floor(u * n));
}

/** Resolve `key=value` strings against a generator's parameters (defaults filled in). */
export function resolveParams(gen: WorkloadGenerator, given: Record<string, string>): Record<string, number | string> | string {
  const out: Record<string, number | string> = {};
  for (const key of Object.keys(given)) {
    if (!(key in gen.params)) return `unknown parameter '${key}' of generator ${gen.name} (known: ${Object.keys(gen.params).join(', ')})`;
  }
  for (const [key, spec] of Object.entries(gen.params)) {
    const v = given[key];
    if (v === undefined) {
      out[key] = spec.default;
    } else if (typeof spec.default === 'number') {
      const n = parseSize(v);
      if (n === null) return `parameter ${key}: '${v}' is not a number (sizes may end in K, M, G, T)`;
      out[key] = n;
    } else {
      if (spec.choices && !spec.choices.includes(v)) return `parameter ${key}: '${v}' is not one of ${spec.choices.join(', ')}`;
      out[key] = v;
    }
  }
  return out;
}

/** `4096`, `0x1000`, `64K`, `2M`, `1.5G`, `55T`, `1e-3` → number; null if malformed. */
export function parseSize(s: string): number | null {
  const m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:e-?[0-9]+)?)([KMGT]?)$/.exec(s);
  if (!m) return null;
  const base = m[1].startsWith('0x') ? parseInt(m[1], 16) : Number(m[1]);
  const unit = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]]!;
  return base * unit;
}
