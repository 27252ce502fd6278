/**
 * The race view: a violation trace of `ptlab explore --json` drawn as interleaving tables
 * (docs/explorer.md, "Reading a trace": one column per CPU, one row per step), with what each CPU holds after the
 * selected step and the address-space view of that instant. ←/→ step, Home/End jump; the
 * violating step is highlighted and its sanitizer message shown beside it.
 */
import type { AddressSpaceSnapshot, ExploreDoc, KernelSnapshot, RaceStep } from '../../../src/view/schema.js';
import { verdictLine } from '../../../src/explore/explore.js';
import { h } from '../dom.js';
import { AddressSpaceView } from './address_space.js';
import { onStepKeys } from './keys.js';
import { processPicker } from './process_picker.js';
import { sparkline } from './sparkline.js';

export function renderRace(doc: ExploreDoc): HTMLElement {
  const trace = doc.trace ?? [];
  const names = doc.taskNames ?? [];
  const nTasks = Math.max(names.length, ...trace.map((s) => s.task + 1));
  const head = h(
    'div',
    { class: 'race-head' },
    h('h2', {}, `Scenario ${doc.scenario}`, doc.guardsOff.length ? ` with ${doc.guardsOff.join(', ')} off` : ' with every guard on'),
    doc.violation
      ? h('p', { class: 'violation-summary' }, h('strong', {}, `✗ ${doc.violation.kind}`), `: ${doc.violation.message}`)
      : h('p', { class: 'clean-summary', 'data-testid': 'race-status' }, capitalize(verdictLine(doc)) + '.'),
    doc.token ? h('p', { class: 'note' }, 'Replay: ', h('code', {}, `ptlab explore ${doc.scenario} ${doc.guardsOff.map((g) => `--guard ${g}=off`).join(' ')} --replay '${doc.token}'`)) : null,
  );
  if (!trace.length) return h('section', { class: 'race', 'data-testid': 'race' }, head);

  const snapshots = fillForward([doc.initial, ...trace.map((s) => s.snapshot)]);
  const picker = processPicker(snapshots, () => go(pos));
  const violating = trace.findIndex((s) => s.violating);
  const asView = new AddressSpaceView();
  const position = h('output', { 'data-testid': 'race-position', 'aria-live': 'polite' });
  const cpuPanel = h('div', { class: 'cpu-panel', 'data-testid': 'cpu-panel' });
  const series = h('div', {});
  const rows = trace.map((st, i) => {
    const cells = Array.from({ length: nTasks }, (_, t) => h('td', {}, t === st.task ? `${st.preemption ? '↷ ' : ''}${stepText(st)}${st.choice !== undefined ? ` = ${st.choice}` : ''}` : ''));
    const held = h('td', { class: 'held' }, heldAfter(snapshots[i + 1], names));
    const tr = h('tr', { class: `race-row${st.violating ? ' violating' : ''}`, 'data-testid': 'race-row', 'data-step': i + 1, onclick: () => go(i + 1) }, h('th', { scope: 'row' }, String(i + 1)), ...cells, held);
    if (st.violating) tr.title = `${doc.violation?.kind}: ${doc.violation?.message}`;
    return tr;
  });
  const body = h('tbody', {});
  trace.forEach((st, i) => {
    body.append(rows[i]);
    if (st.violating && doc.violation) body.append(h('tr', { class: 'violation-row' }, h('td', { colspan: nTasks + 2, 'data-testid': 'violation-message' }, `✗ ${doc.violation.kind}: ${doc.violation.message}`)));
  });
  const table = h(
    'table',
    { class: 'race-table', 'aria-label': 'interleaving: one column per CPU, one row per step' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'step'), ...Array.from({ length: nTasks }, (_, t) => h('th', { scope: 'col' }, names[t] ?? `task ${t}`)), h('th', { scope: 'col' }, 'held after the step'))),
    body,
  );

  let pos = 0;
  const go = (p: number) => {
    pos = Math.max(0, Math.min(trace.length, p));
    rows.forEach((r, i) => {
      const cur = i + 1 === pos;
      r.classList.toggle('current', cur);
      if (cur) r.setAttribute('aria-current', 'step');
      else r.removeAttribute('aria-current');
    });
    if (pos > 0) reveal(table, rows[pos - 1].nextElementSibling?.classList.contains('violation-row') ? [rows[pos - 1], rows[pos - 1].nextElementSibling!] : [rows[pos - 1]]);
    const step = pos > 0 ? trace[pos - 1] : undefined;
    position.textContent = pos === 0 ? `Before step 1 (of ${trace.length})` : `Step ${pos} of ${trace.length}: ${names[step!.task] ?? `task ${step!.task}`}: ${stepText(step!)}${step!.loc ? ` (${step!.loc})` : ''}${step!.violating ? ' — the violating step' : ''}`;
    const snap = snapshots[pos];
    const proc = picker.pick(snap);
    cpuPanel.replaceChildren(...(snap ? cpuState(snap, names, proc) : [h('p', { class: 'note' }, 'This trace carries no snapshots.')]));
    const tids = step ? [...step.label.matchAll(/T(\d+)/g)].map((m) => Number(m[1])) : [];
    if (proc) asView.update(proc, tids);
    series.replaceChildren(vmpteSeries(snapshots.map((s) => picker.pick(s)), pos));
  };
  const prev = h('button', { type: 'button', 'data-testid': 'prev', onclick: () => go(pos - 1) }, '← Previous');
  const next = h('button', { type: 'button', 'data-testid': 'next', onclick: () => go(pos + 1) }, 'Next →');
  const toViolation = violating >= 0 ? h('button', { type: 'button', 'data-testid': 'go-violation', onclick: () => go(violating + 1) }, 'Go to the violation (End)') : null;
  onStepKeys({ prev: () => go(pos - 1), next: () => go(pos + 1), first: () => go(0), last: () => go(violating >= 0 ? violating + 1 : trace.length) });
  go(0);
  return h(
    'section',
    { class: 'race', 'data-testid': 'race' },
    head,
    h('div', { class: 'stepper', role: 'group', 'aria-label': 'step through the trace (← and → keys)' }, prev, next, toViolation, picker.el, position),
    h('div', { class: 'race-grid' }, h('div', { class: 'race-trace', tabindex: 0, role: 'region', 'aria-label': 'trace (scrolls)' }, table), h('div', { class: 'race-side' }, cpuPanel, series, asView.el)),
  );
}

