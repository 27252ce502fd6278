/// <reference lib="dom" />
/**
 * Loading documents in chromium: a malformed file shows a clear message in the page, never a blank
 * screen (served by `ptlab serve`, and picked with the Open button); `ptlab view` writes a page
 * that opens from disk with no server.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { BIN, launch, newPage, ROOT, screenshot, serve } from './support.js';

let browser: Browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-browser-'));

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('loading documents', () => {
  it('shows why a served file is not JSON, with the landing page still there', async () => {
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{"type": "ptlab-explore", "trace": [');
    const server = await serve(bad);
    try {
      const { page, errors } = await newPage(browser);
      await page.goto(server.url);
      const err = page.getByTestId('error');
      await err.waitFor();
      expect(await err.textContent()).toMatch(/^data\.json: not JSON: /);
      expect(await page.getByTestId('landing').count()).toBe(1);
      await screenshot(page, 'error-not-json');
      expect(errors).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('names the path of the first schema problem of a picked file', async () => {
    const server = await serve();
    try {
      const { page } = await newPage(browser);
      await page.goto(server.url);
      const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/retract_vs_dontneed.explore.json'), 'utf8'));
      doc.trace[2].snapshot.cpus[0].locks = 'pml(T3)';
      await page.locator('#file-input').setInputFiles({ name: 'edited.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
      const err = page.getByTestId('error');
      await err.waitFor();
      expect(await err.textContent()).toContain('edited.json: ptlab-explore: trace[2].snapshot.cpus[0].locks: ');
      // A good file opened afterwards replaces the message with its view.
      await page.locator('#file-input').setInputFiles(path.join(ROOT, 'examples/dontneed-half-blocks.run.json'));
      await page.getByTestId('run').waitFor();
      expect(await err.isHidden()).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('opens a file dropped on the page', async () => {
    const server = await serve();
    try {
      const { page, errors } = await newPage(browser);
      await page.goto(server.url);
      const text = fs.readFileSync(path.join(ROOT, 'examples/heap.report.json'), 'utf8');
      const overlayShown = await page.evaluate((json) => {
        const dt = new DataTransfer();
        dt.items.add(new File([json], 'dropped.json', { type: 'application/json' }));
        document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
        const shown = !document.getElementById('drop-overlay')!.hidden;
        document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        return shown;
      }, text);
      expect(overlayShown).toBe(true);
      await page.getByTestId('workload').waitFor();
      expect(await page.locator('#drop-overlay').isHidden()).toBe(true);
      expect(await page.getByTestId('doc-title').textContent()).toContain('dropped.json');
      expect(errors).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('says which document types it reads when given some other JSON', async () => {
    const server = await serve(path.join(ROOT, 'package.json'));
    try {
      const { page } = await newPage(browser);
      await page.goto(server.url);
      await page.getByTestId('error').waitFor();
      expect(await page.getByTestId('error').textContent()).toContain('not a ptlab document: expected "type" to be one of ptlab-explore, ptlab-run, ptlab-replay-report');
    } finally {
      await server.stop();
    }
  });

  it('ptlab view writes a page that opens offline from a file', async () => {
    const out = path.join(tmp, 'race.html');
    const r = spawnSync(process.execPath, [BIN, 'view', path.join(ROOT, 'examples/wrong_flush_addr.explore.json'), '-o', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { page, errors } = await newPage(browser);
    // No server, and any request leaving the page fails the test.
    const requests: string[] = [];
    page.on('request', (req) => void (req.url().startsWith('file:') || req.url().startsWith('data:') || requests.push(req.url())));
    await page.goto(pathToFileURL(out).href);
    await expect.poll(() => page.getByTestId('race-row').count()).toBeGreaterThan(0);
    await page.keyboard.press('End');
    expect(await page.locator('.race-row.current.violating').count()).toBe(1);
    expect(await page.getByTestId('doc-title').textContent()).toContain('wrong_flush_addr.explore.json');
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
  });
});
