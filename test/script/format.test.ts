/**
 * The op printer (src/script/format.ts) against the parser: every op it prints parses back to the
 * same op, for generated ops of every kind with every option the grammar has.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADVICES, CMP_OPS, FADVICES, ERR_NAMES, EXPECT_FIELDS, UFFD_REGISTER_MODES, type Op, type OpKind } from '../../src/script/ast.js';
import { formatOp } from '../../src/script/format.js';
import { parseOpLine } from '../../src/script/parse.js';
import { OP_WORDS } from '../../src/script/grammar.js';

const loc = { file: '<line>', line: 1, col: 1 };
const name = fc.constantFrom('A', 'P2', 'heap', 'm_1', 'x.y-z');
const pages = (max: number) => fc.integer({ min: 1, max }).map((n) => n * 4096);
const offset = fc.oneof(fc.constant(0), pages(2 ** 27));
const len = fc.oneof(pages(16), pages(2 ** 26), fc.constantFrom(2 ** 21, 2 ** 30));
const addr = fc.integer({ min: 0, max: 2 ** 35 - 1 }).map((n) => n * 4096);
const prot = fc.integer({ min: 0, max: 7 });
const err = fc.option(fc.constantFrom(...ERR_NAMES), { nil: undefined });
const range = fc.record({ map: name, offset, len });

/** Drops undefined fields: the parser leaves absent options out. */
const op = <T extends object>(o: T): Op => Object.fromEntries(Object.entries({ ...o, loc }).filter(([, v]) => v !== undefined)) as unknown as Op;

