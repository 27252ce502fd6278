/**
 * The page cache holds a file's blocks as they are used, not its whole size (issue 15, D1, D2):
 * a regular file's pages are cached "as written" block by block when first looked up, with the
 * folios its writes made; a memfd's holes cost nothing.
 */
import { describe, expect, it } from 'vitest';
import { PT_FILE, PT_SHMEM } from '../../src/mm/page_alloc.js';
import { BLOCK_KB, lines, scenario, T } from '../support/scenario.js';

describe('a large file costs the blocks it uses', () => {
  it('file F 1T caches nothing until a fault, then the faulting block only', () => {
    const s = scenario(lines('file F 1T', 'process P', 'map A file F 512G 1G private prot=r--', 'snapshot before', 'touch A 0 4K read', 'snapshot after'));
    const mem = s.result.kernel.mem;
    // One 2 MiB block of 4K folios is cached; fault-around maps 16 of them (64 kB window).
    expect(mem.used[PT_FILE]).toBe(512);
    expect(s.delta('after').RssFile).toBe(64);
    expect(s.delta('before').RssFile).toBe(0);
  });

  it('folio=2M: the block comes in as one PMD-size folio and maps by PMD, as when written whole', () => {
    const s = scenario(lines('file F 4T folio=2M', 'process P', 'map A file F 2T 4M private prot=r-- hugepage', 'touch A 2M 4K read', 'snapshot s'));
    expect(s.result.kernel.mem.used[PT_FILE]).toBe(512);
    expect(s.delta('s').RssFile).toBe(BLOCK_KB);
    expect(s.rollup('s').FilePmdMapped).toBe(BLOCK_KB);
  });

  it('an 8 TiB memfd with one page written holds one page', () => {
    const s = scenario(lines('memfd F 8T', 'process P', `map A shmem F ${8 * T - 2 ** 21} 2M shared`, 'touch A 2044K 4K write', 'snapshot s'));
    expect(s.result.kernel.mem.used[PT_SHMEM]).toBe(1);
    expect(s.delta('s').RssShmem).toBe(4);
  });
});
