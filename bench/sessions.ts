/**
 * `npm run bench:sessions` — many sessions and a TLS connection storm.
 *
 * Phase 1, many sessions: BENCH_SESSIONS concurrent client sessions through one gateway
 * process, BENCH_ACTIVE of them pgbench clients running `pgbench -S` (the access token as
 * PGPASSWORD) for BENCH_SESSIONS_SECONDS, the rest idle authenticated node-postgres
 * sessions held open by a separate process (bench/idle-clients.ts). The gateway opens one
 * upstream PostgreSQL connection per session, so the embedded PostgreSQL gets
 * max_connections to match. Reported: sessions opened / failed (the bench fails unless
 * every one is served and the gateway and PostgreSQL both count them all at once), active
 * TPS and pgbench's failed count, gateway RSS before / with the idle sessions / with all /
 * after close, memory per idle session ((RSS with idle − RSS before) ÷ idle; target
 * ≤ 30 KiB, issue 8), the upstream backends in pg_stat_activity and their memory.
 *
 * Phase 2, TLS storm: a freshly started gateway with TLS (a self-signed ECDSA certificate
 * made with openssl) takes BENCH_STORM new TLS sessions at once, all with the same token,
 * each running one pgbench read (the bench policy refuses even SELECT 1) from
 * bench/sessions/storm-clients.ts, its own process. Reported: all succeeded, wall time
 * until all authenticated, p50/p99 connect+auth, JWKS requests that reached the dev IdP
 * during the storm (must be ≤ 1), the gateway's token verifications vs cache hits (≤ 1
 * verification), kernel listen-queue overflows, CPU used. The same storm straight at
 * PostgreSQL (plaintext) runs first as a baseline: every gateway session needs a backend.
 *
 * Instruments. JWKS requests are counted where they land: the dev IdP runs in this
 * process, and the `http.server.request.start` diagnostics channel sees each one. Token
 * verifications, cache hits, shared in-flight verifications and issuer key loads are the
 * gateway's own counters, scraped from its /metrics (bench/sessions/metrics.ts; the bench
 * fails if they are missing). A bench-only probe preloaded into the gateway
 * (bench/sessions/heap-probe.ts) runs a full GC on request, so memory figures count live
 * memory, not garbage.
 *
 * Both gateways: `portcullis serve`, the bench policy (bench/support/policy.ts), recording
 * on (the bench checks every session was recorded), an admin listener for /metrics.
 *
 * Env: BENCH_SESSIONS (5000), BENCH_ACTIVE (200), BENCH_SESSIONS_SECONDS (20),
 * BENCH_STORM (1000; 0 skips phase 2), BENCH_STORM_BASELINE (1; 0 skips the same storm
 * straight at PostgreSQL, plaintext, run first to show PostgreSQL's own share of the storm
 * time), BENCH_SESSIONS_SCALE (1, pgbench -i scale),
 * BENCH_SESSIONS_THREADS (2, pgbench -j), BENCH_SESSIONS_MODE (extended | simple),
 * BENCH_SESSIONS_OPEN_CONCURRENCY (64, idle sessions opened at a time), PGBENCH (binary).
 * Writes bench/out/sessions-<time>.md; under `npm run bench` reports its key figures.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/demo/embedded-postgres.js';
import { startDevIdp, type DevClient } from '../src/identity/dev-idp.js';
import { fetchAccessToken } from '../src/identity/token-client.js';
import type { Logger } from '../src/log.js';
import { intEnv } from './support/env.js';
import { openIdleSessions, settledRss, type IdleSessions } from './support/idle.js';
import { PGBENCH, pgbenchArgs, pgbenchCommand, parsePgbenchOutput, type Endpoint, type LoadSpec, type PgbenchResult, type QueryMode } from './support/pgbench.js';
import { benchPolicy } from './support/policy.js';
import { delay, machineBusyMs, pgEnv, processCpu, rssBytes, run } from './support/process.js';
import { reportFigures } from './support/report.js';
import { fmt, mb } from './support/table.js';
import { selfSignedCert, type SelfSignedCert } from './sessions/cert.js';
import { launchSessionsGateway, type SessionsGateway } from './sessions/gateway.js';
import { countsBetween, IdpRequestCounter, idpPaths } from './sessions/idp-requests.js';
import { gatewayCounts, tokensBetween } from './sessions/metrics.js';
import { collectedHeap, type ProbeHeap } from './sessions/probe.js';
import { listenCounters, listenQueue, openFilesLimit, peakRssBytes, processesMemory, sampleAcceptQueue } from './sessions/proc.js';
import { recordedCount } from './sessions/recorded.js';
import { renderSessionsReport } from './sessions/report.js';
import {
  idleCount,
  keyFigures,
  pgbenchClientFailures,
  sessionChecks,
  type ManySessionsResult,
  type PgbenchRun,
  type SessionCensus,
  type SessionsSettings,
  type StormResult,
} from './sessions/results.js';
import { prepareStorm, STORM_SQL, type StormChildResult } from './sessions/storm.js';
import { cleanupOnExit, progress, repoRoot } from './support/lifecycle.js';

// ---------------------------------------------------------------- settings

function modeEnv(name: string, fallback: QueryMode): QueryMode {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'simple' && raw !== 'extended') throw new Error(`${name} must be simple or extended, got ${JSON.stringify(raw)}`);
  return raw;
}

const settings: SessionsSettings = {
  sessions: intEnv('BENCH_SESSIONS', 5000, 1),
  active: intEnv('BENCH_ACTIVE', 200, 1),
  seconds: intEnv('BENCH_SESSIONS_SECONDS', 20, 2),
  storm: intEnv('BENCH_STORM', 1000, 0),
  stormBaseline: process.env['BENCH_STORM_BASELINE'] !== '0',
  scale: intEnv('BENCH_SESSIONS_SCALE', 1, 1),
  threads: intEnv('BENCH_SESSIONS_THREADS', 2, 1),
  mode: modeEnv('BENCH_SESSIONS_MODE', 'extended'),
  openConcurrency: intEnv('BENCH_SESSIONS_OPEN_CONCURRENCY', 64, 1),
};
const KNOBS = [
  'BENCH_SESSIONS', 'BENCH_ACTIVE', 'BENCH_SESSIONS_SECONDS', 'BENCH_STORM', 'BENCH_STORM_BASELINE', 'BENCH_SESSIONS_SCALE',
  'BENCH_SESSIONS_THREADS', 'BENCH_SESSIONS_MODE', 'BENCH_SESSIONS_OPEN_CONCURRENCY', 'PGBENCH',
] as const;

const DB = 'bench';
const DB_USER = 'bench_user';
const CONNECTION = 'bench';
const GROUP = 'agents';
const AUDIENCE = 'portcullis';
const AGENT_USER = 'agent';
const WARMUP_SESSIONS = 20;
/** Connections PostgreSQL needs beyond the gateway's: the bench's superuser pool, stragglers still exiting. */
const PG_HEADROOM = 50;
/** File descriptors a process needs beyond one per socket (libraries, SQLite, stdio). */
const FD_HEADROOM = 200;

