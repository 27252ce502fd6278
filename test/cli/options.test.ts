/**
 * The one parser behind every numeric command-line option (issue 15, D9): plain decimal numbers in
 * their range, anything else refused with the option's name, the value and what was expected.
 */
import { describe, expect, it } from 'vitest';
import { intListArg, parseIntOption, parseNumberOption } from '../../src/cli/options.js';
import { UsageError } from '../../src/cli/util.js';

describe('parseIntOption', () => {
  it('reads plain decimal integers within the range', () => {
    expect(parseIntOption('--budget', '1', 1, 10)).toBe(1);
    expect(parseIntOption('--bound', '-1', -1, 20)).toBe(-1);
    expect(parseIntOption('--budget', '0010', 1, 10)).toBe(10);
  });

  it.each(['abc', '', ' 5', '5 ', '1e3', '0x10', '2.0', '+3', 'Infinity', 'NaN', '99999999999999999999'])('refuses %j as not an integer or out of range', (v) => {
    expect(() => parseIntOption('--budget', v, 1, 1e9)).toThrow(UsageError);
  });

  it('says which option, what it got and what it expected', () => {
    expect(() => parseIntOption('--budget', 'abc', 1, 1000)).toThrow("--budget: 'abc' is not an integer (expected an integer from 1 to 1000)");
    expect(() => parseIntOption('--budget', '0', 1, 1000)).toThrow("--budget: '0' is not within range (expected an integer from 1 to 1000)");
  });
});

describe('parseNumberOption', () => {
  it('reads decimals; an exclusive minimum refuses the minimum itself', () => {
    expect(parseNumberOption('--seconds', '0.5', 0, 10, { exclusiveMin: true })).toBe(0.5);
    expect(() => parseNumberOption('--seconds', '0', 0, 10, { exclusiveMin: true })).toThrow(/above 0 and at most 10/);
    expect(parseNumberOption('--scale', '1', 0, 1, { exclusiveMin: true })).toBe(1);
  });

  it.each(['-1', 'abc', '1e3', '.5', '5.', 'Infinity', '11'])('refuses %j', (v) => {
    expect(() => parseNumberOption('--seconds', v, 0, 10, { exclusiveMin: true, unit: 'seconds' })).toThrow(/^--seconds: '.*' is not (a number|within range) \(expected a decimal number of seconds/);
  });
});

describe('intListArg', () => {
  it('reads a comma-separated list, each within range', () => {
    expect(intListArg('--sizes', 1, 64)('1,4,8')).toEqual([1, 4, 8]);
    expect(() => intListArg('--sizes', 1, 64)('1,,8')).toThrow(/list of integers/);
    expect(() => intListArg('--sizes', 1, 64)('1,65')).toThrow(/'65' is not within range/);
  });
});
