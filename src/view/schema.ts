/**
 * The JSON documents the web view reads, as zod schemas (types are inferred from them, so the
 * producer and the page cannot drift apart):
 * - `ptlab-explore`: `ptlab explore --json`, a search result; a violation carries its trace with
 *   a kernel snapshot after every step.
 * - `ptlab-run`: `ptlab run SCRIPT --timeline FILE`, a snapshot after every operation of an op
 *   script.
 * - `ptlab-replay-report`: `ptlab replay`'s report (src/workloads/report_schema.ts).
 */
import { z } from 'zod';
import { formatIssuePath } from '../report/parse.js';
import { ReplayReport } from '../workloads/report_schema.js';

export const VIEW_VERSION = 1 as const;

/** The entry codes of TableSnapshot.entries and huge PMDs, with the words the page shows for them. */
export const ENTRY_KINDS: Readonly<Record<string, string>> = {
  '.': 'none',
  a: 'present, anonymous page',
  s: 'present, shmem page',
  f: 'present, page-cache page',
  z: 'present, the zero page',
  x: 'present, pointing to a FREED frame',
  o: 'other',
  g: 'guard marker',
  u: 'uffd-wp marker',
  k: 'other PTE marker',
  m: 'migration entry',
  w: 'swap entry',
};

export const TableSnapshot = z.object({
  /** The model's table id (T4 in trace labels). */
  tid: z.number().int().positive(),
  level: z.enum(['pgd', 'pud', 'pmd', 'pte']),
  /** First virtual address the table maps. */
  addr: z.number(),
  /** Life cycle: linked, detached, queued (for RCU), deposited, freed, allocated. */
  state: z.string(),
  /** Non-none entries, 0..512. */
  live: z.number().int().min(0).max(512),
  /** In the tree: the parent table's id and the slot that points here. */
  parent: z.number().int().optional(),
  index: z.number().int().optional(),
  /** PMD tables: leaf or non-table entries [slot, entry code] (huge PMDs, PMD migration entries). */
  huge: z.array(z.tuple([z.number().int(), z.string()])).optional(),
  /** PMD tables: PTE tables deposited for huge PMDs (pgtable_trans_huge_deposit()). */
  deposited: z.array(z.number().int()).optional(),
  /** PTE tables: the 512 entries as run-length pairs [count, entry code]. */
  entries: z.array(z.tuple([z.number().int().positive(), z.string().length(1)])).optional(),
});
export type TableSnapshot = z.infer<typeof TableSnapshot>;

export const VmaSnapshot = z.object({
  name: z.string(),
  start: z.number(),
  end: z.number(),
  kind: z.enum(['anon', 'shmem', 'file']),
  /** vm_flags (VM_* of include/linux/mm.h). */
  flags: z.number().int(),
  file: z.string().optional(),
});
export type VmaSnapshot = z.infer<typeof VmaSnapshot>;

export const StatusSnapshot = z.object({
  VmSize: z.number(),
  VmLck: z.number(),
  VmRSS: z.number(),
  RssAnon: z.number(),
  RssFile: z.number(),
  RssShmem: z.number(),
  VmPTE: z.number(),
  VmSwap: z.number(),
});

export const AddressSpaceSnapshot = z.object({
  process: z.string(),
  /** /proc/PID/status, in kB. */
  status: StatusSnapshot,
  /** /proc/meminfo PageTables of the whole kernel, kB (falls only when RCU frees the tables). */
  pageTablesKb: z.number(),
  /** tlb_flush_pending: mmu_gathers between their first unmap and their flush. */
  tlbFlushPending: z.number().int(),
  mmapLock: z.object({ readers: z.number().int(), writer: z.number().int().nullable() }),
  vmas: z.array(VmaSnapshot),
  /** The tree, parents before children, slots in address order. */
  tables: z.array(TableSnapshot),
  /** This process's tables that no entry points to (the newest, at most a cap). */
  offTree: z.array(TableSnapshot),
  /** How many off-tree tables are in each state (all of them, not only those listed). */
  offTreeCounts: z.record(z.string(), z.number().int()),
  /** False when the process had too many PTE tables to record their entries. */
  entriesRecorded: z.boolean(),
});
export type AddressSpaceSnapshot = z.infer<typeof AddressSpaceSnapshot>;

export const CpuSnapshot = z.object({
  cpu: z.number().int(),
  /** Spinlocks held, outermost first, named as in trace labels. */
  locks: z.array(z.string()),
  rcuNesting: z.number().int(),
  irqsOff: z.boolean(),
  tlbEntries: z.number().int(),
  /** TLB entries that translate to a frame that is free now. */
  tlbStale: z.number().int(),
  /** Paging-structure-cache entries, and those pointing to a table no longer linked. */
  pwcEntries: z.number().int(),
  pwcStale: z.number().int(),
});
export type CpuSnapshot = z.infer<typeof CpuSnapshot>;

