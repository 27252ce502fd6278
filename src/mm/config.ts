/**
 * Model configuration, resolved once into a complete value.
 * Defaults mirror the live kernel on our machines (docs/model.md): Linux 6.18 on x86, PT_RECLAIM on,
 * THP `madvise`, shmem THP `never`, split page-table locks, RCU single-table freeing. A `version`
 * sets the switches that release has (versions.ts); settings given explicitly win over it.
 */
import { findVersion, VERSION_ALIASES, VERSION_NAMES, type Version, type VersionSpelling } from './versions.js';

export type { Version };
export type Arch = 'x86' | 'arm64';
export type ThpMode = 'always' | 'madvise' | 'never';
export type ShmemThpMode = 'always' | 'within_size' | 'advise' | 'never' | 'deny' | 'force';

/**
 * Guard switches (issue 4; docs/model.md, "Guard switches"): each names one check or ordering that the series or its
 * follow-ups added; switching it off reintroduces that one historical defect inside the model's
 * real code path and changes nothing else.
 */
export const GUARD_NAMES = [
  'retract-pmd-recheck', // R3: retract_page_tables() rechecks the PMD state under the PMD lock
  'rcu-single-table-free', // R1: the single-table fallback frees after RCU, not after an IPI
  'zap-fastpath-fix', // R6: the fast path only if the PTE lock was never dropped (S1 fix)
  'fastpath-pml-trylock', // R7: the fast path trylocks the PMD lock (no ABBA deadlock)
  'any-skipped', // R11: entries left behind (markers) forbid reclaim
  'reclaim-range-check', // R12: reclaim only when the zap covered the whole table
  'ptlock-rcu-free', // R2: the split PTE lock lives until the table's RCU free
  'gup-fast-recheck', // R1b: gup_fast rechecks the PMD and PTE after taking a reference
  'uffd-move-dst-pmd-recheck', // R4: UFFDIO_MOVE rechecks the destination PMD under its PTE lock
  'vma-write-before-recheck', // R10: collapse_huge_page() write-locks the VMA before rechecking the PMD
  'rw-nolock-pmd-same', // R5: page_vma_mapped_walk()'s map_pte() rechecks the PMD under the PTE lock
  'free-pte-flush-addr', // R9: the freed table's flush range is the table's own address, not the zap's end
  'zap-retry-reset', // R13: zap_pte_range() clears force_flush/force_break before each retry (v1 kept them)
  'fork-vma-write', // fork: dup_mmap() write-locks each parent VMA before copying it ("fork: lock VMAs of the parent process when forking", 2023)
  'collapse-ipi', // collapse_huge_page() sends tlb_remove_table_sync_one() after pmdp_collapse_flush() ("mm/khugepaged: fix GUP-fast interaction by sending IPI", 2022)
] as const;
export type GuardName = (typeof GUARD_NAMES)[number];

