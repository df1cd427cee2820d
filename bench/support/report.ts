/**
 * Benchmark figures in one shape, so `npm run bench` can gather every benchmark's into
 * bench/RESULTS.md: each bench reports its key figures (value, unit, target) to the file
 * named by $BENCH_REPORT (one JSON object per line), and `renderResults` — pure — turns
 * them into the results table.
 */
import { appendFileSync } from 'node:fs';
import { fmt, markdownTable } from './table.js';

export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
}

export interface Figure {
  /** What was measured, e.g. "pgbench -S -c 8 simple: Portcullis ÷ PgBouncer TPS". */
  readonly name: string;
  readonly value: number;
  /** "×", "MB/s", "ms", "MB"… */
  readonly unit: string;
  readonly target?: Target;
  /** Issue the target comes from, e.g. "8". */
  readonly issue?: string;
}

export interface BenchReport {
  /** e.g. "bench:pg". */
  readonly bench: string;
  /** The exact command that produced the figures. */
  readonly command: string;
  readonly figures: readonly Figure[];
}

export const REPORT_ENV = 'BENCH_REPORT';

/** Appends a bench's figures to $BENCH_REPORT when it is set (run under `npm run bench`); otherwise does nothing. */
export function reportFigures(report: BenchReport): void {
  const file = process.env[REPORT_ENV];
  if (file === undefined || file === '') return;
  appendFileSync(file, `${JSON.stringify(report)}\n`);
}

/** `npm run <script>` with the settings it ran with: the environment variables starting with `prefix` that are set. */
export function commandOf(script: string, prefix: string): string {
  const vars = Object.keys(process.env)
    .filter((name) => name.startsWith(prefix) && name !== REPORT_ENV && process.env[name] !== '')
    .sort()
    .map((name) => `${name}=${process.env[name]}`);
  return [...vars, `npm run ${script}`].join(' ');
}

/** Parses what `reportFigures` wrote; a line that is not a report is an error naming it. */
export function parseReports(text: string): BenchReport[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || !('bench' in value) || !('figures' in value) || !Array.isArray((value as BenchReport).figures)) {
        throw new Error(`line ${i + 1} of the bench report is not a report: ${line.slice(0, 80)}`);
      }
      return value as BenchReport;
    });
}

export function targetMet(figure: Figure): boolean | undefined {
  if (figure.target === undefined || !Number.isFinite(figure.value)) return undefined;
  return figure.target.op === '>=' ? figure.value >= figure.target.value : figure.value <= figure.target.value;
}

const withUnit = (value: string, unit: string): string => (unit === '' ? value : `${value} ${unit}`);

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly postgres: string;
  readonly pgbouncer: string;
  readonly os: string;
}

export interface BenchRun {
  readonly bench: string;
  readonly command: string;
  readonly exitCode: number | null;
  readonly seconds: number;
}

/** The whole RESULTS.md: machine, one table of every figure against its target, the commands, what failed to run. */
export function renderResults(input: { readonly date: Date; readonly machine: Machine; readonly runs: readonly BenchRun[]; readonly reports: readonly BenchReport[] }): string {
  const { machine } = input;
  // Ratios to 2 places, scores (no unit: precision, recall) to 4, sizes and rates to 1 or none.
  const digits = (value: number, unit: string): number => (unit === '×' ? 2 : unit === '' ? 4 : Math.abs(value) >= 100 ? 0 : 1);
  const rows = input.reports.flatMap((report) =>
    report.figures.map((f) => {
      const met = targetMet(f);
      return [
        report.bench,
        f.name,
        withUnit(fmt(f.value, digits(f.value, f.unit)), f.unit),
        f.target === undefined
          ? '—'
          : `${f.target.op === '>=' ? '≥' : '≤'} ${withUnit(fmt(f.target.value, digits(f.target.value, f.unit)), f.unit)}${f.issue === undefined ? '' : ` (issue ${f.issue})`}`,
        met === undefined ? '—' : met ? 'met' : '**missed**',
      ];
    }),
  );
  const missed = input.reports.flatMap((r) => r.figures.filter((f) => targetMet(f) === false).map((f) => `${r.bench}: ${f.name}`));
  const failed = input.runs.filter((run) => run.exitCode !== 0 && !input.reports.some((r) => r.bench === run.bench));
  return [
    '# Benchmark results',
    '',
    `Measured ${input.date.toISOString()} by \`npm run bench\` (each benchmark interleaves its own direct / PgBouncer / Portcullis runs and reports medians).`,
    '',
    '## Machine',
    '',
    markdownTable(
      ['cores', 'CPU', 'memory', 'OS', 'Node.js', 'PostgreSQL', 'PgBouncer'],
      [[String(machine.cores), machine.cpu, `${fmt(machine.memoryGiB, 1)} GiB`, machine.os, machine.node, machine.postgres, machine.pgbouncer]],
    ),
    '',
    '## Figures',
    '',
    rows.length === 0 ? '(no benchmark reported figures)' : markdownTable(['bench', 'figure', 'measured', 'target', 'verdict'], rows, ['left', 'left', 'right', 'left', 'left']),
    '',
    missed.length === 0
      ? 'Every target was met.'
      : `Targets missed (${missed.length}): ${missed.join('; ')}. Where the time goes (profiles) and what would close each gap: bench/GAPS.md. Each benchmark's own output has its detail (bench:pg, bench:large and bench:sessions also write bench/out/<bench>-<time>.md).`,
    '',
    '## Commands',
    '',
    markdownTable(
      ['bench', 'command', 'exit', 'seconds'],
      input.runs.map((run) => [run.bench, `\`${run.command}\``, run.exitCode === null ? 'killed' : String(run.exitCode), fmt(run.seconds, 0)]),
      ['left', 'left', 'right', 'right'],
    ),
    '',
    ...(failed.length === 0 ? [] : [`Did not report (failed before its figures): ${failed.map((f) => f.bench).join(', ')}.`, '']),
  ].join('\n');
}
