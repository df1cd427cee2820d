/**
 * What bench:sessions measured, the checks that decide whether the run holds (every
 * session served, no errors, verification cached, JWKS fetched at most once), and the key
 * figures it reports. Pure: sessions.ts gathers, this judges.
 */
import type { Figure } from '../support/report.js';
import type { PgbenchResult, QueryMode } from '../support/pgbench.js';
import type { IdpCounts } from './idp-requests.js';
import type { ListenCounters, ListenQueue, ProcessesMemory } from './proc.js';
import type { TokenCounts } from './metrics.js';
import type { ProbeHeap } from './probe.js';
import { distribution, kibPerSession } from './stats.js';
import type { StormChildResult } from './storm.js';

/** Issue 8: memory per idle session. */
export const TARGET_IDLE_KIB = 30;
/** The issue the targets come from (many sessions, memory per idle session). */
export const ISSUE = '8';

export interface SessionsSettings {
  /** Concurrent client sessions in phase 1, active ones included. */
  readonly sessions: number;
  /** Of those, pgbench clients running queries. */
  readonly active: number;
  readonly seconds: number;
  /** TLS sessions in the storm; 0 skips phase 2. */
  readonly storm: number;
  /** Also storm PostgreSQL directly (plaintext), to tell the gateway's share of the storm time from PostgreSQL's. */
  readonly stormBaseline: boolean;
  readonly scale: number;
  readonly threads: number;
  readonly mode: QueryMode;
  /** Idle sessions opened at a time. */
  readonly openConcurrency: number;
}

export function idleCount(s: SessionsSettings): number {
  return s.sessions - s.active;
}

export interface PgbenchRun {
  readonly command: string;
  readonly exitCode: number | null;
  /** Undefined when pgbench printed no summary. */
  readonly result: PgbenchResult | undefined;
  /** Clients pgbench could not connect or that aborted (from its stderr). */
  readonly clientFailures: number;
  /** pgbench's last words when it did not run clean. */
  readonly problem: string | undefined;
}

/** How many sessions exist at one moment, seen three ways. */
export interface SessionCensus {
  /** Gateway RSS, bytes (settled median for the idle census). */
  readonly rss: number;
  /** portcullis_sessions_active: what the gateway says it relays. */
  readonly gatewaySessions: number;
  /** The bench role's backends in pg_stat_activity: one per relayed session. */
  readonly upstreamBackends: number;
}

export type RecordedCount =
  | { readonly ok: true; readonly sessions: number; readonly statements: number; readonly endedBy: Readonly<Record<string, number>> }
  | { readonly ok: false; readonly problem: string };

export interface ManySessionsResult {
  readonly idleRequested: number;
  readonly idleOpened: number;
  readonly idleFailed: number;
  readonly idleFirstError: string | undefined;
  readonly openSeconds: number;
  /** Sessions opened (and closed) before measuring, so lazily built state exists. */
  readonly warmupSessions: number;
  readonly rssBefore: number;
  /** With the idle sessions only, settled. */
  readonly idle: SessionCensus;
  /** Halfway through pgbench: every session; undefined when pgbench failed before. */
  readonly all: SessionCensus | undefined;
  readonly rssAfterClose: number;
  /** The gateway's VmHWM at the end of phase 1. */
  readonly rssPeak: number;
  /** The gateway's live heap after a full GC, at the three settled moments (undefined: the probe did not answer). */
  readonly heap: { readonly before: ProbeHeap | undefined; readonly idle: ProbeHeap | undefined; readonly afterClose: ProbeHeap | undefined };
  /** PostgreSQL's side: the upstream backends' summed PSS with the idle sessions open. */
  readonly pgBackends: ProcessesMemory | undefined;
  readonly pgbench: PgbenchRun;
  readonly authFailures: number;
  /** Requests the dev IdP served over this gateway's life. */
  readonly idp: IdpCounts;
  /** The token verifier over this gateway's life (its /metrics). */
  readonly tokens: TokenCounts;
  readonly recorded: RecordedCount;
}

