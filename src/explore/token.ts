/**
 * Schedule tokens: every decision of one execution, as a string that replays it exactly.
 *
 * Grammar: decisions separated by '.', in step order.
 *   `3`     task 3 takes its next step
 *   `3c1`   task 3 takes its next step, a choice, answered with value 1
 *   `3*12`  task 3 takes its next 12 steps (none a choice); the encoder emits it for runs of ≥ 2
 * So "0*2.1.1c1.0" = task 0 twice, task 1, task 1 choosing 1, task 0. The empty string is the empty
 * schedule. A token says nothing about the system: replay it against the scenario that produced it.
 */
import { DEFAULT_MAX_STEPS } from './run.js';
import type { Decision } from './types.js';

export function encodeToken(ds: readonly Decision[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ds.length; ) {
    const d = ds[i];
    if (d.choice !== undefined) {
      parts.push(`${d.task}c${d.choice}`);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < ds.length && ds[j].task === d.task && ds[j].choice === undefined) j++;
    parts.push(j - i >= 2 ? `${d.task}*${j - i}` : `${d.task}`);
    i = j;
  }
  return parts.join('.');
}

const PART = /^(\d+)(?:c(\d+)|\*(\d+))?$/;
const PART_FORMS = 'TASK, TASKcVALUE or TASK*COUNT, parts joined by "."';

/**
 * The explorer's default step limit per execution (run.ts `DEFAULT_MAX_STEPS`): an execution stops
 * there, so no token it prints under the default has more decisions than this.
 */
export const MAX_TOKEN_DECISIONS = DEFAULT_MAX_STEPS;

/**
 * Parse a token; throws TokenError naming the bad part and its column. Every part is checked and
 * the decisions counted before any is built, so a token that asks for more than `maxDecisions`
 * (`0*1000000000`) is refused at once instead of being expanded.
 */
export function decodeToken(token: string, maxDecisions = MAX_TOKEN_DECISIONS): Decision[] {
  const text = token.trim();
  if (text === '') return [];
  const lead = token.length - token.trimStart().length;
  // Every decision takes at least one character and a separator; a longer text cannot be valid.
  const maxChars = 24 * (maxDecisions + 1);
  if (text.length > maxChars) {
    throw new TokenError(`schedule token of ${text.length} characters`, 1, `at most ${maxChars} characters: at most ${maxDecisions} decisions`);
  }
  const parts: { task: number; choice?: number; count: number }[] = [];
  let total = 0;
  let col = lead + 1;
  for (const part of text.split('.')) {
    const m = PART.exec(part);
    if (!m) throw new TokenError(`bad schedule token part '${part.length > 40 ? part.slice(0, 40) + '...' : part}'`, col, PART_FORMS);
    const count = m[3] === undefined ? 1 : Number(m[3]);
    if (m[3] !== undefined && count < 1) throw new TokenError(`step count 0 in part '${part}'`, col, 'TASK*COUNT with COUNT at least 1');
    total += count;
    if (!(total <= maxDecisions)) {
      throw new TokenError(`the schedule has more than ${maxDecisions} decisions by part '${part}'`, col, `at most ${maxDecisions} decisions, the explorer's step limit per execution`);
    }
    parts.push(m[2] !== undefined ? { task: Number(m[1]), choice: Number(m[2]), count } : { task: Number(m[1]), count });
    col += part.length + 1;
  }
  const ds: Decision[] = [];
  for (const p of parts) {
    if (p.choice !== undefined) ds.push({ task: p.task, choice: p.choice });
    else for (let n = p.count; n > 0; n--) ds.push({ task: p.task });
  }
  return ds;
}

/** A malformed token: what, at which column (1-based, of the token as given), and what was expected. */
export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly what: string,
    readonly col: number,
    readonly expected: string,
  ) {
    super(`${what} at column ${col} (expected ${expected})`);
  }
}
