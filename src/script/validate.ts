/**
 * The second pass: a draft op applied to the script state (processes, mappings, files, snapshots)
 * as the lines before it left it, reporting name, range and order errors. Checks that need a field
 * the line failed to supply are skipped, so one bad word does not cascade.
 */
import {
  placementAddress,
  type ErrName,
  type OpKind,
  BINDER_BUFFER_MAX,
  TCP_ZEROCOPY_MAX,
  UFFD_COPY_MAX,
} from './ast.js';
import { IntervalMap } from '../util/intervals.js';
import { type Cols, type DraftFor, LineCtx, type Parsed } from './line.js';
import { NEEDS_PROCESS, fmtAddr, fmtSize } from './grammar.js';
import { TASK_SIZE } from '../mm/const.js';

// ---------------------------------------------------------------------------------------------
// Validation: the script state as the lines apply to it

export interface MapInfo {
  line: number;
  /** Size as mapped; undefined when the map line had a bad size. */
  size?: number;
  /** Start address; undefined when unknown (bad at=). */
  start?: number;
  /** MAP_SHARED (VM_SHARED): anonymous shared, or a shared memfd or file mapping. */
  shared?: boolean;
  /** `anon private`, `shmem shared`, ...: the map line's kind and sharing. */
  kind?: string;
  /**
   * The map line expects its mmap() to fail (`err=`, with no flag whose call could fail instead,
   * or over another mapping): the name exists, the mapping never does.
   */
  failed?: ErrName;
}

export interface Proc {
  name: string;
  line: number;
  maps: Map<string, MapInfo>;
  /** Address ranges mapped, [start, end), and the mapping each belongs to: for overlap checks. */
  space: IntervalMap<string>;
  /** Maps executed so far in this process: the next one goes at placementAddress(k). */
  k: number;
  snapshots: number;
  exited: boolean;
  /** Set when a line that should have defined something failed: unknown names are not reported. */
  lenient: boolean;
  /** The first line of a uffd_* op in this process (a process that used userfaultfd is not forked). */
  uffd?: number;
}

export interface FileInfo {
  kind: 'memfd' | 'file';
  line: number;
  size?: number;
}

export function newProc(name: string, line: number, lenient = false): Proc {
  return { name, line, maps: new Map(), space: new IntervalMap(), k: 0, snapshots: 0, exited: false, lenient };
}

export class Validator {
  private readonly procs = new Map<string, Proc>();
  private current: Proc | undefined;
  private firstProcessLine: number | undefined;
  private lastExit: { name: string; line: number } | undefined;
  private readonly files = new Map<string, FileInfo>();
  private filesLenient = false;
  /** The config line that gave the script a swap area, and the swapoff that took it away. */
  private swapLine: number | undefined;
  private swapoffLine: number | undefined;

