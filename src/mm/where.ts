/**
 * Which kernel function a step runs in, for traces (docs/explorer.md, "Reading a trace"): the
 * innermost frame of the step's JavaScript stack (primitives.ts keeps it while a trace is
 * recorded) that is a modelled kernel function. Frames of the primitives are skipped (the step's
 * label already names the access), and so are the model's own helpers, which have no kernel
 * counterpart. A model function keeps its kernel function's name in camelCase (`zapPteRange`),
 * so the kernel name is the snake_case of the frame's name.
 */

/** Generator functions of src/mm that are not kernel functions: the model's glue, skipped. */
export const MODEL_HELPERS: ReadonlySet<string> = new Set([
  'hwAccess', // arch/walk.ts: a user access as the CPU makes it (TLB, walk)
  'userAccessPath',
  'vmaFault', // filemap.ts: the call through vma->vm_ops->fault
  'vmaMapPages', // and through vm_ops->map_pages
  'folioGetLockIfMapped', // filemap.ts: the faults' shared lock-then-recheck of folio->mapping
  'guardInstallWalk',
  'unlinkFileVmaLocked',
  'freeUpperTable',
  'upperAlloc',
  'pteAllocSlow',
  'flushTlbFixPending', // the R8 remedy (docs/versions.md), not in any kernel
  'pteFreeTlbArch',
  'lockPair',
  'unlockPair',
  'moveNormalEntry',
  'pteOffsetMapValue',
  'vmaCompleteUnlock',
  'mergeInto',
  'vmaMergeNeighbours',
  'shrinkFolio',
]);

/** A step's place in the model: the kernel function (kernel spelling) and the source line. */
export interface StepWhere {
  readonly fn: string;
  /**
   * `src/mm/memory/zap.ts:201`, the line of the call or yield in that function (`dist/mm/...js` when
   * the built code runs without source maps; bin/ptlab.js turns them on).
   */
  readonly loc: string;
}

// A function called as a property of an ops table reads `Object.swapinWalkPmdEntry [as pmdEntry]`
// when V8 keeps the property name (as under vitest's transform): the function's own name counts.
const FRAME = /^\s*at (?:async )?([\w$.]+)(?: \[as [\w$]+\])? \((.*):(\d+):\d+\)$/;
const MODEL_FILE = /(?:^|\/)((?:src|dist)\/mm\/[\w/.-]+)$/;

/** `zapPteRange` → `zap_pte_range`, `__pteOffsetMap` → `__pte_offset_map`. */
export function kernelName(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** The innermost modelled kernel function of a stack, or undefined when the step runs in none. */
export function stepWhere(stack: string): StepWhere | undefined {
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const name = m[1].slice(m[1].lastIndexOf('.') + 1);
    const file = MODEL_FILE.exec(m[2].replace(/^file:\/\//, ''))?.[1];
    if (!file || /\/primitives(\.fast)?\.[jt]s$/.test(file) || name === 'next' || name === 'at' || MODEL_HELPERS.has(name)) continue;
    return { fn: kernelName(name), loc: `${file}:${m[3]}` };
  }
  return undefined;
}
