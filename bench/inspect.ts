/**
 * `npm run bench:inspect` — micro-benchmark of the SQL inspector + policy gate, in-process,
 * no network: what deciding one statement costs the gateway.
 *
 * The policy is the one `npm run bench:pg` runs the gateway under (the example read-only
 * policy narrowed to pgbench's tables, bench/support/policy.ts), loaded through the real
 * config loader; the gate is `createGate` over it, exactly as the gateway builds it.
 *
 * Two paths, each over a mix of statement types, interleaved in small batches so drift
 * (JIT, GC, neighbours) hits every type alike:
 *
 * - uncached: `inspectSql` (libpg-query parse + fact walk) + gate on a text never seen
 *   before (a literal varies per call) — what a simple-protocol query with inline literals
 *   costs, e.g. pgbench -S in simple mode, whose aid changes every transaction;
 * - cached: the gateway's own `createSqlInspector` (bounded per-text cache) + gate on
 *   repeated texts — prepared statements and hot queries;
 * - missed (extra): the gateway's `createSqlInspector` with its cache full and a new text
 *   every call, so each call also evicts — what the gateway really pays for a query with
 *   inline literals.
 *
 * The uncached, missed and parser-alone (`parseSql`, for the parser's share) paths run
 * interleaved on the same texts. Each call is timed on its own with process.hrtime.bigint() (the timer's own cost is
 * reported); decisions/s = 1 ÷ mean per-call time, and the mix is also run untimed per call
 * for a throughput figure. Target: uncached inspect + decide p50 ≤ 50 µs.
 *
 * Env: BENCH_INSPECT_ITERATIONS (4000: uncached calls per statement type),
 * BENCH_INSPECT_CACHED_ITERATIONS (40000), BENCH_INSPECT_WARMUP (1000: uncached warm-up calls
 * per type; the cached warm-up is 10×), BENCH_INSPECT_BATCH (50: calls per type before
 * moving to the next).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import type { Identity } from '../src/identity/identity.js';
import { createSqlInspector } from '../src/inspect/sql-inspector.js';
import { inspectSql, loadSqlParser, parseSql, withExtraDangerousFunctions, type SqlInspection } from '../src/inspect/sql/index.js';
import { createGate } from '../src/policy/gate.js';
import type { Decision, Effect, Gate, Operation } from '../src/policy/operation.js';
import { writeGatewayConfig } from './support/gateway.js';
import { benchPolicy, describeRule, type BenchPolicy } from './support/policy.js';
import { fmt, markdownTable, median } from './support/table.js';
import { intEnv } from './support/env.js';

// ---------------------------------------------------------------- settings

const settings = {
  iterations: intEnv('BENCH_INSPECT_ITERATIONS', 4000, 10),
  cachedIterations: intEnv('BENCH_INSPECT_CACHED_ITERATIONS', 40_000, 10),
  warmup: intEnv('BENCH_INSPECT_WARMUP', 1000, 0),
  batch: intEnv('BENCH_INSPECT_BATCH', 50, 1),
};

const TARGET_P50_US = 50;
/** createSqlInspector's default cache size (entries), which the gateway uses. */
const GATEWAY_CACHE_ENTRIES = 10_000;
/** Distinct texts per statement type on the cached path (all fit in the inspector's cache). */
const CACHED_TEXTS = 64;
const CONNECTION = 'bench';
const GROUP = 'agents';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root: the first ancestor with a package.json (the script runs from bench/out/build/bench/). */
const root = (() => {
  for (let dir = here; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) return process.cwd();
  }
})();

function say(message: string): void {
  process.stderr.write(`[bench:inspect] ${message}\n`);
}

// ---------------------------------------------------------------- the statement mix

interface StatementType {
  readonly name: string;
  /** The decision the policy should reach; a mismatch is reported (the mix would not be what it claims). */
  readonly expect: Effect;
  /** A text for variant `n`: different `n`, different literal, different text. */
  readonly text: (n: number) => string;
}

