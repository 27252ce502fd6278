import { describe, it, expect } from 'vitest';
import { ADVICES, type Op, type ScriptError } from '../../src/script/ast.js';
import { parseScript, safeParseScript } from '../../src/script/parse.js';
import { MAX_SCRIPT_ERRORS, parseSize } from '../../src/script/grammar.js';

const FILE = 't.ops';
const K = 1024;
const M = 2 ** 20;
const G = 2 ** 30;
const T = 2 ** 40;

function lines(...ls: string[]): string {
  return ls.join('\n') + '\n';
}

function ops(text: string): Op[] {
  return parseScript(text, FILE).ops;
}

function errors(text: string): ScriptError[] {
  const r = safeParseScript(text, FILE);
  if (r.ok) throw new Error('expected the script to be rejected');
  return r.errors;
}

/** [line, col, code] of every error, in order. */
function where(text: string): Array<[number, number, ScriptError['code']]> {
  return errors(text).map((e) => [e.loc.line, e.loc.col, e.code]);
}

function loc(line: number, col = 1) {
  return { file: FILE, line, col };
}

describe('parseSize', () => {
  it('reads decimal byte counts', () => {
    expect(parseSize('0')).toBe(0);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('007')).toBe(7);
  });

  it('reads 0x hex', () => {
    expect(parseSize('0x200000')).toBe(2 * M);
    expect(parseSize('0X1000')).toBe(4096);
    expect(parseSize('0xfFfF')).toBe(65535);
  });

  it('applies binary units K M G T in either case', () => {
    expect(parseSize('4K')).toBe(4096);
    expect(parseSize('4k')).toBe(4096);
    expect(parseSize('2M')).toBe(2 * M);
    expect(parseSize('50G')).toBe(50 * G);
    expect(parseSize('50g')).toBe(50 * G);
    expect(parseSize('1T')).toBe(T);
    expect(parseSize('0x2M')).toBe(2 * M);
    expect(parseSize('0x10K')).toBe(16 * K);
  });

  it('rejects malformed sizes', () => {
    for (const bad of ['', '12Q', '4KB', '4KiB', '-4K', '0x', '1.5M', 'K', '4 K', '0xg', ' 4K']) {
      expect(parseSize(bad), bad).toBeUndefined();
    }
  });

  it('rejects sizes above 2^53 - 1 and accepts those below', () => {
    expect(parseSize('8191T')).toBe(8191 * T);
    expect(parseSize('8192T')).toBeUndefined();
    expect(parseSize('0x20000000000000')).toBeUndefined();
    expect(parseSize('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('parsing each op form', () => {
  it('keeps config settings as strings', () => {
    expect(ops('config thp=always pt_reclaim=off need_resched=64 version=B\n')).toEqual([
      { op: 'config', loc: loc(1), settings: { thp: 'always', pt_reclaim: 'off', need_resched: '64', version: 'B' } },
    ]);
  });

  it('accepts every config key with each value of its table', () => {
    const r = safeParseScript(
      lines(
        'config pt_reclaim=on version=S0 thp=never shmem_thp=within_size split_ptlocks=off',
        'config table_free=ipi need_resched=never batch_alloc=fail shmem_thp=deny',
        'config version=S1 shmem_thp=force thp=madvise',
      ),
      FILE,
    );
    expect(r.ok).toBe(true);
  });

  it('parses process, switch and exit with err=', () => {
    expect(ops(lines('process P', 'process Q err=EAGAIN', 'switch P', 'exit Q err=EINVAL'))).toEqual([
      { op: 'process', loc: loc(1), name: 'P' },
      { op: 'process', loc: loc(2), name: 'Q', err: 'EAGAIN' },
      { op: 'switch', loc: loc(3), name: 'P' },
      { op: 'exit', loc: loc(4), name: 'Q', err: 'EINVAL' },
    ]);
  });

  it('parses memfd and file, with the folio defaulting to 4K', () => {
    expect(ops(lines('memfd F 4M', 'file D 8M', 'file E 2M folio=2M', 'file G 0x1000 folio=0x1000 err=ENOMEM'))).toEqual([
      { op: 'memfd', loc: loc(1), name: 'F', size: 4 * M },
      { op: 'file', loc: loc(2), name: 'D', size: 8 * M, folio: 4096 },
      { op: 'file', loc: loc(3), name: 'E', size: 2 * M, folio: 2 * M },
      { op: 'file', loc: loc(4), name: 'G', size: 4096, folio: 4096, err: 'ENOMEM' },
    ]);
  });

  it('parses map M anon private 50G with offset 0 and no optional fields', () => {
    const [, map] = ops(lines('process P', 'map A anon private 50G'));
    expect(map).toStrictEqual({
      op: 'map', loc: loc(2), name: 'A', kind: 'anon', offset: 0, size: 50 * G, shared: false, locked: false,
    });
  });

  it('parses an anon shared map with at=, flags, align= and err=', () => {
    const [, map] = ops(lines('process P', 'map B anon shared 2M at=0x200000000000 hugepage locked align=2M err=ENOMEM'));
    expect(map).toStrictEqual({
      op: 'map', loc: loc(2), name: 'B', kind: 'anon', offset: 0, size: 2 * M, shared: true,
      at: 32 * T, huge: 'hugepage', locked: true, err: 'ENOMEM',
    });
  });

  it('parses shmem and file maps with file name, offset and sharing', () => {
    const o = ops(lines('memfd F 4M', 'file D 8M folio=2M', 'process P', 'map S shmem F 2M 2M private nohugepage', 'map R file D 0 8M shared locked'));
    expect(o[3]).toStrictEqual({
      op: 'map', loc: loc(4), name: 'S', kind: 'shmem', file: 'F', offset: 2 * M, size: 2 * M, shared: false,
      huge: 'nohugepage', locked: false,
    });
    expect(o[4]).toStrictEqual({
      op: 'map', loc: loc(5), name: 'R', kind: 'file', file: 'D', offset: 0, size: 8 * M, shared: true, locked: true,
    });
  });

  it('accepts map options and flags before the positional words', () => {
    const [, map] = ops(lines('process P', 'map A locked at=0x300000000000 anon hugepage private 4K'));
    expect(map).toStrictEqual({
      op: 'map', loc: loc(2), name: 'A', kind: 'anon', offset: 0, size: 4096, shared: false,
      at: 48 * T, huge: 'hugepage', locked: true,
    });
  });

  it('takes a flag word in a name slot as the name', () => {
    const o = ops(lines('memfd locked 4K', 'process P', 'map hugepage shmem locked 0 4K shared'));
    expect(o[2]).toMatchObject({ name: 'hugepage', kind: 'shmem', file: 'locked', locked: false });
    expect(o[2]).not.toHaveProperty('huge');
  });

  it('parses touch A 0 50G write every=2M', () => {
    const [, , touch] = ops(lines('process P', 'map A anon private 50G', 'touch A 0 50G write every=2M'));
    expect(touch).toStrictEqual({ op: 'touch', loc: loc(3), map: 'A', offset: 0, len: 50 * G, write: true, every: 2 * M });
  });

  it('parses a read touch without every= and with err=', () => {
    const [, , touch] = ops(lines('process P', 'map A anon private 1M', 'touch A 0x1000 8K read err=SIGSEGV'));
    expect(touch).toStrictEqual({ op: 'touch', loc: loc(3), map: 'A', offset: 4096, len: 8192, write: false, err: 'SIGSEGV' });
  });

  it('parses madvise with every advice', () => {
    const text = lines('process P', 'map A anon private 2M', ...ADVICES.map((a) => `madvise A 0 2M ${a}`));
    const o = ops(text).slice(2);
    expect(o.map((op) => (op.op === 'madvise' ? op.advice : undefined))).toEqual([...ADVICES]);
    expect(o[0]).toStrictEqual({ op: 'madvise', loc: loc(3), map: 'A', offset: 0, len: 2 * M, advice: 'dontneed' });
  });

  it('parses uffd_register with its mode, and uffd_copy and uffd_zeropage ranges', () => {
    const o = ops(lines('process P', 'map A anon private 4M', 'uffd_register A 0 2M wp', 'uffd_copy A 4K 8K err=EEXIST', 'uffd_zeropage A 0 4K'));
    expect(o.slice(2)).toEqual([
      { op: 'uffd_register', loc: loc(3), map: 'A', offset: 0, len: 2 * M, mode: 'wp' },
      { op: 'uffd_copy', loc: loc(4), map: 'A', offset: 4096, len: 8192, err: 'EEXIST' },
      { op: 'uffd_zeropage', loc: loc(5), map: 'A', offset: 0, len: 4096 },
    ]);
  });

  it('rejects a bad registration mode, a uffd fill of a shared mapping and a copy larger than 2M', () => {
    const es = errors(lines('process P', 'map A anon private 4M', 'map S anon shared 4M', 'uffd_register A 0 2M always', 'uffd_copy S 0 4K', 'uffd_copy A 0 4M', 'uffd_zeropage A 0 4M', 'uffd_writeprotect S 0 4K on', 'uffd_writeprotect A 0 4K yes'));
    expect(es.map((e) => [e.loc.line, e.code])).toEqual([[4, 'bad-value'], [5, 'bad-value'], [6, 'out-of-range'], [8, 'bad-value'], [9, 'bad-value']]);
    expect(es[0].expected).toBe('one of: missing, wp, minor');
  });

  it('parses unmap, mlock and munlock ranges', () => {
    const o = ops(lines('process P', 'map A anon private 4M', 'mlock A 0 2M', 'munlock A 1M 1M err=EPERM', 'unmap A 2M 2M'));
    expect(o.slice(2)).toStrictEqual([
      { op: 'mlock', loc: loc(3), map: 'A', offset: 0, len: 2 * M },
      { op: 'munlock', loc: loc(4), map: 'A', offset: M, len: M, err: 'EPERM' },
      { op: 'unmap', loc: loc(5), map: 'A', offset: 2 * M, len: 2 * M },
    ]);
  });

  it('parses snapshot with and without a pagemap range', () => {
    const o = ops(lines('process P', 'map A anon private 4M', 'snapshot before', 'snapshot after A 2M 4K'));
    expect(o.slice(2)).toStrictEqual([
      { op: 'snapshot', loc: loc(3), label: 'before' },
      { op: 'snapshot', loc: loc(4), label: 'after', range: { map: 'A', offset: 2 * M, len: 4096 } },
    ]);
  });

  it('parses expect with optional delta and operator, defaulting to ==', () => {
    const o = ops(lines('process P', 'snapshot s', 'expect VmRSS 0', 'expect VmPTE delta 12', 'expect Rss <= 100', 'expect VmLck delta != -4', 'expect pte_tables > 3'));
    expect(o.slice(2)).toStrictEqual([
      { op: 'expect', loc: loc(3), field: 'VmRSS', delta: false, cmp: '==', value: 0 },
      { op: 'expect', loc: loc(4), field: 'VmPTE', delta: true, cmp: '==', value: 12 },
      { op: 'expect', loc: loc(5), field: 'Rss', delta: false, cmp: '<=', value: 100 },
      { op: 'expect', loc: loc(6), field: 'VmLck', delta: true, cmp: '!=', value: -4 },
      { op: 'expect', loc: loc(7), field: 'pte_tables', delta: false, cmp: '>', value: 3 },
    ]);
  });

  it('returns the file name with the ops', () => {
    expect(parseScript('process P\n', 'demo.ops')).toEqual({ file: 'demo.ops', ops: [{ op: 'process', loc: { file: 'demo.ops', line: 1, col: 1 }, name: 'P' }] });
  });
});

describe('comments, blank lines and columns', () => {
  it('skips blank and comment lines and keeps real line numbers and columns', () => {
    const o = ops(['# a script', '', '   ', '  process P   # the process', '\tmap A anon private 4K#no blank needed', ''].join('\n'));
    expect(o).toEqual([
      { op: 'process', loc: loc(4, 3), name: 'P' },
      { op: 'map', loc: loc(5, 2), name: 'A', kind: 'anon', offset: 0, size: 4096, shared: false, locked: false },
    ]);
  });

  it('treats a key=value inside a comment as part of the comment', () => {
    const [, , touch] = ops(lines('process P', 'map A anon private 4K', 'touch A 0 4K read # every=3K err=BOGUS'));
    expect(touch).toStrictEqual({ op: 'touch', loc: loc(3), map: 'A', offset: 0, len: 4096, write: false });
  });

  it('accepts CRLF line ends', () => {
    expect(ops('process P\r\nmap A anon private 4K\r\n')).toHaveLength(2);
  });

  it('accepts an empty script', () => {
    expect(ops('')).toEqual([]);
    expect(ops('# nothing\n\n')).toEqual([]);
  });
});

describe('syntax and value errors', () => {
  it('reports an unknown op at its word with the list of ops', () => {
    const [e] = errors(lines('process P', '  frob A'));
    expect(e).toEqual({
      code: 'unknown-op', loc: loc(2, 3), message: "unknown op 'frob'",
      expected: 'one of: config, process, switch, exit, fork, memfd, file, map, touch, madvise, fadvise, unmap, mlock, munlock, mprotect, mremap, uffd_register, uffd_copy, uffd_zeropage, uffd_writeprotect, uffd_move, tcp_zerocopy, binder_transaction, migrate, swapoff, clear_refs, snapshot, expect',
    });
  });

  it('reports a malformed size with the size hint', () => {
    const [e] = errors(lines('process P', 'map A anon private 12Q'));
    expect(e).toEqual({ code: 'bad-value', loc: loc(2, 20), message: "bad mapping size '12Q'", expected: 'a size like 4K, 2M or 0x1000' });
  });

  it('rejects a 3K mapping size as unaligned', () => {
    const [e] = errors(lines('process P', 'map A anon private 3K'));
    expect(e).toEqual({ code: 'bad-value', loc: loc(2, 20), message: 'mapping size 3K is not a multiple of 4K', expected: 'a multiple of 4K (4096 bytes)' });
  });

  it('accepts unaligned memfd and file sizes but not an unaligned file offset', () => {
    expect(safeParseScript(lines('memfd F 3K', 'file D 5000'), FILE).ok).toBe(true);
    expect(where(lines('file D 1M', 'process P', 'map A file D 0x800 4K shared'))).toEqual([[3, 14, 'bad-value']]);
  });

  it('rejects zero-length mappings and ranges', () => {
    expect(where(lines('process P', 'map A anon private 0', 'map B anon private 4K', 'touch B 0 0 read'))).toEqual([
      [2, 20, 'bad-value'],
      [4, 11, 'bad-value'],
    ]);
  });

  it('rejects unaligned offsets and lengths of range ops at the offending word', () => {
    expect(where(lines('process P', 'map A anon private 1M', 'madvise A 512 4K free', 'unmap A 0 6K', 'mlock A 0x1001 4K'))).toEqual([
      [3, 11, 'bad-value'],
      [4, 11, 'bad-value'],
      [5, 9, 'bad-value'],
    ]);
  });

  it('rejects an every= stride that is zero or not a multiple of 4K', () => {
    const text = lines('process P', 'map A anon private 1M', 'touch A 0 1M write every=3K', 'touch A 0 1M read every=0', 'touch A 0 1M read every=x');
    expect(where(text)).toEqual([[3, 20, 'bad-value'], [4, 19, 'bad-value'], [5, 19, 'bad-value']]);
    expect(errors(text)[2].expected).toBe('a size like 4K, 2M or 0x1000');
  });

  it('rejects an unaligned at= address at the option word', () => {
    expect(where(lines('process P', 'map A anon private 4K at=0x100000000800'))).toEqual([[2, 23, 'bad-value']]);
  });

  it('rejects align= with a malformed size but accepts any valid one', () => {
    expect(where(lines('process P', 'map A anon private 4K align=2Q'))).toEqual([[2, 23, 'bad-value']]);
    expect(safeParseScript(lines('process P', 'map A anon private 4K align=1G'), FILE).ok).toBe(true);
  });

  it('accepts align= only on anon mappings', () => {
    const [e] = errors(lines('memfd F 4K', 'process P', 'map S shmem F 0 4K shared align=2M'));
    expect(e).toEqual({ code: 'syntax', loc: loc(3, 27), message: "unknown option 'align=' for map", expected: 'one of: at=, prot=, err=' });
  });

  it('rejects a folio= other than 4K or 2M', () => {
    const [e] = errors('file D 4M folio=64K\n');
    expect(e).toEqual({ code: 'bad-value', loc: loc(1, 11), message: "bad folio size '64K'", expected: '4K or 2M' });
  });

  it('reports a missing word just past the end of the line with the usage', () => {
    const [e] = errors(lines('process P', 'map A anon private 4K', 'touch A 0 4K'));
    expect(e).toEqual({
      code: 'syntax', loc: loc(3, 13), message: 'missing read|write',
      expected: 'touch M OFFSET LEN read|write [every=STRIDE] [err=NAME]',
    });
  });

  it('reports only the first missing word of a line', () => {
    expect(where(lines('process P', 'unmap'))).toEqual([[2, 6, 'syntax']]);
  });

  it('reports an extra word at that word', () => {
    const [e] = errors('process P Q\n');
    expect(e).toEqual({ code: 'syntax', loc: loc(1, 11), message: "unexpected word 'Q'", expected: 'process P [err=NAME]' });
  });

  it('reports unknown, repeated and forbidden options at the option word', () => {
    const text = lines(
      'process P',
      'map A anon private 4K',
      'touch A 0 4K read stride=4K',
      'touch A 0 4K read every=4K every=8K',
      'snapshot s err=EINVAL',
      'expect VmRSS 0 err=EINVAL',
    );
    expect(where(text)).toEqual([
      [3, 19, 'syntax'],
      [4, 28, 'syntax'],
      [5, 12, 'syntax'],
      [6, 16, 'syntax'],
    ]);
    expect(errors(text)[0].expected).toBe('one of: every=, err=');
  });

  it('rejects an err= name outside ERR_NAMES', () => {
    const [e] = errors('process P err=ECHILD\n');
    expect(e).toEqual({
      code: 'bad-value', loc: loc(1, 11), message: "bad err= name 'ECHILD'",
      expected: 'one of: EINVAL, ENOMEM, EFAULT, EAGAIN, EEXIST, EPERM, EBUSY, EACCES, ENOENT, ESRCH, SIGSEGV, SIGBUS',
    });
  });

  it('rejects a bad name, map kind, sharing and access word', () => {
    const text = lines('process 9P', 'map A anonymous private 4K', 'map B anon public 4K', 'map C anon private 4K', 'touch C 0 4K rw');
    expect(where(text)).toEqual([[1, 9, 'bad-value'], [2, 7, 'bad-value'], [3, 12, 'bad-value'], [5, 14, 'bad-value']]);
    expect(errors(text)[1].expected).toBe('one of: anon, shmem, file, tcp, binder');
  });

  it('rejects an unknown advice with the list of advices', () => {
    const [e] = errors(lines('process P', 'map A anon private 4K', 'madvise A 0 4K random'));
    expect(e.loc).toEqual(loc(3, 16));
    expect(e.code).toBe('bad-value');
    expect(e.expected).toBe(
      'one of: dontneed, dontneed_locked, free, hugepage, nohugepage, populate_read, populate_write, guard_install, guard_remove, collapse, cold, pageout, willneed',
    );
  });

  it('rejects conflicting and repeated map flags at the second flag', () => {
    expect(where(lines('process P', 'map A anon private 4K nohugepage hugepage', 'map B anon private 4K locked locked'))).toEqual([
      [2, 34, 'syntax'],
      [3, 30, 'syntax'],
    ]);
  });

  it('rejects an unknown expect field, a non-integer value and a misplaced word', () => {
    const text = lines('process P', 'snapshot s', 'expect VmFoo 1', 'expect VmRSS == 1K', 'expect VmRSS =< 4', 'expect VmRSS delta 1 2');
    expect(where(text)).toEqual([[3, 8, 'bad-value'], [4, 17, 'bad-value'], [5, 14, 'bad-value'], [6, 22, 'syntax']]);
    const es = errors(text);
    expect(es[1].expected).toBe('an integer like 12 or -4');
    expect(es[2]).toMatchObject({ message: "bad comparison '=<'", expected: 'delta or one of: ==, <=, >=, <, >, !=' });
    expect(es[3].message).toBe("unexpected word '2'");
  });

  it('asks for delta, an operator or an integer where a lone bad word follows the field', () => {
    expect(errors(lines('process P', 'snapshot s', 'expect VmRSS lots'))).toEqual([{
      code: 'bad-value', loc: loc(3, 14), message: "bad expect value 'lots'",
      expected: 'delta, a comparison (== <= >= < > !=) or an integer like 12 or -4',
    }]);
  });

  it('rejects unknown config keys, bad values and bare words', () => {
    const text = 'config thp=sometimes pt_reclaim=on verbose need_resched=0 colour=red thp=never\n';
    const es = errors(text);
    expect(es.map((e) => [e.loc.col, e.code])).toEqual([[8, 'bad-value'], [36, 'syntax'], [44, 'bad-value'], [59, 'bad-value']]);
    expect(es[0].expected).toBe('one of: always, madvise, never');
    expect(es[2].expected).toBe('never or a positive integer');
    // The list grows with the model's settings; it must name at least those docs/op-scripts.md documents.
    expect(es[3].expected).toMatch(/^one of: /);
    for (const key of ['pt_reclaim', 'version', 'thp', 'shmem_thp', 'split_ptlocks', 'table_free', 'need_resched', 'batch_alloc', 'fault_around_bytes', 'guard_off', 'dontneed_lock']) {
      expect(es[3].expected).toContain(key);
    }
  });

  it('rejects a config key given twice on one line', () => {
    expect(where('config thp=never thp=always\n')).toEqual([[1, 18, 'syntax']]);
  });

  it('rejects an empty config', () => {
    expect(where('config\n')).toEqual([[1, 7, 'syntax']]);
  });
});

describe('order errors', () => {
  it('rejects config after the first process', () => {
    const [e] = errors(lines('config thp=always', 'process P', 'exit P', '  config thp=never'));
    expect(e).toEqual({ code: 'order', loc: loc(4, 3), message: 'config after the first process', expected: 'config lines before line 2' });
  });

  it('rejects every op that needs a process before the first process', () => {
    const text = lines(
      'memfd F 4K',
      'map A anon private 4K',
      'touch A 0 4K read',
      'madvise A 0 4K free',
      'unmap A 0 4K',
      'mlock A 0 4K',
      'munlock A 0 4K',
      'snapshot s',
      'expect VmRSS 0',
    );
    expect(where(text)).toEqual([2, 3, 4, 5, 6, 7, 8, 9].map((l) => [l, 1, 'order']));
    expect(errors(text)[0].message).toBe('map before the first process');
  });

  it('rejects ops needing a process after the current process exits, until a switch', () => {
    const text = lines('process P', 'process Q', 'exit Q', 'snapshot s', 'switch P', 'snapshot s');
    const [e] = errors(text);
    expect(e).toEqual({
      code: 'order', loc: loc(4), message: 'snapshot with no current process (Q exited at line 3)',
      expected: 'a switch or process line first',
    });
    expect(errors(text)).toHaveLength(1);
  });

  it('keeps the current process when another one exits', () => {
    expect(safeParseScript(lines('process P', 'process Q', 'switch P', 'exit Q', 'map A anon private 4K'), FILE).ok).toBe(true);
  });

  it('rejects expect before a snapshot of the current process', () => {
    const text = lines('process P', 'expect VmRSS 0', 'snapshot s', 'expect VmRSS 0', 'process Q', '  expect VmPTE delta 0', 'switch P', 'expect VmRSS 0');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[2, 1, 'order'], [6, 3, 'order']]);
    expect(es[1].message).toBe('expect before any snapshot of process Q');
  });
});

describe('name errors', () => {
  it('rejects a process name used before, even after it exited', () => {
    const [e] = errors(lines('process P', 'exit P', 'process  P'));
    expect(e).toEqual({ code: 'duplicate-name', loc: loc(3, 10), message: 'process P already exists (line 1)', expected: 'a new process name' });
  });

  it('rejects switch and exit of unknown or exited processes', () => {
    const text = lines('process P', 'process Q', 'exit Q', 'switch Q', 'exit Q', 'switch R', 'exit R');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[4, 8, 'unknown-name'], [5, 6, 'unknown-name'], [6, 8, 'unknown-name'], [7, 6, 'unknown-name']]);
    expect(es[0].message).toBe('process Q has exited');
    expect(es[2].message).toBe('unknown process R');
    expect(es[2].expected).toBe('a live process: P');
  });

  it('rejects a map name reused in the same process but not in another', () => {
    const text = lines('process P', 'map A anon private 4K', 'process Q', 'map A anon private 4K', 'switch P', 'map A anon shared 8K');
    const [e, ...rest] = errors(text);
    expect(e).toEqual({ code: 'duplicate-name', loc: loc(6, 5), message: 'mapping A already exists in process P (line 2)', expected: 'a new mapping name' });
    expect(rest).toEqual([]);
  });

  it('rejects a memfd or file name used twice, across both kinds', () => {
    expect(where(lines('memfd F 4K', 'file F 4K', 'file D 4K', 'memfd  D 4K'))).toEqual([[2, 6, 'duplicate-name'], [4, 8, 'duplicate-name']]);
  });

  it('requires map shmem to name a memfd and map file to name a file', () => {
    const text = lines('memfd F 4K', 'file D 4K', 'process P', 'map A shmem D 0 4K shared', 'map B file F 0 4K private', 'map C shmem X 0 4K shared');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[4, 13, 'unknown-name'], [5, 12, 'unknown-name'], [6, 13, 'unknown-name']]);
    expect(es[0].message).toBe('D is a file, not a memfd');
    expect(es[0].expected).toBe('a memfd: F');
    expect(es[2].message).toBe('unknown memfd X');
  });

  it('rejects range ops on an unknown mapping, including one of another process', () => {
    const text = lines('process P', 'map A anon private 4K', 'process Q', 'map B anon private 4K', 'touch A 0 4K read', 'snapshot s A 0 4K');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[5, 7, 'unknown-name'], [6, 12, 'unknown-name']]);
    expect(es[0]).toMatchObject({ message: 'unknown mapping A in process Q', expected: 'a mapping of process Q: B' });
  });

  it('rejects every use of a mapping whose map line expects to fail: no mapping exists to use', () => {
    const text = lines('process P', 'map B anon private 4K at=0x100000000000', 'map A anon private 4K at=0x100000000000 err=EEXIST', 'touch A 0 4K write', 'mremap A 0 4K 8K', 'snapshot s A 0 4K');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[4, 7, 'unknown-name'], [5, 8, 'unknown-name'], [6, 12, 'unknown-name']]);
    expect(es[0]).toMatchObject({ message: 'mapping A does not exist: its map at line 3 expects err=EEXIST' });
  });

  it('lets a script use a failing map locked|hugepage|nohugepage that overlaps nothing: mlock() or madvise() may fail after mmap()', () => {
    for (const flag of ['locked', 'hugepage', 'nohugepage']) {
      const text = lines('process P', `map A anon private 64K prot=--- ${flag} err=ENOMEM`, 'mprotect A 0 64K rw-', 'touch A 0 4K write', 'snapshot s A 0 64K');
      expect(safeParseScript(text, FILE)).toMatchObject({ ok: true });
    }
    // Over another mapping, mmap() itself fails (EEXIST): the name still names nothing.
    const text = lines('process P', 'map B anon private 4K at=0x100000000000', 'map A anon private 4K at=0x100000000000 locked err=EEXIST', 'touch A 0 4K write');
    expect(errors(text).map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[4, 7, 'unknown-name']]);
    // Past TASK_SIZE mmap() itself fails (ENOMEM): the range stays free for another mapping
    // (kernel-agreement random scripts, fast-check seed 7).
    const past = lines('process P', 'map M0 anon private 137438953468K at=0x400000000000 nohugepage err=ENOMEM', 'map M1 anon private 4K at=0x7fffffffe000', 'touch M0 0 4K write');
    expect(errors(past).map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[4, 7, 'unknown-name']]);
  });
});