const OPS: Record<OpKind, fc.Arbitrary<Op>> = {
  config: fc
    .subarray([['thp', 'always'], ['pt_reclaim', 'off'], ['swap', '16M'], ['need_resched', '4'], ['guard_off', 'zap-fastpath-fix']] as const, { minLength: 1 })
    .map((kv) => op({ op: 'config', settings: Object.fromEntries(kv) })),
  process: fc.record({ name, err }).map((r) => op({ op: 'process', ...r })),
  switch: fc.record({ name, err }).map((r) => op({ op: 'switch', ...r })),
  exit: fc.record({ name, err }).map((r) => op({ op: 'exit', ...r })),
  fork: fc.record({ parent: name, name }).map((r) => op({ op: 'fork', ...r })),
  memfd: fc.record({ name, size: len, err }).map((r) => op({ op: 'memfd', ...r })),
  file: fc.record({ name, size: len, folio: fc.constantFrom(4096, 2 ** 21), err }).map((r) => op({ op: 'file', ...r })),
  map: fc.oneof(
    fc
      .record({ name, shared: fc.boolean(), size: len, at: fc.option(addr, { nil: undefined }), prot: fc.option(prot, { nil: undefined }), huge: fc.constantFrom(undefined, 'hugepage', 'nohugepage'), locked: fc.boolean(), err })
      .map((r) => op({ op: 'map', kind: 'anon', offset: 0, ...r })),
    fc
      .record({ name, kind: fc.constantFrom('shmem', 'file'), file: name, offset, shared: fc.boolean(), size: len, at: fc.option(addr, { nil: undefined }), prot: fc.option(prot, { nil: undefined }), huge: fc.constantFrom(undefined, 'hugepage', 'nohugepage'), locked: fc.boolean(), err })
      .map((r) => op({ op: 'map', ...r })),
    fc.record({ name, kind: fc.constantFrom('tcp' as const, 'binder' as const), size: len, at: fc.option(addr, { nil: undefined }), err }).map((r) => op({ op: 'map', offset: 0, shared: true, prot: 1, locked: false, ...r })),
  ),
  touch: fc.record({ r: range, write: fc.boolean(), every: fc.option(pages(512), { nil: undefined }), err }).map(({ r, ...o }) => op({ op: 'touch', ...r, ...o })),
  madvise: fc.record({ r: range, advice: fc.constantFrom(...ADVICES), err }).map(({ r, ...o }) => op({ op: 'madvise', ...r, ...o })),
  fadvise: fc.record({ r: range, advice: fc.constantFrom(...FADVICES), err }).map(({ r, ...o }) => op({ op: 'fadvise', ...r, ...o })),
  unmap: fc.record({ r: range, err }).map(({ r, ...o }) => op({ op: 'unmap', ...r, ...o })),
  mlock: fc.record({ r: range, onfault: fc.constantFrom(undefined, true as const), err }).map(({ r, ...o }) => op({ op: 'mlock', ...r, ...o })),
  munlock: fc.record({ r: range, err }).map(({ r, ...o }) => op({ op: 'munlock', ...r, ...o })),
  mprotect: fc.record({ r: range, prot, err }).map(({ r, ...o }) => op({ op: 'mprotect', ...r, ...o })),
  mremap: fc
    .record({ r: range, newLen: len, maymove: fc.boolean(), at: fc.option(addr, { nil: undefined }), err })
    .map(({ r, ...o }) => op({ op: 'mremap', ...r, ...o })),
  uffd_register: fc.record({ r: range, mode: fc.constantFrom(...UFFD_REGISTER_MODES), err }).map(({ r, ...o }) => op({ op: 'uffd_register', ...r, ...o })),
  uffd_copy: fc.record({ r: range, err }).map(({ r, ...o }) => op({ op: 'uffd_copy', ...r, ...o })),
  uffd_zeropage: fc.record({ r: range, err }).map(({ r, ...o }) => op({ op: 'uffd_zeropage', ...r, ...o })),
  uffd_writeprotect: fc.record({ r: range, wp: fc.boolean(), err }).map(({ r, ...o }) => op({ op: 'uffd_writeprotect', ...r, ...o })),
  uffd_move: fc.record({ r: range, dst: name, dstOffset: offset, holes: fc.boolean(), err }).map(({ r, ...o }) => op({ op: 'uffd_move', ...r, ...o })),
  tcp_zerocopy: fc.record({ r: range, err }).map(({ r, ...o }) => op({ op: 'tcp_zerocopy', ...r, ...o })),
  binder_transaction: fc.record({ r: range, err }).map(({ r, ...o }) => op({ op: 'binder_transaction', ...r, ...o })),
  migrate: range.map((r) => op({ op: 'migrate', ...r })),
  swapoff: err.map((e) => op({ op: 'swapoff', err: e })),
  clear_refs: fc.record({ type: fc.constantFrom(1, 2, 3, 5), err }).map((r) => op({ op: 'clear_refs', ...r })),
  snapshot: fc.record({ label: name, range: fc.option(range, { nil: undefined }) }).map((r) => op({ op: 'snapshot', ...r })),
  expect: fc
    .record({ field: fc.constantFrom(...EXPECT_FIELDS), delta: fc.boolean(), cmp: fc.constantFrom(...CMP_OPS), value: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) })
    .map((r) => op({ op: 'expect', ...r })),
};

describe('formatOp', () => {
  it('has a generator for every op word of the grammar', () => {
    expect(Object.keys(OPS).sort()).toEqual([...OP_WORDS].sort());
  });

  it('prints every op so that the parser reads the same op back', () => {
    fc.assert(
      fc.property(fc.oneof(...Object.values(OPS)), (o) => {
        const text = formatOp(o);
        const back = parseOpLine(text);
        if (!back.ok) throw new Error(`${text}: ${back.errors.map((e) => e.message).join('; ')}`);
        expect(back.op, text).toEqual(o);
      }),
      { numRuns: 2000, seed: 20261205 },
    );
  });

  it('prints the canonical spelling: sizes with units, addresses in hex, err= last', () => {
    expect(formatOp({ op: 'map', name: 'A', kind: 'anon', offset: 0, size: 2 ** 21, shared: false, locked: true, at: 2 ** 44, prot: 1, huge: 'hugepage', err: 'EEXIST' })).toBe(
      'map A anon private 2M at=0x100000000000 prot=r-- hugepage locked err=EEXIST',
    );
    expect(formatOp({ op: 'touch', map: 'A', offset: 4096, len: 3 * 4096, write: true, every: 8192 })).toBe('touch A 4K 12K write every=8K');
    expect(formatOp({ op: 'expect', field: 'VmPTE', delta: true, cmp: '<=', value: -4 })).toBe('expect VmPTE delta <= -4');
  });
});
