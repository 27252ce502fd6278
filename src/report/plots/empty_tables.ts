/**
 * Plot (d): where the empty PTE tables are, per address-space region and run. Regions stand in
 * address order on the x axis, each named by its label and start address. The axis is ordinal,
 * not linear: a user address space spans 128 TiB with its mappings far apart, so on a linear axis
 * every region would be narrower than a pixel. Grey bar: all the region's PTE tables; coloured
 * bar in front: the empty ones.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReplayReport, ReplayRegion } from '../../workloads/report_schema.js';
import { formatCount } from '../format.js';
import { CONFIG, VL_SCHEMA, runColor } from './common.js';

/** More regions than this and only those with the most empty tables are drawn (the rest are counted in the subtitle). */
export const MAX_REGIONS = 40;

export function regionKey(r: ReplayRegion): string {
  return `${r.label} @ 0x${r.start.toString(16)}`;
}

/** The regions to draw: with PTE tables in some run, at most MAX_REGIONS, in address order. */
function pickRegions(report: ReplayReport): { keys: string[]; left: number } {
  const best = new Map<string, { start: number; empty: number }>();
  for (const r of report.runs.flatMap((run) => run.regions)) {
    if (r.pteTables === 0) continue;
    const k = regionKey(r);
    const prev = best.get(k);
    best.set(k, { start: r.start, empty: Math.max(prev?.empty ?? 0, r.pteTablesEmpty) });
  }
  const all = [...best.entries()];
  const kept = all.length <= MAX_REGIONS ? all : [...all].sort((a, b) => b[1].empty - a[1].empty).slice(0, MAX_REGIONS);
  kept.sort((a, b) => a[1].start - b[1].start);
  return { keys: kept.map(([k]) => k), left: all.length - kept.length };
}

export function emptyTablesSpec(report: ReplayReport): TopLevelSpec {
  const picked = pickRegions(report);
  const keys = picked.keys.length > 0 ? picked.keys : ['(no PTE tables)'];
  const { left } = picked;
  const shown = new Set(keys);
  const panels = report.runs.map(
    (run) => `${run.label}: ${formatCount(run.regions.reduce((a, r) => a + r.pteTablesEmpty, 0))} empty PTE tables`,
  );
  const values = report.runs.flatMap((run, i) => {
    const rows = run.regions
      .filter((r) => shown.has(regionKey(r)))
      .map((r) => ({ run: run.label, panel: panels[i], region: regionKey(r), tables: r.pteTables, empty: r.pteTablesEmpty, pages: r.ptePages }));
    // A run with no tables in the drawn regions still gets its (empty) panel.
    return rows.length > 0 ? rows : [{ run: run.label, panel: panels[i], region: keys[0], tables: 0, empty: 0, pages: 0 }];
  });
  const subtitle = 'grey: all PTE tables of the region; coloured: the empty ones (regions in address order)' + (left > 0 ? `; ${left} regions with fewer empty tables not shown` : '');
  const x = {
    field: 'region',
    type: 'ordinal' as const,
    sort: keys,
    scale: { domain: keys },
    axis: { labelAngle: -35, labelLimit: 220 },
    title: 'region @ start address',
  };
  const tooltip = [{ field: 'run' }, { field: 'region' }, { field: 'tables', format: ',' }, { field: 'empty', format: ',' }, { field: 'pages', title: 'resident pages', format: ',' }];
  return {
    $schema: VL_SCHEMA,
    config: CONFIG,
    title: { text: 'Where the empty PTE tables are (at the end)', subtitle },
    data: { values },
    facet: { row: { field: 'panel', type: 'nominal', sort: panels, title: null } },
    spec: {
      width: Math.max(480, Math.min(760, keys.length * 48)),
      height: 120,
      layer: [
        { mark: { type: 'bar', color: '#d9d9d9' }, encoding: { x, y: { field: 'tables', type: 'quantitative', title: 'PTE tables' }, tooltip } },
        { mark: { type: 'bar' }, encoding: { x, y: { field: 'empty', type: 'quantitative' }, color: runColor(report.runs.map((r) => r.label), null), tooltip } },
      ],
    },
  };
}