export interface StormResult {
  readonly clients: StormChildResult;
  /** The same storm straight at PostgreSQL (plaintext, the target's own credentials), before the gateway's. */
  readonly baseline: StormChildResult | undefined;
  /** IdP requests from the storm gateway's start until the storm began (a cold gateway fetches nothing). */
  readonly idpBefore: IdpCounts;
  readonly idpDuring: IdpCounts;
  /** The token verifier during the storm (its /metrics before and after). */
  readonly tokens: TokenCounts;
  /** Machine-wide listen-queue drops during the storm; undefined where the kernel has no such counters. */
  readonly listen: ListenCounters | undefined;
  /** The gateway listener's accept queue limit (from ss). */
  readonly listenQueue: ListenQueue | undefined;
  /** The deepest the gateway's accept queue got during the storm (sampled from /proc/net/tcp), and how many samples. */
  readonly acceptQueue: { readonly deepest: number; readonly samples: number };
  /** CPU the gateway process used during the storm (user + system), ms. */
  readonly gatewayCpuMs: number;
  /** CPU the whole machine used during the storm, all cores, ms (PostgreSQL's backends included). */
  readonly machineBusyMs: number;
  readonly authFailures: number;
  /** portcullis_sessions_active once every storm client has closed. */
  readonly gatewaySessionsAfter: number;
  readonly rssBefore: number;
  readonly rssPeak: number;
  readonly rssAfter: number;
  readonly recorded: RecordedCount;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Everything that must hold for the run's figures to mean what they say; the bench fails on any that does not. */
export function sessionChecks(s: SessionsSettings, many: ManySessionsResult, storm: StormResult | undefined): Check[] {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
  };
  add(
    'every idle session opened',
    many.idleOpened === many.idleRequested && many.idleFailed === 0,
    `${many.idleOpened} / ${many.idleRequested} opened, ${many.idleFailed} failed${many.idleFirstError ? ` (first error: ${many.idleFirstError})` : ''}`,
  );
  const pgb = many.pgbench;
  add(
    'pgbench ran clean through the gateway',
    pgb.exitCode === 0 && pgb.result !== undefined && pgb.result.failed === 0 && pgb.result.transactions > 0 && pgb.clientFailures === 0,
    pgb.result === undefined
      ? `exit ${pgb.exitCode ?? 'signal'}, no summary: ${pgb.problem ?? 'no output'}`
      : `exit ${pgb.exitCode ?? 'signal'}, ${pgb.result.transactions} transactions, ${pgb.result.failed} failed, ${pgb.clientFailures} clients failed${pgb.problem ? `: ${pgb.problem}` : ''}`,
  );
  add(
    `all ${s.sessions} sessions open at once`,
    many.all !== undefined && many.all.gatewaySessions === s.sessions && many.all.upstreamBackends === s.sessions,
    many.all === undefined
      ? 'not observed (pgbench did not run)'
      : `halfway through pgbench: gateway relaying ${many.all.gatewaySessions}, upstream backends ${many.all.upstreamBackends}`,
  );
  add(
    'idle census agrees',
    many.idle.gatewaySessions === many.idleOpened && many.idle.upstreamBackends === many.idleOpened,
    `with the idle sessions: gateway relaying ${many.idle.gatewaySessions}, upstream backends ${many.idle.upstreamBackends}, clients hold ${many.idleOpened}`,
  );
  add('no connection refused (phase 1)', many.authFailures === 0, `portcullis_auth_failures_total: ${many.authFailures}`);
  const servedPhase1 = many.warmupSessions + many.idleOpened + s.active;
  add(
    'every session recorded (phase 1)',
    many.recorded.ok && many.recorded.sessions >= servedPhase1 && many.recorded.statements >= (pgb.result?.transactions ?? 0),
    many.recorded.ok
      ? `${many.recorded.sessions} sessions (≥ ${servedPhase1} expected), ${many.recorded.statements} statements (≥ ${pgb.result?.transactions ?? 0} pgbench transactions)`
      : many.recorded.problem,
  );
  if (storm === undefined) return checks;

  const c = storm.clients;
  add(
    'every storm session succeeded',
    c.succeeded === c.requested && c.failed === 0,
    `${c.succeeded} / ${c.requested} connected over TLS, authenticated and read their row; ${c.failed} failed${
      Object.keys(c.errors).length > 0 ? ` (${Object.entries(c.errors).map(([m, n]) => `${n}× ${m}`).join('; ')})` : ''
    }`,
  );
  add('JWKS fetched at most once in the storm', storm.idpDuring.jwks <= 1, `${storm.idpDuring.jwks} JWKS and ${storm.idpDuring.discovery} discovery requests reached the IdP during the storm`);
  const t = storm.tokens;
  add(
    'token verified at most once in the storm',
    verifications(t) <= 1 && t.presented >= c.succeeded,
    `${verifications(t)} verifications (${t.verified} accepted, ${t.refused} refused) for ${t.presented} presentations of one token ` +
      `(${t.cached} cache hits, ${t.shared} shared an in-flight verification; ${c.succeeded} sessions succeeded)`,
  );
  add('no connection refused (storm)', storm.authFailures === 0, `portcullis_auth_failures_total: ${storm.authFailures}`);
  add('storm sessions all ended', storm.gatewaySessionsAfter === 0, `portcullis_sessions_active after the storm: ${storm.gatewaySessionsAfter}`);
  add(
    'every storm session recorded',
    storm.recorded.ok && storm.recorded.sessions >= c.succeeded,
    storm.recorded.ok ? `${storm.recorded.sessions} sessions recorded (≥ ${c.succeeded} expected)` : storm.recorded.problem,
  );
  return checks;
}

