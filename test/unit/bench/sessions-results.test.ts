/** bench:sessions' judgement: the checks that fail the run, the key figures, pgbench's failures, the report. */
import { describe, expect, it } from 'vitest';
import { targetMet } from '../../../bench/support/report.js';
import { renderSessionsReport } from '../../../bench/sessions/report.js';
import {
  idleLiveKib,
  keyFigures,
  pgbenchClientFailures,
  sessionChecks,
  sessionsFailed,
  type ManySessionsResult,
  type SessionsSettings,
  type StormResult,
} from '../../../bench/sessions/results.js';
import type { StormChildResult } from '../../../bench/sessions/storm.js';
import type { TokenCounts } from '../../../bench/sessions/metrics.js';
import type { ProbeHeap } from '../../../bench/sessions/probe.js';

const MiB = 1024 * 1024;

const SETTINGS: SessionsSettings = { sessions: 5000, active: 200, seconds: 20, storm: 1000, stormBaseline: true, scale: 1, threads: 2, mode: 'extended', openConcurrency: 64 };

function heap(heapUsed: number, external: number, collected = true): ProbeHeap {
  return { seq: 1, collected, heapUsed, heapTotal: heapUsed * 2, external, arrayBuffers: external / 2, rss: 0 };
}

function tokens(over: Partial<TokenCounts> = {}): TokenCounts {
  return { presented: 1000, cached: 900, shared: 99, verified: 1, refused: 0, keyLoads: 1, keyLoadsFailed: 0, verifiedSeconds: 0.3, ...over };
}

function many(over: Partial<ManySessionsResult> = {}): ManySessionsResult {
  return {
    idleRequested: 4800,
    idleOpened: 4800,
    idleFailed: 0,
    idleFirstError: undefined,
    openSeconds: 40,
    warmupSessions: 20,
    rssBefore: 140 * MiB,
    idle: { rss: 140 * MiB + 4800 * 20 * 1024, gatewaySessions: 4800, upstreamBackends: 4800 },
    all: { rss: 250 * MiB, gatewaySessions: 5000, upstreamBackends: 5000 },
    rssAfterClose: 200 * MiB,
    rssPeak: 260 * MiB,
    heap: { before: heap(60 * MiB, 150 * MiB), idle: heap(60 * MiB + 4800 * 12 * 1024, 149 * MiB), afterClose: heap(61 * MiB, 150 * MiB) },
    pgBackends: { count: 4800, pssBytes: 4800 * 1.2 * MiB },
    pgbench: { command: 'pgbench …', exitCode: 0, result: { tps: 3000, latencyMs: 60, transactions: 60000, failed: 0 }, clientFailures: 0, problem: undefined },
    authFailures: 0,
    idp: { discovery: 1, jwks: 1, token: 0, other: 0 },
    tokens: tokens({ presented: 5020, cached: 5000, shared: 19, verifiedSeconds: 0.04 }),
    recorded: { ok: true, sessions: 5020, statements: 120000, endedBy: { client: 5020 } },
    ...over,
  };
}

function clients(over: Partial<StormChildResult> = {}): StormChildResult {
  return {
    requested: 1000,
    connectMs: Array.from({ length: 1000 }, (_, i) => i + 1),
    queryMs: Array.from({ length: 1000 }, () => 2),
    succeeded: 1000,
    failed: 0,
    errors: {},
    tlsProtocols: { 'TLSv1.3': 1000 },
    tlsCiphers: { TLS_AES_256_GCM_SHA384: 1000 },
    allAuthenticatedMs: 4200,
    allClosedMs: 4500,
    launchMs: 80,
    cpuMs: 900,
    ...over,
  };
}

function storm(over: Partial<StormResult> = {}): StormResult {
  return {
    clients: clients(),
    baseline: clients({ allAuthenticatedMs: 3000, tlsProtocols: {}, tlsCiphers: {} }),
    idpBefore: { discovery: 0, jwks: 0, token: 0, other: 0 },
    idpDuring: { discovery: 1, jwks: 1, token: 0, other: 0 },
    tokens: tokens(),
    listen: { overflows: 0, drops: 0 },
    listenQueue: { queued: 0, backlog: 511 },
    acceptQueue: { deepest: 511, samples: 400 },
    gatewayCpuMs: 3000,
    machineBusyMs: 8000,
    authFailures: 0,
    gatewaySessionsAfter: 0,
    rssBefore: 130 * MiB,
    rssPeak: 220 * MiB,
    rssAfter: 180 * MiB,
    recorded: { ok: true, sessions: 1000, statements: 1000, endedBy: { client: 999, upstream: 1 } },
    ...over,
  };
}

const failing = (checks: ReturnType<typeof sessionChecks>): string[] => checks.filter((c) => !c.ok).map((c) => c.name);

