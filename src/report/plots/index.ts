/** The four plots of a report, in page order, each with its file name and a caption saying how to read it. */
import type { TopLevelSpec } from 'vega-lite';
import type { ReplayReport } from '../../workloads/report_schema.js';
import { emptyTablesSpec } from './empty_tables.js';
import { entriesSpec } from './entries.js';
import { rssSpec } from './rss.js';
import { vmpteSpec } from './vmpte.js';

export interface Plot {
  /** File stem: `vmpte` → vmpte.svg, vmpte.png. */
  readonly name: 'vmpte' | 'rss' | 'entries' | 'empty-tables';
  readonly caption: string;
  readonly spec: (report: ReplayReport) => TopLevelSpec;
}

export const PLOTS: readonly Plot[] = [
  {
    name: 'vmpte',
    caption: 'Page-table memory over the trace. Without PT_RECLAIM, VmPTE only grows while MADV_DONTNEED empties tables; with it, the line falls back as empty PTE tables are freed. The gap at the right end is what reclaim saves.',
    spec: vmpteSpec,
  },
  {
    name: 'rss',
    caption: 'Resident memory over the trace, per run. The trace is the same for every run, so these panels should look alike: PT_RECLAIM frees page tables, not data pages.',
    spec: rssSpec,
  },
  {
    name: 'entries',
    caption: 'How full the PTE tables are at the end. A tall bar at 0 is empty tables kept for nothing (what PT_RECLAIM frees); at 512, full tables. Bars in between are partly used tables, which no run can free.',
    spec: entriesSpec,
  },
  {
    name: 'empty-tables',
    caption: 'Where the empty PTE tables sit at the end, by address-space region (in address order). Coloured: empty tables; grey behind: all the region\'s PTE tables.',
    spec: emptyTablesSpec,
  },
];
