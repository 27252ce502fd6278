/**
 * The op-script timeline (`ptlab run SCRIPT --timeline`, or a script run in the page): the script's
 * ops as a list, the address space after the selected op, and VmPTE / RSS over the ops.
 */
import type { RunDoc } from '../../../src/view/schema.js';
import { h } from '../dom.js';
import { AddressSpaceView } from './address_space.js';
import { onStepKeys } from './keys.js';
import { processPicker } from './process_picker.js';
import { sparkline } from './sparkline.js';

export function renderRun(doc: RunDoc): HTMLElement {
  const steps = doc.steps;
  const head = h(
    'div',
    {},
    h('h2', {}, `Op script ${doc.script}`),
    doc.exitCode !== 0 ? h('p', { class: 'violation-summary' }, `The run stopped early (exit ${doc.exitCode}): ${doc.error ?? 'an expectation failed'}`) : h('p', { class: 'note' }, `${steps.length} ops changed the kernel; every expectation held.`),
    doc.opsNotRecorded ? h('p', { class: 'note', 'data-testid': 'ops-not-recorded' }, `Only the first ${steps.length} ops were photographed; ${doc.opsNotRecorded} more ran without a snapshot.`) : null,
  );
  if (!steps.length) return h('section', { class: 'run', 'data-testid': 'run' }, head, h('p', { class: 'note' }, 'No op changed the kernel.'));
  let pos = steps.length - 1;
  const asView = new AddressSpaceView();
  const series = h('div', {});
  const position = h('output', { 'data-testid': 'run-position', 'aria-live': 'polite' });
  const items = steps.map((st, i) => h('li', {}, h('button', { type: 'button', class: 'op', 'data-testid': 'run-op', onclick: () => go(i) }, `${st.line}: ${st.text}`)));
  const slider = h('input', { type: 'range', min: 0, max: steps.length - 1, value: pos, 'aria-label': 'op', oninput: () => go(Number(slider.value)) });
  const picker = processPicker(steps.map((s) => s.snapshot), () => go(pos));
  const pick = picker.pick;
  const go = (i: number) => {
    pos = Math.max(0, Math.min(steps.length - 1, i));
    slider.value = String(pos);
    items.forEach((li, j) => li.firstElementChild!.classList.toggle('current', j === pos));
    const st = steps[pos];
    position.textContent = `After op ${pos + 1} of ${steps.length} (line ${st.line}: ${st.text})`;
    const p = pick(st.snapshot);
    if (p) asView.update(p);
    else asView.el.replaceChildren(h('p', { class: 'note' }, 'This process does not exist after this op.'));
    const val = (f: (x: NonNullable<ReturnType<typeof pick>>) => number) => steps.map((x) => { const q = pick(x.snapshot); return q ? f(q) : 0; });
    series.replaceChildren(sparkline([{ label: 'VmPTE', values: val((q) => q.status.VmPTE), color: '#3a78c9' }, { label: 'VmRSS', values: val((q) => q.status.VmRSS), color: '#2e9e6a' }], pos, `${p?.process ?? 'the process'} per op`, `after op ${pos + 1}`));
  };
  onStepKeys({ prev: () => go(pos - 1), next: () => go(pos + 1), first: () => go(0), last: () => go(steps.length - 1) });
  go(pos);
  return h(
    'section',
    { class: 'run', 'data-testid': 'run' },
    head,
    h('div', { class: 'stepper', role: 'group', 'aria-label': 'step through the ops (← and → keys)' }, picker.el, slider, position),
    h('div', { class: 'race-grid' }, h('ol', { class: 'ops' }, ...items), h('div', { class: 'race-side' }, series, asView.el)),
  );
}
