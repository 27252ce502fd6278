/**
 * The generator's extra feature groups (src/swarm/generate.ts, EXTRA_FEATURES; docs/swarm.md): a
 * third CPU, a second process sharing a memfd or file, arm64. They draw from a second stream, so
 * every seed's scenario is what it was before them wherever they are off: campaigns and the tests
 * that name seeds (test/swarm/swarm.test.ts, test/scenarios/soundness.test.ts, the mutation corpus)
 * keep their scenarios. The hashes below were recorded from the generator before the groups existed
 * (commit 88bf5f5).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/scenarios/run.js';
import { scenarioSystem } from '../../src/scenarios/system.js';
import { checkScenario } from '../../src/scenarios/validate.js';
import { EXTRA_FEATURES, generate, jobSeed, type ExtraFeature, type Generated } from '../../src/swarm/generate.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const OFF: Record<ExtraFeature, boolean> = { 'three-cpus': false, 'two-procs': false, arm64: false, walkers: false, numa: false, fork: false, swap: false, migrate: false, tcp: false, aim: false, rmap: false, 'move-pages': false, mlock: false, binder: false, 'collapse-zap': false, scan: false, evict: false };
const extras = (g: Generated): string[] => g.features.filter((f) => (EXTRA_FEATURES as readonly string[]).includes(f));
const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);

describe('old seeds keep their scenarios', () => {
  it('with the extra groups forced off, seeds 1-200 and campaign 4 give the text of before the groups', () => {
    expect(sha(SEEDS.map((s) => generate(s, { extras: OFF }).text).join(''))).toBe('03f831c760ff55a3badd298d36136d2149bb41b6b05c244393372bde68f6448e');
    // The corpus of test/swarm/swarm.test.ts (campaign seed 4, its first 25 jobs).
    const corpus = Array.from({ length: 25 }, (_, i) => generate(jobSeed(4, i), { extras: OFF }).text).join('');
    expect(sha(corpus)).toBe('7c4fad8a1722d472bca9b0bd3f4f26df3d7c7e946b8bc2802aeaf245196535f3');
    // Spot checks: seeds 20 and 33 draw no extra group (5 and 30 did until the move-pages and rmap groups); 4 and 9 do (forced off here).
    expect(sha(generate(20).text).slice(0, 16)).toBe('fe10f8ea40359687');
    expect(sha(generate(33).text).slice(0, 16)).toBe('c9ce09ce904facf3');
    expect(sha(generate(4, { extras: OFF }).text).slice(0, 16)).toBe('208c96b03ae1e7ee');
    expect(sha(generate(9, { extras: OFF }).text).slice(0, 16)).toBe('f14c4e99579f5e27');
  });

  it('a seed none of whose extra groups took effect has exactly the text of the groups forced off', () => {
    let unchanged = 0;
    for (const s of SEEDS) {
      const g = generate(s);
      const off = generate(s, { extras: OFF });
      expect(off.features.filter((f) => extras(g).includes(f))).toEqual([]);
      if (extras(g).length) {
        expect(g.text).not.toBe(off.text);
        continue;
      }
      unchanged++;
      expect(g.text, `seed ${s}`).toBe(off.text);
    }
    expect(unchanged).toBeGreaterThan(20); // a sample to compare (each new group takes effect in more seeds)
  });

  it('an extra group only adds: settings, a process, kernel paths (and keeps the new ones in contract); walkers, numa, fork, swap, migrate, tcp, aim, rmap, move-pages, mlock, binder and scan only rename', () => {
    const lines = (t: string) => t.split('\n').filter((l) => !/^(about|config) /.test(l));
    // What keepInContract makes of a reader when an added path unmaps in its mm.
    // What the walkers group makes of a mincore path: the same range, another walker.
    const asWalker = (l: string) => [...['pagemap', 'pagemap_scan', 'ptdump', 'mglru_walk'].map((w) => l.replace(/^(cpu \d+) mincore /, `$1 ${w} `)), l.replace(/^(cpu \d+) mprotect (\S+ \S+ \S+) \S+$/, '$1 numa_scan $2'), ...['mlock', 'munlock'].map((w) => l.replace(/^(cpu \d+) mprotect (\S+ \S+ \S+) \S+$/, `$1 ${w} $2`)), ...['1', '2', '3'].map((n) => l.replace(/^(cpu \d+) mprotect \S+ \S+ \S+ \S+$/, `$1 clear_refs ${n}`)), l.replace(/^(cpu \d+) mremap (\S+ \S+ \S+) \S+ \S+$/, '$1 fork $2'), l.replace(/^(cpu \d+) pte_alloc \S+ \S+$/, '$1 swapoff'), l.replace(/^(cpu \d+) pte_offset_map (\S+ \S+) \S+$/, '$1 migrate $2'), l.replace(/^(cpu \d+) pte_alloc (\S+ \S+)$/, '$1 migrate $2'), ...['folio_referenced', 'folio_mkclean'].map((w) => l.replace(/^(cpu \d+) rmap_walk /, `$1 ${w} `)), l.replace(/^(cpu \d+) mincore /, '$1 move_pages '), l.replace(/^(cpu \d+) (?:rmap_walk|folio_referenced|folio_mkclean) (\S+) (\S+)$/, '$1 fadvise $2 $3 4K dontneed'), // tcp: a pte_alloc path (or the touch keepInContract made of it) becomes a zerocopy receive.
      ...['4K', '16K'].flatMap((n) => ['0', '4K', '8K', '12K', '64K'].map((o) => l.replace(/^(cpu \d+) (?:pte_alloc \S+ \S+|touch \S+ \S+ 4K write)$/, `$1 tcp_zerocopy S ${o} ${n}`))), l.replace(/^(cpu \d+) madvise \S+ \S+ 2M dontneed$/, '$1 madvise S 0 2M dontneed'),
      // binder: the same, into a binder mapping.
      ...['4K', '16K'].flatMap((n) => ['0', '4K', '8K', '12K', '64K'].map((o) => l.replace(/^(cpu \d+) (?:pte_alloc \S+ \S+|touch \S+ \S+ 4K write)$/, `$1 binder_transaction N ${o} ${n}`))), l.replace(/^(cpu \d+) madvise \S+ \S+ 2M dontneed$/, '$1 madvise N 0 2M dontneed')];
    // aim: a lockless reader moves to another mapping and block, with its length.
    const aimed = (a: string, b: string) => /^cpu \d+ (pte_offset_map|gup_fast) /.test(a) && a.split(' ').slice(0, 3).join(' ') === b.split(' ').slice(0, 3).join(' ') && a.split(' ')[5] === b.split(' ')[5];
    const asTouch = (l: string) => l.replace(/^(cpu \d+) pte_alloc (\S+) (\S+)$/, '$1 touch $2 $3 4K write').replace(/^(cpu \d+) pte_offset_map (\S+) (\S+) \S+$/, '$1 touch $2 $3 4K read');
    const within = (a: string[], b: string[]) => {
      let i = 0;
      // A reader kept in contract by an mremap (a touch) is the reader again once fork replaced it.
      for (const x of b) if (i < a.length && (a[i] === x || asTouch(a[i]) === x || asWalker(a[i]).includes(x) || asTouch(x) === a[i] || aimed(a[i], x))) i++;
      return i === a.length;
    };
    for (const s of SEEDS) {
      const base = generate(s, { extras: OFF });
      for (const f of EXTRA_FEATURES) {
        const on = generate(s, { extras: { ...OFF, [f]: true } });
        expect(within(lines(base.text), lines(on.text)), `seed ${s}, ${f}`).toBe(true);
        expect(on.features.slice(0, base.features.length)).toEqual(base.features);
      }
    }
  });
});

describe('the extra groups', () => {
  const gens = SEEDS.map((s) => generate(s));
  const procsOf = (g: Generated): string[] => [...new Set(g.scenario.tasks.map((t) => t.process))].sort();

  it('some seeds give a third CPU, a second process with kernel paths of both, arm64; each as its feature says', () => {
    for (const g of gens) {
      const has = (f: ExtraFeature) => g.features.includes(f);
      expect(g.scenario.tasks.some((t) => t.cpu === 2), `seed ${g.seed}`).toBe(has('three-cpus'));
      expect(/^config .*nr_cpus=3/m.test(g.text)).toBe(has('three-cpus'));
      expect(/^process Q$/m.test(g.text)).toBe(has('two-procs'));
      if (has('two-procs')) expect(procsOf(g), `seed ${g.seed}`).toEqual(['P', 'Q']);
      else expect(procsOf(g)).toEqual(['P']);
      expect(/^config .*arch=arm64 version=7\.1\.9/m.test(g.text)).toBe(has('arm64'));
    }
    // Examples (docs/swarm.md): seed 13 three CPUs, 14 two processes, 1 arm64, 38 all three.
    const first3 = (g: Generated) => extras(g).filter((f) => f === 'three-cpus' || f === 'two-procs' || f === 'arm64');
    expect(first3(gens[12])).toEqual(['three-cpus']);
    expect(first3(gens[13])).toEqual(['two-procs']);
    expect(first3(gens[0])).toEqual(['arm64']);
    expect(first3(gens[37])).toEqual(['three-cpus', 'two-procs', 'arm64']);
    const count = (f: ExtraFeature) => gens.filter((g) => g.features.includes(f)).length;
    expect(count('three-cpus')).toBeGreaterThan(20);
    expect(count('two-procs')).toBeGreaterThan(20);
    expect(count('arm64')).toBeGreaterThan(60);
  });

  it("the second process maps a file or memfd of the first's, and its mappings are only its own", () => {
    for (const g of gens.filter((x) => x.features.includes('two-procs'))) {
      const q = g.gen.maps.filter((m) => m.process === 'Q');
      expect(q.length).toBeGreaterThan(0);
      for (const m of q) {
        expect(m.kind).not.toBe('anon');
        expect(g.gen.maps.some((p) => !p.process && p.file === m.file && !p.locked), `seed ${g.seed}`).toBe(true);
      }
      for (const t of g.scenario.tasks) {
        const names = t.spec.kind === 'uffd_move' || t.spec.kind === 'mremap' ? [t.spec.map, t.spec.dst] : [t.spec.map];
        for (const n of names) expect(q.some((m) => m.name === n), `seed ${g.seed}: ${n}`).toBe(t.process === 'Q');
      }
    }
  });

  it('keeps pte_alloc and pte_offset_map in contract within their own mm only', () => {
    let acrossMms = 0;
    // The fork group off: it turns the mremaps that unmap beside another mm's readers into forks.
    for (const g of SEEDS.map((s) => generate(s, { extras: { fork: false } }))) {
      const tasks = g.scenario.tasks;
      for (const t of tasks) {
        if (t.spec.kind !== 'pte_alloc' && t.spec.kind !== 'pte_offset_map') continue;
        const mine = tasks.filter((u) => u.process === t.process);
        expect(mine.some((u) => u.spec.kind === 'unmap' || u.spec.kind === 'mremap'), `seed ${g.seed}`).toBe(false);
        const anon = new Set(g.gen.maps.filter((m) => m.kind === 'anon').map((m) => m.name));
        if (t.spec.kind === 'pte_alloc') expect(mine.some((u) => u.spec.kind === 'madvise' && u.spec.advice === 'collapse' && anon.has(u.spec.map))).toBe(false);
        if (tasks.some((u) => u.process !== t.process && (u.spec.kind === 'unmap' || u.spec.kind === 'mremap'))) acrossMms++;
      }
    }
    // Some reader of one process runs beside an unmap of the other (seeds 1-200: at least one).
    expect(acrossMms).toBeGreaterThan(0);
  });

  it('every scenario of seeds 1-200 passes the checks of a loaded scenario and runs without a model bug', () => {
    for (const g of gens) {
      expect(checkScenario(g.scenario), g.text).toEqual([]);
      expect(() => scenarioSystem(g.scenario), g.text).not.toThrow();
      // A few random executions: violations may happen (arm64 breaks break-before-make); an
      // exception of the model may not.
      let r;
      try {
        r = runScenario(g.scenario, { mode: 'random', seed: g.seed, executions: 4, snapshots: false });
      } catch (e) {
        throw new Error(`seed ${g.seed}: ${String(e)}\n${g.text}`);
      }
      expect(['clean', 'violation', 'budget']).toContain(r.status);
    }
  }, 120_000);
});

describe('the walkers group', () => {
  it('move-pages: turns the mincore paths the walkers group left into move_pages over the same range, and nothing else', () => {
    let moved = 0;
    for (let s = 1; s <= 200; s++) {
      const g = generate(s, { extras: { walkers: false, scan: false } });
      const off = generate(s, { extras: { walkers: false, 'move-pages': false, scan: false } });
      const ops = (x: Generated) => x.gen.tasks.map((t) => t.op);
      expect(g.features.includes('move-pages'), `seed ${s}`).toBe(ops(off).some((o) => o.startsWith('mincore ')) && !ops(g).some((o) => o.startsWith('mincore ')));
      if (!g.features.includes('move-pages')) {
        expect(g.text).toBe(off.text);
        continue;
      }
      expect(ops(g).map((o) => o.replace(/^move_pages /, 'mincore '))).toEqual(ops(off));
      moved += ops(g).filter((o) => o.startsWith('move_pages ')).length;
    }
    expect(moved).toBeGreaterThan(5);
  });

  it('scan: turns the pagemap reads the walkers group made, and the mincore paths left, into PAGEMAP_SCAN over the same range, and nothing else', () => {
    let scanned = 0;
    for (let s = 1; s <= 400; s++) {
      const g = generate(s);
      const off = generate(s, { extras: { scan: false } });
      const ops = (x: Generated) => x.gen.tasks.map((t) => t.op);
      const walk = (o: string) => /^(pagemap|mincore) /.test(o);
      expect(g.features.includes('scan'), `seed ${s}`).toBe(ops(off).some(walk) && !ops(g).some(walk));
      if (!g.features.includes('scan')) {
        expect(g.text).toBe(off.text);
        continue;
      }
      ops(g).forEach((o, i) => expect(o.replace(/^pagemap_scan /, ''), `seed ${s}`).toBe(ops(off)[i].replace(/^(pagemap|mincore) /, '')));
      scanned += ops(g).filter((o) => o.startsWith('pagemap_scan ')).length;
    }
    expect(scanned).toBeGreaterThan(5);
  });

  it('mlock: turns the mprotect paths the numa group left into mlock or munlock of the same range, or clear_refs, and nothing else', () => {
    const seen = new Set<string>();
    for (let s = 1; s <= 200; s++) {
      const g = generate(s, { extras: { numa: false } });
      const off = generate(s, { extras: { numa: false, mlock: false } });
      const ops = (x: Generated) => x.gen.tasks.map((t) => t.op);
      expect(g.features.includes('mlock'), `seed ${s}`).toBe(ops(off).some((o) => o.startsWith('mprotect ')) && !ops(g).some((o) => o.startsWith('mprotect ')));
      if (!g.features.includes('mlock')) {
        expect(g.text).toBe(off.text);
        continue;
      }
      ops(g).forEach((o, i) => {
        const was = ops(off)[i];
        if (o === was) return;
        const range = /^mprotect (\S+ \S+ \S+) \S+$/.exec(was)![1];
        expect([`mlock ${range}`, `munlock ${range}`, 'clear_refs 1', 'clear_refs 2', 'clear_refs 3'], `seed ${s}`).toContain(o);
        seen.add(o.split(' ')[0]);
      });
    }
    expect([...seen].sort()).toEqual(['clear_refs', 'mlock', 'munlock']);
  });

  it('turns mincore paths into pagemap reads, ptdump walks and MGLRU walks (with the remedy) over the same range, and nothing else', () => {
    let pagemap = 0;
    let ptdump = 0;
    let mglruWalk = 0;
    for (let s = 1; s <= 200; s++) {
      // The move-pages group takes the mincore paths the walkers group leaves, and the scan group
      // its pagemap reads: both held off here.
      const g = generate(s, { extras: { 'move-pages': false, scan: false } });
      const off = generate(s, { extras: { walkers: false, 'move-pages': false, scan: false } });
      const ops = (x: Generated) => x.gen.tasks.map((t) => t.op);
      const had = ops(off).some((o) => o.startsWith('mincore '));
      expect(g.features.includes('walkers'), `seed ${s}`).toBe(had && !ops(g).some((o) => o.startsWith('mincore ')));
      if (!g.features.includes('walkers')) {
        expect(g.text).toBe(off.text);
        continue;
      }
      expect(ops(g).map((o) => o.replace(/^(pagemap|ptdump|mglru_walk) /, 'mincore '))).toEqual(ops(off));
      pagemap += ops(g).filter((o) => o.startsWith('pagemap ')).length;
      ptdump += ops(g).filter((o) => o.startsWith('ptdump ')).length;
      const mglru = ops(g).filter((o) => o.startsWith('mglru_walk ')).length;
      mglruWalk += mglru;
      expect(/^config .*mglru_real_pmd=on/m.test(g.text)).toBe(mglru > 0);
    }
    expect(pagemap).toBeGreaterThan(0);
    expect(ptdump).toBeGreaterThan(0);
    expect(mglruWalk).toBeGreaterThan(0);
  });
});

/** A reader that an mremap's unmap had turned into a touch (keepInContract()), as that touch. */
const asTouch = (o: string) => o.replace(/^pte_alloc (\S+) (\S+)$/, 'touch $1 $2 4K write').replace(/^pte_offset_map (\S+) (\S+) \S+$/, 'touch $1 $2 4K read');

