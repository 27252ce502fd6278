/**
 * Traces as interleaving tables (docs/explorer.md, "Reading a trace"): one column per task, one
 * row per step, read top to bottom. Pure: returns a markdown string, prints nothing.
 */
import type { TraceStep, Finding } from './types.js';

export interface TraceFormat {
  /** Column headers, one per task (default 'task i'). */
  readonly names?: readonly string[];
  /** Adds a last line naming the violation. */
  readonly violation?: Finding;
  /** Adds a column with each step's `state` (Instance.describe). */
  readonly states?: boolean;
  /** Adds each step's source line (`loc`) after its function. */
  readonly locations?: boolean;
}

/**
 * `↷` marks a preemption (the previous task could have continued), `= v` the value a choice took,
 * `**…** ✗` the step that raised the violation (for a deadlock: the steps that wait forever).
 * A step that knows its function reads `function: step`, e.g. `zap_pte_range: st pte[3]@T2`.
 */
export function formatTrace(trace: readonly TraceStep[], nTasks: number, fmt: TraceFormat = {}): string {
  const names = Array.from({ length: nTasks }, (_, i) => fmt.names?.[i] ?? `task ${i}`);
  const head = ['step', ...names, ...(fmt.states ? ['state'] : [])];
  const lines = [row(head), row(head.map(() => '---'))];
  trace.forEach((s, i) => {
    const where = s.fn ? `${s.fn}${fmt.locations && s.loc ? ` (${s.loc})` : ''}: ` : '';
    let cell = esc(where + s.label) + (s.choice !== undefined ? ` = ${s.choice}` : '');
    if (s.violating) cell = `**${cell}** ✗`;
    if (s.preemption) cell = `↷ ${cell}`;
    const cells = names.map((_, t) => (t === s.task ? cell : ''));
    lines.push(row([String(i + 1), ...cells, ...(fmt.states ? [esc(s.state ?? '')] : [])]));
  });
  if (fmt.violation) lines.push('', `✗ ${fmt.violation.kind}: ${fmt.violation.message}`);
  return lines.join('\n');
}

const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const esc = (s: string): string => s.replace(/\|/g, '\\|');
