/**
 * Records of a workload trace (`ptlab-trace 1`, docs/trace-format.md). One type per line kind;
 * generators produce the same records as the parser, so every consumer (replay, policies, the
 * op-script converter, the writer) sees one shape whatever the source.
 */
import { MADV_ADVICES, type MadvAdvice } from '../mm/madvise.js';
import { parseProt as parseScriptProt, protString } from '../script/ast.js';

export const TRACE_MAGIC = 'ptlab-trace';
export const TRACE_VERSION = 1;

export { MADV_ADVICES, type MadvAdvice };

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

export const VMA_KINDS = ['anon', 'anon-shared', 'file-private', 'file-shared', 'stack', 'heap', 'special'] as const;
export type VmaKind = (typeof VMA_KINDS)[number];

export const MMAP_FLAGS = ['private', 'shared', 'anon', 'fixed', 'noreserve', 'populate', 'stack', 'growsdown', 'hugetlb'] as const;
export type MmapFlag = (typeof MMAP_FLAGS)[number];

export const MREMAP_FLAG_NAMES = ['maymove', 'fixed', 'dontunmap'] as const;
export type MremapFlag = (typeof MREMAP_FLAG_NAMES)[number];

export type Access = 'read' | 'write' | 'exec';

/**
 * The meta keys replay takes as model settings (`config` of the op script it becomes): the THP
 * modes of the machine that recorded, and the swap area `ptlab record --swap` gave the program.
 */
export const TRACE_MODEL_SETTINGS = ['thp', 'shmem_thp', 'swap'] as const;

export const OBSERVED_KEYS = ['VmPTE', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmSize', 'VmSwap'] as const;
export type ObservedKey = (typeof OBSERVED_KEYS)[number];

/** Where an event came from, when known: ns since the first event, and the thread. */
export interface EventStamp {
  t?: number;
  tid?: number;
  /** A failed system call (errno name): recorded, never replayed. */
  err?: string;
  /** Source line (parsed traces). */
  line?: number;
}

export type TraceRecord =
  | { kind: 'meta'; values: Record<string, string>; line?: number }
  | { kind: 'file'; name: string; size: number; path?: string; folio: '4K' | '2M'; line?: number }
  | { kind: 'memfd'; name: string; size: number; line?: number }
  | { kind: 'process'; name: string; pid?: number; comm?: string; line?: number }
  | { kind: 'switch'; name: string; line?: number }
  | { kind: 'vma'; start: number; end: number; prot: number; vmaKind: VmaKind; file?: string; off: number; name?: string; line?: number }
  | { kind: 'brk-base'; start: number; cur: number; line?: number }
  | { kind: 'present'; start: number; end: number; write: boolean; line?: number }
  | { kind: 'observed'; label: string; values: Partial<Record<ObservedKey, number>>; line?: number }
  | ({ kind: 'mmap'; addr: number; len: number; prot: number; flags: MmapFlag[]; file?: string; off: number } & EventStamp)
  | ({ kind: 'munmap'; addr: number; len: number } & EventStamp)
  | ({ kind: 'mremap'; old: number; oldLen: number; newLen: number; addr: number; flags: MremapFlag[] } & EventStamp)
  | ({ kind: 'mprotect'; addr: number; len: number; prot: number } & EventStamp)
  | ({ kind: 'madvise'; addr: number; len: number; advice: MadvAdvice | null; raw?: number } & EventStamp)
  | ({ kind: 'brk'; brk: number } & EventStamp)
  | ({ kind: 'fault'; addr: number; access: Access } & EventStamp)
  | ({ kind: 'touch'; addr: number; len: number; write: boolean; every: number } & EventStamp)
  | ({ kind: 'exit' } & EventStamp);

export type RecordKind = TraceRecord['kind'];

/** Records that change the address space over time (the rest describe the start or annotate). */
export const EVENT_KINDS: ReadonlySet<RecordKind> = new Set(['mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'brk', 'fault', 'touch', 'exit']);

export { protString };

/** `rw-` → PROT bits; null if malformed. A fourth `p`/`s` character (as in /proc/PID/maps) is accepted. */
export function parseProt(s: string): number | null {
  return /^...[ps]?$/.test(s) ? (parseScriptProt(s.slice(0, 3)) ?? null) : null;
}

/** A trace parsed or generated: its records, and how many events among them (for progress). */
export interface Trace {
  name: string;
  records: Iterable<TraceRecord>;
  /** Number of event records, when known in advance (progress and sampling). */
  events?: number;
}
