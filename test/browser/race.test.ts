/// <reference lib="dom" />
/**
 * The race view in chromium: a shipped violation trace (examples/, made by `ptlab explore
 * --json`) served by `ptlab serve`, stepped with the keyboard to the violating step. What the page
 * shows is checked against the document itself: the highlighted row, the sanitizer message, the
 * locks per CPU and the state of every off-tree table at that step.
 */
import { describe, expect, it } from 'vitest';
import type { ExploreDoc } from '../../src/view/schema.js';
import { newPage, readJson, screenshot, serverAndBrowser } from './support.js';

const env = serverAndBrowser();

describe('race view', () => {
  it('steps with ←/→ to the violating step and shows that instant', async () => {
    const file = 'examples/retract_vs_dontneed.explore.json';
    const doc = readJson<ExploreDoc>(file);
    const trace = doc.trace!;
    const v = trace.findIndex((s) => s.violating);
    expect(v).toBeGreaterThan(0);
    const { page, errors } = await newPage(env.browser);
    await page.goto(`${env.server.url}?src=${file}`);
    const rows = page.getByTestId('race-row');
    await expect.poll(() => rows.count()).toBe(trace.length);
    await expect.poll(() => page.getByTestId('race-position').textContent()).toMatch(/^Before step 1/);

    // Three steps forward, one back: the current row follows, one at a time.
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('.race-row.current').getAttribute('data-step')).toBe('2');
    expect(await page.locator('.race-row.current').count()).toBe(1);

    // End jumps to the violating step.
    await page.keyboard.press('End');
    const current = page.locator('.race-row.current');
    expect(await current.getAttribute('data-step')).toBe(String(v + 1));
    expect(await current.getAttribute('class')).toContain('violating');
    expect(await current.getAttribute('aria-current')).toBe('step');
    expect(await current.textContent()).toContain(trace[v].label);
    expect(await page.getByTestId('violation-message').textContent()).toContain(doc.violation!.message);
    expect(await page.getByTestId('race-position').textContent()).toContain('the violating step');

    // The CPU panel: each CPU's locks as the snapshot of that step has them.
    const snap = trace[v].snapshot!;
    const cpuPanel = await page.getByTestId('cpu-panel').textContent();
    for (const c of snap.cpus) for (const l of c.locks) expect(cpuPanel).toContain(l);
    expect(await page.getByTestId('rcu-state').textContent()).toContain(snap.rcu.pending.length ? `${snap.rcu.pending.length} callback` : 'no callback');
    // The row's own annotation says the same: what each CPU holds after the step.
    const held = await current.locator('td.held').textContent();
    for (const c of snap.cpus) if (c.locks.length) expect(held).toContain(`CPU${c.cpu}: ${c.locks.join(' ')}`);
    if (snap.rcu.pending.length) expect(held).toContain(`${snap.rcu.pending.length} RCU cb`);

    // The tables off the tree, each with its life-cycle state (what the race is about: the PTE
    // table the collapse is retracting has already been reclaimed).
    const proc = snap.processes[0];
    expect(proc.offTree.length).toBeGreaterThan(0);
    for (const t of proc.offTree) {
      const li = page.locator(`[data-testid="off-tree"] li[data-tid="${t.tid}"]`);
      expect(await li.getAttribute('data-state')).toBe(t.state);
      expect(await li.textContent()).toContain(`T${t.tid} ${t.level}`);
    }
    expect(await page.getByTestId('vmpte').textContent()).toMatch(new RegExp(`^${proc.status.VmPTE} kB`));

    // Zoom into the reclaimed PTE table: its state and its (empty) entries, in words.
    const pte = proc.offTree.find((t) => t.level === 'pte')!;
    await page.locator(`[data-testid="off-tree"] button[data-tid="${pte.tid}"]`).click();
    expect(await page.getByTestId('pte-table-state').textContent()).toBe(pte.state);
    if (pte.entries) expect(await page.getByTestId('pte-runs').textContent()).toContain('entries 0–511: none');
    await screenshot(page, 'race-violation-1280');

    // One step back: the row before the violation, which is not a violating one.
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('.race-row.current').getAttribute('data-step')).toBe(String(v));
    expect(await page.locator('.race-row.current.violating').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('works at phone width: the page does not overflow sideways', async () => {
    const { page, errors } = await newPage(env.browser, 390, 844);
    await page.goto(`${env.server.url}?src=examples/wrong_flush_addr.explore.json`);
    await expect.poll(() => page.getByTestId('race-row').count()).toBeGreaterThan(0);
    await page.getByTestId('go-violation').click();
    expect(await page.locator('.race-row.current.violating').count()).toBe(1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'race-violation-390');
    expect(errors).toEqual([]);
  });

  it('runs a scenario in the page and finds the same violation as the CLI', async () => {
    const doc = readJson<ExploreDoc>('examples/retract_vs_dontneed.explore.json');
    const { page, errors } = await newPage(env.browser);
    await page.goto(env.server.url);
    await page.getByTestId('scenario-select').selectOption('retract_vs_dontneed');
    await page.getByTestId('run-scenario').click();
    await expect.poll(() => page.getByTestId('race-row').count(), { timeout: 60_000 }).toBe(doc.trace!.length);
    expect(await page.locator('.violation-summary').textContent()).toContain(doc.violation!.kind);
    expect(await page.locator('.race-row.violating').textContent()).toContain(doc.trace!.find((s) => s.violating)!.label);
    expect(errors).toEqual([]);
  });

  it('runs the scenario named in the URL', async () => {
    const doc = readJson<ExploreDoc>('examples/wrong_flush_addr.explore.json');
    const { page, errors } = await newPage(env.browser);
    await page.goto(`${env.server.url}?scenario=wrong_flush_addr&guard=off`);
    await expect.poll(() => page.getByTestId('race-row').count(), { timeout: 60_000 }).toBe(doc.trace!.length);
    expect(await page.getByTestId('violation-message').textContent()).toContain(doc.violation!.message);
    expect(errors).toEqual([]);
  });
});
