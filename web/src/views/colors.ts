/**
 * Colours of the address-space view, each with the words that stand for it (every coloured cell
 * also has a text title, and the legend spells the scale out, so colour is never the only cue).
 */
import { ENTRY_KINDS } from '../../../src/view/schema.js';

/** A PTE table by live entries: 0 (empty, what PT_RECLAIM frees) stands apart; 1..512 light to dark blue. */
export function liveColor(live: number): string {
  if (live === 0) return '#f4a6a6';
  const t = Math.log2(live) / 9; // 1 → 0, 512 → 1
  const l = 88 - t * 58;
  return `hsl(212 70% ${l.toFixed(0)}%)`;
}

export const HUGE_COLOR = '#f29d38';
export const NONE_COLOR = '#f3f3f3';

/** Off-tree table states: fill colours (the cell text and titles name the state too). */
export const STATE_COLORS: Readonly<Record<string, string>> = {
  linked: '#5b8bd0',
  detached: '#e8c547',
  queued: '#b07cd8',
  deposited: '#9fb8a0',
  freed: '#333333',
  allocated: '#cccccc',
};

export const ENTRY_COLORS: Readonly<Record<string, string>> = {
  '.': NONE_COLOR,
  a: '#3a78c9',
  s: '#2e9e6a',
  f: '#7aa84a',
  z: '#b9c7d9',
  x: '#d62828',
  o: '#888888',
  g: '#444444',
  u: '#c98a3a',
  k: '#a05a2c',
  m: '#9a4fc4',
  w: '#6c6cb0',
};

export function entryWords(code: string): string {
  return ENTRY_KINDS[code] ?? `entry '${code}'`;
}
