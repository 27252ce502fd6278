/**
 * Parser of `perf script -F trace:comm,pid,tid,time,event,trace --ns --show-lost-events` text, as
 * perf 6.1 prints the tracepoints `ptlab record` asks for (PERF_EVENTS in ./perf.ts). Pure: text in,
 * events out. Lines it does not know are counted, never guessed at.
 *
 *   node 27503/27503  8213.956662123:      syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00002000, ...
 *   node 27503/27503  8213.956674001:       syscalls:sys_exit_mmap: 0x7fd2efaf4000
 *   node 27503/27503  8213.956677000:   exceptions:page_fault_user: address=0x7fd2efaf4008 ip=0x7fd2efb0423e error_code=0x6
 *   node 27927/27927  8256.089554897: PERF_RECORD_LOST lost 3
 */

/** The system calls `ptlab record` traces (each as sys_enter_X and sys_exit_X). */
export const TRACED_SYSCALLS = ['mmap', 'munmap', 'mremap', 'madvise', 'brk', 'mprotect', 'openat', 'close'] as const;
export type TracedSyscall = (typeof TRACED_SYSCALLS)[number];

interface Stamp {
  comm: string;
  /** thread group id (the process) */
  pid: number;
  tid: number;
  /** perf clock time in ns (CLOCK_MONOTONIC with `perf record -k mono`) */
  time: number;
}

export type PerfEvent =
  | (Stamp & { kind: 'enter'; syscall: TracedSyscall; args: Record<string, bigint> })
  | (Stamp & { kind: 'exit'; syscall: TracedSyscall; ret: bigint })
  /** `user`: exceptions:page_fault_user; `kernel`: page_fault_kernel. address null: a kernel symbol. */
  | (Stamp & { kind: 'fault'; mode: 'user' | 'kernel'; address: bigint | null; errorCode: number });

export interface PerfScript {
  events: PerfEvent[];
  /** sum of PERF_RECORD_LOST counts (events the kernel dropped because perf's buffer was full) */
  lost: number;
  /** lines that were neither an event of ours nor a known perf notice (first few kept) */
  unknown: number;
  unknownSample: string[];
}

// comm may hold blanks; pid/tid and the time anchor the line.
const HEAD = /^\s*(.*?)\s+(-?\d+)\/(-?\d+)\s+(\d+)\.(\d{9}):\s+(.*)$/;
const LOST = /^PERF_RECORD_LOST(?:_SAMPLES)? lost (\d+)/;
const SYSCALL = /^syscalls:sys_(enter|exit)_([a-z0-9_]+):\s*(.*)$/;
const FAULT = /^exceptions:page_fault_(user|kernel):\s*address=(\S+) ip=\S+ error_code=0x([0-9a-f]+)/;

const isTraced = (s: string): s is TracedSyscall => (TRACED_SYSCALLS as readonly string[]).includes(s);

/** `addr: 0x00000000, len: 0x00002000` → { addr: 0n, len: 0x2000n } */
function syscallArgs(text: string): Record<string, bigint> | null {
  const args: Record<string, bigint> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([a-z_]+): 0x([0-9a-f]+)\s*$/.exec(part);
    if (!m) return null;
    args[m[1]] = BigInt(`0x${m[2]}`);
  }
  return args;
}

/** Incremental form, for perf script's output as it streams (a recording may be millions of lines). */
export class PerfScriptParser {
  private readonly out: PerfScript = { events: [], lost: 0, unknown: 0, unknownSample: [] };

  line(line: string): void {
    const out = this.out;
    if (!line.trim()) return;
    const h = HEAD.exec(line);
    if (!h) return this.unknown(line);
    const stamp: Stamp = { comm: h[1], pid: Number(h[2]), tid: Number(h[3]), time: Number(h[4]) * 1e9 + Number(h[5]) };
    const body = h[6];
    const lost = LOST.exec(body);
    if (lost) {
      out.lost += Number(lost[1]);
      return;
    }
    const sc = SYSCALL.exec(body);
    if (sc) {
      if (!isTraced(sc[2])) return this.unknown(line);
      if (sc[1] === 'exit') {
        const m = /^0x([0-9a-f]+)$/.exec(sc[3].trim());
        if (!m) return this.unknown(line);
        out.events.push({ ...stamp, kind: 'exit', syscall: sc[2], ret: BigInt.asIntN(64, BigInt(`0x${m[1]}`)) });
        return;
      }
      const args = syscallArgs(sc[3]);
      if (!args) return this.unknown(line);
      out.events.push({ ...stamp, kind: 'enter', syscall: sc[2], args });
      return;
    }
    const f = FAULT.exec(body);
    if (!f) return this.unknown(line);
    // `%ps` prints a kernel address as a symbol (`elf_load`), a user address as hex.
    const address = /^0x[0-9a-f]+$/.test(f[2]) ? BigInt(f[2]) : null;
    out.events.push({ ...stamp, kind: 'fault', mode: f[1] as 'user' | 'kernel', address, errorCode: parseInt(f[3], 16) });
  }

  result(): PerfScript {
    return this.out;
  }

  private unknown(line: string): void {
    this.out.unknown++;
    if (this.out.unknownSample.length < 5) this.out.unknownSample.push(line);
  }
}

export function parsePerfScript(text: string): PerfScript {
  const p = new PerfScriptParser();
  for (const line of text.split('\n')) p.line(line);
  return p.result();
}
