/** Comparing swarm campaigns in tests (test/swarm): what the clock decides left out. */
import fs from 'node:fs';
import path from 'node:path';
import type { CampaignSummary } from '../../src/swarm/campaign.js';

/** A summary without what the clock decides. */
export const timeless = (s: CampaignSummary) => ({ ...s, seconds: 0, findings: s.findings.map((f) => ({ ...f, secondsToFind: 0 })) });

/**
 * A findings folder as a campaign writes it: each .scn's text, and campaign.json without what the
 * clock decides. The report `ptlab swarm` adds afterwards (src/cli/swarm_report.ts: campaign.html,
 * each finding's .explore.json and .html) is left out.
 */
export function folder(dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name === 'campaign.html' || name.endsWith('.explore.json') || name.endsWith('.html')) continue;
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    out[name] = name === 'campaign.json' ? timeless(JSON.parse(text) as CampaignSummary) : text;
  }
  return out;
}