describe('range errors', () => {
  it('rejects a shmem or file mapping past the end of its file, at SIZE or at OFFSET', () => {
    const text = lines('memfd F 4M', 'file D 1M', 'process P', 'map A shmem F 2M 4M shared', 'map B file D 1M 4K private', 'map C file D 0 1M private');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[4, 18, 'out-of-range'], [5, 14, 'out-of-range']]);
    expect(es[0]).toMatchObject({ message: 'range [2M, 6M) is outside memfd F (size 4M)', expected: 'OFFSET + SIZE <= 4M' });
  });

  it('rejects a mapping over 1 TiB unless at= is given', () => {
    const text = lines('process P', 'map A anon private 1T', 'map B anon private 2T', 'map C anon private 2T at=0x400000000000');
    const [e, ...rest] = errors(text);
    expect(e).toMatchObject({ code: 'out-of-range', loc: loc(3, 20), message: 'mapping size 2T is larger than 1T' });
    expect(rest).toEqual([]);
  });

  it('rejects fadvise of a mapping that maps no file, an advice the model lacks, and a range outside the mapping', () => {
    const text = lines('file F 2M', 'process P', 'map A anon private 2M', 'map B file F 0 2M shared', 'fadvise A 0 4K dontneed', 'fadvise B 0 4K willneed', 'fadvise B 1M 2M dontneed', 'fadvise B 0 2M dontneed');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.code])).toEqual([
      [5, 'bad-value'],
      [6, 'bad-value'],
      [7, 'out-of-range'],
    ]);
    expect(es[0]).toMatchObject({ message: 'fadvise of the anon private mapping A', expected: 'a file or shmem mapping (fadvise advises on the file it maps)' });
    expect(es[1].expected).toContain('dontneed');
  });

  it('rejects touch, madvise, unmap, mlock, munlock and snapshot ranges outside the mapping', () => {
    const text = lines(
      'process P',
      'map A anon private 2M',
      'touch A 1M 2M write',
      'madvise A 2M 4K free',
      'unmap A 0 4M',
      'mlock A 4M 4K',
      'munlock A 0 2M',
      'snapshot s A 1M 1M',
      'snapshot t A 1M 2M',
    );
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([
      [3, 12, 'out-of-range'],
      [4, 11, 'out-of-range'],
      [5, 11, 'out-of-range'],
      [6, 9, 'out-of-range'],
      [9, 17, 'out-of-range'],
    ]);
    expect(es[0]).toMatchObject({ message: 'range [1M, 3M) is outside mapping A (size 2M)', expected: 'OFFSET + LEN <= 2M' });
  });

  it('keeps ranges relative to the original mapping after a partial unmap', () => {
    expect(safeParseScript(lines('process P', 'map A anon private 4M', 'unmap A 0 2M', 'touch A 0 4M read err=SIGSEGV'), FILE).ok).toBe(true);
  });
});

