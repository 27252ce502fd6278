/**
 * The fuzz suite's inputs (issue 15, "make it find these itself"): one fast-check arbitrary per
 * input family, each mixing valid-ish inputs (the language's own words, sizes at and past its
 * limits) with hostile ones (a word replaced by junk, lines duplicated or cut, huge numbers).
 * A case is a command line for `ptlab` with the files it names; `work` estimates the modelled work
 * it asks for (pages touched, executions, records), from which the runner derives its time bound.
 *
 * Valid inputs are kept small on purpose: a valid `touch` of a terabyte is modelled work, not a
 * defect, so dense accesses stay within a few MiB and large sizes appear where they cost nothing
 * (mappings, files, strides, ranges the model refuses or walks by VMA).
 */
import fc from 'fast-check';
import { ADVICES } from '../script/ast.js';
import { SCRIPT_SETTINGS } from '../mm/config.js';
import { TASK_KINDS } from '../scenarios/tasks.js';
import { GUARD_NAMES } from '../mm/config.js';
import { GENERATORS } from '../workloads/generators/index.js';
import { POLICIES } from '../workloads/policies/index.js';
import { PAGE_SIZE } from '../mm/const.js';

export const FAMILIES = ['scripts', 'scenarios', 'tokens', 'options', 'traces', 'documents'] as const;
export type Family = (typeof FAMILIES)[number];

export interface FuzzCase {
  family: Family;
  /** Arguments after `ptlab`. `$F` is the case's input file, `$G` a second one, `$OUT` an output path. */
  argv: string[];
  /** Input files by placeholder (`$F`, `$G`): their text. */
  files: Record<string, string>;
  /** Modelled work asked for, in pages touched or steps run (the time bound grows with it). */
  work: number;
  /** Also check that `trace to-script -o $OUT`, when it exits 0, wrote a script the parser accepts. */
  checkScript?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Atoms

const HOSTILE_WORDS = [
  '', '0', '-1', '-0', '0x', '0x-1', '1e3', '1.5', 'NaN', 'Infinity', '18446744073709551616', '9007199254740993',
  '0x1fffffffff000', '0x8000000000000', '99999999999999999999999', '4k', '4KB', '2m', 'ff', '=', 'x=y', 'err=', '#',
  '"', '\\', 'ä', '💥', '\u0000', '\u202e', 'a'.repeat(300), 'read|write', 'P P', 'M0\tM1', '\r',
];
const hostileWord: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_WORDS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String) },
);

const parseUnit = (s: string): number => {
  const m = /^(0x[0-9a-f]+|[0-9]+)([KMGT]?)$/i.exec(s);
  if (!m) return 0;
  const v = Number(m[1]);
  return v * 2 ** ({ '': 0, K: 10, M: 20, G: 30, T: 40 }[m[2].toUpperCase()] ?? 0);
};
/** Offsets and lengths of dense work: a few MiB at most. */
const SMALL = ['0', '4K', '8K', '12K', '64K', '1M', '2M', '4M'];
/** Sizes of mappings and files: cheap whatever their size (the model is lazy), and past the limits. */
const SIZES = ['4K', '8K', '64K', '2M', '4M', '6M', '1G', '1T', '2T', '8T', '9T', '3K', '0', '0x1fffffffff000', '128T'];
const ADDRS = ['0x100000000000', '0x100000200000', '0x100000001000', '0x7fffffffe000', '0x7ffffffff000', '0x800000000000', '0x1fffffffffe000', '0x1000', '0', '0x555555554000'];

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const name = (prefix: string, n: number) => fc.integer({ min: 0, max: n - 1 }).map((i) => `${prefix}${i}`);

/** Apply 1-3 hostile edits to a text: a word replaced, a word dropped, a line doubled or cut, junk lines. */
function mutate(text: string): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 5 }), hostileWord);
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const lines = text.split('\n');
    for (const [li, wi, kind, junk] of edits) {
      const l = li % Math.max(1, lines.length);
      const words = (lines[l] ?? '').split(' ');
      const w = wi % Math.max(1, words.length);
      switch (kind) {
        case 0:
          words[w] = junk;
          lines[l] = words.join(' ');
          break;
        case 1:
          words.splice(w, 1);
          lines[l] = words.join(' ');
          break;
        case 2:
          lines.splice(l, 0, lines[l] ?? '');
          break;
        case 3:
          lines[l] = (lines[l] ?? '').slice(0, wi % 20);
          break;
        case 4:
          lines.splice(l, 0, `${junk} ${junk}`);
          break;
        default:
          words.splice(w, 0, junk.includes('=') ? junk : `${junk}=${junk}`);
          lines[l] = words.join(' ');
      }
    }
    return lines.join('\n');
  });
}

/** A text, or the same text mutated (hostile), in about the given share. */
function maybeMutated(text: fc.Arbitrary<{ text: string; work: number }>, hostileShare = 0.4): fc.Arbitrary<{ text: string; work: number }> {
  // Unbiased: fast-check favours the ends of a range, which would mutate far more than the share.
  return fc.tuple(text, fc.noBias(fc.integer({ min: 0, max: 999 }))).chain(([t, r]) => (r < hostileShare * 1000 ? mutate(t.text).map((m) => ({ text: m, work: t.work })) : fc.constant(t)));
}

// ---------------------------------------------------------------------------------------------
// Op scripts

const PROTS = ['rw-', 'r--', '---', 'rwx', 'r-x', '-w-', 'rw'];
const ERRS = ['EINVAL', 'ENOMEM', 'EFAULT', 'EEXIST', 'SIGSEGV', 'SIGBUS', 'EAGAIN', 'EPERM', 'EBUSY'];