describe('the groups that rename a kernel path', () => {
  const renames = [
    { group: 'numa', from: 'mprotect', to: 'numa_scan', pattern: /^mprotect (\S+ \S+ \S+) \S+$/, about: 'mprotect paths into NUMA balancing scans of the same range' },
    { group: 'fork', from: 'mremap', to: 'fork', pattern: /^mremap (\S+ \S+ \S+) \S+ \S+$/, about: 'mremap paths into forks of their process, over the range mremap moved (a reader mremap kept in contract is itself again)' },
  ] as const;
  for (const { group, from, to, pattern, about } of renames) {
    it(`${group}: turns ${about}, and nothing else`, () => {
      let renamed = 0;
      for (let s = 1; s <= 200; s++) {
        // The mlock group, drawn later, would take the mprotect paths the numa group leaves.
        const g = generate(s, { extras: { mlock: false } });
        const off = generate(s, { extras: { [group]: false, mlock: false } });
        const ops = (x: Generated) => x.gen.tasks.map((t) => t.op);
        const had = ops(off).some((o) => o.startsWith(`${from} `));
        expect(g.features.includes(group), `seed ${s}`).toBe(had && !ops(g).some((o) => o.startsWith(`${from} `)));
        if (!g.features.includes(group)) {
          expect(g.text).toBe(off.text);
          continue;
        }
        const back = ops(off).map((o) => o.replace(pattern, `${to} $1`));
        expect(ops(g).map((o, i) => (o === back[i] ? o : asTouch(o)))).toEqual(back);
        renamed += ops(g).filter((o) => o.startsWith(`${to} `)).length;
      }
      expect(renamed).toBeGreaterThan(0);
    });
  }
});

