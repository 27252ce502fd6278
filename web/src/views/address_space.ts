/**
 * The address-space view: one process's counters, VMAs and page-table tree (PUD → PMD → PTE),
 * drawn from an AddressSpaceSnapshot. Each PMD table is a 32 × 16 grid of its 512 slots: a PTE
 * table's cell is coloured by its live entries, a huge PMD is orange. Clicking a cell (or its
 * button in the text list) zooms to that PTE table's 512 entries. The zoom survives updates, so
 * stepping through a race keeps the table in sight while it is detached, queued and freed.
 */
import type { AddressSpaceSnapshot, TableSnapshot } from '../../../src/view/schema.js';
import { h, hex, kb, s, size } from '../dom.js';
import { ENTRY_COLORS, entryWords, HUGE_COLOR, liveColor, NONE_COLOR, STATE_COLORS } from './colors.js';

const COLS = 32;
const CELL = 12;
const SPAN: Record<string, number> = { pgd: 2 ** 48, pud: 2 ** 39, pmd: 2 ** 30, pte: 2 ** 21 };
const VM_FLAGS: [number, string][] = [[0x8, 'shared'], [0x2000, 'locked'], [0x20000000, 'hugepage'], [0x40000000, 'nohugepage'], [0x1000, 'uffd-wp']];

export class AddressSpaceView {
  readonly el = h('section', { class: 'address-space', 'data-testid': 'address-space', 'aria-label': 'address space' });
  private snap: AddressSpaceSnapshot | null = null;
  private highlight = new Set<number>();
  /** Table id zoomed into, or null for the whole tree. */
  private zoom: number | null = null;

  update(snap: AddressSpaceSnapshot, highlight: Iterable<number> = []): void {
    this.snap = snap;
    this.highlight = new Set(highlight);
    this.render();
  }

  zoomTo(tid: number | null): void {
    this.zoom = tid;
    this.render();
  }

  private render(): void {
    const snap = this.snap;
    if (!snap) return;
    const table = this.zoom === null ? undefined : [...snap.tables, ...snap.offTree].find((t) => t.tid === this.zoom);
    this.el.replaceChildren(
      counters(snap),
      vmas(snap),
      this.breadcrumb(snap, table),
      this.zoom === null ? this.tree(snap) : table ? this.pteTable(table) : h('p', { class: 'note' }, `Table T${this.zoom} does not exist at this point (not allocated yet, or its id was reused).`),
    );
  }

  private breadcrumb(snap: AddressSpaceSnapshot, t: TableSnapshot | undefined): HTMLElement {
    const nav = h('nav', { class: 'breadcrumb', 'aria-label': 'zoom' });
    const top = h('button', { type: 'button', 'data-testid': 'zoom-out', onclick: () => this.zoomTo(null) }, `${snap.process}: whole address space`);
    nav.append(top);
    if (this.zoom !== null) nav.append(' › ', h('span', { 'aria-current': 'location' }, t ? `PTE table T${t.tid} (${hex(t.addr)})` : `T${this.zoom}`));
    return nav;
  }

  private tree(snap: AddressSpaceSnapshot): HTMLElement {
    const wrap = h('div', { class: 'tree' }, liveLegend());
    const byParent = new Map<number, TableSnapshot[]>();
    for (const t of snap.tables) byParent.set(t.parent ?? 0, [...(byParent.get(t.parent ?? 0) ?? []), t]);
    for (const pud of snap.tables.filter((t) => t.level === 'pud')) {
      const sec = h('div', { class: 'pud' }, h('h4', {}, `PUD table T${pud.tid}: 512 GiB from ${hex(pud.addr)}, ${pud.live} PMD table${pud.live === 1 ? '' : 's'}`));
      for (const pmd of byParent.get(pud.tid) ?? []) sec.append(this.pmdTable(pmd, byParent.get(pmd.tid) ?? []));
      wrap.append(sec);
    }
    if (!wrap.childElementCount) wrap.append(h('p', { class: 'note' }, 'No page tables below the PGD.'));
    wrap.append(this.offTree(snap));
    return wrap;
  }

