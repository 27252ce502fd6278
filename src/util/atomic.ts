/**
 * The one way ptlab writes an output file or directory: under a private name beside the target,
 * renamed into place only once complete (rename(2) replaces a file atomically on one file system).
 * A reader, or a later run, sees the old output or the new one, never a mix or a half-written file
 * (issue 15, D16). Temporary names still pending are removed by `removePendingTemps()`, which the
 * command calls when SIGINT or SIGTERM ends it while any is pending (src/cli/main.ts watches).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Temporary files and directories not yet renamed into place. */
const pending = new Set<string>();
let watcher: ((any: boolean) => void) | undefined;

/** Call `cb(true)` when the first temporary name is pending and `cb(false)` when none is left. */
export function watchPendingTemps(cb: (any: boolean) => void): void {
  watcher = cb;
}

function track(p: string): void {
  pending.add(p);
  if (pending.size === 1) watcher?.(true);
}

function untrack(p: string): void {
  if (pending.delete(p) && pending.size === 0) watcher?.(false);
}

/** A write that failed: the target, and why (an errno code or message). */
export class OutputError extends Error {
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`cannot write ${target}: ${reason}`);
  }
}

const reasonOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));

function tempName(target: string, what: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${what}-${process.pid}`);
}

/** Remove every temporary name still pending (at SIGINT/SIGTERM; synchronous, safe to call twice). */
export function removePendingTemps(): void {
  for (const p of pending) {
    // Retry: a write still finishing on the thread pool can refill a directory between rimraf's
    // unlinks and its rmdir (ENOTEMPTY). One failure must not keep the other names from going.
    try {
      fs.rmSync(p, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch {
      // Nothing more a signal handler can do; the name stays, as it would after SIGKILL.
    }
  }
  const had = pending.size > 0;
  pending.clear();
  if (had) watcher?.(false);
}

/** A file written piece by piece, then renamed into place by commit(); abort() leaves the target as it was. */
export class AtomicFile {
  private fd: number;
  private readonly tmp: string;
  private buf = '';
  /** Committed or aborted: nothing more to do. */
  private settled = false;

  constructor(readonly target: string) {
    this.tmp = tempName(target, 'tmp');
    try {
      this.fd = fs.openSync(this.tmp, 'w');
    } catch (e) {
      throw new OutputError(target, reasonOf(e));
    }
    track(this.tmp);
  }

  write(data: string | Uint8Array): void {
    if (typeof data !== 'string') {
      this.flush();
      this.put(data);
      return;
    }
    this.buf += data;
    if (this.buf.length >= 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.buf) this.put(this.buf);
    this.buf = '';
  }

  private put(data: string | Uint8Array): void {
    try {
      if (typeof data === 'string') fs.writeSync(this.fd, data);
      else fs.writeSync(this.fd, data);
    } catch (e) {
      this.abort();
      throw new OutputError(this.target, reasonOf(e));
    }
  }

  /** The path written so far (complete after `finish()`), for a caller that reads it back before commit. */
  get partialPath(): string {
    return this.tmp;
  }

  /** Flush and close; the temporary file is complete but not yet in place. */
  finish(): void {
    if (this.fd < 0) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  commit(): void {
    this.finish();
    try {
      fs.renameSync(this.tmp, this.target);
    } catch (e) {
      this.abort();
      throw new OutputError(this.target, reasonOf(e));
    }
    untrack(this.tmp);
    this.settled = true;
  }

  /** Remove the temporary file (a no-op once committed). */
  abort(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    fs.rmSync(this.tmp, { force: true });
    untrack(this.tmp);
  }
}

/** Write a whole file or nothing. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const f = new AtomicFile(target);
  f.write(data);
  f.commit();
}

/**
 * Fill a directory and put it in place whole: `fill` writes into a fresh temporary directory beside
 * `dir`; then an existing `dir` is swapped out and removed. `replaceable(names)` is asked first
 * about an existing directory's entries: an output directory holding anything else is refused
 * (OutputError), so a mistyped path never deletes someone's files.
 */
export async function writeDirAtomic<T>(dir: string, replaceable: (names: string[]) => string | undefined, fill: (tmp: string) => Promise<T>): Promise<T> {
  let old: string[] | undefined;
  try {
    old = fs.readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new OutputError(dir, 'it is a file, not a directory');
    if (code !== 'ENOENT') throw new OutputError(dir, reasonOf(e));
  }
  if (old) {
    const problem = replaceable(old);
    if (problem) throw new OutputError(dir, problem);
  }
  const tmp = tempName(dir, 'tmp');
  const retired = tempName(dir, 'old');
  track(tmp);
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const result = await fill(tmp);
    // Synchronous from here on: no signal handler can run between the two renames.
    if (old) {
      track(retired);
      fs.renameSync(dir, retired);
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (old) fs.renameSync(retired, dir);
      throw e;
    }
    untrack(tmp);
    fs.rmSync(retired, { recursive: true, force: true });
    untrack(retired);
    return result;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    untrack(tmp);
    // A file-system error is the output's problem; anything else is the caller's and goes on as it is.
    throw e instanceof OutputError || (e as NodeJS.ErrnoException).code === undefined ? e : new OutputError(dir, reasonOf(e));
  }
}