describe('the swap group', () => {
  it('pages out P\'s populated private anonymous mappings after the setup, turns pte_alloc paths into swapoff, and changes nothing else', () => {
    let took = 0;
    let swapoffs = 0;
    for (let s = 1; s <= 200; s++) {
      // The migrate group, drawn after it, would take the pte_alloc paths the swap group leaves;
      // the collapse-zap group may add a setup touch after the pageouts.
      const g = generate(s, { extras: { migrate: false, tcp: false, aim: false, binder: false, 'collapse-zap': false } });
      const off = generate(s, { extras: { swap: false, migrate: false, tcp: false, aim: false, binder: false, 'collapse-zap': false } });
      if (!g.features.includes('swap')) {
        expect(g.text, `seed ${s}`).toBe(off.text);
        continue;
      }
      took++;
      expect(g.gen.config, `seed ${s}`).toEqual([...off.gen.config, 'swap=1M']);
      const added = g.gen.setup.slice(off.gen.setup.length);
      expect(g.gen.setup.slice(0, off.gen.setup.length)).toEqual(off.gen.setup);
      expect(added.length).toBeGreaterThan(0);
      for (const l of added) {
        const m = g.gen.maps.find((x) => l.startsWith(`madvise ${x.name} 0 `))!;
        expect([m.kind, m.shared, m.locked, m.process, l.endsWith(' pageout')], `seed ${s}: ${l}`).toEqual(['anon', false, false, undefined, true]);
      }
      const ops = g.gen.tasks.map((t) => t.op);
      expect(ops, `seed ${s}`).toEqual(off.gen.tasks.map((t) => (t.op.startsWith('pte_alloc ') ? 'swapoff' : t.op)));
      swapoffs += ops.filter((o) => o === 'swapoff').length;
    }
    expect(took).toBeGreaterThan(20);
    expect(swapoffs).toBeGreaterThan(0);
  });
});


