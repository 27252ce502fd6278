/**
 * The shipped examples (examples/, what `ptlab serve` lists and the browser tests open) must stay
 * true to the code: each validates against its schema, each race example is still what the
 * explorer finds, and the op-script timeline is still what the script produces. When one fails,
 * `npm run examples` remakes them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenarios/registry.js';
import { runScenario } from '../../src/scenarios/run.js';
import { runDoc } from '../../src/view/docs.js';
import { parseViewDoc, type ViewDoc } from '../../src/view/schema.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIR = path.join(ROOT, 'examples');
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as { file: string; about: string }[];

function load(file: string): ViewDoc {
  const r = parseViewDoc(fs.readFileSync(path.join(DIR, file), 'utf8'), file);
  if (!r.ok) throw new Error(`${r.error} (npm run examples remakes the examples)`);
  return r.view;
}

describe('shipped examples', () => {
  it('index.json lists every example file, each with a description', () => {
    const files = fs.readdirSync(DIR).filter((f) => f !== 'index.json').sort();
    expect(index.map((x) => x.file).sort()).toEqual(files);
    for (const x of index) expect(x.about.length).toBeGreaterThan(20);
  });

  it.each(index.filter((x) => x.file.endsWith('.explore.json')).map((x) => x.file))('%s is what the explorer finds today', (file) => {
    const v = load(file);
    if (v.kind !== 'explore') throw new Error(`${file} is a ${v.kind} document`);
    const r = loadScenario(v.doc.scenario);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const result = runScenario(r.scenario, { guardsOff: r.scenario.guards });
    expect(v.doc.guardsOff).toEqual(r.scenario.guards);
    expect(result.status).toBe('violation');
    if (result.status !== 'violation') return;
    expect(v.doc.token).toBe(result.token);
    expect(v.doc.violation).toEqual(result.violation);
    expect(v.doc.trace!.map((s) => s.label)).toEqual(result.trace.map((s) => s.label));
    // The kernel function of each step (its source line moves with every edit, and is not compared).
    expect(v.doc.trace!.map((s) => s.fn)).toEqual(result.trace.map((s) => s.fn));
    expect(v.doc.trace![v.doc.trace!.length - 1].violating).toBe(true);
  });

  it.each(index.filter((x) => x.file.endsWith('.run.json')).map((x) => x.file))('%s is what its script produces today', (file) => {
    const v = load(file);
    if (v.kind !== 'run') throw new Error(`${file} is a ${v.kind} document`);
    const again = runDoc(fs.readFileSync(path.join(ROOT, v.doc.script), 'utf8'), v.doc.script);
    expect(again.ok && again.doc).toEqual(v.doc);
  });

  it.each(index.filter((x) => x.file.endsWith('.report.json')).map((x) => x.file))('%s is a report whose PT_RECLAIM-on runs keep no more page tables than off', (file) => {
    const v = load(file);
    if (v.kind !== 'report') throw new Error(`${file} is a ${v.kind} document`);
    const [off, ...rest] = v.doc.runs;
    expect(off.label).toBe('off');
    expect(rest.length).toBeGreaterThan(0);
    for (const run of rest) expect(run.final.VmPTE).toBeLessThanOrEqual(off.final.VmPTE);
  });
});
