/**
 * A swarm campaign's report (issue 13, section 5): beside each finding's .scn, its minimized trace as
 * a `ptlab-explore` document (FINDING.explore.json, opened by `ptlab serve`) and the race view with
 * that document inside (FINDING.html, opens offline); and campaign.html, the findings table linking
 * them. Made after the campaign from the findings folder: a replay of each saved token, so the
 * campaign's jobs stay pure and the queue carries no traces.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CampaignSummary } from '../swarm/campaign.js';
import { loadScenario, loadAllowList } from '../scenarios/registry.js';
import { scenarioSystem } from '../scenarios/system.js';
import { LONG_PATH_STEPS, STEP_LIMIT } from '../swarm/search.js';
import { replay } from '../explore/index.js';
import { exploreDoc } from '../view/docs.js';
import { writeFileAtomic } from '../util/atomic.js';
import { embed, PAGE } from './web.js';

export interface ReportFiles {
  /** Findings whose trace was written (as .explore.json, and .html when the page is built). */
  readonly traced: number;
  /** Why a finding has no trace (a model bug has no schedule; a setup finding neither). */
  readonly notes: readonly string[];
  readonly html: string;
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function writeCampaignReport(out: string, summary: CampaignSummary): ReportFiles {
  const page = fs.existsSync(PAGE) ? fs.readFileSync(PAGE, 'utf8') : undefined;
  const allow = loadAllowList();
  const notes: string[] = [];
  let traced = 0;
  const rows: string[] = [];
  for (const f of summary.findings) {
    const links: string[] = [];
    if (f.file) links.push(`<a href="${esc(f.file)}">${esc(f.file)}</a>`);
    const base = f.file?.replace(/\.scn$/, '');
    if (f.file && base && f.token) {
      const loaded = loadScenario(path.join(out, f.file));
      if (!loaded.ok) notes.push(`${f.file}: ${loaded.errors[0]}`);
      else {
        const scn = loaded.scenario;
        const sys = scenarioSystem(scn, scn.guards, f.kind === 'anomaly' && allow.ok ? { explain: { allow: allow.entries } } : {});
        const stepLimit = f.kind === STEP_LIMIT;
        const r = replay(sys, f.token, stepLimit ? { maxSteps: LONG_PATH_STEPS } : {});
        if (r.status !== (stepLimit ? 'step-limit' : 'violation')) notes.push(`${f.file}: replaying ${f.token} gave ${r.status}, not ${f.kind}`);
        else {
          const json = JSON.stringify(exploreDoc(path.join(out, f.file), scn.guards, sys.taskNames ?? [], r));
          writeFileAtomic(path.join(out, `${base}.explore.json`), json + '\n');
          links.push(`<a href="${esc(base)}.explore.json">trace (JSON)</a>`);
          if (page) {
            writeFileAtomic(path.join(out, `${base}.html`), embed(page, json, `${base}.explore.json`));
            links.push(`<a href="${esc(base)}.html">race view</a>`);
          }
          traced++;
        }
      }
    } else if (f.file) notes.push(`${f.file}: no trace (${f.token ? 'no file' : 'no schedule to replay: the model threw or the setup failed'})`);
    rows.push(`<tr><td>${esc(f.kind)}</td><td>${esc(f.message.split('\n')[0])}</td><td>${f.count}</td><td>${f.index}</td><td>${f.executionsToFind}</td><td>${links.join(' · ')}</td></tr>`);
  }
  if (!page && traced) notes.push(`the race view is not built (${PAGE} is missing: npm run build); the traces are in the .explore.json files (ptlab serve FILE)`);
  const html = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ptlab swarm campaign</title>',
    '<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}</style></head><body>',
    `<h1>Swarm campaign, seed ${summary.seed}</h1>`,
    `<p>${summary.done} of ${summary.scenarios} scenarios, ${summary.executions} executions, guards off: ${esc(summary.guardsOff.join(', ') || 'none')}. ${summary.findings.length} distinct finding(s).</p>`,
    summary.findings.length
      ? `<table><thead><tr><th>kind</th><th>message</th><th>scenarios</th><th>first job</th><th>executions to find</th><th>files</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
      : '<p>No findings.</p>',
    ...notes.map((n) => `<p>${esc(n)}</p>`),
    '</body></html>',
  ].join('\n');
  writeFileAtomic(path.join(out, 'campaign.html'), html + '\n');
  return { traced, notes, html: path.join(out, 'campaign.html') };
}