  check(c: LineCtx, p: Parsed): void {
    const d = p.draft;
    const cols = p.cols;
    if (d.op === 'config') {
      if (this.firstProcessLine !== undefined)
        c.error('order', cols.op, 'config after the first process', `config lines before line ${this.firstProcessLine}`);
      const swap = d.settings?.swap;
      if (swap !== undefined) this.swapLine = swap === 'off' ? undefined : c.line;
      return;
    }
    if (d.op === 'process' || d.op === 'switch' || d.op === 'exit') return this.processOp(c, d, cols);
    if (d.op === 'fork') return this.forkOp(c, d, cols);
    if (d.op === 'memfd' || d.op === 'file') return this.fileOp(c, d, cols);

    const proc = this.needProcess(c, d.op, cols.op);
    if (!proc) return;
    if (d.op.startsWith('uffd_')) proc.uffd ??= c.line;
    switch (d.op) {
      case 'swapoff':
        if (this.swapLine === undefined) c.error('order', cols.op, 'swapoff without a swap area', 'config swap=SIZE before the first process');
        else if (this.swapoffLine !== undefined) c.error('order', cols.op, `swapoff: the swap area is already off (line ${this.swapoffLine})`, 'one swapoff per script');
        else if (!d.err) this.swapoffLine = c.line;
        return;
      case 'map':
        return this.mapOp(c, proc, d, p);
      case 'touch':
      case 'madvise':
      case 'unmap':
      case 'mlock':
      case 'munlock': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        if (d.op === 'mlock' || d.op === 'munlock' || (d.op === 'madvise' && d.advice !== 'dontneed' && d.advice !== 'dontneed_locked')) {
          this.refuseOnDriver(c, info, d.op === 'madvise' ? `madvise ${d.advice}` : d.op, d.map, cols);
        }
        if (d.op === 'unmap' && info?.start !== undefined && d.offset !== undefined && d.len !== undefined && !d.err) {
          const lo = info.start + d.offset;
          proc.space.remove(lo, lo + d.len);
        }
        return;
      }
      case 'fadvise': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        if (info?.kind !== undefined && !info.kind.startsWith('file ') && !info.kind.startsWith('shmem '))
          c.error('bad-value', cols.map ?? cols.op, `fadvise of the ${info.kind} mapping ${d.map}`, 'a file or shmem mapping (fadvise advises on the file it maps)');
        return;
      }
      case 'mprotect':
      case 'uffd_register':
      case 'migrate':
        this.refuseOnDriver(c, this.range(c, proc, d.map, d.offset, d.len, cols), d.op, d.map, cols);
        return;
      case 'tcp_zerocopy': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        if (info?.kind !== undefined && info.kind !== 'tcp shared') {
          c.error('bad-value', cols.map ?? cols.op, `tcp_zerocopy into the ${info.kind} mapping ${d.map}`, 'a tcp mapping (map M tcp SIZE)');
        } else if (info?.start !== undefined && d.offset !== undefined && d.len !== undefined) {
          // The range must be mapped whole: the kernel maps up to the end of the VMA at OFFSET and
          // returns success for the part, which the kernel runner cannot tell the model about. A
          // range that starts in a hole is EINVAL (find_tcp_vma() finds no VMA).
          const lo = info.start + d.offset;
          for (let a = lo; a < lo + d.len; ) {
            const iv = proc.space.at(a);
            if (!iv || iv.owner !== d.map) {
              if (a > lo || !d.err)
                c.error('out-of-range', cols.offset ?? cols.op, `[${fmtSize(a - info.start)}, ...) of mapping ${d.map} is not mapped`, 'a range of the mapping that is still mapped (no unmap inside it), or one starting in a hole with err=EINVAL');
              break;
            }
            a = iv.end;
          }
        }
        if (d.len !== undefined && d.len > TCP_ZEROCOPY_MAX)
          c.error('out-of-range', cols.len ?? cols.op, `tcp_zerocopy of ${fmtSize(d.len)}`, `at most ${fmtSize(TCP_ZEROCOPY_MAX)} (the kernel runner's receive buffer)`);
        return;
      }
      case 'binder_transaction': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        if (info?.kind !== undefined && info.kind !== 'binder shared') {
          c.error('bad-value', cols.map ?? cols.op, `binder_transaction into the ${info.kind} mapping ${d.map}`, 'a binder mapping (map M binder SIZE)');
        } else if (d.offset !== undefined && d.len !== undefined && d.offset + d.len > BINDER_BUFFER_MAX && !d.err) {
          // binder_alloc_mmap_handler(): buffer_size is the mapping's size, at most 4M.
          c.error('out-of-range', cols.len ?? cols.op, `a buffer ending at ${fmtSize(d.offset + d.len)}`, `a buffer inside the first ${fmtSize(BINDER_BUFFER_MAX)} of the mapping (binder's buffer space), or err=EINVAL`);
        }
        return;
      }
      case 'uffd_writeprotect': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        // Anonymous private mappings only: uffd-wp markers in none slots (shmem) are not modelled.
        if (info && info.kind !== 'anon private')
          c.error('bad-value', cols.map ?? cols.op, `uffd_writeprotect of the ${info.kind ?? 'unknown'} mapping ${d.map}`, 'an anonymous private mapping (the model writes no uffd-wp markers)');
        return;
      }
      case 'uffd_move':
        // Both ranges must lie in mappings of this process (one mm: cross-mm moves are -EINVAL).
        this.refuseOnDriver(c, this.range(c, proc, d.map, d.offset, d.len, cols), d.op, d.map, cols);
        this.refuseOnDriver(c, this.range(c, proc, d.dst, d.dstOffset, d.len, { ...cols, map: cols.dst, offset: cols.dstOffset }), d.op, d.dst, { ...cols, map: cols.dst });
        return;
      case 'uffd_copy':
      case 'uffd_zeropage': {
        const info = this.range(c, proc, d.map, d.offset, d.len, cols);
        // shmem_mfill_atomic_pte() is not modelled: the fills are for private mappings only.
        if (info?.shared) c.error('bad-value', cols.map ?? cols.op, `${d.op} of the shared mapping ${d.map}`, 'a private mapping (the model fills no shmem page cache)');
        if (d.op === 'uffd_copy' && d.len !== undefined && d.len > UFFD_COPY_MAX)
          c.error('out-of-range', cols.len ?? cols.op, `uffd_copy of ${fmtSize(d.len)}`, `at most ${fmtSize(UFFD_COPY_MAX)} (the kernel runner's source buffer)`);
        return;
      }
      case 'mremap':
        this.refuseOnDriver(c, proc.maps.get(d.map ?? ''), d.op, d.map, cols);
        return this.mremapOp(c, proc, d, cols);
      case 'snapshot':
        proc.snapshots++;
        if (d.range) this.range(c, proc, d.range.map, d.range.offset, d.range.len, cols);
        return;
      case 'expect':
        if (proc.snapshots === 0 && !proc.lenient)
          c.error('order', cols.op, `expect before any snapshot of process ${proc.name}`, `a snapshot in process ${proc.name} first`);
        return;
    }
  }

  private needProcess(c: LineCtx, op: OpKind, col: number): Proc | undefined {
    if (!NEEDS_PROCESS.has(op)) return undefined;
    if (this.current) return this.current;
    if (this.lastExit === undefined) {
      c.error('order', col, `${op} before the first process`, 'a process line first');
    } else {
      const { name, line } = this.lastExit;
      c.error('order', col, `${op} with no current process (${name} exited at line ${line})`, 'a switch or process line first');
    }
    return undefined;
  }

  private liveNames(): string {
    const names = [...this.procs.values()].filter((q) => !q.exited).map((q) => q.name);
    return names.length ? `a live process: ${names.join(', ')}` : 'a process created earlier with process P';
  }

  private processOp(c: LineCtx, d: DraftFor<'process' | 'switch' | 'exit'>, cols: Cols): void {
    const name = d.name;
    const col = cols.name ?? cols.op;
    if (d.op === 'process') {
      this.firstProcessLine ??= c.line;
      if (name === undefined) {
        this.current = newProc('?', c.line, true);
        return;
      }
      const old = this.procs.get(name);
      if (old) {
        c.error('duplicate-name', col, `process ${name} already exists (line ${old.line})`, 'a new process name');
        this.current = newProc(name, c.line);
        return;
      }
      const proc = newProc(name, c.line);
      this.procs.set(name, proc);
      this.current = proc;
      return;
    }
    if (name === undefined) {
      if (d.op === 'switch') this.current = newProc('?', c.line, true);
      return;
    }
    const proc = this.procs.get(name);
    if (!proc || proc.exited) {
      const why = proc ? `process ${name} has exited` : `unknown process ${name}`;
      c.error('unknown-name', col, why, this.liveNames());
      if (d.op === 'switch') this.current = newProc(name, c.line, true);
      return;
    }
    if (d.op === 'switch') {
      this.current = proc;
      return;
    }
    proc.exited = true;
    if (this.current === proc) {
      this.current = undefined;
      this.lastExit = { name, line: c.line };
    }
  }

  /**
   * `fork P Q`: Q starts with a copy of P's mappings, under the same names and at the same
   * addresses, and P's placement count (its next map goes where P's would). The kernel runner
   * forks the child that runs P; what it cannot carry into the copy is refused here for both
   * executors: a tcp mapping (the child would share P's sockets) and userfaultfd (the runner's
   * child keeps P's userfaultfd, registered for P's mm).
   */
  private forkOp(c: LineCtx, d: DraftFor<'fork'>, cols: Cols): void {
    const parent = d.parent === undefined ? undefined : this.procs.get(d.parent);
    if (d.parent !== undefined && (!parent || parent.exited)) {
      c.error('unknown-name', cols.parent ?? cols.op, parent ? `process ${d.parent} has exited` : `unknown process ${d.parent}`, this.liveNames());
    }
    if (parent && !parent.exited) {
      const drv = [...parent.maps].find(([, m]) => (m.kind === 'tcp shared' || m.kind === 'binder shared') && !m.failed);
      if (drv) {
        const kind = drv[1].kind === 'tcp shared' ? 'tcp' : 'binder';
        c.error('bad-value', cols.parent ?? cols.op, `fork of process ${parent.name}, which has the ${kind} mapping ${drv[0]}`, 'a process without tcp or binder mappings (the child would share its sockets; it would lack the VM_DONTCOPY binder mapping)');
      }
      if (parent.uffd !== undefined) c.error('bad-value', cols.parent ?? cols.op, `fork of process ${parent.name}, which used userfaultfd (line ${parent.uffd})`, 'a process that ran no uffd_* op (userfaultfd events are not modelled)');
    }
    if (d.name === undefined) {
      this.current = newProc('?', c.line, true);
      return;
    }
    const old = this.procs.get(d.name);
    if (old) {
      c.error('duplicate-name', cols.name ?? cols.op, `process ${d.name} already exists (line ${old.line})`, 'a new process name');
      this.current = newProc(d.name, c.line, true);
      return;
    }
    const child = newProc(d.name, c.line, !parent || parent.exited || parent.lenient);
    if (parent && !parent.exited) {
      for (const [name, m] of parent.maps) child.maps.set(name, { ...m });
      child.space = parent.space.clone();
      child.k = parent.k;
    }
    this.procs.set(d.name, child);
    this.current = child;
  }

  private fileOp(c: LineCtx, d: DraftFor<'memfd' | 'file'>, cols: Cols): void {
    if (d.name === undefined) {
      this.filesLenient = true;
      return;
    }
    const old = this.files.get(d.name);
    if (old) {
      c.error('duplicate-name', cols.name ?? cols.op, `${old.kind} ${d.name} already exists (line ${old.line})`, 'a new memfd/file name');
      return;
    }
    this.files.set(d.name, { kind: d.op, line: c.line, size: d.size });
  }

  private mapOp(c: LineCtx, proc: Proc, d: DraftFor<'map'>, p: Parsed): void {
    const { cols } = p;
    const k = proc.k++;
    if (d.name === undefined) {
      proc.lenient = true;
      return;
    }
    if (proc.maps.has(d.name)) {
      const old = proc.maps.get(d.name);
      c.error(
        'duplicate-name',
        cols.name ?? cols.op,
        `mapping ${d.name} already exists in process ${proc.name} (line ${old?.line})`,
        'a new mapping name',
      );
      return;
    }
    const info: MapInfo = { line: c.line, size: d.size, shared: d.shared, kind: `${d.kind} ${d.shared ? 'shared' : 'private'}` };
    if (d.err) info.failed = d.err; // until the err= branch below finds that the mmap() itself may succeed
    proc.maps.set(d.name, info);

    if ((d.kind === 'shmem' || d.kind === 'file') && d.file !== undefined) {
      const want = d.kind === 'shmem' ? 'memfd' : 'file';
      const f = this.files.get(d.file);
      const fileCol = cols.file ?? cols.op;
      if (!f) {
        if (!this.filesLenient) c.error('unknown-name', fileCol, `unknown ${want} ${d.file}`, this.fileNames(want));
      } else if (f.kind !== want) {
        c.error('unknown-name', fileCol, `${d.file} is a ${f.kind}, not a ${want}`, this.fileNames(want));
      } else if (f.size !== undefined && d.offset !== undefined && d.size !== undefined && d.offset + d.size > f.size) {
        const col = d.offset >= f.size ? cols.offset : cols.size;
        c.error(
          'out-of-range',
          col ?? cols.op,
          `range [${fmtSize(d.offset)}, ${fmtSize(d.offset + d.size)}) is outside ${want} ${d.file} (size ${fmtSize(f.size)})`,
          `OFFSET + SIZE <= ${fmtSize(f.size)}`,
        );
      }
    }

    if (d.size === undefined || (p.hasAt && d.at === undefined)) return;
    const start = d.at ?? placementAddress(k);
    info.start = start;
    const end = start + d.size;
    if (d.err) {
      // Expected to fail. The op is mmap(), then madvise() for hugepage/nohugepage, then mlock()
      // for locked, and its outcome is the first call that fails (exec.ts, the kernel runner): with
      // one of those flags the failure may come after the mapping is made, which then stays
      // (scripts/map-locked-fails.pt), so its name may be used. Unless it overlaps a mapping:
      // then mmap() fails (EEXIST, as MAP_FIXED_NOREPLACE) and, as without those flags, the
      // mapping never exists and occupies nothing. Nor does one that reaches past TASK_SIZE: mmap()
      // refuses it (ENOMEM, get_unmapped_area()) before any flag is looked at.
      if ((d.locked || d.huge) && end <= TASK_SIZE && !proc.space.firstOverlap(start, end)) {
        info.failed = undefined;
        proc.space.add(start, end, d.name);
      }
      return;
    }
    const hit = proc.space.firstOverlap(start, end);
    if (hit) {
      const where = d.at !== undefined ? `at ${fmtAddr(start)}` : `placed at ${fmtAddr(start)} (map #${k} of ${proc.name})`;
      c.error(
        'out-of-range',
        d.at !== undefined ? (cols.at ?? cols.op) : (cols.name ?? cols.op),
        `mapping ${d.name} ${where} overlaps mapping ${hit.owner} [${fmtAddr(hit.start)}, ${fmtAddr(hit.end)})`,
        'an address range not mapped in this process',
      );
      return;
    }
    proc.space.add(start, end, d.name);
  }

  /**
   * A successful mremap makes M reachable up to OFFSET + NEWLEN; a move (at=, or `maymove` when the
   * mapping cannot grow in place among the script's mappings) puts M's origin at the new address
   * minus OFFSET. `maymove` without at= takes the next placement slot, moved or not.
   */
  private mremapOp(c: LineCtx, proc: Proc, d: DraftFor<'mremap'>, cols: Cols): void {
    const info = this.range(c, proc, d.map, d.offset, d.len, cols);
    const slot = d.maymove && d.at === undefined ? placementAddress(proc.k++) : undefined;
    const map = d.map;
    if (!info || d.err || map === undefined || info.start === undefined || d.offset === undefined || d.len === undefined || d.newLen === undefined) return;
    if (info.size !== undefined) info.size = Math.max(info.size, d.offset + d.newLen);
    const lo = info.start + d.offset;
    const oldEnd = lo + d.len;
    const grow = d.newLen - d.len;
    // Growing in place needs M's own range to end at oldEnd and the range after it to be free.
    const tail = proc.space.at(oldEnd - 1);
    const inPlace = tail !== undefined && tail.owner === map && tail.end === oldEnd && !proc.space.firstOverlap(oldEnd, oldEnd + grow);
    let target = d.at ?? lo;
    if (d.at === undefined && grow > 0 && !inPlace) target = slot ?? lo;
    if (d.at !== undefined) proc.space.remove(d.at, d.at + d.newLen); // MREMAP_FIXED replaces what was there
    proc.space.remove(lo, oldEnd);
    proc.space.add(target, target + d.newLen, map);
    info.start = target - d.offset;
  }

  /** Ops whose effect on a driver mapping (VM_MIXEDMAP, filled by its driver only) the model does not run. */
  private refuseOnDriver(c: LineCtx, info: MapInfo | undefined, what: string, map: string | undefined, cols: Cols): void {
    if (info?.kind === 'tcp shared')
      c.error('bad-value', cols.map ?? cols.op, `${what} of the tcp mapping ${map}`, 'touch, madvise dontneed|dontneed_locked, unmap, tcp_zerocopy or snapshot (the model runs no other op on a socket mapping)');
    if (info?.kind === 'binder shared')
      c.error('bad-value', cols.map ?? cols.op, `${what} of the binder mapping ${map}`, 'touch, madvise dontneed|dontneed_locked, unmap, binder_transaction or snapshot (the model runs no other op on a binder mapping)');
  }

  private fileNames(kind: 'memfd' | 'file'): string {
    const names = [...this.files].filter(([, f]) => f.kind === kind).map(([n]) => n);
    return names.length ? `a ${kind}: ${names.join(', ')}` : `a ${kind} created earlier with ${kind} F SIZE`;
  }

  /** Checks that `map` names a mapping of `proc` and [offset, offset+len) lies inside it. */
  private range(
    c: LineCtx,
    proc: Proc,
    map: string | undefined,
    offset: number | undefined,
    len: number | undefined,
    cols: Cols,
  ): MapInfo | undefined {
    if (map === undefined) return undefined;
    const info = proc.maps.get(map);
    if (!info) {
      if (!proc.lenient) {
        const names = [...proc.maps.keys()];
        const expected = names.length
          ? `a mapping of process ${proc.name}: ${names.join(', ')}`
          : `a mapping created earlier in process ${proc.name}`;
        c.error('unknown-name', cols.map ?? cols.op, `unknown mapping ${map} in process ${proc.name}`, expected);
      }
      return undefined;
    }
    if (info.failed) {
      c.error('unknown-name', cols.map ?? cols.op, `mapping ${map} does not exist: its map at line ${info.line} expects err=${info.failed}`, 'a mapping whose map line succeeds');
      return undefined;
    }
    if (info.size === undefined || offset === undefined || len === undefined) return info;
    if (offset + len > info.size) {
      const col = offset >= info.size ? cols.offset : cols.len;
      c.error(
        'out-of-range',
        col ?? cols.op,
        `range [${fmtSize(offset)}, ${fmtSize(offset + len)}) is outside mapping ${map} (size ${fmtSize(info.size)})`,
        `OFFSET + LEN <= ${fmtSize(info.size)}`,
      );
    }
    return info;
  }
}
