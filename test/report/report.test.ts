/**
 * `ptlab report` on a made-up two-run report (test/report/fixture.ts): the files it writes, the
 * figures in them (expected values computed here from the fixture, not copied from the output),
 * and the message for a malformed report.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { imageSize } from 'image-size';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReplayReport } from '../../src/workloads/report_schema.js';
import { PNG_WIDTH, formatKb, formatReportError, safeParseReport, summaryMarkdown, writeReport } from '../../src/report/index.js';
import { chooseXAxis } from '../../src/report/series.js';
import { fixtureReport } from './fixture.js';

const PLOT_FILES = ['vmpte', 'rss', 'entries', 'empty-tables'];
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('the fixture', () => {
  it('is a valid replay report, timed and untimed', () => {
    expect(ReplayReport.safeParse(fixtureReport()).success).toBe(true);
    expect(ReplayReport.safeParse(fixtureReport({ timed: false, rounds: 1000, maxSamples: 20 })).success).toBe(true);
  });
});

describe('writeReport', () => {
  const report = ReplayReport.parse(fixtureReport());
  const [off, on] = report.runs;
  let dir: string;
  let written: string[];
  const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptlab-report-'));
    written = await writeReport(report, dir);
  });

  it('writes every plot as SVG and PNG, the page, the summary and the validated input', () => {
    const expected = ['report.json', ...PLOT_FILES.flatMap((p) => [`${p}.svg`, `${p}.png`]), 'report.html', 'summary.md'];
    expect(written.map((f) => path.basename(f)).sort()).toEqual(expected.sort());
    expect(JSON.parse(read('report.json'))).toEqual(report);
  });

  it.each(PLOT_FILES)('renders %s.png as a PNG of the stated width', (name) => {
    const png = fs.readFileSync(path.join(dir, `${name}.png`));
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const size = imageSize(png);
    expect(size.type).toBe('png');
    expect(size.width).toBe(PNG_WIDTH);
    expect(size.height).toBeGreaterThan(200);
  });

  it('names both runs and the axes in the VmPTE plot (trace time in ms: the samples have timeNs)', () => {
    const svg = read('vmpte.svg');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['pt_reclaim=off', 'pt_reclaim=on', 'trace time (ms)', 'VmPTE (kB)', 'VmPTE over time']) expect(svg).toContain(text);
  });

  it('titles the other plots\' axes and panels', () => {
    expect(read('rss.svg')).toContain('RssShmem');
    expect(read('rss.svg')).toContain('resident (MiB)');
    expect(read('entries.svg')).toContain('live entries in the table (of 512)');
    expect(read('entries.svg')).toContain(`${off.label}: ${off.final.pteTables} PTE tables, ${off.entriesHistogram[0]} empty`);
    expect(read('empty-tables.svg')).toContain('region @ start address');
    expect(read('empty-tables.svg')).toContain('anon @ 0x7f0000000000');
    // The run with no empty tables keeps its panel.
    expect(read('empty-tables.svg')).toContain(`${on.label}: 0 empty PTE tables`);
  });

  it('inlines the four SVGs in a self-contained HTML page with the summary figures', () => {
    const html = read('report.html');
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|<link|src="|url\(http|@import/);
    for (const run of report.runs) {
      const row = html.split('\n').find((l) => l.includes(`<th scope="row">${run.label}</th>`));
      expect(row).toBeDefined();
      const f = run.final;
      for (const cell of [formatKb(f.VmPTE), formatKb(f.VmRSS), f.pteTables, f.pteTablesEmpty, f.ptesReclaimed, f.faults.toLocaleString('en-US'), f.tlbFlushes, f.rcuCallbacks]) {
        expect(row).toContain(`<td>${cell}</td>`);
      }
    }
    expect(html).toContain(`${on.label} saves ${off.final.VmPTE - on.final.VmPTE} kB of page tables`);
    expect(html).toContain(`<th scope="row">${report.observed[0].label}</th>`);
    expect(html).toContain(on.notes[0]);
  });

  it('states in summary.md what the second run saves and costs against the first', () => {
    const saved = off.final.VmPTE - on.final.VmPTE;
    const pct = ((saved / off.final.VmPTE) * 100).toFixed(1);
    const faults = on.final.faults - off.final.faults;
    const flushes = on.final.tlbFlushes - off.final.tlbFlushes;
    expect(read('summary.md')).toContain(
      `- ${on.label} saves ${saved} kB of page tables (${pct} %) and costs ${faults} extra faults and ${flushes} extra TLB flushes (against ${off.label}).`,
    );
  });
});

describe('summaryMarkdown at cover-letter scale', () => {
  it('speaks MiB when the saving is large, and uses the op index without trace times', () => {
    const report = ReplayReport.parse(fixtureReport({ rounds: 25_600, timed: false, maxSamples: 50 }));
    const [off, on] = report.runs;
    const saved = off.final.VmPTE - on.final.VmPTE;
    expect(saved).toBe(25_600 * 4); // one 4 kB PTE table per round; both runs keep the PMD and PUD tables
    const mib = (saved / 1024).toFixed(1);
    const pct = ((saved / off.final.VmPTE) * 100).toFixed(1);
    expect(summaryMarkdown(report)).toContain(`${on.label} saves ${mib} MiB of page tables (${pct} %)`);
    expect(chooseXAxis(report).title).toBe('trace op (index)');
  });
});

describe('formatKb', () => {
  it('keeps kB below 1 MiB and switches to MiB and GiB above', () => {
    expect(formatKb(204)).toBe('204 kB');
    expect(formatKb(1023)).toBe('1,023 kB');
    expect(formatKb(102_400)).toBe('100.0 MiB');
    expect(formatKb(50 * 1024 * 1024)).toBe('50.00 GiB');
  });
});

describe('safeParseReport', () => {
  const text = (mutate: (r: Record<string, unknown> & ReturnType<typeof fixtureReport>) => void) => {
    const r = JSON.parse(JSON.stringify(fixtureReport()));
    mutate(r);
    return JSON.stringify(r);
  };

  it('rejects a run whose final sample lacks VmPTE, naming the path', () => {
    const r = safeParseReport(text((r) => delete (r.runs[1].final as Partial<typeof r.runs[1]['final']>).VmPTE), 'in.json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ code: 'schema', path: 'runs[1].final.VmPTE' });
    expect(formatReportError(r.error)).toMatch(/^in\.json: runs\[1\]\.final\.VmPTE: .*expected number/);
  });

  it('rejects a histogram that is not 513 buckets long', () => {
    const r = safeParseReport(text((r) => r.runs[0].entriesHistogram.pop()), 'in.json');
    expect(!r.ok && r.error.code === 'schema' && r.error.path).toBe('runs[0].entriesHistogram');
  });

  it('rejects text that is not JSON', () => {
    const r = safeParseReport('{"type": ', 'in.json');
    expect(!r.ok && formatReportError(r.error)).toMatch(/^in\.json: not JSON: /);
  });
});

describe('observed counters of a recorded trace', () => {
  it('puts each run\'s model counters under the kernel\'s at the same point', () => {
    const report = fixtureReport();
    const o = report.observed[0];
    report.runs[0].checkpoints = [{ ...o, VmPTE: o.VmPTE + 8 }];
    const md = summaryMarkdown(report);
    const lines = md.split('\n');
    const kernel = lines.findIndex((l) => l.startsWith(`| ${o.label} | the kernel |`));
    expect(kernel).toBeGreaterThan(0);
    expect(lines[kernel]).toContain(`| ${formatKb(o.VmPTE)} |`);
    expect(lines[kernel + 1]).toMatch(new RegExp(`^\\| ${o.label} \\| model, ${report.runs[0].label} \\| ${formatKb(o.VmPTE + 8)} \\|`));
    // A run without a checkpoint at that point adds no row.
    expect(lines[kernel + 2]).not.toContain(`model, ${report.runs[1].label}`);
  });
});