describe('the migrate group', () => {
  it("turns pte_offset_map and pte_alloc paths on P's private anonymous mappings into migrate, only where no path of P is out of its reach", () => {
    let took = 0;
    for (let s = 1; s <= 400; s++) {
      // The tcp and binder groups, drawn after it, would take the pte_alloc paths the migrate group leaves.
      const g = generate(s, { extras: { tcp: false, aim: false, binder: false } });
      const off = generate(s, { extras: { migrate: false, tcp: false, aim: false, binder: false } });
      if (!g.features.includes('migrate')) {
        expect(g.text, `seed ${s}`).toBe(off.text);
        continue;
      }
      took++;
      const ops = g.gen.tasks.map((t) => t.op);
      expect(ops.some((o) => /^(unmap|mremap|fork|uffd_move) /.test(o)), `seed ${s}`).toBe(false);
      expect(ops, `seed ${s}`).toEqual(
        off.gen.tasks.map((t) => {
          const [op, map, offset] = t.op.split(' ');
          const m = g.gen.maps.find((x) => x.name === map);
          return (op === 'pte_offset_map' || op === 'pte_alloc') && m?.kind === 'anon' && !m.shared && !m.process ? `migrate ${map} ${offset}` : t.op;
        }),
      );
      expect(checkScenario(g.scenario)).toEqual([]);
    }
    expect(took).toBeGreaterThan(10);
  });
});

