/**
 * Accessibility of every view, checked by axe-core (the WCAG 2 A and AA rules it can decide
 * automatically) in chromium: the landing page, the race view at its violating step, a zoomed PTE
 * table, the op-script view and the workload view with its plots. What axe cannot decide (that
 * colours have words beside them) the other browser tests assert directly.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { newPage, serverAndBrowser } from './support.js';

const env = serverAndBrowser();
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeResult {
  violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
}

async function violations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const r = await page.evaluate(() => (window as unknown as { axe: { run(d: unknown, o: unknown): Promise<AxeResult> } }).axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }));
  return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('accessibility (axe-core, WCAG 2 A/AA)', () => {
  it('the landing page', async () => {
    const { page } = await newPage(env.browser);
    await page.goto(env.server.url);
    await page.getByTestId('landing').waitFor();
    expect(await violations(page)).toEqual([]);
  });

  it('the race view at the violating step, and zoomed into a table', async () => {
    const { page } = await newPage(env.browser);
    await page.goto(`${env.server.url}?src=examples/fastpath_after_unlock.explore.json`);
    await page.getByTestId('race').waitFor();
    await page.keyboard.press('End');
    expect(await violations(page)).toEqual([]);
    await page.locator('[data-testid="off-tree"] button').first().click();
    await page.getByTestId('pte-table').waitFor();
    expect(await violations(page)).toEqual([]);
  });

  it('the op-script view and the workload view', async () => {
    const { page } = await newPage(env.browser);
    await page.goto(`${env.server.url}?src=examples/dontneed-half-blocks.run.json`);
    await page.getByTestId('run').waitFor();
    expect(await violations(page)).toEqual([]);
    await page.goto(`${env.server.url}?src=examples/cover-letter.report.json`);
    await page.locator('[data-testid="plot-vmpte"][data-rendered]').waitFor();
    expect(await violations(page)).toEqual([]);
  });
});
