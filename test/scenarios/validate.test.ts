/**
 * Scenario files that are wrong in ways only running them shows, and grammar errors: each is bad
 * input at FILE:LINE:COL, found before the explorer starts (issue 15, D5, D6, D11).
 */
import { describe, expect, it } from 'vitest';
import { parseScenario, type Scenario } from '../../src/scenarios/format.js';
import { checkScenario } from '../../src/scenarios/validate.js';
import { expectCleanAndExplained, inlineScenario } from '../support/scenarios.js';

const HEAD = ['scenario s', 'about test', 'guard zap-fastpath-fix', 'violation none'];

function parse(...lines: string[]): ReturnType<typeof parseScenario> {
  return parseScenario([...HEAD, ...lines].join('\n') + '\n', 's.scn');
}

function scenario(...lines: string[]): Scenario {
  const r = parse(...lines);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

/** Line numbers below count the four header lines. */
const L = (n: number) => HEAD.length + n;

describe('scenario grammar errors carry a column and what was expected', () => {
  it('a CPU number past 7, at the number', () => {
    const r = parse('process P', 'map A anon private 2M', 'cpu 8 touch A 0 4K write');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([`s.scn:${L(3)}:5: bad CPU number '8' (expected cpu N OP ... with N from 0 to 7)`]);
  });

  it('accepts CPUs 0 to 7 in the grammar', () => {
    expect(parse('process P', 'map A anon private 2M', 'cpu 7 touch A 0 4K write').ok).toBe(true);
  });

  it('an unknown kernel path, a bad access and an unknown mapping, each at its word', () => {
    const r = parse('process P', 'map A anon private 2M', 'cpu 0 frob A 0 4K', 'cpu 1 touch A 0 4K sideways', 'cpu 1 touch B 0 4K read');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.split(' (expected')[0])).toEqual([
      `s.scn:${L(3)}:7: unknown kernel path 'frob'`,
      `s.scn:${L(4)}:20: bad access 'sideways'`,
      `s.scn:${L(5)}:13: process P has no mapping 'B'`,
    ]);
    for (const e of r.errors) expect(e).toMatch(/\(expected .+\)$/);
  });

  it('mprotect and mremap tasks: PROT in either spelling, the move to another mapping', () => {
    const r = parse('process P', 'map A anon private 2M', 'map B anon private 2M', 'cpu 0 mprotect A 0 2M r', 'cpu 0 mprotect A 0 4K rw-', 'cpu 0 mprotect A 4K 4K none', 'cpu 1 mremap A 4K 8K B 0');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.scenario.tasks.map((t) => t.spec)).toEqual([
      { kind: 'mprotect', map: 'A', offset: 0, len: 2 << 20, prot: 1 },
      { kind: 'mprotect', map: 'A', offset: 0, len: 4096, prot: 3 },
      { kind: 'mprotect', map: 'A', offset: 4096, len: 4096, prot: 0 },
      { kind: 'mremap', map: 'A', offset: 4096, len: 8192, dst: 'B', dstOffset: 0 },
    ]);
  });

  it('mprotect and mremap tasks: a bad PROT, a missing or unknown DST, each at its word with what was expected', () => {
    const r = parse('process P', 'map A anon private 2M', 'cpu 0 mprotect A 0 4K rwz', 'cpu 0 mprotect A 0 4K', 'cpu 1 mremap A 0 4K', 'cpu 1 mremap A 0 4K C 0', 'cpu 1 mremap A 0 4K A 8K 1');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      `s.scn:${L(3)}:23: bad protection 'rwz' (expected a protection like r, rw, rwx, none, or r--, rw-, ---)`,
      `s.scn:${L(4)}:22: missing protection (expected a protection like r, rw, rwx, none, or r--, rw-, ---)`,
      `s.scn:${L(5)}:20: missing DST (expected mremap M OFFSET LEN DST DST_OFF)`,
      `s.scn:${L(6)}:21: process P has no mapping 'C' (expected one of: A)`,
      `s.scn:${L(7)}:26: unexpected word '1' (expected mremap M OFFSET LEN DST DST_OFF)`,
    ]);
  });

  it('header lines: a bad bound and a repeated scenario line', () => {
    const r = parseScenario('scenario s\nscenario t\nbound 12\nprocess P\nmap A anon private 2M\ncpu 0 touch A 0 4K read\n', 's.scn');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.split(': ')[0])).toEqual(['s.scn:2:1', 's.scn:3:7']);
  });
});

