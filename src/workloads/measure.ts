/**
 * What a replay measures, read from the model between operations: the /proc counters summed over
 * the trace's live processes, the kernel's event counters, and a scan of the page-table store for
 * PTE-table counts, the live-entry histogram and the address-space regions.
 *
 * The scan reads the store's own bookkeeping (table level, life-cycle state, populated count);
 * the modelled kernel never does (docs/kernel-rules.md, "Tables"), so measuring cannot change what is measured.
 */
import type * as Api from '../mm/api.js';
import type { ModelApi } from '../mm/api.js';
import { LEVEL_PTE, PMD_SIZE, PAGE_SIZE } from '../mm/const.js';
import type { ReplayRegion, ReplaySample } from './report_schema.js';

type Kernel = Api.Kernel;
type MmStruct = Api.MmStruct;

export interface TableScan {
  pteTables: number;
  pteTablesEmpty: number;
}

/** Live (linked) PTE tables of the given mms and how many hold no entry. O(tables ever allocated). */
export function scanPteTables(k: Kernel, mmIds: ReadonlySet<number>, hist?: Float64Array): TableScan {
  const pt = k.pt;
  const n = pt.nrTids;
  const linked = 2; // T_LINKED
  let all = 0;
  let empty = 0;
  for (let tid = 1; tid < n; tid++) {
    if (pt.level[tid] !== LEVEL_PTE || pt.state[tid] !== linked || !mmIds.has(pt.mm[tid])) continue;
    all++;
    const c = pt.n[tid];
    if (c === 0) empty++;
    if (hist) hist[c]++;
  }
  return { pteTables: all, pteTablesEmpty: empty };
}

/** One sample: counters after `op` events. */
export function takeSample(api: ModelApi, k: Kernel, mms: Iterable<MmStruct>, op: number, timeNs: number | null, scan: TableScan): ReplaySample {
  const s = { VmPTE: 0, VmRSS: 0, RssAnon: 0, RssFile: 0, RssShmem: 0 };
  for (const mm of mms) {
    const st = api.procStatus(mm);
    s.VmPTE += st.VmPTE;
    s.VmRSS += st.VmRSS;
    s.RssAnon += st.RssAnon;
    s.RssFile += st.RssFile;
    s.RssShmem += st.RssShmem;
  }
  const reclaimed = k.stats.ptesReclaimedFast + k.stats.ptesReclaimedSlow;
  return {
    op,
    timeNs,
    ...s,
    ...scan,
    ptesReclaimed: reclaimed,
    faults: k.stats.faults,
    tlbFlushes: k.stats.tlbFlushes,
    tlbFlushPages: k.stats.tlbFlushPages,
    tlbFlushFreedTables: k.stats.tlbFlushFreedTables,
    rcuCallbacks: k.stats.rcuCallbacks,
  };
}

/** At most this many regions in a report: buckets grow (1 GiB, 2 GiB, ...) until they fit. */
const MAX_REGIONS = 256;

/**
 * Where the PTE tables are: linked PTE tables of the given mms bucketed by address, with their
 * empty count and the pages they map. Bucket size starts at 1 GiB and doubles until at most
 * MAX_REGIONS buckets hold tables. Labels name the VMA the bucket starts in, when there is one.
 */
export function tableRegions(k: Kernel, mms: MmStruct[], mmIds: ReadonlySet<number>): ReplayRegion[] {
  const pt = k.pt;
  const byGiB = new Map<number, [number, number, number]>();
  for (let tid = 1; tid < pt.nrTids; tid++) {
    if (pt.level[tid] !== LEVEL_PTE || pt.state[tid] !== 2 || !mmIds.has(pt.mm[tid])) continue;
    const g = Math.floor(pt.addr[tid] / 2 ** 30);
    let b = byGiB.get(g);
    if (!b) byGiB.set(g, (b = [0, 0, 0]));
    b[0]++;
    if (pt.n[tid] === 0) b[1]++;
    b[2] += pt.n[tid];
  }
  let shift = 0;
  let buckets = byGiB;
  while (buckets.size > MAX_REGIONS) {
    shift++;
    const next = new Map<number, [number, number, number]>();
    for (const [g, v] of byGiB) {
      const key = Math.floor(g / 2 ** shift);
      const b = next.get(key) ?? [0, 0, 0];
      next.set(key, [b[0] + v[0], b[1] + v[1], b[2] + v[2]]);
    }
    buckets = next;
  }
  const size = 2 ** (30 + shift);
  const vmas = mms.flatMap((mm) => mm.vmas.slice());
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([key, [tables, empty, pages]]) => {
      const start = key * size;
      const vma = vmas.find((v) => v.end > start && v.start < start + size);
      const label = `0x${start.toString(16)}${vma?.name ? ` ${vma.name}` : ''}`;
      return { start, end: start + size, label, pteTables: tables, pteTablesEmpty: empty, ptePages: pages };
    });
}


/**
 * Whether the 2 MiB block at `block` lies in one VMA of mm and its PTE table holds nothing outside
 * [except, exceptEnd) (no page, no marker). False without a PTE table (none or a huge PMD).
 * For purge policies (src/workloads/policies/policy.ts).
 */
export function blockEmptyOutside(api: ModelApi, k: Kernel, mm: MmStruct, block: number, except: number, exceptEnd: number): boolean {
  const found = api.findVma(mm, block);
  const vma = found && found.start <= block ? found : undefined;
  if (!vma || vma.end < block + PMD_SIZE) return false;
  const slot = api.peekPmdSlot(mm, block);
  if (!slot) return false;
  const pmdv = k.pt.peek(Math.floor(slot / 512), slot % 512);
  if (!api.pmdIsTable(pmdv)) return false;
  const tid = k.pt.tidOfPfn(api.pmdPfn(pmdv));
  for (let i = 0; i < 512; i++) {
    const a = block + i * PAGE_SIZE;
    if (a >= except && a < exceptEnd) continue;
    if (k.pt.peek(tid, i) !== 0) return false;
  }
  return true;
}