describe('placement and at= overlap', () => {
  it('rejects an at= range overlapping a mapping placed by the placement rule', () => {
    // The first map of P goes at 16 TiB = 0x100000000000.
    const [e] = errors(lines('process P', 'map A anon private 2M', 'map B anon private 4K at=0x1000001ff000'));
    expect(e).toEqual({
      code: 'out-of-range', loc: loc(3, 23),
      message: 'mapping B at 0x1000001ff000 overlaps mapping A [0x100000000000, 0x100000200000)',
      expected: 'an address range not mapped in this process',
    });
  });

  it('accepts an at= range just past the end of a mapping', () => {
    expect(safeParseScript(lines('process P', 'map A anon private 2M', 'map B anon private 4K at=0x100000200000'), FILE).ok).toBe(true);
  });

  it('rejects a placed mapping that lands on an earlier at= mapping', () => {
    // A is map #0 (at 17 TiB by at=); B is map #1, placed at 17 TiB too.
    const [e] = errors(lines('process P', 'map A anon private 4K at=0x110000000000', 'map B anon private 4K'));
    expect(e).toMatchObject({
      code: 'out-of-range', loc: loc(3, 5),
      message: 'mapping B placed at 0x110000000000 (map #1 of P) overlaps mapping A [0x110000000000, 0x110000001000)',
    });
  });

  it('counts unmapped and failed maps in the placement index', () => {
    // Maps #0 and #1 take 16T and 17T; #2 goes to 18T, so an at= mapping at 17T only overlaps B.
    const text = lines('process P', 'map A anon private 4K err=ENOMEM', 'map B anon private 4K', 'map C anon private 4K', 'map D anon private 4K at=0x110000000000');
    expect(errors(text)[0].message).toBe('mapping D at 0x110000000000 overlaps mapping B [0x110000000000, 0x110000001000)');
  });

  it('accepts an overlapping at= map when err= states that it fails', () => {
    expect(safeParseScript(lines('process P', 'map A anon private 4K', 'map B anon private 4K at=0x100000000000 err=EEXIST'), FILE).ok).toBe(true);
  });

  it('frees the range of a fully unmapped mapping, but only the unmapped part of a partial unmap', () => {
    const text = lines(
      'process P',
      'map A anon private 4M',
      'unmap A 0 2M',
      'map B anon private 2M at=0x100000000000',
      'map C anon private 4K at=0x100000200000',
      'unmap A 2M 2M',
      'map D anon private 4K at=0x100000300000',
    );
    expect(where(text)).toEqual([[5, 23, 'out-of-range']]);
  });

  it('does not free a range on an unmap expected to fail', () => {
    expect(where(lines('process P', 'map A anon private 4K', 'unmap A 0 4K err=EINVAL', 'map B anon private 4K at=0x100000000000'))).toEqual([
      [4, 23, 'out-of-range'],
    ]);
  });

  it('checks overlap per process', () => {
    expect(safeParseScript(lines('process P', 'map A anon private 4K', 'process Q', 'map B anon private 4K at=0x100000000000'), FILE).ok).toBe(true);
  });
});

