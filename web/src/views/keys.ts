/**
 * ←/→ (and Home/End) step whichever view is open. One document listener, pointed at the current
 * view's handlers, so opening another file does not stack listeners.
 */
export interface StepKeys {
  prev(): void;
  next(): void;
  first(): void;
  last(): void;
}

let current: StepKeys | null = null;
let installed = false;

export function onStepKeys(keys: StepKeys | null): void {
  current = keys;
  if (installed) return;
  installed = true;
  document.addEventListener('keydown', (e) => {
    if (!current || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target as HTMLElement | null;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
    const act = { ArrowLeft: current.prev, ArrowRight: current.next, Home: current.first, End: current.last }[e.key];
    if (!act) return;
    e.preventDefault();
    act();
  });
}