describe('sessionChecks', () => {
  it('passes a clean run', () => {
    expect(failing(sessionChecks(SETTINGS, many(), storm()))).toEqual([]);
  });

  it('fails when an idle session did not open, and says why', () => {
    const checks = sessionChecks(SETTINGS, many({ idleOpened: 4790, idleFailed: 10, idleFirstError: 'sorry, too many clients already' }), storm());
    expect(failing(checks)).toContain('every idle session opened');
    expect(checks.find((c) => c.name === 'every idle session opened')!.detail).toContain('sorry, too many clients already');
  });

  it('fails on failed pgbench transactions, a non-zero exit or a failed client', () => {
    const base = many().pgbench;
    expect(failing(sessionChecks(SETTINGS, many({ pgbench: { ...base, result: { ...base.result!, failed: 3 } } }), storm()))).toContain('pgbench ran clean through the gateway');
    expect(failing(sessionChecks(SETTINGS, many({ pgbench: { ...base, exitCode: 2 } }), storm()))).toContain('pgbench ran clean through the gateway');
    expect(failing(sessionChecks(SETTINGS, many({ pgbench: { ...base, clientFailures: 1 } }), storm()))).toContain('pgbench ran clean through the gateway');
    expect(failing(sessionChecks(SETTINGS, many({ pgbench: { ...base, result: undefined, problem: 'boom' } }), storm()))).toContain('pgbench ran clean through the gateway');
  });

  it('fails unless the gateway and PostgreSQL both saw every session at once', () => {
    expect(failing(sessionChecks(SETTINGS, many({ all: { rss: 1, gatewaySessions: 4999, upstreamBackends: 5000 } }), storm()))).toContain('all 5000 sessions open at once');
    expect(failing(sessionChecks(SETTINGS, many({ all: { rss: 1, gatewaySessions: 5000, upstreamBackends: 4998 } }), storm()))).toContain('all 5000 sessions open at once');
    expect(failing(sessionChecks(SETTINGS, many({ all: undefined }), storm()))).toContain('all 5000 sessions open at once');
  });

  it('fails when fewer sessions or statements were recorded than served', () => {
    expect(failing(sessionChecks(SETTINGS, many({ recorded: { ok: true, sessions: 5019, statements: 120000, endedBy: {} } }), storm()))).toContain('every session recorded (phase 1)');
    expect(failing(sessionChecks(SETTINGS, many({ recorded: { ok: true, sessions: 5020, statements: 59999, endedBy: {} } }), storm()))).toContain('every session recorded (phase 1)');
    expect(failing(sessionChecks(SETTINGS, many({ recorded: { ok: false, problem: 'no recordings' } }), storm()))).toContain('every session recorded (phase 1)');
  });

  it('fails the storm on a failed session, a second JWKS fetch, a second verification, or counts that missed the storm', () => {
    expect(failing(sessionChecks(SETTINGS, many(), storm({ clients: clients({ succeeded: 999, failed: 1, errors: { 'timeout expired': 1 } }) })))).toEqual(['every storm session succeeded']);
    expect(failing(sessionChecks(SETTINGS, many(), storm({ idpDuring: { discovery: 1, jwks: 2, token: 0, other: 0 } })))).toEqual(['JWKS fetched at most once in the storm']);
    expect(failing(sessionChecks(SETTINGS, many(), storm({ tokens: tokens({ shared: 98, verified: 2 }) })))).toEqual(['token verified at most once in the storm']);
    expect(failing(sessionChecks(SETTINGS, many(), storm({ tokens: tokens({ shared: 98, refused: 1 }) })))).toEqual(['token verified at most once in the storm']);
    // Fewer presentations than sessions served: the counters did not see the storm (not wired, or another gateway's).
    const checks = sessionChecks(SETTINGS, many(), storm({ tokens: tokens({ presented: 0, cached: 0, shared: 0, verified: 0 }) }));
    expect(failing(checks)).toEqual(['token verified at most once in the storm']);
    expect(checks.find((c) => !c.ok)!.detail).toContain('0 presentations of one token');
  });

  it('leaves the storm out when it was skipped', () => {
    const checks = sessionChecks({ ...SETTINGS, storm: 0 }, many(), undefined);
    expect(checks.some((c) => c.name.includes('storm'))).toBe(false);
    expect(failing(checks)).toEqual([]);
  });
});

