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
  'vmaFault', // memory/fault.ts: the call through vma->vm_ops->fault
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

/**
 * The model file of a frame (`src/mm/filemap.ts`) if the frame is a modelled kernel function's:
 * not a primitive, not the generator plumbing, not a model helper.
 */
function kernelFrameFile(name: string, file: string): string | undefined {
  const model = MODEL_FILE.exec(file.replace(/^file:\/\//, ''))?.[1];
  if (!model || /\/primitives(\.fast)?\.[jt]s$/.test(model) || name === 'next' || name === 'at' || MODEL_HELPERS.has(name)) return undefined;
  return model;
}

/** The innermost modelled kernel function of a stack, or undefined when the step runs in none. */
export function stepWhere(stack: string): StepWhere | undefined {
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const name = m[1].slice(m[1].lastIndexOf('.') + 1);
    const file = kernelFrameFile(name, m[2]);
    if (file) return { fn: kernelName(name), loc: `${file}:${m[3]}` };
  }
  return undefined;
}

// ---- capturing a step's stack --------------------------------------------------------------------
// A trace keeps the stack of every step. Formatting a whole stack (64 frames, each mapped through
// source maps) costs many times the step itself under vitest, whose stack formatter
// (Error.prepareStackTrace) maps frames in JavaScript. Where such a formatter is installed, the
// call sites V8 hands it are kept instead, cheaply; the step's kernel function is found from their
// names and files, and only that one frame is formatted, and so mapped. Plain Node has no such
// formatter (its own source maps, which bin/ptlab.js turns on, apply only to a whole stack's
// text): there the stack is kept as text, as before.

/** A V8 call site (the V8 stack trace API), as far as this file reads it. */
export interface CallSite {
  getFunctionName(): string | null;
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
}

/** A step's stack: call sites, or text where no JavaScript formatter maps sites to the sources. */
export type StepStack = readonly CallSite[] | string;

type PrepareStackTrace = (err: Error, sites: CallSite[]) => unknown;
interface V8Error {
  stackTraceLimit: number;
  prepareStackTrace?: PrepareStackTrace;
  captureStackTrace(o: object, fn?: (...a: never[]) => unknown): void;
}
const V8 = Error as unknown as V8Error;
const asSites: PrepareStackTrace = (_e, sites) => sites;

/** The caller's stack below `skip`, 64 frames deep (kernel paths nest deeper than the default 10). */
export function captureStack(skip: (...a: never[]) => unknown): StepStack {
  const stackTraceLimit = V8.stackTraceLimit;
  const prepareStackTrace = V8.prepareStackTrace;
  V8.stackTraceLimit = 64;
  const holder: { stack?: unknown } = {};
  if (prepareStackTrace) V8.prepareStackTrace = asSites;
  V8.captureStackTrace(holder, skip);
  const stack = holder.stack; // read here: V8 prepares it on first read
  V8.prepareStackTrace = prepareStackTrace;
  V8.stackTraceLimit = stackTraceLimit;
  return prepareStackTrace ? (stack as CallSite[]) : String(stack ?? '');
}

/** stepWhere() of a captured stack; a call site's line is mapped as a formatted stack's is. */
export function stackWhere(stack: StepStack): StepWhere | undefined {
  if (typeof stack === 'string') return stepWhere(stack);
  for (const site of stack) {
    const name = site.getFunctionName() ?? '';
    const file = kernelFrameFile(name, site.getFileName() ?? '');
    if (!file) continue;
    const text = V8.prepareStackTrace?.(new Error(), [site]);
    const mapped = typeof text === 'string' ? stepWhere(text) : undefined;
    return mapped ?? { fn: kernelName(name), loc: `${file}:${site.getLineNumber()}` };
  }
  return undefined;
}
