/**
 * The browser tests' fixtures: `ptlab serve` as a child process (its printed URL is the contract),
 * and Debian's chromium driven by playwright-core with the flags this machine needs (no network
 * beyond loopback, a fresh profile per launch). Screenshots go to out/browser/ as test artifacts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/ptlab.js');
export const ARTIFACTS = path.join(ROOT, 'out/browser');
export const CHROMIUM = process.env.PTLAB_CHROMIUM ?? '/usr/bin/chromium';

export interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

/** Start `ptlab serve [file] --port 0` and wait for the URL it prints. */
export async function serve(file?: string): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', ...(file ? [file] : []), '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ptlab serve printed no URL in 20 s; stderr: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\/\S*/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`ptlab serve exited ${code}: ${err}`)));
  });
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGINT');
    });
  return { url, child, stop };
}

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), as .ci/run does, or set PTLAB_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    // playwright-core gives each launch a fresh, empty profile directory of its own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page that fails the test on any uncaught error in the page. */
export async function newPage(browser: Browser, width = 1280, height = 800): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

export function readJson<T>(rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8')) as T;
}

/**
 * One `ptlab serve` (no file) and one browser for a whole test file: started before its tests,
 * closed after them; the server must stop with exit code 0 on SIGINT.
 */
export function serverAndBrowser(): { readonly server: Server; readonly browser: Browser } {
  const env = {} as { server: Server; browser: Browser };
  beforeAll(async () => {
    env.server = await serve();
    env.browser = await launch();
  });
  afterAll(async () => {
    await env.browser?.close();
    expect(await env.server?.stop()).toBe(0);
  });
  return env;
}
