/** Numbers for people: sizes from kB (as /proc prints them) to kB/MiB/GiB, counts with separators. */

export interface SizeUnit {
  readonly name: 'kB' | 'MiB' | 'GiB';
  /** kB in one of this unit. */
  readonly kB: number;
}

const UNITS: readonly SizeUnit[] = [
  { name: 'kB', kB: 1 },
  { name: 'MiB', kB: 1024 },
  { name: 'GiB', kB: 1024 * 1024 },
];

/** The largest unit in which `maxKb` is still at least 1, for an axis whose values reach `maxKb`. */
export function sizeUnitFor(maxKb: number): SizeUnit {
  let unit = UNITS[0];
  for (const u of UNITS) if (Math.abs(maxKb) >= u.kB) unit = u;
  return unit;
}

/** "204 kB", "100.2 MiB", "50.00 GiB" (sign kept). */
export function formatKb(kb: number): string {
  const unit = sizeUnitFor(kb);
  if (unit.name === 'kB') return `${formatCount(kb)} kB`;
  return `${(kb / unit.kB).toFixed(unit.name === 'MiB' ? 1 : 2)} ${unit.name}`;
}

/** 25600 → "25,600". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `part` as a percentage of `whole`, one decimal: "99.8 %" (or "–" when whole is 0). */
export function formatPercent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((part / whole) * 100).toFixed(1)} %`;
}
