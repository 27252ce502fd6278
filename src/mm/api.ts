/**
 * Everything a driver of the model (op-script executor, workloads, CLI) may use, in one place.
 * Its straight-line twin is src/mm-fast/api.ts (generated); both export the same names.
 */
export * from './kernel.js';
export { procStatus, procSmapsRollup, procPagemap, runLength, meminfoPageTables, type Status, type SmapsRollup } from './task_mmu.js';
export { checkInvariants, checkExitClean, type InvariantFailure } from './invariants.js';
export { DEFAULT_CONFIG, SCRIPT_SETTINGS } from './config.js';
export { ModelBug, Violation } from './bug.js';
export { ENOMEM, ERRNO_NAMES, PAGE_SIZE, PMD_SIZE } from './const.js';
export { FAULT_OK, FAULT_SIGSEGV, FAULT_SIGBUS, FAULT_OOM } from './arch/fault.js';
export { T_LINKED, slotOf, tidOf } from './pgtable.js';
export { MmuGather, MAX_GATHER_BATCH, MAX_GATHER_BATCH_COUNT, MMU_GATHER_BUNDLE } from './mmu_gather.js';
export { peekPmdSlot } from './memory/pgalloc.js';
export { findVma } from './vma_tree.js';
export { pmdIsTable, pmdPfn } from './pgtable_types.js';
/** This module's exports: what both builds' api.ts provide (src/mm-fast shares the data types). */
export type ModelApi = typeof import('./api.js');
