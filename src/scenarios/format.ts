/**
 * Scenario files (docs/explorer.md): an op-script setup, kernel paths per CPU, the guard the
 * scenario is about, and the violation expected when that guard is off.
 *
 *   scenario fastpath_after_unlock
 *   about R6: the S0 zap fast path after the PTE lock was dropped, vs a refilling fault
 *   guard zap-fastpath-fix
 *   violation nonempty-detach
 *   config need_resched=never
 *   process P
 *   map A anon private 2M
 *   touch A 0 8K write
 *   cpu 0 madvise A 0 2M dontneed
 *   cpu 1 touch A 0 4K write
 *
 * `bound N` limits the exhaustive search to schedules with at most N preemptions (default: no bound,
 * the complete search); for scenarios too large to search completely.
 * `remedy KEY=VALUE ...` marks a race that is open upstream: no guard closes it, so its violation is
 * expected with every guard on, and the settings named (a proposed fix) must make the search clean.
 * `choices need_resched batch_alloc` makes the explorer branch on those nondeterministic choices
 * (otherwise they follow the config, e.g. `config need_resched=2`).
 *
 * Every line that is not one of `scenario about guard violation choices cpu` is setup, in the op-script
 * language, validated by its parser. `cpu N OP ...` lines take an op-script `madvise`, `touch` or
 * `unmap` op, or `pte_offset_map M OFF LEN` / `pte_alloc M OFF` / `gup_fast M OFF LEN` /
 * `uffd_move SRC OFF DST OFF` (UFFDIO_MOVE of one page into DST, which the setup registered) / `uffd_copy M OFF LEN` / `uffd_zeropage M OFF LEN` (UFFDIO_COPY,
 * UFFDIO_ZEROPAGE into a range the setup registered) / `uffd_writeprotect M OFF LEN on|off` / `rmap_walk M OFF` (page reclaim's try_to_unmap() of the page-cache
 * folio mapped there) / `folio_referenced M OFF` (reclaim's reference check of the folio mapped there: the
 * rmap walk that clears young bits) / `folio_mkclean M OFF` (writeback of the page-cache folio mapped
 * there: folio_clear_dirty_for_io()'s rmap walk that write-protects and cleans its shared PTEs) /
 * `migrate M OFF` (compaction's migration of the small folio mapped there) / `mprotect M OFF LEN PROT` (PROT as in the op script, `r--`, or short: `r`,
 * `rw`, `rwx`, `none`) / `mremap M OFF LEN DST DST_OFF` (MREMAP_MAYMOVE|MREMAP_FIXED of the range to
 * DST+DST_OFF, the same length) / `mincore M OFF LEN` (its result: the pages found resident) /
 * `move_pages M OFF LEN` (move_pages(2) with no nodes: the query of each page's node; its result: the
 * pages found on a node) / `pagemap M OFF LEN` (a read of /proc/PID/pagemap; its result: the pages reported present) /
 * `pagemap_scan M OFF LEN` (the PAGEMAP_SCAN ioctl; its result: the regions it returned) /
 * `ptdump M OFF LEN` (ptdump's walk under the mmap_lock for write) / `mglru_walk M OFF LEN` (the
 * multi-gen LRU's aging walk; its result: the young bits it cleared) / `numa_scan M OFF LEN` (a NUMA
 * balancing scan; its result: the entries made PAGE_NONE) / `fork M OFF LEN` (fork() of the whole
 * process; its result: the pages of that range the child has mapped) / `tcp_zerocopy M OFF LEN` (TCP
 * zerocopy receive of LEN bytes into a tcp mapping; its result: the pages mapped) /
 * `binder_transaction M OFF LEN` (a binder transaction whose buffer pages are installed into a
 * binder mapping; its result: 0 or the errno) / `swapoff` (swapoff(2)
 * of the setup's swap area, `config swap=SIZE`: it names no mapping) / `mlock M OFF LEN` /
 * `munlock M OFF LEN` (mlock(2), munlock(2); their result: 0 or the errno) / `clear_refs 1|2|3|5` (a
 * write to the process's /proc/PID/clear_refs; it names no mapping) / `smaps_rollup` (a read of the
 * process's /proc/PID/smaps_rollup; its result: the Rss it reports, in pages); they bind to the process that is
 * current at that point of the setup. Several lines for one CPU run in order.
 */