  private pmdTable(pmd: TableSnapshot, ptes: TableSnapshot[]): HTMLElement {
    const slots = new Map<number, TableSnapshot>(ptes.map((t) => [t.index ?? 0, t]));
    const huge = new Map(pmd.huge ?? []);
    const cells: SVGElement[] = [];
    const span = SPAN.pte;
    for (let i = 0; i < 512; i++) {
      const t = slots.get(i);
      const x = (i % COLS) * CELL;
      const y = Math.floor(i / COLS) * CELL;
      const at = hex(pmd.addr + i * span);
      let fill = NONE_COLOR;
      let title = `slot ${i} (${at}): none`;
      if (t) {
        fill = liveColor(t.live);
        title = `slot ${i} (${at}): PTE table T${t.tid}, ${t.live} of 512 entries live${t.live === 0 ? ' (empty)' : ''}, ${t.state}`;
      } else if (huge.has(i)) {
        fill = HUGE_COLOR;
        title = `slot ${i} (${at}): huge PMD, ${entryWords(huge.get(i)!)}`;
      }
      const hl = t && this.highlight.has(t.tid);
      const rect = s('rect', { x: x + 0.5, y: y + 0.5, width: CELL - 1, height: CELL - 1, fill, class: `slot${t ? ' has-table' : ''}${hl ? ' hl' : ''}`, 'data-tid': t?.tid, 'data-live': t?.live });
      rect.append(s('title', {}, title));
      if (t) rect.addEventListener('click', () => this.zoomTo(t.tid));
      cells.push(rect);
    }
    const svg = s('svg', { viewBox: `0 0 ${COLS * CELL} ${(512 / COLS) * CELL}`, class: 'grid', role: 'img', 'aria-label': `PMD table T${pmd.tid}: ${ptes.length} PTE tables, ${huge.size} huge PMDs` }, ...cells);
    const dep = pmd.deposited?.length ? ` · deposited: ${pmd.deposited.map((d) => `T${d}`).join(', ')}` : '';
    const list = h('ul', { class: 'table-list' });
    for (const t of ptes.slice(0, 200)) list.append(h('li', {}, this.tableButton(t)));
    if (ptes.length > 200) list.append(h('li', {}, `… and ${ptes.length - 200} more`));
    return h(
      'figure',
      { class: `pmd${this.highlight.has(pmd.tid) ? ' hl' : ''}`, 'data-tid': pmd.tid },
      h('figcaption', {}, `PMD table T${pmd.tid}: 1 GiB from ${hex(pmd.addr)} · ${ptes.length} PTE table${ptes.length === 1 ? '' : 's'} (${ptes.filter((t) => t.live === 0).length} empty) · ${huge.size} huge PMD${huge.size === 1 ? '' : 's'}${dep}`),
      svg,
      ptes.length ? h('details', {}, h('summary', {}, 'PTE tables as text'), list) : null,
    );
  }

  private tableButton(t: TableSnapshot): HTMLElement {
    const words = `T${t.tid} ${t.level} at ${hex(t.addr)}: ${t.live}/512 live, ${t.state}`;
    if (t.level !== 'pte') return h('span', { class: 'table-ref' }, words);
    return h('button', { type: 'button', class: `table-ref${this.highlight.has(t.tid) ? ' hl' : ''}`, 'data-tid': t.tid, onclick: () => this.zoomTo(t.tid) }, words);
  }

  private offTree(snap: AddressSpaceSnapshot): HTMLElement {
    const counts = Object.entries(snap.offTreeCounts);
    const sec = h('div', { class: 'off-tree', 'data-testid': 'off-tree' }, h('h4', {}, 'Tables off the tree'));
    if (!counts.length) {
      sec.append(h('p', { class: 'note' }, 'None: every table of this process is linked.'));
      return sec;
    }
    sec.append(h('p', {}, counts.map(([st, n]) => `${n} ${st}`).join(', ') + (snap.offTree.length < counts.reduce((a, [, n]) => a + n, 0) ? ` (the newest ${snap.offTree.length} listed)` : '')));
    const ul = h('ul', { class: 'table-list' });
    for (const t of [...snap.offTree].reverse()) {
      const swatch = h('span', { class: 'swatch', style: `background:${STATE_COLORS[t.state] ?? '#999'}`, 'aria-hidden': 'true' });
      ul.append(h('li', { 'data-state': t.state, 'data-tid': t.tid, class: this.highlight.has(t.tid) ? 'hl' : undefined }, swatch, this.tableButton(t)));
    }
    sec.append(ul);
    return sec;
  }

