/**
 * When MADV_DONTNEED frees an empty PTE table (CONFIG_PT_RECLAIM), and when nothing does.
 *
 * Every expected number is derived from the kernel's rules (docs/kernel-rules.md, "The zap") and
 * checked against the live 6.18 kernel's measurements (docs/kernel-facts.md; scripts/kernel-probe/01-08):
 *
 *   VmPTE = 4 kB x (PTE + PMD + PUD tables)      a mapping alone in its 512 GiB slot (placement
 *                                                 rule) has its own PUD and PMD: +8 kB, plus 4 kB
 *                                                 per 2 MiB block with a PTE table
 *   one PTE table  = one 2 MiB block = 512 pages = 2048 kB of RSS when dense
 *   reclaim needs:   one zap, within one VMA, covering the whole block, leaving all 512 entries none
 *
 * Pictures show one mapping at 16 TiB (the placement rule's first address); `|` marks 2 MiB block
 * boundaries, `#` populated pages, `.` none entries, `g` guard markers.
 */
import { describe, expect, it } from 'vitest';
import { FAST_API } from '../../src/script/exec.js';
import { BLOCK_KB, lines, PAGE_KB, scenario, SLOT_KB, TABLE_KB } from '../support/scenario.js';

/** VmPTE of a mapping alone in its slot with `blocks` PTE tables. */
const vmpte = (blocks: number) => SLOT_KB + blocks * TABLE_KB;

describe('VmPTE when memory is touched', () => {
  it('charges 12 kB for the first byte of a fresh 512 GiB slot: a PUD, a PMD and a PTE table', () => {
    const s = scenario(lines(
      'process P',
      'map A anon private 64M',
      'snapshot fresh',
      'touch A 0 4K write',
      'snapshot first-byte A 0 2M',
    ));
    expect(s.delta('fresh').VmPTE).toBe(0);
    expect(s.delta('first-byte').VmPTE).toBe(3 * TABLE_KB);
    expect(s.delta('first-byte').RssAnon).toBe(PAGE_KB);
    expect(s.pagemap('first-byte')).toEqual([[1, 'x'], [511, '-']]);
  });

  it('charges exactly 4 kB more per further 2 MiB block touched, and nothing for more pages of a touched block', () => {
    // |#.......|#.......|#.......| ... one byte in each of the first 8 blocks, then all 32 dense
    const ops = ['process P', 'map A anon private 64M'];
    for (let b = 0; b < 8; b++) ops.push(`touch A ${2 * b}M 4K write`, `snapshot block-${b}`);
    ops.push('touch A 4K 1M write', 'snapshot more-of-block-0');
    ops.push('touch A 0 64M write', 'snapshot dense');
    const s = scenario(lines(...ops));
    for (let b = 0; b < 8; b++) expect(s.delta(`block-${b}`).VmPTE, `after block ${b}`).toBe(vmpte(b + 1));
    expect(s.delta('more-of-block-0').VmPTE).toBe(vmpte(8));
    // 32 PTE + 1 PMD + 1 PUD tables.
    expect(s.delta('dense').VmPTE).toBe(136);
    expect(s.delta('dense').RssAnon).toBe(64 * 1024);
  });

  it('charges a PMD table too (+8 kB) for the first block in the next 1 GiB', () => {
    const s = scenario(lines(
      'process P',
      'map A anon private 2G',
      'touch A 0 4K write',
      'snapshot first-gig',
      'touch A 1G 4K write',
      'snapshot second-gig',
    ));
    expect(s.delta('first-gig').VmPTE).toBe(12);
    expect(s.delta('second-gig').VmPTE).toBe(12 + 2 * TABLE_KB);
  });
});