import { applySettings, GUARD_NAMES, type GuardName } from '../mm/config.js';
import { clearRefsTypeModelled } from '../mm/clear_refs.js';
import { VIOLATION_KINDS, type ViolationKind } from '../mm/bug.js';
import { ADVICES, FADVICES, formatScriptError, mappingsByProcess, parseProt, type Advice, type Fadvice, type Script, type ScriptError } from '../script/ast.js';
import { safeParseScript } from '../script/parse.js';
import { parseSize } from '../script/grammar.js';
import { TASK_KINDS, type TaskSpec } from './tasks.js';
import { lineWords, type Word } from '../util/words.js';

export interface CpuTask {
  cpu: number;
  process: string;
  spec: TaskSpec;
  line: number;
  /**
   * Columns, for error messages: of the CPU number, and of the words after it (`words[0]` the
   * kernel path, then its arguments: M, OFFSET, ...; the end of the line for a missing one).
   */
  cols: { cpu: number; words: number[] };
}

export interface Scenario {
  name: string;
  about: string;
  guards: GuardName[];
  /** `anomaly`: sequential explainability's finding (explain.ts), not a sanitizer's. */
  violation: ViolationKind | 'anomaly' | null;
  /** Preemption bound of the exhaustive search for this scenario (`bound N`); -1: none, the default. */
  bound: number;
  /** Nondeterministic choices the explorer branches on; the others follow the config. */
  choices: ('need_resched' | 'batch_alloc')[];
  /**
   * For a race still open upstream (`remedy KEY=VALUE ...`): no guard closes it, the violation is
   * expected with every guard on, and these settings (a proposed fix) make the search clean.
   */
  remedy: Readonly<Record<string, string>> | null;
  setup: Script;
  tasks: CpuTask[];
  file: string;
}

/** What a `violation` line may name: a sanitizer's kind, or an anomaly of sequential explainability. */
const VIOLATIONS: readonly string[] = [...VIOLATION_KINDS, 'anomaly'];

/**
 * CPU numbers a `cpu N` line may name: 0 to 7 (docs/limits.md). Whether the explorer runs that
 * many is checked when a scenario is loaded to run (validate.ts).
 */
export const MAX_SCENARIO_CPUS = 8;

/** The lines that belong to the scenario itself; every other line is op-script setup. */
const HEADS: readonly string[] = ['scenario', 'about', 'guard', 'violation', 'cpu', 'choices', 'bound', 'remedy'];

/** A word of a scenario line and its 1-based column. */