export interface Config {
  /** CONFIG_PT_RECLAIM (forced off by version 6.13, which has none). */
  readonly ptReclaim: boolean;
  readonly version: Version;
  /**
   * The architecture's TLB rules: `arm64` invalidates walk caches by address (pwc_flush=addr unless
   * set) and requires break-before-make, so a TLB conflict is a violation; on `x86` it is tolerated
   * (reported, not failing), as Intel documents for mixed page sizes (arch/tlb_conflict.ts).
   */
  readonly arch: Arch;
  /**
   * The remedy proposed for race R8 and not merged: a fault that installs a PTE table or a huge PMD
   * while the mm has a TLB flush pending flushes the block first (docs/versions.md).
   */
  readonly faultFlushPending: boolean;
  /**
   * A remedy for the multi-gen LRU walk's stale PMD copy (docs/audit.md #49; not proposed
   * upstream): walk_pte_range() maps through the PMD itself (pmd + i), so that ___pte_offset_map()
   * reads it inside rcu_read_lock() and the pmd_same() after the trylock compares it with the PMD.
   */
  readonly mglruRealPmd: boolean;
  /**
   * A remedy for insert_pages()'s -EFAULT when the PTE table it just allocated was reclaimed before
   * pte_offset_map_lock() (docs/audit.md #19; not proposed upstream): walk and allocate again.
   */
  readonly insertPagesRetry: boolean;
  /**
   * The same remedy for __get_locked_pte() (vm_insert_page(): -ENOMEM, docs/audit.md #18; not
   * proposed upstream): walk and allocate again when pte_alloc_map_lock() finds the table gone.
   */
  readonly getLockedPteRetry: boolean;
  /**
   * A remedy for binder's -EBUSY path (binder_install_single_page(), docs/audit.md #18; not
   * proposed upstream): drop the reference binder_page_lookup()'s GUP took on the page the other
   * install mapped, whose own reference is the one binder keeps.
   */
  readonly binderLookupPut: boolean;
  readonly thp: ThpMode;
  readonly shmemThp: ShmemThpMode;
  /** /sys/kernel/mm/transparent_hugepage/use_zero_page (default 1). */
  readonly thpUseZeroPage: boolean;
  /**
   * Whether read faults map the shared zero page (and the huge zero page): off models a vendor
   * kernel booted with pvm_no_zero_page=1, whose read faults map pages of their own
   * (mm_types.ts, faultMayMapZeroPage()).
   */
  readonly faultZeroPage: boolean;
  /** USE_SPLIT_PTE_PTLOCKS / USE_SPLIT_PMD_PTLOCKS (on for NR_CPUS >= 4, as on x86_64 defconfigs). */
  readonly splitPtlocks: boolean;
  /**
   * Single-table fallback of tlb_remove_table(): `rcu` (PT_RECLAIM, patch 10), `ipi` (semi-RCU,
   * without PT_RECLAIM before 7.1) or `sync-rcu` (without PT_RECLAIM from 7.1: synchronize_rcu()).
   */
  readonly tableFree: 'rcu' | 'ipi' | 'sync-rcu';
  /** Page tables ride in the page batch, freed after the flush with no RCU (x86 before 6.15 without PT_RECLAIM). */
  readonly tablesViaPageBatch: boolean;
  /** The zap fast path trylocks the PMD lock even when it is the PTE lock it holds (before 7.0). */
  readonly trylockSameLock: boolean;
  /** need_resched() turns true every N iterations of the zap loop; 0 = never. */
  readonly needReschedEvery: number;
  /** Whether mmu_gather can allocate batch pages (GFP_NOWAIT may fail). */
  readonly batchAlloc: 'ok' | 'fail';
  /** /sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none (default 511). */
  readonly khugepagedMaxPtesNone: number;
  /** filemap fault-around window in bytes (/sys/kernel/debug/fault_around_bytes, default 64 KiB). */
  readonly faultAroundBytes: number;
  /**
   * Readahead window of a regular file, KiB (the bdi's read_ahead_kb: 8192 for this machine's
   * root disk, /sys/block/vda/queue/read_ahead_kb, where the kernel runner's files live).
   */
  readonly readaheadKb: number;
  /** Physical memory of the modelled machine in pages (allocation beyond this fails: -ENOMEM). */
  readonly totalPages: number;
  /** Number of simulated CPUs (the single-CPU driver uses CPU 0). */
  readonly nrCpus: number;
  /**
   * Size of the one swap area in pages (0: no swap, as our machines have none). Its
   * first page is the header, as in the kernel, so it holds swapPages - 1 slots.
   */
  readonly swapPages: number;
  /** MADV_DONTNEED under mmap_lock (6.14) or, for a range inside one VMA, the per-VMA lock (6.17+). */
  readonly dontneedLock: 'mmap' | 'vma';
  /** MADV_FREE likewise (the per-VMA lock from 6.18; follows dontneed_lock=mmap when that is set). */
  readonly freeLock: 'mmap' | 'vma';
  /**
   * What a flush with freed_tables drops from the paging-structure caches: `all` of the mm's
   * entries (x86: INVLPG drops all paging-structure entries of the PCID: docs/kernel-rules.md, "TLB and the hardware walker") or only the
   * entries covering the flushed range (`addr`, arm64-like; race R9 needs it to be visible).
   */
  readonly pwcFlush: 'all' | 'addr';
  /** Guards switched off (all on by default; versions B and S0 switch some off). */
  readonly guardsOff: ReadonlySet<GuardName>;
}

export const DEFAULT_CONFIG: Readonly<Config> = {
  ptReclaim: true,
  version: '6.18',
  arch: 'x86',
  faultFlushPending: false,
  mglruRealPmd: false,
  insertPagesRetry: false,
  getLockedPteRetry: false,
  binderLookupPut: false,
  tablesViaPageBatch: false,
  trylockSameLock: true,
  thp: 'madvise',
  shmemThp: 'never',
  thpUseZeroPage: true,
  faultZeroPage: true,
  splitPtlocks: true,
  tableFree: 'rcu',
  needReschedEvery: 0,
  batchAlloc: 'ok',
  khugepagedMaxPtesNone: 511,
  faultAroundBytes: 64 * 1024,
  readaheadKb: 8192,
  totalPages: 2 ** 32,
  nrCpus: 2,
  swapPages: 0,
  guardsOff: new Set(),
  dontneedLock: 'vma',
  freeLock: 'vma',
  pwcFlush: 'all',
};

