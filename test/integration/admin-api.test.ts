/**
 * The admin HTTP API on a real stack: embedded PostgreSQL, the dev OIDC issuers and the
 * gateway. Auditors' tokens come from a second dev issuer (clients in groups `auditors` and
 * `portcullis-admins`) trusted alongside the agents' one; a session is made by a real
 * node-postgres connection through the gateway, then read back, verified, tampered with
 * (directly in the SQLite file) and verified again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevClient, type DevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import type { Config } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { startGateway } from '../../src/server/gateway.js';
import { pollUntil } from '../support/poll.js';
import { parseExposition } from '../unit/admin/exposition.js';
import { adminConfig, AGENT, issuerConfig, startStack, type Stack } from '../support/stack.js';

const AUDITOR: DevClient = { clientId: 'auditor', clientSecret: 'auditor-secret', groups: ['auditors'] };
const ADMIN: DevClient = { clientId: 'root', clientSecret: 'root-secret', groups: ['portcullis-admins'] };

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

let stack: Stack;
let auditIdp: DevIdp;
let shortIdp: DevIdp;
let base: string;
let auditorToken: string;
let sessionId: string;

async function tokenFrom(idp: DevIdp, client: DevClient): Promise<string> {
  return (await fetchAccessToken({ issuer: idp.issuer, clientId: client.clientId, clientSecret: client.clientSecret })).accessToken;
}

async function get(path: string, token?: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers = { ...init.headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  const response = await fetch(`${base}${path}`, { ...init, headers });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) json = JSON.parse(text) as Record<string, unknown>;
  return { status: response.status, headers: response.headers, text, json };
}

beforeAll(async () => {
  auditIdp = await startDevIdp({ port: 0, clients: [AUDITOR, ADMIN], audience: 'portcullis' });
  // Tokens that expire after a second, from an issuer trusted with no clock skew.
  shortIdp = await startDevIdp({ port: 0, clients: [AUDITOR], audience: 'portcullis', accessTokenTtlSeconds: 1 });
  stack = await startStack({
    admin: {},
    extraIssuers: [issuerConfig(auditIdp.issuer), issuerConfig(shortIdp.issuer, { clockSkewMs: 0 })],
  });
  base = `http://127.0.0.1:${stack.gateway.admin!.port}`;
  auditorToken = await tokenFrom(auditIdp, AUDITOR);

  // One real session through the gateway: two statements, then the client disconnects.
  const client = await stack.connect();
  await client.query('SELECT 1 AS one');
  await client.query('SELECT count(*) FROM customers');
  await client.end();
  const listed = await pollUntil(
    () => get('/api/sessions?connection=demo', auditorToken),
    (reply) => ((reply.json['sessions'] as { endedAt: unknown }[] | undefined) ?? []).some((s) => s.endedAt !== null),
    { what: 'the session to be recorded as ended' },
  );
  sessionId = (listed.json['sessions'] as { id: string }[])[0]!.id;
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await auditIdp?.close();
  await shortIdp?.close();
});

describe('probes and metrics (no token)', () => {
  it('GET /healthz is 200 with no-store', async () => {
    const reply = await get('/healthz');
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok' });
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  it('GET /readyz is 200 while the front door listens and the recorder writes', async () => {
    const reply = await get('/readyz');
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ready', checks: { postgres: 'ok', recorder: 'ok' } });
  });

  it('GET /metrics is a valid exposition with the gateway\'s series', async () => {
    const reply = await get('/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseExposition(reply.text);
    expect(samples.get('portcullis_sessions_active{protocol="postgres",connection="demo"}')).toBe(0);
    expect(samples.get('portcullis_admin_requests_total{route="sessions",status="200"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    // Incremented by the PostgreSQL session as it runs: two statements were allowed, both completed.
    expect(samples.get('portcullis_operations_total{protocol="postgres",connection="demo",decision="allow"}')).toBeGreaterThanOrEqual(2);
    expect(samples.get('portcullis_operation_duration_seconds_count{protocol="postgres",connection="demo"}')).toBeGreaterThanOrEqual(2);
    expect(samples.get('portcullis_recorder_lag_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('counts token verifications and issuer key loads of real connections', async () => {
    const scrape = async (): Promise<Map<string, number>> => parseExposition((await get('/metrics')).text);
    const tokens = (s: Map<string, number>, result: string, reason = ''): number =>
      s.get(`portcullis_token_verifications_total{result="${result}",reason="${reason}"}`) ?? NaN;
    const keyLoads = (s: Map<string, number>, issuer: string, result: 'ok' | 'failed'): number =>
      s.get(`portcullis_issuer_key_loads_total{issuer="${issuer}",result="${result}"}`) ?? NaN;
    const { default: pg } = await import('pg');
    const session = async (password: string): Promise<void> => {
      const client = new pg.Client(stack.clientConfig(password));
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    };

    const before = await scrape();
    // The agents' issuer's keys were loaded once, for beforeAll's session; an issuer no token came from yet is there at zero.
    expect(keyLoads(before, stack.idp.issuer, 'ok')).toBe(1);
    expect(keyLoads(before, stack.idp.issuer, 'failed')).toBe(0);
    expect(keyLoads(before, shortIdp.issuer, 'ok')).toBe(0);

    const token = await stack.token();
    await session(token);
    await session(token);
    const storm = await stack.token();
    await Promise.all(Array.from({ length: 4 }, () => session(storm)));
    const pgClient = new pg.Client(stack.clientConfig('not-a-token'));
    await expect(pgClient.connect()).rejects.toThrow(/invalid access token/);
    await pgClient.end().catch(() => undefined);

    const after = await scrape();
    const delta = (result: string, reason = ''): number => tokens(after, result, reason) - tokens(before, result, reason);
    // Two new tokens, each fully verified once; the other four presentations were cached or shared one in flight.
    expect(delta('verified')).toBe(2);
    expect(delta('cached') + delta('shared')).toBe(4);
    expect(delta('cached')).toBeGreaterThanOrEqual(1);
    expect(delta('refused', 'malformed')).toBe(1);
    expect(delta('refused', 'bad_signature')).toBe(0);
    // No key-set load per connection.
    expect(keyLoads(after, stack.idp.issuer, 'ok')).toBe(1);
    const verifiedSeconds = (s: Map<string, number>): number => s.get('portcullis_token_verification_duration_seconds_count') ?? NaN;
    expect(verifiedSeconds(after) - verifiedSeconds(before)).toBe(2);
    expect(after.get('portcullis_token_verification_duration_seconds_sum')).toBeGreaterThan(before.get('portcullis_token_verification_duration_seconds_sum')!);
  });

  it('counts a refused connection as an auth failure', async () => {
    const before = parseExposition((await get('/metrics')).text).get('portcullis_auth_failures_total{protocol="postgres",reason="invalid-token"}') ?? 0;
    const { default: pg } = await import('pg');
    const client = new pg.Client(stack.clientConfig('not-a-token'));
    await expect(client.connect()).rejects.toThrow(/invalid access token/);
    await client.end().catch(() => undefined);
    const after = parseExposition((await get('/metrics')).text).get('portcullis_auth_failures_total{protocol="postgres",reason="invalid-token"}');
    expect(after).toBe(before + 1);
  });
});

describe('authentication', () => {
  it('401 without a token, with a Bearer challenge and a JSON error', async () => {
    const reply = await get('/api/sessions');
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="portcullis-admin"');
    expect(reply.json['error']).toBe('unauthorized');
    expect(reply.json['message']).toMatch(/send "Authorization: Bearer <token>"/);
    // Nothing else about the request is judged first: a bad query parameter is still just 401.
    expect((await get('/api/sessions?bogus=1')).status).toBe(401);
    expect((await get('/api/sessions', undefined, { headers: { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' } })).json['message']).toMatch(
      /^the Authorization header must be "Bearer <access token>", not the Basic scheme/,
    );
  });

  it('401 invalid_token for a forged token (payload altered to claim the admins group)', async () => {
    const [header, payload, signature] = auditorToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, groups: ['portcullis-admins'] })).toString('base64url')}.${signature}`;
    const reply = await get('/api/audit/verify', forged);
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer realm="portcullis-admin", error="invalid_token", error_description="invalid access token: access token signature does not verify/);
    expect(reply.json).toMatchObject({ error: 'invalid_token' });
    expect(reply.text).not.toContain(signature);
  });

  it('401 invalid_token for an expired token, saying when it expired', async () => {
    const shortLived = await tokenFrom(shortIdp, AUDITOR);
    const reply = await pollUntil(() => get('/api/sessions', shortLived), (r) => r.status !== 200, { what: 'the 1-second token to expire' });
    expect(reply.status).toBe(401);
    expect(reply.json['message']).toMatch(/^invalid access token: access token expired at \d{4}-\d\d-\d\dT/);
  });

  it('403 for a valid token outside the groups (an agent), naming the groups needed', async () => {
    const reply = await get('/api/sessions', await stack.token(AGENT));
    expect(reply.status).toBe(403);
    expect(reply.json['error']).toBe('forbidden');
    expect(reply.json['message']).toMatch(/identity "agent" \(groups "agents"\) may not use this endpoint: it needs membership in one of the groups "auditors", "portcullis-admins"/);
    expect(reply.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });

  it('lets an admins-group token in too', async () => {
    expect((await get('/api/sessions', await tokenFrom(auditIdp, ADMIN))).status).toBe(200);
  });
});

describe('sessions', () => {
  it('lists the session the node-postgres client made through the gateway', async () => {
    const reply = await get('/api/sessions', auditorToken);
    expect(reply.status).toBe(200);
    const session = (reply.json['sessions'] as Record<string, unknown>[]).find((s) => s['id'] === sessionId);
    expect(session).toMatchObject({ connection: 'demo', protocol: 'postgres', subject: 'agent', groups: ['agents'], endedBy: 'client', statements: 2, refused: 0 });
    expect(reply.json).toMatchObject({ limit: 100, truncated: false });
  });

  it('filters with query parameters and refuses bad ones with a 400', async () => {
    const none = await get('/api/sessions?subject=someone-else', auditorToken);
    expect(none.json).toMatchObject({ sessions: [], total: 0 });
    const since = await get(`/api/sessions?since=${Date.now() + 60_000}`, auditorToken);
    expect(since.json['total']).toBe(0);
    const bad = await get('/api/sessions?limit=0', auditorToken);
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'bad_request', message: 'limit="0": expected a whole number from 1 to 1000' });
    expect((await get('/api/sessions?sinse=1', auditorToken)).json['message']).toMatch(/unknown query parameter "sinse"/);
  });

  it('GET /api/sessions/:id gives its summary', async () => {
    const reply = await get(`/api/sessions/${encodeURIComponent(sessionId)}`, auditorToken);
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ id: sessionId, statements: 2, endedBy: 'client' });
  });

  it('GET /api/sessions/:id/events gives the decoded events with their hashes', async () => {
    const reply = await get(`/api/sessions/${encodeURIComponent(sessionId)}/events`, auditorToken);
    expect(reply.status).toBe(200);
    const events = reply.json['events'] as { seq: number; type: string; payload: Record<string, unknown>; hash: string; prevHash: string }[];
    expect(events[0]).toMatchObject({ seq: 1, type: 'session-start', payload: { connection: 'demo', identity: { subject: 'agent' } } });
    const operations = events.filter((e) => e.type === 'operation');
    expect(operations.map((e) => e.payload['text'])).toEqual(['SELECT 1 AS one', 'SELECT count(*) FROM customers']);
    expect(operations.every((e) => e.payload['effect'] === 'allow')).toBe(true);
    expect(events[events.length - 1]).toMatchObject({ type: 'session-end', payload: { endedBy: 'client' } });
    events.slice(1).forEach((event, i) => expect(event.prevHash).toBe(events[i]!.hash));
    expect(reply.json['next']).toBeNull();
  });

  it('404 with a JSON body for an unknown session, 404 for an unknown route, 405 for another method', async () => {
    const unknown = await get('/api/sessions/no-such-session', auditorToken);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'not_found', message: 'no session "no-such-session" is recorded; list the recorded sessions with GET /api/sessions' });
    expect((await get('/api/sessions/no-such-session/events', auditorToken)).status).toBe(404);
    const route = await get('/api/nothing-here');
    expect(route.status).toBe(404);
    expect(route.json['error']).toBe('not_found');
    const post = await get('/api/sessions', auditorToken, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(post.json['error']).toBe('method_not_allowed');
  });

  it('refuses a request body beyond 1 KiB with 413 and closes the connection', async () => {
    const { status, body, connection } = await new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = http.request(`${base}/healthz`, { method: 'GET', headers: { 'content-length': 4096 } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.end(Buffer.alloc(4096, 'x'));
    });
    expect(status).toBe(413);
    expect(connection).toBe('close');
    expect(JSON.parse(body)).toMatchObject({ error: 'body_too_large' });
  });
});

describe('audit verification', () => {
  it('verifies the live store, then reports an event modified directly in the database file', async () => {
    const clean = await get('/api/audit/verify', auditorToken);
    expect(clean.status).toBe(200);
    expect(clean.json).toMatchObject({ ok: true, problems: [], omittedProblems: 0, publicKey: { from: 'data-dir' } });
    expect(clean.json['checkedEvents']).toBeGreaterThanOrEqual(6);

    const db = new Database(join(stack.dataDir, 'portcullis.db'));
    try {
      const changed = db
        .prepare("UPDATE events SET payload = replace(payload, 'SELECT 1 AS one', 'SELECT 2 AS one') WHERE session_id = ? AND type = 'operation'")
        .run(sessionId);
      expect(changed.changes).toBeGreaterThanOrEqual(1);
    } finally {
      db.close();
    }

    const tampered = await get('/api/audit/verify', auditorToken);
    expect(tampered.status).toBe(200);
    expect(tampered.json['ok']).toBe(false);
    expect(tampered.json['problems']).toContainEqual(expect.objectContaining({ code: 'event-modified', sessionId }));
  });

  it('refuses a malformed anchor with a 400', async () => {
    const reply = await get('/api/audit/verify?anchor=12', auditorToken);
    expect(reply.status).toBe(400);
    expect(reply.json['message']).toMatch(/^anchor="12": expected SEQ:HASH/);
  });
});

describe('the admin listener in the gateway\'s lifecycle', () => {
  let dataDir: string;
  const configWith = (port: number): Config => ({
    file: '<test>',
    dataDir,
    log: { level: 'error' },
    identity: { issuers: [issuerConfig(auditIdp.issuer)] },
    postgres: undefined,
    sql: { extraDangerousFunctions: [] },
    recording: { durability: 'process', writer: 'thread' },
    rules: [],
    masking: [],
    connections: [],
    admin: adminConfig({ port }),
  });

  beforeAll(() => {
    dataDir = mkdtempSync(join(os.tmpdir(), 'portcullis-admin-life-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses to start when the admin port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      await expect(startGateway(configWith((taken.address() as net.AddressInfo).port), silentLogger)).rejects.toThrow(/EADDRINUSE/);
    } finally {
      taken.close();
    }
  });

  it('answers until the gateway closes, then stops listening', async () => {
    const gateway = await startGateway(configWith(0), silentLogger);
    const url = `http://127.0.0.1:${gateway.admin!.port}/readyz`;
    const ready = await fetch(url);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { recorder: 'ok' } });
    await gateway.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});
