/** The writer of workload traces: formatRecord(parseRecord(line)) gives the line back (normalised). */
import { OBSERVED_KEYS, TRACE_MAGIC, TRACE_VERSION, protString, type EventStamp, type TraceRecord } from './records.js';

export const TRACE_HEADER = `${TRACE_MAGIC} ${TRACE_VERSION}`;

const hex = (v: number) => `0x${v.toString(16)}`;

/** Quote a value when it holds blanks, quotes, `#`, control characters or is empty (\n, \r, \t escaped). */
export function quoteValue(v: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be quoted
  if (/^[^\s"#\\\x00-\x1f]+$/.test(v)) return v;
  return `"${v.replace(/[\\"\n\r\t]/g, (c) => ESCAPES[c])}"`;
}
const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function stampWords(s: EventStamp): string {
  let out = '';
  if (s.t !== undefined) out += ` t=${s.t}`;
  if (s.tid !== undefined) out += ` tid=${s.tid}`;
  if (s.err !== undefined) out += ` err=${s.err}`;
  return out;
}

export function formatRecord(r: TraceRecord): string {
  switch (r.kind) {
    case 'meta':
      return ['meta', ...Object.entries(r.values).map(([k, v]) => `${k}=${quoteValue(v)}`)].join(' ');
    case 'file':
      return `file ${r.name} ${r.size}${r.path !== undefined ? ` path=${quoteValue(r.path)}` : ''}${r.folio !== '4K' ? ` folio=${r.folio}` : ''}`;
    case 'memfd':
      return `memfd ${r.name} ${r.size}`;
    case 'process':
      return `process ${r.name}${r.pid !== undefined ? ` pid=${r.pid}` : ''}${r.comm !== undefined ? ` comm=${quoteValue(r.comm)}` : ''}`;
    case 'switch':
      return `switch ${r.name}`;
    case 'vma':
      return `vma ${hex(r.start)} ${hex(r.end)} ${protString(r.prot)} ${r.vmaKind}${r.file !== undefined ? ` file=${r.file} off=${hex(r.off)}` : ''}${r.name !== undefined ? ` name=${quoteValue(r.name)}` : ''}`;
    case 'brk-base':
      return `brk-base ${hex(r.start)} ${hex(r.cur)}`;
    case 'present':
      return `present ${hex(r.start)} ${hex(r.end)}${r.write ? ' write' : ''}`;
    case 'observed':
      return `observed ${r.label}${OBSERVED_KEYS.filter((k) => r.values[k] !== undefined).map((k) => ` ${k}=${r.values[k]}`).join('')}`;
    case 'mmap':
      return `mmap ${hex(r.addr)} ${hex(r.len)} ${protString(r.prot)} ${r.flags.join(',')}${r.file !== undefined ? ` file=${r.file} off=${hex(r.off)}` : ''}${stampWords(r)}`;
    case 'munmap':
      return `munmap ${hex(r.addr)} ${hex(r.len)}${stampWords(r)}`;
    case 'mremap':
      return `mremap ${hex(r.old)} ${hex(r.oldLen)} ${hex(r.newLen)} ${hex(r.addr)}${r.flags.map((f) => ` ${f}`).join('')}${stampWords(r)}`;
    case 'mprotect':
      return `mprotect ${hex(r.addr)} ${hex(r.len)} ${protString(r.prot)}${stampWords(r)}`;
    case 'madvise':
      return `madvise ${hex(r.addr)} ${hex(r.len)} ${r.advice ?? `advice=${r.raw}`}${stampWords(r)}`;
    case 'brk':
      return `brk ${hex(r.brk)}${stampWords(r)}`;
    case 'fault':
      return `fault ${hex(r.addr)} ${r.access}${stampWords(r)}`;
    case 'touch':
      return `touch ${hex(r.addr)} ${hex(r.len)} ${r.write ? 'write' : 'read'}${r.every !== 4096 ? ` every=${r.every}` : ''}${stampWords(r)}`;
    case 'exit':
      return `exit${stampWords(r)}`;
  }
}

/** The whole trace as text (header line first). */
export function* formatTrace(records: Iterable<TraceRecord>): Generator<string> {
  yield TRACE_HEADER;
  for (const r of records) yield formatRecord(r);
}
