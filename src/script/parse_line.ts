/**
 * The first pass over a line: its words into a draft op, one parser per op, reporting syntax and
 * value errors at the word (docs/op-scripts.md). Names, ranges and order are validate.ts's.
 */
import {
  ADVICES,
  FADVICES,
  CMP_OPS,
  EXPECT_FIELDS,
  type Advice,
  type CmpOp,
  type ErrName,
  type Fadvice,
  type ExpectField,
  type Loc,
  type OpKind,
  type UffdRegisterMode,
  parseProt,
  UFFD_REGISTER_MODES,
} from './ast.js';
import type { Word } from '../util/words.js';
import { CONFIG_KEYS, EXPECT_INT, EXPECT_PROT, INT_RE, MAP_FLAGS, MAX_PLACED_MAP, type MapFlag, OPTIONS, OPTION_RE, USAGE, USAGE_ANON, USAGE_FILE, USAGE_DRIVER, fmtAddr, fmtSize, oneOf } from './grammar.js';
import { PAGE_SIZE } from '../mm/const.js';
import { type Cols, type DraftFor, LineCtx, type OptWord, type Parsed, parseErr, splitOptions } from './line.js';

export function parseLine(c: LineCtx, opw: Word, op: OpKind, rest: readonly Word[]): Parsed {
  const loc = c.loc(opw.col);
  const cols: Cols = { op: opw.col };
  const base = { loc, cols };
  switch (op) {
    case 'config':
      return { draft: parseConfig(c, opw, rest), cols, hasAt: false };
    case 'process':
    case 'switch':
    case 'exit': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const w = c.need(pos, 0, 'process name P', USAGE[op]);
      c.noExtra(pos, 1, USAGE[op]);
      const d: DraftFor<'process' | 'switch' | 'exit'> = { op, loc };
      const name = c.name(w, 'process name');
      if (name !== undefined) d.name = name;
      cols.name = w?.col;
      const err = parseErr(c, opts);
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'fork': {
      const { pos } = splitOptions(c, op, rest, OPTIONS[op]);
      const pw = c.need(pos, 0, 'parent process name P', USAGE[op]);
      const qw = c.need(pos, 1, 'child process name Q', USAGE[op]);
      c.noExtra(pos, 2, USAGE[op]);
      const d: DraftFor<'fork'> = { op, loc };
      const parent = c.name(pw, 'process name');
      const name = c.name(qw, 'process name');
      if (parent !== undefined) d.parent = parent;
      if (name !== undefined) d.name = name;
      cols.parent = pw?.col;
      cols.name = qw?.col;
      return { draft: d, cols, hasAt: false };
    }
    case 'swapoff': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      c.noExtra(pos, 0, USAGE[op]);
      const d: DraftFor<'swapoff'> = { op, loc };
      const err = parseErr(c, opts);
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'clear_refs': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const tw = c.need(pos, 0, 'TYPE', USAGE[op]);
      c.noExtra(pos, 1, USAGE[op]);
      const d: DraftFor<'clear_refs'> = { op, loc };
      const types = ['1', '2', '3', '5'] as const;
      if (tw?.text === '4') c.error('bad-value', tw.col, 'clear_refs 4 (soft-dirty) is not modelled: the model keeps no soft-dirty bits', oneOf(types));
      const type = tw?.text === '4' ? undefined : c.choice(tw, types, 'clear_refs type');
      if (type) d.type = Number(type);
      const err = parseErr(c, opts);
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'memfd':
    case 'file': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const nw = c.need(pos, 0, `${op} name F`, USAGE[op]);
      const sw = c.need(pos, 1, 'SIZE', USAGE[op]);
      c.noExtra(pos, 2, USAGE[op]);
      const name = c.name(nw, `${op} name`);
      const size = c.fileSize(sw, `${op} size`);
      cols.name = nw?.col;
      cols.size = sw?.col;
      const err = parseErr(c, opts);
      if (op === 'memfd') {
        const d: DraftFor<'memfd'> = { op, loc };
        if (name !== undefined) d.name = name;
        if (size !== undefined) d.size = size;
        if (err) d.err = err;
        return { draft: d, cols, hasAt: false };
      }
      const d: DraftFor<'file'> = { op, loc, folio: PAGE_SIZE };
      if (name !== undefined) d.name = name;
      if (size !== undefined) d.size = size;
      const fw = opts.get('folio');
      if (fw) {
        const folio = c.size(fw, 'folio=', { text: fw.value });
        if (folio !== undefined && folio !== PAGE_SIZE && folio !== 2 ** 21) {
          c.error('bad-value', fw.col, `bad folio size '${fw.value}'`, '4K or 2M');
          delete d.folio;
        } else if (folio === undefined) {
          delete d.folio;
        } else {
          d.folio = folio;
        }
      }
      if (err) d.err = err;
      return { draft: d, cols, hasAt: false };
    }
    case 'map':
      return parseMap(c, opw, rest, base);
    case 'mlock':
      return parseMlock(c, rest, base);
    case 'touch':
    case 'madvise':
    case 'fadvise':
    case 'unmap':
    case 'munlock':
    case 'uffd_register':
    case 'uffd_copy':
    case 'uffd_zeropage':
    case 'uffd_writeprotect':
    case 'tcp_zerocopy':
    case 'binder_transaction':
    case 'migrate': {
      const { pos, opts } = splitOptions(c, op, rest, OPTIONS[op]);
      const extra =
        op === 'touch' ? 'read|write' : op === 'madvise' ? 'ADVICE' : op === 'fadvise' ? 'dontneed' : op === 'uffd_register' ? 'missing|wp|minor' : op === 'uffd_writeprotect' ? 'on|off' : undefined;
      const { xw, fields } = parseRangeWords(c, op, pos, opts, cols, 'LEN', extra);
      if (op === 'touch') {
        const d: DraftFor<'touch'> = { op, loc, ...fields };
        const rw = c.choice(xw, ['read', 'write'] as const, 'access');
        if (rw) d.write = rw === 'write';
        const ew = opts.get('every');
        if (ew) {
          const every = c.size(ew, 'every= stride', { aligned: true, positive: true, text: ew.value });
          if (every !== undefined) d.every = every;
        }
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'madvise') {
        const d: DraftFor<'madvise'> = { op, loc, ...fields };
        const advice = c.choice<Advice>(xw, ADVICES, 'advice');
        if (advice) d.advice = advice;
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'fadvise') {
        const d: DraftFor<'fadvise'> = { op, loc, ...fields };
        const advice = c.choice<Fadvice>(xw, FADVICES, 'fadvise advice');
        if (advice) d.advice = advice;
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'uffd_writeprotect') {
        const d: DraftFor<'uffd_writeprotect'> = { op, loc, ...fields };
        const on = c.choice(xw, ['on', 'off'] as const, 'protection switch');
        if (on) d.wp = on === 'on';
        return { draft: d, cols, hasAt: false };
      }
      if (op === 'uffd_register') {
        const d: DraftFor<'uffd_register'> = { op, loc, ...fields };
        const mode = c.choice<UffdRegisterMode>(xw, UFFD_REGISTER_MODES, 'registration mode');
        if (mode) d.mode = mode;
        return { draft: d, cols, hasAt: false };
      }
      const d: DraftFor<'unmap' | 'munlock' | 'uffd_copy' | 'uffd_zeropage' | 'tcp_zerocopy' | 'binder_transaction' | 'migrate'> = { op, loc, ...fields };
      return { draft: d, cols, hasAt: false };
    }
    case 'mprotect':
    case 'mremap':
      return parseRemapOrProtect(c, op, rest, base);
    case 'uffd_move':
      return parseUffdMove(c, rest, base);
    case 'snapshot': {
      const { pos } = splitOptions(c, op, rest, OPTIONS[op]);
      const lw = c.need(pos, 0, 'LABEL', USAGE[op]);
      const d: DraftFor<'snapshot'> = { op, loc };
      if (lw) d.label = lw.text;
      if (pos.length > 1) {
        const mw = c.need(pos, 1, 'mapping name M', USAGE[op]);
        const ow = c.need(pos, 2, 'OFFSET', USAGE[op]);
        const lenw = c.need(pos, 3, 'LEN', USAGE[op]);
        c.noExtra(pos, 4, USAGE[op]);
        const map = c.name(mw, 'mapping name');
        const offset = c.size(ow, 'offset', { aligned: true });
        const len = c.size(lenw, 'length', { aligned: true, positive: true });
        Object.assign(cols, { map: mw?.col, offset: ow?.col, len: lenw?.col });
        if (map !== undefined && offset !== undefined && len !== undefined) d.range = { map, offset, len };
      }
      return { draft: d, cols, hasAt: false };
    }
    case 'expect':
      return { draft: parseExpect(c, opw, rest), cols, hasAt: false };
  }
}