export const KernelSnapshot = z.object({
  cpus: z.array(CpuSnapshot),
  /** call_rcu() callbacks waiting for a grace period, by name. */
  rcu: z.object({ pending: z.array(z.string()), completed: z.number().int() }),
  processes: z.array(AddressSpaceSnapshot),
});
export type KernelSnapshot = z.infer<typeof KernelSnapshot>;

export const RaceStep = z.object({
  task: z.number().int().nonnegative(),
  label: z.string(),
  choice: z.number().int().optional(),
  preemption: z.boolean(),
  violating: z.boolean().optional(),
  state: z.string().optional(),
  /** The kernel after this step (before it, for the violating step, which did not complete). */
  snapshot: KernelSnapshot.optional(),
  /** The modelled kernel function the step runs in (`zap_pte_range`) and its model source line. */
  fn: z.string().optional(),
  loc: z.string().optional(),
});
export type RaceStep = z.infer<typeof RaceStep>;

export const ExploreDoc = z.object({
  type: z.literal('ptlab-explore'),
  version: z.literal(VIEW_VERSION),
  scenario: z.string(),
  guardsOff: z.array(z.string()),
  status: z.enum(['clean', 'violation', 'budget', 'step-limit']),
  executions: z.number().int(),
  /** What a clean result established (see src/explore verdictLine()): absent in older documents. */
  coverage: z.enum(['complete', 'bounded', 'sampled', 'replayed']).optional(),
  /** Column headers, one per task ('CPU0: madvise collapse', ..., 'RCU'). */
  taskNames: z.array(z.string()).optional(),
  violation: z.object({ kind: z.string(), message: z.string() }).optional(),
  token: z.string().optional(),
  /** Status 'step-limit': executions that ran past the step limit, and a token of the first. */
  overrun: z.object({ message: z.string(), token: z.string(), executions: z.number().int(), maxSteps: z.number().int() }).optional(),
  trace: z.array(RaceStep).optional(),
  /** Findings the architecture tolerates (x86's TLB conflicts), by kind, with a token of the first. */
  tolerated: z.array(z.object({ violation: z.object({ kind: z.string(), message: z.string() }), token: z.string(), executions: z.number().int() })).optional(),
  /** The kernel before the first step. */
  initial: KernelSnapshot.optional(),
});
export type ExploreDoc = z.infer<typeof ExploreDoc>;

export const RunStep = z.object({
  /** 1-based line of the op in the script. */
  line: z.number().int().positive(),
  text: z.string(),
  snapshot: KernelSnapshot,
});
export type RunStep = z.infer<typeof RunStep>;

export const RunDoc = z.object({
  type: z.literal('ptlab-run'),
  version: z.literal(VIEW_VERSION),
  script: z.string(),
  /** 0 all expectations held, 1 one failed (the run stopped there). */
  exitCode: z.number().int(),
  error: z.string().optional(),
  steps: z.array(RunStep),
  /** Ops after the first MAX_TIMELINE_STEPS that ran without a snapshot. */
  opsNotRecorded: z.number().int().positive().optional(),
});
export type RunDoc = z.infer<typeof RunDoc>;

export type ViewDoc = { kind: 'explore'; doc: ExploreDoc } | { kind: 'run'; doc: RunDoc } | { kind: 'report'; doc: ReplayReport };

const DOCS = { 'ptlab-explore': ExploreDoc, 'ptlab-run': RunDoc, 'ptlab-replay-report': ReplayReport } as const;
const KINDS = { 'ptlab-explore': 'explore', 'ptlab-run': 'run', 'ptlab-replay-report': 'report' } as const;

/**
 * JSON text → a view document, or one message that says what is wrong and where: never a throw,
 * so that the page always has something to show.
 */
export function parseViewDoc(text: string, source: string): { ok: true; view: ViewDoc } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `${source}: not JSON: ${(e as Error).message}` };
  }
  const type = typeof json === 'object' && json !== null && 'type' in json ? (json as { type: unknown }).type : undefined;
  if (typeof type !== 'string' || !Object.hasOwn(DOCS, type)) {
    return {
      ok: false,
      error: `${source}: not a ptlab document: expected "type" to be one of ${Object.keys(DOCS).join(', ')} (from ptlab explore --json, ptlab run --timeline, ptlab replay), got ${JSON.stringify(type) ?? 'nothing'}`,
    };
  }
  const t = type as keyof typeof DOCS;
  const r = DOCS[t].safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    const n = r.error.issues.length - 1;
    const more = n > 0 ? ` (and ${n} more problem${n > 1 ? 's' : ''})` : '';
    return { ok: false, error: `${source}: ${t}: ${formatIssuePath(first.path)}: ${first.message}${more}` };
  }
  return { ok: true, view: { kind: KINDS[t], doc: r.data } as ViewDoc };
}