export function parseScenario(text: string, file: string): { ok: true; scenario: Scenario } | { ok: false; errors: string[] } {
  // One error shape with op scripts (ScriptError), rendered FILE:LINE:COL: message (expected ...).
  const errors: ScriptError[] = [];
  const lines = text.split('\n');
  const setupLines: string[] = [];
  const taskLines: { line: number; cpu: number; cpuCol: number; words: Word[]; end: number }[] = [];
  let name = '';
  let about = '';
  const guards: GuardName[] = [];
  const choices: Scenario['choices'] = [];
  let bound = -1;
  let violation: Scenario['violation'] = null;
  let remedy: Record<string, string> | null = null;
  const seen = new Map<string, number>();
  const err = (line: number, col: number, message: string, expected: string) => errors.push({ code: 'syntax', loc: { file, line, col }, message, expected });
  lines.forEach((raw, i) => {
    const line = i + 1;
    const ws = lineWords(raw);
    const head = ws[0]?.text;
    const isHead = head !== undefined && HEADS.includes(head);
    setupLines.push(isHead ? '' : raw);
    if (!isHead) return;
    const end = ws[ws.length - 1].col + ws[ws.length - 1].text.length;
    const arg = ws[1];
    if (head !== 'cpu' && head !== 'guard' && head !== 'choices') {
      const before = seen.get(head);
      if (before !== undefined) return err(line, ws[0].col, `'${head}' given twice (first at line ${before})`, `one '${head}' line`);
      seen.set(head, line);
    }
    switch (head) {
      case 'scenario':
        if (!arg || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(arg.text)) return err(line, arg?.col ?? end, arg ? `bad scenario name '${arg.text}'` : 'missing scenario name', 'scenario NAME with NAME like retract_vs_dontneed');
        if (ws[2]) return err(line, ws[2].col, `unexpected word '${ws[2].text}'`, 'scenario NAME');
        name = arg.text;
        return;
      case 'about':
        about = raw.slice(raw.indexOf('about') + 'about'.length).trim();
        return;
      case 'guard':
        if (!arg) return err(line, end, 'missing guard name', `guard NAME ... with NAME one of: ${GUARD_NAMES.join(', ')}`);
        for (const g of ws.slice(1)) {
          if ((GUARD_NAMES as readonly string[]).includes(g.text)) guards.push(g.text as GuardName);
          else err(line, g.col, `unknown guard '${g.text}'`, `one of: ${GUARD_NAMES.join(', ')}`);
        }
        return;
      case 'bound':
        if (arg && /^[0-9]$/.test(arg.text) && !ws[2]) bound = Number(arg.text);
        else err(line, ws[2]?.col ?? arg?.col ?? end, arg ? `bad preemption bound '${ws[2] ? ws[2].text : arg.text}'` : 'missing preemption bound', 'bound N with N from 0 to 9');
        return;
      case 'choices':
        for (const c of ws.slice(1)) {
          if (c.text === 'need_resched' || c.text === 'batch_alloc') choices.push(c.text);
          else err(line, c.col, `unknown choice '${c.text}'`, 'need_resched or batch_alloc');
        }
        return;
      case 'violation':
        if (arg?.text === 'none' && !ws[2]) violation = null;
        else if (arg && VIOLATIONS.includes(arg.text) && !ws[2]) violation = arg.text as Scenario['violation'];
        else err(line, ws[2]?.col ?? arg?.col ?? end, arg ? `unknown violation '${ws[2] ? ws[2].text : arg.text}'` : 'missing violation', `none or one of: ${VIOLATIONS.join(', ')}`);
        return;
      case 'remedy': {
        if (!arg) return err(line, end, 'missing remedy', 'remedy KEY=VALUE ... (model settings that close the race, e.g. fault_flush_pending=on)');
        remedy = {};
        for (const w of ws.slice(1)) {
          const eq = w.text.indexOf('=');
          const bad = eq <= 0 ? `expected KEY=VALUE, got '${w.text}'` : applySettings({}, { [w.text.slice(0, eq)]: w.text.slice(eq + 1) });
          if (bad) err(line, w.col, `bad remedy setting: ${bad}`, 'remedy KEY=VALUE ... with the settings of a config line');
          else remedy[w.text.slice(0, eq)] = w.text.slice(eq + 1);
        }
        return;
      }
      case 'cpu':
        if (!arg || !/^[0-9]+$/.test(arg.text) || Number(arg.text) >= MAX_SCENARIO_CPUS) {
          return err(line, arg?.col ?? end, arg ? `bad CPU number '${arg.text}'` : 'missing CPU number', `cpu N OP ... with N from 0 to ${MAX_SCENARIO_CPUS - 1}`);
        }
        taskLines.push({ line, cpu: Number(arg.text), cpuCol: arg.col, words: ws.slice(2), end });
        return;
    }
  });
  if (!name) err(1, 1, "missing 'scenario NAME' line", 'a line scenario NAME');
  const setupText = setupLines.join('\n');
  const parsed = safeParseScript(setupText, file);
  const format = () => {
    const all = errors.map(formatScriptError);
    if (!parsed.ok) all.push(...parsed.errors.map((e: ScriptError) => formatScriptError(e)));
    return all;
  };
  if (errors.length || !parsed.ok) return { ok: false, errors: format() };
  const tasks: CpuTask[] = [];
  for (const t of taskLines) {
    const proc = currentProcessAt(parsed.script, t.line);
    if (!proc) {
      err(t.line, 1, 'a cpu line needs a current process', 'a process P line before it');
      continue;
    }
    const spec = taskSpec(t.words, t.end, (col, m, expected) => err(t.line, col, m, expected));
    if (!spec) continue;
    const mapped = mapsOf(parsed.script, proc);
    const dstCol = spec.kind === 'uffd_move' ? t.words[3]?.col : spec.kind === 'mremap' ? t.words[4]?.col : undefined;
    const names =
      spec.kind === 'swapoff' || spec.kind === 'clear_refs' || spec.kind === 'smaps_rollup' ? [] : spec.kind === 'uffd_move' || spec.kind === 'mremap' ? [[spec.map, t.words[1].col], [spec.dst, dstCol ?? t.end]] as const : [[spec.map, t.words[1].col]] as const;
    for (const [m, col] of names) {
      if (!mapped.has(m)) err(t.line, col, `process ${proc} has no mapping '${m}'`, `one of: ${[...mapped].join(', ') || 'none (map one in the setup)'}`);
    }
    const cols = { cpu: t.cpuCol, words: [0, 1, 2, 3, 4, 5].map((i) => t.words[i]?.col ?? t.end) };
    tasks.push({ cpu: t.cpu, process: proc, spec, line: t.line, cols });
  }
  if (!tasks.length && !errors.length) err(1, 1, "no 'cpu N OP' lines: nothing to interleave", `at least one line cpu N OP ... (OP: ${TASK_KINDS.join(', ')})`);
  if (errors.length) return { ok: false, errors: format() };
  if (remedy && (guards.length || violation === null)) err(seen.get('remedy')!, 1, 'a remedy is for a race no guard closes', "a 'violation KIND' line and no 'guard' line beside 'remedy'");
  if (errors.length) return { ok: false, errors: format() };
  return { ok: true, scenario: { name, about, guards, violation, bound, choices, remedy, setup: parsed.script, tasks, file } };
}