/**
 * Verifications the token verifier ran or refused: an upper bound on full verifications
 * (a refusal may come before one, e.g. for an oversized token).
 */
export function verifications(t: TokenCounts): number {
  return t.verified + t.refused;
}

/** Sessions of phase 1 that were not served: idle ones that failed to open plus pgbench clients that failed. */
export function sessionsFailed(many: ManySessionsResult): number {
  return many.idleRequested - many.idleOpened + many.pgbench.clientFailures;
}

export function idleKib(many: ManySessionsResult): number {
  return kibPerSession(many.rssBefore, many.idle.rss, many.idleOpened);
}

/**
 * Live JS heap each idle session added after a full GC, in KiB; NaN when unmeasured.
 * The heap alone: V8's "external" also counts the SQL parser's WebAssembly memory, which
 * is reserved up front and moves with neither sessions nor RSS.
 */
export function idleLiveKib(many: ManySessionsResult): number {
  const { before, idle } = many.heap;
  if (before === undefined || idle === undefined || !before.collected || !idle.collected) return NaN;
  return kibPerSession(before.heapUsed, idle.heapUsed, many.idleOpened);
}

/** The figures `npm run bench` puts in bench/RESULTS.md. */
export function keyFigures(s: SessionsSettings, many: ManySessionsResult, storm: StormResult | undefined): Figure[] {
  const sessions = s.sessions.toLocaleString('en-US');
  const figures: Figure[] = [
    { name: `memory per idle session (${many.idleOpened.toLocaleString('en-US')} idle, ${sessions} sessions)`, value: idleKib(many), unit: 'KiB', target: { op: '<=', value: TARGET_IDLE_KIB }, issue: ISSUE },
    { name: `sessions failed (of ${sessions} concurrent)`, value: sessionsFailed(many), unit: '', target: { op: '<=', value: 0 }, issue: ISSUE },
    {
      name: `pgbench -S -M ${s.mode} -c ${s.active} TPS with ${sessions} sessions open`,
      value: many.pgbench.result?.tps ?? NaN,
      unit: 'TPS',
    },
  ];
  if (storm !== undefined) {
    const n = storm.clients.requested.toLocaleString('en-US');
    figures.push(
      { name: `TLS storm: sessions failed (of ${n} at once)`, value: storm.clients.requested - storm.clients.succeeded, unit: '', target: { op: '<=', value: 0 }, issue: ISSUE },
      { name: `TLS storm: JWKS fetches during ${n} new sessions`, value: storm.idpDuring.jwks, unit: '', target: { op: '<=', value: 1 }, issue: ISSUE },
      { name: `TLS storm: token verifications during ${n} new sessions`, value: verifications(storm.tokens), unit: '', target: { op: '<=', value: 1 }, issue: ISSUE },
      { name: `TLS storm: seconds until all ${n} authenticated`, value: storm.clients.allAuthenticatedMs / 1000, unit: 's' },
      { name: `TLS storm: p99 connect + TLS + auth`, value: distribution(storm.clients.connectMs).p99, unit: 'ms' },
    );
    if (storm.baseline !== undefined) {
      figures.push({ name: `storm baseline: seconds until all ${n} authenticated, PostgreSQL directly (plaintext)`, value: storm.baseline.allAuthenticatedMs / 1000, unit: 's' });
    }
  }
  return figures;
}

/** Clients pgbench could not connect or that aborted, counted from its stderr. */
export function pgbenchClientFailures(stderr: string): number {
  const clients = new Set<string>();
  for (const m of stderr.matchAll(/client (\d+) aborted|could not create connection for client (\d+)|connection for client (\d+) failed/g)) {
    clients.add(m[1] ?? m[2] ?? m[3]!);
  }
  // "could not create connection for initialization" etc. name no client: count one so it is not silent.
  if (clients.size === 0 && /could not create connection|connection to server .* failed/.test(stderr)) return 1;
  return clients.size;
}
