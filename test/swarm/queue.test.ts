/**
 * Campaigns on many machines (src/swarm/queue.ts, docs/swarm.md): a campaign through a real Redis
 * server (started here on a free loopback port, no persistence, killed at the end) and BullMQ
 * workers gives the local campaign's findings folder; an interrupted campaign run again enqueues
 * nothing twice and runs no job twice; a worker that closes puts its job in flight back; the
 * commands end to end (the compiled build in dist/), with their exit codes for a bad URL and an
 * unreachable server. Needs `redis-server` (.ci/run installs Debian's); skips, saying so, without.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardName } from '../../src/mm/config.js';
import { runCampaign, type CampaignOptions, type CampaignSummary } from '../../src/swarm/campaign.js';
import { codeDigest, parseRedisUrl, QUEUE_NAME, queuedJobs, startQueueWorker, type QueueWorker, type RedisAddress } from '../../src/swarm/queue.js';
import { folder, timeless } from '../support/swarm.js';

const have = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
if (!have) console.warn('queue.test: `redis-server` not on PATH (Debian: apt-get install redis-server; .ci/run installs it); skipped');

const BIN = path.resolve(__dirname, '../../bin/ptlab.js');
const dirs: string[] = [];
/** A fresh folder, removed after the tests. */
const tmp = (what: string): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `ptlab-queue-${what}-`));
  dirs.push(d);
  return d;
};

/**
 * Campaign seed 11, 12 scenarios, four guards off: two findings when written (the generator's draws
 * change with every new feature group: pick a seed that finds again when they do).
 */
const GUARDS: GuardName[] = ['reclaim-range-check', 'any-skipped', 'zap-fastpath-fix', 'rcu-single-table-free'];
const OPTS: Omit<CampaignOptions, 'out'> = { seed: 11, scenarios: 12, budget: { dpor: 100, pct: 20 }, guardsOff: GUARDS };
const CLI_OPTS = ['--seed', '11', '--scenarios', '12', '--budget', '100', '--pct', '20', ...GUARDS.flatMap((g) => ['--guard', `${g}=off`])];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether a Redis server answers PING on the port. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    const end = (ok: boolean) => {
      c.destroy();
      resolve(ok);
    };
    c.setTimeout(1000, () => end(false));
    c.once('error', () => end(false));
    c.once('connect', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) end(got.startsWith('+PONG'));
    });
  });
}

/** Per job index, how many times a worker finished it, and how many times one started it. */
class Counts {
  readonly done = new Map<number, number>();
  readonly started = new Map<number, number>();
  hooks() {
    return {
      onStart: (s: { index: number }) => void this.started.set(s.index, (this.started.get(s.index) ?? 0) + 1),
      onDone: (r: { index: number }) => void this.done.set(r.index, (this.done.get(r.index) ?? 0) + 1),
    };
  }
  get total(): number {
    return [...this.done.values()].reduce((a, b) => a + b, 0);
  }
}