/** `arb` in about one case of `n`, else null. */
const rarely = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> => fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
const errOpt = rarely(pick(ERRS), 20).map((e) => (e ? ` err=${e}` : ''));

/** Valid values of each setting (src/mm/config.ts), and a junk one now and then. */
const SETTING_VALUES: Record<string, string[]> = {
  pt_reclaim: ['on', 'off'], version: ['B', 'S0', 'S1'], thp: ['always', 'madvise', 'never'], shmem_thp: ['always', 'within_size', 'advise', 'never', 'deny', 'force'],
  split_ptlocks: ['on', 'off'], table_free: ['rcu', 'ipi'], need_resched: ['never', '1', '3'], dontneed_lock: ['mmap', 'vma'], fault_around_bytes: ['4096', '65536'],
  pwc_flush: ['all', 'addr'], batch_alloc: ['ok', 'fail'], guard_off: [...GUARD_NAMES.slice(0, 3), 'zap-fastpath-fix+any-skipped'],
};
const configLine = pick(Object.keys(SCRIPT_SETTINGS)).chain((k) => fc.oneof({ weight: 20, arbitrary: pick(SETTING_VALUES[k] ?? ['on']) }, { weight: 1, arbitrary: hostileWord }).map((v) => `config ${k}=${v}`));

interface MapPlan {
  name: string;
  size: string;
}

/** A map line; its size is cheap whatever it is, `locked` only on small ones (mlock populates). */
const mapLine = (m: string, files: readonly { name: string; kind: string; size: string }[]): fc.Arbitrary<{ text: string; plan: MapPlan; work: number }> =>
  fc
    .tuple(
      fc.oneof({ weight: 12, arbitrary: pick(['2M', '4M', '64K', '8K', '6M']) }, { weight: 1, arbitrary: pick(['1G', '1T']) }, { weight: 1, arbitrary: pick(SIZES) }),
      files.length ? fc.oneof(pick(['anon private', 'anon shared']), fc.tuple(pick(files), pick(['0', '0', '0', '4K']), pick(['shared', 'private']))) : pick(['anon private', 'anon shared']),
      rarely(pick(ADDRS), 8),
      rarely(pick(PROTS.slice(0, 6)), 3),
      rarely(pick(['hugepage', 'nohugepage', 'locked']), 3),
      errOpt,
    )
    .map(([anonSize, kind, at, prot, flag, e]) => {
      // A file mapping fits its file (mostly: a 3K file is mapped past its end in whole pages).
      const fileRoom = typeof kind === 'string' ? 0 : Math.max(PAGE_SIZE, Math.ceil(parseUnit(kind[0].size) / PAGE_SIZE) * PAGE_SIZE - parseUnit(kind[1]));
      const size = typeof kind === 'string' ? anonSize : parseUnit(anonSize) <= fileRoom ? anonSize : String(fileRoom);
      const head = typeof kind === 'string' ? `${kind} ${size}` : `${kind[0].kind === 'memfd' ? 'shmem' : 'file'} ${kind[0].name} ${kind[1]} ${size} ${kind[2]}`;
      const lock = flag === 'locked' && parseUnit(size) > 8 * 2 ** 20 ? null : flag;
      return { text: `map ${m} ${head}${at ? ` at=${at}` : ''}${prot ? ` prot=${prot}` : ''}${lock ? ` ${lock}` : ''}${e}`, plan: { name: m, size }, work: lock === 'locked' ? parseUnit(size) / PAGE_SIZE : 0 };
    });

/** An offset and length inside a mapping of `size`, a few MiB of dense work at most. */
const rangeIn = (size: string): fc.Arbitrary<[string, string]> => {
  const n = Math.max(parseUnit(size), PAGE_SIZE);
  const offs = SMALL.filter((x) => parseUnit(x) < n);
  return pick(offs.length ? offs : ['0']).chain((o) => pick(SMALL.filter((x) => x !== '0' && parseUnit(o) + parseUnit(x) <= n).concat(n - parseUnit(o) >= PAGE_SIZE ? [] : ['4K'])).map((l) => [o, l] as [string, string]));
};