/**
 * The words `M OFFSET LEN [X]` shared by the range ops, and `err=`: the fields that parsed, and the
 * word X (undefined when the op has none, or it is missing).
 */
export function parseRangeWords(
  c: LineCtx,
  op: Exclude<OpKind, 'config'>,
  pos: readonly Word[],
  opts: Map<string, OptWord>,
  cols: Cols,
  lenName: string,
  extra: string | undefined,
): { xw: Word | undefined; fields: { map?: string; offset?: number; len?: number; err?: ErrName } } {
  const n = extra ? 4 : 3;
  const mw = c.need(pos, 0, 'mapping name M', USAGE[op]);
  const ow = c.need(pos, 1, 'OFFSET', USAGE[op]);
  const lw = c.need(pos, 2, lenName, USAGE[op]);
  const xw = extra ? c.need(pos, 3, extra, USAGE[op]) : undefined;
  c.noExtra(pos, n, USAGE[op]);
  const map = c.name(mw, 'mapping name');
  const offset = c.size(ow, 'offset', { aligned: true });
  const len = c.size(lw, 'length', { aligned: true, positive: true });
  Object.assign(cols, { map: mw?.col, offset: ow?.col, len: lw?.col });
  const err = parseErr(c, opts);
  const fields = {
    ...(map !== undefined ? { map } : {}),
    ...(offset !== undefined ? { offset } : {}),
    ...(len !== undefined ? { len } : {}),
    ...(err ? { err } : {}),
  };
  return { xw, fields };
}

