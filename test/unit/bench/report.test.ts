/** bench/RESULTS.md is rendered from the figures the benchmarks report: pure, so tested byte by byte. */
import { describe, expect, it } from 'vitest';
import { parseReports, renderResults, targetMet, type BenchReport } from '../../../bench/support/report.js';

const REPORTS: BenchReport[] = [
  {
    bench: 'bench:pg',
    command: 'npm run bench:pg',
    figures: [
      { name: 'pgbench -S -c 8 -j 2 -M simple: Portcullis ÷ PgBouncer TPS', value: 0.8123, unit: '×', target: { op: '>=', value: 1 }, issue: '8' },
      { name: 'memory per idle session (1,000 open)', value: 21.4, unit: 'KiB', target: { op: '<=', value: 30 }, issue: '8' },
    ],
  },
  { bench: 'bench:ssh', command: 'BENCH_SSH_MB=50 npm run bench:ssh', figures: [{ name: 'short commands', value: 1.1, unit: '×' }] },
];

const MACHINE = { cores: 2, cpu: 'Test CPU', memoryGiB: 24, node: 'v20.20.2', postgres: 'postgres (PostgreSQL) 17.2', pgbouncer: 'PgBouncer 1.18.0', os: 'Linux 6.1' };

describe('bench results', () => {
  it('judges figures against their targets, both directions, and leaves untargeted ones unjudged', () => {
    expect(targetMet({ name: 'a', value: 1, unit: '×', target: { op: '>=', value: 1 } })).toBe(true);
    expect(targetMet({ name: 'a', value: 0.99, unit: '×', target: { op: '>=', value: 1 } })).toBe(false);
    expect(targetMet({ name: 'a', value: 31, unit: 'KiB', target: { op: '<=', value: 30 } })).toBe(false);
    expect(targetMet({ name: 'a', value: NaN, unit: '×', target: { op: '>=', value: 1 } })).toBeUndefined();
    expect(targetMet({ name: 'a', value: 3, unit: '×' })).toBeUndefined();
  });

  it('round-trips reports through the JSON lines the benchmarks append, and names a bad line', () => {
    const text = REPORTS.map((r) => JSON.stringify(r)).join('\n') + '\n';
    expect(parseReports(text)).toEqual(REPORTS);
    expect(() => parseReports('{"bench":"x"}\n')).toThrow(/line 1 of the bench report is not a report/);
  });

  it('renders the machine, every figure with its target and verdict, what was missed, and the commands', () => {
    const text = renderResults({
      date: new Date('2026-12-01T00:00:00Z'),
      machine: MACHINE,
      runs: [
        { bench: 'bench:pg', command: 'npm run bench:pg', exitCode: 1, seconds: 312.4 },
        { bench: 'bench:ssh', command: 'BENCH_SSH_MB=50 npm run bench:ssh', exitCode: 0, seconds: 20 },
        { bench: 'bench:verify', command: 'npm run bench:verify', exitCode: 1, seconds: 3 },
      ],
      reports: REPORTS,
    });
    expect(text).toContain('Measured 2026-12-01T00:00:00.000Z by `npm run bench`');
    expect(text).toContain('| 2     | Test CPU | 24.0 GiB | Linux 6.1 | v20.20.2 | postgres (PostgreSQL) 17.2 | PgBouncer 1.18.0 |');
    expect(text).toContain('| bench:pg  | pgbench -S -c 8 -j 2 -M simple: Portcullis ÷ PgBouncer TPS |   0.81 × | ≥ 1.00 × (issue 8)   | **missed** |');
    expect(text).toContain('| bench:pg  | memory per idle session (1,000 open)                       | 21.4 KiB | ≤ 30.0 KiB (issue 8) | met        |');
    expect(text).toContain('| bench:ssh | short commands                                             |   1.10 × | —                    | —          |');
    expect(text).toContain('Targets missed (1): bench:pg: pgbench -S -c 8 -j 2 -M simple: Portcullis ÷ PgBouncer TPS. Where the time goes (profiles) and what would close each gap: bench/GAPS.md.');
    expect(text).toContain('| bench:pg     | `npm run bench:pg`                  |    1 |     312 |');
    expect(text).toContain('Did not report (failed before its figures): bench:verify.');
  });

  it('says so when every target was met', () => {
    const scores: BenchReport = { bench: 'bench:mask', command: 'npm run bench:mask', figures: [{ name: 'lowest recall', value: 0.995, unit: '', target: { op: '>=', value: 0.99 }, issue: '6' }] };
    const text = renderResults({ date: new Date(0), machine: MACHINE, runs: [], reports: [REPORTS[1]!, scores] });
    expect(text).toContain('Every target was met.');
    // Scores keep the digits their targets are stated in.
    expect(text).toContain('| bench:mask | lowest recall  |   0.9950 | ≥ 0.9900 (issue 6) | met     |');
  });
});