describe.skipIf(!have)('swarm campaigns through Redis', () => {
  let server: ChildProcess | undefined;
  let port = 0;
  let addr: RedisAddress;
  let local: CampaignSummary;
  let localDir: string;
  const workers: QueueWorker[] = [];
  const kill = () => server?.kill('SIGKILL');

  const queue = () => new Queue(QUEUE_NAME, { connection: addr.connection });
  /** Remove every job (each test starts from an empty queue). */
  const empty = async () => {
    const q = queue();
    await q.obliterate({ force: true });
    await q.close();
  };
  const worker = async (counts: Counts) => {
    const w = await startQueueWorker(addr, { concurrency: 1, ...counts.hooks() });
    workers.push(w);
    return w;
  };
  const queued = (o: Partial<CampaignOptions> & { out: string }, log: string[] = []) => runCampaign({ ...OPTS, jobs: queuedJobs(addr, { log: (s) => log.push(s) }), ...o });

  beforeAll(async () => {
    const dir = tmp('redis');
    port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    process.once('exit', kill); // even if the run ends before afterAll
    const until = Date.now() + 10_000;
    while (!(await pong(port))) {
      if (Date.now() > until || server.exitCode !== null) throw new Error(`redis-server on port ${port} did not answer within 10 s (exit ${server.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    addr = parseRedisUrl(`redis://127.0.0.1:${port}`);
    localDir = tmp('local');
    local = await runCampaign({ ...OPTS, workers: 0, out: localDir });
    expect(local.findings.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    try {
      await Promise.all(workers.map((w) => w.close()));
    } finally {
      kill();
      process.off('exit', kill);
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('on two workers gives the local campaign\'s findings folder, each job run once', async () => {
    await empty();
    const counts = new Counts();
    const ws = [await worker(counts), await worker(counts)];
    const out = tmp('q');
    const s = await queued({ out });
    await Promise.all(ws.map((w) => w.close()));
    expect(timeless(s)).toEqual(timeless(local));
    expect(folder(out)).toEqual(folder(localDir));
    expect([...counts.done.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: OPTS.scenarios }, (_, i) => [i, 1]));
  });

  it('interrupted, then run again: enqueues nothing twice, runs no job twice, same result', async () => {
    await empty();
    const counts = new Counts();
    const stopFlag = new Int32Array(new SharedArrayBuffer(4));
    // The first run: one worker, which closes (and the campaign stops waiting) after 3 jobs.
    const log1: string[] = [];
    const first = queued({ out: tmp('q1'), stopFlag }, log1);
    let closing: Promise<void> | undefined;
    const w1 = await startQueueWorker(addr, {
      concurrency: 1,
      onStart: counts.hooks().onStart,
      onDone: (r) => {
        counts.hooks().onDone(r);
        if (counts.total === 3) {
          Atomics.store(stopFlag, 0, 1);
          closing = w1.close();
        }
      },
    });
    workers.push(w1);
    const s1 = await first;
    await closing;
    expect(s1.stopped).toBe('interrupted');
    expect(log1.join('\n')).toMatch(/12 enqueued, 0 already finished/);
    const finished = counts.total;
    expect(finished).toBeGreaterThanOrEqual(3);
    expect(finished).toBeLessThan(OPTS.scenarios);
    // The same command again, with two other workers.
    await worker(counts);
    await worker(counts);
    const log2: string[] = [];
    const out = tmp('q2');
    const s2 = await queued({ out }, log2);
    expect(log2.join('\n')).toContain(`0 enqueued, ${finished} already finished, ${OPTS.scenarios - finished} waiting or running`);
    expect(s2.stopped).toBe('no');
    expect(timeless(s2)).toEqual(timeless(local));
    expect(folder(out)).toEqual(folder(localDir));
    // Every job finished exactly once over both runs.
    expect([...counts.done.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: OPTS.scenarios }, (_, i) => [i, 1]));
    await Promise.all(workers.map((w) => w.close()));
  });

  it('a worker that closes puts its job in flight back in the queue', async () => {
    await empty();
    const stopFlag = new Int32Array(new SharedArrayBuffer(4));
    // Seed 1's job 0 with a large budget runs for many seconds: it is in flight when the worker closes.
    const campaign = runCampaign({ seed: 1, scenarios: 1, budget: { dpor: 20_000, pct: 300 }, guardsOff: [], jobs: queuedJobs(addr), stopFlag });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const done: number[] = [];
    const w = await startQueueWorker(addr, { concurrency: 1, onStart: () => started(), onDone: (r) => done.push(r.index) });
    await running;
    await new Promise((r) => setTimeout(r, 300));
    await w.close();
    const q = queue();
    const jobs = await q.getJobs(['wait', 'active', 'completed', 'failed']);
    const states = await Promise.all(jobs.map(async (j) => ({ state: await j.getState(), attemptsMade: j.attemptsMade })));
    await q.close();
    Atomics.store(stopFlag, 0, 1);
    const s = await campaign;
    expect(done).toEqual([]);
    expect(states).toEqual([{ state: 'waiting', attemptsMade: 0 }]);
    expect(s).toMatchObject({ done: 0, stopped: 'interrupted' });
    await empty();
  });

  it('a worker refuses a job of another build, and one that is not a ptlab job', async () => {
    await empty();
    const q = queue();
    const spec = { campaignSeed: 1, index: 0, guardsOff: [], budget: { dpor: 10, pct: 0 } };
    await q.add('x', { campaign: 'x', code: 'another', ...spec }, { jobId: 'x-0' });
    await q.add('x', { campaign: 'x', code: codeDigest(), ...spec, guardsOff: ['no-such-guard'] }, { jobId: 'x-1' });
    const counts = new Counts();
    const w = await worker(counts);
    const reasons = async () => (await Promise.all(['x-0', 'x-1'].map((id) => q.getJob(id)))).map((j) => j?.failedReason);
    const until = Date.now() + 10_000;
    while ((await reasons()).some((r) => !r) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const [other, bad] = await reasons();
    await w.close();
    await q.close();
    expect(other).toMatch(/job x-0 was enqueued by another ptlab build \(code another, this worker's [0-9a-f]{16}\)/);
    expect(bad).toMatch(/job x-1: not a ptlab swarm job: guardsOff\.0: /);
    expect(counts.started.size).toBe(0);
    await empty();
  });

  describe('the commands (dist/)', () => {
    /** Run `ptlab ARGS` to its end (asynchronously: several at once). */
    const ptlab = (...args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr!.on('data', (d) => (err += d.toString()));
        c.once('exit', (code) => resolve({ code, err }));
      });

    it('ptlab swarm --queue with a ptlab worker writes the local findings folder; SIGTERM closes the worker', async () => {
      await empty();
      const child = spawn(process.execPath, [BIN, 'worker', '--queue', `redis://127.0.0.1:${port}`, '--concurrency', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        const out = tmp('cli');
        const r = await ptlab('swarm', '--queue', `redis://127.0.0.1:${port}`, ...CLI_OPTS, '--out', out);
        expect(r.code, r.err).toBe(1); // findings
        expect(r.err).toMatch(/12 job\(s\): 12 enqueued/);
        expect(folder(out)).toEqual(folder(localDir));
        // The CLI adds the campaign report: a trace beside each finding's .scn.
        const scns = fs.readdirSync(out).filter((f) => f.endsWith('.scn') && !/^# token -$/m.test(fs.readFileSync(path.join(out, f), 'utf8')));
        expect(scns.length).toBeGreaterThan(0);
        for (const f of scns) expect(fs.existsSync(path.join(out, f.replace(/\.scn$/, '.explore.json'))), f).toBe(true);
        expect(fs.existsSync(path.join(out, 'campaign.html'))).toBe(true);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited, err).toBe(0);
      expect(err).toMatch(/SIGTERM: closing[\s\S]*closed after 12 job\(s\)/);
    });

    it('exit 2 for a bad URL and 1 for a server that does not answer, naming the URL', async () => {
      const closed = `redis://127.0.0.1:${await freePort()}`;
      const [bad, swarm, worker, both] = await Promise.all([
        ptlab('worker', '--queue', 'http://127.0.0.1:1'),
        ptlab('swarm', '--queue', closed.replace('//', '//:secret@'), '--scenarios', '1'),
        ptlab('worker', '--queue', closed),
        ptlab('swarm', '--queue', `redis://127.0.0.1:${port}`, '--workers', '2'),
      ]);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain("--queue: 'http://127.0.0.1:1' is not a Redis URL");
      expect(swarm.code, swarm.err).toBe(1);
      expect(swarm.err).toContain(`cannot connect to the Redis server at ${closed.replace('//', '//:***@')}`); // the password hidden
      expect(worker.code, worker.err).toBe(1);
      expect(worker.err).toContain(`cannot connect to the Redis server at ${closed}`);
      expect(both.code).toBe(2);
      expect(both.err).toContain('--workers: not with --queue');
    });
  });
});
