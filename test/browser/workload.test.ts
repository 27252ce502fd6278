/**
 * The workload view and the op-script view in chromium: a shipped replay report drawn with its
 * plots (one line per run, labelled as the report's runs) and its runs side by side; an op script
 * run in the page, stepped with the keyboard.
 */
import { describe, expect, it } from 'vitest';
import type { ReplayReport } from '../../src/workloads/report_schema.js';
import { newPage, readJson, screenshot, serverAndBrowser } from './support.js';

const env = serverAndBrowser();

describe('workload view', () => {
  it('plots every run of a replay report and sets them side by side', async () => {
    const file = 'examples/heap.report.json';
    const report = readJson<ReplayReport>(file);
    const labels = report.runs.map((r) => r.label);
    expect(labels.length).toBeGreaterThan(1);
    const { page, errors } = await newPage(env.browser);
    await page.goto(`${env.server.url}?src=${file}`);
    for (const name of ['vmpte', 'rss', 'entries', 'empty-tables']) await page.locator(`[data-testid="plot-${name}"][data-rendered]`).waitFor();

    // VmPTE over time: one line per run, the legend naming each run.
    const vmpte = page.getByTestId('plot-vmpte');
    expect(await vmpte.locator('.mark-line path').count()).toBe(labels.length);
    expect(await vmpte.locator('.role-legend-label text').allTextContents()).toEqual(labels);
    // Each line's first point is the run's first sample, as vega's own aria label says.
    for (const [i, run] of report.runs.entries()) {
      const aria = await vmpte.locator('.mark-line path').nth(i).getAttribute('aria-label');
      expect(aria).toContain(`run: ${run.label}`);
      expect(aria).toContain(`VmPTE (kB): ${run.samples[0].VmPTE}`);
    }
    // The same series as text: the final VmPTE of each run.
    await page.locator('details.series-text summary').click();
    for (const run of report.runs) {
      expect(await page.locator(`[data-testid="vmpte-series"] tr[data-run="${run.label}"] td[data-final]`).getAttribute('data-final')).toBe(String(run.final.VmPTE));
    }

    // Side by side: one column per run, in order, with each run's final PTE-table count.
    const side = page.getByTestId('side-by-side');
    expect(await side.locator('thead th').allTextContents()).toEqual(['', ...labels]);
    const tablesRow = await side.locator('tbody tr', { hasText: 'PTE tables' }).first().locator('td').allTextContents();
    expect(tablesRow.map((c) => Number(c.replace(/,/g, '')))).toEqual(report.runs.map((r) => r.final.pteTables));
    await screenshot(page, 'workload-heap-1280');
    expect(errors).toEqual([]);
  });

  it('runs an op script in the page; ←/→ move through its ops', async () => {
    const { page, errors } = await newPage(env.browser);
    await page.goto(env.server.url);
    await page.getByTestId('run-script').click();
    const ops = page.getByTestId('run-op');
    await expect.poll(() => ops.count(), { timeout: 30_000 }).toBeGreaterThan(2);
    const n = await ops.count();
    // The default script ends with unmap: the last op leaves no PTE table; the touch before the
    // DONTNEED left one per 2 MiB block (8 of them).
    expect(await page.getByTestId('run-position').textContent()).toContain(`After op ${n} of ${n}`);
    await page.keyboard.press('Home');
    const touch = (await ops.allTextContents()).findIndex((t) => t.includes('touch'));
    for (let i = 0; i < touch; i++) await page.keyboard.press('ArrowRight');
    expect(await page.getByTestId('run-position').textContent()).toContain('touch A 0 16M write every=2M');
    expect(await page.locator('.grid rect.has-table').count()).toBe(8);
    expect(await page.locator('.grid rect.has-table[data-live="1"]').count()).toBe(8);
    await page.keyboard.press('ArrowRight');
    expect(await page.getByTestId('run-position').textContent()).toContain('dontneed');
    expect(await page.locator('.grid rect.has-table').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('draws the process picked when a script has several', async () => {
    const { page, errors } = await newPage(env.browser);
    await page.goto(env.server.url);
    // P: 4 MiB in one 512 GiB slot = a PUD, a PMD and 2 PTE tables (16 kB); Q: 4 KiB = 12 kB.
    await page.getByTestId('script-text').fill(['process P', 'map A anon private 4M', 'touch A 0 4M write', 'process Q', 'map B anon private 2M', 'touch B 0 4K write'].join('\n'));
    await page.getByTestId('run-script').click();
    await page.getByTestId('process-select').waitFor();
    expect(await page.getByTestId('vmpte').textContent()).toBe('16 kB');
    expect(await page.locator('.grid rect.has-table').count()).toBe(2);
    await page.getByTestId('process-select').selectOption('Q');
    expect(await page.getByTestId('vmpte').textContent()).toBe('12 kB');
    expect(await page.locator('.grid rect.has-table[data-live="1"]').count()).toBe(1);
    expect(errors).toEqual([]);
  });
});
