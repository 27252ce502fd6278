/**
 * `ptlab record`'s pure half on captured output. The fixtures were captured on this project's
 * Linux 6.18 machine with perf 6.1 (see test/record/fixtures/README.md):
 *
 *   python-mmap.*   /usr/bin/python3 running the script below under perf + ptlab-exec-watch
 *                   (the perf text thinned to the first 150 user faults of the main thread and 40
 *                   of the worker thread; every other line kept as perf printed it)
 *   lost.perf.txt   a stretch of a node recording with a 1-page perf buffer: PERF_RECORD_LOST lines
 *   perf-*.stderr   perf record's complaints as an unprivileged user / with a missing tracepoint
 *
 *     m = mmap.mmap(-1, 8M, MAP_PRIVATE); m[0:16K] = ...      mmap anon, write faults
 *     m.madvise(MADV_DONTNEED, 0, 2M); m.resize(16M)          madvise dontneed, mremap maymove
 *     mmap /etc/services read-only, read a byte, close        openat → file mmap → munmap, close
 *     mmap.mmap(-1, 1 << 46, MAP_PRIVATE)                     ENOMEM
 *     a thread fills a 4 MiB bytearray                        events of tid 32163
 *     os.fork(); child os._exit(0)                            pid 32164: not recorded, counted
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertRecording, type RecordEnv } from '../../src/record/convert.js';
import { classifyPerfFailure } from '../../src/record/perf.js';
import { parsePerfScript } from '../../src/record/perf_script.js';
import { parseWatchOutput } from '../../src/record/watch.js';
import { parseTrace } from '../../src/trace/parse.js';
import type { TraceRecord } from '../../src/trace/records.js';
import { formatTrace } from '../../src/trace/write.js';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');

const ENV: RecordEnv = {
  command: '/usr/bin/python3 fx.py',
  kernel: '6.18.0',
  thp: 'madvise',
  shmemThp: 'never',
  recorded: '2026-01-01T00:00:00.000Z',
  // Pretend only the interpreter and libc are still on disk, with fixed sizes: the test must not
  // depend on this machine's files.
  statSize: (p) => ({ '/usr/bin/python3.11': 6_000_000, '/usr/lib/x86_64-linux-gnu/libc.so.6': 1_926_232 } as Record<string, number>)[p],
};

function pythonTrace() {
  const watch = parseWatchOutput(fixture('python-mmap.watch.jsonl'));
  const perf = parsePerfScript(fixture('python-mmap.perf.txt'));
  return { watch, perf, ...convertRecording(watch, perf, ENV) };
}

const hex = (n: number) => `0x${n.toString(16)}`;

describe('perf script parser', () => {
  it('reads every line perf 6.1 printed for our tracepoints, and nothing is left unknown', () => {
    const p = parsePerfScript(fixture('python-mmap.perf.txt'));
    expect(p.unknown).toBe(0);
    expect(p.lost).toBe(0);
    const enters = p.events.filter((e) => e.kind === 'enter').length;
    const exits = p.events.filter((e) => e.kind === 'exit').length;
    // exit_group is not traced, so every traced call returned: enters and exits pair up.
    expect(enters).toBe(exits);
    const mremap = p.events.find((e) => e.kind === 'enter' && e.syscall === 'mremap');
    expect(mremap).toMatchObject({ pid: 32162, tid: 32162, time: 8556_266228612, args: { addr: 0x7fb9daa00000n, old_len: 0x800000n, new_len: 0x1000000n, flags: 1n } });
  });

  it('keeps a failed call\'s return as a negative errno and a kernel-space fault address as null', () => {
    const p = parsePerfScript(fixture('python-mmap.perf.txt'));
    expect(p.events.some((e) => e.kind === 'exit' && e.syscall === 'mmap' && e.ret === -12n)).toBe(true);
    const kernelFaults = p.events.filter((e) => e.kind === 'fault' && e.mode === 'kernel');
    expect(kernelFaults.length).toBe(49);
    // `ip=elf_load` faults of exec have user addresses; %ps would print a kernel one as a symbol.
    expect(kernelFaults.every((e) => e.kind === 'fault' && e.address !== null)).toBe(true);
    const sym = parsePerfScript('  x 1/1  1.000000001: exceptions:page_fault_kernel: address=init_task+0x10 ip=memset error_code=0x2\n');
    expect(sym.events[0]).toMatchObject({ kind: 'fault', mode: 'kernel', address: null, errorCode: 2 });
  });

  it('sums PERF_RECORD_LOST counts (a 1-page buffer during a node recording)', () => {
    const p = parsePerfScript(fixture('lost.perf.txt'));
    expect(p.lost).toBe(3);
    expect(p.unknown).toBe(0);
  });

  it('counts a line it cannot read instead of guessing', () => {
    const p = parsePerfScript('Warning:\nnode 5/5  1.000000000: syscalls:sys_exit_mmap: garbage\n');
    expect(p.unknown).toBe(2);
    expect(p.events).toEqual([]);
  });
});

describe('events → trace records', () => {
  it('writes a trace that parses, with the image before the events and the exit counters last', () => {
    const { records } = pythonTrace();
    const text = [...formatTrace(records)].join('\n');
    const r = parseTrace(text);
    if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`).join('\n'));
    const kinds = r.records.map((x) => x.kind);
    const firstEvent = kinds.findIndex((k) => k === 'mmap' || k === 'fault');
    expect(kinds.indexOf('process')).toBeLessThan(firstEvent);
    expect(kinds.lastIndexOf('vma')).toBeLessThan(firstEvent);
    expect(kinds.indexOf('brk-base')).toBeLessThan(firstEvent);
    expect(kinds.slice(-2)).toEqual(['observed', 'exit']);
    expect(r.records.find((x) => x.kind === 'observed' && x.label === 'exec')).toMatchObject({ values: { VmPTE: 32, VmRSS: 12, RssAnon: 12 } });
    expect(r.records.find((x) => x.kind === 'observed' && x.label === 'exit')).toMatchObject({ values: { VmPTE: 76, VmRSS: 9552, RssAnon: 3584, RssFile: 5968 } });
  });

  it('pairs enter with exit: the mremap lands where the kernel moved it, the madvise is dontneed', () => {
    const lines = [...formatTrace(pythonTrace().records)];
    expect(lines).toContainEqual(expect.stringMatching(/^madvise 0x7fb9daa00000 0x200000 dontneed t=\d+ tid=32162$/));
    expect(lines).toContainEqual(expect.stringMatching(/^mremap 0x7fb9daa00000 0x800000 0x1000000 0x7fb9d9a00000 maymove t=\d+ tid=32162$/));
    // The worker thread's 128 MiB arena reservation (PROT_NONE, NORESERVE) and its trim.
    expect(lines).toContainEqual(expect.stringMatching(/^mmap 0x7fb9d2a00000 0x8000000 --- private,anon,noreserve t=\d+ tid=32163$/));
    expect(lines).toContainEqual(expect.stringMatching(/^munmap 0x7fb9d2a00000 0x1600000 t=\d+ tid=32163$/));
  });

  it('records a failed call with its errno and no result', () => {
    const lines = [...formatTrace(pythonTrace().records)];
    expect(lines).toContainEqual(expect.stringMatching(/^mmap 0x0 0x400000000000 rw- private,anon t=\d+ tid=32162 err=ENOMEM$/));
    // failed openat calls (ENOENT while searching for modules) leave no record at all
    expect(lines.some((l) => l.startsWith('openat'))).toBe(false);
  });

  it('gives a file mapping its file: named from the maps when still mapped, else by its extent', () => {
    const { records } = pythonTrace();
    const files = records.filter((r): r is Extract<TraceRecord, { kind: 'file' }> => r.kind === 'file');
    const libc = files.find((f) => f.path === '/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(libc?.size).toBe(1_926_232);
    const libcMaps = records.filter((r) => r.kind === 'mmap' && r.file === libc?.name);
    expect(libcMaps.length).toBeGreaterThanOrEqual(4); // ld.so maps a library in four segments
    // /etc/services (12,813 bytes = 0x320d) was mapped shared read-only and unmapped before exit:
    // no path, and its size is the extent mapped, rounded up to pages.
    const services = records.find((r) => r.kind === 'mmap' && r.len === 0x320d);
    expect(services).toMatchObject({ prot: 1, flags: ['shared'], off: 0 });
    const f = files.find((x) => x.name === (services as { file?: string }).file);
    expect(f).toMatchObject({ size: 0x4000 });
    expect(f!.path).toBeUndefined();
  });

  it('keeps the events of every thread, drops those before exec and of the watcher, counts the fork', () => {
    const { records, summary, watch } = pythonTrace();
    const tids = new Set(records.flatMap((r) => ('tid' in r && r.tid !== undefined ? [r.tid] : [])));
    expect([...tids].sort()).toEqual([32162, 32163]);
    const events = records.filter((r) => 't' in r && r.t !== undefined) as { t: number }[];
    expect(events[0].t).toBe(0);
    expect(events.every((e, i) => i === 0 || e.t >= events[i - 1].t)).toBe(true);
    expect(watch.watcher).toBe(32160);
    expect(summary.forked.map((f) => f.pid)).toEqual([32164]);
    expect(summary.forked[0].events).toBeGreaterThan(0);
    expect(summary.unpaired).toBe(0);
  });

  it('decodes fault error codes: 0x14 instruction fetch, 0x6 user write, 0x4 user read', () => {
    const { records } = pythonTrace();
    const faults = records.filter((r): r is Extract<TraceRecord, { kind: 'fault' }> => r.kind === 'fault');
    expect(new Set(faults.map((f) => f.access))).toEqual(new Set(['exec', 'write', 'read']));
    // the first event after exec: ld.so's first instruction, fetched from a file page not yet mapped
    expect(faults[0]).toMatchObject({ access: 'exec', t: 0 });
  });

  it('names the files partly out of the page cache at exit in meta page_cache_exit, and warns from one fault-around window missing', () => {
    // The watcher's `cache` lines (one per file VMA at exit, pages up to EOF), added to the fixture:
    // libc's text 100 of 342 pages cached, its first segment whole, python3.11's first segment whole.
    const LIBC_TEXT = 140436226326528, LIBC_FIRST = 140436226170880, PY_FIRST = 4194304;
    const cache = (start: number, pages: number, cached: number) => JSON.stringify({ type: 'cache', start, pages, cached });
    const convert = (lines: string[]) => {
      const watch = parseWatchOutput(`${fixture('python-mmap.watch.jsonl')}\n${lines.join('\n')}\n`);
      return convertRecording(watch, parsePerfScript(fixture('python-mmap.perf.txt')), ENV);
    };
    const cold = convert([cache(LIBC_TEXT, 342, 100), cache(LIBC_FIRST, 38, 38), cache(PY_FIRST, 31, 31), cache(0x1000, 5, 0)]);
    const libc = cold.records.find((r) => r.kind === 'file' && r.path === '/usr/lib/x86_64-linux-gnu/libc.so.6') as { name: string };
    const meta = cold.records.find((r) => r.kind === 'meta') as { values: Record<string, string> };
    // summed over libc's VMAs; the VMA the exit maps do not know (0x1000) is ignored
    expect(meta.values.page_cache_exit).toBe(`${libc.name}=138/380`);
    expect(cold.summary.warnings).toContainEqual(expect.stringMatching(/^242 pages of 1 of the \d+ files the trace maps were not in the page cache at exit \(libc\.so\.6: 138 of 380 pages\)/));
    // the meta line survives writing and parsing
    const reparsed = parseTrace([...formatTrace(cold.records)].join('\n'));
    expect(reparsed.ok && reparsed.records.find((r) => r.kind === 'meta')).toMatchObject({ values: { page_cache_exit: `${libc.name}=138/380` } });

    const hot = convert([cache(LIBC_TEXT, 342, 342), cache(LIBC_FIRST, 38, 38)]);
    expect((hot.records.find((r) => r.kind === 'meta') as { values: Record<string, string> }).values.page_cache_exit).toBeUndefined();
    expect(hot.summary.warnings.filter((w) => w.includes('page cache'))).toEqual([]);

    // Fewer missing pages than one fault-around window (16): in meta, but no warning.
    const warm = convert([cache(LIBC_TEXT, 342, 327), cache(LIBC_FIRST, 38, 38)]);
    expect((warm.records.find((r) => r.kind === 'meta') as { values: Record<string, string> }).values.page_cache_exit).toBe(`${libc.name}=365/380`);
    expect(warm.summary.warnings.filter((w) => w.includes('page cache'))).toEqual([]);
  });

  it('pairs per thread when two threads are inside mmap at once', () => {
    // Real lines of the fixture, with the second thread's call moved inside the first's.
    const text = [
      '  python3 10/10  1.000000001:      syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00004000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000',
      '  python3 10/11  1.000000002:      syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00401000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000',
      '  python3 10/11  1.000000003:       syscalls:sys_exit_mmap: 0x7fb9da730000',
      '  python3 10/10  1.000000004:       syscalls:sys_exit_mmap: 0x7fb9dab31000',
    ].join('\n');
    const watch = parseWatchOutput('{"type":"exec","pid":10,"watcher":9,"t":1000000000,"start_brk":4096,"brk":4096,"comm":"python3"}\n{"type":"end","code":0}\n');
    const { records } = convertRecording(watch, parsePerfScript(text), ENV);
    const mmaps = records.filter((r) => r.kind === 'mmap').map((r) => [hex((r as { addr: number }).addr), hex((r as { len: number }).len), (r as { tid: number }).tid]);
    expect(mmaps).toEqual([['0x7fb9da730000', '0x401000', 11], ['0x7fb9dab31000', '0x4000', 10]]);
  });
});

describe('perf failures', () => {
  it('names perf_event_paranoid and the way out when perf may not read tracepoints', () => {
    const p = classifyPerfFailure(fixture('perf-not-permitted.stderr.txt'), '2');
    expect(p.code).toBe('not-permitted');
    expect(p.message).toContain('/proc/sys/kernel/perf_event_paranoid is 2');
    expect(p.message).toMatch(/root/);
    expect(p.message).toContain('No permissions to read /sys/kernel/tracing');
  });

  it('says which tracepoint is missing rather than blaming permissions', () => {
    const p = classifyPerfFailure(fixture('perf-no-tracepoint.stderr.txt'), '2');
    expect(p.code).toBe('no-events');
  });
});
