/**
 * What runner/ptlab-exec-watch.c reports (one JSON object per line): the address space of the
 * recorded command right after exec and right before exit. Pure: parsing only.
 */
import { OBSERVED_KEYS, type ObservedKey } from '../trace/records.js';

export interface WatchVma {
  start: number;
  end: number;
  /** `rw-p` as in /proc/PID/maps */
  perms: string;
  off: number;
  inode: number;
  /** the maps pathname column: a file, `[stack]`, `[vdso]`, `/memfd:x (deleted)`, or '' */
  path: string;
}

export interface WatchPresent {
  start: number;
  end: number;
  /** pagemap bit 61 clear: an anonymous page (in a private file mapping, a COW copy: written) */
  anon: boolean;
}

export interface WatchImage {
  pid: number;
  comm: string;
  /** CLOCK_MONOTONIC ns when the exec stop was read: the child ran nothing of CMD before it */
  t: number;
  startBrk: number;
  brk: number;
  vmas: WatchVma[];
  present: WatchPresent[];
  status: Partial<Record<ObservedKey, number>>;
}

/** At exit, one file VMA's range up to EOF: its pages and how many were in the page cache. */
export interface WatchCache {
  /** the VMA's start, as in the exit `vma` lines */
  start: number;
  pages: number;
  cached: number;
}

export interface WatchReport {
  /** the last exec of the command (an execve by CMD itself replaces the first image) */
  exec?: WatchImage;
  execs: number;
  /** the pid of the watcher itself (its events in perf's data are not the command's) */
  watcher?: number;
  exitStop?: { t: number; status: Partial<Record<ObservedKey, number>>; rollup: Record<string, number>; vmas: WatchVma[]; cache: WatchCache[] };
  end?: { code: number } | { signal: number };
  execFailed?: { errno: number; error: string };
}

type Json = Record<string, unknown>;

const num = (o: Json, k: string): number => {
  const v = o[k];
  if (typeof v !== 'number') throw new Error(`field ${k} is not a number`);
  return v;
};

function counters(o: Json): Partial<Record<ObservedKey, number>> {
  const out: Partial<Record<ObservedKey, number>> = {};
  for (const k of OBSERVED_KEYS) if (typeof o[k] === 'number') out[k] = o[k];
  return out;
}

function vma(o: Json): WatchVma {
  return { start: num(o, 'start'), end: num(o, 'end'), perms: String(o.perms), off: num(o, 'off'), inode: num(o, 'inode'), path: String(o.path) };
}

/** Parse the watcher's output; throws with the line number on malformed input. */
export function parseWatchOutput(text: string): WatchReport {
  const r: WatchReport = { execs: 0 };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    try {
      const o = JSON.parse(lines[i]) as Json;
      switch (o.type) {
        case 'exec':
          r.execs++;
          r.watcher = typeof o.watcher === 'number' ? o.watcher : r.watcher;
          r.exec = { pid: num(o, 'pid'), comm: String(o.comm), t: num(o, 't'), startBrk: num(o, 'start_brk'), brk: num(o, 'brk'), vmas: [], present: [], status: {} };
          break;
        case 'vma':
          if (o.at === 'exit') r.exitStop?.vmas.push(vma(o));
          else r.exec?.vmas.push(vma(o));
          break;
        case 'present':
          r.exec?.present.push({ start: num(o, 'start'), end: num(o, 'end'), anon: o.anon === true });
          break;
        case 'status':
          if (o.at === 'exit' && r.exitStop) r.exitStop.status = counters(o);
          else if (r.exec) r.exec.status = counters(o);
          break;
        case 'rollup':
          if (r.exitStop) for (const [k, v] of Object.entries(o)) if (typeof v === 'number') r.exitStop.rollup[k] = v;
          break;
        case 'cache':
          r.exitStop?.cache.push({ start: num(o, 'start'), pages: num(o, 'pages'), cached: num(o, 'cached') });
          break;
        case 'exit-stop':
          r.exitStop = { t: num(o, 't'), status: {}, rollup: {}, vmas: [], cache: [] };
          break;
        case 'end':
          r.end = typeof o.signal === 'number' ? { signal: o.signal } : { code: num(o, 'code') };
          break;
        case 'exec-failed':
          r.execFailed = { errno: num(o, 'errno'), error: String(o.error) };
          break;
        default:
          throw new Error(`unknown type ${JSON.stringify(o.type)}`);
      }
    } catch (e) {
      throw new Error(`exec-watch output line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return r;
}