/** An analytic report of about 2 KB over the pgbench tables: CTEs, window functions, FILTER, CASE, subqueries. */
function analytic(n: number): string {
  return `WITH branch_totals AS (
  SELECT a.bid,
         count(*) AS accounts,
         sum(a.abalance) AS balance,
         avg(a.abalance)::numeric(12, 2) AS avg_balance,
         count(*) FILTER (WHERE a.abalance < 0) AS overdrawn,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY a.abalance) AS median_balance
    FROM pgbench_accounts a
   WHERE a.aid BETWEEN ${n} AND ${n} + 50000
   GROUP BY a.bid
),
teller_activity AS (
  SELECT h.tid, h.bid,
         count(*) AS moves,
         sum(h.delta) AS net,
         max(h.mtime) AS last_move,
         sum(abs(h.delta)) FILTER (WHERE h.delta > 0) AS deposits
    FROM pgbench_history h
   WHERE h.mtime > now() - interval '7 days'
   GROUP BY h.tid, h.bid
),
ranked AS (
  SELECT t.tid, t.bid, t.tbalance,
         coalesce(ta.moves, 0) AS moves,
         coalesce(ta.net, 0) AS net,
         ta.last_move,
         rank() OVER (PARTITION BY t.bid ORDER BY coalesce(ta.net, 0) DESC) AS net_rank,
         sum(coalesce(ta.net, 0)) OVER (PARTITION BY t.bid) AS branch_net,
         lag(t.tbalance) OVER (PARTITION BY t.bid ORDER BY t.tid) AS prev_teller_balance
    FROM pgbench_tellers t
    LEFT JOIN teller_activity ta ON ta.tid = t.tid AND ta.bid = t.bid
)
SELECT b.bid,
       b.bbalance,
       bt.accounts,
       bt.balance,
       bt.avg_balance,
       bt.median_balance,
       bt.overdrawn,
       round(100.0 * bt.overdrawn / nullif(bt.accounts, 0), 2) AS overdrawn_pct,
       r.tid AS top_teller,
       r.net AS top_teller_net,
       r.branch_net,
       r.last_move,
       CASE
         WHEN bt.balance > b.bbalance * 2 THEN 'drifting'
         WHEN bt.overdrawn > bt.accounts / 10 THEN 'at risk'
         ELSE 'ok'
       END AS status,
       (SELECT count(*) FROM pgbench_tellers t2 WHERE t2.bid = b.bid AND t2.tbalance < 0) AS negative_tellers,
       EXISTS (SELECT 1 FROM pgbench_history h2 WHERE h2.bid = b.bid AND h2.delta < -4000) AS large_withdrawals
  FROM pgbench_branches b
  JOIN branch_totals bt ON bt.bid = b.bid
  LEFT JOIN ranked r ON r.bid = b.bid AND r.net_rank = 1
 WHERE b.bid IN (SELECT bid FROM branch_totals WHERE accounts > ${n % 97})
 ORDER BY bt.overdrawn DESC, bt.balance DESC NULLS LAST, b.bid
 LIMIT 50`;
}

