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

/** Parse a token; throws TokenError naming the bad part. */
export function decodeToken(token: string): Decision[] {
  const ds: Decision[] = [];
  if (token.trim() === '') return ds;
  for (const part of token.trim().split('.')) {
    const m = PART.exec(part);
    if (!m) throw new TokenError(`bad schedule token part '${part}' in '${token}'`);
    const task = Number(m[1]);
    if (m[2] !== undefined) ds.push({ task, choice: Number(m[2]) });
    else for (let n = m[3] === undefined ? 1 : Number(m[3]); n > 0; n--) ds.push({ task });
  }
  return ds;
}

export class TokenError extends Error {
  override name = 'TokenError';
}
