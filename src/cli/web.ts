/**
 * `ptlab serve [FILE]` and `ptlab view FILE`: the web view (web/, built into dist/web/index.html
 * as one self-contained page) served on loopback, or written out with the data inside so that it
 * opens offline.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parseViewDoc } from '../view/schema.js';
import { EXIT, MAX_DOCUMENT_BYTES, UsageError, readWhole } from './util.js';
import { writeFileAtomic } from '../util/atomic.js';
import { intArg } from './options.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PAGE = path.join(ROOT, 'dist/web/index.html');
export const EXAMPLES = path.join(ROOT, 'examples');

function readPage(): string {
  try {
    return fs.readFileSync(PAGE, 'utf8');
  } catch {
    throw new UsageError(`the web page is not built (${PAGE} is missing): run npm run build`);
  }
}

function readData(file: string): string {
  return readWhole(file, MAX_DOCUMENT_BYTES, 'the document');
}

/** The page with the document inside, in a script element the page reads at start. */
export function embed(page: string, json: string, source: string): string {
  // JSON never contains a raw '<' after this, so no '</script>' can end the element early.
  const safe = json.replace(/</g, '\\u003c');
  const attr = source.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  const tag = `<script type="application/json" id="ptlab-data" data-source="${attr}">${safe}</script>`;
  const at = page.lastIndexOf('</body>');
  return at < 0 ? page + tag : page.slice(0, at) + tag + page.slice(at);
}

/** The shipped examples: examples/index.json lists them (file, about). */
function exampleNames(): Set<string> {
  try {
    const list = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'index.json'), 'utf8')) as { file: string }[];
    return new Set(list.map((x) => x.file));
  } catch {
    return new Set();
  }
}

function send(res: http.ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

export function createServer(file: string | undefined): http.Server {
  const page = readPage();
  const examples = exampleNames();
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let p: string;
    try {
      p = decodeURIComponent(url.pathname);
    } catch {
      return send(res, 400, 'text/plain', 'bad percent-encoding in the path\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n');
    if (p === '/' || p === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page);
    if (p === '/data.json' && file) {
      // Read at each request, so a file written again shows on reload.
      try {
        return send(res, 200, 'application/json', fs.readFileSync(file));
      } catch (e) {
        return send(res, 500, 'text/plain', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code}\n`);
      }
    }
    if (p === '/examples/index.json') return send(res, 200, 'application/json', fs.existsSync(path.join(EXAMPLES, 'index.json')) ? fs.readFileSync(path.join(EXAMPLES, 'index.json')) : '[]');
    const m = /^\/examples\/([^/]+)$/.exec(p);
    if (m && examples.has(m[1])) return send(res, 200, 'application/json', fs.readFileSync(path.join(EXAMPLES, m[1])));
    send(res, 404, 'text/plain', `not found: ${p}\n`);
  });
}

export function registerWeb(program: Command): void {
  program
    .command('serve')
    .description('serve the web view on this machine (127.0.0.1) and print its URL')
    .argument('[file]', 'a JSON document to open: ptlab explore --json, ptlab run --timeline, or a replay report')
    .option('--port <n>', 'TCP port, 0 to 65535; 0 picks a free one', intArg('--port', 0, 65535), 7447)
    .option('--host <addr>', 'address to listen on; other than loopback exposes your files to the network', '127.0.0.1')
    .addHelpText(
      'after',
      `
The page also opens files you drop on it, lists the shipped examples (examples/), and can run a
race scenario or an op script in the browser. Stop with Ctrl-C.

Examples:
  ptlab explore retract_vs_dontneed --guard-off --json > race.json; ptlab serve race.json
  ptlab serve examples/retract_vs_dontneed.explore.json`,
    )
    .action(async (file: string | undefined, o: { port: number; host: string }) => {
      const port = o.port;
      if (file) {
        const r = parseViewDoc(readData(file), file);
        if (!r.ok) process.stderr.write(`warning: ${r.error}\n(serving it anyway: the page shows the same message)\n`);
      }
      const server = createServer(file);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(e.code === 'EADDRINUSE' ? new UsageError(`port ${port} on ${o.host} is in use: pass --port 0 for any free port`) : new UsageError(`cannot listen on ${o.host}:${port}: ${e.code ?? e.message}`)),
        );
        server.listen(port, o.host, resolve);
      });
      const addr = server.address() as { port: number };
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      process.stdout.write(`ptlab view at http://${host}:${addr.port}/${file ? '?src=data.json' : ''}\n`);
      process.stderr.write('Ctrl-C stops the server.\n');
      const stop = () => server.close(() => process.exit(EXIT.OK));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('view')
    .description('write the web view with a document inside, as one HTML file that opens offline')
    .argument('<file>', 'a JSON document: ptlab explore --json, ptlab run --timeline, or a replay report')
    .option('-o, --out <file.html>', 'where to write (default: FILE with .html instead of .json)')
    .action((file: string, o: { out?: string }) => {
      const json = readData(file);
      const r = parseViewDoc(json, file);
      if (!r.ok) throw new UsageError(r.error);
      const out = o.out ?? file.replace(/(\.json)?$/i, '.html');
      writeFileAtomic(out, embed(readPage(), json, path.basename(file)));
      process.stdout.write(`wrote ${out} (${r.view.kind} view); open it in a browser, no server needed\n`);
    });
}
