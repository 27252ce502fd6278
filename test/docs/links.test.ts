/**
 * Citations in the tree resolve (issue 14): code, tests and docs cite the kernel source or a
 * document under docs/, never the team's working notes outside the repository, and every
 * `docs/NAME.md, "Section"` names a document and a heading that exist.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIRS = ['src', 'test', 'web/src', 'tools', 'runner', 'docs', 'scenarios', 'scripts'];
const SKIP = new Set(['src/mm-fast']); // generated from src/mm
const EXT = /\.(ts|tsx|mjs|c|md|pt|scn|allow)$/;

function files(): string[] {
  const out: string[] = ['README.md'];
  const walk = (rel: string) => {
    if (SKIP.has(rel)) return;
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (EXT.test(e.name)) out.push(r);
    }
  };
  for (const d of DIRS) if (fs.existsSync(path.join(ROOT, d))) walk(d);
  return out;
}

/** A heading matches a cited section by its words up to an explanation: "JSON output" is "JSON output (...)". */
/** The team's notes that live outside the repository: a reader of the code cannot follow them. */
const OUTSIDE = /\bspec \d+(\.\d+)+|\b(races|live-kernel|kernel-model|callers|upstream)\.md\b|shared\/spec/;
/** This test names them to forbid them. */
const SELF = 'test/docs/links.test.ts';

const headings = new Map<string, Set<string>>();
function headingsOf(doc: string): Set<string> | undefined {
  if (!headings.has(doc)) {
    const p = path.join(ROOT, doc);
    if (!fs.existsSync(p)) return undefined;
    headings.set(doc, new Set(fs.readFileSync(p, 'utf8').split('\n').flatMap((l) => /^#{1,6} (.+?)\s*$/.exec(l)?.[1] ?? []).map((h) => h.replace(/`/g, ''))));
  }
  return headings.get(doc);
}

describe('citations', () => {
  const all = files();

  it('cite nothing outside the repository (the kernel source or docs/ instead)', () => {
    const bad: string[] = [];
    for (const f of all) {
      if (f === SELF) continue;
      fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n').forEach((l, i) => {
        const m = OUTSIDE.exec(l);
        if (m) bad.push(`${f}:${i + 1}: ${m[0]}`);
      });
    }
    expect(bad).toEqual([]);
  });

  it('name documents of docs/ that exist, and headings they have', () => {
    const bad: string[] = [];
    let checked = 0;
    const cite = /\b(docs\/[a-z0-9_-]+\.md)(?:(?:, |: | \()"([^"]+)")?/g;
    for (const f of all) {
      fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n').forEach((l, i) => {
        for (const m of l.matchAll(cite)) {
          checked++;
          const h = headingsOf(m[1]);
          if (!h) bad.push(`${f}:${i + 1}: ${m[1]} does not exist`);
          else if (m[2] && ![...h].some((x) => x === m[2] || x.startsWith(`${m[2]} `))) bad.push(`${f}:${i + 1}: ${m[1]} has no heading "${m[2]}"`);
        }
      });
    }
    expect(checked).toBeGreaterThan(50);
    expect(bad).toEqual([]);
  });
});
