/**
 * The op-script language as data (grammar: docs/op-scripts.md). The parser produces these; the
 * model executor and the kernel runner consume the same text.
 */

/** Where a token came from, for error messages: 1-based line and column. */
export interface Loc {
  file: string;
  line: number;
  col: number;
}

import { MADV_ADVICES, type MadvAdvice } from '../mm/madvise.js';
import { UFFD_MODES, type UffdMode } from '../mm/userfaultfd.js';
import { FADVICES, type Fadvice } from '../mm/fadvise.js';

/** The advices of `fadvise` ops (POSIX_FADV_*): those the model implements. */
export { FADVICES, type Fadvice };

/** The advices of `madvise` ops: exactly those the model implements. */
export type Advice = MadvAdvice;
export const ADVICES: readonly Advice[] = MADV_ADVICES;

/** The registration modes of `uffd_register` (UFFDIO_REGISTER_MODE_*). */
export type UffdRegisterMode = UffdMode;
export const UFFD_REGISTER_MODES: readonly UffdRegisterMode[] = UFFD_MODES;
/** Most bytes one `tcp_zerocopy` receives: the kernel runner's socket buffers (docs/op-scripts.md). */
export const TCP_ZEROCOPY_MAX = 64 * 1024 * 1024;
/** Binder's buffer space: the first 4M of a binder mapping (the model's constant). */
export { BINDER_BUFFER_MAX } from '../mm/mm_types.js';
/** Most bytes one `uffd_copy` fills: the kernel runner's source buffer (docs/op-scripts.md). */
export const UFFD_COPY_MAX = 2 * 1024 * 1024;

/** Failure names an op may be expected to produce (`err=NAME`). */
export const ERR_NAMES = ['EINVAL', 'ENOMEM', 'EFAULT', 'EAGAIN', 'EEXIST', 'EPERM', 'EBUSY', 'EACCES', 'ENOENT', 'ESRCH', 'SIGSEGV', 'SIGBUS'] as const;
export type ErrName = (typeof ERR_NAMES)[number];

export type ExpectField =
  | 'VmSize' | 'VmRSS' | 'RssAnon' | 'RssFile' | 'RssShmem' | 'VmPTE' | 'VmLck' | 'VmSwap'
  | 'Rss' | 'AnonHugePages' | 'ShmemPmdMapped' | 'FilePmdMapped'
  | 'PageTables' | 'ptes_reclaimed_fast' | 'ptes_reclaimed_slow' | 'pte_tables' | 'pte_tables_empty';