// ---------------------------------------------------------------- plumbing

const here = path.dirname(fileURLToPath(import.meta.url));
const root = repoRoot(import.meta.url);
const cleanups = cleanupOnExit();
const cleanup = cleanups.run;
const say = progress('bench:sessions');

/** Keeps PostgreSQL's log lines that explain failures (embedded-postgres hands every line to the logger). */
function postgresLogKeeper(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (msg: string, fields?: Record<string, unknown>): void => {
    const line = msg === 'postgres' && typeof fields?.['line'] === 'string' ? fields['line'] : undefined;
    if (line === undefined || !/\b(FATAL|ERROR|PANIC|WARNING)\b|could not|out of memory|too many/i.test(line)) return;
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep, child: () => logger };
  return { logger, lines };
}

/** Fails before starting anything when this process (whose limits the gateway and clients inherit) cannot hold the sockets. */
function checkFileLimit(): string {
  const limit = openFilesLimit();
  const gatewayNeeds = 2 * Math.max(settings.sessions, settings.storm) + FD_HEADROOM;
  if (limit !== undefined && limit < gatewayNeeds) {
    throw new Error(
      `the open-files limit (ulimit -n) is ${limit}, but the gateway needs about ${gatewayNeeds} descriptors: one per client ` +
        `socket and one per upstream connection for ${Math.max(settings.sessions, settings.storm)} sessions, plus ${FD_HEADROOM}. ` +
        'Raise the limit (ulimit -n) or lower BENCH_SESSIONS / BENCH_STORM.',
    );
  }
  return limit === undefined ? 'unknown' : String(limit);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = new Date();
  if (settings.active > settings.sessions) throw new Error(`BENCH_ACTIVE (${settings.active}) must not exceed BENCH_SESSIONS (${settings.sessions})`);
  const fileLimit = checkFileLimit();
  const work = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-sessions-'));
  chmodSync(work, 0o755); // PostgreSQL runs as OS user postgres when we are root
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  say(`work dir ${work}; ${settings.sessions} sessions (${settings.active} active), storm ${settings.storm}`);
  const commands: string[] = [];

  // -- PostgreSQL, with room for one backend per gateway session
  const maxConnections = Math.max(settings.sessions, settings.storm) + PG_HEADROOM;
  const pgLog = postgresLogKeeper();
  const dataDir = path.join(work, 'pg');
  say('starting embedded PostgreSQL…');
  const first = await startEmbeddedPostgres({ dataDir, port: 0, persistent: true, logger: pgLog.logger });
  cleanups.push(() => first.stop());
  // max_connections needs a restart; startEmbeddedPostgres has no option for server settings.
  await first.query(`ALTER SYSTEM SET max_connections = ${maxConnections}`);
  await first.stop();
  const pgServer = await startEmbeddedPostgres({ dataDir, port: 0, persistent: false, logger: pgLog.logger });
  cleanups.push(() => pgServer.stop());
  const [versionRow] = await pgServer.query<{ version: string; max_connections: string }>(
    "SELECT version(), current_setting('max_connections') AS max_connections",
  );
  if (Number(versionRow?.max_connections) !== maxConnections) {
    throw new Error(`PostgreSQL runs with max_connections=${versionRow?.max_connections}, not the ${maxConnections} set`);
  }
  say(`PostgreSQL on 127.0.0.1:${pgServer.port}, max_connections=${maxConnections}`);

  const dbPassword = randomBytes(18).toString('base64url');
  await pgServer.query(`CREATE DATABASE ${DB}`);
  await pgServer.createRole(DB_USER, dbPassword, 'scram-sha-256');
  const initArgs = ['-i', '-s', String(settings.scale), '-h', '127.0.0.1', '-p', String(pgServer.port), '-U', pgServer.superuser, DB];
  commands.push(`PGPASSWORD=<superuser password> ${PGBENCH} ${initArgs.join(' ')}`);
  const init = await run(PGBENCH, initArgs, { env: pgEnv({ PGPASSWORD: pgServer.superuserPassword }) });
  if (init.code !== 0) throw new Error(`pgbench -i failed:\n${init.stderr}`);
  for (const sql of [
    `GRANT CONNECT ON DATABASE ${DB} TO ${DB_USER}`,
    `GRANT USAGE ON SCHEMA public TO ${DB_USER}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${DB_USER}`,
  ]) {
    await pgServer.query(sql, [], { database: DB });
  }

  // -- identity: the dev IdP in this process, so every request it serves can be counted
  const agent: DevClient = { clientId: 'bench-agent', clientSecret: randomBytes(18).toString('base64url'), groups: [GROUP] };
  const idp = await startDevIdp({ port: 0, clients: [agent], audience: AUDIENCE, accessTokenTtlSeconds: 2 * 3600 });
  cleanups.push(() => idp.close());
  const token = (await fetchAccessToken({ issuer: idp.issuer, clientId: agent.clientId, clientSecret: agent.clientSecret })).accessToken;
  const idpRequests = new IdpRequestCounter(Number(new URL(idp.issuer).port), await idpPaths(idp.issuer));
  cleanups.push(() => idpRequests.close());
  say(`dev IdP at ${idp.issuer} (JWKS at ${idpRequests.paths.jwks})`);

  const cert = await selfSignedCert(work);
  commands.push(cert.command);
  const policy = benchPolicy(root, GROUP);
  const gatewayOptions = (name: string) => ({
    root,
    work,
    name,
    targetPassword: dbPassword,
    issuer: idp.issuer,
    audience: AUDIENCE,
    connection: CONNECTION,
    target: { port: pgServer.port, database: DB, user: DB_USER },
    group: GROUP,
    policy,
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
  });

  // -- phase 1
  const gatewayOutput: Array<[string, string]> = [];
  const phase1 = await manySessions(gatewayOptions('gateway'), pgServer, idpRequests, token, commands, gatewayOutput);

  // -- phase 2
  let storm: StormResult | undefined;
  if (settings.storm > 0) {
    await backendsDrained(pgServer);
    let baseline: StormChildResult | undefined;
    if (settings.stormBaseline) {
      say(`baseline: ${settings.storm} plaintext sessions at once straight at PostgreSQL…`);
      const direct = await prepareStorm({ port: pgServer.port, database: DB, user: DB_USER, password: dbPassword, count: settings.storm, caFile: undefined });
      cleanups.push(() => direct.kill());
      commands.push(`node ${path.relative(root, direct.script)}   # baseline: ${settings.storm} plaintext sessions at once straight at PostgreSQL (${DB_USER})`);
      baseline = await direct.run();
      say(`baseline: ${baseline.succeeded} / ${baseline.requested} in ${fmt(baseline.allAuthenticatedMs / 1000, 2)} s`);
      await backendsDrained(pgServer);
    }
    storm = await tlsStorm(gatewayOptions('gateway-storm'), cert, idpRequests, token, commands, gatewayOutput, baseline);
  }

  // -- report
  const checks = sessionChecks(settings, phase1.result, storm);
  const figures = keyFigures(settings, phase1.result, storm);
  reportFigures({ bench: 'bench:sessions', command: reproduce(), figures });
  const report = renderSessionsReport({
    started,
    settings,
    reproduce: reproduce(),
    machine: await machineRows(versionRow?.version ?? 'unknown', fileLimit),
    maxConnections,
    many: phase1.result,
    storm,
    stormSql: STORM_SQL,
    cert: cert.description,
    checks,
    figures,
    commands,
    configText: phase1.configText,
    gatewayOutput,
    postgresLog: pgLog.lines,
  });
  const outDir = path.join(root, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `sessions-${started.toISOString().replace(/[:.]/g, '-')}.md`);
  writeFileSync(file, report);
  process.stdout.write(`\n${report}\n`);
  say(`report written to ${path.relative(process.cwd(), file)}`);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) throw new Error(`${failed.length} check(s) failed:\n${failed.map((c) => `  ${c.name}: ${c.detail}`).join('\n')}`);
}

