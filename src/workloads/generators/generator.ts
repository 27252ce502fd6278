/**
 * Workload generators: parameters and a seed in, a trace out (the same records `ptlab record`
 * writes), so a synthetic workload replays, transforms and reports exactly like a recorded one.
 * One generator per file; each declares its parameters with defaults and a line of help.
 */
import type { TraceRecord } from '../../trace/records.js';
import { parseSize } from '../../script/grammar.js';

export interface ParamSpec {
  default: number | string;
  help: string;
  /** For string parameters: the allowed values. */
  choices?: readonly string[];
  /** For number parameters: the range (docs/limits.md), and whether only integers make sense. */
  min?: number;
  max?: number;
  integer?: boolean;
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
  /** A problem across parameters (each is in its range), or undefined. */
  check?(params: Record<string, number | string>): string | undefined;
  generate(params: Record<string, number | string>): GeneratedTrace;
}

/** First mapping address of generated traces: 16 TiB, as the op-script placement rule. */
export const GEN_BASE = 2 ** 44;
/** Largest mapping (or sum of mappings) a generator lays out: what fits from GEN_BASE to TASK_SIZE (128 TiB). */
export const MAX_GEN_MAPPING = 2 ** 47 - 2 ** 44 - 2 ** 36;
/** Most events (operations, touches) a generator parameter may ask for: their records are held in memory. */
export const MAX_GEN_EVENTS = 10_000_000;
/** The `seed` parameter every generator takes. */
export const SEED_PARAM: ParamSpec = { default: 1, help: 'PRNG seed', min: 0, max: 2 ** 32 - 1, integer: true };
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
      const n = parseParamNumber(v);
      const range = `${spec.integer ? 'an integer' : 'a number'} from ${spec.min ?? 0} to ${spec.max ?? Number.MAX_SAFE_INTEGER}`;
      if (n === null || !Number.isFinite(n)) return `parameter ${key}: '${v}' is not a number (expected ${range}; sizes may end in K, M, G, T)`;
      if ((spec.integer && !Number.isInteger(n)) || n < (spec.min ?? 0) || n > (spec.max ?? Number.MAX_SAFE_INTEGER)) {
        return `parameter ${key}: '${v}' is out of range (expected ${range})`;
      }
      out[key] = n;
    } else {
      if (spec.choices && !spec.choices.includes(v)) return `parameter ${key}: '${v}' is not one of ${spec.choices.join(', ')}`;
      out[key] = v;
    }
  }
  return gen.check?.(out) ?? out;
}

/**
 * A numeric parameter: a size as op scripts spell it (`4096`, `0x1000`, `64K`, `2M`; script/parse.ts
 * `parseSize`, the one grammar of sizes), or, for the parameters that are fractions, a decimal
 * like `0.25`, `1.5G` or `1e-3`. Null if malformed.
 */
export function parseParamNumber(s: string): number | null {
  const size = parseSize(s);
  if (size !== undefined) return size;
  const m = /^([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)([KMGTkmgt]?)$/.exec(s);
  if (!m) return null;
  const shift = { '': 0, K: 10, M: 20, G: 30, T: 40 }[m[2].toUpperCase()]!;
  return Number(m[1]) * 2 ** shift;
}
