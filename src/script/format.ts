/**
 * Ops as text: the one printer of the op-script language, beside its parser (parse.ts). Whatever
 * builds a script from other data (trace/to_script.ts) builds Op values and prints them here, so a
 * printed line always parses back to the op it came from (test/script/format.test.ts checks
 * `parseOpLine(formatOp(op))` on generated ops). Canonical form: sizes as `fmtSize` spells them,
 * addresses in hex, options after the positional words, `err=` last.
 */
import { protString, type Op } from './ast.js';
import { fmtSize } from './grammar.js';

const hex = (n: number) => `0x${n.toString(16)}`;

/** An op as a value to print: an Op without its place in a file. */
export type OpValue = Op extends infer T ? (T extends Op ? Omit<T, 'loc'> : never) : never;

/** The line of an op, without a comment. */
export function formatOp(op: OpValue): string {
  const words = [op.op, ...opWords(op)];
  if (op.err) words.push(`err=${op.err}`);
  return words.join(' ');
}

/** The words after the op word, `err=` left out. */
function opWords(op: OpValue): string[] {
  const range = (o: { map: string; offset: number; len: number }) => [o.map, fmtSize(o.offset), fmtSize(o.len)];
  switch (op.op) {
    case 'config':
      return Object.entries(op.settings).map(([k, v]) => `${k}=${v}`);
    case 'process':
    case 'switch':
    case 'exit':
      return [op.name];
    case 'fork':
      return [op.parent, op.name];
    case 'memfd':
      return [op.name, fmtSize(op.size)];
    case 'file':
      return [op.name, fmtSize(op.size), ...(op.folio !== 4096 ? [`folio=${fmtSize(op.folio)}`] : [])];
    case 'map':
      return mapWords(op);
    case 'touch':
      return [...range(op), op.write ? 'write' : 'read', ...(op.every !== undefined ? [`every=${fmtSize(op.every)}`] : [])];
    case 'madvise':
      return [...range(op), op.advice];
    case 'mprotect':
      return [...range(op), protString(op.prot)];
    case 'mremap':
      return [...range(op), fmtSize(op.newLen), ...(op.maymove ? ['maymove'] : []), ...(op.at !== undefined ? [`at=${hex(op.at)}`] : [])];
    case 'uffd_register':
      return [...range(op), op.mode];
    case 'uffd_writeprotect':
      return [...range(op), op.wp ? 'on' : 'off'];
    case 'fadvise':
      return [...range(op), op.advice];
    case 'uffd_move':
      return [...range(op), op.dst, fmtSize(op.dstOffset), ...(op.holes ? ['allow_src_holes'] : [])];
    case 'mlock':
      return [...range(op), ...(op.onfault ? ['onfault'] : [])];
    case 'unmap':
    case 'munlock':
    case 'uffd_copy':
    case 'uffd_zeropage':
    case 'tcp_zerocopy':
    case 'binder_transaction':
    case 'migrate':
      return range(op);
    case 'swapoff':
      return [];
    case 'clear_refs':
      return [String(op.type)];
    case 'snapshot':
      return [op.label, ...(op.range ? range(op.range) : [])];
    case 'expect':
      return [op.field, ...(op.delta ? ['delta'] : []), op.cmp, String(op.value)];
  }
}

function mapWords(op: Extract<OpValue, { op: 'map' }>): string[] {
  const sharing = op.shared ? 'shared' : 'private';
  const at = op.at !== undefined ? [`at=${hex(op.at)}`] : [];
  if (op.kind === 'tcp' || op.kind === 'binder') return [op.name, op.kind, fmtSize(op.size), ...at];
  const head = op.kind === 'anon' ? [op.name, 'anon', sharing, fmtSize(op.size)] : [op.name, op.kind, op.file ?? '', fmtSize(op.offset), fmtSize(op.size), sharing];
  return [...head, ...at, ...(op.prot !== undefined ? [`prot=${protString(op.prot)}`] : []), ...(op.huge ? [op.huge] : []), ...(op.locked ? ['locked'] : [])];
}