/** The mappings a process has after the setup (made by it, or copied by the fork that made it). */
function mapsOf(script: Script, proc: string): Set<string> {
  return new Set(mappingsByProcess(script.ops).get(proc)?.keys());
}

function currentProcessAt(script: Script, line: number): string | undefined {
  let cur: string | undefined;
  for (const op of script.ops) {
    if (op.loc.line > line) break;
    if (op.op === 'process' || op.op === 'switch' || op.op === 'fork') cur = op.name;
    if (op.op === 'exit' && op.name === cur) cur = undefined;
  }
  return cur;
}

type Bad = (col: number, message: string, expected: string) => void;

/** A 4K-aligned size word; `positive`: not 0. */
function size(w: Word | undefined, end: number, what: string, bad: Bad, positive = false): number {
  const v = w === undefined ? undefined : parseSize(w.text);
  if (v === undefined || v % 4096 || (positive && v === 0)) {
    bad(w?.col ?? end, w ? `bad ${what} '${w.text}'` : `missing ${what}`, `a 4K-aligned size like ${positive ? '' : '0, '}4K or 2M`);
    return 0;
  }
  return v;
}

const TASK_USAGE: Readonly<Record<(typeof TASK_KINDS)[number], string>> = {
  madvise: 'madvise M OFFSET LEN ADVICE',
  touch: 'touch M OFFSET LEN read|write',
  unmap: 'unmap M OFFSET LEN',
  pte_offset_map: 'pte_offset_map M OFFSET [LEN]',
  pte_alloc: 'pte_alloc M OFFSET',
  gup_fast: 'gup_fast M OFFSET [LEN]',
  uffd_move: 'uffd_move SRC SRC_OFF DST DST_OFF',
  uffd_copy: 'uffd_copy M OFFSET LEN',
  uffd_zeropage: 'uffd_zeropage M OFFSET LEN',
  uffd_writeprotect: 'uffd_writeprotect M OFFSET LEN on|off',
  rmap_walk: 'rmap_walk M OFFSET',
  folio_referenced: 'folio_referenced M OFFSET',
  folio_mkclean: 'folio_mkclean M OFFSET',
  migrate: 'migrate M OFFSET',
  mprotect: 'mprotect M OFFSET LEN PROT',
  mremap: 'mremap M OFFSET LEN DST DST_OFF',
  mincore: 'mincore M OFFSET LEN',
  move_pages: 'move_pages M OFFSET LEN',
  pagemap: 'pagemap M OFFSET LEN',
  pagemap_scan: 'pagemap_scan M OFFSET LEN',
  ptdump: 'ptdump M OFFSET LEN',
  mglru_walk: 'mglru_walk M OFFSET LEN',
  numa_scan: 'numa_scan M OFFSET LEN',
  fork: 'fork M OFFSET LEN',
  tcp_zerocopy: 'tcp_zerocopy M OFFSET LEN',
  binder_transaction: 'binder_transaction M OFFSET LEN',
  swapoff: 'swapoff',
  mlock: 'mlock M OFFSET LEN',
  munlock: 'munlock M OFFSET LEN',
  clear_refs: 'clear_refs 1|2|3|5',
  smaps_rollup: 'smaps_rollup',
  fadvise: 'fadvise M OFFSET LEN dontneed',
};