/** One valid-looking op on one of the script's mappings, with its modelled work in pages. */
const opOn = (maps: readonly MapPlan[]): fc.Arbitrary<{ text: string; work: number }> =>
  pick(maps).chain(({ name: m, size }) =>
    fc.oneof(
      { weight: 5, arbitrary: fc.tuple(rangeIn(size), pick(['read', 'write']), rarely(pick(['8K', '2M', '1G']), 4), errOpt).map(([[o, l], rw, every, e]) => ({ text: `touch ${m} ${o} ${l} ${rw}${every ? ` every=${every}` : ''}${e}`, work: parseUnit(l) / PAGE_SIZE })) },
      // A sparse touch of a whole huge mapping: a few accesses.
      { weight: parseUnit(size) >= 2 ** 40 ? 2 : 0, arbitrary: pick(['write', 'read']).map((rw) => ({ text: `touch ${m} 0 ${size} ${rw} every=1G`, work: parseUnit(size) / 2 ** 30 })) },
      {
        weight: 5,
        arbitrary: fc.tuple(rangeIn(size), pick(ADVICES), errOpt).map(([[o, l], a, e]) => ({ text: `madvise ${m} ${o} ${l} ${a}${e}`, work: parseUnit(l) / PAGE_SIZE })),
      },
      // Advice over a whole huge mapping, of the kinds that cost by what is mapped there, not by the
      // range (population and guard markers fill every page table of the range: dense work).
      { weight: parseUnit(size) >= 2 ** 30 ? 2 : 0, arbitrary: pick(ADVICES.filter((a) => !/populate|guard_install/.test(a))).map((a) => ({ text: `madvise ${m} 0 ${size} ${a}`, work: parseUnit(size) / 2 ** 21 })) },
      { weight: 2, arbitrary: fc.tuple(pick(['unmap', 'munlock', 'mlock']), rangeIn(size), errOpt).map(([k, [o, l], e]) => ({ text: `${k} ${m} ${o} ${l}${e}`, work: parseUnit(l) / PAGE_SIZE })) },
      { weight: 2, arbitrary: fc.tuple(rangeIn(size), pick(PROTS.slice(0, 6)), errOpt).map(([[o, l], p, e]) => ({ text: `mprotect ${m} ${o} ${l} ${p}${e}`, work: 0 })) },
      {
        weight: 2,
        arbitrary: fc.tuple(rangeIn(size), fc.oneof({ weight: 8, arbitrary: pick(SMALL.slice(1)) }, { weight: 1, arbitrary: pick(['1T', '0x1ffffffffff000', '128T']) }), fc.boolean(), rarely(pick(ADDRS), 4), errOpt).map(([[o, l], n, may, at, e]) => ({
          text: `mremap ${m} ${o} ${l} ${n}${may ? ' maymove' : ''}${at ? ` at=${at}` : ''}${e}`,
          work: 0,
        })),
      },
      { weight: 2, arbitrary: fc.tuple(name('s', 3), rarely(rangeIn(size), 2)).map(([s, r]) => ({ text: `snapshot ${s}${r ? ` ${m} ${r[0]} ${r[1]}` : ''}`, work: r ? parseUnit(r[1]) / PAGE_SIZE : 0 })) },
      // The pagemap of a whole huge mapping: walked by table, so it costs what is mapped there
      // (a per-page walk of 4 TiB ran out of memory).
      { weight: parseUnit(size) >= 2 ** 30 ? 1 : 0, arbitrary: name('s', 3).map((s) => ({ text: `snapshot ${s} ${m} 0 ${size}`, work: parseUnit(size) / 2 ** 21 })) },
    ),
  );

/** Ops the language or the state refuses: a name that does not exist, a range past the end, a bad word. */
const badOp: fc.Arbitrary<{ text: string; work: number }> = fc
  .oneof(
    pick(['touch M9 0 4K write', 'madvise M0 0 1T dontneed', 'mprotect M0 0 4K rw', 'exit P1', 'switch P7', 'touch M0 3K 4K read', 'unmap M0 0 0', 'expect VmPTE delta == 12', 'frob M0', 'map M0 anon private 4K', 'process P0', 'fork P7 Q', 'fork P0 P0', 'fork P0']),
    fc.tuple(pick(['touch', 'madvise', 'unmap', 'mremap', 'snapshot', 'map', 'memfd', 'config', 'fork']), fc.array(hostileWord, { maxLength: 5 })).map(([op, ws]) => `${op} ${ws.join(' ')}`),
  )
  .map((text) => ({ text, work: 0 }));

/**
 * An mremap that grows a locked range populates what it adds (mremap(): mm_populate() of a
 * VM_LOCKED VMA): growing by a terabyte is 2^28 faults of modelled work, not a defect, and more
 * than a case may take. So a mapping that is mapped `locked` or mlocked anywhere in the script
 * grows by a few MiB at most; the others keep their hostile new lengths (cheap: nothing is
 * populated).
 */
function unlockedGrowth(maps: readonly string[], ops: readonly { text: string; work: number }[]): { text: string; work: number }[] {
  const locked = new Set<string>();
  for (const m of maps) if (/ locked( |$)/.test(m)) locked.add(m.split(' ')[1]);
  for (const o of ops) if (o.text.startsWith('mlock ')) locked.add(o.text.split(' ')[1]);
  return ops.map((o) => {
    const w = o.text.split(' ');
    if (w[0] !== 'mremap' || !locked.has(w[1]) || parseUnit(w[4] ?? '') <= 8 * 2 ** 20) return o;
    w[4] = '4M';
    return { text: w.join(' '), work: o.work + 2 ** 20 / PAGE_SIZE };
  });
}

/** A script: config, files, mappings, then ops on them; work summed (pages, plus a unit a line). */
const scriptBody = (maxOps: number): fc.Arbitrary<{ text: string; work: number }> =>
  fc
    .tuple(
      fc.array(configLine, { maxLength: 2 }),
      fc.array(fc.tuple(pick(['memfd', 'file']), fc.oneof({ weight: 4, arbitrary: pick(['2M', '4M', '8K']) }, { weight: 1, arbitrary: pick(SIZES) }), rarely(fc.constant(' folio=2M'), 3)), { maxLength: 2 }),
      fc.integer({ min: 1, max: 4 }),
    )
    .chain(([cfg, fileSpecs, nMaps]) => {
      const files = fileSpecs.map(([kind, size, folio], i) => ({ name: `F${i}`, kind, size, line: `${kind} F${i} ${size}${kind === 'file' && folio ? folio : ''}` }));
      return fc.tuple(fc.tuple(...Array.from({ length: nMaps }, (_, i) => mapLine(`M${i}`, files))), fc.constant(cfg), fc.constant(files)).chain(([maps, c, fs2]) =>
        fc.array(fc.oneof({ weight: 40, arbitrary: opOn(maps.map((x) => x.plan)) }, { weight: 1, arbitrary: badOp }, { weight: 2, arbitrary: pick(['expect VmPTE delta >= 0', 'expect pte_tables >= 0', 'expect RssAnon >= 0']).map((t) => ({ text: t, work: 0 })) }), { minLength: 1, maxLength: maxOps })
          .map((ops) => unlockedGrowth(maps.map((x) => x.text), ops))
          .map((ops) => ({
            // The first snapshot comes before any expect: an expect needs one.
            text: [...c, ...fs2.map((f) => f.line), 'process P0', ...maps.map((x) => x.text), 'snapshot start', ...ops.map((o) => o.text)].join('\n') + '\n',
            work: maps.reduce((n, x) => n + x.work, 0) + ops.reduce((n, o) => n + o.work, 0) + ops.length,
          })),
      );
    });