describe('error collection', () => {
  it('collects errors from many lines in line and column order', () => {
    const text = lines('touch A 0 4K read', 'process P', 'map A anon private 3K err=EWHAT', 'frob', 'exit Z');
    expect(where(text)).toEqual([
      [1, 1, 'order'],
      [3, 20, 'bad-value'],
      [3, 23, 'bad-value'],
      [4, 1, 'unknown-op'],
      [5, 6, 'unknown-name'],
    ]);
  });

  it('does not cascade from a map line with a bad size to the ops that use the mapping', () => {
    expect(where(lines('process P', 'map A anon private 12Q', 'touch A 0 8G write', 'unmap A 0 4K'))).toEqual([[2, 20, 'bad-value']]);
  });

  it('stops at MAX_SCRIPT_ERRORS errors', () => {
    const text = Array.from({ length: 30 }, (_, i) => `bogus${i}`).join('\n');
    const es = errors(text);
    expect(MAX_SCRIPT_ERRORS).toBe(20);
    expect(es).toHaveLength(20);
    expect(es[19].loc).toEqual(loc(20));
  });

  it('never throws from safeParseScript on odd input', () => {
    for (const text of ['=', 'map', 'map = = =', 'expect', 'config =', 'snapshot a b', '\u0000', 'process P\nmap A file']) {
      expect(() => safeParseScript(text, FILE), JSON.stringify(text)).not.toThrow();
      expect(safeParseScript(text, FILE).ok, JSON.stringify(text)).toBe(false);
    }
  });

  it('makes parseScript throw all errors formatted as file:line:col lines', () => {
    expect(() => parseScript(lines('process P', 'map A anon private 3K', 'frob'), 'x.ops')).toThrow(
      "x.ops:2:20: mapping size 3K is not a multiple of 4K (expected a multiple of 4K (4096 bytes))\n" +
        "x.ops:3:1: unknown op 'frob' (expected one of: config, process, switch, exit, fork, memfd, file, map, touch, madvise, fadvise, unmap, mlock, munlock, mprotect, mremap, uffd_register, uffd_copy, uffd_zeropage, uffd_writeprotect, uffd_move, tcp_zerocopy, binder_transaction, migrate, swapoff, clear_refs, snapshot, expect)",
    );
  });
});