// ---------------------------------------------------------------- phase 1

type GatewayOptions = Parameters<typeof launchSessionsGateway>[0];


/** A phase's own gateway, stopped (once) by the phase or by the clean-up on exit. */
async function startPhaseGateway(options: Parameters<typeof launchSessionsGateway>[0]) {
  const gw = await launchSessionsGateway(options);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await gw.process.service.stop(30_000);
  };
  cleanups.push(stop);
  return { gw, stop, pid: gw.process.service.pid };
}
async function manySessions(
  options: GatewayOptions,
  pgServer: EmbeddedPostgres,
  idpRequests: IdpRequestCounter,
  token: string,
  commands: string[],
  gatewayOutput: Array<[string, string]>,
): Promise<{ result: ManySessionsResult; configText: string }> {
  const idle = idleCount(settings);
  const idpAtStart = idpRequests.snapshot();
  const { gw, stop, pid } = await startPhaseGateway(options);
  commands.push(`${gw.process.command}   # phase 1 (--expose-gc and --import: the bench's heap probe, bench/sessions/heap-probe.ts)`);
  say(`phase 1: gateway on 127.0.0.1:${gw.process.port} (pid ${pid}), admin on ${gw.adminPort}`);

  const script = path.join(here, 'idle-clients.js');
  const clientOptions = { script, port: gw.process.port, database: CONNECTION, user: AGENT_USER, token, concurrency: settings.openConcurrency };
  commands.push(`node ${path.relative(root, script)}   # ${idle} idle node-postgres sessions, IDLE_* env, forked with IPC`);

  // Warm-up: keys fetched, token verified, code paths compiled, lazily built state created.
  const warm = await openIdleSessions({ ...clientOptions, count: WARMUP_SESSIONS });
  await warm.close();
  if (warm.opened !== WARMUP_SESSIONS) throw new Error(`warm-up: only ${warm.opened} of ${WARMUP_SESSIONS} sessions opened (${warm.firstError ?? 'no error reported'})`);
  const before = await settledMemory(gw, 2_000);
  const rssBefore = before.rss;

  say(`opening ${idle} idle sessions, ${settings.openConcurrency} at a time…`);
  const t0 = Date.now();
  let sessions: IdleSessions | undefined;
  if (idle > 0) {
    sessions = await openIdleSessions({ ...clientOptions, count: idle }, 900_000);
    const held = sessions;
    cleanups.push(() => held.close());
  }
  const openSeconds = (Date.now() - t0) / 1000;
  const idleOpened = sessions?.opened ?? 0;
  say(`idle: ${idleOpened} / ${idle} open in ${fmt(openSeconds, 1)} s${sessions?.failed ? `, ${sessions.failed} failed (${sessions.firstError})` : ''}`);

  const withIdle = await settledMemory(gw, 3_000);
  const idleRss = withIdle.rss;
  const idleCensus: SessionCensus = { rss: idleRss, ...(await sessionCount(gw, pgServer)) };
  const pgBackends = processesMemory(await backendPids(pgServer));
  say(`with idle sessions: RSS ${mb(rssBefore)} → ${mb(idleRss)}; gateway relaying ${idleCensus.gatewaySessions}, upstream backends ${idleCensus.upstreamBackends}`);

  // -- the active clients, with the idle ones held open
  const endpoint: Endpoint = { name: 'portcullis', port: gw.process.port, user: AGENT_USER, database: CONNECTION, password: token, passwordLabel: '<access token>' };
  const load: LoadSpec = { mode: settings.mode, clients: settings.active, threads: Math.min(settings.threads, settings.active), seconds: settings.seconds };
  const command = pgbenchCommand(endpoint, load);
  commands.push(command);
  say(`pgbench: ${settings.active} clients for ${settings.seconds} s with ${idleOpened} idle sessions open…`);
  const pgbenchDone = run(PGBENCH, pgbenchArgs(endpoint, load), { env: pgEnv({ PGPASSWORD: token }) });
  let finished = false;
  const done = (): void => {
    finished = true;
  };
  pgbenchDone.then(done, done);
  const all = await censusWhileRunning(gw, pgServer, () => finished);
  const out = await pgbenchDone;
  const pgbench = pgbenchRun(command, out);
  say(
    `pgbench: ${pgbench.result ? `${fmt(pgbench.result.tps)} TPS, ${pgbench.result.failed} failed` : `no result (exit ${out.code ?? out.signal})`}` +
      `; all open: ${all ? `gateway ${all.gatewaySessions}, upstream ${all.upstreamBackends}, RSS ${mb(all.rss)}` : 'not observed'}`,
  );

  const { authFailures, tokens } = await gatewayCounts(gw.adminPort);
  await sessions?.close();
  const afterClose = await settledMemory(gw, 3_000);
  const rssAfterClose = afterClose.rss;
  const rssPeak = peakRssBytes(pid);
  await stop();
  gatewayOutput.push(['phase 1 gateway', gw.process.service.output()]);
  const idp = countsBetween(idpAtStart, idpRequests.snapshot());
  const recorded = await recordedCount(root, gw.dataDir);
  say(`phase 1 done: RSS after close ${mb(rssAfterClose)}, peak ${mb(rssPeak)}; IdP served ${idp.jwks} JWKS request(s)`);

  return {
    configText: gw.configText,
    result: {
      idleRequested: idle,
      idleOpened,
      idleFailed: sessions?.failed ?? 0,
      idleFirstError: sessions?.firstError,
      openSeconds,
      warmupSessions: WARMUP_SESSIONS,
      rssBefore,
      idle: idleCensus,
      all,
      rssAfterClose,
      rssPeak,
      heap: { before: before.heap, idle: withIdle.heap, afterClose: afterClose.heap },
      pgBackends,
      pgbench,
      authFailures,
      idp,
      tokens,
      recorded,
    },
  };
}