const scripts: fc.Arbitrary<FuzzCase> = fc.tuple(maybeMutated(scriptBody(24), 0.15), fc.subarray(['--json', '--check'])).map(([s, flags]) => ({
  family: 'scripts',
  argv: ['run', ...flags, '$F'],
  files: { $F: s.text },
  work: s.work,
}));

// ---------------------------------------------------------------------------------------------
// Scenario files

/** A `cpu N OP` line on one of the scenario's mappings, its range mostly inside it. */
const cpuLine = (maps: readonly MapPlan[]) =>
  fc
    .tuple(fc.oneof({ weight: 12, arbitrary: pick(['0', '1']) }, { weight: 1, arbitrary: pick(['2', '7', '8', '9', '-1', 'x', '01']) }), pick(TASK_KINDS), pick(maps), pick(maps), pick([...ADVICES, 'read', 'write']))
    .chain(([cpu, kind, m, other, x]) =>
      fc.tuple(rangeIn(m.size.replace(/^(1T|2M|4M)$/, (v) => (v === '1T' ? '2M' : v))), rangeIn('4K')).map(([[off, len], [dst]]) => {
        const n = m.name;
        switch (kind) {
          case 'madvise':
            return `cpu ${cpu} madvise ${n} ${off} ${len} ${ADVICES.includes(x as never) ? x : 'dontneed'}`;
          case 'touch':
            return `cpu ${cpu} touch ${n} ${off} ${len} ${x === 'read' ? 'read' : 'write'}`;
          case 'uffd_move':
            return `cpu ${cpu} uffd_move ${n} ${off} ${other.name} ${dst}`;
          case 'pte_alloc':
          case 'rmap_walk':
            return `cpu ${cpu} ${kind} ${n} ${off}`;
          case 'mprotect':
            return `cpu ${cpu} mprotect ${n} ${off} ${len} ${x === 'read' ? 'r' : x === 'write' ? 'rw' : 'none'}`;
          case 'mremap':
            return `cpu ${cpu} mremap ${n} ${off} ${len} ${other.name} ${dst}`;
          default:
            // One PTE table's worth at most.
            return `cpu ${cpu} ${kind} ${n} ${off} ${parseUnit(off) + parseUnit(len) <= 2 ** 21 ? len : '4K'}`;
        }
      }),
    );

const scenarioText: fc.Arbitrary<{ text: string; work: number }> = fc
  .tuple(
    fc.oneof({ weight: 12, arbitrary: pick(GUARD_NAMES) }, { weight: 1, arbitrary: fc.constant('bogus-guard') }),
    fc.oneof({ weight: 6, arbitrary: pick(['none', 'nonempty-detach', 'pt-use-after-free', 'lost-pte']) }, { weight: 1, arbitrary: fc.constant('frob') }),
    rarely(fc.oneof({ weight: 6, arbitrary: pick(['0', '1', '2']) }, { weight: 1, arbitrary: pick(['10', 'x']) }), 3),
    rarely(fc.oneof({ weight: 6, arbitrary: pick(['need_resched', 'batch_alloc', 'need_resched batch_alloc']) }, { weight: 1, arbitrary: fc.constant('sleep') }), 4),
    fc.array(pick(['2M', '4M', '4K', '1T']), { minLength: 1, maxLength: 3 }).chain((sizes) => {
      const maps = sizes.map((size, i) => ({ name: `M${i}`, size }));
      return fc.tuple(fc.constant(maps), fc.array(opOn(maps).filter((o) => !/populate|mlock/.test(o.text)), { maxLength: 4 }), fc.array(cpuLine(maps), { minLength: 1, maxLength: 4 }));
    }),
  )
  .map(([guard, violation, bound, choices, [maps, setup, cpus]]) => ({
    text: [
      'scenario fuzzed',
      'about a fuzzed scenario',
      ...(guard ? [`guard ${guard}`] : []),
      `violation ${violation}`,
      ...(bound ? [`bound ${bound}`] : []),
      ...(choices ? [`choices ${choices}`] : []),
      'process P',
      ...maps.map((m) => `map ${m.name} anon private ${m.size}`),
      ...setup.map((o) => o.text),
      ...cpus,
    ].join('\n') + '\n',
    work: setup.reduce((n, o) => n + o.work, 0) + 4 * 1024,
  }));

