/**
 * `npm run bench:large` — large results through Portcullis with masking on (issue 8, point 4).
 *
 * A table of BENCH_LARGE_ROWS rows (default 10,000,000; seven columns, ~200 bytes a row) is
 * generated inside PostgreSQL (bench/large/dataset.ts): the example masking profile's column
 * rules apply to two of its columns, and its free text carries a small share of e-mail
 * addresses and card numbers only the content detectors find. Then, interleaved over
 * BENCH_LARGE_RUNS rounds (order rotated each round), medians reported:
 *  - a SELECT of every row and a COPY … TO STDOUT of the same data, each read directly from
 *    PostgreSQL and through the gateway (its own process, `portcullis serve`, recording on as
 *    always, the example read-only policy, the example masking profile `pii-for-agents`).
 *    One minimal wire-protocol reader (bench/large/wire-client.ts) reads both paths, timed
 *    and counted the same way, holding nothing: rows, bytes and marker strings are counted
 *    as the bytes pass. Every run is checked: every row arrived, the command tag is right,
 *    every planted sensitive value reached the direct reader and none the masked one, where
 *    each was replaced as the profile says. Any failure fails the bench.
 *    Target: gateway ≥ 0.6× direct throughput, for each statement.
 *  - the gateway's RSS, sampled every BENCH_LARGE_RSS_INTERVAL_MS from its start to its
 *    stop. Target: under 200 MB the whole time.
 *  - backpressure (bench/large/backpressure.ts): a client through the gateway starts the
 *    SELECT, reads a little, stops reading for BENCH_LARGE_PAUSE_SECONDS, reads at a trickle
 *    for BENCH_LARGE_THROTTLE_SECONDS, resumes and cancels. The gateway's RSS must not grow
 *    more than BENCH_LARGE_PAUSE_RSS_MB while its client is paused, and PostgreSQL's backend
 *    must be blocked in ClientWrite (pg_stat_activity, read as superuser) — the gateway
 *    stopped reading upstream. Either failing fails the bench; so does a cancel that does
 *    not end the query with 57014 or a session left unusable.
 *
 * Env:
 *   BENCH_LARGE_ROWS (10000000)            rows in the table
 *   BENCH_LARGE_RUNS (3)                   interleaved rounds; medians over them
 *   BENCH_LARGE_WARMUP_ROWS (200000)       untimed warm-up read per statement and path (min 1000)
 *   BENCH_LARGE_UNMASKED (0)               1 adds a third path: the gateway on a connection without masking
 *   BENCH_LARGE_RSS_INTERVAL_MS (50)       gateway RSS sampling interval
 *   BENCH_LARGE_SLOW (1)                   0 skips the slow-client (backpressure) scenario
 *   BENCH_LARGE_PAUSE_AFTER_MB (32)        MB the slow client reads before pausing (at most a quarter of the result)
 *   BENCH_LARGE_PAUSE_SECONDS (5)          how long it stops reading
 *   BENCH_LARGE_PAUSE_RSS_MB (30)          most the gateway's RSS may grow meanwhile
 *   BENCH_LARGE_THROTTLE_SECONDS (5)       then reads at a trickle this long (0 skips)
 *   BENCH_LARGE_THROTTLE_KBPS (2000)       the trickle, in kB/s
 *   BENCH_LARGE_SLOW_FINISH (0)            1 reads the slow client's result to the end instead of cancelling
 *   BENCH_LARGE_PROFILE (0)                1 adds a --cpu-prof gateway and one profiled SELECT and COPY
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/demo/embedded-postgres.js';
import { startDevIdp, type DevIdp } from '../src/identity/dev-idp.js';
import { fetchAccessToken } from '../src/identity/token-client.js';
import { kernelBufferBytes, slowClient, type BackpressureResult } from './large/backpressure.js';
import {
  CREATE_SQL,
  EXAMPLE_PROFILE,
  expectedCountsSql,
  MARKERS,
  QUERY_KINDS,
  readExampleMaskingProfile,
  STATEMENTS,
  TABLE,
  TABLE_GLOB,
  warmupStatement,
  type QueryKind,
} from './large/dataset.js';
import { renderLargeReport, type ProfiledRead } from './large/report.js';
import { checkRun, keyFigures, rowsOf, summarise, type Expected, type PathName, type PathSummary, type RunSample } from './large/results.js';
import { RssSampler, rssWindow } from './large/rss.js';
import { WireClient, type WireEndpoint } from './large/wire-client.js';
import { keepProfile, summariseCpuProfile } from './support/cpuprofile.js';
import { intEnv } from './support/env.js';
import { startGatewayProcess, writeGatewayConfig, type GatewayProcess } from './support/gateway.js';
import { benchPolicy, type BenchPolicy } from './support/policy.js';
import { freePort, processCpu, rssBytes } from './support/process.js';
import { commandOf, reportFigures } from './support/report.js';
import { fmt, mb } from './support/table.js';
import { cleanupOnExit, progress, repoRoot } from './support/lifecycle.js';

// ---------------------------------------------------------------- settings

const rows = intEnv('BENCH_LARGE_ROWS', 10_000_000, 1000);
const settings = {
  rows,
  runs: intEnv('BENCH_LARGE_RUNS', 3, 1),
  warmupRows: Math.min(rows, intEnv('BENCH_LARGE_WARMUP_ROWS', 200_000, 1000)),
  unmasked: process.env['BENCH_LARGE_UNMASKED'] === '1',
  rssIntervalMs: intEnv('BENCH_LARGE_RSS_INTERVAL_MS', 50, 5),
  slow: process.env['BENCH_LARGE_SLOW'] !== '0',
  pauseAfterMb: intEnv('BENCH_LARGE_PAUSE_AFTER_MB', 32, 1),
  pauseSeconds: intEnv('BENCH_LARGE_PAUSE_SECONDS', 5, 1),
  pauseRssMb: intEnv('BENCH_LARGE_PAUSE_RSS_MB', 30, 1),
  throttleSeconds: intEnv('BENCH_LARGE_THROTTLE_SECONDS', 5, 0),
  throttleKBps: intEnv('BENCH_LARGE_THROTTLE_KBPS', 2000, 1),
  slowFinish: process.env['BENCH_LARGE_SLOW_FINISH'] === '1',
  profile: process.env['BENCH_LARGE_PROFILE'] === '1',
};

const DB = 'bench';
const DB_USER = 'bench_user';
const GROUP = 'agents';
const AUDIENCE = 'portcullis';
const AGENT_USER = 'agent';
const MASKED_CONNECTION = 'bench';
const PLAIN_CONNECTION = 'plain';
/** Found in pg_stat_activity.query to pick out the slow client's backend. */
const SLOW_MARKER = 'bench-large-slow-client';
const MARKER_TEXTS = MARKERS.map((m) => m.text);