describe('the tcp group', () => {
  it("maps a TCP socket in P, turns P's pte_alloc paths into zerocopy receives into it, and may move a whole-block DONTNEED there", () => {
    let took = 0;
    let moved = 0;
    for (let s = 1; s <= 400; s++) {
      // The aim group, drawn after it, moves readers; the binder group would take the pte_alloc paths tcp leaves.
      const g = generate(s, { extras: { aim: false, binder: false } });
      const off = generate(s, { extras: { tcp: false, aim: false, binder: false } });
      if (!g.features.includes('tcp')) {
        expect(g.text, `seed ${s}`).toBe(off.text);
        continue;
      }
      took++;
      expect(g.text).toMatch(/^map S tcp 2M$/m);
      expect(g.gen.setup.slice(0, off.gen.setup.length)).toEqual(off.gen.setup);
      expect(g.gen.setup.slice(off.gen.setup.length).every((l) => l === 'tcp_zerocopy S 0 4K')).toBe(true);
      off.gen.tasks.forEach((t, i) => {
        const got = g.gen.tasks[i].op;
        const ofP = !g.gen.maps.find((m) => m.name === t.op.split(' ')[1])?.process;
        if (t.op.startsWith('pte_alloc ') && ofP) expect(got, `seed ${s}`).toMatch(/^tcp_zerocopy S (0|4K|8K|12K|64K) (4K|16K)$/);
        // A pte_alloc path that keepInContract made a fault without the group (a zerocopy receive takes its locks).
        else if (got.startsWith('tcp_zerocopy ')) expect(t.op, `seed ${s}`).toMatch(/^touch \S+ \S+ 4K write$/);
        else if (got !== t.op) {
          expect([t.op, got], `seed ${s}`).toEqual([expect.stringMatching(/^madvise \S+ \S+ 2M dontneed$/), 'madvise S 0 2M dontneed']);
          moved++;
        }
      });
      expect(checkScenario(g.scenario)).toEqual([]);
    }
    expect(took).toBeGreaterThan(10);
    expect(moved).toBeGreaterThan(0);
  });
});

