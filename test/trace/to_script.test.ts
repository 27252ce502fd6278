/**
 * Trace → op script (src/trace/to_script.ts): the script parses, runs on the model without an
 * error, and ends with the page-table and anonymous-memory figures that replaying the trace gives.
 */
import { describe, expect, it } from 'vitest';
import * as fastApi from '../../src/mm-fast/api.js';
import { formatScriptError } from '../../src/script/ast.js';
import { runScript } from '../../src/script/exec.js';
import { safeParseScript } from '../../src/script/parse.js';
import type { SnapshotLine } from '../../src/script/output.js';
import { parseTrace } from '../../src/trace/parse.js';
import type { TraceRecord } from '../../src/trace/records.js';
import { PGD_SPAN, planRebase, rebased, traceToScript, type ToScriptOptions } from '../../src/trace/to_script.js';
import { GENERATORS, resolveParams } from '../../src/workloads/generators/index.js';
import { replay } from '../../src/workloads/replay.js';

function records(text: string): TraceRecord[] {
  const r = parseTrace(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.records;
}

function generated(name: string, given: Record<string, string>): TraceRecord[] {
  const gen = GENERATORS[name];
  const params = resolveParams(gen, given);
  if (typeof params === 'string') throw new Error(params);
  return [...gen.generate(params).records];
}

/** Convert, parse (no errors), run on the model (no error line); the final status of the process. */
function convertAndRun(recs: TraceRecord[], opts: ToScriptOptions = {}) {
  const { text, dropped } = traceToScript(recs, { source: 'test.trace', ...opts });
  const parsed = safeParseScript(text, 'test.pt');
  if (!parsed.ok) throw new Error(`${parsed.errors.map(formatScriptError).join('\n')}\n---\n${text}`);
  const run = runScript(parsed.script, { overrides: { pt_reclaim: 'on' }, checkInvariants: recs.length < 200 });
  const errors = run.lines.filter((l) => l.type === 'error');
  expect(errors, text).toEqual([]);
  expect(run.exitCode).toBe(0);
  const status = [...run.processes.values()].map((mm) => fastApi.procStatus(mm));
  const snaps = run.lines.filter((l): l is SnapshotLine => l.type === 'snapshot');
  return { text, dropped, status, snaps };
}

function expectSameEnd(recs: TraceRecord[]) {
  const got = convertAndRun(recs);
  const want = replay(recs, { config: { pt_reclaim: 'on' } }).run.final;
  expect(got.status.reduce((a, s) => a + s.VmPTE, 0)).toBe(want.VmPTE);
  expect(got.status.reduce((a, s) => a + s.RssAnon, 0)).toBe(want.RssAnon);
  expect(got.status.reduce((a, s) => a + s.RssFile, 0)).toBe(want.RssFile);
  return got;
}

describe('trace to-script on generated traces', () => {
  const cases: [string, Record<string, string>][] = [
    ['cover-letter', { rounds: '50' }],
    ['heap', { arena: '16M', ops: '500' }],
    ['sparse', { size: '8G', touches: '300' }],
  ];
  for (const [name, params] of cases) {
    it(`${name} ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ')}: same VmPTE and RssAnon as replay, nothing dropped`, () => {
      const got = expectSameEnd(generated(name, params));
      expect(got.dropped).toBe(0);
      expect(got.text).toMatch(/^# op script converted from test\.trace/);
      expect(got.text).toMatch(/^map M0 anon private .* at=0x100000000000$/m);
      expect(got.snaps.map((s) => s.label)).toEqual(['end']);
    });
  }
});

const HANDWRITTEN = `ptlab-trace 1
meta generator=handwritten thp=never
file f0 10000 path=/lib/x.so
process P pid=1 comm=t
vma 0x7ffff7ff9000 0x7ffff7ffd000 r-- special name=[vvar]
vma 0x200000000000 0x200000010000 rw- stack name=[stack]
present 0x20000000e000 0x200000010000 write
vma 0x300000000000 0x300000004000 rw- heap name=[heap]
brk-base 0x300000000000 0x300000004000
observed exec VmPTE=40 RssAnon=8
mmap 0x100000000000 0x800000 rw- private,anon
touch 0x100000000000 0x800000 write
mmap 0x100000800000 0x400000 rw- private,anon
touch 0x100000600000 0x400000 write every=0x2000
mprotect 0x100000100000 0x200000 r--
fault 0x100000100010 read
munmap 0x100000000000 0x200000
madvise 0x100000700000 0x200000 dontneed
mremap 0x100000800000 0x400000 0x600000 0x100000800000
touch 0x100000c00000 0x200000 write
mremap 0x100000800000 0x600000 0x600000 0x110000000000 maymove fixed
touch 0x110000000000 0x600000 write every=0x3000
mmap 0x100000400000 0x100000 rw- private,anon,fixed
touch 0x100000400000 0x100000 write
mremap 0x100000400000 0x100000 0x80000 0x100000400000
mmap 0x120000000000 0x2001 r-x private file=f0 off=0
fault 0x120000001000 exec
brk 0x300000206000
touch 0x300000004000 0x200000 write
brk 0x300000105000
fault 0x1fffffffe008 write
fault 0x7ffff7ff9000 read
madvise 0x100000500000 0x1000 advice=99
mmap 0x130000000000 0x200000 rw- private,anon,hugetlb
mmap 0x140000000000 0x1000 rw- private,anon err=ENOMEM
munmap 0x100000300000 0x300000
`;

describe('trace to-script on a handwritten trace', () => {
  it('converts mprotect, partial munmap, mremap (grow, move, shrink), MAP_FIXED, brk and stack growth to the same end state as replay', () => {
    const got = expectSameEnd(records(HANDWRITTEN));
    const t = got.text;
    // special vma, the fault in it, advice=99, hugetlb, err=ENOMEM
    expect(got.dropped).toBe(5);
    expect(t.match(/^# dropped: /gm)).toHaveLength(5);
    expect(t).toMatch(/^# 5 trace record\(s\) dropped/m);
    expect(t).toMatch(/^config thp=never$/m);
    expect(t).toMatch(/^file f0 12K/m);
    expect(t).toContain('snapshot exec\n# observed exec VmPTE=40 RssAnon=8');
    expect(t).toMatch(/^map M0 anon private 64K at=0x200000000000\n# M0 is the stack/m);
    expect(t).toMatch(/^map M1 anon private 16K at=0x300000000000\n# M1 is the heap/m);
    // the strided touch over A (M2) and B (M3): one touch per mapping, the stride's phase kept
    expect(t).toContain('touch M2 6M 2044K write every=8K\ntouch M3 0 2044K write every=8K');
    expect(t).toContain('mprotect M2 1M 2M r--\ntouch M2 1M 4K read\nunmap M2 0 2M\n');
    expect(t).toContain('madvise M2 7M 1M dontneed\nmadvise M3 0 1M dontneed');
    expect(t).toContain('mremap M3 0 4M 6M\ntouch M3 4M 2M write\n');
    expect(t).toContain('mremap M3 0 6M 6M at=0x110000000000\ntouch M3 0 6136K write every=12K\n');
    expect(t).toContain('unmap M2 4M 1M # replaced by the next map (MAP_FIXED)\nmap M4 anon private 1M at=0x100000400000\n');
    expect(t).toContain('mremap M4 0 1M 512K\n');
    expect(t).toContain('map M5 file f0 0 12K private at=0x120000000000 prot=r-x\ntouch M5 4K 4K read\n');
    expect(t).toContain('map M6 anon private 2056K at=0x300000004000 # brk 0x300000206000: the heap grows\n');
    expect(t).toContain('unmap M6 1028K 1028K # brk 0x300000105000: the heap shrinks\n');
    expect(t).toContain('map M7 anon private 8K at=0x1fffffffe000 # the stack grows down\ntouch M7 0 4K write\n');
    // the last munmap: the rest of A, the rest of C (M4), a hole, A again
    expect(t).toContain('unmap M2 3M 1M\nunmap M4 0 512K\nunmap M2 5M 1M\nsnapshot end\n');
    expect(got.snaps.map((s) => s.label)).toEqual(['exec', 'end']);
  });

  it('drops what an mremap of part of a mapping leaves unaddressable, and still parses and runs', () => {
    const got = convertAndRun(records(`ptlab-trace 1
process P
mmap 0x100000000000 0x400000 rw- private,anon
touch 0x100000000000 0x400000 write
mremap 0x100000200000 0x200000 0x200000 0x110000000000 maymove
touch 0x110000000000 0x200000 read
fault 0x100000000000 write
munmap 0x100000000000 0x400000
munmap 0x110000000000 0x200000
mmap 0x100000000000 0x1000 rw- private,anon
mremap 0x110000000000 0x1000 0x1000 0x120000000000 dontunmap
exit
`));
    expect(got.text).toContain('mremap M0 2M 2M 2M at=0x110000000000');
    expect(got.text).toContain('touch M0 2M 2M read');
    expect(got.text).toMatch(/^# dropped: fault 0x100000000000 write \(line 7: 1 page access\(es\) no mapping/m);
    expect(got.text).toMatch(/^# dropped: munmap 0x100000000000 0x400000 \(line 8: part of it is in M0 where an mremap left it behind/m);
    expect(got.text).toMatch(/^# dropped: mmap 0x100000000000 0x1000 .*it replaces part of M0 that an mremap left behind/m);
    expect(got.text).toMatch(/^# dropped: mremap .* dontunmap .*MREMAP_DONTUNMAP has no op/m);
    expect(got.text).toMatch(/snapshot end\nexit P\n$/);
    expect(got.dropped).toBe(4);
  });

  it('splits a touch with holes and a stride that is not a multiple of 4K', () => {
    const got = convertAndRun(records(`ptlab-trace 1
process P
mmap 0x100000000000 0x4000 rw- private,anon
mmap 0x100000008000 0x4000 rw- private,anon
touch 0x100000000800 0xc000 write every=0x800
touch 0x100000000000 0x3000 read every=0x1800
`));
    expect(got.text).toContain('touch M0 0 16K write\ntouch M1 0 16K write\n# dropped: touch 0x100000000800 0xc000 write every=2048 (line 5: 5 page access(es) no mapping');
    expect(got.text).toContain('touch M0 0 4K read\ntouch M0 4K 4K read\n');
  });
});

describe('trace to-script --rebase', () => {
  const TiB = 2 ** 40;
  const chunk = (a: number) => Math.floor(a / PGD_SPAN);

  it('moves each run of used 512 GiB spans whole to 16 TiB and up, one free span apart', () => {
    const recs = records(HANDWRITTEN);
    const plan = planRebase(recs);
    // The handwritten trace uses spans 32 (16 TiB), 34 (17 TiB), 36 (18 TiB), 38 (19 TiB, the
    // hugetlb mmap), 63-64 (the stack just below 32 TiB grows across the boundary), 96 (48 TiB,
    // the heap) and 255 ([vvar]); the failed mmap at 20 TiB uses none. Packed from span 32 with
    // one free span after each run: 32, 34, 36, 38, 40-41, 43, 45.
    expect(plan.clusters.map((c) => [chunk(c.start), chunk(c.end) - 1, chunk(c.start + c.shift)])).toEqual([
      [32, 32, 32],
      [34, 34, 34],
      [36, 36, 36],
      [38, 38, 38],
      [63, 64, 40],
      [96, 96, 43],
      [255, 255, 45],
    ]);
    // Offsets inside a span are kept, so every PMD and PTE table is shared as before.
    const a = 0x1fffffffe000;
    expect(rebased(plan, a) % PGD_SPAN).toBe(a % PGD_SPAN);
    expect(rebased(plan, 0x300000004000)).toBe(43 * PGD_SPAN + 0x4000);
  });

  it('gives the same end state as the trace at its own addresses, with every mapping between 16 and 64 TiB', () => {
    const recs = records(HANDWRITTEN);
    const plain = expectSameEnd(recs);
    const moved = convertAndRun(recs, { rebase: planRebase(recs) });
    expect(moved.status).toEqual(plain.status);
    expect(moved.snaps.map((x) => x.status)).toEqual(plain.snaps.map((x) => x.status));
    const ats = [...moved.text.matchAll(/ at=(0x[0-9a-f]+)/g)].map((m) => Number(m[1]));
    expect(ats.length).toBeGreaterThan(5);
    for (const at of ats) expect(at >= 16 * TiB && at < 64 * TiB, `at=0x${at.toString(16)}`).toBe(true);
    expect(moved.text).toMatch(/^# rebased: 0x300000000000–0x308000000000 of the trace is at 0x158000000000 /m);
  });

  it('refuses a trace whose spans do not fit below 64 TiB', () => {
    // 50 single spans, every other one: 50 runs need 100 spans after 16 TiB; only 96 fit.
    const text = ['ptlab-trace 1', 'process P', ...Array.from({ length: 50 }, (_, i) => `vma 0x${(2 * i * PGD_SPAN).toString(16)} 0x${(2 * i * PGD_SPAN + 4096).toString(16)} rw- anon`)].join('\n') + '\n';
    expect(() => planRebase(records(text))).toThrow(/50 spans of 512 GiB in 50 runs/);
  });
});

describe('a trace recorded with swap (ptlab record --swap)', () => {
  const SWAPPING = `ptlab-trace 1
meta swap=8M
process P
mmap 0x100000000000 0x800000 rw- private,anon
touch 0x100000000000 0x800000 write
madvise 0x100000000000 0x800000 pageout
fault 0x100000000000 write
madvise 0x100000400000 0x400000 dontneed
observed exit VmPTE=0 VmSwap=4092
`;

  it('gives the model the same swap area: MADV_PAGEOUT swaps, and replay and the op script agree on VmSwap', () => {
    const recs = records(SWAPPING);
    const got = convertAndRun(recs);
    expect(got.text).toMatch(/^config swap=8M$/m);
    // 2,048 pages out, one back in, 1,024 zapped: 1,023 swap entries left.
    expect(got.status[0].VmSwap).toBe(4092);
    const { run, observed } = replay(recs, { config: { pt_reclaim: 'on' } });
    expect(run.checkpoints?.find((c) => c.label === 'exit')?.VmSwap).toBe(4092);
    expect(observed[0].VmSwap).toBe(4092);
    // Without the meta line the model has no swap and MADV_PAGEOUT keeps the pages.
    expect(convertAndRun(records(SWAPPING.replace('meta swap=8M\n', ''))).status[0].VmSwap).toBe(0);
  });

  it('refuses a swap size the model cannot have, naming the sizes it can', () => {
    const r = parseTrace(SWAPPING.replace('swap=8M', 'swap=9G'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(JSON.stringify(r.errors)).toMatch(/1M to 256M/);
  });
});