export const STATUS_FIELDS = ['VmSize', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmPTE', 'VmLck', 'VmSwap'] as const;
export const ROLLUP_FIELDS = ['Rss', 'AnonHugePages', 'ShmemPmdMapped', 'FilePmdMapped'] as const;
export const MODEL_FIELDS = ['PageTables', 'ptes_reclaimed_fast', 'ptes_reclaimed_slow', 'pte_tables', 'pte_tables_empty'] as const;
export const EXPECT_FIELDS: readonly ExpectField[] = [...STATUS_FIELDS, ...ROLLUP_FIELDS, ...MODEL_FIELDS];

/** The comparisons of `expect`. */
export const CMP_OPS = ['==', '<=', '>=', '<', '>', '!='] as const;
export type CmpOp = (typeof CMP_OPS)[number];

interface OpBase {
  loc: Loc;
  /** Expected failure (`err=`), or undefined when the op must succeed. */
  err?: ErrName;
}

export type Op =
  | (OpBase & { op: 'config'; settings: Record<string, string> })
  | (OpBase & { op: 'process'; name: string })
  | (OpBase & { op: 'switch'; name: string })
  | (OpBase & { op: 'exit'; name: string })
  /** Process `parent` forks; the child, a new process `name` with a copy of its memory, becomes current. */
  | (OpBase & { op: 'fork'; parent: string; name: string })
  | (OpBase & { op: 'memfd'; name: string; size: number })
  | (OpBase & { op: 'file'; name: string; size: number; folio: number })
  | (OpBase & {
      op: 'map';
      name: string;
      /**
       * tcp: a read-only mapping of a new connected loopback TCP socket (tcp_mmap()); binder: a
       * read-only mapping of a newly opened binder device (binder_mmap(); model only).
       */
      kind: 'anon' | 'shmem' | 'file' | 'tcp' | 'binder';
      /** memfd / file name for shmem and file mappings. */
      file?: string;
      offset: number;
      size: number;
      shared: boolean;
      at?: number;
      huge?: 'hugepage' | 'nohugepage';
      locked: boolean;
      /** PROT_* bits (`prot=rw-`); read|write when absent. */
      prot?: number;
    })
  | (OpBase & { op: 'touch'; map: string; offset: number; len: number; write: boolean; every?: number })
  | (OpBase & { op: 'madvise'; map: string; offset: number; len: number; advice: Advice })
  | (OpBase & { op: 'unmap'; map: string; offset: number; len: number })
  | (OpBase & { op: 'munlock'; map: string; offset: number; len: number })
  /** `onfault`: mlock2() with MLOCK_ONFAULT (VM_LOCKONFAULT: nothing is faulted in now). */
  | (OpBase & { op: 'mlock'; map: string; offset: number; len: number; onfault?: true })
  | (OpBase & { op: 'mprotect'; map: string; offset: number; len: number; prot: number })
  | (OpBase & {
      op: 'mremap';
      map: string;
      offset: number;
      len: number;
      newLen: number;
      maymove: boolean;
      /** MREMAP_FIXED target. */
      at?: number;
    })
  | (OpBase & { op: 'uffd_register'; map: string; offset: number; len: number; mode: UffdRegisterMode })
  | (OpBase & { op: 'uffd_copy' | 'uffd_zeropage'; map: string; offset: number; len: number })
  | (OpBase & { op: 'uffd_writeprotect'; map: string; offset: number; len: number; wp: boolean })
  /**
   * UFFDIO_MOVE of LEN bytes at OFFSET of M to DST_OFFSET of mapping DST (registered with the
   * process's userfaultfd); `holes`: UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES.
   */
  | (OpBase & { op: 'uffd_move'; map: string; offset: number; len: number; dst: string; dstOffset: number; holes: boolean })
  /** The peer sends LEN bytes; getsockopt(TCP_ZEROCOPY_RECEIVE) maps them at OFFSET of tcp mapping M. */
  | (OpBase & { op: 'tcp_zerocopy'; map: string; offset: number; len: number })
  /** A binder transaction of LEN bytes lands in the buffer at OFFSET of binder mapping M (its pages are installed). */
  | (OpBase & { op: 'binder_transaction'; map: string; offset: number; len: number })
  /**
   * Compaction of the node meets the pages of the range: each small anonymous folio mapped there
   * moves to a new folio (src/mm/migrate.ts). No errno: compaction is no system call.
   */
  | (OpBase & { op: 'migrate'; map: string; offset: number; len: number })
  /**
   * posix_fadvise(2) with ADVICE of the file range mapping M maps at [OFFSET, OFFSET+LEN) (the
   * file offset is M's mapping offset + OFFSET; src/mm/fadvise.ts).
   */
  | (OpBase & { op: 'fadvise'; map: string; offset: number; len: number; advice: Fadvice })
  /** swapoff(2) of the script's swap area (`config swap=SIZE`). */
  | (OpBase & { op: 'swapoff' })
  /** A write of TYPE to /proc/PID/clear_refs of the current process (1, 2, 3 or 5; 4 is not modelled). */
  | (OpBase & { op: 'clear_refs'; type: number })
  | (OpBase & { op: 'snapshot'; label: string; range?: { map: string; offset: number; len: number } })
  | (OpBase & { op: 'expect'; field: ExpectField; delta: boolean; cmp: CmpOp; value: number });

export type OpKind = Op['op'];

export interface Script {
  file: string;
  ops: Op[];
}

/** A script error: where, and what was expected. Rendered by `formatScriptError`. */
export interface ScriptError {
  code: 'syntax' | 'unknown-op' | 'bad-value' | 'unknown-name' | 'out-of-range' | 'duplicate-name' | 'order';
  loc: Loc;
  message: string;
  expected?: string;
}

export function formatScriptError(e: ScriptError): string {
  const where = `${e.loc.file}:${e.loc.line}:${e.loc.col}`;
  return e.expected ? `${where}: ${e.message} (expected ${e.expected})` : `${where}: ${e.message}`;
}

/** The k-th map of a process goes at 16 TiB + k × 1 TiB (docs/op-scripts.md, placement rule). */
export const PLACEMENT_BASE = 16 * 2 ** 40;
export const PLACEMENT_STRIDE = 2 ** 40;
export function placementAddress(k: number): number {
  return PLACEMENT_BASE + k * PLACEMENT_STRIDE;
}

/** A protection as /proc/PID/maps spells it (`rw-`, `r--`, `---`, `rwx`): PROT_* bits, or undefined. */
export function parseProt(text: string): number | undefined {
  if (!/^[r-][w-][x-]$/.test(text)) return undefined;
  return (text[0] === 'r' ? 1 : 0) | (text[1] === 'w' ? 2 : 0) | (text[2] === 'x' ? 4 : 0);
}

/** PROT_* bits as parseProt() reads them: `rw-`. */
export function protString(prot: number): string {
  return (prot & 1 ? 'r' : '-') + (prot & 2 ? 'w' : '-') + (prot & 4 ? 'x' : '-');
}

/**
 * Each process's mappings at the end of `ops`, and the size each may be addressed up to: as mapped,
 * or as an mremap grew it (offsets stay relative to the mapping's origin); a process made by
 * `fork` starts with its parent's. What the ops assume, not what the run did: an op expected to
 * fail changes nothing here.
 */
export function mappingsByProcess(ops: readonly Op[]): Map<string, Map<string, number>> {
  const procs = new Map<string, Map<string, number>>();
  let cur: Map<string, number> | undefined;
  for (const op of ops) {
    if (op.op === 'process') procs.set(op.name, (cur = new Map()));
    else if (op.op === 'fork') procs.set(op.name, (cur = new Map(procs.get(op.parent))));
    else if (op.op === 'switch') cur = procs.get(op.name);
    else if (op.op === 'map') cur?.set(op.name, op.size);
    else if (op.op === 'mremap' && !op.err) cur?.set(op.map, Math.max(cur.get(op.map) ?? 0, op.offset + op.newLen));
  }
  return procs;
}
