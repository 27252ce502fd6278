/**
 * The kernel releases the model can be (config `version=`), and what each one changes in the paths
 * the model runs (docs/versions.md has the table with the races present in each). One code path
 * with switches: a release is a set of switch positions, never a copy of the code. Behaviours come
 * from each release's source; the commits named are mainline unless marked.
 */
import type { GuardName } from './config.js';

export const VERSION_NAMES = ['6.13', '6.14-rc1', '6.14', '6.15', '6.17-rc1', '6.17', '6.18', '7.0', '7.1', '7.1.9'] as const;
export type Version = (typeof VERSION_NAMES)[number];

/** Older spellings (the behaviour letters of the first round) and releases that behave as another. */
export const VERSION_ALIASES = { B: '6.13', S0: '6.14-rc1', S1: '6.14', '7.2': '7.1.9' } as const satisfies Record<string, Version>;
export type VersionSpelling = Version | keyof typeof VERSION_ALIASES;

export interface KernelVersion {
  readonly name: Version;
  /** What this release changed in the modelled paths, one line. */
  readonly changes: string;
  readonly commits: readonly string[];
  /** CONFIG_PT_RECLAIM exists. */
  readonly ptReclaim: boolean;
  /**
   * Where it is on by default: x86 only (ARCH_SUPPORTS_PT_RECLAIM) until 7.0 made it `def_bool y`
   * wherever MMU_GATHER_RCU_TABLE_FREE && !HAVE_ARCH_TLB_REMOVE_TABLE, arm64 included
   * (9c8c02df3f87, 086498aed3f6). Elsewhere `pt_reclaim=on` is a what-if.
   */
  readonly ptReclaimArchs: readonly ('x86' | 'arm64')[];
  /** Guards this release lacks: the historical defect is in its code. */
  readonly guardsOff: readonly GuardName[];
  /** MADV_DONTNEED under the per-VMA read lock (6.17: a6fde7add78d). */
  readonly dontneedVmaLock: boolean;
  /** MADV_FREE under the per-VMA read lock too (6.18: get_lock_mode() in mm/madvise.c). */
  readonly freeVmaLock: boolean;
  /**
   * The zap fast path trylocks the PMD lock even when it is the PTE lock it holds (split PTE locks
   * off), and so always fails there; 7.0 (fb4ddf208511) skips the trylock when the locks are one.
   */
  readonly trylockSameLock: boolean;
  /**
   * Without PT_RECLAIM, x86 before 6.15 (bare metal, no paravirt) freed page tables through the page
   * batch right after the flush IPI; 6.15 (a37259732a7d) made MMU_GATHER_RCU_TABLE_FREE unconditional.
   */
  readonly tablesViaPageBatch: boolean;
  /**
   * The single-table fallback of tlb_remove_table() without PT_RECLAIM: an IPI then free (semi-RCU),
   * or from 7.1 (1fb3d8c20bfa) synchronize_rcu() then free.
   */
  readonly fallbackWithoutReclaim: 'ipi' | 'sync-rcu';
  /** Where the reclaim code lives, for readers: the function names differ (see zap.ts, pt_reclaim.ts). */
  readonly reclaimIn: 'none' | 'mm/pt_reclaim.c' | 'mm/memory.c';
  /**
   * The races (docs/versions.md names them) this release shipped (R8 is open upstream; the arm64 form of R9 and
   * R8 needs arch=arm64 or pwc_flush=addr). test/scenarios/versions.test.ts checks the model agrees.
   */
  readonly races: readonly string[];
}

const BASE = {
  ptReclaim: true,
  ptReclaimArchs: ['x86'],
  guardsOff: [],
  dontneedVmaLock: false,
  freeVmaLock: false,
  trylockSameLock: true,
  tablesViaPageBatch: false,
  fallbackWithoutReclaim: 'ipi',
  reclaimIn: 'mm/pt_reclaim.c',
} as const;
const PER_VMA = { ...BASE, dontneedVmaLock: true } as const;
const IN_MEMORY_C = { ...PER_VMA, freeVmaLock: true, trylockSameLock: false, reclaimIn: 'mm/memory.c', ptReclaimArchs: ['x86', 'arm64'] } as const;