describe('MADV_DONTNEED of whole aligned 2 MiB blocks', () => {
  const dense64M = ['process P', 'map A anon private 64M', 'touch A 0 64M write', 'snapshot dense'];

  it('frees the PTE table of every block it covers with pt_reclaim=on; the PMD and PUD tables stay', () => {
    const s = scenario(lines(...dense64M, 'madvise A 0 64M dontneed', 'snapshot dontneed A 0 64M'));
    expect(s.delta('dense').VmPTE).toBe(vmpte(32));
    expect(s.delta('dontneed').VmPTE).toBe(SLOT_KB);
    expect(s.delta('dontneed').RssAnon).toBe(0);
    expect(s.pagemap('dontneed')).toEqual([[32 * 512, '-']]);
    expect(s.pteTables('P')).toEqual([0, 0]);
    const st = s.mm('P').stats;
    expect(st.ptesReclaimedFast + st.ptesReclaimedSlow).toBe(32);
  });

  it('frees the pages but leaves all 32 tables, empty, with pt_reclaim=off', () => {
    const s = scenario(lines('config pt_reclaim=off', ...dense64M, 'madvise A 0 64M dontneed', 'snapshot dontneed'));
    expect(s.delta('dontneed').VmPTE).toBe(vmpte(32));
    expect(s.delta('dontneed').RssAnon).toBe(0);
    expect(s.pteTables('P')).toEqual([32, 32]);
    expect(s.mm('P').stats.ptesReclaimedFast + s.mm('P').stats.ptesReclaimedSlow).toBe(0);
  });

  it('behaves in version B (before the series) like pt_reclaim=off, even when pt_reclaim=on is asked for', () => {
    const s = scenario(lines('config version=B pt_reclaim=on', ...dense64M, 'madvise A 0 64M dontneed', 'snapshot dontneed'));
    expect(s.result.kernel.cfg.ptReclaim).toBe(false);
    expect(s.delta('dontneed').VmPTE).toBe(vmpte(32));
    expect(s.delta('dontneed').RssAnon).toBe(0);
    expect(s.pteTables('P')).toEqual([32, 32]);
    expect(s.result.kernel.stats.ptesReclaimedFast + s.result.kernel.stats.ptesReclaimedSlow).toBe(0);
  });

  it('frees only the tables of the blocks named: DONTNEED of [2M, 6M) frees 2 of 32', () => {
    //   0        2M       4M       6M                 64M
    //   |########|########|########|########| ... |########|
    //            '-- DONTNEED --'
    const s = scenario(lines(...dense64M, 'madvise A 2M 4M dontneed', 'snapshot two-blocks A 0 8M'));
    expect(s.delta('two-blocks').VmPTE).toBe(vmpte(30));
    expect(s.delta('two-blocks').RssAnon).toBe(64 * 1024 - 2 * BLOCK_KB);
    expect(s.pagemap('two-blocks')).toEqual([[512, 'x'], [1024, '-'], [512, 'x']]);
  });

  // docs/kernel-facts.md, "When MADV_DONTNEED frees a PTE table": alike for private and shared
  // anonymous memory, memfd/shmem, private file mappings, zero-page entries, already-empty tables.
  it.each([
    ['anonymous private, read (zero-page PTEs)', [], 'map A anon private 4M', 'read'],
    ['anonymous MAP_SHARED', [], 'map A anon shared 4M', 'write'],
    ['memfd MAP_SHARED', ['memfd F 4M'], 'map A shmem F 0 4M shared', 'write'],
    ['regular file MAP_PRIVATE, read', ['file F 4M'], 'map A file F 0 4M private', 'read'],
  ] as const)('frees the tables of any mapping alike: %s', (_kind, pre, map, access) => {
    const s = scenario(lines(...pre, 'process P', map, `touch A 0 4M ${access}`, 'snapshot touched', 'madvise A 0 4M dontneed', 'snapshot dontneed'));
    expect(s.delta('touched').VmPTE).toBe(vmpte(2));
    expect(s.delta('dontneed').VmPTE).toBe(SLOT_KB);
    expect(s.delta('dontneed').VmRSS).toBe(0);
  });

  it('keeps VmPTE flat over the cover-letter loop (50 GiB, 25,600 x "touch a 2 MiB block, DONTNEED it") and grows it by 102,400 kB without reclaim', () => {
    // The series' cover letter: VmPTE grows by 25,600 PTE tables = 102,400 kB without PT_RECLAIM,
    // by 0 with it. Either way the 50 PMD tables and the PUD table stay: +204 kB (probe 02).
    // Invariants are checked once at the end: after each of 51,200 ops they would cost ~10 s.
    const ops = ['process P', 'map A anon private 50G'];
    for (let i = 0; i < 25_600; i++) ops.push(`touch A ${2 * i}M 4K write`, `madvise A ${2 * i}M 2M dontneed`);
    ops.push('snapshot end');
    const text = lines(...ops);
    const on = scenario(text, { checkInvariants: false });
    const off = scenario(text, { checkInvariants: false, overrides: { pt_reclaim: 'off' } });
    expect(on.delta('end').VmPTE).toBe(50 * TABLE_KB + TABLE_KB);
    expect(off.delta('end').VmPTE).toBe(25_600 * TABLE_KB + 50 * TABLE_KB + TABLE_KB);
    expect(off.delta('end').VmPTE - on.delta('end').VmPTE).toBe(102_400);
    expect(on.delta('end').RssAnon).toBe(0);
    expect(on.mm('P').stats.ptesReclaimedFast + on.mm('P').stats.ptesReclaimedSlow).toBe(25_600);
    expect(on.pteTables('P')).toEqual([0, 0]);
    expect(off.pteTables('P')).toEqual([25_600, 25_600]);
    expect(FAST_API.checkInvariants(on.result.kernel)).toEqual([]);
    expect(FAST_API.checkInvariants(off.result.kernel)).toEqual([]);
  });
});