/**
 * After `settleMs` (sessions that just closed finish closing: recording their end, ending
 * their upstream connection), a full GC in the gateway through its probe, then its RSS:
 * garbage and in-flight work are not counted as session memory.
 */
async function settledMemory(gw: SessionsGateway, settleMs: number): Promise<{ rss: number; heap: ProbeHeap | undefined }> {
  const pid = gw.process.service.pid;
  await delay(settleMs);
  const heap = await collectedHeap(gw.configFile, pid);
  if (heap === undefined || !heap.collected) say('warning: the gateway did not collect garbage on request; RSS includes garbage');
  return { rss: await settledRss(pid, 1_000), heap };
}

/** The gateway's and PostgreSQL's count of the sessions. */
async function sessionCount(gw: SessionsGateway, pgServer: EmbeddedPostgres): Promise<Omit<SessionCensus, 'rss'>> {
  const [{ sessionsActive }, [row]] = await Promise.all([
    gatewayCounts(gw.adminPort),
    pgServer.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1 AND datname = $2', [DB_USER, DB]),
  ]);
  return { gatewaySessions: sessionsActive, upstreamBackends: Number(row?.n ?? NaN) };
}

async function backendPids(pgServer: EmbeddedPostgres): Promise<number[]> {
  const rows = await pgServer.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE usename = $1 AND datname = $2', [DB_USER, DB]);
  return rows.map((r) => r.pid);
}