const MIX: readonly StatementType[] = [
  {
    name: 'pgbench -S select',
    expect: 'allow',
    text: (n) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${n};`,
  },
  {
    name: 'join + CTE',
    expect: 'allow',
    text: (n) =>
      'WITH busy AS (SELECT bid, count(*) AS n, sum(abalance) AS total FROM pgbench_accounts ' +
      `WHERE aid BETWEEN ${n} AND ${n + 1000} GROUP BY bid) ` +
      'SELECT b.bid, b.bbalance, busy.n, busy.total, t.tid FROM pgbench_branches b JOIN busy ON busy.bid = b.bid ' +
      'LEFT JOIN pgbench_tellers t ON t.bid = b.bid AND t.tbalance > 0 ORDER BY busy.total DESC LIMIT 10',
  },
  {
    name: 'INSERT with params',
    expect: 'deny',
    text: (n) => `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, ${(n % 10_000) - 5000}, CURRENT_TIMESTAMP)`,
  },
  {
    name: 'multi-statement (4)',
    expect: 'allow',
    text: (n) =>
      `BEGIN; SELECT abalance FROM pgbench_accounts WHERE aid = ${n}; ` +
      `SELECT tbalance FROM pgbench_tellers WHERE tid = ${(n % 100) + 1}; COMMIT;`,
  },
  {
    name: 'DO block (PL/pgSQL)',
    expect: 'allow',
    text: (n) =>
      'DO $$\nDECLARE total bigint;\nBEGIN\n' +
      `  SELECT sum(abalance) INTO total FROM pgbench_accounts WHERE bid = ${n};\n` +
      `  IF total IS NULL THEN\n    RAISE NOTICE 'branch % is empty', ${n};\n  END IF;\nEND\n$$`,
  },
  {
    name: 'denied write (DELETE)',
    expect: 'deny',
    text: (n) => `DELETE FROM pgbench_accounts WHERE aid = ${n}`,
  },
  {
    name: 'EXPLAIN',
    expect: 'allow',
    text: (n) =>
      `EXPLAIN SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b ON b.bid = a.bid WHERE a.aid = ${n}`,
  },
  { name: 'analytic query (~2 KB)', expect: 'allow', text: analytic },
];

// ---------------------------------------------------------------- measurement

type Decide = (text: string) => Decision;
/** What `measure` times: a decision (checked against the type's expectation) or anything else (not checked). */
type Timed = (text: string) => Decision | unknown;

interface TypeRun {
  readonly type: StatementType;
  /** Per-call durations, nanoseconds. */
  readonly ns: Float64Array;
  /** Calls whose effect was not `type.expect`. */
  unexpected: number;
}

/**
 * Runs `iterations` timed calls per type and per path, interleaved `batch` at a time: for each
 * batch of a type, the texts are made (outside the timed region) and then every path runs
 * them, in an order that rotates, so paths measured together are compared on the same texts
 * under the same conditions. `variant(type, i)` gives the n for the i-th call of a type.
 * Returns one TypeRun[] per path.
 */
function measure(paths: readonly Timed[], iterations: number, variant: (typeIndex: number, i: number) => number): TypeRun[][] {
  const runs: TypeRun[][] = paths.map(() => MIX.map((type) => ({ type, ns: new Float64Array(iterations), unexpected: 0 })));
  const texts: string[] = new Array<string>(settings.batch);
  for (let start = 0, b = 0; start < iterations; start += settings.batch, b++) {
    const end = Math.min(iterations, start + settings.batch);
    // Rotate which type goes first so none always follows the same neighbour.
    for (let k = 0; k < MIX.length; k++) {
      const t = (k + b) % MIX.length;
      for (let i = start; i < end; i++) texts[i - start] = MIX[t]!.text(variant(t, i));
      for (let q = 0; q < paths.length; q++) {
        const p = (q + b) % paths.length;
        const decide = paths[p]!;
        const run = runs[p]![t]!;
        for (let i = start; i < end; i++) {
          const text = texts[i - start]!;
          const t0 = process.hrtime.bigint();
          const result = decide(text);
          const t1 = process.hrtime.bigint();
          run.ns[i] = Number(t1 - t0);
          if (isDecision(result) && result.effect !== run.type.expect) run.unexpected += 1;
        }
      }
    }
  }
  return runs;
}

function isDecision(x: unknown): x is Decision {
  return typeof x === 'object' && x !== null && 'effect' in x && 'rule' in x;
}

/** The whole mix, round-robin, with one clock reading around each batch: decisions per second. */
function throughput(decide: Decide, iterations: number, variant: (typeIndex: number, i: number) => number): number {
  const texts: string[] = [];
  for (let i = 0; i < iterations; i++) for (let t = 0; t < MIX.length; t++) texts.push(MIX[t]!.text(variant(t, i)));
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (const text of texts) sink += decide(text).effect === 'allow' ? 1 : 0;
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  if (sink < 0) console.log(sink); // keep the result observable
  return texts.length / (elapsedNs / 1e9);
}

/** Cost of the timer itself: two back-to-back hrtime.bigint() calls, median ns. */
function timerOverheadNs(): number {
  const samples: number[] = [];
  for (let i = 0; i < 100_000; i++) {
    const t0 = process.hrtime.bigint();
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0));
  }
  return median(samples);
}

interface Stats {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
  readonly n: number;
}

/** Nearest-rank percentiles, in µs. */
function stats(ns: ArrayLike<number>): Stats {
  const sorted = Float64Array.from(ns).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]! / 1000;
  let sum = 0;
  for (const x of sorted) sum += x;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: sum / sorted.length / 1000, max: sorted[sorted.length - 1]! / 1000, n: sorted.length };
}

function concat(runs: readonly TypeRun[]): Float64Array {
  const all = new Float64Array(runs.reduce((a, r) => a + r.ns.length, 0));
  let off = 0;
  for (const r of runs) {
    all.set(r.ns, off);
    off += r.ns.length;
  }
  return all;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = new Date();

  // The policy bench:pg's gateway runs, through the real config loader.
  const work = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-inspect-'));
  const policy = benchPolicy(root, GROUP);
  let config: Config;
  try {
    const file = path.join(work, 'gateway.yaml');
    writeGatewayConfig({
      file,
      dataDir: path.join(work, 'data'),
      issuer: 'http://127.0.0.1:1',
      audience: 'portcullis',
      port: 1,
      connection: CONNECTION,
      target: { port: 5432, database: 'bench', user: 'bench_user' },
      group: GROUP,
      policy,
    });
    config = await loadConfig(file, { unavailableSecrets: 'placeholder' });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const connection = config.connections.find((c) => c.name === CONNECTION)!;
  const gate: Gate = createGate(config.connections);
  const identity: Identity = {
    subject: 'bench-agent',
    clientId: 'bench-agent',
    groups: [GROUP],
    scopes: [],
    issuer: 'http://127.0.0.1:1',
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
  const ref = { name: connection.name, type: connection.type };
  const decideWith =
    (inspect: (text: string) => SqlInspection): Decide =>
    (text) => {
      const operation: Operation = { kind: 'sql', connection: ref, text, via: 'simple-query', facts: inspect(text) };
      return gate(identity, operation);
    };

  say('loading the parser…');
  await loadSqlParser();
  const dangerousFunctions = withExtraDangerousFunctions(config.sql.extraDangerousFunctions);
  const uncached = decideWith((text) => inspectSql(text, { dangerousFunctions }));
  const cached = decideWith(await createSqlInspector(config.sql.extraDangerousFunctions));
  const missed = decideWith(await createSqlInspector(config.sql.extraDangerousFunctions));
  const parse: Timed = (text) => parseSql(text);

  // What each type is, and what the policy says (checked once, untimed).
  const described = MIX.map((type) => {
    const text = type.text(1);
    const facts = inspectSql(text, { dangerousFunctions });
    const decision = uncached(text);
    return {
      type,
      bytes: Buffer.byteLength(text),
      statements: facts.ok ? facts.statements.length : 0,
      classes: facts.ok ? [...new Set(facts.statements.map((s) => s.class))].join('+') : 'unparseable',
      decision,
    };
  });
  for (const d of described) {
    if (d.decision.effect !== d.type.expect) {
      say(`WARNING: "${d.type.name}" is ${d.decision.effect} (rule ${d.decision.rule}), expected ${d.type.expect}: ${d.decision.reason}`);
    }
  }

  // Uncached texts never repeat: variant n = a per-type counter that only grows.
  const counters = MIX.map(() => 1_000_000);
  const fresh = (t: number): number => (counters[t]! += 1);
  // Cached texts cycle through CACHED_TEXTS variants per type.
  const repeated = (_t: number, i: number): number => 1 + (i % CACHED_TEXTS);

  const loadBefore = os.loadavg();
  const timerNs = timerOverheadNs();
  if (settings.warmup > 0) {
    say(`warm-up: ${settings.warmup} uncached + ${settings.warmup * 10} cached calls per statement type`);
    measure([uncached, parse, missed], settings.warmup, fresh);
    measure([cached], settings.warmup * 10, repeated);
  }
  // Fill the miss path's cache past its bound with texts never used again, so every measured call evicts.
  for (let n = 0; n < GATEWAY_CACHE_ENTRIES * 1.2; n++) missed(MIX[0]!.text(-1 - n));
  say(`uncached, parse alone and missed, interleaved: ${settings.iterations} calls each per statement type`);
  const t0 = Date.now();
  const [uncachedRuns, parseRuns, missedRuns] = measure([uncached, parse, missed], settings.iterations, fresh) as [TypeRun[], TypeRun[], TypeRun[]];
  const uncachedSeconds = (Date.now() - t0) / 1000;
  say(`cached: ${settings.cachedIterations} calls per statement type`);
  const t1 = Date.now();
  const [cachedRuns] = measure([cached], settings.cachedIterations, repeated) as [TypeRun[]];
  const cachedSeconds = (Date.now() - t1) / 1000;
  say('mix throughput (not timed per call)');
  const uncachedThroughput = throughput(uncached, Math.max(1, Math.floor(settings.iterations / 4)), fresh);
  const cachedThroughput = throughput(cached, Math.max(1, Math.floor(settings.cachedIterations / 4)), repeated);
  const loadAfter = os.loadavg();

  const report = renderReport({
    started,
    policy,
    described,
    uncachedRuns,
    parseRuns,
    cachedRuns,
    missedRuns,
    uncachedSeconds,
    cachedSeconds,
    uncachedThroughput,
    cachedThroughput,
    timerNs,
    loadBefore,
    loadAfter,
  });
  const outDir = path.join(root, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `inspect-${started.toISOString().replace(/[:.]/g, '-')}.md`);
  writeFileSync(file, report);
  process.stdout.write(`\n${report}\n`);
  say(`report written to ${path.relative(process.cwd(), file)}`);

  const unexpected = [...uncachedRuns, ...cachedRuns, ...missedRuns].filter((r) => r.unexpected > 0);
  if (unexpected.length > 0) {
    throw new Error(`decisions differ from the mix's expectations: ${unexpected.map((r) => `${r.type.name} (${r.unexpected})`).join(', ')}`);
  }
}

