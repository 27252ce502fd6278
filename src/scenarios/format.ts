/**
 * Scenario files (docs/scenarios.md): an op-script setup, kernel paths per CPU, the guard the
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
 * `choices need_resched batch_alloc` makes the explorer branch on those nondeterministic choices
 * (otherwise they follow the config, e.g. `config need_resched=2`).
 *
 * Every line that is not one of `scenario about guard violation choices cpu` is setup, in the op-script
 * language, validated by its parser. `cpu N OP ...` lines take an op-script `madvise`, `touch` or
 * `unmap` op, or `pte_offset_map M OFF LEN` / `pte_alloc M OFF` / `gup_fast M OFF LEN` /
 * `uffd_move SRC OFF DST OFF` / `rmap_walk M OFF` (page reclaim's try_to_unmap() of the page-cache
 * folio mapped there); they bind to the process that is
 * current at that point of the setup. Several lines for one CPU run in order.
 */
import { GUARD_NAMES, type GuardName } from '../mm/config.js';
import type { ViolationKind } from '../mm/bug.js';
import { ADVICES, formatScriptError, type Advice, type Script, type ScriptError } from '../script/ast.js';
import { parseSize, safeParseScript } from '../script/parse.js';
import { TASK_KINDS, type TaskSpec } from './tasks.js';

export interface CpuTask {
  cpu: number;
  process: string;
  spec: TaskSpec;
  line: number;
}

export interface Scenario {
  name: string;
  about: string;
  guards: GuardName[];
  violation: ViolationKind | null;
  /** Preemption bound of the exhaustive search for this scenario (`bound N`); -1: none, the default. */
  bound: number;
  /** Nondeterministic choices the explorer branches on; the others follow the config. */
  choices: ('need_resched' | 'batch_alloc')[];
  setup: Script;
  tasks: CpuTask[];
  file: string;
}

const VIOLATIONS: readonly string[] = [
  'pt-use-after-free', 'ptl-use-after-free', 'lost-pte', 'nonempty-detach', 'pmd-from-none', 'double-free',
  'stale-tlb', 'counter-imbalance', 'leak', 'lock-order', 'deadlock', 'sleep-in-atomic', 'livelock', 'stale-pin',
];

export function parseScenario(text: string, file: string): { ok: true; scenario: Scenario } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  const setupLines: string[] = [];
  const taskLines: { line: number; cpu: number; words: string[] }[] = [];
  let name = '';
  let about = '';
  const guards: GuardName[] = [];
  const choices: Scenario['choices'] = [];
  let bound = -1;
  let violation: ViolationKind | null = null;
  const err = (line: number, msg: string) => errors.push(`${file}:${line}: ${msg}`);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const text = raw.replace(/#.*/, '').trim();
    const words = text.split(/\s+/);
    const head = words[0];
    setupLines.push(['scenario', 'about', 'guard', 'violation', 'cpu', 'choices', 'bound'].includes(head) ? '' : raw);
    if (head === 'scenario') name = words[1] ?? '';
    else if (head === 'about') about = text.slice('about'.length).trim();
    else if (head === 'guard') {
      for (const g of words.slice(1)) {
        if ((GUARD_NAMES as readonly string[]).includes(g)) guards.push(g as GuardName);
        else err(line, `unknown guard '${g}' (expected one of: ${GUARD_NAMES.join(', ')})`);
      }
    } else if (head === 'bound') {
      if (/^[0-9]$/.test(words[1] ?? '')) bound = Number(words[1]);
      else err(line, `expected a preemption bound 0..9 after 'bound'`);
    } else if (head === 'choices') {
      for (const c of words.slice(1)) {
        if (c === 'need_resched' || c === 'batch_alloc') choices.push(c);
        else err(line, `unknown choice '${c}' (expected need_resched or batch_alloc)`);
      }
    } else if (head === 'violation') {
      if (words[1] === 'none') violation = null;
      else if (VIOLATIONS.includes(words[1])) violation = words[1] as ViolationKind;
      else err(line, `unknown violation '${words[1]}' (expected one of: ${VIOLATIONS.join(', ')})`);
    } else if (head === 'cpu') {
      const cpu = Number(words[1]);
      if (!/^[0-9]$/.test(words[1] ?? '')) err(line, `expected a CPU number 0..9 after 'cpu'`);
      else taskLines.push({ line, cpu, words: words.slice(2) });
    }
  });
  if (!name) err(1, "missing 'scenario NAME' line");
  const setupText = setupLines.join('\n');
  const parsed = safeParseScript(setupText, file);
  if (!parsed.ok) errors.push(...parsed.errors.map((e: ScriptError) => formatScriptError(e)));
  if (errors.length || !parsed.ok) return { ok: false, errors };
  const tasks: CpuTask[] = [];
  for (const t of taskLines) {
    const proc = currentProcessAt(parsed.script, t.line);
    if (!proc) {
      err(t.line, 'a cpu line needs a current process (put it after `process P`)');
      continue;
    }
    const spec = taskSpec(t.words, (m) => err(t.line, m));
    if (!spec) continue;
    const mapped = mapsOf(parsed.script, proc);
    for (const m of spec.kind === 'uffd_move' ? [spec.map, spec.dst] : [spec.map]) {
      if (!mapped.has(m)) err(t.line, `process ${proc} has no mapping '${m}' (expected one of: ${[...mapped].join(', ') || 'none'})`);
    }
    tasks.push({ cpu: t.cpu, process: proc, spec, line: t.line });
  }
  if (!tasks.length) err(1, "no 'cpu N OP' lines: nothing to interleave");
  if (errors.length) return { ok: false, errors };
  return { ok: true, scenario: { name, about, guards, violation, bound, choices, setup: parsed.script, tasks, file } };
}

