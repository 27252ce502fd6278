/**
 * Every shipped op script on the model alone: its `expect ... delta` lines hold the kernel's
 * numbers, so a model that passes here agrees with the kernel on everything the scripts check.
 * Needs no kernel, no root and no compiler: this is what CI machines without them still run
 * (kernel-agreement.test.ts compares every field with the live kernel where it can).
 */
import { describe, expect, it } from 'vitest';
import { formatScriptError } from '../../src/script/ast.js';
import { runScript } from '../../src/script/exec.js';
import { safeParseScript } from '../../src/script/parse.js';
import { readScript, shippedScripts } from './scripts.js';

describe('shipped scripts on the model', () => {
  const files = shippedScripts();

  it('ships at least 30 scripts beside the kernel probes and the selftests', () => {
    expect(files.filter((f) => !f.includes('kernel-probe/') && !f.includes('selftests/')).length).toBeGreaterThanOrEqual(30);
  });

  it('ships the kernel selftests as scripts, each citing the selftest it comes from', () => {
    const selftests = files.filter((f) => f.includes('selftests/'));
    expect(selftests.length).toBeGreaterThanOrEqual(20);
    for (const f of selftests) expect(readScript(f), f).toMatch(/^# Linux selftest tools\/testing\/selftests\/mm\/[\w-]+\.c/);
  });

  for (const rel of files) {
    it(`${rel} holds every expect line on the model`, () => {
      const parsed = safeParseScript(readScript(rel), rel);
      if (!parsed.ok) expect.fail(parsed.errors.map(formatScriptError).join('\n'));
      const r = runScript(parsed.script, { checkInvariants: true });
      const errors = r.lines.flatMap((l) => (l.type === 'error' ? [`${rel}:${l.line}: ${l.message}`] : []));
      expect(r.exitCode, errors.join('\n')).toBe(0);
    });
  }
});