describe('uffd_move', () => {
  it('parses both ranges and allow_src_holes, and checks the destination range like the source', () => {
    const s = parseScript(['process P', 'map A anon private 4M', 'map B anon private 2M', 'uffd_move A 4K 8K B 1M', 'uffd_move A 0 2M B 0 allow_src_holes err=EAGAIN'].join('\n'), 'x.pt');
    expect(s.ops[3]).toMatchObject({ op: 'uffd_move', map: 'A', offset: 4096, len: 8192, dst: 'B', dstOffset: 2 ** 20, holes: false });
    expect(s.ops[4]).toMatchObject({ op: 'uffd_move', dst: 'B', dstOffset: 0, holes: true, err: 'EAGAIN' });
    const r = safeParseScript(['process P', 'map A anon private 4M', 'map B anon private 2M', 'uffd_move A 0 4M B 0', 'uffd_move A 0 4K', 'uffd_move A 0 4K C 0'].join('\n'), 'x.pt');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.loc.line, e.message])).toEqual([
      [4, 'range [0, 4M) is outside mapping B (size 2M)'],
      [5, 'missing destination mapping DST'],
      [6, 'unknown mapping C in process P'],
    ]);
  });
});

describe('mprotect, mremap and prot=', () => {
  it('parses PROT words and the mremap options', () => {
    const s = parseScript(['process P', 'map A anon private 4M prot=r--', 'mprotect A 0 1M rw-', 'mremap A 0 4M 8M maymove', 'mremap A 0 8M 8M at=0x180000000000'].join('\n'), 'x.pt');
    expect(s.ops[1]).toMatchObject({ op: 'map', prot: 1 });
    expect(s.ops[2]).toMatchObject({ op: 'mprotect', map: 'A', offset: 0, len: 2 ** 20, prot: 3 });
    expect(s.ops[3]).toMatchObject({ op: 'mremap', len: 4 * 2 ** 20, newLen: 8 * 2 ** 20, maymove: true });
    expect(s.ops[4]).toMatchObject({ op: 'mremap', at: 0x180000000000, maymove: false });
  });

  it('reports a bad protection at its word, and lets a grown mapping be addressed up to its new size', () => {
    const r = safeParseScript(['process P', 'map A anon private 2M', 'mprotect A 0 1M rw', 'mremap A 0 2M 4M', 'touch A 2M 2M write', 'touch A 4M 4K write'].join('\n'), 'x.pt');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.loc.line, e.loc.col, e.message])).toEqual([
      [3, 17, "bad protection 'rw'"],
      [6, 9, 'range [4M, 4100K) is outside mapping A (size 4M)'],
    ]);
  });
});

