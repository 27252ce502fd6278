/** The shipped op scripts, for the tests that run them all. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Repository-relative paths of scripts/*.pt, scripts/kernel-probe/*.pt and scripts/selftests/*.pt
 * (the kernel's own selftests as op scripts, docs/fidelity.md), sorted.
 */
export function shippedScripts(): string[] {
  const out: string[] = [];
  for (const dir of ['scripts', 'scripts/kernel-probe', 'scripts/selftests']) {
    for (const f of fs.readdirSync(path.join(REPO, dir)).sort()) if (f.endsWith('.pt')) out.push(`${dir}/${f}`);
  }
  return out;
}

export function readScript(rel: string): string {
  return fs.readFileSync(path.join(REPO, rel), 'utf8');
}