/** Settings to resolve: any subset, a version by its name or an alias (`S1`). */
export type ConfigInput = Partial<{ -readonly [K in keyof Config]: K extends 'version' ? VersionSpelling : Config[K] }>;

export function resolveConfig(input: ConfigInput = {}): Config {
  const v = findVersion(input.version ?? DEFAULT_CONFIG.version);
  if (!v) throw new Error(`unknown kernel version '${input.version}'`);
  const c = { ...DEFAULT_CONFIG, ...input, version: v.name };
  const off = new Set<GuardName>(input.guardsOff ?? []);
  if (!v.ptReclaim) c.ptReclaim = false;
  else if (input.ptReclaim === undefined && !v.ptReclaimArchs.includes(c.arch)) c.ptReclaim = false;
  for (const g of v.guardsOff) off.add(g);
  if (input.dontneedLock === undefined) c.dontneedLock = v.dontneedVmaLock ? 'vma' : 'mmap';
  if (input.freeLock === undefined) c.freeLock = v.freeVmaLock && c.dontneedLock === 'vma' ? 'vma' : 'mmap';
  c.trylockSameLock = v.trylockSameLock;
  // Only x86: arm64 selects MMU_GATHER_RCU_TABLE_FREE and its __pte_free_tlb()/__pmd_free_tlb()
  // call tlb_remove_ptdesc() -> tlb_remove_table() (arch/arm64/Kconfig, asm/tlb.h, 6.18.2; under
  // HAVE_RCU_TABLE_FREE since the 4.x releases), so its tables never ride in the page batch: with
  // a broadcast TLBI and no flush IPI that would free a table under an interrupts-off walker.
  c.tablesViaPageBatch = !c.ptReclaim && v.tablesViaPageBatch && c.arch === 'x86';
  // arm64 invalidates walk-cache entries by address (TLBI by VA covering the freed table).
  if (c.arch === 'arm64' && input.pwcFlush === undefined) c.pwcFlush = 'addr';
  // Without PT_RECLAIM the single-table fallback is "IPI, then free" (mm/mmu_gather.c), from 7.1
  // synchronize_rcu() then free.
  if (!c.ptReclaim && input.tableFree === undefined) c.tableFree = v.fallbackWithoutReclaim;
  if (c.tableFree === 'ipi') off.add('rcu-single-table-free');
  if (off.has('rcu-single-table-free')) c.tableFree = 'ipi';
  c.guardsOff = off;
  return Object.freeze(c);
}

/** Whether a guard is in force in this configuration. */
export function guardOn(cfg: Config, name: GuardName): boolean {
  return !cfg.guardsOff.has(name);
}

/** The largest swap area a script may ask for (the kernel runner writes the whole file). */
export const MAX_SWAP_MIB = 256;