describe('the binder group', () => {
  it("maps a binder device in P, turns the first pte_alloc path of P the tcp group left into a transaction into it, and may move a whole-block DONTNEED there", () => {
    let took = 0;
    let moved = 0;
    for (let s = 1; s <= 400; s++) {
      const g = generate(s, { extras: { aim: false, 'collapse-zap': false } });
      const off = generate(s, { extras: { binder: false, aim: false, 'collapse-zap': false } });
      if (!g.features.includes('binder')) {
        expect(g.text, `seed ${s}`).toBe(off.text);
        continue;
      }
      took++;
      expect(g.features.includes('tcp'), `seed ${s}`).toBe(false);
      expect(g.text).toMatch(/^map N binder 2M$/m);
      expect(g.gen.setup.slice(0, off.gen.setup.length)).toEqual(off.gen.setup);
      expect(g.gen.setup.slice(off.gen.setup.length).every((l) => l === 'binder_transaction N 0 4K')).toBe(true);
      // One transaction only: two installing one page at once leak a reference in binder itself (its -EBUSY path).
      expect(g.gen.tasks.filter((t) => t.op.startsWith('binder_transaction ')), `seed ${s}`).toHaveLength(1);
      off.gen.tasks.forEach((t, i) => {
        const got = g.gen.tasks[i].op;
        if (got.startsWith('binder_transaction ')) {
          expect(got, `seed ${s}`).toMatch(/^binder_transaction N (0|4K|8K|12K|64K) (4K|16K)$/);
          expect(t.op, `seed ${s}`).toMatch(/^(pte_alloc \S+ \S+|touch \S+ \S+ 4K write)$/);
        } else if (got !== t.op) {
          expect([t.op, got], `seed ${s}`).toEqual([expect.stringMatching(/^madvise \S+ \S+ 2M dontneed$/), 'madvise N 0 2M dontneed']);
          moved++;
        }
      });
      expect(checkScenario(g.scenario)).toEqual([]);
    }
    expect(took).toBeGreaterThan(4);
    expect(moved).toBeGreaterThan(0);
  });
});

