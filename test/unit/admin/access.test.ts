/**
 * `POST /api/access-requests` over a real ApprovalService (SQLite in a temp dir): the body,
 * which connection, its access list first, its `access.require_approval`, and the service's
 * own refusals as HTTP statuses. Over HTTP with real tokens: test/integration/admin-access.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { accessRequestResponse, parseAccessRequestBody } from '../../../src/admin/access.js';
import { approvalJson, approvalsResponse, type Caller } from '../../../src/admin/approvals.js';
import { matchRoute } from '../../../src/admin/routes.js';
import type { AccessApprovalConfig, ConnectionConfig } from '../../../src/config/types.js';
import { connection } from '../policy/support.js';
import { identity, serviceEachTest } from './approvals-fixture.js';

const REQUIRE: AccessApprovalConfig = { approvers: ['approvers'], minApprovals: 1, timeoutMs: 3_600_000, maxDurationMs: 8 * 3_600_000 };
const CONNECTIONS: readonly ConnectionConfig[] = [
  connection({ name: 'prod', access: { groups: ['agents'], subjects: ['contractor-9'], clients: [], requireApproval: REQUIRE } }),
  connection({ name: 'staging', access: { groups: ['agents'], subjects: [], clients: [] } }),
  connection({ name: 'finance', access: { groups: ['finance-bots'], subjects: [], clients: [], requireApproval: REQUIRE } }),
];
const agent: Caller = { identity: identity('agent-7', ['agents'], 'agent'), role: 'caller' };
const alice: Caller = { identity: identity('alice', ['approvers']), role: 'caller' };
const BODY = { connection: 'prod', duration: '30m', reason: 'INC-4711: fix stuck orders' };

const current = serviceEachTest();

function ask(body: unknown, caller: Caller = agent) {
  return accessRequestResponse(current(), CONNECTIONS, caller, body);
}

function message(response: { body: unknown }): string {
  return (response.body as { message: string }).message;
}

describe('accessRequestResponse', () => {
  it('201 with the pending access request, which approvers then list', () => {
    const response = ask(BODY);
    expect(response.status).toBe(201);
    const [request] = current().list();
    expect(request).toBeDefined();
    expect(response.body).toEqual(approvalJson(request!));
    expect(response.body).toMatchObject({
      kind: 'access',
      status: 'pending',
      subject: 'agent-7',
      clientId: 'agent',
      connection: 'prod',
      sessionId: null,
      rule: 'access-request',
      reason: 'INC-4711: fix stuck orders',
      text: 'access to connection "prod" for 30m: INC-4711: fix stuck orders',
      parameters: null,
      approvers: ['approvers'],
      grant: { kind: 'window', durationMs: 30 * 60_000 },
      grantExpiresAt: null,
    });
    const listed = approvalsResponse(current(), alice, { status: 'pending' }).body as { approvals: { id: string }[] };
    expect(listed.approvals.map((a) => a.id)).toEqual([request!.id]);
  });

  it('the access list applies: a subject listed on the connection may ask', () => {
    const contractor: Caller = { identity: identity('contractor-9', ['contractors']), role: 'caller' };
    expect(ask(BODY, contractor).status).toBe(201);
  });

  it('403 for an identity not in the connection\'s access list, recording nothing', () => {
    const response = ask({ ...BODY, connection: 'finance' });
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ error: 'forbidden' });
    expect(message(response)).toMatch(/^identity "agent-7" is not in the access list of connection "finance", so it may not request access to it/);
    expect(current().list()).toEqual([]);
  });

  it('400 for an unknown connection, naming the ones the caller may ask for', () => {
    const response = ask({ ...BODY, connection: 'prdo' });
    expect(response.status).toBe(400);
    expect(message(response)).toBe('there is no connection "prdo": check the name; you may request access to "prod"');
    const outsider: Caller = { identity: identity('mallory', ['contractors']), role: 'caller' };
    expect(message(ask({ ...BODY, connection: 'prdo' }, outsider))).toBe('there is no connection "prdo": check the name; there is no connection you may request access to');
  });

  it('400 for a connection without access.require_approval', () => {
    const response = ask({ ...BODY, connection: 'staging' });
    expect(response.status).toBe(400);
    expect(message(response)).toBe('connection "staging" does not require an access request: open it directly with your token');
  });

  it('400 from the service for a duration above max_duration', () => {
    const response = ask({ ...BODY, duration: '9h' });
    expect(response).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(message(response)).toBe('cannot request access to connection "prod": 9h is longer than this connection allows (max_duration 8h): ask for 8h or less');
    expect(current().list()).toEqual([]);
  });

  it('every connection is unknown without the connections', () => {
    expect(accessRequestResponse(current(), [], agent, BODY).status).toBe(400);
  });
});

describe('parseAccessRequestBody', () => {
  it('takes connection, duration (config grammar) and reason', () => {
    expect(parseAccessRequestBody({ connection: 'prod', duration: '1h30m', reason: 'why' })).toEqual({
      ok: true,
      value: { connection: 'prod', durationMs: 90 * 60_000, reason: 'why' },
    });
  });

  it.each<[string, unknown, string]>([
    ['not an object', ['prod'], 'the request body must be a JSON object such as {"connection": "prod", "duration": "30m", "reason": "…"}, not an array'],
    ['an unknown field', { ...BODY, durationn: '1h' }, 'unknown field "durationn" in the request body; the fields are connection, duration, reason'],
    ['no connection', { duration: '30m', reason: 'x' }, 'the request body needs "connection": send {"connection": "prod", "duration": "30m", "reason": "…"}'],
    ['no duration', { connection: 'prod', reason: 'x' }, 'the request body needs "duration"'],
    ['no reason', { connection: 'prod', duration: '30m' }, 'the request body needs "reason"'],
    ['a connection that is not text', { ...BODY, connection: 7 }, '"connection" must be a connection\'s name, not a number'],
    ['a numeric duration', { ...BODY, duration: 1800 }, '"duration" must be a string such as "30m" or "2h", not a number'],
    ['a bad duration', { ...BODY, duration: '30 minutes' }, '"duration": invalid duration "30 minutes"'],
    ['a zero duration', { ...BODY, duration: '0s' }, '"duration" must be longer than 0'],
    ['a blank reason', { ...BODY, reason: '   ' }, '"reason" must say why you need access (approvers decide on it), not an empty string'],
    ['a reason that is not text', { ...BODY, reason: null }, '"reason" must say why you need access (approvers decide on it), not null'],
  ])('refuses %s', (_name, body, expected) => {
    const parsed = parseAccessRequestBody(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(expected);
  });
});

it('the route: POST /api/access-requests, any verified token', () => {
  const match = matchRoute('POST', '/api/access-requests');
  expect(match).toMatchObject({ kind: 'matched', route: { name: 'access-requests', access: 'token' } });
  expect(matchRoute('GET', '/api/access-requests')).toMatchObject({ kind: 'method-not-allowed', allow: 'POST' });
});
