/**
 * eslint.config.js: every module whose header says it is pure is linted as pure (PURE_MODULES),
 * so that the claim is checked, not only stated (docs/architecture.md, "The layers").
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- eslint.config.js is plain JavaScript, without type declarations
import { PURE_MODULES as PURE_MODULES_JS } from '../../eslint.config.js';

const PURE_MODULES: readonly string[] = PURE_MODULES_JS;

const ROOT = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** The file's leading comment block. */
function header(file: string): string {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const m = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text);
  return m ? m[1]! : '';
}

describe('eslint.config.js', () => {
  it('lints as pure every module whose header says "Pure" or "is pure", outside src/mm and src/explore', () => {
    const claiming = sources('src')
      .filter((f) => !/^src\/(mm|mm-fast|explore)\//.test(f))
      .filter((f) => /(^|[.:]\s+)Pure\b|\b(file|module) is pure\b/.test(header(f).replace(/\n\s*\*\s?/g, ' ')));
    expect(claiming.length).toBeGreaterThan(3);
    expect(claiming.filter((f) => !PURE_MODULES.includes(f))).toEqual([]);
  });

  it('lists only modules that exist', () => {
    expect(PURE_MODULES.filter((f) => !fs.existsSync(path.join(ROOT, f)))).toEqual([]);
  });
});