describe('DONTNEED ranges that do not cover a whole block', () => {
  const dense4M = ['process P', 'map A anon private 4M', 'touch A 0 4M write', 'snapshot dense'];

  it('frees the pages of a range under 2 MiB but no table', () => {
    // |####....|########|   DONTNEED [0, 1M)
    const s = scenario(lines(...dense4M, 'madvise A 0 1M dontneed', 'snapshot small A 0 4M'));
    expect(s.delta('dense').VmPTE).toBe(vmpte(2));
    expect(s.delta('small').VmPTE).toBe(vmpte(2));
    expect(s.delta('small').RssAnon).toBe(4096 - 1024);
    expect(s.pagemap('small')).toEqual([[256, '-'], [768, 'x']]);
  });

  it('frees only the 510 whole blocks inside the unaligned range [4K, 1G-4K) of a dense 1 GiB', () => {
    //   0 4K                                               1G-4K 1G
    //   |#.......|........|  ...  510 whole blocks ...  |.......#|
    //     '------------------- DONTNEED --------------------'
    // The two edge blocks keep their tables, one page each: 2 PTE + PMD + PUD = +16 (probe 03).
    const s = scenario(lines(
      'process P',
      'map A anon private 1G',
      'madvise A 0 1G populate_write',
      'snapshot dense',
      'madvise A 4K 0x3FFFE000 dontneed',
      'snapshot unaligned A 0 4K',
      'snapshot last-page A 0x3FFFF000 4K',
      'expect pte_tables == 2',
      'madvise A 0 1G dontneed',
      'snapshot whole',
    ), { checkInvariants: false }); // a full check walks 1 GiB after each op: once at the end instead
    expect(FAST_API.checkInvariants(s.result.kernel)).toEqual([]);
    expect(s.delta('dense').VmPTE).toBe(vmpte(512));
    expect(s.delta('dense').RssAnon).toBe(1024 * 1024);
    expect(s.delta('unaligned').VmPTE).toBe(vmpte(2));
    expect(s.delta('unaligned').RssAnon).toBe(2 * PAGE_KB);
    expect(s.pagemap('unaligned')).toEqual([[1, 'x']]);
    expect(s.pagemap('last-page')).toEqual([[1, 'x']]);
    expect(s.delta('whole').VmPTE).toBe(SLOT_KB);
    expect(s.delta('whole').RssAnon).toBe(0);
  });

  it('frees neither table for a 2 MiB range straddling two blocks', () => {
    // |####****|****####|   DONTNEED [1M, 3M): 2 MiB long, but no whole block inside
    const s = scenario(lines(...dense4M, 'madvise A 1M 2M dontneed', 'snapshot straddle A 0 4M', 'expect pte_tables_empty == 0'));
    expect(s.delta('straddle').VmPTE).toBe(vmpte(2));
    expect(s.delta('straddle').RssAnon).toBe(2048);
    expect(s.pagemap('straddle')).toEqual([[256, 'x'], [512, '-'], [256, 'x']]);
  });

  it('leaves empty tables after two half-block calls per block, which a later whole-block DONTNEED frees', () => {
    // docs/kernel-facts.md, "When MADV_DONTNEED frees a PTE table": 512 calls on the first halves
    // and 512 on the second halves leave 512 empty tables (RSS 0); a later whole-block DONTNEED
    // frees them.
    // Here the same over 32 blocks.
    const ops = ['process P', 'map A anon private 64M', 'touch A 0 64M write'];
    for (let b = 0; b < 32; b++) ops.push(`madvise A ${2 * b}M 1M dontneed`);
    for (let b = 0; b < 32; b++) ops.push(`madvise A ${2 * b + 1}M 1M dontneed`);
    ops.push('snapshot halves', 'expect pte_tables == 32', 'expect pte_tables_empty == 32');
    ops.push('madvise A 0 64M dontneed', 'snapshot whole');
    const s = scenario(lines(...ops));
    expect(s.delta('halves').VmPTE).toBe(vmpte(32));
    expect(s.delta('halves').RssAnon).toBe(0);
    expect(s.delta('whole').VmPTE).toBe(SLOT_KB);
    expect(s.pteTables('P')).toEqual([0, 0]);
  });
});

