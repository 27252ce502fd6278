/** The trace format (docs/trace-format.md): what parses, what is refused and where, and that the writer round-trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTraceError, parseTrace } from '../../src/trace/parse.js';
import { MADV_ADVICES, type TraceRecord } from '../../src/trace/records.js';
import { formatRecord, formatTrace } from '../../src/trace/write.js';

const errorsOf = (text: string) => {
  const r = parseTrace(text);
  if (r.ok) throw new Error('parsed');
  return r.errors.map((e) => formatTraceError('t.trace', e));
};

describe('trace parser', () => {
  it('reads the example of docs/trace-format.md', () => {
    const r = parseTrace(`ptlab-trace 1
meta command="node -e \\"x\\"" kernel=6.18.0 thp=madvise
file f0 8192 path=/usr/bin/node
process P pid=4242 comm=node
vma 0x555555554000 0x555555556000 r-- file-private file=f0 off=0
brk-base 0x555555580000 0x555555580000
vma 0x7ffffffde000 0x7ffffffff000 rw- stack name=[stack]
present 0x7fffffffd000 0x7ffffffff000 write
observed exec VmPTE=24 VmRSS=1024 RssAnon=8 RssFile=1016 RssShmem=0
mmap 0x7fffb7a00000 0x40000000 rw- private,anon t=120 tid=4242
fault 0x7fffb7a00010 write t=140 tid=4242
madvise 0x7fffb7a00000 0x200000 dontneed t=9000 tid=4243
mmap 0x7ffff0000000 0x1000 r-- private,anon err=ENOMEM
observed exit VmPTE=40 VmRSS=2048 RssAnon=1032 RssFile=1016 RssShmem=0
exit
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.events).toBe(5);
    expect(r.records[0]).toMatchObject({ kind: 'meta', values: { command: 'node -e "x"' } });
    expect(r.records.find((x) => x.kind === 'fault')).toMatchObject({ addr: 0x7fffb7a00010, access: 'write', t: 140, tid: 4242, line: 11 });
    expect(r.records.find((x) => x.kind === 'mmap' && x.err)).toMatchObject({ err: 'ENOMEM' });
  });

  it('points at the offending word with what it expected', () => {
    expect(errorsOf('ptlab-trace 1\nprocess P\nmmap 0x1000 0x1000 rw- private,anon\nfault 0x2000 poke\n')).toEqual([
      't.trace:4:14: bad access \'poke\' (expected read, write or exec)',
    ]);
    expect(errorsOf('ptlab-trace 1\nprocess P\nmmap 0x1001 4096 rw- private,anon\n')[0]).toBe('t.trace:3:6: ADDR 0x1001 is not 4K aligned (expected a multiple of 4096)');
    expect(errorsOf('ptlab-trace 1\nprocess P\nmadvise 0 4096 sleep\n')[0]).toMatch(/^t\.trace:3:16: unknown advice 'sleep' \(expected dontneed, .* or advice=N\)$/);
    expect(errorsOf('ptlab-trace 1\nprocess P\nvma 0x1000 0x2000 rw- file-private off=0\n')[0]).toBe('t.trace:3:23: a file mapping needs file=F (expected file-private file=F off=OFF)');
  });

  it('refuses records out of order: an event before any process, a file used before it is declared', () => {
    expect(errorsOf('ptlab-trace 1\nfault 0x1000 read\n')[0]).toBe("t.trace:2:1: 'fault' before the first process (expected process P first)");
    expect(errorsOf('ptlab-trace 1\nprocess P\nmmap 0x1000 0x1000 r-- private file=lib off=0\n')[0]).toMatch(/unknown file 'lib'/);
  });

  it('refuses a file that is not a trace, naming the first line', () => {
    expect(errorsOf('process P\n')[0]).toBe('t.trace:1:1: not a ptlab trace (or an unsupported version) (expected ptlab-trace 1 as the first line)');
    expect(errorsOf('ptlab-trace 2\n')[0]).toMatch(/unsupported version/);
  });
});

/** Arbitrary event records, as generators and the recorder produce them. */
// Below 64 TiB, and lengths below 4 GiB: every range ends in the user address space, as recorded ones do.
const page = fc.integer({ min: 1, max: 2 ** 34 - 1 }).map((p) => p * 4096);
const len = fc.integer({ min: 1, max: 2 ** 20 }).map((p) => p * 4096);
const stamp = fc.record({ t: fc.option(fc.nat(), { nil: undefined }), tid: fc.option(fc.nat(), { nil: undefined }) }, { requiredKeys: [] });
const event: fc.Arbitrary<TraceRecord> = fc.oneof(
  fc.record({ kind: fc.constant('mmap' as const), addr: page, len, prot: fc.integer({ min: 0, max: 7 }), flags: fc.constantFrom(['private', 'anon'], ['shared', 'anon', 'noreserve'], ['private', 'anon', 'fixed']) as fc.Arbitrary<('private' | 'shared' | 'anon' | 'noreserve' | 'fixed')[]>, off: fc.constant(0) }),
  fc.record({ kind: fc.constant('munmap' as const), addr: page, len }),
  fc.record({ kind: fc.constant('madvise' as const), addr: page, len, advice: fc.constantFrom(...MADV_ADVICES) }),
  fc.record({ kind: fc.constant('mprotect' as const), addr: page, len, prot: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('mremap' as const), old: page, oldLen: len, newLen: len, addr: page, flags: fc.constantFrom([], ['maymove'], ['maymove', 'fixed']) as fc.Arbitrary<('maymove' | 'fixed')[]> }),
  fc.record({ kind: fc.constant('brk' as const), brk: page }),
  fc.record({ kind: fc.constant('fault' as const), addr: fc.nat({ max: 2 ** 47 - 1 }), access: fc.constantFrom('read' as const, 'write' as const, 'exec' as const) }),
  fc.record({ kind: fc.constant('touch' as const), addr: page, len, write: fc.boolean(), every: fc.constantFrom(4096, 8192, 2 ** 21) }),
).chain((r) => stamp.map((s) => ({ ...r, ...s }) as TraceRecord));

describe('trace writer', () => {
  it('writes what the parser reads back, record for record', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), fc.string(), (events, cmd) => {
        const records: TraceRecord[] = [{ kind: 'meta', values: { command: cmd } }, { kind: 'process', name: 'P' }, ...events];
        const r = parseTrace([...formatTrace(records)].join('\n'));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.records.map((x) => formatRecord(x))).toEqual(records.map((x) => formatRecord(x)));
        expect(r.records.map(({ line: _l, ...x }) => x)).toEqual(records.map((x) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined))));
      }),
      { numRuns: 200 },
    );
  });
});