/** `mlock M OFFSET LEN [onfault]`: mlock(), or mlock2() with MLOCK_ONFAULT. */
function parseMlock(c: LineCtx, rest: readonly Word[], base: { loc: Loc; cols: Cols }): Parsed {
  const { loc, cols } = base;
  const { pos: all, opts } = splitOptions(c, 'mlock', rest, OPTIONS.mlock);
  const onfault = all.length === 4 && all[3].text === 'onfault';
  const { fields } = parseRangeWords(c, 'mlock', onfault ? all.slice(0, 3) : all, opts, cols, 'LEN', undefined);
  const d: DraftFor<'mlock'> = { op: 'mlock', loc, ...fields, ...(onfault ? { onfault: true as const } : {}) };
  return { draft: d, cols, hasAt: false };
}

/** `uffd_move M OFFSET LEN DST DST_OFFSET [allow_src_holes]`. */
function parseUffdMove(c: LineCtx, rest: readonly Word[], base: { loc: Loc; cols: Cols }): Parsed {
  const { loc, cols } = base;
  const { pos: all, opts } = splitOptions(c, 'uffd_move', rest, OPTIONS.uffd_move);
  const holes = all.length === 6 && all[5].text === 'allow_src_holes';
  const pos = holes ? all.slice(0, 5) : all;
  const { fields } = parseRangeWords(c, 'uffd_move', pos.slice(0, 3), opts, cols, 'LEN', undefined);
  const dw = c.need(pos, 3, 'destination mapping DST', USAGE.uffd_move);
  const dow = c.need(pos, 4, 'DST_OFFSET', USAGE.uffd_move);
  c.noExtra(pos, 5, USAGE.uffd_move);
  const d: DraftFor<'uffd_move'> = { op: 'uffd_move', loc, ...fields, holes };
  const dst = c.name(dw, 'mapping name');
  const dstOffset = c.size(dow, 'destination offset', { aligned: true });
  if (dst !== undefined) d.dst = dst;
  if (dstOffset !== undefined) d.dstOffset = dstOffset;
  Object.assign(cols, { dst: dw?.col, dstOffset: dow?.col });
  return { draft: d, cols, hasAt: false };
}