describe('model limits', () => {
  it('refuses memfds, files and shared anonymous mappings beyond 8T at the size word (issue 15, D1)', () => {
    const text = lines('memfd F 0x1fffffffff000', 'file D 9T', 'memfd E 8T', 'process P', 'map A anon shared 16T at=0x100000000000', 'map B anon private 16T at=0x200000000000');
    const es = errors(text);
    expect(es.map((e) => [e.loc.line, e.loc.col, e.code])).toEqual([[1, 9, 'out-of-range'], [2, 8, 'out-of-range'], [5, 19, 'out-of-range']]);
    expect(es[0]).toMatchObject({ message: "memfd size 0x1fffffffff000 is larger than the model's largest file", expected: "at most 8T, the model's limit in docs/limits.md" });
  });
});

describe('tcp mappings and tcp_zerocopy', () => {
  it('parses a tcp mapping as read-only, shared, offset 0, and a receive into it', () => {
    const [, map, zc] = ops(lines('process P', 'map S tcp 2M', 'tcp_zerocopy S 16K 64K err=EFAULT'));
    expect(map).toMatchObject({ op: 'map', name: 'S', kind: 'tcp', size: 2 * M, shared: true, offset: 0, prot: 1 });
    expect(zc).toEqual({ op: 'tcp_zerocopy', map: 'S', offset: 16 * K, len: 64 * K, err: 'EFAULT', loc: loc(3) });
  });

  it('refuses flags, prot= and words a tcp mapping does not take', () => {
    expect(where(lines('process P', 'map S tcp 2M locked'))).toEqual([[2, 14, 'syntax']]);
    expect(errors(lines('process P', 'map S tcp 2M prot=rw-'))[0].message).toMatch(/unknown option 'prot'|prot/);
    expect(errors(lines('process P', 'map S tcp 2M private'))[0].expected).toBe('map M tcp|binder SIZE [at=ADDR] [err=NAME]');
  });

  it('refuses ops the model does not run on a socket mapping, naming what it does run', () => {
    for (const op of ['madvise S 0 2M free', 'madvise S 0 2M collapse', 'mlock S 0 4K', 'mprotect S 0 4K r--', 'uffd_register S 0 2M missing', 'mremap S 0 4K 8K']) {
      const e = errors(lines('process P', 'map S tcp 2M', op));
      expect(e, op).toHaveLength(1);
      expect(e[0].message, op).toMatch(/of the tcp mapping S$/);
      expect(e[0].expected, op).toMatch(/^touch, madvise dontneed\|dontneed_locked, unmap, tcp_zerocopy or snapshot/);
    }
    expect(ops(lines('process P', 'map S tcp 2M', 'madvise S 0 2M dontneed', 'touch S 0 4K read err=SIGBUS'))).toHaveLength(4);
  });

  it('receives only into a tcp mapping, into a range that is mapped whole, of at most 64M', () => {
    expect(errors(lines('process P', 'map A anon private 2M', 'tcp_zerocopy A 0 4K'))[0].message).toBe('tcp_zerocopy into the anon private mapping A');
    const hole = lines('process P', 'map S tcp 2M', 'unmap S 16K 16K');
    expect(errors(hole + 'tcp_zerocopy S 0 64K\n')[0].message).toBe('[16K, ...) of mapping S is not mapped');
    expect(errors(hole + 'tcp_zerocopy S 16K 4K\n')[0].code).toBe('out-of-range');
    expect(ops(hole + 'tcp_zerocopy S 16K 4K err=EINVAL\n')).toHaveLength(4);
    expect(errors(lines('process P', 'map S tcp 128M', 'tcp_zerocopy S 0 65M'))[0].expected).toBe("at most 64M (the kernel runner's receive buffer)");
  });
});

