/**
 * Which process the address-space view draws, when the snapshots hold several (op scripts and
 * scenarios may create more than one). Null when there is only one: nothing to choose.
 */
import type { KernelSnapshot } from '../../../src/view/schema.js';
import { h } from '../dom.js';

export interface ProcessPicker {
  readonly el: HTMLElement | null;
  /** The chosen process in a snapshot, if it exists there. */
  pick(snap: KernelSnapshot | undefined): KernelSnapshot['processes'][number] | undefined;
}

export function processPicker(snaps: readonly (KernelSnapshot | undefined)[], onChange: () => void): ProcessPicker {
  const names = [...new Set(snaps.flatMap((s) => s?.processes.map((p) => p.process) ?? []))];
  let chosen = names[0];
  const el =
    names.length > 1
      ? h('label', {}, 'Process ', h('select', { 'data-testid': 'process-select', onchange: (e: Event) => ((chosen = (e.target as HTMLSelectElement).value), onChange()) }, ...names.map((n) => h('option', { value: n }, n))))
      : null;
  return { el, pick: (snap) => snap?.processes.find((p) => p.process === chosen) };
}