describe('keyFigures', () => {
  it('reports memory per idle session against 30 KiB, and the failure counts against 0', () => {
    const figures = keyFigures(SETTINGS, many(), storm());
    const byName = (part: string) => figures.find((f) => f.name.includes(part))!;
    expect(byName('memory per idle session').value).toBeCloseTo(20, 6);
    expect(targetMet(byName('memory per idle session'))).toBe(true);
    expect(byName('sessions failed (of 5,000').value).toBe(0);
    expect(byName('JWKS fetches').value).toBe(1);
    expect(targetMet(byName('JWKS fetches'))).toBe(true);
    expect(byName('token verifications').value).toBe(1);
    expect(byName('seconds until all 1,000 authenticated').value).toBeCloseTo(4.2, 10);
    expect(byName('TPS with 5,000 sessions open').value).toBe(3000);
    expect(byName('p99').value).toBe(990);
    expect(byName('PostgreSQL directly').value).toBeCloseTo(3, 10);
  });

  it('misses the memory target above 30 KiB and counts every unserved session', () => {
    const fat = keyFigures(SETTINGS, many({ idle: { rss: 140 * MiB + 4800 * 31 * 1024, gatewaySessions: 4800, upstreamBackends: 4800 } }), undefined);
    expect(targetMet(fat[0]!)).toBe(false);
    const lost = many({ idleOpened: 4700, idleFailed: 100, pgbench: { ...many().pgbench, clientFailures: 2 } });
    expect(sessionsFailed(lost)).toBe(102);
    expect(keyFigures(SETTINGS, lost, undefined).find((f) => f.name.startsWith('sessions failed'))!.value).toBe(102);
    expect(keyFigures(SETTINGS, many(), storm({ tokens: tokens({ verified: 1, refused: 2 }) })).find((f) => f.name.includes('verifications'))!.value).toBe(3);
  });
});

describe('idleLiveKib', () => {
  it('divides the live JS heap each idle session added after GC (external memory left out)', () => {
    expect(idleLiveKib(many())).toBeCloseTo(12, 6);
  });

  it('is unmeasured without both collections', () => {
    expect(idleLiveKib(many({ heap: { before: undefined, idle: heap(1, 1), afterClose: undefined } }))).toBeNaN();
    expect(idleLiveKib(many({ heap: { before: heap(1, 1, false), idle: heap(9 * MiB, 1), afterClose: undefined } }))).toBeNaN();
  });
});

describe('pgbenchClientFailures', () => {
  it('counts distinct clients that aborted or could not connect', () => {
    const stderr = [
      'pgbench: error: client 3 aborted in command 1 (SQL) of script 0; perhaps the backend died while processing',
      'pgbench: error: client 3 aborted in command 1 (SQL) of script 0; again',
      'pgbench: error: client 17 aborted in command 0 (SQL) of script 0; ERROR: boom',
      'pgbench: error: could not create connection for client 42',
    ].join('\n');
    expect(pgbenchClientFailures(stderr)).toBe(3);
  });

  it('counts a connection failure that names no client as one, and a clean run as none', () => {
    expect(pgbenchClientFailures('pgbench: error: connection to server at "127.0.0.1", port 1 failed: Connection refused')).toBe(1);
    expect(pgbenchClientFailures('')).toBe(0);
  });
});

describe('renderSessionsReport', () => {
  it('shows the figures, the verdicts and the instruments', () => {
    const s = storm();
    const text = renderSessionsReport({
      started: new Date('2026-01-01T00:00:00Z'),
      settings: SETTINGS,
      reproduce: 'npm run bench:sessions',
      machine: [['CPU', '2 × test']],
      maxConnections: 5050,
      many: many(),
      storm: s,
      stormSql: 'SELECT abalance FROM pgbench_accounts WHERE aid = 1',
      cert: 'ECDSA prime256v1',
      checks: sessionChecks(SETTINGS, many(), s),
      figures: keyFigures(SETTINGS, many(), s),
      commands: ['pgbench …'],
      configText: 'data_dir: /tmp/x\n',
      gatewayOutput: [['phase 1 gateway', '']],
      postgresLog: [],
    });
    expect(text).toContain('**Memory per idle session: 20.0 KiB**');
    expect(text).toContain('Every check passed.');
    expect(text).toContain('PostgreSQL directly, plaintext (baseline)');
    expect(text).toContain('1 JWKS, 1 discovery, 0 token, 0 other request(s) during the storm');
    expect(text).toContain('max_connections=5,050');
    expect(text).toContain('grew by 12.0 KiB per idle session');
    expect(text).toContain('live JS heap was 64.0 MB against 62.9 MB before (+1.0 MB, 0.2 KiB per closed session)');
    expect(text).toContain('listen backlog 511');
    expect(text).toContain('Recorded: 1,000 sessions; ended by client 999, upstream 1.');
    expect(text).toContain('accept queue at most 511 deep during the storm (400 samples of /proc/net/tcp, every 25 ms) — full: the gateway\'s own listener dropped connections');
    expect(text).toContain('the gateway 3.00 s (67% of one core)');
    expect(text).toMatch(/\| the storm +\| +1,000 \| +1 \| +900 \| +99 \| +1 \|/);
    expect(text).toContain('one accepted token verification took 300.0 ms');
    expect(text).not.toContain('## Gateway output'); // nothing printed, no section
  });
});