describe('binder mappings and binder_transaction', () => {
  it('parses a binder mapping as read-only, shared, offset 0, and a transaction into it', () => {
    const [, map, tx] = ops(lines('process P', 'map B binder 4M', 'binder_transaction B 8K 12K err=ENOMEM'));
    expect(map).toMatchObject({ op: 'map', name: 'B', kind: 'binder', size: 4 * M, shared: true, offset: 0, prot: 1 });
    expect(tx).toEqual({ op: 'binder_transaction', map: 'B', offset: 8 * K, len: 12 * K, err: 'ENOMEM', loc: loc(3) });
  });

  it('refuses flags and ops the model does not run on a binder mapping, naming what it does run', () => {
    expect(errors(lines('process P', 'map B binder 2M hugepage'))[0].message).toBe("flag 'hugepage' on a binder mapping");
    for (const op of ['madvise B 0 2M pageout', 'mlock B 0 4K', 'mprotect B 0 4K ---', 'mremap B 0 4K 8K']) {
      const e = errors(lines('process P', 'map B binder 2M', op));
      expect(e, op).toHaveLength(1);
      expect(e[0].message, op).toMatch(/of the binder mapping B$/);
      expect(e[0].expected, op).toMatch(/^touch, madvise dontneed\|dontneed_locked, unmap, binder_transaction or snapshot/);
    }
  });

  it('installs only into a binder mapping, inside its first 4M unless err= says it fails', () => {
    expect(errors(lines('process P', 'map S tcp 2M', 'binder_transaction S 0 4K'))[0].message).toBe('binder_transaction into the tcp shared mapping S');
    expect(errors(lines('process P', 'map B binder 6M', 'binder_transaction B 4M 4K'))[0]).toMatchObject({ code: 'out-of-range', message: 'a buffer ending at 4100K' });
    expect(ops(lines('process P', 'map B binder 6M', 'binder_transaction B 4M 4K err=EINVAL'))).toHaveLength(3);
  });
});

