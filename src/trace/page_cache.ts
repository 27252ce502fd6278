/**
 * `meta page_cache_exit=F=CACHED/PAGES ...` of a recorded trace (docs/trace-format.md): the trace's
 * files that were partly out of the page cache when the process exited, by trace file name, with
 * the file pages their VMAs mapped and how many of those were cached.
 *
 * Why it matters: the kernel's fault-around (filemap_map_pages) maps only pages already in the page
 * cache, while replay creates every file fully cached. A recording's uncached pages are pages the
 * model may map and the kernel did not, so replay's RssFile can come out higher.
 */
export interface PartlyCachedFile {
  /** the trace's file name (`f3`) */
  name: string;
  pages: number;
  cached: number;
}

/**
 * Uncached mapped pages, summed over the files, from which recording and replay warn. Fault-around
 * maps at most fault_around_bytes (64 KiB, 16 pages) per fault, so fewer missing pages than that
 * move RssFile by less than one window; almost every recording has a few (libc's last page, say).
 */
export const PAGE_CACHE_WARN_PAGES = 16;

export function formatPageCacheExit(files: readonly PartlyCachedFile[]): string {
  return files.map((f) => `${f.name}=${f.cached}/${f.pages}`).join(' ');
}

/** Entries that do not read as NAME=CACHED/PAGES are left out. */
export function parsePageCacheExit(value: string): PartlyCachedFile[] {
  return value.split(' ').flatMap((e) => {
    const m = /^(.+)=(\d+)\/(\d+)$/.exec(e);
    return m ? [{ name: m[1], cached: Number(m[2]), pages: Number(m[3]) }] : [];
  });
}

export const uncachedPages = (files: readonly PartlyCachedFile[]): number => files.reduce((n, f) => n + Math.max(0, f.pages - f.cached), 0);

/** The files with the most uncached pages first, at most `n`, as `label: CACHED of PAGES pages`. */
export function worstFiles<F extends PartlyCachedFile>(files: readonly F[], n: number, label: (f: F) => string = (f) => f.name): string {
  const worst = [...files].sort((a, b) => b.pages - b.cached - (a.pages - a.cached)).slice(0, n);
  return worst.map((f) => `${label(f)}: ${f.cached.toLocaleString('en-US')} of ${f.pages.toLocaleString('en-US')} pages`).join(', ') + (files.length > n ? ', ...' : '');
}
