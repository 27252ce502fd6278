/** The mutation benchmark's summary (src/bench/mutation.ts): score, equivalents, blind spots. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeRerun, parseEquivalents, readMutationSummary, renderMutation, summarize } from '../../src/bench/mutation.js';

const mutant = (line: number, status: string, mutatorName = 'ConditionalExpression') => ({ mutatorName, status, replacement: 'true', location: { start: { line, column: 7 } } });
const report = {
  files: {
    'src/mm/b.ts': { mutants: [mutant(1, 'Killed'), mutant(2, 'Survived'), mutant(3, 'Survived'), mutant(4, 'Timeout'), mutant(5, 'NoCoverage'), mutant(6, 'Ignored', 'StringLiteral')] },
    'src/mm/a.ts': { mutants: [mutant(1, 'Killed'), mutant(9, 'Survived', 'BooleanLiteral')] },
  },
};

describe('mutation summary', () => {
  it('scores killed and timed-out mutants among the covered non-equivalent ones', () => {
    const eq = parseEquivalents('# reviewed\nsrc/mm/b.ts:3:7 ConditionalExpression only a statistics counter\nsrc/mm/z.ts:1:1 EqualityOperator gone\n', 'eq.txt');
    if (!eq.ok) throw new Error(eq.errors.join());
    const s = summarize(report, eq.entries);
    expect(s.files.map((f) => f.file)).toEqual(['src/mm/a.ts', 'src/mm/b.ts']);
    const b = s.files[1];
    expect([b.killed, b.timedOut, b.survived, b.equivalent, b.noCoverage, b.other]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(b.blind).toEqual(['src/mm/b.ts:2:7 ConditionalExpression → "true"']);
    // a.ts: 1 killed, 1 blind; b.ts: 2 detected, 1 blind.
    expect(s.killed).toBe(3);
    expect(s.nonEquivalent).toBe(5);
    expect(s.score).toBeCloseTo(60);
    expect(s.stale).toEqual(['src/mm/z.ts:1:1 EqualityOperator']);
    const md = renderMutation(s, { date: '2026-12-03', mutated: ['src/mm/a.ts', 'src/mm/b.ts'], equivalentFile: 'eq.txt', configured: ['src/mm/a.ts', 'src/mm/b.ts', 'src/mm/c.ts'] });
    expect(md).toContain('**Not measured yet** (in bench/mutation/files.json, not in this run): src/mm/c.ts.');
    expect(md).toContain('**Score: 60.0 %** (3 of 5');
    expect(md).toContain('- src/mm/a.ts:9:7 BooleanLiteral');
    expect(md).toContain('## Stale entries');
  });

  it('refuses a malformed equivalent line, naming file and line', () => {
    const r = parseEquivalents('src/mm/a.ts:1:7 Conditional reason\nsrc/mm/a.ts:1 X no column\n', 'eq.txt');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual(["eq.txt:2: expected 'FILE:LINE:COL MUTATOR [\"REPLACEMENT\"] reason', got 'src/mm/a.ts:1 X no column'"]);
  });

  it('tells apart two mutants of one place by their replacement', () => {
    const two = { files: { 'f.ts': { mutants: [{ ...mutant(1, 'Survived'), replacement: 'true' }, { ...mutant(1, 'Survived'), replacement: 'false' }] } } };
    const eq = parseEquivalents('f.ts:1:7 ConditionalExpression "true" the slow path frees it too\n', 'eq.txt');
    if (!eq.ok) throw new Error(eq.errors.join());
    const s = summarize(two, eq.entries);
    expect(s.files[0].equivalent).toBe(1);
    expect(s.files[0].blind).toEqual(['f.ts:1:7 ConditionalExpression → "false"']);
  });

  it("shows a blind spot's original code beside its replacement, from the report's source", () => {
    const source = 'const a = 1;\nif (x > 0 && y) {\n  go();\n}\n';
    const at = (sl: number, sc: number, el: number, ec: number) => ({ start: { line: sl, column: sc }, end: { line: el, column: ec } });
    const r = {
      files: {
        'f.ts': {
          source,
          mutants: [
            { mutatorName: 'ConditionalExpression', status: 'Survived', replacement: 'true', location: at(2, 5, 2, 15) },
            { mutatorName: 'BlockStatement', status: 'Survived', replacement: '{}', location: at(2, 17, 4, 2) },
          ],
        },
      },
    };
    expect(summarize(r, []).files[0].blind).toEqual(['f.ts:2:5 ConditionalExpression "x > 0 && y" → "true"', 'f.ts:2:17 BlockStatement "{ go(); }" → "{}"']);
    // A rerun merged over the full report keeps the source.
    expect(mergeRerun(r, { files: {} }).report.files['f.ts'].source).toBe(source);
  });

  it('has no score without a covered non-equivalent mutant', () => {
    expect(summarize({ files: { 'x.ts': { mutants: [mutant(1, 'NoCoverage')] } } }, []).score).toBeNull();
  });

  it('takes the statuses of a rerun of some lines over the full run, and says so', () => {
    // The rerun tested b.ts:2 again (now killed) and b.ts:3 (still surviving); a mutant of the same
    // place with another replacement is not the same mutant.
    const rerun = { files: { 'src/mm/b.ts': { mutants: [mutant(2, 'Killed'), mutant(3, 'Survived'), { ...mutant(1, 'Survived'), replacement: 'false' }] } } };
    const m = mergeRerun(report, rerun);
    expect([m.rerun, m.newlyKilled]).toEqual([2, 1]);
    const s = summarize(m.report, []);
    const b = s.files.find((f) => f.file === 'src/mm/b.ts')!;
    expect([b.killed, b.survived]).toEqual([2, 1]);
    expect(summarize(report, []).files.find((f) => f.file === 'src/mm/b.ts')!.killed).toBe(1); // the full report is left as it was
    const md = renderMutation(s, { date: '2026-12-03', mutated: ['src/mm/a.ts', 'src/mm/b.ts'], equivalentFile: 'eq.txt', rerun: { date: '2026-12-05', mutants: 2, newlyKilled: 1 } });
    expect(md).toContain('**Rerun.** 2 mutants, on the survivors');
    expect(md).toContain('1 of them are killed now');
  });

  it('tells apart mutants of one place, mutator and replacement by where the code they replace ends', () => {
    const at = (endColumn: number, status: string) => ({ ...mutant(4, status), location: { start: { line: 4, column: 7 }, end: { line: 4, column: endColumn } } });
    const full = { files: { 'c.ts': { mutants: [at(30, 'Survived'), at(50, 'Survived')] } } };
    const m = mergeRerun(full, { files: { 'c.ts': { mutants: [at(30, 'Killed'), at(50, 'Survived')] } } });
    expect(m.report.files['c.ts'].mutants.map((x) => x.status)).toEqual(['Killed', 'Survived']);
    expect(m.newlyKilled).toBe(1);
  });

  it('replaces a changed file whole with a whole-file rerun, and matches an unchanged one by position', () => {
    const full = { files: { 'c.ts': { source: 'old', mutants: [mutant(4, 'Survived'), mutant(5, 'Killed')] } } };
    const changed = mergeRerun(full, { files: { 'c.ts': { source: 'new', mutants: [mutant(7, 'Killed')] } } });
    expect(changed.report.files['c.ts']).toEqual({ source: 'new', mutants: [mutant(7, 'Killed')] });
    expect(changed.rerun).toBe(1);
    expect(changed.replaced).toEqual(['c.ts']);
    const md = renderMutation(summarize(changed.report, []), { date: 'd', mutated: ['c.ts'], equivalentFile: 'eq.txt', rerun: { date: 'e', mutants: 1, newlyKilled: 0, replaced: changed.replaced } });
    expect(md).toContain('c.ts changed since the full run and is counted from a later run of the whole file alone.');
    const same = mergeRerun(full, { files: { 'c.ts': { source: 'old', mutants: [mutant(4, 'Killed')] } } });
    expect(same.report.files['c.ts'].mutants.map((x) => x.status)).toEqual(['Killed', 'Killed']);
    expect(same.newlyKilled).toBe(1);
  });

  it('names the file of a report that is not one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-mutation-'));
    const full = path.join(dir, 'report.json');
    const rerun = path.join(dir, 'rerun.json');
    fs.writeFileSync(full, JSON.stringify(report));
    fs.writeFileSync(rerun, '{"schemaVersion": "2"}');
    expect(() => readMutationSummary(full, path.join(dir, 'none.txt'), rerun)).toThrow(`${rerun}: expected the JSON report of a StrykerJS run (no "files" object)`);
    fs.writeFileSync(rerun, '{');
    expect(() => readMutationSummary(full, path.join(dir, 'none.txt'), rerun)).toThrow(`${rerun}: expected the JSON report of a StrykerJS run`);
    expect(readMutationSummary(full, path.join(dir, 'none.txt')).killed).toBe(3); // no rerun file given: the full report alone
  });
});
