/**
 * Replays a workload trace (docs/trace-format.md) on the model, one record at a time through the
 * model's system-call surface, through a chain of purge policies, sampling the counters as it goes.
 * Pure: no I/O, no clock (elapsed time is measured by the caller through `now`).
 *
 * The kernel's address-space allocator is not modelled: every mapping goes where the trace says the
 * real kernel put it. Where the trace and the model disagree (a fault the model cannot serve, a
 * call that fails in the model but succeeded for real), the record is counted as skipped and the
 * first few are named in the run's notes; nothing is dropped silently.
 */
import * as fastApi from '../mm-fast/api.js';
import type * as Api from '../mm/api.js';
import type { ModelApi } from '../mm/api.js';
import { PAGE_CACHE_WARN_PAGES, parsePageCacheExit, uncachedPages, worstFiles } from '../trace/page_cache.js';
import { EVENT_KINDS, type TraceRecord } from '../trace/records.js';
import { TraceApplier } from './apply.js';
import { blockEmptyOutside, scanPteTables, tableRegions, takeSample } from './measure.js';
import type { PolicyView, PurgePolicy } from './policies/policy.js';
import type { ObservedCounters, ReplayRun, ReplaySample } from './report_schema.js';

const FAST_API: ModelApi = fastApi;
/** Notes per kind of skipped record. */
const MAX_NOTES_PER_KIND = 3;

/** A recorded trace's files partly out of the page cache (src/trace/page_cache.ts), when enough to show. */
function pageCacheNote(value: string): string | null {
  const files = parsePageCacheExit(value);
  const missing = uncachedPages(files);
  if (missing < PAGE_CACHE_WARN_PAGES) return null;
  return (
    `recorded with ${missing.toLocaleString('en-US')} mapped file pages out of the page cache (${worstFiles(files, 3)}): ` +
    "the kernel's fault-around mapped only cached pages, replay maps whole windows, so RssFile can come out higher than the kernel's"
  );
}

export interface ReplayOptions {
  label?: string;
  /** Model settings over the trace's own (`thp=`, `shmem_thp=` of its meta lines). */
  config?: Record<string, string>;
  policies?: PurgePolicy[];
  /** Target number of samples over the run (default 200). */
  samples?: number;
  /** Events in the trace, if known (for sampling and progress). */
  events?: number;
  onProgress?: (done: number, total: number | undefined) => void;
  /** Polled now and then; true stops the replay, which then reports what it has (interrupted). */
  shouldStop?: () => boolean;
  /** A clock in ms for the run's elapsed time (the caller's; the replay itself has none). */
  now?: () => number;
  api?: ModelApi;
}

export interface ReplayResult {
  run: ReplayRun;
  /** The real kernel's counters at the trace's `observed` points (recorded traces). */
  observed: ObservedCounters[];
}

/** The end state a report shows: the last sample, the histogram and the regions at that moment. */
interface EndState {
  sample: ReplaySample;
  hist: number[];
  regions: ReplayRun['regions'];
}

export function replay(records: Iterable<TraceRecord>, opts: ReplayOptions = {}): ReplayResult {
  const api = opts.api ?? FAST_API;
  const now = opts.now ?? (() => 0);
  const t0 = now();
  const policies = opts.policies ?? [];
  const settings: Record<string, string> = {};
  let k: Api.Kernel | null = null;
  let events = 0;
  let skipped = 0;
  const notes: string[] = [];
  const noteCount = new Map<string, number>();
  const samples: ReplaySample[] = [];
  let lastTime: number | null = null;
  const interval = Math.max(1, Math.floor((opts.events ?? 0) / (opts.samples ?? 200)) || 4096);
  let interrupted = false;

  const kernel = (): Api.Kernel => {
    if (k) return k;
    const input: Api.ConfigInput = {};
    for (const s of [settings, opts.config ?? {}]) {
      const err = api.applySettings(input, s);
      if (err) throw new Error(`config: ${err}`);
    }
    k = api.createKernel(api.resolveConfig(input));
    return k;
  };
  /** Count a record the model could not apply; name the first few of each kind and reason. */
  const skip = (r: TraceRecord, reason: string, detail = '') => {
    skipped++;
    const key = `${r.kind}: ${reason}`;
    const n = (noteCount.get(key) ?? 0) + 1;
    noteCount.set(key, n);
    if (n <= MAX_NOTES_PER_KIND) notes.push(`skipped ${r.kind}${r.line ? ` (line ${r.line})` : ''}: ${reason}${detail}`);
  };
  const model = new TraceApplier(api, kernel, settings, skip, () => (preExit ??= endState()));
  const sample = () => {
    if (!k) return;
    samples.push(takeSample(api, k, model.live(), events, lastTime, scanPteTables(k, model.mmIds)));
  };

  const view: PolicyView = {
    get process() {
      return model.cur?.name ?? '';
    },
    blockEmptyOutside(block: number, except: number, exceptEnd: number): boolean {
      return k !== null && model.cur !== null && blockEmptyOutside(api, k, model.cur.mm, block, except, exceptEnd);
    },
  };

  const endState = (): EndState => {
    sample();
    const hist = new Float64Array(513);
    scanPteTables(kernel(), model.mmIds, hist);
    return { sample: samples[samples.length - 1], hist: [...hist], regions: tableRegions(kernel(), model.live(), model.mmIds) };
  };
  /**
   * The state just before the last exit, while no event followed it: a trace that ends with its
   * process exiting reports the address space as it was, not the empty one after exit_mmap().
   */
  let preExit: EndState | null = null;

  /** Run r through policies[i..] and apply what comes out. */
  const feed = (r: TraceRecord, i: number) => {
    if (i === policies.length) {
      model.apply(r);
      if (r.kind !== 'fault' && r.kind !== 'touch' && k) api.quiesce(k);
      return;
    }
    for (const out of policies[i].transform(r, view)) feed(out, i + 1);
  };

  for (const r of records) {
    if ('t' in r && r.t !== undefined) lastTime = r.t;
    const cacheNote = r.kind === 'meta' && r.values.page_cache_exit ? pageCacheNote(r.values.page_cache_exit) : null;
    if (cacheNote) notes.push(cacheNote);
    feed(r, 0);
    if (EVENT_KINDS.has(r.kind)) {
      events++;
      if (r.kind !== 'exit') preExit = null;
      if (events % interval === 0) sample();
      if ((events & 0x3ff) === 0) opts.onProgress?.(events, opts.events);
      // Polled at every event (an atomic load): one event may be a 2 MiB touch.
      if (opts.shouldStop?.()) {
        interrupted = true;
        break;
      }
    }
  }
  if (!interrupted) policies.forEach((pol, i) => pol.flush(view).forEach((r) => feed(r, i + 1)));
  const end = preExit ?? endState();
  if (preExit) notes.push('the trace ends with its processes exiting: final figures are from just before the exit');
  const run: ReplayRun = {
    label: opts.label ?? 'replay',
    config: { ...settings, ...opts.config },
    policies: policies.map((p) => p.name),
    samples,
    final: end.sample,
    entriesHistogram: end.hist,
    regions: end.regions,
    interrupted,
    opsSkipped: skipped,
    notes,
    elapsedMs: now() - t0,
    checkpoints: model.checkpoints,
  };
  return { run, observed: model.observed };
}
