/** Replaying a trace: exec image, syscalls the model must follow, what it reports and what it skips. */
import { describe, expect, it } from 'vitest';
import { parseTrace } from '../../src/trace/parse.js';
import { replay } from '../../src/workloads/replay.js';

function replayText(text: string, config: Record<string, string>) {
  const r = parseTrace(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return replay(r.records, { config, events: r.events });
}

// 0x100000000000                  +2M                     +4M
// |--- block 0 ------------------|--- block 1 -----------|
// | rw | r-- (1 page) | rw        | rw                    |   after mprotect: three VMAs over block 0
const TRACE = `ptlab-trace 1
process P pid=1
vma 0x7ffffffde000 0x7ffffffff000 rw- stack name=[stack]
present 0x7fffffffd000 0x7ffffffff000 write
brk-base 0x555555580000 0x555555580000
observed exec VmPTE=12 VmRSS=8 RssAnon=8 RssFile=0 RssShmem=0
mmap 0x100000000000 0x400000 rw- private,anon
touch 0x100000000000 0x400000 write
mprotect 0x100000100000 0x1000 r--
madvise 0x100000000000 0x200000 dontneed
madvise 0x100000200000 0x200000 dontneed
mremap 0x100000200000 0x200000 0x200000 0x200000000000 maymove
brk 0x555555600000
fault 0x555555580010 write
fault 0x7fffffdfc008 write
mmap 0x300000000000 0x1000 rw- private,anon err=ENOMEM
madvise 0x100000000000 0x1000 advice=100
observed end VmPTE=0 VmRSS=0 RssAnon=0 RssFile=0 RssShmem=0
exit
`;

describe('replay of a recorded-style trace', () => {
  const on = replayText(TRACE, { pt_reclaim: 'on' });

  it('builds the exec image: the present stack pages cost PUD + PMD + PTE tables (12 kB), as the kernel reported', () => {
    const exec = on.run.checkpoints!.find((c) => c.label === 'exec')!;
    expect(exec.VmPTE).toBe(on.observed.find((o) => o.label === 'exec')!.VmPTE);
    expect(exec.RssAnon).toBe(8);
  });

  it('reclaims the table of a block one DONTNEED covers inside one VMA, not of a block mprotect split', () => {
    expect(on.run.final.ptesReclaimed).toBe(1);
    const off = replayText(TRACE, { pt_reclaim: 'off' });
    expect(off.run.final.ptesReclaimed).toBe(0);
    expect(off.run.final.pteTables - on.run.final.pteTables).toBe(1);
  });

  it('follows brk, mremap and a stack growing down without skipping them; skips only what it must and says why', () => {
    expect(on.run.opsSkipped).toBe(1); // advice=100 (the failed mmap is not replayed at all)
    expect(on.run.notes.join('\n')).toMatch(/advice 100 is not modelled/);
    expect(on.run.notes.join('\n')).toMatch(/final figures are from just before the exit/);
  });

  it('reports the address space just before the exit, not the empty one after it', () => {
    expect(on.run.final.pteTables).toBeGreaterThan(0);
    expect(on.run.final.RssAnon).toBe(8 + 4 + 4); // stack pages, the heap page, the grown-stack page
  });
});

describe('replay of a trace recorded with a cold page cache', () => {
  it('from one fault-around window of uncached pages, names the worst files and says RssFile can come out higher', () => {
    const meta = 'meta page_cache_exit="f0=3/16 f1=0/2 f2=1/9 f3=8/10"\n';
    const { run } = replayText(`ptlab-trace 1\n${meta}file f0 65536\nprocess P\n`, {});
    expect(run.notes).toContainEqual(
      expect.stringMatching(/^recorded with 25 mapped file pages out of the page cache \(f0: 3 of 16 pages, f2: 1 of 9 pages, f1: 0 of 2 pages, \.\.\.\): .*RssFile can come out higher/),
    );
    const cacheNotes = (text: string) => replayText(text, {}).run.notes.filter((n) => n.includes('page cache'));
    expect(cacheNotes('ptlab-trace 1\nfile f0 65536\nprocess P\n')).toEqual([]);
    expect(cacheNotes('ptlab-trace 1\nmeta page_cache_exit=f0=1/16\nfile f0 65536\nprocess P\n')).toEqual([]); // 15 pages: under one window
  });
});

describe('replay of mremap', () => {
  it('moves the mapping where the kernel moved it, even where the model could have grown it in place', () => {
    const t = `ptlab-trace 1
process P
mmap 0x100000000000 0x200000 rw- private,anon
touch 0x100000000000 0x200000 write
mremap 0x100000000000 0x200000 0x400000 0x200000000000 maymove
fault 0x200000300000 write
`;
    const { run } = replayText(t, { pt_reclaim: 'on' });
    expect(run.opsSkipped).toBe(0);
    expect(run.final.RssAnon).toBe(2048 + 4);
  });
});

describe('replay of records the model cannot apply', () => {
  it('counts every one but names only the first three of each reason', () => {
    const faults = Array.from({ length: 10 }, (_, i) => `fault 0x${(0x300000000000 + i * 4096).toString(16)} write`).join('\n');
    const { run } = replayText(`ptlab-trace 1\nprocess P\n${faults}\n`, {});
    expect(run.opsSkipped).toBe(10);
    expect(run.notes.filter((n) => n.includes('SIGSEGV'))).toHaveLength(3);
  });
});

describe('replay of access ranges over holes (issue 15, D12)', () => {
  it('steps over unmapped stretches: one skipped record, counting its failed accesses', () => {
    const t = `ptlab-trace 1
process P
mmap 0x100000000000 0x200000 rw- private,anon
mmap 0x100000400000 0x200000 rw- private,anon
touch 0x100000000000 0x600000 write
present 0x200000000000 0x300000000000
`;
    const { run } = replayText(t, {});
    // Both mappings are touched whole; the hole between them and the 16 TiB present range are not.
    expect(run.final.RssAnon).toBe(2 * 2048);
    expect(run.opsSkipped).toBe(2);
    expect(run.notes.some((n) => n.includes('(line 5)') && n.includes('512 of 1536 accesses'))).toBe(true);
    expect(run.notes.some((n) => n.includes('(line 6)') && n.includes(`${2 ** 32} of ${2 ** 32} accesses`))).toBe(true);
  });

  it('a stride below a page touches every page of the range once', () => {
    const t = `ptlab-trace 1
process P
mmap 0x100000000000 0x200000 rw- private,anon
touch 0x100000000800 0x100000 write every=1
`;
    const { run } = replayText(t, {});
    // Bytes 0x800 .. 0x1007ff: pages 0 to 256.
    expect(run.final.RssAnon).toBe(257 * 4);
    expect(run.opsSkipped).toBe(0);
  });

  it('an access just below the stack grows it, as before', () => {
    const t = `ptlab-trace 1
process P
vma 0x7ffffffde000 0x7ffffffff000 rw- stack
present 0x7fffffff0000 0x7ffffffff000 write
touch 0x7fffffe00000 0x1de000 write
`;
    const { run } = replayText(t, {});
    // The touch ends where the stack starts; its first page is 1.9 MiB below it, within 8 MiB.
    expect(run.opsSkipped).toBe(0);
    expect(run.final.RssAnon).toBe((0x1de000 + 0xf000) / 1024);
  });
});
