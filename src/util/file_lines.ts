/**
 * A text file's lines, read in 64 KiB chunks: what a trace or an op script costs to read is one
 * line at a time, whatever the file's size (issue 15, D15: a trace was read whole, as one string,
 * which Node caps at 512 MiB). A line longer than `maxLine` characters stops the reading with
 * LineTooLong: nothing valid is that long, and holding it would defeat the bound.
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { LineTooLong, MAX_LINE } from './lines.js';

const CHUNK = 1 << 16;

/** The lines of a file (without their '\n'; a last line without one is yielded too). Throws what fs throws. */
export function* fileLines(path: string, maxLine = MAX_LINE): Generator<string> {
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const dec = new StringDecoder('utf8');
    let pending = '';
    let line = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      const text = n > 0 ? dec.write(buf.subarray(0, n)) : dec.end();
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        line++;
        if (pending.length + nl - from > maxLine) throw new LineTooLong(line, maxLine);
        yield pending + text.slice(from, nl);
        pending = '';
        from = nl + 1;
      }
      pending += text.slice(from);
      if (pending.length > maxLine) throw new LineTooLong(line + 1, maxLine);
      if (n <= 0) break;
    }
    if (pending) yield pending;
  } finally {
    fs.closeSync(fd);
  }
}