// ---------------------------------------------------------------- plumbing

const root = repoRoot(import.meta.url);
const cleanups = cleanupOnExit();
const cleanup = cleanups.run;
const say = progress('bench:large');

const stamp = (date: Date): string => date.toISOString().replace(/[:.]/g, '-');
const cpuMs = (pid: number): number => {
  const c = processCpu(pid);
  return c.userMs + c.systemMs;
};

interface ReadPath {
  readonly name: PathName;
  readonly endpoint: WireEndpoint;
  readonly masked: boolean;
  readonly viaGateway: boolean;
}

interface LaunchedGateway {
  readonly process: GatewayProcess;
  readonly configText: string;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = new Date();
  const work = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-large-'));
  chmodSync(work, 0o755); // PostgreSQL runs as OS user postgres when we are root: it must reach into it
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const problems: string[] = [];
  const commands: string[] = [];
  const loadBefore = os.loadavg();

  // -- PostgreSQL and the table
  say(`work dir ${work}; starting embedded PostgreSQL…`);
  const pgServer = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), port: 0, persistent: false });
  cleanups.push(() => pgServer.stop());
  const [version] = await pgServer.query<{ version: string }>('SELECT version()');
  const dbPassword = randomBytes(18).toString('base64url');
  await pgServer.query(`CREATE DATABASE ${DB}`);
  await pgServer.createRole(DB_USER, dbPassword, 'scram-sha-256');
  say(`generating ${fmt(settings.rows)} rows in PostgreSQL…`);
  const t0 = performance.now();
  for (const sql of CREATE_SQL) await pgServer.query(sql, sql.includes('$1') ? [settings.rows] : [], { database: DB });
  await pgServer.query(`GRANT SELECT ON ${TABLE} TO ${DB_USER}`, [], { database: DB });
  const generateSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const expected = await expectedCounts(pgServer);
  const countSeconds = (performance.now() - t1) / 1000;
  const [size] = await pgServer.query<{ bytes: string }>(`SELECT pg_table_size('${TABLE}')::text AS bytes`, [], { database: DB });
  const tableBytes = Number(size?.bytes ?? NaN);
  say(
    `table ${TABLE}: ${fmt(expected.rows)} rows, ${mb(tableBytes)}, in ${fmt(generateSeconds, 1)} s (planted values counted in ${fmt(countSeconds, 1)} s): ` +
      [...expected.sensitive].map(([k, v]) => `${fmt(v)} × "${k}"`).join(', '),
  );

  // -- identity and the gateway
  const agent = { clientId: 'bench-agent', clientSecret: randomBytes(18).toString('base64url'), groups: [GROUP] };
  // Sessions end when the token expires: it must outlive the slowest plausible run.
  const ttl = 6 * 3600;
  const idp: DevIdp = await startDevIdp({ port: 0, clients: [agent], audience: AUDIENCE, accessTokenTtlSeconds: ttl });
  cleanups.push(() => idp.close());
  const token = (await fetchAccessToken({ issuer: idp.issuer, clientId: agent.clientId, clientSecret: agent.clientSecret })).accessToken;
  const policy = benchPolicy(root, GROUP, [TABLE_GLOB]);
  const profile = readExampleMaskingProfile(root, GROUP);
  const gateway = await launchGateway(work, 'gateway', idp, pgServer, dbPassword, policy, profile, []);
  cleanups.push(() => gateway.process.service.stop());
  commands.push(gateway.process.command);
  const gatewayPid = gateway.process.service.pid;
  const gatewayRss = new RssSampler(() => rssBytes(gatewayPid), settings.rssIntervalMs).start();
  cleanups.push(() => {
    try {
      gatewayRss.stop();
    } catch {
      // the gateway is gone; the run already failed on it
    }
  });
  say(`Portcullis on 127.0.0.1:${gateway.process.port} (pid ${gatewayPid}), masking profile ${EXAMPLE_PROFILE}`);

  const direct: WireEndpoint = { host: '127.0.0.1', port: pgServer.port, user: DB_USER, database: DB, password: dbPassword };
  const through = (database: string): WireEndpoint => ({ host: '127.0.0.1', port: gateway.process.port, user: AGENT_USER, database, password: token });
  const paths: ReadPath[] = [
    { name: 'direct', endpoint: direct, masked: false, viaGateway: false },
    { name: 'gateway', endpoint: through(MASKED_CONNECTION), masked: true, viaGateway: true },
    ...(settings.unmasked ? [{ name: 'gateway, no masking' as const, endpoint: through(PLAIN_CONNECTION), masked: false, viaGateway: true }] : []),
  ];

  // -- the policy is on, and the reads are allowed
  const policyChecks = await checkPolicy(through(MASKED_CONNECTION), pgServer, expected.rows);
  const gatewayIdleRss = rssBytes(gatewayPid);
  say(`warm-up: ${fmt(settings.warmupRows)} rows per statement and path`);
  for (const kind of QUERY_KINDS) {
    for (const p of paths) {
      const outcome = await readOnce(p.endpoint, warmupStatement(kind, settings.warmupRows));
      const got = rowsOf(kind, outcome.tally);
      const sensitive = MARKERS.flatMap((m, i) => (m.kind === 'sensitive' ? [outcome.tally.markers[i] ?? 0] : [])).reduce((a, b) => a + b, 0);
      const ok = outcome.error === undefined && got === settings.warmupRows && (p.masked ? sensitive === 0 : sensitive > 0);
      if (p.viaGateway) policyChecks.push([`\`${warmupStatement(kind, settings.warmupRows)}\` (${p.name})`, outcome.error ? `refused: ${outcome.error.message}` : `ran, ${fmt(got)} rows, ${fmt(sensitive)} planted values visible`]);
      if (!ok) {
        throw new Error(
          `warm-up ${kind} via ${p.name}: ${outcome.error?.message ?? `${got} rows (expected ${settings.warmupRows}), ${sensitive} planted values visible (expected ${p.masked ? 'none' : 'some'})`}`,
        );
      }
    }
  }

  // -- the rounds
  const samples: RunSample[] = [];
  const roundsStarted = performance.now();
  for (let round = 1; round <= settings.runs; round++) {
    if (round === 2) {
      const perRound = (performance.now() - roundsStarted) / 1000;
      say(`a round takes ~${fmt(perRound)} s: ~${fmt(perRound * (settings.runs - 1))} s of rounds to go`);
    }
    for (const kind of QUERY_KINDS) {
      const order = paths.map((_, i) => paths[(i + round - 1) % paths.length]!);
      for (const p of order) {
        const sample = await measure(p, kind, round, gatewayPid, gatewayRss);
        samples.push(sample);
        const found = checkRun(sample, MARKERS, expected);
        problems.push(...found);
        say(
          `round ${round}/${settings.runs} ${kind.padEnd(6)} ${p.name.padEnd(19)} ${fmt(sample.seconds, 2)} s, ` +
            `${fmt(rowsOf(kind, sample.tally) / sample.seconds)} rows/s, ${fmt(sample.tally.bytes / 1e6 / sample.seconds, 1)} MB/s` +
            (sample.gatewayPeakRss === undefined ? '' : `, gateway RSS peak ${mb(sample.gatewayPeakRss)}, CPU ${fmt((sample.gatewayCpuMs ?? NaN) / 1000, 1)} s`) +
            (found.length > 0 ? ` — ${found.length} problem(s)` : ''),
        );
      }
    }
  }
  const summaries = QUERY_KINDS.flatMap((kind) => paths.map((p) => summarise(samples, kind, p.name)).filter((s): s is PathSummary => s !== undefined));

  // -- backpressure
  let backpressure: BackpressureResult | undefined;
  let backpressureNote: string | undefined;
  if (settings.slow) {
    const directBytes = summaries.find((s) => s.query === 'select' && s.path === 'direct')?.bytes ?? NaN;
    const readBeforePause = Math.floor(Math.min(settings.pauseAfterMb * 1e6, directBytes / 4));
    // What is left after the pause must not fit in the kernel's buffers (plus the RSS bound), or PostgreSQL can finish
    // sending while the client is paused, and a gateway that buffered it could stay under the bound.
    const left = directBytes - readBeforePause;
    const kernel = kernelBufferBytes(readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8'), readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8'));
    const resultOutlastsBuffers = left > kernel + settings.pauseRssMb * 1e6;
    backpressureNote =
      `${mb(left)} of the result was left when the client paused; the kernel's socket buffers can hold up to ${mb(kernel)} on the two hops ` +
      `(2 × (tcp_rmem max + tcp_wmem max)). ${
        resultOutlastsBuffers
          ? 'More was left than those and the RSS bound together, so PostgreSQL had to block if the gateway stopped reading, and a gateway that buffered would have grown past the bound.'
          : '**Not more than those and the RSS bound together: PostgreSQL may finish sending into kernel buffers, so the ClientWrite and cancel checks are not judged. Run with more rows.**'
      }`;
    say(`slow client: reads ${mb(readBeforePause)}, pauses ${settings.pauseSeconds} s, trickles ${settings.throttleSeconds} s, then ${settings.slowFinish ? 'reads to the end' : 'cancels'}`);
    const client = await WireClient.connect(through(MASKED_CONNECTION));
    try {
      backpressure = await slowClient({
        client,
        sql: `SELECT /* ${SLOW_MARKER} */ ${STATEMENTS.select.slice('SELECT '.length)}`,
        backendMarker: SLOW_MARKER,
        probeSql: `SELECT id FROM ${TABLE} WHERE id <= 3`,
        gatewayPid,
        superuserQuery: (sql, params) => pgServer.query(sql, params),
        readBeforePause,
        pauseSeconds: settings.pauseSeconds,
        throttleSeconds: settings.throttleSeconds,
        throttleBytesPerSecond: settings.throttleKBps * 1000,
        rssIntervalMs: settings.rssIntervalMs,
        growthBound: settings.pauseRssMb * 1e6,
        finish: settings.slowFinish,
        markers: MARKER_TEXTS,
        resultOutlastsBuffers,
      });
    } finally {
      await client.close();
    }
    problems.push(...backpressure.problems);
    if (settings.slowFinish) problems.push(...checkRun({ query: 'select', path: 'gateway', masked: true, ...outcomeFields(backpressure.ending.outcome) }, MARKERS, expected).map((p) => `slow client: ${p}`));
    say(
      `slow client: RSS ${mb(backpressure.rssAtPause)} at pause → peak ${mb(backpressure.rssPeakPaused)} while paused (+${mb(backpressure.pausedGrowth)}); ` +
        `PostgreSQL in ClientWrite after ${backpressure.secondsToClientWrite === undefined ? 'never' : `${fmt(backpressure.secondsToClientWrite, 2)} s`}, ` +
        `${backpressure.paused.clientWrite}/${backpressure.paused.total} samples; ${backpressure.problems.length} problem(s), ${backpressure.notes.length} not judged`,
    );
  }

  const rssSamples = gatewayRss.stop();
  const gatewayPeakRss = rssWindow(rssSamples).max;
  if (!gateway.process.service.running) problems.push(`the gateway exited during the bench:\n${gateway.process.service.output()}`);
  await gateway.process.service.stop();

  // -- profile
  let profiled: { file: string; reads: ProfiledRead[] } | undefined;
  if (settings.profile) profiled = await profileGateway(work, idp, pgServer, dbPassword, policy, profile, token, started, commands);

  // -- report
  const figures = keyFigures(
    settings.rows,
    summaries,
    Math.max(gatewayPeakRss, backpressure?.peakRss ?? 0),
    backpressure === undefined ? undefined : { pausedGrowth: backpressure.pausedGrowth, pausedGrowthBound: settings.pauseRssMb * 1e6 },
  );
  const reproduce = commandOf('bench:large', 'BENCH_LARGE_');
  const loadAfter = os.loadavg();
  const cpus = os.cpus();
  const report = renderLargeReport({
    started,
    reproduce,
    machine: [
      ['CPU', `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`],
      ['Memory', `${fmt(os.totalmem() / 2 ** 30, 1)} GiB`],
      ['OS', `${os.type()} ${os.release()} (${os.arch()})`],
      ['Node.js', process.version],
      ['PostgreSQL', version?.version ?? 'unknown'],
      ['Load average 1/5/15 min', `${loadBefore.map((x) => x.toFixed(2)).join(' / ')} at start, ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} at the end`],
    ],
    settings: [
      ['rows', fmt(settings.rows)],
      ['rounds', String(settings.runs)],
      ['warm-up rows per statement and path', fmt(settings.warmupRows)],
      ['paths', paths.map((p) => p.name).join(', ')],
      ['RSS sampling', `every ${settings.rssIntervalMs} ms`],
    ],
    expected,
    tableBytes,
    generateSeconds,
    profileName: EXAMPLE_PROFILE,
    policySource: policy.source,
    policyChecks,
    summaries,
    samples,
    gatewayIdleRss,
    gatewayPeakRss: Math.max(gatewayPeakRss, backpressure?.peakRss ?? 0),
    backpressure,
    backpressureBound: settings.pauseRssMb * 1e6,
    backpressureNote,
    profile: profiled,
    figures,
    problems,
    commands: [...commands, reproduce],
    configText: gateway.configText,
  });
  reportFigures({ bench: 'bench:large', command: reproduce, figures });
  const outDir = path.join(root, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `large-${stamp(started)}.md`);
  writeFileSync(file, report);
  process.stdout.write(`\n${report}\n`);
  say(`report written to ${path.relative(process.cwd(), file)}`);
  if (problems.length > 0) throw new Error(`${problems.length} check(s) failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

// ---------------------------------------------------------------- steps

async function expectedCounts(pgServer: EmbeddedPostgres): Promise<Expected> {
  const { sql, params } = expectedCountsSql();
  const [row] = await pgServer.query<Record<string, string>>(sql, params, { database: DB });
  if (row === undefined) throw new Error('the expected-counts query returned nothing');
  const sensitive = new Map<string, number>();
  params.forEach((text, i) => sensitive.set(text, Number(row[`m${i}`])));
  const expected = { rows: Number(row['rows']), sensitive };
  if (expected.rows !== settings.rows) throw new Error(`the table has ${expected.rows} rows, expected ${settings.rows}`);
  for (const [text, n] of sensitive) if (!(n > 0)) throw new Error(`no "${text}" planted in ${settings.rows} rows: the leak check would prove nothing`);
  return expected;
}

async function launchGateway(
  work: string,
  name: string,
  idp: DevIdp,
  pgServer: EmbeddedPostgres,
  dbPassword: string,
  policy: BenchPolicy,
  profile: Record<string, unknown>,
  nodeFlags: readonly string[],
): Promise<LaunchedGateway> {
  const port = await freePort();
  const configFile = path.join(work, `${name}.yaml`);
  const configText = writeGatewayConfig({
    file: configFile,
    dataDir: path.join(work, `${name}-data`),
    issuer: idp.issuer,
    audience: AUDIENCE,
    port,
    connection: MASKED_CONNECTION,
    ...(settings.unmasked ? { unmaskedConnection: PLAIN_CONNECTION } : {}),
    target: { port: pgServer.port, database: DB, user: DB_USER },
    group: GROUP,
    policy,
    masking: [profile],
  });
  const gatewayProcess = await startGatewayProcess({ root, configFile, port, targetPassword: dbPassword, nodeFlags });
  return { process: gatewayProcess, configText };
}

/** Through the gateway a write is refused with 42501 and, directly, nothing changed: the policy is on. */
async function checkPolicy(endpoint: WireEndpoint, pgServer: EmbeddedPostgres, rowCount: number): Promise<Array<[string, string]>> {
  const sql = `DELETE FROM ${TABLE} WHERE id = 1`;
  const outcome = await readOnce(endpoint, sql);
  if (outcome.error?.code !== '42501') {
    throw new Error(`the gateway does not enforce the policy: \`${sql}\` gave ${outcome.error?.message ?? `no error (${outcome.tags.join(', ')})`}, expected SQLSTATE 42501`);
  }
  const [row] = await pgServer.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${TABLE} WHERE id = 1`, [], { database: DB });
  if (row?.n !== '1') throw new Error(`\`${sql}\` was refused but row 1 is gone: a write reached the database`);
  return [[`\`${sql}\``, `refused, SQLSTATE ${outcome.error.code}; row 1 still there (${fmt(rowCount)} rows)`]];
}