describe('swapoff', () => {
  it('takes no words, and needs the swap area config swap= gave the script', () => {
    expect(ops(lines('config swap=64M', 'process P', 'swapoff'))[2]).toEqual({ op: 'swapoff', loc: loc(3) });
    expect(errors(lines('process P', 'swapoff'))[0].message).toBe('swapoff without a swap area');
    expect(errors(lines('config swap=off', 'process P', 'swapoff'))[0].expected).toBe('config swap=SIZE before the first process');
    expect(where(lines('config swap=64M', 'process P', 'swapoff now'))).toEqual([[3, 9, 'syntax']]);
  });

  it('is refused a second time, unless the first was expected to fail', () => {
    expect(errors(lines('config swap=64M', 'process P', 'swapoff', 'swapoff'))[0].message).toBe('swapoff: the swap area is already off (line 3)');
    expect(ops(lines('config swap=64M', 'process P', 'swapoff err=ENOMEM', 'swapoff'))).toHaveLength(4);
  });
});

describe('mlock onfault and clear_refs', () => {
  it('reads mlock2(MLOCK_ONFAULT) as a trailing word of mlock, and only of mlock', () => {
    expect(ops(lines('process P', 'map A anon private 2M', 'mlock A 0 8K onfault'))[2]).toEqual({ op: 'mlock', map: 'A', offset: 0, len: 8192, onfault: true, loc: loc(3) });
    expect(ops(lines('process P', 'map A anon private 2M', 'mlock A 0 8K'))[2]).not.toHaveProperty('onfault');
    expect(where(lines('process P', 'map A anon private 2M', 'munlock A 0 8K onfault'))).toEqual([[3, 16, 'syntax']]);
    expect(where(lines('process P', 'map A anon private 2M', 'mlock A 0 8K later'))).toEqual([[3, 14, 'syntax']]);
  });

  it('takes types 1, 2, 3 and 5, and says that soft-dirty (4) is not modelled', () => {
    expect(ops(lines('process P', 'clear_refs 2'))[1]).toEqual({ op: 'clear_refs', type: 2, loc: loc(2) });
    expect(errors(lines('process P', 'clear_refs 4'))[0]).toMatchObject({ code: 'bad-value', loc: loc(2, 12), message: 'clear_refs 4 (soft-dirty) is not modelled: the model keeps no soft-dirty bits', expected: 'one of: 1, 2, 3, 5' });
    expect(errors(lines('process P', 'clear_refs 9'))[0]).toMatchObject({ code: 'bad-value', message: "bad clear_refs type '9'" });
    expect(errors(lines('process P', 'clear_refs'))[0]).toMatchObject({ code: 'syntax', expected: 'clear_refs 1|2|3|5 [err=NAME]' });
    expect(errors(lines('clear_refs 1'))[0].code).toBe('order');
  });
});

describe('fork P Q', () => {
  it('parses the parent and the child, and makes the child current with its parent mappings', () => {
    const parsed = ops(lines('process P', 'map A anon private 2M', 'fork P Q', 'touch A 0 4K write', 'map B anon private 2M', 'snapshot s B 0 2M'));
    expect(parsed[2]).toEqual({ op: 'fork', parent: 'P', name: 'Q', loc: loc(3) });
  });

  it('refuses an unknown or exited parent, a child name in use, and a missing word', () => {
    expect(where(lines('process P', 'fork X Q'))).toEqual([[2, 6, 'unknown-name']]);
    expect(where(lines('process P', 'exit P', 'fork P Q'))).toEqual([[3, 6, 'unknown-name']]);
    expect(errors(lines('process P', 'process Q', 'fork P Q'))[0]).toMatchObject({ code: 'duplicate-name', loc: loc(3, 8), message: 'process Q already exists (line 2)' });
    expect(errors(lines('process P', 'fork P'))[0]).toMatchObject({ code: 'syntax', expected: 'fork P Q' });
  });

  it('gives the child its own copy: a mapping made or unmapped in one is not in the other', () => {
    // A mapping the child makes after the fork does not exist in the parent.
    expect(errors(lines('process P', 'fork P Q', 'map B anon private 2M', 'switch P', 'touch B 0 4K write'))[0]).toMatchObject({ code: 'unknown-name', loc: loc(5, 7) });
    // The child's next map goes where the parent's would: the parent's second slot, free in the child.
    expect(ops(lines('process P', 'map A anon private 2M', 'fork P Q', 'map B anon private 2M', 'switch P', 'map B anon private 2M'))).toHaveLength(6);
  });

  it('refuses to fork a process with a tcp or binder mapping or one that used userfaultfd', () => {
    expect(errors(lines('process P', 'map S tcp 2M', 'fork P Q'))[0]).toMatchObject({ code: 'bad-value', message: 'fork of process P, which has the tcp mapping S' });
    expect(errors(lines('process P', 'map B binder 2M', 'fork P Q'))[0]).toMatchObject({ code: 'bad-value', message: 'fork of process P, which has the binder mapping B' });
    expect(errors(lines('process P', 'map A anon private 2M', 'uffd_register A 0 2M missing', 'fork P Q'))[0]).toMatchObject({
      code: 'bad-value',
      message: 'fork of process P, which used userfaultfd (line 3)',
    });
  });
});