describe('the collapse-zap group', () => {
  it("follows each MADV_COLLAPSE path of P on its CPU by a DONTNEED of its block, gives the block pages to collapse, and moves P's lockless readers into it", () => {
    let took = 0;
    let fed = 0;
    for (let s = 1; s <= 400; s++) {
      const g = generate(s, { extras: { 'collapse-zap': true } });
      const off = generate(s, { extras: { 'collapse-zap': false } });
      const ops = (x: Generated) => x.gen.tasks.map((t) => `${t.cpu} ${t.op}`);
      const procOf = (op: string) => g.gen.maps.find((m) => m.name === op.split(' ')[2])?.process ?? 'P';
      const collapses = ops(off).filter((o) => o.endsWith(' collapse') && procOf(o) === 'P');
      expect(g.features.includes('collapse-zap'), `seed ${s}`).toBe(collapses.length > 0);
      if (!collapses.length) {
        expect(g.text, `seed ${s}`).toBe(off.text);
        continue;
      }
      took++;
      // Each collapse is followed on its CPU by the DONTNEED of the same block, and nothing else is added.
      const got = ops(g);
      for (const c of collapses) expect(got[got.indexOf(c) + 1], `seed ${s}`).toBe(c.replace(/ collapse$/, ' dontneed'));
      expect(got.length).toBe(ops(off).length + collapses.length);
      // The block has something to collapse: a setup touch of it, the generator's or the group's.
      const [, , map, at] = collapses[0].split(' ');
      const added = g.gen.setup.slice(off.gen.setup.length);
      expect(g.gen.setup.slice(0, off.gen.setup.length)).toEqual(off.gen.setup);
      expect(added.every((l) => /^touch \S+ \S+ 8K write$/.test(l)), `seed ${s}`).toBe(true);
      fed += added.length;
      // Readers of P: gup_fast (and pte_offset_map, against an anonymous collapse) in the first block.
      const anonCollapse = collapses.some((c) => g.gen.maps.find((m) => m.name === c.split(' ')[2])!.kind === 'anon');
      if (anonCollapse) expect(got.filter((x) => / pte_offset_map /.test(x) && procOf(x) === 'P'), `seed ${s}`).toEqual([]);
      for (const o of got.filter((x) => / gup_fast /.test(x) && procOf(x) === 'P')) {
        const [, , m, offIn] = o.split(' ');
        expect(m, `seed ${s}: ${o}`).toBe(map);
        expect(kib(offIn) - kib(at), `seed ${s}: ${o}`).toBeGreaterThanOrEqual(0);
        expect(kib(offIn) - kib(at), `seed ${s}: ${o}`).toBeLessThan(2048);
      }
      expect(checkScenario(g.scenario)).toEqual([]);
    }
    expect(took).toBeGreaterThan(10);
    expect(fed).toBeGreaterThan(0);
  });
});