async function readOnce(endpoint: WireEndpoint, sql: string): Promise<Awaited<ReturnType<WireClient['query']>>> {
  const client = await WireClient.connect(endpoint);
  try {
    return await client.query(sql, MARKER_TEXTS);
  } finally {
    await client.close();
  }
}

function outcomeFields(o: Awaited<ReturnType<WireClient['query']>>): Pick<RunSample, 'tally' | 'tags' | 'error'> {
  return { tally: o.tally, tags: o.tags, error: o.error?.message };
}

async function measure(p: ReadPath, kind: QueryKind, round: number, gatewayPid: number, rss: RssSampler): Promise<RunSample> {
  const client = await WireClient.connect(p.endpoint);
  try {
    const gatewayCpu0 = cpuMs(gatewayPid);
    const client0 = process.cpuUsage();
    const from = performance.now();
    const outcome = await client.query(STATEMENTS[kind], MARKER_TEXTS);
    const to = performance.now();
    const clientCpu = process.cpuUsage(client0);
    const gatewayCpu = cpuMs(gatewayPid) - gatewayCpu0;
    return {
      round,
      query: kind,
      path: p.name,
      masked: p.masked,
      seconds: outcome.seconds,
      firstByteSeconds: outcome.firstByteSeconds,
      ...outcomeFields(outcome),
      gatewayPeakRss: p.viaGateway ? rssWindow(rss.samples, from, to).max : undefined,
      gatewayCpuMs: p.viaGateway ? gatewayCpu : undefined,
      clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
    };
  } finally {
    await client.close();
  }
}