  private pteTable(t: TableSnapshot): HTMLElement {
    const sec = h('div', { class: 'pte-table', 'data-testid': 'pte-table', 'data-tid': t.tid, 'data-state': t.state });
    sec.append(h('h4', {}, `PTE table T${t.tid}: ${hex(t.addr)}–${hex(t.addr + SPAN.pte)}, `, h('strong', { 'data-testid': 'pte-table-state' }, t.state), `, ${t.live} of 512 entries live`));
    if (!t.entries) {
      sec.append(h('p', { class: 'note' }, t.state === 'freed' ? 'Freed: its entries are gone.' : 'Entries were not recorded for this snapshot (too many tables).'));
      return sec;
    }
    const cells: SVGElement[] = [];
    const runs: string[] = [];
    let i = 0;
    for (const [n, code] of t.entries) {
      runs.push(`${n === 1 ? `entry ${i}` : `entries ${i}–${i + n - 1}`}: ${entryWords(code)}`);
      for (let j = 0; j < n; j++, i++) {
        const r = s('rect', { x: (i % COLS) * CELL + 0.5, y: Math.floor(i / COLS) * CELL + 0.5, width: CELL - 1, height: CELL - 1, fill: ENTRY_COLORS[code] ?? '#888', 'data-code': code });
        r.append(s('title', {}, `entry ${i} (${hex(t.addr + i * 4096)}): ${entryWords(code)}`));
        cells.push(r);
      }
    }
    sec.append(
      s('svg', { viewBox: `0 0 ${COLS * CELL} ${(512 / COLS) * CELL}`, class: 'grid', role: 'img', 'aria-label': runs.join('; ') }, ...cells),
      h('p', { class: 'runs', 'data-testid': 'pte-runs' }, runs.join('; ')),
      entryLegend(t.entries.map(([, c]) => c)),
    );
    return sec;
  }
}

function counters(snap: AddressSpaceSnapshot): HTMLElement {
  const st = snap.status;
  const item = (name: string, v: string, id: string) => h('div', { class: 'counter' }, h('dt', {}, name), h('dd', { 'data-testid': id }, v));
  return h(
    'dl',
    { class: 'counters' },
    item('VmPTE', kb(st.VmPTE), 'vmpte'),
    item('VmRSS', kb(st.VmRSS), 'vmrss'),
    item('RssAnon', kb(st.RssAnon), 'rssanon'),
    item('RssFile', kb(st.RssFile), 'rssfile'),
    item('RssShmem', kb(st.RssShmem), 'rssshmem'),
    item('PageTables (meminfo)', kb(snap.pageTablesKb), 'pagetables'),
  );
}

function vmas(snap: AddressSpaceSnapshot): HTMLElement {
  const rows = snap.vmas.map((v) => {
    const flags = VM_FLAGS.filter(([b]) => v.flags & b).map(([, n]) => n);
    return h('tr', {}, h('td', {}, v.name || '—'), h('td', {}, `${hex(v.start)}–${hex(v.end)}`), h('td', {}, size(v.end - v.start)), h('td', {}, v.kind + (v.file ? ` (${v.file})` : '')), h('td', {}, flags.join(', ') || '—'));
  });
  return h(
    'details',
    { class: 'vmas', open: snap.vmas.length <= 8 },
    h('summary', {}, `${snap.vmas.length} VMA${snap.vmas.length === 1 ? '' : 's'}`),
    h('table', {}, h('thead', {}, h('tr', {}, ...['name', 'range', 'size', 'backing', 'flags'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, ...rows)),
  );
}

function entryLegend(codes: string[]): HTMLElement {
  const ul = h('ul', { class: 'legend' });
  for (const c of [...new Set(codes)]) ul.append(h('li', {}, h('span', { class: 'swatch', style: `background:${ENTRY_COLORS[c] ?? '#888'}`, 'aria-hidden': 'true' }), entryWords(c)));
  return ul;
}

/** The colour scale of PTE-table cells, spelled out. */
export function liveLegend(): HTMLElement {
  const ul = h('ul', { class: 'legend', 'aria-label': 'legend' });
  const item = (fill: string, words: string) => h('li', {}, h('span', { class: 'swatch', style: `background:${fill}`, 'aria-hidden': 'true' }), words);
  ul.append(item(liveColor(0), 'PTE table, empty (0 live)'), item(liveColor(1), '1 live'), item(liveColor(16), '16'), item(liveColor(512), '512 (full)'), item(HUGE_COLOR, 'huge PMD'), item(NONE_COLOR, 'none'));
  for (const [st, c] of Object.entries(STATE_COLORS)) if (st !== 'linked' && st !== 'allocated') ul.append(item(c, `off-tree table: ${st}`));
  return ul;
}
