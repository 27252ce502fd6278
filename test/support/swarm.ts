/** Comparing swarm campaigns in tests (test/swarm): what the clock decides left out. */
import fs from 'node:fs';
import path from 'node:path';
import type { CampaignSummary } from '../../src/swarm/campaign.js';

/** A summary without what the clock decides. */
export const timeless = (s: CampaignSummary) => ({ ...s, seconds: 0, findings: s.findings.map((f) => ({ ...f, secondsToFind: 0 })) });

/** A findings folder: each .scn's text, and campaign.json without what the clock decides. */
export function folder(dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    out[name] = name === 'campaign.json' ? timeless(JSON.parse(text) as CampaignSummary) : text;
  }
  return out;
}
