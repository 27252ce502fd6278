/**
 * What a scenario file must also satisfy before the explorer runs it, beyond its grammar
 * (format.ts): its setup runs on the model as it says (every op succeeds, or fails with its
 * `err=`), its CPUs exist, and each kernel path's range lies inside its mapping. A scenario that
 * breaks one of these is bad input, reported at its line and column like a script error; found
 * here, once, instead of inside the explorer's first execution. No I/O.
 */
import * as genApi from '../mm/api.js';
import { PMD_SIZE } from '../mm/const.js';
import type { GuardName } from '../mm/config.js';
import { formatScriptError, mappingsByProcess, type Op } from '../script/ast.js';
import { fmtSize } from '../script/grammar.js';
import { runScript, type ModelApi, type RunResult } from '../script/exec.js';
import type { CpuTask, Scenario } from './format.js';

const GEN_API: ModelApi = genApi;

/**
 * Runs the setup once, as every execution of the explorer will (src/scenarios/system.ts: the
 * generator build, with the same guards off), and checks the CPU lines against what it built.
 * Returns the problems as `FILE:LINE:COL: message (expected ...)`; empty when the scenario can run.
 */
export function checkScenario(scn: Scenario, guardsOff: readonly GuardName[] = []): string[] {
  const overrides: Record<string, string> = {};
  if (guardsOff.length) overrides.guard_off = guardsOff.join('+');
  const setup = runScript(scn.setup, { api: GEN_API, overrides });
  const at = (line: number, col: number, message: string, expected: string) =>
    formatScriptError({ code: 'out-of-range', loc: { file: scn.file, line, col }, message, expected });
  if (setup.exitCode === 4 && guardsOff.length) {
    // With guards off the model runs the bugs they prevent, and the setup ran into one: it is not
    // a setup the explorer can start its executions from (the bug needs no race here).
    return setup.lines.flatMap((l) => {
      if (l.type !== 'error') return [];
      const op = opAt(scn.setup.ops, l.line);
      return [at(l.line, op?.loc.col ?? 1, `the setup breaks the model with ${guardsOff.join(', ')} off: ${l.message}`, 'a setup that runs cleanly with the guards switched off')];
    });
  }
  if (setup.exitCode === 4) {
    // The model broke on a valid script: not the scenario's fault; let the caller report it.
    throw new Error(`${scn.file}: the model failed while running the setup: ${errorMessages(setup).join('; ')}`);
  }
  if (setup.exitCode !== 0) {
    return setup.lines.flatMap((l) => {
      if (l.type === 'error') {
        const op = opAt(scn.setup.ops, l.line);
        return [at(l.line, op?.loc.col ?? 1, `the setup stops here: ${l.message}`, 'a setup whose every op succeeds, or fails as its err= says')];
      }
      if (l.type === 'expect' && !l.ok) {
        const op = opAt(scn.setup.ops, l.line);
        return [at(l.line, op?.loc.col ?? 1, `the setup's expectation does not hold: ${l.field}${l.delta ? ' delta' : ''} ${l.cmp} ${l.want}, saw ${l.seen}`, 'expect lines that hold after the setup')];
      }
      return [];
    });
  }
  const cpus = setup.kernel.cpus.length;
  const out: string[] = [];
  for (const t of scn.tasks) {
    if (t.cpu >= cpus) {
      out.push(at(t.line, t.cols.cpu, `CPU ${t.cpu}: the explorer runs ${cpus} CPUs`, `a CPU number from 0 to ${cpus - 1}`));
      continue;
    }
    const problem = rangeProblem(scn, setup, t);
    if (problem) out.push(at(t.line, problem.col, problem.message, problem.expected));
  }
  return out;
}

function errorMessages(r: RunResult): string[] {
  return r.lines.flatMap((l) => (l.type === 'error' ? [`line ${l.line}: ${l.message}`] : []));
}

function opAt(ops: readonly Op[], line: number): Op | undefined {
  return ops.find((o) => o.loc.line === line);
}

/**
 * The size each mapping of `proc` may be addressed up to at the end of the setup: as mapped,
 * or as an mremap grew it (docs/op-scripts.md: offsets stay relative to the mapping's origin).
 */
export function mappingSizes(ops: readonly Op[], proc: string): Map<string, number> {
  return mappingsByProcess(ops).get(proc) ?? new Map();
}

/** A kernel path's range outside its mapping, or a one-table path given more than one table. */
function rangeProblem(scn: Scenario, setup: RunResult, t: CpuTask): { col: number; message: string; expected: string } | undefined {
  const spec = t.spec;
  if (spec.kind === 'swapoff' || spec.kind === 'clear_refs' || spec.kind === 'smaps_rollup') return undefined; // no range
  const sizes = mappingSizes(scn.setup.ops, t.process);
  const len = 'len' in spec ? spec.len : 4096;
  const [, , offCol, lenCol, lastCol, dstOffCol] = t.cols.words;
  /** As the op-script validator blames it: the offset when it alone is outside, else the length. */
  const check = (map: string, offset: number, n: number, cols: [number, number], what = 'OFFSET') => {
    const size = sizes.get(map) ?? 0;
    if (offset + n <= size) return undefined;
    return {
      col: offset >= size ? cols[0] : cols[1],
      message: `range [${fmtSize(offset)}, ${fmtSize(offset + n)}) is outside mapping ${map} (size ${fmtSize(size)})`,
      expected: `${what}${'len' in spec ? ' + LEN' : ''} <= ${fmtSize(size)}`,
    };
  };
  const bad = check(spec.map, spec.offset, len, [offCol, 'len' in spec ? lenCol : offCol]);
  if (bad) return bad;
  if (spec.kind === 'uffd_move') return check(spec.dst, spec.dstOffset, 4096, [lastCol, lastCol]);
  if (spec.kind === 'mremap') return check(spec.dst, spec.dstOffset, len, [dstOffCol, lenCol], 'DST_OFF');
  if (spec.kind === 'pte_offset_map' || spec.kind === 'gup_fast') {
    // Both read one PTE table: the range must stay inside one 2 MiB block.
    const addr = setup.maps.get(t.process)!.get(spec.map)! + spec.offset;
    if ((addr % PMD_SIZE) + len > PMD_SIZE) {
      return { col: lenCol, message: `${spec.kind} of ${fmtSize(len)} at offset ${fmtSize(spec.offset)} crosses a 2M block boundary`, expected: 'a range inside one 2 MiB block, one PTE table' };
    }
  }
  return undefined;
}