describe('checkScenario: what running the setup shows', () => {
  it('a setup op that fails is bad input at its line and column', () => {
    const scn = scenario('process P', 'map A anon private 2M prot=r--', '  touch A 0 4K write', 'cpu 0 touch A 0 4K read');
    expect(checkScenario(scn)).toEqual([`s.scn:${L(3)}:3: the setup stops here: touch failed with SIGSEGV (expected a setup whose every op succeeds, or fails as its err= says)`]);
  });

  it('an err= that does not happen is bad input at its line', () => {
    const scn = scenario('process P', 'map A anon private 2M', 'touch A 0 4K write err=SIGSEGV', 'cpu 0 touch A 0 4K read');
    expect(checkScenario(scn)[0]).toContain(`s.scn:${L(3)}:1: the setup stops here: touch was expected to fail with SIGSEGV but succeeded`);
  });

  it('a CPU the explorer does not run is refused at the CPU number', () => {
    const scn = scenario('process P', 'map A anon private 2M', 'cpu 0 touch A 0 4K read', 'cpu 2 touch A 0 4K read');
    expect(checkScenario(scn)).toEqual([`s.scn:${L(4)}:5: CPU 2: the explorer runs 2 CPUs (expected a CPU number from 0 to 1)`]);
  });

  it('a kernel path outside its mapping, or a one-table path across a block boundary', () => {
    const scn = scenario('process P', 'map A anon private 2M', 'map B anon private 4M', 'cpu 0 madvise A 0 4M dontneed', 'cpu 1 pte_offset_map B 1M 2M', 'cpu 1 uffd_move B 0 A 2M');
    const es = checkScenario(scn);
    expect(es.map((e) => e.split(': ')[0])).toEqual([`s.scn:${L(4)}:19`, `s.scn:${L(5)}:27`, `s.scn:${L(6)}:23`]);
    expect(es[0]).toContain('range [0, 4M) is outside mapping A (size 2M)');
  });

  it('an mremap task whose destination range lies outside DST: at LEN, or at DST_OFF when that alone is past DST', () => {
    const scn = scenario('process P', 'map A anon private 2M', 'map B anon private 2M', 'cpu 0 mremap A 0 8K B 2044K', 'cpu 1 mremap A 0 4K B 2M');
    expect(checkScenario(scn)).toEqual([
      `s.scn:${L(4)}:18: range [2044K, 2052K) is outside mapping B (size 2M) (expected DST_OFF + LEN <= 2M)`,
      `s.scn:${L(5)}:23: range [2M, 2052K) is outside mapping B (size 2M) (expected DST_OFF + LEN <= 2M)`,
    ]);
  });

  it('a setup that runs into the bug of a guard switched off is bad input at its line (with the guard on it runs)', () => {
    const scn = scenario('process P', 'map A anon private 4M', 'touch A 64K 2M write', 'madvise A 4K 4K dontneed', 'cpu 0 touch A 4K 1M write');
    expect(checkScenario(scn)).toEqual([]);
    const es = checkScenario(scn, ['reclaim-range-check']);
    expect(es).toHaveLength(1);
    expect(es[0]).toMatch(new RegExp(`^s\\.scn:${L(4)}:1: the setup breaks the model with reclaim-range-check off: Violation: nonempty-detach: .* \\(expected a setup that runs cleanly with the guards switched off\\)$`));
  });

  it('the shipped-style scenario passes', () => {
    const scn = scenario('config need_resched=2', 'process P', 'map A anon private 2M', 'touch A 0 4K write', 'cpu 0 madvise A 0 2M dontneed', 'cpu 1 touch A 0 4K write');
    expect(checkScenario(scn)).toEqual([]);
  });
});

describe('a setup that forks', () => {
  it('binds the cpu lines after the fork to the child, which has its parent mappings, and runs them on its mm', () => {
    const scn = inlineScenario([
      'scenario forked',
      'about the child zaps its copy of a table while the parent writes to a page they share',
      'process P',
      'map A anon private 2M',
      'touch A 0 20K write',
      'cpu 1 touch A 0 4K write',
      'fork P Q',
      'cpu 0 madvise A 0 2M dontneed',
    ]);
    expect(scn.tasks.map((t) => [t.cpu, t.process])).toEqual([[1, 'P'], [0, 'Q']]);
    expectCleanAndExplained(scn);
  });

  it('refuses a cpu line of the parent on a mapping only the child made', () => {
    const r = parseScenario(['scenario forked', 'about x', 'process P', 'fork P Q', 'map B anon private 2M', 'switch P', 'cpu 0 touch B 0 4K write'].join('\n'), 'forked.scn');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(/forked\.scn:7:.*B/);
  });
});