// ---------------------------------------------------------------- report

interface ReportInput {
  readonly started: Date;
  readonly policy: BenchPolicy;
  readonly described: ReadonlyArray<{
    readonly type: StatementType;
    readonly bytes: number;
    readonly statements: number;
    readonly classes: string;
    readonly decision: Decision;
  }>;
  readonly uncachedRuns: readonly TypeRun[];
  /** `parseSql` alone (libpg-query), same texts: how much of an uncached decision is the parser. */
  readonly parseRuns: readonly TypeRun[];
  readonly cachedRuns: readonly TypeRun[];
  readonly missedRuns: readonly TypeRun[];
  readonly uncachedSeconds: number;
  readonly cachedSeconds: number;
  readonly uncachedThroughput: number;
  readonly cachedThroughput: number;
  readonly timerNs: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
}

const us = (x: number): string => (x < 10 ? fmt(x, 2) : x < 100 ? fmt(x, 1) : fmt(x, 0));

/**
 * `parse`: the same types measured with the parser alone, shown as its p50 and share of the decision's p50.
 * `baseline`: the uncached runs, shown as the p50 difference.
 */
function latencyTable(runs: readonly TypeRun[], withTarget: boolean, parse?: readonly TypeRun[], baseline?: readonly TypeRun[]): string {
  const row = (name: string, s: Stats, p: Stats | undefined, b: Stats | undefined): string[] => [
    name,
    us(s.p50),
    us(s.p95),
    us(s.p99),
    us(s.mean),
    fmt(1e6 / s.mean),
    ...(withTarget ? [s.p50 <= TARGET_P50_US ? 'yes' : 'no'] : []),
    ...(p ? [`${us(p.p50)} (${fmt((100 * p.p50) / s.p50, 0)}%)`] : []),
    ...(b ? [`${s.p50 >= b.p50 ? '+' : '−'}${us(Math.abs(s.p50 - b.p50))}`] : []),
  ];
  const rows = runs.map((r, i) =>
    row(r.type.name, stats(r.ns), parse ? stats(parse[i]!.ns) : undefined, baseline ? stats(baseline[i]!.ns) : undefined),
  );
  rows.push(
    row(
      '**mix overall** (equal weights)',
      stats(concat(runs)),
      parse ? stats(concat(parse)) : undefined,
      baseline ? stats(concat(baseline)) : undefined,
    ),
  );
  return markdownTable(
    [
      'statement',
      'p50 µs',
      'p95 µs',
      'p99 µs',
      'mean µs',
      'decisions/s',
      ...(withTarget ? [`p50 ≤ ${TARGET_P50_US} µs`] : []),
      ...(parse ? ['of which parseSql p50 µs'] : []),
      ...(baseline ? ['p50 vs uncached µs'] : []),
    ],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', ...(withTarget ? ['left' as const] : []), 'right', 'right'],
  );
}

