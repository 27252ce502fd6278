/**
 * ptlab's interleaving explorer, generic over a system under test (types.ts). Strategies, one per
 * file: dfs.ts (exhaustive, source-DPOR), random.ts, pct.ts, replay.ts.
 */
export type { Decision, Instance, Scheduler, SchedulerView, StepInfo, System, TraceStep, Violation } from './types.js';
export { explore, replay, assertClean, formatFailure, ExploreFailure } from './explore.js';
export type { ExploreOptions, ExploreResult, Failure, Progress } from './explore.js';
export { DfsScheduler, type DfsOptions } from './dfs.js';
export { RandomScheduler } from './random.js';
export { PctScheduler, type PctOptions } from './pct.js';
export { ReplayScheduler, ReplayError } from './replay.js';
export { encodeToken, decodeToken, TokenError } from './token.js';
export { formatTrace, type TraceFormat } from './trace.js';
