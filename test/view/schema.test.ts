/**
 * src/view/schema.ts `parseViewDoc` and src/view/docs.ts: the page opens any file a user drops on
 * it, so a bad file must give one message that names the file and where it is wrong (never a
 * throw), and every document ptlab itself writes (explore --json, run --timeline, a replay report)
 * must be accepted as the kind the page dispatches on.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExploreResult } from '../../src/explore/index.js';
import { loadScenario, runScenario } from '../../src/scenarios/registry.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import type { Scenario } from '../../src/scenarios/format.js';
import { parseTrace } from '../../src/trace/parse.js';
import { replay } from '../../src/workloads/replay.js';
import { buildReport } from '../../src/workloads/variants.js';
import { exploreDoc, runDoc, timelineRecorder } from '../../src/view/docs.js';
import { runScript } from '../../src/script/exec.js';
import { parseScript } from '../../src/script/parse.js';
import { parseViewDoc } from '../../src/view/schema.js';

const TYPES = ['ptlab-explore', 'ptlab-run', 'ptlab-replay-report'];

function failure(text: string, source = 'in.json'): string {
  const r = parseViewDoc(text, source);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.error;
}

describe('parseViewDoc on what is not a ptlab document', () => {
  it('says "not JSON" after the source name, and does not throw', () => {
    for (const text of ['', '{', '{"type": "ptlab-run",}', 'ptlab-run']) {
      expect(failure(text, 'dropped.json')).toMatch(/^dropped\.json: not JSON: /);
    }
  });

  it('lists the accepted types when "type" is missing, unknown or not a string', () => {
    for (const [text, got] of [['{}', 'nothing'], ['{"type":"ptlab-trace"}', '"ptlab-trace"'], ['{"type":3}', '3'], ['[]', 'nothing'], ['null', 'nothing'], ['"ptlab-run"', 'nothing'], ['{"type":"toString"}', '"toString"'], ['{"type":"constructor"}', '"constructor"'], ['{"type":"__proto__"}', '"__proto__"']]) {
      const e = failure(text, 'x.json');
      expect(e).toMatch(/^x\.json: not a ptlab document: /);
      for (const t of TYPES) expect(e).toContain(t);
      expect(e).toContain(`got ${got}`);
    }
  });
});

describe('documents ptlab writes', () => {
  let scn: Scenario;
  let result: ExploreResult;
  let doc: ReturnType<typeof exploreDoc>;

  beforeAll(() => {
    const l = loadScenario('retract_vs_dontneed');
    if (!l.ok) throw new Error(l.errors.join('\n'));
    scn = l.scenario;
    result = runScenario(scn, { guardsOff: scn.guards, budget: { maxExecutions: 50_000 } });
    doc = exploreDoc(scn.name, scn.guards, scenarioSystem(scn, scn.guards).taskNames ?? [], result);
  });

  it('exploreDoc of a violation → kind explore, with the trace, its snapshots and the initial kernel', () => {
    const r = parseViewDoc(JSON.stringify(doc), 'race.json');
    expect(r.ok).toBe(true);
    if (!r.ok || r.view.kind !== 'explore') throw new Error('not an explore view');
    const d = r.view.doc;
    expect(d).toMatchObject({ type: 'ptlab-explore', version: 1, scenario: 'retract_vs_dontneed', guardsOff: ['retract-pmd-recheck'], status: 'violation' });
    expect(d.violation?.kind).toBe('pt-use-after-free');
    // One column per task plus RCU; the trace has a snapshot on every step.
    expect(d.taskNames).toHaveLength(scn.tasks.length + 1);
    expect(d.taskNames!.at(-1)).toBe('RCU');
    expect(d.trace!.length).toBeGreaterThan(0);
    expect(d.trace!.every((s) => s.snapshot !== undefined)).toBe(true);
    expect(d.initial?.processes).toHaveLength(1);
  });

  it('exploreDoc of a search without a violation is accepted too (no trace)', () => {
    const clean = runScenario(scn, { budget: { maxExecutions: 3 } });
    expect(clean.status).toBe('budget');
    const r = parseViewDoc(JSON.stringify(exploreDoc(scn.name, [], [], clean)), 'b.json');
    expect(r.ok && r.view.kind === 'explore' && r.view.doc.status).toBe('budget');
  });

  it('names the path of a wrong field deep inside, and the document type', () => {
    const bad = JSON.parse(JSON.stringify(doc)) as { trace: { snapshot: { cpus: { locks: unknown }[] } }[] };
    bad.trace[0].snapshot.cpus[0].locks = 'ptl(T4)';
    const e = failure(JSON.stringify(bad), 'race.json');
    expect(e).toMatch(/^race\.json: ptlab-explore: trace\[0\]\.snapshot\.cpus\[0\]\.locks: /);
    expect(e).not.toMatch(/more problems/);
    // Two problems: the first is named, the other counted.
    const worse = JSON.parse(JSON.stringify(bad)) as typeof bad & { scenario: unknown };
    worse.scenario = 7;
    expect(failure(JSON.stringify(worse))).toMatch(/\(and 1 more problem\)$/);
    // A wrong version is a problem at the top-level key.
    expect(failure(JSON.stringify({ ...doc, version: 2 }))).toMatch(/^in\.json: ptlab-explore: version: /);
  });

  it('runDoc: one step per op that changes the kernel, each with its line, text and snapshot → kind run', () => {
    const text = 'config pt_reclaim=on\nprocess P\nmap A anon private 2M\n\n  touch A 0 4K write  \nsnapshot s\nexpect VmPTE delta == 12\n';
    const r = runDoc(text, 'tl.pt');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    // config, snapshot and expect leave the kernel as it was: process, map, touch remain.
    expect(r.doc.steps.map((s) => [s.line, s.text])).toEqual([[2, 'process P'], [3, 'map A anon private 2M'], [5, 'touch A 0 4K write']]);
    expect(r.doc).toMatchObject({ type: 'ptlab-run', version: 1, script: 'tl.pt', exitCode: 0 });
    expect(r.doc.error).toBeUndefined();
    expect(r.doc.steps[0].snapshot.processes[0].status.VmSize).toBe(0);
    expect(r.doc.steps[2].snapshot.processes[0].status.VmPTE).toBe(12);
    const v = parseViewDoc(JSON.stringify(r.doc), 'tl.json');
    expect(v.ok && v.view.kind).toBe('run');
  });

  it('runDoc stops at a failed expectation and says which line', () => {
    // A fresh slot's first touch costs 12 kB, not 4: line 5 fails and line 6 never runs.
    const r = runDoc('process P\nmap A anon private 2M\ntouch A 0 4K write\nsnapshot s\nexpect VmPTE delta == 4\ntouch A 4K 4K write\n', 'f.pt');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.doc.exitCode).toBe(1);
    expect(r.doc.error).toMatch(/^line 5: /);
    expect(r.doc.steps.map((s) => s.line)).toEqual([1, 2, 3]);
    expect(parseViewDoc(JSON.stringify(r.doc), 'f.json').ok).toBe(true);
  });

  it('runDoc of a script that does not validate returns file:line:col errors and no document', () => {
    const r = runDoc('process P\nmap A anon private 3K\n', 'broken.pt');
    expect(r.ok).toBe(false);
    // '3K' starts at column 20 of line 2, and is not a multiple of 4K.
    if (!r.ok) expect(r.errors[0]).toMatch(/^broken\.pt:2:20: /);
    const unknown = runDoc('process P\nfrobnicate A\n', 'u.pt');
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.errors[0]).toMatch(/^u\.pt:2:1: /);
  });

  it('a replay report → kind report; a report missing its runs is named at runs', () => {
    const trace = parseTrace('ptlab-trace 1\nprocess P pid=1\nmmap 0x100000000000 0x400000 rw- private,anon\ntouch 0x100000000000 0x400000 write\nmadvise 0x100000000000 0x200000 dontneed\nexit\n');
    if (!trace.ok) throw new Error(JSON.stringify(trace.errors));
    const runs = ['off', 'on'].map((v) => replay(trace.records, { label: `pt_reclaim=${v}`, config: { pt_reclaim: v }, events: trace.events }));
    const report = buildReport({ kind: 'trace', name: 'inline.trace' }, trace.events, runs[0].observed, runs.map((x) => x.run));
    const r = parseViewDoc(JSON.stringify(report), 'report.json');
    if (!r.ok) throw new Error(r.error);
    expect(r.view.kind).toBe('report');
    if (r.view.kind === 'report') expect(r.view.doc.runs.map((x) => x.label)).toEqual(['pt_reclaim=off', 'pt_reclaim=on']);
    expect(failure(JSON.stringify({ ...report, runs: [] }), 'report.json')).toMatch(/^report\.json: ptlab-replay-report: runs: /);
  });
});

describe('timeline cap', () => {
  it('photographs the first maxSteps ops, runs the rest, and counts them', () => {
    // 1 process + 1 map + 4 touches = 6 ops that change the kernel; keep 2.
    const text = ['process P', 'map A anon private 8M', ...[0, 2, 4, 6].map((m) => `touch A ${m}M 4K write`)].join('\n');
    const rec = timelineRecorder(text, 'cap.pt', 2);
    const r = runScript(parseScript(text, 'cap.pt'), { onOp: rec.onOp });
    const doc = rec.doc(r);
    expect(doc.steps.map((s) => s.line)).toEqual([1, 2]);
    expect(doc.opsNotRecorded).toBe(4);
    expect(r.exitCode).toBe(0);
    const back = parseViewDoc(JSON.stringify(doc), 'cap.json');
    expect(back.ok && back.view.kind).toBe('run');
  });
});
