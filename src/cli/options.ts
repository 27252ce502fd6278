/**
 * Numeric command-line values, parsed one way for every command (docs/limits.md): a value that
 * is not a plain number in its range is bad input (exit 2), reported as
 * `--name: 'value' is not ... (expected ...)`. The parsers plug into commander (`.option(flags,
 * help, intArg('--budget', 1, 1e9))`), so a bad value is refused before anything runs.
 */
import { UsageError } from './util.js';

const INT_RE = /^-?[0-9]+$/;
const DECIMAL_RE = /^[0-9]+(?:\.[0-9]+)?$/;

/** `--name: 'value' is not what (expected expected)`: the one shape of every option error. */
export function optionError(name: string, value: string, what: string, expected: string): UsageError {
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return new UsageError(`${name}: '${shown}' is not ${what} (expected ${expected})`);
}

/** A decimal integer in [min, max] (no sign but '-', no exponent, no hex, no blanks). */
export function parseIntOption(name: string, value: string, min: number, max: number): number {
  const n = INT_RE.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw optionError(name, value, INT_RE.test(value) ? 'within range' : 'an integer', `an integer from ${fmt(min)} to ${fmt(max)}`);
  }
  return n;
}

/** A commander argument parser for `parseIntOption`. */
export function intArg(name: string, min: number, max: number): (value: string) => number {
  return (value) => parseIntOption(name, value, min, max);
}

/** A non-negative decimal number (`2`, `0.5`) in (min, max] when `exclusiveMin`, else [min, max]. */
export function parseNumberOption(name: string, value: string, min: number, max: number, opts: { exclusiveMin?: boolean; unit?: string } = {}): number {
  const n = DECIMAL_RE.test(value) ? Number(value) : NaN;
  const low = opts.exclusiveMin ? n > min : n >= min;
  if (!Number.isFinite(n) || !low || n > max) {
    const range = `${opts.exclusiveMin ? 'above' : 'from'} ${fmt(min)} ${opts.exclusiveMin ? 'and at most' : 'to'} ${fmt(max)}`;
    throw optionError(name, value, DECIMAL_RE.test(value) ? 'within range' : 'a number', `a decimal number${opts.unit ? ` of ${opts.unit}` : ''} ${range}`);
  }
  return n;
}

export function numberArg(name: string, min: number, max: number, opts: { exclusiveMin?: boolean; unit?: string } = {}): (value: string) => number {
  return (value) => parseNumberOption(name, value, min, max, opts);
}

/** A comma-separated list of integers, each in [min, max]. */
export function intListArg(name: string, min: number, max: number): (value: string) => number[] {
  return (value) => {
    const parts = value.split(',');
    if (parts.some((p) => !INT_RE.test(p))) throw optionError(name, value, 'a list of integers', `comma-separated integers from ${fmt(min)} to ${fmt(max)}, e.g. 1,4,8`);
    return parts.map((p) => parseIntOption(name, p, min, max));
  };
}

/** Longest time limit an option accepts: a week. */
export const MAX_SECONDS = 7 * 24 * 3600;

/** As the user would type it back: plain digits. */
function fmt(n: number): string {
  return String(n);
}