/**
 * Every session open at once, seen by the gateway and PostgreSQL while pgbench runs: polled
 * from 1 s in until both count them all (or 3/4 of the run has passed), then one census.
 */
async function censusWhileRunning(gw: SessionsGateway, pgServer: EmbeddedPostgres, finished: () => boolean): Promise<SessionCensus | undefined> {
  const t0 = Date.now();
  const deadline = t0 + settings.seconds * 750;
  await delay(1_000);
  let last: SessionCensus | undefined;
  while (!finished()) {
    const rss = rssBytes(gw.process.service.pid);
    last = { rss, ...(await sessionCount(gw, pgServer)) };
    if ((last.gatewaySessions >= settings.sessions && last.upstreamBackends >= settings.sessions) || Date.now() > deadline) return last;
    await delay(500);
  }
  return last;
}

function pgbenchRun(command: string, out: { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }): PgbenchRun {
  let result: PgbenchResult | undefined;
  try {
    result = parsePgbenchOutput(out.stdout);
  } catch {
    result = undefined;
  }
  const clean = out.code === 0 && result !== undefined && result.failed === 0;
  const tail = (out.stderr || out.stdout).trim().split('\n').slice(-12).join('\n');
  return {
    command,
    exitCode: out.code,
    result,
    // A non-zero exit that names no client still counts as one failure: never silent.
    clientFailures: Math.max(pgbenchClientFailures(out.stderr), out.code === 0 ? 0 : 1),
    problem: clean ? undefined : tail || `exit ${out.code ?? out.signal}`,
  };
}