describe('blocks split between VMAs', () => {
  it('frees nothing for a block whose VMA was split by MADV_NOHUGEPAGE, and frees it once the VMAs merge again', () => {
    //   0     1M       2M                4M
    //   |#####|########|################|
    //   [ V1  )[          V2            )     nohugepage on [0, 1M) splits the VMA
    //
    // DONTNEED [0, 2M) zaps [0, 1M) in V1 and [1M, 2M) in V2: two zaps, neither covers the block,
    // so its table stays, empty. Making [1M, 4M) nohugepage too merges V1 and V2 again; then a
    // DONTNEED of the block covers it within one VMA and frees it.
    const s = scenario(lines(
      'process P',
      'map A anon private 4M',
      'touch A 0 4M write',
      'madvise A 0 1M nohugepage',
      'snapshot split',
      'madvise A 0 2M dontneed',
      'snapshot split-dontneed A 0 4M',
      'expect pte_tables_empty == 1',
      'madvise A 1M 3M nohugepage',
      'snapshot merged',
      'madvise A 0 2M dontneed',
      'snapshot merged-dontneed',
    ));
    expect(s.delta('split').VmPTE).toBe(vmpte(2));
    expect(s.delta('split-dontneed').VmPTE).toBe(vmpte(2));
    expect(s.delta('split-dontneed').RssAnon).toBe(2048);
    expect(s.pagemap('split-dontneed')).toEqual([[512, '-'], [512, 'x']]);
    expect(s.delta('merged').VmPTE).toBe(vmpte(2));
    expect(s.delta('merged-dontneed').VmPTE).toBe(vmpte(1));
    expect(s.mm('P').vmas.length).toBe(1);
  });

  it('frees, in a DONTNEED across two VMAs, the blocks that lie wholly inside one of them', () => {
    //   0                 2M      3M       4M
    //   |#################|#######|########|
    //   [          V1 (nohugepage)  )[ V2  )
    //   block 0: wholly in V1 -> freed; block 1: split between V1 and V2 -> kept, empty
    const s = scenario(lines(
      'process P',
      'map A anon private 4M',
      'touch A 0 4M write',
      'madvise A 0 3M nohugepage',
      'madvise A 0 4M dontneed',
      'snapshot across A 0 4M',
    ));
    expect(s.mm('P').vmas.length).toBe(2);
    expect(s.delta('across').VmPTE).toBe(vmpte(1));
    expect(s.delta('across').RssAnon).toBe(0);
    expect(s.pteTables('P')).toEqual([1, 1]);
  });
});

