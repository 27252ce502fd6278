/**
 * The `ptlab` command end to end (the compiled build in dist/, as `npm test` builds it first):
 * what it prints and the exit codes scripts rely on (0 ok, 1 failed expectation / violation,
 * 2 bad input, 3 budget or skipped).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LONG_COLLAPSE_TEXT } from '../support/scenarios.js';

const BIN = path.resolve(__dirname, '../../bin/ptlab.js');

function ptlab(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tmpScript(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-cli-'));
  const f = path.join(dir, 'script.pt');
  fs.writeFileSync(f, text);
  return f;
}

describe('ptlab run', () => {
  it('exits 0 and prints the snapshot when every expectation holds', () => {
    const r = ptlab('run', 'scripts/cover-letter.pt');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/snapshot "first-round"/);
    expect(r.out).toMatch(/VmPTE\s+8\s+8/);
  });

  it('exits 1 and names the line of a failed expectation', () => {
    const f = tmpScript('process P\nmap A anon private 2M\ntouch A 0 4K write\nsnapshot s\nexpect VmPTE delta 4\n');
    const r = ptlab('run', f);
    expect(r.code).toBe(1);
    // First touch in a fresh 512 GiB slot: PUD + PMD + PTE tables, 12 kB, not 4.
    expect(r.out).toContain(`${f}:5: expect VmPTE delta == 4: saw 12`);
  });

  it('exits 2 with file:line:col for a bad script, and runs nothing', () => {
    const f = tmpScript('process P\nmap A anon private 3K\n');
    const r = ptlab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:2:20:`);
    expect(r.out).toBe('');
  });

  it('prints JSON lines in the kernel runner\'s schema with --json', () => {
    const r = ptlab('run', '--json', '--config', 'pt_reclaim=off', 'scripts/cover-letter.pt');
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; delta?: { VmPTE: number } });
    expect(lines[0].type).toBe('runner');
    const snap = lines.find((l) => l.type === 'snapshot')!;
    // Without reclaim the round's PTE table stays: 12 kB, and the script's `expect ... 8` fails.
    expect(snap.delta!.VmPTE).toBe(12);
    expect(r.code).toBe(1);
  });

  it('rejects an unknown --config key with exit 2', () => {
    const r = ptlab('run', '--config', 'nonsense=1', 'scripts/cover-letter.pt');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown setting 'nonsense'/);
  });
});

describe('ptlab demo', () => {
  it('shows 4 kB of PTE table per round without reclaim and none with it', () => {
    const r = ptlab('demo', '--rounds', '100', '--json');
    expect(r.code).toBe(0);
    const { rows } = JSON.parse(r.out) as { rows: { reclaim: string; vmPteKb: number; reclaimedFast: number }[] };
    const off = rows.find((x) => x.reclaim === 'off')!;
    const on = rows.find((x) => x.reclaim === 'on')!;
    // 100 rounds of 2 MiB: one PTE table each; plus one PMD table and one PUD table (200 MiB < 1 GiB).
    expect(off.vmPteKb).toBe(100 * 4 + 8);
    expect(on.vmPteKb).toBe(8);
    expect(on.reclaimedFast).toBe(100);
  });

  it('--touch one (one byte per 2 MiB) leaves the same page tables and reclaims as touching every page', () => {
    type Row = { reclaim: string; vmPteKb: number; pteTables: number; reclaimedFast: number };
    const rows = (touch: string) => (JSON.parse(ptlab('demo', '--rounds', '50', '--touch', touch, '--json').out) as { touch: string; rows: Row[] });
    const one = rows('one');
    const all = rows('all');
    expect([one.touch, all.touch]).toEqual(['one', 'all']);
    for (const [a, b] of one.rows.map((r, i) => [r, all.rows[i]])) {
      expect(a.reclaim).toBe(b.reclaim);
      expect(a.vmPteKb).toBe(b.vmPteKb);
      expect(a.pteTables).toBe(b.pteTables);
      expect(a.reclaimedFast).toBe(b.reclaimedFast);
    }
  });

  it('refuses a bad --rounds or --touch with exit 2', () => {
    expect(ptlab('demo', '--rounds', 'many').code).toBe(2);
    expect(ptlab('demo', '--touch', 'half').code).toBe(2);
  });
});

describe('ptlab versions', () => {
  it('lists every release with its guards and races, as a table and as JSON', () => {
    const r = ptlab('versions');
    expect(r.code).toBe(0);
    for (const v of ['6.13 = B', '6.14-rc1 = S0', '6.17-rc1', '6.18', '7.0', '7.1.9 = 7.2']) expect(r.out).toContain(v);
    const j = JSON.parse(ptlab('versions', '--json').out) as { name: string; races: string[]; guardsOff: string[] }[];
    expect(j.find((v) => v.name === '7.0')).toMatchObject({ races: ['R8', 'R9', 'R14', 'R15', 'R16'], guardsOff: ['free-pte-flush-addr'] });
    expect(j.find((v) => v.name === '6.13')!.races).toEqual(['R14']);
  });
});

describe('ptlab explore', () => {
  it('exits 1 with a replayable token when the guard is off, and 0 when it is on', () => {
    const off = ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--guard-off');
    expect(off.code).toBe(1);
    expect(off.out).toContain('VIOLATION pt-use-after-free');
    const token = /--replay '([^']+)'/.exec(off.out)![1];
    const again = ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--guard-off', '--replay', token);
    expect(again.code).toBe(1);
    expect(again.out).toContain('VIOLATION pt-use-after-free');
    const on = ptlab('explore', 'semi_rcu_vs_pte_offset_map');
    expect(on.code).toBe(0);
    expect(on.out).toMatch(/clean/);
  });

  it('--reduction none cross-checks a verdict with every interleaving', () => {
    const count = (out: string): number => Number(/\((\d+) executions\)|\((\d+) executions; /.exec(out)?.slice(1).find(Boolean) ?? NaN);
    const dpor = ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--bound', '1');
    const naive = ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--bound', '1', '--reduction', 'none');
    expect([dpor.code, naive.code]).toEqual([0, 0]);
    expect(count(naive.out)).toBeGreaterThan(count(dpor.out));
    // Naive enumeration finds the violation the guard-off search finds.
    expect(ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--guard-off', '--bound', '1', '--reduction', 'none').code).toBe(1);
    // Wakeup trees were removed (they lost end states where footprints depend on the state).
    const bad = ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--reduction', 'optimal-dpor');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--reduction: 'optimal-dpor' is not a reduction (expected dpor, none)");
    expect(ptlab('explore', 'semi_rcu_vs_pte_offset_map', '--mode', 'pct', '--reduction', 'none').code).toBe(2);
  });

  it('--all prints every distinct violation, each with a token that replays it', () => {
    const all = ptlab('explore', 'uffd_move_vs_dontneed', '--explain', '--all');
    expect(all.code).toBe(1);
    expect(all.out).toContain('2 distinct violations (the search is complete)');
    const found = [...all.out.matchAll(/^VIOLATION anomaly: results r0 \(cpu0 uffd_move\) = (-\d+)[^]*?--replay '([^']+)'/gm)].map((m) => [m[1], m[2]]);
    expect(found.map(([r0]) => r0).sort()).toEqual(['-17', '-22']);
    for (const [r0, token] of found) {
      const one = ptlab('explore', 'uffd_move_vs_dontneed', '--explain', '--replay', token);
      expect(one.out).toContain(`VIOLATION anomaly: results r0 (cpu0 uffd_move) = ${r0},`);
    }
  });

  it('takes --config (a release, an architecture) and --remedy, and says what an architecture tolerates', () => {
    const arm = ptlab('explore', 'deferred_flush_bbm');
    expect(arm.code).toBe(1);
    expect(arm.out).toContain('VIOLATION tlb-conflict');
    const x86 = ptlab('explore', 'deferred_flush_bbm', '--config', 'arch=x86');
    expect(x86.code).toBe(0);
    expect(x86.out).toMatch(/tolerated by this architecture \(not a violation here\) in \d+ executions: tlb-conflict/);
    const token = /--replay '([^']+)'/.exec(x86.out)![1];
    const shown = ptlab('explore', 'deferred_flush_bbm', '--config', 'arch=x86', '--replay', token);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('| step |');
    expect(ptlab('explore', 'deferred_flush_bbm', '--remedy').code).toBe(0);
    expect(ptlab('explore', 'wrong_flush_addr', '--config', 'version=7.0').code).toBe(1);
    expect(ptlab('explore', 'wrong_flush_addr', '--config', 'version=7.1.9').code).toBe(0);
    const bad = ptlab('explore', 'wrong_flush_addr', '--config', 'version=5.4');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--config: bad value '5.4' for version (expected a release: one of 6.13, 6.14-rc1");
    expect(ptlab('explore', 'wrong_flush_addr', '--remedy').code).toBe(2);
  });

  it('exits 3 when the budget runs out before the search ends', () => {
    expect(ptlab('explore', 'retract_vs_dontneed', '--budget', '5').code).toBe(3);
  });

  it('exits 3 when an execution runs past the step limit, and judges it under a larger --max-steps', () => {
    const f = tmpScript(LONG_COLLAPSE_TEXT);
    const short = ptlab('explore', f);
    expect(short.code).toBe(3);
    expect(short.out).toMatch(/no violation, but .* ran past the 10000-step limit with tasks still running \(a livelock, or only a long path\): not a verdict/);
    const token = /--max-steps 10000 --replay '([^']+)'/.exec(short.out)?.[1];
    expect(token).toBeDefined();
    expect(short.out).toContain(`judge it: ptlab explore ${f} --max-steps 100000\n`);
    expect(ptlab('explore', f, '--max-steps', '10000', '--replay', token!).code).toBe(3);
    const long = ptlab('explore', f, '--max-steps', '100000');
    expect(long.code).toBe(0);
    expect(long.out).toMatch(/^clean: the search is complete/m);
    expect(ptlab('explore', f, '--max-steps', '999').code).toBe(2);
  });

  it('exits 2 for an unknown scenario or guard', () => {
    expect(ptlab('explore', 'no_such_scenario').code).toBe(2);
    expect(ptlab('explore', 'range_underflow', '--guard', 'nope=off').code).toBe(2);
  });

  it('refuses, before running anything, a token past the step limit, a bad --seconds and a scenario that cannot run (issue 15)', () => {
    const t = ptlab('explore', 'range_underflow', '--replay', '0*1000000000');
    expect(t.code).toBe(2);
    expect(t.err).toContain("--replay: the schedule has more than 10000 decisions by part '0*1000000000' at column 1 (expected at most 10000 decisions");
    for (const v of ['abc', '0', '-1']) {
      const r = ptlab('explore', 'range_underflow', '--seconds', v);
      expect(r.code, v).toBe(2);
      expect(r.err).toMatch(/--seconds: '.*' is not .* \(expected a decimal number of seconds above 0/);
    }
    const f = tmpScript('scenario s\nprocess P\nmap A anon private 2M prot=r--\ntouch A 0 4K write\ncpu 0 touch A 0 4K read\ncpu 2 touch A 0 4K read\n');
    const s = ptlab('explore', f);
    expect(s.code).toBe(2);
    expect(s.err).toContain(`${f}:4:1: the setup stops here: touch failed with SIGSEGV`);
  });

  it('lists every shipped scenario', () => {
    const r = ptlab('scenarios');
    expect(r.code).toBe(0);
    for (const f of fs.readdirSync(path.resolve(__dirname, '../../scenarios')).filter((x) => x.endsWith('.scn'))) expect(r.out).toContain(f.replace(/\.scn$/, ''));
  });
});

describe('ptlab bench --swarm --guard', () => {
  it('refuses bad input with exit 2 before any campaign runs, naming what it expected', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-swarm-bench-'));
    const out = path.join(dir, 'SWARM.md');
    const cases: [string[], RegExp][] = [
      [['bench', '--guard', 'collapse-ipi'], /--guard: only with --swarm/],
      [['bench', '--swarm', '--guard', 'nope', '--per-guard', '300', '-o', out], /--guard: expected a guard name \(.*collapse-ipi.*\), got 'nope'/],
      [['bench', '--swarm', '--guard', 'collapse-ipi', '--per-guard', '300', '-o', out], /SWARM\.json does not exist \(run bench --swarm without --guard first\)/],
    ];
    for (const [args, msg] of cases) {
      const r = ptlab(...args);
      expect([r.code, r.err], args.join(' ')).toEqual([2, expect.stringMatching(msg)]);
    }
    fs.writeFileSync(path.join(dir, 'SWARM.json'), '{"runs": [');
    const broken = ptlab('bench', '--swarm', '--guard', 'collapse-ipi', '--per-guard', '300', '-o', out);
    expect([broken.code, broken.err]).toEqual([2, expect.stringMatching(/SWARM\.json: .*\(expected the JSON of a full bench --swarm run\)/)]);
    fs.writeFileSync(path.join(dir, 'SWARM.json'), JSON.stringify({ seconds: 300, seed: 1, runs: [], control: { done: 0, executions: 0, seconds: 300, findings: [] } }));
    const limit = ptlab('bench', '--swarm', '--guard', 'collapse-ipi', '--per-guard', '60', '-o', out);
    expect([limit.code, limit.err]).toEqual([2, expect.stringMatching(/made with --per-guard 300; its rows compare only with runs of the same limit \(got 60\)/)]);
    // Nothing was written over the earlier result.
    expect(fs.existsSync(out)).toBe(false);
  });
});
