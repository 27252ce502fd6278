/**
 * ptlab's interleaving explorer, generic over a system under test (types.ts). Strategies, one per
 * file: dfs.ts (exhaustive, source-DPOR), random.ts, pct.ts, replay.ts.
 */
export type { Coverage, Decision, Instance, Scheduler, SchedulerView, StepInfo, System, TraceStep, Finding } from './types.js';
export { explore, replay, assertClean, formatFailure, verdictLine, ExploreFailure } from './explore.js';
export type { ExploreOptions, ExploreResult, Failure, Progress, Tolerated } from './explore.js';
export { DfsScheduler, NondeterminismError, type DfsOptions } from './dfs.js';
export { checkCommutation, checkPair, endStates, type CommutationResult, type EndStates, type NonCommuting } from './oracles.js';
export { RandomScheduler } from './random.js';
export { PctScheduler, type PctOptions } from './pct.js';
export { ReplayScheduler, ReplayError } from './replay.js';
export { encodeToken, decodeToken, TokenError } from './token.js';
export { formatTrace, type TraceFormat } from './trace.js';