/** A task's PROT: the op script's spelling (`rw-`, `r--`, `---`) or a short one (`rw`, `r`, `none`). */
const SHORT_PROTS: Readonly<Record<string, number>> = { none: 0, r: 1, w: 2, x: 4, rw: 3, rx: 5, wx: 6, rwx: 7 };

function taskProt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return parseProt(text) ?? SHORT_PROTS[text];
}

function taskSpec(w: Word[], end: number, bad: Bad): TaskSpec | undefined {
  const [opw, mapw] = w;
  const op = opw?.text;
  if (!op || !(TASK_KINDS as readonly string[]).includes(op)) {
    bad(opw?.col ?? end, opw ? `unknown kernel path '${op}'` : 'missing kernel path', `cpu N OP ... with OP one of: ${TASK_KINDS.join(', ')}`);
    return undefined;
  }
  const usage = TASK_USAGE[op as (typeof TASK_KINDS)[number]];
  if (op === 'swapoff' || op === 'smaps_rollup') {
    // System-wide, or of the whole process: no mapping, no range.
    if (w.length > 1) bad(w[1].col, `unexpected word '${w[1].text}'`, usage);
    return w.length > 1 ? undefined : { kind: op, map: '', offset: 0 };
  }
  if (op === 'clear_refs') {
    // Of the whole process: a type, no mapping.
    if (w.length > 2) bad(w[2].col, `unexpected word '${w[2].text}'`, usage);
    const type = w[1]?.text;
    if (!type || !clearRefsTypeModelled(Number(type)) || !/^[0-9]$/.test(type)) {
      bad(w[1]?.col ?? end, type ? `bad clear_refs type '${type}'${type === '4' ? ' (soft-dirty is not modelled)' : ''}` : 'missing clear_refs type', '1, 2, 3 or 5');
      return undefined;
    }
    return w.length > 2 ? undefined : { kind: 'clear_refs', map: '', offset: 0, type: Number(type) };
  }
  const nWords = { madvise: 5, touch: 5, unmap: 4, pte_offset_map: 4, pte_alloc: 3, gup_fast: 4, uffd_move: 5, uffd_copy: 4, uffd_zeropage: 4, uffd_writeprotect: 5, rmap_walk: 3, folio_referenced: 3, folio_mkclean: 3, migrate: 3, mprotect: 5, mremap: 6, mincore: 4, move_pages: 4, pagemap: 4, pagemap_scan: 4, ptdump: 4, mglru_walk: 4, numa_scan: 4, fork: 4, tcp_zerocopy: 4, binder_transaction: 4, swapoff: 1, mlock: 4, munlock: 4, clear_refs: 2, smaps_rollup: 1, fadvise: 5 }[op as (typeof TASK_KINDS)[number]];
  if (w.length > nWords) {
    bad(w[nWords].col, `unexpected word '${w[nWords].text}'`, usage);
    return undefined;
  }
  if (!mapw || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(mapw.text)) {
    bad(mapw?.col ?? end, mapw ? `bad mapping name '${mapw.text}'` : 'missing mapping name', usage);
    return undefined;
  }
  const map = mapw.text;
  const sz = (i: number, what: string, positive = false, dflt?: string) =>
    w[i] === undefined && dflt !== undefined ? size({ text: dflt, col: end }, end, what, bad, positive) : size(w[i], end, what, bad, positive);
  switch (op) {
    case 'madvise': {
      const spec = { kind: 'madvise' as const, map, offset: sz(2, 'offset'), len: sz(3, 'length', true), advice: w[4]?.text as Advice };
      if (!(ADVICES as readonly string[]).includes(w[4]?.text ?? '')) bad(w[4]?.col ?? end, w[4] ? `unknown advice '${w[4].text}'` : 'missing advice', `one of: ${ADVICES.join(', ')}`);
      return spec;
    }
    case 'touch': {
      const spec = { kind: 'touch' as const, map, offset: sz(2, 'offset'), len: sz(3, 'length', true), write: w[4]?.text === 'write' };
      if (w[4]?.text !== 'read' && w[4]?.text !== 'write') bad(w[4]?.col ?? end, w[4] ? `bad access '${w[4].text}'` : 'missing access', 'read or write');
      return spec;
    }
    case 'unmap':
      return { kind: 'unmap', map, offset: sz(2, 'offset'), len: sz(3, 'length', true) };
    case 'pte_offset_map':
      return { kind: 'pte_offset_map', map, offset: sz(2, 'offset'), len: sz(3, 'length', true, '4K') };
    case 'pte_alloc':
      return { kind: 'pte_alloc', map, offset: sz(2, 'offset') };
    case 'uffd_move': {
      const dst = w[3];
      if (!dst || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(dst.text)) bad(dst?.col ?? end, dst ? `bad mapping name '${dst.text}'` : 'missing DST', usage);
      return { kind: 'uffd_move', map, offset: sz(2, 'offset'), dst: dst?.text ?? '', dstOffset: sz(4, 'offset') };
    }
    case 'gup_fast':
      return { kind: 'gup_fast', map, offset: sz(2, 'offset'), len: sz(3, 'length', true, '4K') };
    case 'mincore':
    case 'move_pages':
    case 'pagemap':
    case 'pagemap_scan':
    case 'ptdump':
    case 'mglru_walk':
    case 'numa_scan':
    case 'fork':
    case 'tcp_zerocopy':
    case 'binder_transaction':
    case 'mlock':
    case 'munlock':
      return { kind: op, map, offset: sz(2, 'offset'), len: sz(3, 'length', true) };
    case 'uffd_copy':
    case 'uffd_zeropage':
      return { kind: op, map, offset: sz(2, 'offset'), len: sz(3, 'length', true) };
    case 'fadvise': {
      if (!(FADVICES as readonly string[]).includes(w[4]?.text ?? '')) bad(w[4]?.col ?? end, w[4] ? `unknown fadvise advice '${w[4].text}'` : 'missing advice', `one of: ${FADVICES.join(', ')}`);
      return { kind: 'fadvise', map, offset: sz(2, 'offset'), len: sz(3, 'length', true), advice: w[4]?.text as Fadvice };
    }
    case 'uffd_writeprotect': {
      if (w[4]?.text !== 'on' && w[4]?.text !== 'off') bad(w[4]?.col ?? end, w[4] ? `bad protection switch '${w[4].text}'` : 'missing on|off', 'on or off');
      return { kind: 'uffd_writeprotect', map, offset: sz(2, 'offset'), len: sz(3, 'length', true), wp: w[4]?.text === 'on' };
    }
    case 'mprotect': {
      const spec = { kind: 'mprotect' as const, map, offset: sz(2, 'offset'), len: sz(3, 'length', true), prot: taskProt(w[4]?.text) ?? 0 };
      if (taskProt(w[4]?.text) === undefined) {
        bad(w[4]?.col ?? end, w[4] ? `bad protection '${w[4].text}'` : 'missing protection', 'a protection like r, rw, rwx, none, or r--, rw-, ---');
      }
      return spec;
    }
    case 'mremap': {
      const spec = { kind: 'mremap' as const, map, offset: sz(2, 'offset'), len: sz(3, 'length', true), dst: w[4]?.text ?? '', dstOffset: 0 };
      const dst = w[4];
      if (!dst || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(dst.text)) {
        bad(dst?.col ?? end, dst ? `bad mapping name '${dst.text}'` : 'missing DST', usage);
        return undefined;
      }
      spec.dstOffset = sz(5, 'destination offset');
      return spec;
    }
    case 'migrate':
    case 'folio_referenced':
    case 'folio_mkclean':
      return { kind: op, map, offset: sz(2, 'offset') };
    default:
      return { kind: 'rmap_walk', map, offset: sz(2, 'offset') };
  }
}