describe('what keeps tables: MADV_FREE, VM_LOCKED, guard markers', () => {
  it('frees no table with MADV_FREE and leaves RSS and pagemap unchanged', () => {
    // probe 04: without memory pressure lazily freed pages stay mapped.
    const s = scenario(lines(
      'process P',
      'map A anon private 4M',
      'touch A 0 4M write',
      'madvise A 0 4M free',
      'snapshot free A 0 4M',
      'madvise A 0 4M dontneed',
      'snapshot dontneed',
    ));
    expect(s.delta('free').VmPTE).toBe(vmpte(2));
    expect(s.delta('free').RssAnon).toBe(4096);
    expect(s.pagemap('free')).toEqual([[1024, 'x']]);
    expect(s.delta('dontneed').VmPTE).toBe(SLOT_KB);
  });

  it('fails MADV_FREE on a MAP_SHARED mapping with EINVAL', () => {
    const s = scenario(lines(
      'process P',
      'map S anon shared 2M',
      'touch S 0 2M write',
      'madvise S 0 2M free err=EINVAL',
      'snapshot shared',
    ));
    expect(s.delta('shared').RssShmem).toBe(2048);
    expect(s.delta('shared').VmPTE).toBe(vmpte(1));
  });

  it('fails MADV_DONTNEED on VM_LOCKED memory with EINVAL and changes nothing; MADV_DONTNEED_LOCKED frees pages and table', () => {
    // probe 08.
    const s = scenario(lines(
      'process P',
      'map A anon private 4M locked',
      'snapshot locked A 0 4M',
      'madvise A 0 2M dontneed err=EINVAL',
      'snapshot einval A 0 4M',
      'madvise A 0 2M dontneed_locked',
      'snapshot dontneed-locked A 0 4M',
    ));
    expect(s.delta('locked').VmLck).toBe(4096);
    expect(s.delta('locked').RssAnon).toBe(4096);
    expect(s.delta('locked').VmPTE).toBe(vmpte(2));
    expect(s.delta('einval')).toEqual(s.delta('locked'));
    expect(s.pagemap('einval')).toEqual([[1024, 'x']]);
    expect(s.delta('dontneed-locked').RssAnon).toBe(2048);
    expect(s.delta('dontneed-locked').VmPTE).toBe(vmpte(1));
    expect(s.delta('dontneed-locked').VmLck).toBe(4096);
    expect(s.pagemap('dontneed-locked')).toEqual([[512, '-'], [512, 'x']]);
  });

  it('zaps and frees the unlocked block before failing with EINVAL at the locked VMA behind it', () => {
    //   0        2M       4M
    //   |########|LLLLLLLL|      mlock [2M, 4M): two VMAs
    // madvise_walk_vmas() handles the VMAs in order and stops at the first error: [0, 2M) is
    // zapped (and its table freed) before [2M, 4M) returns -EINVAL.
    const s = scenario(lines(
      'process P',
      'map A anon private 4M',
      'touch A 0 4M write',
      'mlock A 2M 2M',
      'madvise A 0 4M dontneed err=EINVAL',
      'snapshot partly A 0 4M',
    ));
    expect(s.delta('partly').RssAnon).toBe(2048);
    expect(s.delta('partly').VmPTE).toBe(vmpte(1));
    expect(s.pagemap('partly')).toEqual([[512, '-'], [512, 'x']]);
  });

  it('fails MADV_FREE on VM_LOCKED memory with EINVAL, as MADV_DONTNEED', () => {
    // mm/madvise.c: madvise_dontneed_free() serves MADV_DONTNEED, MADV_DONTNEED_LOCKED and
    // MADV_FREE, and starts with madvise_dontneed_free_valid_vma(), which forbids VM_LOCKED for
    // every advice but MADV_DONTNEED_LOCKED.
    const s = scenario(lines(
      'process P',
      'map A anon private 2M locked',
      'madvise A 0 2M free err=EINVAL',
      'snapshot after',
    ));
    expect(s.delta('after').RssAnon).toBe(2048);
  });

  it('keeps every table that holds a guard marker through DONTNEED; GUARD_REMOVE frees none, a later DONTNEED does', () => {
    // probe 07.
    //   0 4K     2M       4M
    //   |g#######|gggggggg|     one marker in block 0, a whole block of markers in block 1
    const s = scenario(lines(
      'process P',
      'map A anon private 4M',
      'touch A 0 4M write',
      'madvise A 0 4K guard_install',
      'madvise A 2M 2M guard_install',
      'snapshot guarded A 0 4M',
      'touch A 0 4K read err=SIGSEGV',
      'madvise A 0 2M dontneed',
      'madvise A 2M 2M dontneed',
      'snapshot guard-dontneed A 0 4M',
      'madvise A 0 4M guard_remove',
      'snapshot removed A 0 4M',
      'madvise A 0 4M dontneed',
      'snapshot removed-dontneed',
    ));
    expect(s.delta('guarded').VmPTE).toBe(vmpte(2));
    expect(s.delta('guarded').RssAnon).toBe(4096 - PAGE_KB - 2048);
    expect(s.pagemap('guarded')).toEqual([[1, 'g'], [511, 'x'], [512, 'g']]);
    expect(s.delta('guard-dontneed').VmPTE).toBe(vmpte(2));
    expect(s.delta('guard-dontneed').RssAnon).toBe(0);
    expect(s.pagemap('guard-dontneed')).toEqual([[1, 'g'], [511, '-'], [512, 'g']]);
    expect(s.delta('removed').VmPTE).toBe(vmpte(2));
    expect(s.pagemap('removed')).toEqual([[1024, '-']]);
    expect(s.delta('removed-dontneed').VmPTE).toBe(SLOT_KB);
  });
});

