/** What a swarm campaign or worker has done so far. */
export interface RunProgress {
  readonly done: number;
  /** Unknown for a worker, which takes jobs until stopped. */
  readonly total?: number;
  readonly executions: number;
  readonly findings: number;
  readonly elapsedMs: number;
}

/**
 * The progress line of `ptlab swarm` and `ptlab worker` on stderr (`LABEL: done/total scenarios,
 * executions (per second), findings, seconds`): on a terminal rewritten in place, elsewhere a line
 * every 30 s and one at the end of a known total.
 */
export function progressLine(label: string): { update(p: RunProgress): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return {
    update(p) {
      const now = p.elapsedMs;
      const end = p.total !== undefined && p.done >= p.total;
      if (now - last < (tty ? 250 : 30_000) && !end) return;
      last = now;
      const rate = Math.round(p.executions / Math.max(1e-3, now / 1000));
      const line = `${label}: ${p.done}${p.total === undefined ? '' : `/${p.total}`} scenarios, ${p.executions.toLocaleString('en-US')} executions (${rate.toLocaleString('en-US')}/s), ${p.findings} finding(s), ${Math.round(now / 1000)} s`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
    done() {
      if (tty && last) process.stderr.write('\n');
    },
  };
}

/** A one-line progress display on stderr, only when stderr is a terminal (quiet in pipes and CI). */
export class Progress {
  private readonly done_: number[];
  private readonly total: (number | undefined)[];
  private readonly start = performance.now();
  private last = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly names: string[]) {
    this.done_ = names.map(() => 0);
    this.total = names.map(() => undefined);
  }

  update(job: number, done: number, total: number | undefined): void {
    this.done_[job] = done;
    this.total[job] = total;
    const now = performance.now();
    if (!this.tty || now - this.last < 250) return;
    this.last = now;
    const sum = this.done_.reduce((a, b) => a + b, 0);
    const known = this.total.every((t) => t !== undefined);
    const all = known ? this.total.reduce((a, b) => a! + b!, 0)! : 0;
    const secs = (now - this.start) / 1000;
    const rate = sum / Math.max(secs, 1e-3);
    const eta = known && rate > 0 ? ` ETA ${Math.ceil((all - sum) / rate)} s` : '';
    const pct = known && all ? ` (${((100 * sum) / all).toFixed(1)} %)` : '';
    process.stderr.write(`\r${this.names.length} job(s): ${sum.toLocaleString('en-US')}${known ? `/${all.toLocaleString('en-US')}` : ''} events${pct}, ${Math.round(rate).toLocaleString('en-US')}/s, ${secs.toFixed(0)} s${eta}   `);
  }

  done(): void {
    if (this.tty && this.last) process.stderr.write('\n');
  }
}