function renderReport(r: ReportInput): string {
  const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  const cpus = os.cpus();
  const libpgQuery = (() => {
    try {
      return (JSON.parse(readFileSync(path.join(root, 'node_modules', 'libpg-query', 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  })();
  const uncachedMix = stats(concat(r.uncachedRuns));
  const select = stats(r.uncachedRuns[0]!.ns);
  const verdict = uncachedMix.p50 <= TARGET_P50_US ? 'PASS' : 'FAIL';
  const out: string[] = [];
  out.push(
    `# Portcullis inspector + gate micro-benchmark — ${r.started.toISOString()}`,
    '',
    'One decision = inspect the SQL text (libpg-query parse + fact extraction) and decide it with the policy gate, ' +
      'in-process, no network, one thread. Policy: the one `npm run bench:pg` runs the gateway under — the example ' +
      'read-only policy (examples/portcullis.yaml) narrowed to the pgbench tables, loaded with the real config loader ' +
      'and compiled by `createGate`. Each call is timed alone with `process.hrtime.bigint()` ' +
      `(two back-to-back readings: ${fmt(r.timerNs, 0)} ns median, included in every figure). ` +
      'decisions/s = 1 ÷ mean time per call, one core. Statement types are interleaved in batches of ' +
      `${settings.batch}; ${fmt(settings.warmup)} uncached and ${fmt(settings.warmup * 10)} cached unrecorded warm-up calls per type.`,
    '',
    `Reproduce: \`${reproduce()}\``,
    '',
    '## Machine',
    '',
    markdownTable(
      ['', ''],
      [
        ['CPU', `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`],
        ['OS', `${os.type()} ${os.release()} (${os.arch()})`],
        ['Node.js', process.version],
        ['libpg-query', libpgQuery],
        ['Load average 1/5/15 min', `${load(r.loadBefore)} before, ${load(r.loadAfter)} after`],
      ],
    ),
    '',
    'The machine is shared: other processes (see load average) take CPU from this one and show up mostly in p95/p99.',
    '',
    '## Target',
    '',
    markdownTable(
      ['target', 'measured', 'result'],
      [
        [`uncached inspect + decide p50 ≤ ${TARGET_P50_US} µs (statement mix, equal weights)`, `${us(uncachedMix.p50)} µs`, verdict],
        [`  the same for pgbench's select alone`, `${us(select.p50)} µs`, select.p50 <= TARGET_P50_US ? 'PASS' : 'FAIL'],
      ],
      ['left', 'right', 'left'],
    ),
    '',
    '## The statement mix',
    '',
    markdownTable(
      ['statement', 'bytes', 'statements', 'class', 'decision (rule)'],
      r.described.map((d) => [
        d.type.name,
        fmt(d.bytes),
        String(d.statements),
        d.classes,
        `${d.decision.effect} (${d.decision.rule})${d.decision.effect === d.type.expect ? '' : ` — expected ${d.type.expect}`}`,
      ]),
      ['left', 'right', 'right', 'left', 'left'],
    ),
    '',
    `Uncached texts differ in a literal on every call and never repeat; cached texts cycle through ${CACHED_TEXTS} ` +
      'variants per type, all resident in the inspector\'s cache after warm-up.',
    '',
    `## Uncached: \`inspectSql\` + gate, a new text every call (${fmt(settings.iterations)} calls per type)`,
    '',
    latencyTable(r.uncachedRuns, true, r.parseRuns),
    '',
    '"of which parseSql": the same kind of texts through `parseSql` alone (libpg-query\'s WASM parser and its JSON ' +
      'tree, plus the gateway\'s text checks) on the same texts; the rest of a decision is the fact walk (and, for ' +
      'the DO block, the PL/pgSQL parse) and the gate. The uncached, parse-alone and missed (below) paths run ' +
      `interleaved batch by batch on the same texts (${fmt(r.uncachedSeconds, 1)} s for the three).`,
    '',
    `Mix throughput without per-call timing: **${fmt(r.uncachedThroughput)} decisions/s**.`,
    '',
    `## Cached: \`createSqlInspector\` (the gateway's) + gate, repeated texts (${fmt(settings.cachedIterations)} calls per type, ${fmt(r.cachedSeconds, 1)} s)`,
    '',
    latencyTable(r.cachedRuns, false),
    '',
    `Mix throughput without per-call timing: **${fmt(r.cachedThroughput)} decisions/s**. A cache hit still runs the ` +
      'gate (rule matching, table globs) on every call; only inspection is skipped.',
    '',
    `## Missed: \`createSqlInspector\` + gate, cache full, a new text every call (${fmt(settings.iterations)} calls per type)`,
    '',
    latencyTable(r.missedRuns, false, undefined, r.uncachedRuns),
    '',
    'Which path the gateway takes: the cache is keyed by the exact text, so prepared statements and parameterised ' +
      'queries (pgbench -M extended: one text) hit it, while a simple-protocol query with inline literals (pgbench -S ' +
      'simple: `… WHERE aid = <random>`, 1 of 1,000,000 aids at scale 10) is almost always a miss: it pays the ' +
      `uncached cost, plus inserting into the full ${fmt(GATEWAY_CACHE_ENTRIES)}-entry cache and evicting its oldest ` +
      'entry (the "vs uncached" column).',
    '',
    `Policy (as \`npm run bench:pg\` configures the gateway; from ${r.policy.source}, reads narrowed to ` +
      `\`${r.policy.tables.join('`, `')}\`, default ${r.policy.defaultEffect}; the most restrictive matching rule wins):`,
    '',
    markdownTable(['rule', 'effect', 'when'], r.policy.rules.map((rule) => [rule.name, rule.effect, describeRule(rule)])),
    '',
  );
  return out.join('\n');
}

function reproduce(): string {
  const vars = ['BENCH_INSPECT_ITERATIONS', 'BENCH_INSPECT_CACHED_ITERATIONS', 'BENCH_INSPECT_WARMUP', 'BENCH_INSPECT_BATCH']
    .filter((v) => process.env[v] !== undefined && process.env[v] !== '')
    .map((v) => `${v}=${process.env[v]}`);
  return [...vars, 'npm run bench:inspect'].join(' ');
}

main().catch((error: unknown) => {
  console.error(`bench:inspect failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
