/**
 * `ptlab run --timeline`, `ptlab view` and `ptlab serve` end to end (the compiled build in dist/,
 * as `npm test` builds it first; no browser): the timeline is a valid ptlab-run document with one
 * step per op that changes the kernel; `view` embeds the document byte-for-byte recoverable and
 * unable to close its script element early; `serve` listens on loopback, serves the page and the
 * file, nothing outside its routes, and stops cleanly on Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embed } from '../../src/cli/web.js';
import { parseViewDoc, type RunDoc } from '../../src/view/schema.js';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/ptlab.js');
const SCRIPT = 'scripts/dontneed-whole-block.pt';

function ptlab(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-web-'));

const DATA_TAG = /<script type="application\/json" id="ptlab-data" data-source="([^"]*)">([\s\S]*?)<\/script>/;

/** The document `ptlab view` put inside the page. */
function embedded(html: string): { source: string; json: unknown } {
  const m = DATA_TAG.exec(html);
  if (!m) throw new Error('no ptlab-data element');
  return { source: m[1], json: JSON.parse(m[2]) };
}

describe('ptlab run --timeline', () => {
  const dir = tmp();
  const file = path.join(dir, 'timeline.json');
  let r: ReturnType<typeof ptlab>;
  beforeAll(() => {
    r = ptlab('run', SCRIPT, '--timeline', file);
  });

  it('writes a ptlab-run document with a step per op that changes the kernel', () => {
    expect(r.code).toBe(0);
    const text = fs.readFileSync(file, 'utf8');
    const v = parseViewDoc(text, file);
    if (!v.ok) throw new Error(v.error);
    expect(v.view.kind).toBe('run');
    const doc = v.view.doc as RunDoc;
    // The ops of the script, minus comments, blank lines and the ops that only look (snapshot,
    // expect) or configure: process, map, populate_write, dontneed, dontneed.
    const opLines = fs.readFileSync(path.join(ROOT, SCRIPT), 'utf8').split('\n')
      .map((l, i) => [i + 1, l.replace(/#.*/, '').trim()] as const)
      .filter(([, l]) => l !== '' && !/^(snapshot|expect|config)\b/.test(l));
    expect(opLines).toHaveLength(5);
    expect(doc.steps.map((s) => s.line)).toEqual(opLines.map(([n]) => n));
    expect(doc.steps.map((s) => s.text.split(/\s+/)[0])).toEqual(['process', 'map', 'madvise', 'madvise', 'madvise']);
    expect(doc.script).toBe(SCRIPT);
    expect(doc.exitCode).toBe(0);
    expect(r.err).toContain(`timeline of 5 ops written to ${file}`);
    // After populate_write: 4 PTE tables; after the last DONTNEED of all 8 MiB: none left linked.
    const pte = (i: number) => doc.steps[i].snapshot.processes[0].tables.filter((t) => t.level === 'pte').length;
    expect([pte(2), pte(3), pte(4)]).toEqual([4, 3, 0]);
    expect(doc.steps[4].snapshot.processes[0].status.VmPTE).toBe(8);
  });

  it('refuses --timeline with two scripts (exit 2)', () => {
    const two = ptlab('run', SCRIPT, SCRIPT, '--timeline', path.join(dir, 'two.json'));
    expect(two.code).toBe(2);
    expect(two.err).toMatch(/--timeline: give one script, not 2/);
    expect(fs.existsSync(path.join(dir, 'two.json'))).toBe(false);
  });

  describe('ptlab view', () => {
    it('writes one HTML file: the page, with the document embedded exactly', () => {
      const out = path.join(dir, 'out.html');
      const v = ptlab('view', file, '-o', out);
      expect(v.code).toBe(0);
      expect(v.out).toContain(`wrote ${out} (run view)`);
      const html = fs.readFileSync(out, 'utf8');
      const e = embedded(html);
      expect(e.source).toBe('timeline.json');
      expect(e.json).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
      // The page's own module script is there, and the data sits just before </body>.
      const page = fs.readFileSync(path.join(ROOT, 'dist/web/index.html'), 'utf8');
      expect(html).toMatch(/<script type="module"[^>]*>/);
      expect(html.length).toBeGreaterThan(page.length);
      expect(html.slice(html.indexOf('</script>', html.indexOf('id="ptlab-data"')) + '</script>'.length).trimStart()).toMatch(/^<\/body>/);
    });

    it('writes FILE.html beside FILE.json without -o', () => {
      const v = ptlab('view', file);
      expect(v.code).toBe(0);
      expect(fs.existsSync(path.join(dir, 'timeline.html'))).toBe(true);
    });

    it('keeps "</script>" inside a string from closing the element', () => {
      const doc = { type: 'ptlab-run', version: 1, script: '</script><script>alert(1)</script> <!-- x', exitCode: 0, steps: [] };
      const f = path.join(dir, 'evil.json');
      fs.writeFileSync(f, JSON.stringify(doc));
      const v = ptlab('view', f, '-o', path.join(dir, 'evil.html'));
      expect(v.code).toBe(0);
      const html = fs.readFileSync(path.join(dir, 'evil.html'), 'utf8');
      expect(html).not.toContain('alert(1)</script>');
      expect(html).not.toContain('<!-- x');
      expect(embedded(html).json).toEqual(doc);
    });

    it('exits 2 naming the file for a malformed document, a non-JSON file and a missing file', () => {
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify({ type: 'ptlab-run', version: 1, script: 's', exitCode: 0 }));
      const a = ptlab('view', bad, '-o', path.join(dir, 'bad.html'));
      expect(a.code).toBe(2);
      expect(a.err).toContain(`${bad}: ptlab-run: steps: `);
      expect(fs.existsSync(path.join(dir, 'bad.html'))).toBe(false);
      const txt = path.join(dir, 'notes.txt');
      fs.writeFileSync(txt, 'hello');
      const b = ptlab('view', txt);
      expect(b.code).toBe(2);
      expect(b.err).toContain(`${txt}: not JSON`);
      const c = ptlab('view', path.join(dir, 'missing.json'));
      expect(c.code).toBe(2);
      expect(c.err).toContain(`${path.join(dir, 'missing.json')}: cannot read the document: ENOENT`);
    });
  });
});

describe('embed()', () => {
  it('escapes every "<" of the JSON and the source attribute, and appends when there is no </body>', () => {
    const json = JSON.stringify({ s: '</script><b>' });
    const html = embed('<html><body><p>x</p></body></html>', json, 'a"b<c>&d.json');
    expect(html).toMatch(/^<html><body><p>x<\/p><script type="application\/json" id="ptlab-data" data-source="a&#34;b&#60;c&#62;&#38;d\.json">/);
    expect(html.endsWith('</script></body></html>')).toBe(true);
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    expect(JSON.parse(DATA_TAG.exec(html)![2])).toEqual({ s: '</script><b>' });
    expect(embed('<p>no body</p>', '{}', 's')).toBe('<p>no body</p><script type="application/json" id="ptlab-data" data-source="s">{}</script>');
  });
});

describe('ptlab serve', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** Start the server and resolve with its printed URL (within 10 s). */
  function serve(...args: string[]): Promise<{ child: ChildProcess; url: URL; err: () => string }> {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 10 s; stderr: ${err}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^ptlab view at (\S+)\n/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ child, url: new URL(m[1]), err: () => err });
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before printing a URL: ${err}`)));
    });
  }

  /** A raw GET: the path is sent as written (fetch would normalise '..' away). */
  function get(url: URL, rawPath: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: rawPath, method, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  const exited = (c: ChildProcess) => new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code))));

  it('serves the page and the file on 127.0.0.1, nothing else, and exits 0 on SIGINT', async () => {
    const dir = tmp();
    const file = path.join(dir, 'doc.json');
    const bytes = JSON.stringify({ type: 'ptlab-run', version: 1, script: 'x.pt', exitCode: 0, steps: [] }) + '\n';
    fs.writeFileSync(file, bytes);
    const { child, url } = await serve(file, '--port', '0');
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(url.pathname + url.search).toBe('/?src=data.json');

    const page = await get(url, '/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toBe(fs.readFileSync(path.join(ROOT, 'dist/web/index.html'), 'utf8'));
    const data = await get(url, '/data.json');
    expect([data.status, data.type, data.body]).toEqual([200, 'application/json', bytes]);
    // Read at each request: a file written again shows on reload.
    fs.writeFileSync(file, '{"again":1}');
    expect((await get(url, '/data.json')).body).toBe('{"again":1}');
    const list = await get(url, '/examples/index.json');
    expect(list.status).toBe(200);
    expect(Array.isArray(JSON.parse(list.body))).toBe(true);
    for (const p of ['/examples/../package.json', '/examples/..%2Fpackage.json', '/examples/%2e%2e/package.json', '/../package.json', '/package.json', '/examples/nope.json']) {
      expect((await get(url, p)).status, p).toBe(404);
    }
    expect((await get(url, '/', 'POST')).status).toBe(405);
    // A path that does not decode is refused, and the server keeps serving.
    expect((await get(url, '/%zz')).status).toBe(400);
    expect((await get(url, '/')).status).toBe(200);

    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });

  it('without a file serves no /data.json; warns about a malformed file but serves it', async () => {
    const bare = await serve('--port', '0');
    expect(bare.url.search).toBe('');
    expect((await get(bare.url, '/data.json')).status).toBe(404);
    bare.child.kill('SIGINT');
    expect(await exited(bare.child)).toBe(0);

    const bad = path.join(tmp(), 'bad.json');
    fs.writeFileSync(bad, '{"type":"ptlab-run"}');
    const s = await serve(bad, '--port', '0');
    expect(s.err()).toContain(`warning: ${bad}: ptlab-run: `);
    expect((await get(s.url, '/data.json')).body).toBe('{"type":"ptlab-run"}');
    s.child.kill('SIGINT');
    expect(await exited(s.child)).toBe(0);
  });

  it('exits 2 on a bad --port', () => {
    for (const port of ['70000', '-1', 'abc', '1.5']) {
      const r = ptlab('serve', '--port', port);
      expect(r.code, port).toBe(2);
      expect(r.err).toContain(`--port: '${port}' is not`);
      expect(r.err).toContain('(expected an integer from 0 to 65535)');
    }
  });
});