/**
 * Scroll the trace's own box (not the page) so that the rows are in view below the sticky header:
 * stepping must not move the rest of the page under the reader.
 */
function reveal(table: HTMLElement, rows: readonly Element[]): void {
  const box = table.parentElement!;
  const b = box.getBoundingClientRect();
  const head = table.querySelector('thead')!.getBoundingClientRect().height;
  const top = rows[0].getBoundingClientRect().top;
  const bottom = rows[rows.length - 1].getBoundingClientRect().bottom;
  if (bottom > b.bottom) box.scrollTop += bottom - b.bottom;
  else if (top < b.top + head) box.scrollTop -= b.top + head - top;
}

/** Locks, RCU/IRQ sections and TLB contents per CPU, then the RCU queue and the mm's shared state. */
function cpuState(snap: KernelSnapshot, names: readonly string[], p: AddressSpaceSnapshot | undefined): HTMLElement[] {
  const cpus = snap.cpus.filter((c) => names.some((n) => n.startsWith(`CPU${c.cpu}:`)) || c.locks.length || c.rcuNesting);
  const row = (label: string, f: (c: KernelSnapshot['cpus'][number]) => string) => h('tr', {}, h('th', { scope: 'row' }, label), ...cpus.map((c) => h('td', {}, f(c))));
  const table = h(
    'table',
    { class: 'cpu-table' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), ...cpus.map((c) => h('th', { scope: 'col' }, `CPU${c.cpu}`)))),
    h(
      'tbody',
      {},
      row('locks held', (c) => c.locks.join(', ') || '—'),
      row('RCU read side', (c) => (c.rcuNesting ? `inside (depth ${c.rcuNesting})` : 'outside')),
      row('IRQs', (c) => (c.irqsOff ? 'off' : 'on')),
      row('TLB entries', (c) => `${c.tlbEntries}${c.tlbStale ? ` (${c.tlbStale} STALE)` : ''}`),
      row('walk-cache entries', (c) => `${c.pwcEntries}${c.pwcStale ? ` (${c.pwcStale} to unlinked tables)` : ''}`),
    ),
  );
  return [
    table,
    h('p', { 'data-testid': 'rcu-state' }, `RCU: ${snap.rcu.pending.length ? `${snap.rcu.pending.length} callback${snap.rcu.pending.length > 1 ? 's' : ''} waiting for a grace period (${snap.rcu.pending.join(', ')})` : 'no callback waiting'}; ${snap.rcu.completed} grace period${snap.rcu.completed === 1 ? '' : 's'} ended.`),
    p ? h('p', {}, `${p.process}: mmap_lock ${p.mmapLock.writer !== null ? `write-held by CPU${p.mmapLock.writer}` : p.mmapLock.readers ? `${p.mmapLock.readers} reader${p.mmapLock.readers > 1 ? 's' : ''}` : 'free'}; TLB flushes pending (tlb_flush_pending): ${p.tlbFlushPending}.`) : h('p', {}, 'No process.'),
  ];
}

/**
 * One line of what is held after a step, as reviewers annotate interleavings: each CPU's locks and
 * open RCU / IRQ-off sections, and the RCU callbacks still waiting. Only the scenario's CPUs.
 */
function heldAfter(snap: KernelSnapshot | undefined, names: readonly string[]): string {
  if (!snap) return '';
  const parts: string[] = [];
  for (const c of snap.cpus) {
    if (!names.some((n) => n.startsWith(`CPU${c.cpu}:`))) continue;
    const what = [...c.locks, ...(c.rcuNesting ? ['rcu'] : []), ...(c.irqsOff ? ['irq-off'] : [])];
    if (what.length) parts.push(`CPU${c.cpu}: ${what.join(' ')}`);
  }
  if (snap.rcu.pending.length) parts.push(`${snap.rcu.pending.length} RCU cb`);
  return parts.join('; ') || '—';
}

/** Steps without a snapshot of their own show the latest one before them (or the first one). */
function fillForward(snaps: readonly (KernelSnapshot | undefined)[]): (KernelSnapshot | undefined)[] {
  let last = snaps.find((x) => x);
  return snaps.map((x) => (last = x ?? last));
}

function vmpteSeries(procs: readonly (AddressSpaceSnapshot | undefined)[], pos: number): HTMLElement {
  return sparkline(
    [
      { label: 'VmPTE', values: procs.map((p) => p?.status.VmPTE ?? 0), color: '#3a78c9' },
      { label: 'PageTables', values: procs.map((p) => p?.pageTablesKb ?? 0), color: '#b07cd8' },
    ],
    pos,
    'Page-table memory per step',
    pos === 0 ? 'before step 1' : `after step ${pos}`,
  );
}


function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A step as the trace shows it: `zap_pte_range: lock ptl(T4)` (its source line when selected). */
function stepText(st: RaceStep): string {
  return st.fn ? `${st.fn}: ${st.label}` : st.label;
}
