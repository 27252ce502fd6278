/**
 * What-if variants of one trace: `off`, `on`, `on+round-out`, `S0+coalesce`, ... A variant names a
 * kernel configuration (PT_RECLAIM off/on, or a behaviour version B/S0/S1) and the purge policies
 * applied on top, in order. Also: merging the runs of shards (independent parts of one trace
 * replayed apart) into one run, and assembling the report.
 */
import type { ObservedCounters, ReplayReport, ReplayRun, ReplaySample } from './report_schema.js';
import { REPORT_VERSION } from './report_schema.js';
import { POLICIES } from './policies/index.js';

export interface Variant {
  label: string;
  config: Record<string, string>;
  policies: string[];
}

const CONFIGS: Record<string, Record<string, string>> = {
  off: { pt_reclaim: 'off' },
  on: { pt_reclaim: 'on' },
  B: { version: 'B', pt_reclaim: 'off' },
  S0: { version: 'S0', pt_reclaim: 'on' },
  S1: { version: 'S1', pt_reclaim: 'on' },
};

export const VARIANT_HELP = `a variant is CONFIG[+POLICY...]: CONFIG is ${Object.keys(CONFIGS).join(', ')} (PT_RECLAIM off/on, or a behaviour version), POLICY one of ${Object.keys(POLICIES).join(', ')}`;

/** `off,on,on+round-out` → variants; a string is an error message. */
export function parseVariants(spec: string): Variant[] | string {
  const out: Variant[] = [];
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [cfg, ...pols] = item.split('+');
    if (!CONFIGS[cfg]) return `variant '${item}': unknown configuration '${cfg}' (expected ${VARIANT_HELP})`;
    for (const p of pols) if (!POLICIES[p]) return `variant '${item}': unknown policy '${p}' (expected ${VARIANT_HELP})`;
    out.push({ label: item, config: { ...CONFIGS[cfg] }, policies: pols });
  }
  if (!out.length) return `no variant given (expected ${VARIANT_HELP})`;
  if (new Set(out.map((v) => v.label)).size !== out.length) return 'a variant is listed twice (expected each variant once)';
  return out;
}

const SUMMED: (keyof ReplaySample)[] = [
  'op', 'VmPTE', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'pteTables', 'pteTablesEmpty', 'ptesReclaimed',
  'faults', 'tlbFlushes', 'tlbFlushPages', 'tlbFlushFreedTables', 'rcuCallbacks',
];

function addSamples(a: ReplaySample, b: ReplaySample): ReplaySample {
  const out = { ...a };
  for (const f of SUMMED) (out[f] as number) = (a[f] as number) + (b[f] as number);
  out.timeNs = a.timeNs === null || b.timeNs === null ? null : Math.max(a.timeNs, b.timeNs);
  return out;
}

/**
 * One run from the runs of independent shards: counters add up. Samples are paired by index
 * (every shard samples at the same fraction of its own events), a shorter series repeating its
 * last sample; histograms add, regions interleave by address.
 */
export function mergeShards(runs: ReplayRun[]): ReplayRun {
  if (runs.length === 1) return runs[0];
  const n = Math.max(...runs.map((r) => r.samples.length));
  const samples: ReplaySample[] = [];
  for (let i = 0; i < n; i++) samples.push(runs.map((r) => r.samples[Math.min(i, r.samples.length - 1)]).reduce(addSamples));
  return {
    ...runs[0],
    samples,
    final: runs.map((r) => r.final).reduce(addSamples),
    entriesHistogram: runs[0].entriesHistogram.map((_, i) => runs.reduce((s, r) => s + r.entriesHistogram[i], 0)),
    regions: runs.flatMap((r) => r.regions).sort((a, b) => a.start - b.start),
    interrupted: runs.some((r) => r.interrupted),
    opsSkipped: runs.reduce((s, r) => s + r.opsSkipped, 0),
    notes: [...new Set(runs.flatMap((r) => r.notes))],
    elapsedMs: Math.max(...runs.map((r) => r.elapsedMs)),
  };
}

export function buildReport(source: ReplayReport['source'], ops: number, observed: ObservedCounters[], runs: ReplayRun[]): ReplayReport {
  return { type: 'ptlab-replay-report', version: REPORT_VERSION, source, ops, observed, runs };
}