/** `mprotect M OFFSET LEN PROT` and `mremap M OFFSET OLDLEN NEWLEN [maymove] [at=ADDR]`. */
export function parseRemapOrProtect(c: LineCtx, op: 'mprotect' | 'mremap', rest: readonly Word[], base: { loc: Loc; cols: Cols }): Parsed {
  const { loc, cols } = base;
  const { pos: all, opts } = splitOptions(c, op, rest, OPTIONS[op]);
  const maymoveWord = op === 'mremap' && all.length === 5 && all[4].text === 'maymove';
  const pos = maymoveWord ? all.slice(0, 4) : all;
  const { xw, fields } = parseRangeWords(c, op, pos, opts, cols, op === 'mremap' ? 'OLDLEN' : 'LEN', op === 'mremap' ? 'NEWLEN' : 'PROT');
  if (op === 'mprotect') {
    const d: DraftFor<'mprotect'> = { op, loc, ...fields };
    if (xw) {
      const prot = parseProt(xw.text);
      if (prot === undefined) c.error('bad-value', xw.col, `bad protection '${xw.text}'`, EXPECT_PROT);
      else d.prot = prot;
    }
    return { draft: d, cols, hasAt: false };
  }
  const d: DraftFor<'mremap'> = { op, loc, ...fields, maymove: maymoveWord };
  const newLen = c.size(xw, 'new length', { aligned: true, positive: true });
  if (newLen !== undefined) d.newLen = newLen;
  cols.size = xw?.col;
  const aw = opts.get('at');
  if (aw) {
    cols.at = aw.col;
    const at = c.size(aw, 'at= address', { aligned: true, text: aw.value });
    if (at !== undefined) d.at = at;
  }
  return { draft: d, cols, hasAt: aw !== undefined };
}

export function parseConfig(c: LineCtx, opw: Word, rest: readonly Word[]): DraftFor<'config'> {
  const settings: Record<string, string> = {};
  if (rest.length === 0) c.error('syntax', c.endCol, 'missing KEY=VALUE', USAGE.config);
  const keys = Object.keys(CONFIG_KEYS);
  for (const w of rest) {
    const m = OPTION_RE.exec(w.text);
    if (!m) {
      c.error('syntax', w.col, `expected KEY=VALUE, got '${w.text}'`, USAGE.config);
      continue;
    }
    const [, key, value] = m;
    if (!Object.hasOwn(CONFIG_KEYS, key)) {
      c.error('bad-value', w.col, `unknown config key '${key}'`, oneOf(keys));
      continue;
    }
    if (Object.hasOwn(settings, key)) {
      c.error('syntax', w.col, `config key '${key}' given twice`, `at most one ${key}=`);
      continue;
    }
    if (!CONFIG_KEYS[key].apply({}, value)) {
      c.error('bad-value', w.col, `bad value '${value}' for config ${key}`, CONFIG_KEYS[key].values);
      continue;
    }
    settings[key] = value;
  }
  return { op: 'config', loc: c.loc(opw.col), settings };
}