const scenarios: fc.Arbitrary<FuzzCase> = fc
  .tuple(maybeMutated(scenarioText, 0.15), fc.integer({ min: 1, max: 12 }), pick(['dfs', 'random', 'pct']), fc.nat(1000), fc.subarray(['--guard-off', '--json', '--all']))
  .map(([s, budget, mode, seed, flags]) => ({
    family: 'scenarios',
    argv: ['explore', '$F', '--budget', String(budget), '--mode', mode, '--seed', String(seed), ...flags],
    files: { $F: s.text },
    // Each execution reruns the setup and at most 10,000 steps; minimizing a violation runs 200 more.
    work: (budget + 200) * (s.work + 10_000),
  }));

// ---------------------------------------------------------------------------------------------
// Replay tokens

const SHIPPED_SCENARIOS = [
  'collapse_vs_vma_lock', 'fastpath_after_unlock', 'fastpath_blocking_pml', 'gup_fast_vs_reclaim', 'markers_vs_reclaim', 'ptl_freed_early', 'range_underflow',
  'mprotect_vs_dontneed', 'mremap_vs_dontneed', 'retract_vs_dontneed', 'retract_vs_dontneed_refilled', 'rmap_walk_vs_dontneed', 'rw_nolock_pte_same_control', 'semi_rcu_vs_pte_offset_map', 'swapin_vs_dontneed', 'uffd_copy_vs_dontneed', 'uffd_move_vs_dontneed', 'uffd_wp_vs_dontneed',
  'wrong_flush_addr',
];
const tokenPart = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 60 })).map(([t, n]) => (n === 1 ? `${t}` : `${t}*${n}`)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([t, c]) => `${t}c${c}`) },
  { weight: 1, arbitrary: pick(['0*1000000000', '0*99999999999999999999', '0*0', '7', '999', '-1', 'c', '0c', '*3', '0**2', '', '0.', ' 1', '0*10001']) },
  { weight: 1, arbitrary: hostileWord },
);
const token = fc.oneof(
  { weight: 6, arbitrary: fc.array(tokenPart, { minLength: 1, maxLength: 40 }).map((ps) => ps.join('.')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 400_000 }).map((n) => '1.'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);
/**
 * Tokens of the shipped example races (examples/*.explore.json), as they are and edited a little
 * (a count off by one, a part dropped or doubled, another task): real replays and near misses.
 */
function nearTokens(found: readonly { scenario: string; token: string }[]): fc.Arbitrary<[string, string, string[]]> {
  return fc.tuple(pick(found), fc.nat(), fc.integer({ min: 0, max: 4 }), fc.integer({ min: -2, max: 2 })).map(([f, at, kind, d]) => {
    const parts = f.token.split('.');
    const i = at % parts.length;
    if (kind === 1) parts.splice(i, 1);
    else if (kind === 2) parts.splice(i, 0, parts[i]);
    else if (kind === 3) parts[i] = parts[i].replace(/^\d+/, (t) => String((Number(t) + 1) % 3));
    else if (kind === 4) parts[i] = parts[i].replace(/\*(\d+)$/, (_m, n) => `*${Math.max(1, Number(n) + d)}`);
    return [f.scenario, parts.join('.'), ['--guard-off']];
  });
}

function tokenArbitrary(found: readonly { scenario: string; token: string }[]): fc.Arbitrary<FuzzCase> {
  const random = fc.tuple(pick([...SHIPPED_SCENARIOS, 'no_such_scenario']), token, fc.subarray(['--guard-off', '--json'])) as fc.Arbitrary<[string, string, string[]]>;
  const arbs = found.length ? [{ weight: 1, arbitrary: nearTokens(found) }, { weight: 2, arbitrary: random }] : [{ weight: 1, arbitrary: random }];
  return fc.oneof(...arbs).map(([n, t, flags]) => ({ family: 'tokens', argv: ['explore', n, '--replay', t, ...flags], files: {}, work: 200_000 }));
}

// ---------------------------------------------------------------------------------------------
// Command-line options of every command that runs in-process (not record, diff, serve: they
// start perf, the live kernel or a server; their option parsing is the same code)

/** Values no numeric option takes, or takes only where they cost little (no large valid counts: they are work). */
const NUMBERS = ['abc', '', '0', '-1', '-0', '1e3', '0x10', '1.5', ' 5', '5 ', '+3', 'NaN', 'Infinity', '99999999999999999999', '2147483649', '1000000001', '0.0001', '1,2', '1,,2'];
const numberValue = (valid: readonly string[]) => fc.oneof({ weight: 2, arbitrary: pick(NUMBERS) }, { weight: 1, arbitrary: pick(valid) }, { weight: 1, arbitrary: hostileWord });
const opt = (flag: string, value: fc.Arbitrary<string>) => rarely(value.map((v) => [flag, v]), 2).map((x) => x ?? []);

const SAMPLE_SCRIPT = 'process P\nmap A anon private 4M\ntouch A 0 2M write\nmadvise A 0 2M dontneed\nsnapshot s\nexpect VmPTE delta <= 12\n';
const SAMPLE_TRACE = 'ptlab-trace 1\nmeta thp=madvise\nprocess P\nmmap 0x100000000000 0x400000 rw- private,anon\ntouch 0x100000000000 0x400000 write\nmadvise 0x100000000000 0x200000 dontneed\nexit\n';
/** Small valid values per generator parameter, and a small base per generator (the defaults are big workloads). */
const GEN_VALID: Record<string, string[]> = {
  rounds: ['1', '3', '10'], ops: ['10', '100'], arena: ['64K', '2M', '16M'], touches: ['10', '100'], size: ['2M', '1G', '1T'], scale: ['0.0005', '0.001'],
  seed: ['1', '7'], shard: ['0', '1'], shards: ['1', '2'], fill: ['0.5', '1'], purge: ['pages', 'blocks', 'extents', 'none'], chunk: ['64K', '2M'], granularity: ['4K', '2M'], frob: ['1'],
};
const GEN_BASE_PARAMS: Record<string, [string, string][]> = {
  'cover-letter': [['rounds', '5']], heap: [['ops', '200'], ['arena', '16M']], sparse: [['touches', '100'], ['size', '1G']], production: [['scale', '0.0005']],
};
const genParam = fc
  .tuple(pick(Object.keys(GENERATORS)), fc.array(pick(Object.keys(GEN_VALID)).chain((k) => fc.tuple(fc.constant(k), numberValue(GEN_VALID[k]))), { maxLength: 3 }))
  .map(([g, params]) => [g, [...(GEN_BASE_PARAMS[g] ?? []), ...params]] as [string, [string, string][]]);

const optionCase: fc.Arbitrary<{ argv: string[]; files: Record<string, string> }> = fc.oneof(
  fc
    .tuple(pick(SHIPPED_SCENARIOS), opt('--mode', fc.oneof(pick(['dfs', 'random', 'pct']), hostileWord)), opt('--bound', numberValue(['-1', '0', '1', '2'])), numberValue(['1', '2', '5']), opt('--seconds', numberValue(['0.5', '1'])), opt('--seed', numberValue(['1', '7'])), opt('--depth', numberValue(['1', '3'])), opt('--guard', fc.oneof(pick(GUARD_NAMES.map((g) => `${g}=off`)), hostileWord)), fc.subarray(['--guard-off', '--all', '--json']))
    .map(([n, mode, bound, budget, seconds, seed, depth, guard, flags]) => ({ argv: ['explore', n, ...mode, ...bound, '--budget', budget, ...seconds, ...seed, ...depth, ...guard, ...flags], files: {} })),
  fc.tuple(opt('--config', fc.oneof(configLine.map((l) => l.slice('config '.length)), hostileWord)), fc.subarray(['--json', '--check']), fc.boolean()).map(([cfg, flags, tl]) => ({ argv: ['run', ...cfg, ...flags, ...(tl ? ['--timeline', '$OUT'] : []), '$F'], files: { $F: SAMPLE_SCRIPT } })),
  fc
    .tuple(genParam, opt('--variants', fc.oneof(pick(['off,on', 'on', 'S0', 'B,on', 'on+round-out', 'frob', '']), hostileWord)), opt('--policy', fc.oneof(pick(Object.keys(POLICIES)), hostileWord)), opt('--samples', numberValue(['1', '50'])), numberValue(['0', '1', '2']), opt('--shards', numberValue(['1', '2'])), fc.boolean())
    .map(([[g, params], variants, policy, samples, workers, shards, out]) => ({
      argv: ['replay', '--generate', g, ...params.flatMap(([k, v]) => ['--param', `${k}=${v}`]), ...variants, ...policy, ...samples, '--workers', workers, ...shards, ...(out ? ['-o', '$OUT'] : [])],
      files: {},
    })),
  fc.tuple(numberValue(['1', '3', '20']), opt('--touch', fc.oneof(pick(['all', 'one']), hostileWord))).map(([rounds, touch]) => ({ argv: ['demo', '--rounds', rounds, ...touch, '--json'], files: {} })),
  genParam.map(([g, params]) => ({ argv: ['generate', g, ...params.map(([k, v]) => `${k}=${v}`), '-o', '$OUT'], files: {} })),
  fc.boolean().map((rebase) => ({ argv: ['trace', 'to-script', '$F', ...(rebase ? ['--rebase'] : []), '-o', '$OUT'], files: { $F: SAMPLE_TRACE } })),
  // bench runs for minutes when its options are good: only cases with at least one bad value.
  fc
    .tuple(pick(NUMBERS.filter((n) => !/^[0-9]+$/.test(n) || Number(n) > 50)), opt('--sizes', numberValue(['1'])), opt('--scale', numberValue(['0.5'])))
    .map(([reps, sizes, scale]) => ({ argv: ['bench', '--no-kernel', '--reps', reps, ...sizes, ...scale, '-o', '$OUT'], files: {} })),
  fc.tuple(pick(['scenarios', 'frobnicate', 'explore', 'run', 'replay', 'report', 'view', 'trace', 'generate']), fc.array(hostileWord, { maxLength: 3 })).map(([cmd, junk]) => ({ argv: [cmd, ...junk.map((j) => (j.startsWith('-') ? j : `--${j}`))], files: {} })),
);

const options: fc.Arbitrary<FuzzCase> = optionCase.map((c) => ({ family: 'options', ...c, work: 200_000 }));

// ---------------------------------------------------------------------------------------------
// Traces

const T_ADDRS = ['0x100000000000', '0x100000200000', '0x100000001000', '0x7fffff000000', '0x7ffffffff000', '0x800000000000', '0x1fffffffffe000', '0x0', '0x1234'];
const T_LENS = ['0x1000', '0x2000', '0x200000', '0x400000', '0x1', '0x0', '0x10000000000', '0x800000000000', '0x1fffffffffffff'];
const T_SLOT = 0x10000000; // 256 MiB between the trace's mappings
const T_BASE = 2 ** 44;

/** Records the format refuses, or that name what does not exist: rare in a trace. */
const badRecord: fc.Arbitrary<{ text: string; work: number }> = fc
  .oneof(
    fc.tuple(pick(['thp', 'shmem_thp', 'seed', 'page_cache_exit', 'smaps_rollup_exit', 'command']), fc.oneof(pick(['bogus', '"a b"', 'f0=1/2 x', 'Rss=', '12x', '"unterminated']), hostileWord)).map(([k, v]) => `meta ${k}=${v}`),
    fc.tuple(pick(['file', 'memfd']), pick(['8796093022209', '0x1fffffffff000', '-1', '1e3'])).map(([k, v]) => `${k} fz ${v}`),
    fc.tuple(pick(T_ADDRS), pick(T_LENS), pick(['private,anon', 'shared,anon', 'private', 'private,anon,hugetlb', 'anon', 'frob']), rarely(pick(ERRS), 3)).map(([a, l, f, e]) => `mmap ${a} ${l} rw- ${f}${e ? ` err=${e}` : ''}`),
    fc.tuple(pick(T_ADDRS), pick(T_ADDRS), pick(['anon', 'special', 'file-private', 'frob'])).map(([a, b, k]) => `vma ${a} ${b} rw- ${k}`),
    fc.tuple(pick(['fault', 'present', 'touch', 'munmap', 'madvise', 'mremap', 'brk', 'switch', 'exit', 'observed']), fc.array(hostileWord, { maxLength: 4 })).map(([k, ws]) => `${k} ${ws.join(' ')}`),
    pick(['present 0x100000000000 0x300000000000', 'touch 0x100000000000 0x800000000000 write every=1073741824', 'fault 0x7ffffffff000 write', 'switch Q', 'process P', 'mremap 0x100000000000 0x1000 0x800000000000 0x100000000000 maymove']),
  )
  .map((text) => ({ text, work: 0 }));

/** The events of a trace over its mappings (slot i at T_BASE + i × 256 MiB, `len` bytes), dense work kept small. */
const traceEvent = (maps: readonly { addr: number; len: number }[]): fc.Arbitrary<{ text: string; work: number }> =>
  fc.tuple(pick(maps), fc.nat(), fc.nat()).chain(([m, x, y]) => {
    const pages = Math.max(1, m.len / PAGE_SIZE);
    const p0 = x % pages;
    const n = 1 + (y % Math.min(pages - p0, 1024));
    const a = hex(m.addr + p0 * PAGE_SIZE);
    const l = hex(n * PAGE_SIZE);
    return fc.oneof(
      { weight: 6, arbitrary: pick(['read', 'write', 'exec']).map((acc) => ({ text: `fault ${hex(m.addr + p0 * PAGE_SIZE + (y % PAGE_SIZE))} ${acc}`, work: 1 })) },
      { weight: 4, arbitrary: fc.tuple(pick(['read', 'write']), pick(['', ' every=8192', ' every=1', ' every=6144'])).map(([rw, ev]) => ({ text: `touch ${a} ${l} ${rw}${ev}`, work: n })) },
      { weight: 1, arbitrary: fc.boolean().map((w) => ({ text: `present ${a} ${hex(m.addr + (p0 + n) * PAGE_SIZE)}${w ? ' write' : ''}`, work: n })) },
      { weight: 2, arbitrary: pick(['dontneed', 'free', 'hugepage', 'nohugepage', 'collapse', 'guard_install', 'guard_remove', 'populate_read', 'advice=12']).map((adv) => ({ text: `madvise ${a} ${l} ${adv.startsWith('advice') ? '' : adv}${adv.startsWith('advice') ? adv : ''}`.replace('  ', ' '), work: adv.startsWith('populate') ? n : 0 })) },
      { weight: 1, arbitrary: pick(['r--', 'rw-', '---']).map((p) => ({ text: `mprotect ${a} ${l} ${p}`, work: 0 })) },
      { weight: 1, arbitrary: fc.constant({ text: `munmap ${a} ${l}`, work: 0 }) },
      { weight: 1, arbitrary: fc.tuple(pick(['', ' maymove', ' maymove fixed']), fc.boolean()).map(([f, move]) => ({ text: `mremap ${hex(m.addr)} ${hex(m.len)} ${hex(m.len * 2)} ${move ? hex(m.addr + T_SLOT / 2) : hex(m.addr)}${f}`, work: 0 })) },
    );
  });

const hex = (n: number) => `0x${n.toString(16)}`;

const traceText: fc.Arbitrary<{ text: string; work: number }> = fc
  .tuple(
    fc.oneof({ weight: 30, arbitrary: fc.constant('ptlab-trace 1') }, { weight: 1, arbitrary: pick(['ptlab-trace 2', 'ptlab-trace', '', 'ptlab-trace 1 extra']) }),
    rarely(pick(['meta thp=always', 'meta thp=never shmem_thp=advise', 'meta command="a b" seed=3', 'meta page_cache_exit="f0=1/2 f1=3/4"']), 2),
    fc.array(fc.tuple(pick(['file', 'memfd']), pick(['4096', '8192', '2097152', '4194304', '1099511627776', '8796093022208', '100'])), { maxLength: 2 }),
    fc.array(fc.tuple(pick([0x1000, 0x2000, 0x200000, 0x400000, 0x10000]), pick(['rw-', 'r--', 'rwx']), pick(['private,anon', 'shared,anon', 'private,anon,noreserve', 'file-private', 'file-shared', 'private,anon,populate'])), { minLength: 1, maxLength: 4 }),
  )
  .chain(([header, meta, files, specs]) => {
    const maps = specs.map(([len], i) => ({ addr: T_BASE + i * T_SLOT, len }));
    const fileLines = files.map(([k, size], i) => `${k} f${i} ${size}${k === 'file' && i === 1 ? ' folio=2M' : ''}`);
    const mmaps = specs.map(([len, prot, flags], i) => {
      const file = flags.startsWith('file') && files.length ? ` file=f${i % files.length} off=0` : '';
      const f = flags.startsWith('file') ? (file ? (flags === 'file-private' ? 'private' : 'shared') : 'private,anon') : flags;
      return `mmap ${hex(maps[i].addr)} ${hex(len)} ${prot} ${f}${file}`;
    });
    return fc.array(fc.oneof({ weight: 30, arbitrary: traceEvent(maps) }, { weight: 1, arbitrary: badRecord }), { minLength: 1, maxLength: 30 }).map((events) => ({
      text: [header, ...(meta ? [meta] : []), ...fileLines, 'process P pid=1', ...mmaps, ...events.map((e) => e.text), 'exit'].join('\n') + '\n',
      work: events.reduce((n, e) => n + e.work, 0) + specs.reduce((n, [len, , f]) => n + (f.includes('populate') ? len / PAGE_SIZE : 0), 0) + events.length,
    }));
  });
const traces: fc.Arbitrary<FuzzCase> = fc
  .tuple(maybeMutated(traceText, 0.15), fc.boolean(), fc.subarray(['--rebase']), rarely(pick(['off,on', 'on', 'S0', 'on+coalesce', 'on+round-out']), 2))
  .map(([t, toScript, rebase, variants]) => ({
    family: 'traces',
    argv: toScript ? ['trace', 'to-script', '$F', ...rebase, '-o', '$OUT'] : ['replay', '$F', '--workers', '0', ...(variants ? ['--variants', variants] : [])],
    files: { $F: t.text },
    work: t.work * 4,
    checkScript: toScript,
  }));

// ---------------------------------------------------------------------------------------------
// JSON documents (ptlab view, ptlab report): shipped examples mutated at a random path, or junk

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const HOSTILE_JSON: Json[] = [null, -1, 0, 1e308, -1e308, 2 ** 53, 1.5, '', 'x', 'ptlab-explore', [], {}, [[[]]], { type: 'ptlab-run' }, 'a'.repeat(10_000), true];

function paths(v: Json, out: (string | number)[][] = [], at: (string | number)[] = [], depth = 0): (string | number)[][] {
  out.push(at);
  if (depth > 6 || out.length > 4000 || v === null || typeof v !== 'object') return out;
  if (Array.isArray(v)) v.slice(0, 4).forEach((x, i) => paths(x, out, [...at, i], depth + 1));
  else for (const k of Object.keys(v)) paths(v[k], out, [...at, k], depth + 1);
  return out;
}

function mutateJson(doc: Json, path: (string | number)[], kind: number, value: Json): string {
  const copy = structuredClone(doc);
  if (path.length === 0) return JSON.stringify(kind % 2 ? value : copy);
  let parent: Json = copy;
  for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[k];
  const key = path[path.length - 1];
  const box = parent as Record<string | number, Json>;
  if (kind === 0) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete box[key];
  } else if (kind === 1) box[key] = value;
  else if (kind === 2) box[key] = Array.from({ length: 3 }, () => box[key]);
  else {
    // 5,000 levels of nesting, spliced in as text (JSON.stringify itself would overflow): what a parser has to survive.
    box[key] = '\u0000deep\u0000';
    return JSON.stringify(copy).replace('"\\u0000deep\\u0000"', `${'['.repeat(5000)}${JSON.stringify(value)}${']'.repeat(5000)}`);
  }
  return JSON.stringify(copy);
}

