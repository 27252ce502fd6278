/**
 * The page's entry: find a document (embedded by `ptlab view`, `?src=URL`, a dropped or picked
 * file, or one made here by running a scenario or an op script on the bundled model), check it
 * against the schema, and open its view. Every failure is shown as a message, never a blank page.
 */
import { parseViewDoc, type ViewDoc } from '../../src/view/schema.js';
import { h } from './dom.js';
import { renderLanding } from './landing.js';
import { onStepKeys } from './views/keys.js';
import { renderRace } from './views/race.js';
import { renderRun } from './views/run.js';
import { renderWorkload } from './views/workload.js';
import './style.css';

const app = document.getElementById('app')!;
const errorBox = document.getElementById('error')!;
const title = document.getElementById('doc-title')!;

export function showError(message: string): void {
  errorBox.textContent = message;
  errorBox.hidden = false;
  if (!app.querySelector('section')) app.replaceChildren(renderLanding(openText));
}

function clearError(): void {
  errorBox.hidden = true;
  errorBox.textContent = '';
}

function render(v: ViewDoc): HTMLElement {
  switch (v.kind) {
    case 'explore':
      return renderRace(v.doc);
    case 'run':
      return renderRun(v.doc);
    case 'report':
      return renderWorkload(v.doc);
  }
}

/** Open JSON text from `source` (a file name or URL, for messages). */
export function openText(text: string, source: string): void {
  const r = parseViewDoc(text, source);
  if (!r.ok) {
    showError(r.error);
    return;
  }
  try {
    const el = render(r.view);
    clearError();
    app.replaceChildren(el);
    title.textContent = `· ${source}`;
    document.title = `ptlab view: ${source}`;
  } catch (e) {
    onStepKeys(null);
    showError(`${source}: the view failed to draw this document: ${(e as Error).message}`);
  }
}

async function openUrl(url: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    showError(`${url}: could not be fetched (${(e as Error).message}). A page opened from a file cannot fetch; use ptlab serve, or ptlab view to embed the data.`);
    return;
  }
  if (!res.ok) {
    showError(`${url}: the server answered ${res.status} ${res.statusText}`);
    return;
  }
  openText(await res.text(), url);
}

function openFile(file: File): void {
  file.text().then(
    (t) => openText(t, file.name),
    (e: unknown) => showError(`${file.name}: could not be read: ${(e as Error).message}`),
  );
}

function wireFileInputs(): void {
  const input = document.getElementById('file-input') as HTMLInputElement;
  input.addEventListener('change', () => input.files?.[0] && openFile(input.files[0]));
  const overlay = document.getElementById('drop-overlay')!;
  let depth = 0;
  document.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    overlay.hidden = false;
  });
  document.addEventListener('dragleave', () => {
    if (--depth <= 0) overlay.hidden = true;
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    const f = e.dataTransfer?.files[0];
    if (f) openFile(f);
    else showError('The drop held no file: drop a .json file written by ptlab.');
  });
}

function boot(): void {
  wireFileInputs();
  const embedded = document.getElementById('ptlab-data');
  const params = new URLSearchParams(location.search);
  const src = params.get('src');
  if (embedded?.textContent) openText(embedded.textContent, embedded.dataset.source ?? 'embedded data');
  else if (src) {
    app.replaceChildren(h('p', { class: 'loading' }, `Loading ${src}…`));
    void openUrl(src);
  } else app.replaceChildren(renderLanding(openText, params));
}

window.addEventListener('error', (e) => showError(`Internal error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(`Internal error: ${String((e.reason as Error)?.message ?? e.reason)}`));
boot();
