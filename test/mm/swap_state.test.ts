// __swapin_nr_pages() (mm/swap_state.c, 6.18): the readahead window from the last fault and the
// readahead hits since. The cases follow the kernel's rules; scripts/swap-readahead.pt checks the
// windows they give against the live kernel.
import { describe, expect, it } from 'vitest';
import { __swapinNrPages, swapRaAddr, swapRaHits, swapRaVal, swapRaWin } from '../../src/mm/swap_state.js';

describe('__swapin_nr_pages()', () => {
  it('without hits reads 2 pages next to the last fault, in either direction, and 1 elsewhere', () => {
    expect(__swapinNrPages(10, 11, 0, 8, 0)).toBe(2);
    expect(__swapinNrPages(10, 9, 0, 8, 0)).toBe(2);
    expect(__swapinNrPages(10, 12, 0, 8, 0)).toBe(1);
    expect(__swapinNrPages(0, 0, 0, 8, 0)).toBe(1); // a VMA's first fault at its last address
  });

  it('rounds hits + 2 up to a power of two of at least 4, at most max_pages', () => {
    expect(__swapinNrPages(0, 50, 1, 8, 0)).toBe(4);
    expect(__swapinNrPages(0, 50, 2, 8, 0)).toBe(4);
    expect(__swapinNrPages(0, 50, 3, 8, 0)).toBe(8);
    expect(__swapinNrPages(0, 50, 4, 8, 0)).toBe(8); // a new VMA's 4 hits: 8 pages
    expect(__swapinNrPages(0, 50, 63, 8, 0)).toBe(8);
    expect(__swapinNrPages(0, 50, 63, 32, 0)).toBe(32);
  });

  it('does not shrink below half the previous window', () => {
    expect(__swapinNrPages(0, 50, 0, 8, 8)).toBe(4);
    expect(__swapinNrPages(0, 50, 0, 8, 4)).toBe(2);
    expect(__swapinNrPages(0, 50, 0, 8, 2)).toBe(1);
  });
});

describe('SWAP_RA_VAL()', () => {
  it('packs a user address above 4 GiB with a window and hits, and unpacks them', () => {
    const addr = 0x7f12_3456_7000;
    const v = swapRaVal(addr + 0x123, 8, 5);
    expect([swapRaAddr(v), swapRaWin(v), swapRaHits(v)]).toEqual([addr, 8, 5]);
  });
});