export function parseExpect(c: LineCtx, opw: Word, rest: readonly Word[]): DraftFor<'expect'> {
  const { pos } = splitOptions(c, 'expect', rest, OPTIONS.expect);
  const d: DraftFor<'expect'> = { op: 'expect', loc: c.loc(opw.col), delta: false, cmp: '==' };
  const fw = c.need(pos, 0, 'FIELD', USAGE.expect);
  const field = c.choice<ExpectField>(fw, EXPECT_FIELDS, 'expect field');
  if (field) d.field = field;
  let i = 1;
  let sawDelta = false;
  let sawCmp = false;
  if (pos[i]?.text === 'delta') {
    d.delta = true;
    sawDelta = true;
    i++;
  }
  if (pos[i] && (CMP_OPS as readonly string[]).includes(pos[i].text)) {
    d.cmp = pos[i].text as CmpOp;
    sawCmp = true;
    i++;
  }
  // A non-integer word followed by another word sits where delta or the operator goes: report it
  // as a bad operator and read the value from the next word.
  if (!sawCmp && pos[i] && pos[i + 1] && !INT_RE.test(pos[i].text)) {
    const expected = sawDelta ? oneOf(CMP_OPS) : `delta or ${oneOf(CMP_OPS)}`;
    c.error('bad-value', pos[i].col, `bad comparison '${pos[i].text}'`, expected);
    sawCmp = true;
    i++;
  }
  const nw = c.need(pos, i, 'value N', USAGE.expect);
  if (nw) {
    if (INT_RE.test(nw.text) && Number.isSafeInteger(Number(nw.text))) {
      d.value = Number(nw.text) || 0; // no -0
    } else {
      const expected = sawCmp
        ? EXPECT_INT
        : sawDelta
          ? `a comparison (${CMP_OPS.join(' ')}) or ${EXPECT_INT}`
          : `delta, a comparison (${CMP_OPS.join(' ')}) or ${EXPECT_INT}`;
      c.error('bad-value', nw.col, `bad expect value '${nw.text}'`, expected);
    }
  }
  c.noExtra(pos, i + 1, USAGE.expect);
  return d;
}