/** The mappings a process makes during the setup. */
function mapsOf(script: Script, proc: string): Set<string> {
  const out = new Set<string>();
  let cur: string | undefined;
  for (const op of script.ops) {
    if (op.op === 'process' || op.op === 'switch') cur = op.name;
    else if (op.op === 'map' && cur === proc) out.add(op.name);
  }
  return out;
}

function currentProcessAt(script: Script, line: number): string | undefined {
  let cur: string | undefined;
  for (const op of script.ops) {
    if (op.loc.line > line) break;
    if (op.op === 'process' || op.op === 'switch') cur = op.name;
  }
  return cur;
}

function size(w: string | undefined, what: string, bad: (m: string) => void): number {
  const v = w === undefined ? undefined : parseSize(w);
  if (v === undefined || v % 4096) {
    bad(`bad ${what} '${w ?? ''}' (expected a 4K-aligned size like 0, 4K or 2M)`);
    return 0;
  }
  return v;
}

function taskSpec(w: string[], bad: (m: string) => void): TaskSpec | undefined {
  const [op, map] = w;
  if (!map) {
    bad(`expected 'cpu N OP MAP ...' (OP: ${TASK_KINDS.join(', ')})`);
    return undefined;
  }
  switch (op) {
    case 'madvise':
      if (!(ADVICES as readonly string[]).includes(w[4] ?? '')) bad(`unknown advice '${w[4] ?? ''}' (expected one of: ${ADVICES.join(', ')})`);
      return { kind: 'madvise', map, offset: size(w[2], 'offset', bad), len: size(w[3], 'length', bad), advice: w[4] as Advice };
    case 'touch':
      if (w[4] !== 'read' && w[4] !== 'write') bad(`expected read or write, got '${w[4] ?? ''}'`);
      return { kind: 'touch', map, offset: size(w[2], 'offset', bad), len: size(w[3], 'length', bad), write: w[4] === 'write' };
    case 'unmap':
      return { kind: 'unmap', map, offset: size(w[2], 'offset', bad), len: size(w[3], 'length', bad) };
    case 'pte_offset_map':
      return { kind: 'pte_offset_map', map, offset: size(w[2], 'offset', bad), len: size(w[3] ?? '4K', 'length', bad) };
    case 'pte_alloc':
      return { kind: 'pte_alloc', map, offset: size(w[2], 'offset', bad) };
    case 'uffd_move':
      if (!w[3]) bad(`expected 'uffd_move SRC SRC_OFF DST DST_OFF'`);
      return { kind: 'uffd_move', map, offset: size(w[2], 'offset', bad), dst: w[3] ?? '', dstOffset: size(w[4], 'offset', bad) };
    case 'gup_fast':
      return { kind: 'gup_fast', map, offset: size(w[2], 'offset', bad), len: size(w[3] ?? '4K', 'length', bad) };
    case 'rmap_walk':
      return { kind: 'rmap_walk', map, offset: size(w[2], 'offset', bad) };
    default:
      bad(`unknown kernel path '${op}' (expected ${TASK_KINDS.join(', ')})`);
      return undefined;
  }
}
