/**
 * The page with no document yet: how to open one, the shipped examples (when served by
 * `ptlab serve`), and running a scenario or an op script right here on the bundled model, which
 * produces the same JSON as `ptlab explore --json` and `ptlab run --timeline`.
 */
import { parseScenario } from '../../src/scenarios/format.js';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { exploreDoc, runDoc } from '../../src/view/docs.js';
import { h } from './dom.js';

type Open = (text: string, source: string) => void;

/** scenarios/*.scn, bundled as text. */
const SCENARIOS: Record<string, string> = Object.fromEntries(
  Object.entries(import.meta.glob('../../scenarios/*.scn', { query: '?raw', import: 'default', eager: true }) as Record<string, string>).map(([p, t]) => [p.replace(/^.*\/(.*)\.scn$/, '$1'), t]),
);

const DEFAULT_SCRIPT = `# Touch one page in each of 8 blocks of 2 MiB, then MADV_DONTNEED them all:
# with PT_RECLAIM the 8 PTE tables go (VmPTE falls by 32 kB), without it they stay.
config pt_reclaim=on
process P
map A anon private 16M
touch A 0 16M write every=2M
madvise A 0 16M dontneed
unmap A 0 16M
`;

/** Run a scenario's search in the page; the result as `ptlab explore --json` would print it. */
export function exploreInPage(name: string, guardOff: boolean): string {
  const text = SCENARIOS[name];
  if (text === undefined) throw new Error(`no scenario '${name}'; the bundled ones are ${Object.keys(SCENARIOS).join(', ')}`);
  const r = parseScenario(text, `${name}.scn`);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const guardsOff = guardOff ? r.scenario.guards : [];
  const result = runScenario(r.scenario, { guardsOff, budget: { maxExecutions: 100_000 } });
  return JSON.stringify(exploreDoc(r.scenario.name, guardsOff, scenarioSystem(r.scenario, guardsOff).taskNames ?? [], result));
}

/** Yield to the browser first so that "Running…" is painted before the model blocks the thread. */
function later(status: HTMLElement, what: string, fn: () => void): void {
  status.textContent = `Running ${what}…`;
  setTimeout(() => {
    try {
      fn();
    } catch (e) {
      status.textContent = `${what}: ${(e as Error).message}`;
      status.setAttribute('role', 'alert');
    }
  }, 30);
}

export function renderLanding(open: Open, params = new URLSearchParams()): HTMLElement {
  const status = h('p', { class: 'status', 'data-testid': 'landing-status', 'aria-live': 'polite' });
  const runScn = (name: string, off: boolean) => later(status, `scenario ${name}`, () => open(exploreInPage(name, off), `scenario ${name}${off ? ' (guard off)' : ''}, run in this page`));

  const select = h('select', { id: 'scenario', 'data-testid': 'scenario-select' }, ...Object.keys(SCENARIOS).map((n) => h('option', { value: n }, n)));
  const guard = h('input', { type: 'checkbox', id: 'guard-off', checked: true });
  const scnForm = h(
    'form',
    { class: 'card', onsubmit: (e: Event) => (e.preventDefault(), runScn(select.value, guard.checked)) },
    h('h2', {}, 'Run a race scenario here'),
    h('p', {}, 'Searches its interleavings on the model bundled in this page and shows the first violation, step by step.'),
    h('label', { for: 'scenario' }, 'Scenario '),
    select,
    h('label', {}, guard, " switch the scenario's guard off"),
    h('button', { type: 'submit', 'data-testid': 'run-scenario' }, 'Explore'),
  );

  const script = h('textarea', { rows: 10, cols: 70, spellcheck: false, 'aria-label': 'op script', 'data-testid': 'script-text' }, DEFAULT_SCRIPT);
  const scriptForm = h(
    'form',
    {
      class: 'card',
      onsubmit: (e: Event) => {
        e.preventDefault();
        later(status, 'the op script', () => {
          const r = runDoc(script.value, 'script.pt');
          if (!r.ok) throw new Error(`the script does not validate:\n${r.errors.join('\n')}`);
          open(JSON.stringify(r.doc), 'op script, run in this page');
        });
      },
    },
    h('h2', {}, 'Run an op script here'),
    h('p', {}, 'The grammar of docs/op-scripts.md; the page shows the address space after every op.'),
    script,
    h('button', { type: 'submit', 'data-testid': 'run-script' }, 'Run'),
  );

  const examples = h('ul', { class: 'examples', 'data-testid': 'examples' });
  const exCard = h('div', { class: 'card', hidden: true }, h('h2', {}, 'Examples'), examples);
  fetch('examples/index.json')
    .then((r) => (r.ok ? (r.json() as Promise<{ file: string; about: string }[]>) : []))
    .then((list) => {
      for (const x of list) examples.append(h('li', {}, h('a', { href: `?src=examples/${encodeURIComponent(x.file)}` }, x.file), ` — ${x.about}`));
      exCard.hidden = list.length === 0;
    })
    .catch(() => undefined); // opened offline: no examples to list

  const auto = params.get('scenario');
  if (auto) runScn(auto, params.get('guard') === 'off');
  return h(
    'section',
    { class: 'landing', 'data-testid': 'landing' },
    h('p', { class: 'intro' }, 'ptlab draws the Linux page tables of its model: which PTE tables exist, which are empty, and which one a CPU is walking while another frees it. ', 'Open a JSON file written by ', h('code', {}, 'ptlab explore --json'), ', ', h('code', {}, 'ptlab run --timeline'), ' or ', h('code', {}, 'ptlab replay -o'), ' (drop it on this page, or use Open JSON…), or run something here.'),
    status,
    exCard,
    scnForm,
    scriptForm,
  );
}