/** Phase 2 needs the backends of phase 1 gone: max_connections is sized for one phase at a time. */
async function backendsDrained(pgServer: EmbeddedPostgres): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [row] = await pgServer.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1', [DB_USER]);
    const n = Number(row?.n ?? 0);
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} upstream backends of phase 1 are still there 60 s after its gateway stopped`);
    await delay(250);
  }
}

// ---------------------------------------------------------------- phase 2

async function tlsStorm(
  options: GatewayOptions,
  cert: SelfSignedCert,
  idpRequests: IdpRequestCounter,
  token: string,
  commands: string[],
  gatewayOutput: Array<[string, string]>,
  baseline: StormChildResult | undefined,
): Promise<StormResult> {
  const idpAtStart = idpRequests.snapshot();
  const { gw, stop, pid } = await startPhaseGateway(options);
  commands.push(`${gw.process.command}   # phase 2, fresh (cold) gateway, same config with its own ports and data_dir`);
  say(`phase 2: fresh gateway on 127.0.0.1:${gw.process.port} (pid ${pid}); ${settings.storm} TLS sessions at once…`);

  const storm = await prepareStorm({ port: gw.process.port, database: CONNECTION, user: AGENT_USER, password: token, count: settings.storm, caFile: cert.certFile });
  cleanups.push(() => storm.kill());
  commands.push(`node ${path.relative(root, storm.script)}   # ${settings.storm} node-postgres TLS sessions at once, STORM_* env, forked with IPC`);
  await delay(500);
  const rssBefore = rssBytes(pid);
  const tokensBefore = (await gatewayCounts(gw.adminPort)).tokens;
  const idpBefore = idpRequests.snapshot();
  const listenBefore = listenCounters();
  const cpuBefore = processCpu(pid);
  const busyBefore = machineBusyMs();
  const sampler = sampleAcceptQueue(gw.process.port);
  let clients: StormChildResult;
  try {
    clients = await storm.run();
  } finally {
    sampler.stop();
  }
  const acceptQueue = sampler.stop();
  const busyAfter = machineBusyMs();
  const cpuAfter = processCpu(pid);
  const listenAfter = listenCounters();
  const queue = await listenQueue(gw.process.port);
  const idpAfter = idpRequests.snapshot();
  // Sessions end asynchronously after the clients' Terminate: give the gateway a moment.
  let counts = await gatewayCounts(gw.adminPort);
  for (let i = 0; i < 50 && counts.sessionsActive > 0; i++) {
    await delay(100);
    counts = await gatewayCounts(gw.adminPort);
  }
  const rssAfter = rssBytes(pid);
  const rssPeak = peakRssBytes(pid);
  await stop();
  gatewayOutput.push(['phase 2 gateway (storm)', gw.process.service.output()]);
  const recorded = await recordedCount(root, gw.dataDir);
  say(
    `storm: ${clients.succeeded} / ${clients.requested} in ${fmt(clients.allAuthenticatedMs / 1000, 2)} s; ` +
      `IdP served ${idpAfter.jwks - idpBefore.jwks} JWKS request(s) during it`,
  );
  return {
    clients,
    baseline,
    idpBefore: countsBetween(idpAtStart, idpBefore),
    idpDuring: countsBetween(idpBefore, idpAfter),
    tokens: tokensBetween(tokensBefore, counts.tokens),
    listenQueue: queue,
    acceptQueue,
    gatewayCpuMs: cpuAfter.userMs + cpuAfter.systemMs - cpuBefore.userMs - cpuBefore.systemMs,
    machineBusyMs: busyAfter - busyBefore,
    listen: listenBefore && listenAfter ? { overflows: listenAfter.overflows - listenBefore.overflows, drops: listenAfter.drops - listenBefore.drops } : undefined,
    authFailures: counts.authFailures,
    gatewaySessionsAfter: counts.sessionsActive,
    rssBefore,
    rssPeak,
    rssAfter,
    recorded,
  };
}