export const VERSIONS: readonly KernelVersion[] = [
  {
    ...BASE,
    name: '6.13',
    races: ['R14'], // through MADV_COLLAPSE of file or shmem THPs (pte_free_defer()), not through reclaim
    changes: 'before the series: no PT_RECLAIM, empty PTE tables stay until munmap/exit; retract_page_tables() has no PMD recheck (nothing could free a table under it)',
    commits: [],
    ptReclaim: false,
    ptReclaimArchs: [],
    guardsOff: ['retract-pmd-recheck'],
    tablesViaPageBatch: true,
    reclaimIn: 'none',
  },
  {
    ...BASE,
    name: '6.14-rc1',
    races: ['R6', 'R8', 'R14', 'R15', 'R16'],
    changes: 'PT_RECLAIM merged (mm/pt_reclaim.c); the zap fast path may run after the PTE lock was dropped (race R6)',
    commits: ['6375e95f381e'],
    guardsOff: ['zap-fastpath-fix'],
    tablesViaPageBatch: true,
  },
  {
    ...BASE,
    name: '6.14',
    races: ['R8', 'R14', 'R15', 'R16'],
    changes: 'R6 fixed: the fast path only if the PTE lock was held throughout',
    commits: ['f39edcf6349a'],
    tablesViaPageBatch: true,
  },
  {
    ...BASE,
    name: '6.15',
    races: ['R8', 'R14', 'R15', 'R16'],
    changes: 'x86: RCU table freeing unconditional, so without PT_RECLAIM tables go through tlb_remove_table() too',
    commits: ['a37259732a7d', 'f2c5c2105827'],
  },
  {
    ...PER_VMA,
    name: '6.17-rc1',
    races: ['R8', 'R10', 'R14', 'R15', 'R16'],
    changes: 'MADV_DONTNEED under the per-VMA read lock; collapse_huge_page() rechecks the PMD before write-locking the VMA (race R10)',
    commits: ['a6fde7add78d'],
    guardsOff: ['vma-write-before-recheck'],
  },
  {
    ...PER_VMA,
    name: '6.17',
    races: ['R8', 'R14', 'R15', 'R16'],
    changes: 'R10 fixed: vma_start_write() before check_pmd_still_valid()',
    commits: ['366a4532d96f'],
  },
  {
    ...PER_VMA,
    name: '6.18',
    races: ['R8', 'R14', 'R15', 'R16'],
    changes: 'MADV_FREE under the per-VMA read lock as well (the live kernel of this machine)',
    commits: [],
    freeVmaLock: true,
  },
  {
    ...IN_MEMORY_C,
    name: '7.0',
    races: ['R8', 'R9', 'R14', 'R15', 'R16'],
    changes:
      'reclaim moved into mm/memory.c (zap_empty_pte_table(), zap_pte_table_if_empty()); the table is freed with the zap\'s advanced cursor as flush address (race R9); no PMD trylock when the PTE lock is the PMD lock; PT_RECLAIM on arm64 (and riscv, LoongArch, ...) too',
    commits: ['4c640eb4181c', 'fb4ddf208511', '9c8c02df3f87', '086498aed3f6'],
    guardsOff: ['free-pte-flush-addr'],
  },
  {
    ...IN_MEMORY_C,
    name: '7.1',
    races: ['R8', 'R9', 'R14', 'R15', 'R16'],
    changes: 'without PT_RECLAIM the single-table fallback waits with synchronize_rcu(); zap call chain renamed (zap_vma_range_batched()); R9 still present',
    commits: ['1fb3d8c20bfa', 'a97bc13d15f4'],
    guardsOff: ['free-pte-flush-addr'],
    fallbackWithoutReclaim: 'sync-rcu',
  },
  {
    ...IN_MEMORY_C,
    name: '7.1.9',
    races: ['R8', 'R14', 'R15', 'R16'],
    changes: 'R9 fixed: pte_free_tlb() gets the table\'s own start again (also 7.2)',
    commits: ['478a1c3abebf', 'stable 0b8ff21cbda8'],
    fallbackWithoutReclaim: 'sync-rcu',
  },
];

/** The release behind a name or alias, or undefined. */
export function findVersion(name: string): KernelVersion | undefined {
  const canonical = (VERSION_ALIASES as Record<string, Version>)[name] ?? name;
  return VERSIONS.find((v) => v.name === canonical);
}

export function versionInfo(name: Version): KernelVersion {
  return findVersion(name)!;
}