export function parseMap(c: LineCtx, opw: Word, rest: readonly Word[], base: { loc: Loc; cols: Cols }): Parsed {
  const { loc, cols } = base;
  // Unknown keys are reported after the kind is known (align= is for anon only).
  const pos: Word[] = [];
  const optWords: Word[] = [];
  for (const w of rest) (OPTION_RE.test(w.text) ? optWords : pos).push(w);

  // Flags are bare words accepted anywhere after the op word, except in a name slot (M, and F of
  // shmem/file mappings), where the word is the name.
  const slots: Word[] = [];
  const flags = new Map<MapFlag, Word>();
  let kindText: string | undefined;
  for (const w of pos) {
    const i = slots.length;
    const nameSlot = i === 0 || (i === 2 && (kindText === 'shmem' || kindText === 'file'));
    if (!nameSlot && (MAP_FLAGS as readonly string[]).includes(w.text)) {
      const f = w.text as MapFlag;
      if (flags.has(f)) c.error('syntax', w.col, `flag '${f}' given twice`, `at most one ${f}`);
      else flags.set(f, w);
      continue;
    }
    slots.push(w);
    if (i === 1) kindText = w.text;
  }

  const d: DraftFor<'map'> = { op: 'map', loc, locked: flags.has('locked') };
  const nw = c.need(slots, 0, 'mapping name M', USAGE.map);
  const name = c.name(nw, 'mapping name');
  if (name !== undefined) d.name = name;
  cols.name = nw?.col;
  const kw = c.need(slots, 1, 'anon|shmem|file|tcp|binder', USAGE.map);
  const kind = c.choice(kw, ['anon', 'shmem', 'file', 'tcp', 'binder'] as const, 'mapping kind');
  const driver = kind === 'tcp' || kind === 'binder';
  const usage = kind === 'anon' ? USAGE_ANON : driver ? USAGE_DRIVER : kind ? USAGE_FILE : USAGE.map;
  const allowed = kind === 'anon' ? ['at', 'align', 'prot', 'err'] : driver ? ['at', 'err'] : ['at', 'prot', 'err'];
  const { opts } = splitOptions(c, 'map', optWords, allowed);

  if (kind === 'anon') {
    d.kind = kind;
    d.offset = 0;
    const shw = c.need(slots, 2, 'private|shared', usage);
    const sw = c.need(slots, 3, 'SIZE', usage);
    c.noExtra(slots, 4, usage);
    const sh = c.choice(shw, ['private', 'shared'] as const, 'sharing');
    if (sh) d.shared = sh === 'shared';
    // MAP_SHARED|MAP_ANONYMOUS is backed by a shmem file of the mapping's size (shmem_zero_setup()).
    const size = (sh === 'shared' ? c.fileSize : c.size).call(c, sw, 'mapping size', { aligned: true, positive: true });
    if (size !== undefined) d.size = size;
    cols.size = sw?.col;
  } else if (driver) {
    // tcp_mmap() refuses PROT_WRITE and PROT_EXEC, binder_mmap() PROT_WRITE: always PROT_READ,
    // MAP_SHARED, offset 0.
    Object.assign(d, { kind, offset: 0, shared: true, prot: 1 });
    const sw = c.need(slots, 2, 'SIZE', usage);
    c.noExtra(slots, 3, usage);
    const size = c.size(sw, 'mapping size', { aligned: true, positive: true });
    if (size !== undefined) d.size = size;
    cols.size = sw?.col;
    for (const f of flags.values()) c.error('syntax', f.col, `flag '${f.text}' on a ${kind} mapping`, USAGE_DRIVER);
  } else if (kind) {
    d.kind = kind;
    const fw = c.need(slots, 2, `${kind === 'shmem' ? 'memfd' : 'file'} name F`, usage);
    const ow = c.need(slots, 3, 'OFFSET', usage);
    const sw = c.need(slots, 4, 'SIZE', usage);
    const shw = c.need(slots, 5, 'shared|private', usage);
    c.noExtra(slots, 6, usage);
    const file = c.name(fw, `${kind === 'shmem' ? 'memfd' : 'file'} name`);
    if (file !== undefined) d.file = file;
    const offset = c.size(ow, 'file offset', { aligned: true });
    if (offset !== undefined) d.offset = offset;
    const size = c.size(sw, 'mapping size', { aligned: true, positive: true });
    if (size !== undefined) d.size = size;
    const sh = c.choice(shw, ['shared', 'private'] as const, 'sharing');
    if (sh) d.shared = sh === 'shared';
    Object.assign(cols, { file: fw?.col, offset: ow?.col, size: sw?.col });
  }

  const hp = flags.get('hugepage');
  const nhp = flags.get('nohugepage');
  if (hp && nhp) {
    const second = hp.col > nhp.col ? hp : nhp;
    c.error('syntax', second.col, 'conflicting flags hugepage and nohugepage', 'at most one of hugepage, nohugepage');
  } else if (hp || nhp) {
    d.huge = hp ? 'hugepage' : 'nohugepage';
  }

  const aw = opts.get('at');
  if (aw) {
    cols.at = aw.col;
    const at = c.size(aw, 'at= address', { aligned: true, text: aw.value });
    if (at !== undefined) {
      if (d.size !== undefined && !Number.isSafeInteger(at + d.size)) {
        c.error('out-of-range', aw.col, `mapping at ${fmtAddr(at)} of size ${fmtSize(d.size)} ends beyond 2^53`, 'a lower address');
      } else {
        d.at = at;
      }
    }
  } else if (d.size !== undefined && d.size > MAX_PLACED_MAP) {
    c.error(
      'out-of-range',
      cols.size ?? opw.col,
      `mapping size ${fmtSize(d.size)} is larger than 1T`,
      'at most 1T without at= (the placement rule gives each mapping 1 TiB)',
    );
  }
  const alw = opts.get('align');
  if (alw) c.size(alw, 'align=', { text: alw.value });
  const pw = opts.get('prot');
  if (pw) {
    const prot = parseProt(pw.value);
    if (prot === undefined) c.error('bad-value', pw.col, `bad protection '${pw.value}'`, EXPECT_PROT);
    else d.prot = prot;
  }
  const err = parseErr(c, opts);
  if (err) d.err = err;
  return { draft: d, cols, hasAt: aw !== undefined };
}