/** KiB of a size as the generator spells it: 0, 12K, 2M. */
const kib = (x: string): number => (x === '0' ? 0 : parseInt(x, 10) * (x.endsWith('M') ? 1024 : 1));

describe('the aim group', () => {
  it("moves P's lockless readers into the block of P's first whole-block DONTNEED, keeping offset in the block and length", () => {
    let took = 0;
    for (let s = 1; s <= 400; s++) {
      const g = generate(s);
      const off = generate(s, { extras: { aim: false } });
      if (!g.features.includes('aim')) {
        expect(g.text, `seed ${s}`).toBe(off.text);
        continue;
      }
      took++;
      const reclaim = g.gen.tasks.find((t) => /^madvise \S+ \S+ 2M dontneed$/.test(t.op))!.op.split(' ');
      off.gen.tasks.forEach((t, i) => {
        const [op, , offset, len] = t.op.split(' ');
        const got = g.gen.tasks[i].op;
        if ((op === 'pte_offset_map' || op === 'gup_fast') && !g.gen.maps.find((m) => m.name === t.op.split(' ')[1])?.process) {
          const [, m2, off2, len2] = got.split(' ');
          expect([m2, len2], `seed ${s}`).toEqual([reclaim[1], len]);
          expect(kib(off2) - kib(reclaim[2]), `seed ${s}`).toBe(kib(offset) % 2048);
        } else expect(got, `seed ${s}`).toBe(t.op);
      });
      expect(checkScenario(g.scenario)).toEqual([]);
    }
    expect(took).toBeGreaterThan(5);
  });
});