/** Settings as spelled in op scripts and on the command line (docs/op-scripts.md). */
export const SCRIPT_SETTINGS: Readonly<Record<string, { values: string; apply: (c: ConfigInput, v: string) => boolean }>> = {
  pt_reclaim: { values: 'one of: on, off', apply: (c, v) => onOff(v, (b) => (c.ptReclaim = b)) },
  version: {
    values: `a release: one of ${VERSION_NAMES.join(', ')} (aliases: ${Object.entries(VERSION_ALIASES).map(([a, v]) => `${a}=${v}`).join(', ')}; \`ptlab versions\` lists what each changes)`,
    apply: (c, v) => {
      const found = findVersion(v);
      if (found) c.version = found.name;
      return found !== undefined;
    },
  },
  arch: { values: 'one of: x86, arm64', apply: (c, v) => oneOf(v, ['x86', 'arm64'], (x) => (c.arch = x as Arch)) },
  fault_flush_pending: { values: 'one of: on, off (the unmerged remedy for race R8)', apply: (c, v) => onOff(v, (b) => (c.faultFlushPending = b)) },
  insert_pages_retry: { values: 'one of: on, off (a remedy for insert_pages() meeting a reclaimed PTE table, docs/audit.md #19)', apply: (c, v) => onOff(v, (b) => (c.insertPagesRetry = b)) },
  get_locked_pte_retry: { values: 'one of: on, off (a remedy for vm_insert_page() meeting a reclaimed PTE table, docs/audit.md #18)', apply: (c, v) => onOff(v, (b) => (c.getLockedPteRetry = b)) },
  binder_lookup_put: { values: "one of: on, off (a remedy for binder_page_lookup()'s leaked reference, docs/audit.md #18)", apply: (c, v) => onOff(v, (b) => (c.binderLookupPut = b)) },
  mglru_real_pmd: { values: "one of: on, off (a remedy for the MGLRU walk's stale PMD copy, docs/audit.md #49)", apply: (c, v) => onOff(v, (b) => (c.mglruRealPmd = b)) },
  thp: { values: 'one of: always, madvise, never', apply: (c, v) => oneOf(v, ['always', 'madvise', 'never'], (x) => (c.thp = x as ThpMode)) },
  shmem_thp: {
    values: 'one of: always, within_size, advise, never, deny, force',
    apply: (c, v) => oneOf(v, ['always', 'within_size', 'advise', 'never', 'deny', 'force'], (x) => (c.shmemThp = x as ShmemThpMode)),
  },
  fault_zero_page: {
    values: 'one of: on, off (off: read faults map pages of their own, as with pvm_no_zero_page=1)',
    apply: (c, v) => onOff(v, (b) => (c.faultZeroPage = b)),
  },
  split_ptlocks: { values: 'one of: on, off', apply: (c, v) => onOff(v, (b) => (c.splitPtlocks = b)) },
  table_free: { values: 'one of: rcu, ipi, sync-rcu', apply: (c, v) => oneOf(v, ['rcu', 'ipi', 'sync-rcu'], (x) => (c.tableFree = x as Config['tableFree'])) },
  need_resched: {
    values: 'never or a positive integer',
    apply: (c, v) => {
      if (v === 'never') return (c.needReschedEvery = 0), true;
      if (!/^[1-9][0-9]*$/.test(v)) return false;
      c.needReschedEvery = Number(v);
      return true;
    },
  },
  dontneed_lock: {
    values: 'one of: mmap, vma',
    apply: (c, v) => oneOf(v, ['mmap', 'vma'], (x) => (c.dontneedLock = x as 'mmap' | 'vma')),
  },
  fault_around_bytes: {
    values: 'a power of two from 4096 to 65536 (debugfs fault_around_bytes)',
    apply: (c, v) => {
      const n = Number(v);
      if (![4096, 8192, 16384, 32768, 65536].includes(n)) return false;
      c.faultAroundBytes = n;
      return true;
    },
  },
  read_ahead_kb: {
    values: 'a multiple of 4 from 0 to 65536 (the readahead window of a regular file, /sys/block/DEV/queue/read_ahead_kb)',
    apply: (c, v) => {
      if (!/^[0-9]+$/.test(v) || Number(v) % 4 || Number(v) > 65536) return false;
      c.readaheadKb = Number(v);
      return true;
    },
  },
  nr_cpus: {
    values: 'an integer from 1 to 8 (the CPUs the explorer runs; scripts run on CPU 0)',
    apply: (c, v) => {
      if (!/^[1-8]$/.test(v)) return false;
      c.nrCpus = Number(v);
      return true;
    },
  },
  swap: {
    values: `off, or a size from 1M to ${MAX_SWAP_MIB}M (a swap area of that size; the kernel runner creates one for the run)`,
    apply: (c, v) => {
      if (v === 'off') return (c.swapPages = 0), true;
      const m = /^([1-9][0-9]{0,3})M$/.exec(v);
      if (!m || Number(m[1]) > MAX_SWAP_MIB) return false;
      c.swapPages = Number(m[1]) * 256;
      return true;
    },
  },
  pwc_flush: { values: 'one of: all, addr', apply: (c, v) => oneOf(v, ['all', 'addr'], (x) => (c.pwcFlush = x as 'all' | 'addr')) },
  batch_alloc: { values: 'one of: ok, fail', apply: (c, v) => oneOf(v, ['ok', 'fail'], (x) => (c.batchAlloc = x as 'ok' | 'fail')) },
  guard_off: {
    values: `a guard name (${GUARD_NAMES.join(', ')}), or several joined with '+'`,
    apply: (c, v) => {
      const names = v.split('+');
      if (!names.every((n) => (GUARD_NAMES as readonly string[]).includes(n))) return false;
      c.guardsOff = new Set([...(c.guardsOff ?? []), ...(names as GuardName[])]);
      return true;
    },
  },
};

function onOff(v: string, set: (b: boolean) => void): boolean {
  if (v !== 'on' && v !== 'off') return false;
  set(v === 'on');
  return true;
}
function oneOf(v: string, allowed: string[], set: (x: string) => void): boolean {
  if (!allowed.includes(v)) return false;
  set(v);
  return true;
}

/** Applies `key=value` settings; returns an error message for the first bad one. */
export function applySettings(into: ConfigInput, settings: Record<string, string>): string | undefined {
  for (const [k, v] of Object.entries(settings)) {
    const s = SCRIPT_SETTINGS[k];
    if (!s) return `unknown setting '${k}' (expected one of: ${Object.keys(SCRIPT_SETTINGS).join(', ')})`;
    if (!s.apply(into, v)) return `bad value '${v}' for ${k} (expected ${s.values})`;
  }
  return undefined;
}
