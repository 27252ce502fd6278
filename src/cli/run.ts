/** `ptlab run`: execute op scripts on the model. */
import type { Command } from 'commander';
import { STATUS_FIELDS, ROLLUP_FIELDS } from '../script/ast.js';
import { runScript } from '../script/exec.js';
import { formatOutputLine, type OutputLine } from '../script/output.js';
import { applySettings } from '../mm/config.js';
import { timelineRecorder } from '../view/docs.js';
import { EXIT, UsageError, loadScript, parseConfigOption, readScriptText, table } from './util.js';
import { writeFileAtomic } from '../util/atomic.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run op scripts on the model and print every snapshot (docs/op-scripts.md)')
    .argument('<script...>', 'op script files')
    .option('--json', 'print JSON lines (the schema the kernel runner prints) instead of tables')
    .option('--config <k=v,...>', 'model settings over the script\'s own config lines (repeatable)', parseConfigOption, {})
    .option('--check', 'check the model\'s invariants after every op (slow on big scripts)')
    .option('--timeline <file>', 'also write the address space after every op as JSON, for `ptlab view` / `ptlab serve` (one script only)')
    .addHelpText('after', '\nExit code 0 when every op and expect line held, 1 at the first that did not (its line is named).')
    .action((scripts: string[], opts: { json?: boolean; config: Record<string, string>; check?: boolean; timeline?: string }) => {
      const bad = applySettings({}, opts.config);
      if (bad) throw new UsageError(`--config: ${bad}`);
      if (opts.timeline && scripts.length > 1) throw new UsageError(`--timeline: give one script, not ${scripts.length}`);
      const loaded = scripts.map(loadScript); // validate all before running any
      const rec = opts.timeline ? timelineRecorder(readScriptText(scripts[0]), loaded[0].file) : undefined;
      let code: number = EXIT.OK;
      for (const script of loaded) {
        if (!opts.json && loaded.length > 1) process.stdout.write(`== ${script.file}\n`);
        const r = runScript(script, {
          overrides: opts.config,
          checkInvariants: opts.check,
          onOp: rec?.onOp,
          onLine: (l) => process.stdout.write(opts.json ? formatOutputLine(l) + '\n' : render(script.file, l)),
        });
        code = Math.max(code, r.exitCode);
        if (rec && opts.timeline) {
          const doc = rec.doc(r);
          writeFileAtomic(opts.timeline, JSON.stringify(doc) + '\n');
          const more = doc.opsNotRecorded ? ` (the first ${doc.steps.length}; ${doc.opsNotRecorded} later ops ran without a snapshot)` : '';
          process.stderr.write(`timeline of ${doc.steps.length} ops${more} written to ${opts.timeline}; open it with: ptlab serve ${opts.timeline}\n`);
        }
      }
      process.exitCode = code;
    });
}

function render(file: string, l: OutputLine): string {
  switch (l.type) {
    case 'snapshot': {
      const rows = [...STATUS_FIELDS].map((f) => [f, l.status[f], l.delta[f]] as (string | number)[]);
      for (const f of ROLLUP_FIELDS) rows.push([f, l.smaps_rollup[f], '']);
      let s = `snapshot "${l.label}" (process ${l.process}, line ${l.line}), kB\n${table(['field', 'value', 'delta'], rows)}\n`;
      if (l.pagemap) s += `pagemap ${l.pagemap.map}+${l.pagemap.offset}: ${l.pagemap.runs.map(([n, c]) => `${n}×${c}`).join(' ')}\n`;
      return s + '\n';
    }
    case 'expect':
      return l.ok ? '' : `${file}:${l.line}: expect ${l.field}${l.delta ? ' delta' : ''} ${l.cmp} ${l.want}: saw ${l.seen}\n`;
    case 'error':
      return `${file}:${l.line}: ${l.message}\n`;
    default:
      return '';
  }
}
