/**
 * Running op-script scenarios in tests: parse an inline script, run it on the model with the
 * invariants checked after every op, and look its snapshots up by label.
 *
 * Expected numbers in the tests come from the kernel's rules and from the live-kernel measurements
 * (docs/kernel-facts.md, scripts/kernel-probe/*.pt), never from the model's own output; the
 * constants below are the units those rules are stated in.
 */
import * as genApi from '../../src/mm/api.js';
import { countPteTables, FAST_API, runScript, type ModelApi, type RunResult } from '../../src/script/exec.js';
import { parseScript } from '../../src/script/parse.js';
import type { SnapshotLine } from '../../src/script/output.js';

/** VmPTE counts 4 kB per PTE, PMD or PUD table (docs/kernel-facts.md, "Accounting"). */
export const TABLE_KB = 4;
/** One PTE table maps 512 pages of 4 KiB: a 2 MiB block. */
export const PAGES_PER_BLOCK = 512;
export const PAGE_KB = 4;
export const BLOCK_KB = PAGES_PER_BLOCK * PAGE_KB;
/** A mapping alone in its 512 GiB slot (placement rule) pays for its own PUD and PMD table. */
export const SLOT_KB = 2 * TABLE_KB;

export const K = 1024;
export const M = 1024 * K;
export const G = 1024 * M;
export const T = 1024 * G;
/** Where the placement rule puts the first mapping of a process (docs/op-scripts.md). */
export const FIRST_MAP_ADDR = 16 * T;

export const GEN_API: ModelApi = genApi;

export interface Scenario {
  result: RunResult;
  /** The snapshot with this label (labels must be unique in the script). */
  snap(label: string): SnapshotLine;
  /** `delta` of a snapshot: change since its process was created, kB. */
  delta(label: string): SnapshotLine['delta'];
  rollup(label: string): SnapshotLine['smaps_rollup'];
  /** Run-length pagemap of a snapshot that named a range. */
  pagemap(label: string): [number, string][];
  mm(process: string): genApi.MmStruct;
  /** [live PTE tables, of which empty] of a process at the end of the script. */
  pteTables(process: string): [number, number];
}

export interface ScenarioOptions {
  api?: ModelApi;
  overrides?: Record<string, string>;
  /** Default true: every invariant is checked after every op. */
  checkInvariants?: boolean;
}

/**
 * Run an inline script; it must succeed (exit code 0). A failure names the script line and the
 * model's message, so the test output says what broke.
 */
export function scenario(text: string, opts: ScenarioOptions = {}): Scenario {
  const script = parseScript(text, 'inline');
  const result = runScript(script, { api: opts.api, overrides: opts.overrides, checkInvariants: opts.checkInvariants ?? true });
  if (result.exitCode !== 0) {
    const errors = result.lines.filter((l) => l.type === 'error').map((l) => JSON.stringify(l));
    const numbered = text.split('\n').map((l, i) => `${String(i + 1).padStart(3)}  ${l}`).join('\n');
    throw new Error(`script exited with ${result.exitCode}: ${errors.join('; ')}\n${numbered}`);
  }
  const snaps = new Map<string, SnapshotLine>();
  for (const l of result.lines) {
    if (l.type !== 'snapshot') continue;
    if (snaps.has(l.label)) throw new Error(`snapshot label '${l.label}' used twice`);
    snaps.set(l.label, l);
  }
  const snap = (label: string): SnapshotLine => {
    const s = snaps.get(label);
    if (!s) throw new Error(`no snapshot '${label}'`);
    return s;
  };
  const api = opts.api ?? FAST_API;
  return {
    result,
    snap,
    delta: (label) => snap(label).delta,
    rollup: (label) => snap(label).smaps_rollup,
    pagemap: (label) => {
      const p = snap(label).pagemap;
      if (!p) throw new Error(`snapshot '${label}' has no pagemap range`);
      return p.runs;
    },
    mm: (name) => {
      const mm = result.processes.get(name);
      if (!mm) throw new Error(`no process '${name}'`);
      return mm;
    },
    pteTables: (name) => {
      const mm = result.processes.get(name);
      if (!mm) throw new Error(`no process '${name}'`);
      // The table walk reads the build's `current` kernel: point it at this run's kernel first.
      api.quiesce(result.kernel);
      return countPteTables(api, result.kernel, mm);
    },
  };
}

/** Script text from lines (one op per element). */
export function lines(...ls: string[]): string {
  return ls.join('\n') + '\n';
}

/** The PTE at addr in mm (0 without a table), read without scheduling points. */
export function pteAt(k: genApi.Kernel, mm: genApi.MmStruct, addr: number): number {
  const pmdp = genApi.peekPmdSlot(mm, addr);
  const pmd = pmdp ? k.pt.peek((pmdp / 512) | 0, pmdp % 512) : 0;
  return genApi.pmdIsTable(pmd) ? k.pt.peek(k.pt.tidOfPfn(genApi.pmdPfn(pmd)), (addr / 4096) % 512) : 0;
}