export function documentArbitrary(examples: readonly { name: string; doc: Json }[]): fc.Arbitrary<FuzzCase> {
  const mutated = fc.tuple(fc.nat(examples.length - 1), fc.nat(), fc.integer({ min: 0, max: 3 }), pick(HOSTILE_JSON)).map(([e, p, kind, value]) => {
    const ps = paths(examples[e].doc);
    return mutateJson(examples[e].doc, ps[p % ps.length], kind, value);
  });
  const junk = fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc.nat(examples.length - 1).chain((e) => fc.nat().map((n) => JSON.stringify(examples[e].doc).slice(0, n % 5000))),
    pick(['', '{', '[]', 'null', '{"type":"ptlab-replay-report"}', '{"type":"ptlab-run","version":1,"steps":[]}', '['.repeat(100_000)]),
  );
  return fc
    .tuple(fc.oneof({ weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: junk }), fc.boolean(), pick(['md', 'md,svg', 'png', 'html', 'pdf']))
    .map(([text, view, format]) => ({
      family: 'documents' as const,
      argv: view ? ['view', '$F', '-o', '$OUT'] : ['report', '$F', '-o', '$OUT', '--format', format],
      files: { $F: text },
      // Drawing a report's plots is the work here, about a second per format.
      work: 2_000_000 + text.length * 10,
    }));
}

/** The arbitrary of each family; documents need the shipped examples (read by the caller). */
export function familyArbitraries(examples: readonly { name: string; doc: Json }[]): Record<Family, fc.Arbitrary<FuzzCase>> {
  const found = examples.flatMap(({ doc }) => {
    const d = doc as { type?: string; scenario?: string; token?: string };
    return d.type === 'ptlab-explore' && typeof d.scenario === 'string' && typeof d.token === 'string' ? [{ scenario: d.scenario, token: d.token }] : [];
  });
  return { scripts, scenarios, tokens: tokenArbitrary(found), options, traces, documents: documentArbitrary(examples) };
}

export type { Json };