describe('munmap frees tables only where no VMA remains', () => {
  it('frees the 510 inner tables of [4K, 1G-4K), then each edge table with its last VMA, then the PMD and PUD', () => {
    // probe 05. One byte per 2 MiB gives the same 512 tables as a dense touch.
    const s = scenario(lines(
      'process P',
      'map A anon private 1G',
      'touch A 0 1G write every=2M',
      'snapshot touched',
      'unmap A 4K 0x3FFFE000',
      'snapshot middle-unmapped',
      'unmap A 0 4K',
      'snapshot first-unmapped',
      'unmap A 0x3FFFF000 4K',
      'snapshot last-unmapped',
    ));
    expect(s.delta('touched').VmPTE).toBe(vmpte(512));
    expect(s.delta('middle-unmapped').VmPTE).toBe(vmpte(2));
    expect(s.delta('middle-unmapped').VmSize).toBe(8);
    // The byte at 0 stays; the one at 1G-2M went with the middle.
    expect(s.delta('middle-unmapped').RssAnon).toBe(PAGE_KB);
    // The PMD table still spans the last 4 KiB VMA.
    expect(s.delta('first-unmapped').VmPTE).toBe(vmpte(1));
    expect(s.delta('last-unmapped').VmPTE).toBe(0);
    expect(s.delta('last-unmapped').VmSize).toBe(0);
  });

  it('keeps the table of a block shared by two VMAs when one is unmapped, and frees it with the second', () => {
    //   0x300000000000   +512K   +1M     +1.5M     +2M
    //   |[   X   )        [   Y   )                |     one block, two VMAs (a gap keeps them apart)
    const s = scenario(lines(
      'process Q',
      'map X anon private 512K at=0x300000000000',
      'map Y anon private 512K at=0x300000100000',
      'touch X 0 4K write',
      'touch Y 0 4K write',
      'snapshot both',
      'unmap X 0 512K',
      'snapshot x-gone',
      'unmap Y 0 512K',
      'snapshot y-gone',
    ));
    expect(s.delta('both').VmPTE).toBe(vmpte(1));
    expect(s.delta('x-gone').VmPTE).toBe(vmpte(1));
    expect(s.delta('x-gone').RssAnon).toBe(PAGE_KB);
    expect(s.delta('y-gone').VmPTE).toBe(0);
  });

  it('keeps the table of a partly unmapped block while the rest of its VMA still lies in the block', () => {
    //   |....####|########|   unmap [0, 1M): [1M, 4M) still uses block 0's table
    const s = scenario(lines(
      'process P',
      'map A anon private 4M',
      'touch A 0 4M write',
      'unmap A 0 1M',
      'snapshot quarter',
      'unmap A 1M 1M',
      'snapshot block-0-gone',
    ));
    expect(s.delta('quarter').VmPTE).toBe(vmpte(2));
    expect(s.delta('quarter').RssAnon).toBe(3072);
    expect(s.delta('block-0-gone').VmPTE).toBe(vmpte(1));
    expect(s.delta('block-0-gone').RssAnon).toBe(2048);
  });
});

describe('PMD and PUD tables', () => {
  it('are never freed by DONTNEED: one byte per 2 MiB over 4 GiB is +8212 kB, DONTNEED leaves +20, munmap +0', () => {
    // 2048 PTE + 4 PMD (4 GiB from a 1 GiB aligned start) + 1 PUD = 2053 tables = 8212 kB
    // (docs/kernel-facts.md quotes the same +8212 kB). DONTNEED frees the 2048 PTE tables only.
    const s = scenario(lines(
      'process P',
      'map A anon private 4G',
      'touch A 0 4G write every=2M',
      'snapshot sparse',
      'madvise A 0 4G dontneed',
      'snapshot dontneed',
      'unmap A 0 4G',
      'snapshot unmapped',
    ));
    expect(s.delta('sparse').VmPTE).toBe(8212);
    expect(s.delta('sparse').RssAnon).toBe(2048 * PAGE_KB);
    expect(s.delta('dontneed').VmPTE).toBe(4 * TABLE_KB + TABLE_KB);
    expect(s.delta('unmapped').VmPTE).toBe(0);
  });

  it('are not freed even when DONTNEED empties all 512 slots of a PMD table', () => {
    const s = scenario(lines('process P', 'map A anon private 1G', 'touch A 0 1G write every=2M', 'madvise A 0 1G dontneed', 'snapshot empty-pmd'));
    expect(s.delta('empty-pmd').VmPTE).toBe(SLOT_KB);
  });
});