// ---------------------------------------------------------------- report bits

function reproduce(): string {
  const vars = KNOBS.filter((v) => process.env[v] !== undefined && process.env[v] !== '').map((v) => `${v}=${process.env[v]}`);
  return [...vars, 'npm run bench:sessions'].join(' ');
}

async function machineRows(pgVersion: string, fileLimit: string): Promise<Array<[string, string]>> {
  const cpus = os.cpus();
  const pgbench = await run(PGBENCH, ['--version']).then((r) => r.stdout.trim(), () => 'unknown');
  const sysctl = (file: string): string => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  };
  return [
    ['CPU', `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`],
    ['Memory', `${fmt(os.totalmem() / 2 ** 30, 1)} GiB`],
    ['OS', `${os.type()} ${os.release()} (${os.arch()})`],
    ['Node.js', process.version],
    ['PostgreSQL', pgVersion],
    ['pgbench', pgbench],
    ['Open files limit (ulimit -n)', fileLimit],
    ['net.core.somaxconn', sysctl('/proc/sys/net/core/somaxconn')],
    ['Load average 1/5/15 min (at the end)', os.loadavg().map((x) => x.toFixed(2)).join(' / ')],
  ];
}

main().then(
  () => cleanup(),
  async (error: unknown) => {
    if (cleanups.interrupted()) return;
    console.error(`bench:sessions failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
    await cleanup();
  },
);