async function profileGateway(
  work: string,
  idp: DevIdp,
  pgServer: EmbeddedPostgres,
  dbPassword: string,
  policy: BenchPolicy,
  profile: Record<string, unknown>,
  token: string,
  started: Date,
  commands: string[],
): Promise<{ file: string; reads: ProfiledRead[] }> {
  const dir = path.join(work, 'profile');
  mkdirSync(dir, { recursive: true });
  const name = 'gateway.cpuprofile';
  const gw = await launchGateway(work, 'gateway-profiled', idp, pgServer, dbPassword, policy, profile, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
  commands.push(`${gw.process.command}   # profiled`);
  const endpoint: WireEndpoint = { host: '127.0.0.1', port: gw.process.port, user: AGENT_USER, database: MASKED_CONNECTION, password: token };
  const windows: Array<{ query: QueryKind; seconds: number; fromUs: number; toUs: number }> = [];
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  try {
    for (const kind of QUERY_KINDS) await readOnce(endpoint, warmupStatement(kind, settings.warmupRows));
    for (const kind of QUERY_KINDS) {
      say(`profiling the gateway: ${kind}`);
      const fromUs = nowUs();
      const outcome = await readOnce(endpoint, STATEMENTS[kind]);
      windows.push({ query: kind, seconds: outcome.seconds, fromUs, toUs: nowUs() });
      if (outcome.error !== undefined) throw new Error(`profiled ${kind} failed: ${outcome.error.message}`);
    }
  } finally {
    await gw.process.service.stop(30_000);
  }
  const { produced, kept } = keepProfile(dir, name, root, `large-${stamp(started)}`, () => gw.process.service.output());
  const reads = windows.map((w) => ({ query: w.query, seconds: w.seconds, summary: summariseCpuProfile(produced, root, w) }));
  for (const r of reads) {
    say(`profile, ${r.query}: top self time — ${r.summary.bySelf.slice(0, 8).map((h) => `${h.name} ${fmt(100 * h.selfShare, 1)}%`).join(', ')}`);
  }
  return { file: path.relative(root, kept), reads };
}

main().then(
  () => cleanup(),
  async (error: unknown) => {
    if (cleanups.interrupted()) return; // the signal handler is already cleaning up
    console.error(`bench:large failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
    await cleanup();
  },
);
