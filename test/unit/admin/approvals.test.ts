/**
 * The approvals routes' logic over a real ApprovalService (SQLite in a temp dir): who sees
 * which request, decisions and the service's refusals as HTTP statuses, the long poll, and
 * the pure parsers (bodies, query parameters, routes, the `token` access level).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  approvalJson,
  approvalResponse,
  approvalsResponse,
  approvalWaitResponse,
  decisionResponse,
  parseDecisionBody,
  revokeResponse,
  viewReason,
  type Caller,
} from '../../../src/admin/approvals.js';
import { authorize, type Role } from '../../../src/admin/auth.js';
import { parseJsonBody } from '../../../src/admin/http.js';
import { APPROVAL_STATUSES, parseApprovalsQuery, parseWaitQuery } from '../../../src/admin/query.js';
import { matchRoute } from '../../../src/admin/routes.js';
import type { ApprovalService } from '../../../src/approvals/types.js';
import { ask, identity, serviceEachTest } from './approvals-fixture.js';

const AGENT = identity('agent-7', ['agents'], 'agent');
const OTHER_AGENT = identity('agent-8', ['agents'], 'agent-8');

function caller(subject: string, groups: readonly string[], role: Role = 'caller'): Caller {
  return { identity: identity(subject, groups), role };
}

const alice = caller('alice', ['approvers']);
const bob = caller('bob', ['approvers']);
const mallory = caller('mallory', ['contractors']);
const auditor = caller('audrey', ['auditors'], 'auditor');
const agent: Caller = { identity: AGENT, role: 'caller' };

const current = serviceEachTest();
let service: ApprovalService;
beforeEach(() => {
  service = current();
});

function body(response: { body: unknown }): Record<string, unknown> {
  return response.body as Record<string, unknown>;
}

describe('who may see a request', () => {
  it('its requester (same subject), members of its approvers groups, auditors and admins; nobody else', () => {
    const request = ask(service, AGENT);
    expect(viewReason(agent, request)).toBe('requester');
    expect(viewReason(alice, request)).toBe('approver');
    expect(viewReason(auditor, request)).toBe('oversight');
    expect(viewReason(caller('root', [], 'admin'), request)).toBe('oversight');
    expect(viewReason(mallory, request)).toBeUndefined();
    // Same client id, another subject: not the requester.
    expect(viewReason({ identity: identity('agent-9', ['agents'], 'agent'), role: 'caller' }, request)).toBeUndefined();
  });

  it('lists what each caller may see, newest first, filtered by status', () => {
    const first = ask(service, AGENT);
    const second = ask(service, OTHER_AGENT, { approvers: ['dba'] });
    const third = ask(service, OTHER_AGENT);
    decisionResponse(service, alice, third.id, 'approve', {});
    const ids = (c: Caller, status?: 'pending' | 'approved'): string[] =>
      (body(approvalsResponse(service, c, { status })).approvals as { id: string }[]).map((a) => a.id);
    expect(ids(auditor).sort()).toEqual([first.id, second.id, third.id].sort());
    expect(ids(alice).sort()).toEqual([first.id, third.id].sort());
    expect(ids(agent)).toEqual([first.id]);
    expect(ids(mallory)).toEqual([]);
    expect(ids(alice, 'pending')).toEqual([first.id]);
    expect(ids(alice, 'approved')).toEqual([third.id]);
    expect(body(approvalsResponse(service, auditor, { status: undefined })).total).toBe(3);
    const created = (body(approvalsResponse(service, auditor, { status: undefined })).approvals as { createdAt: string }[]).map((a) => a.createdAt);
    expect(new Set(created).size).toBe(3);
    expect(created).toEqual([...created].sort().reverse());
  });

  it('GET one: 200 with the request as JSON, 403 naming who may, 404 for an unknown id', () => {
    const request = ask(service, AGENT);
    const shown = approvalResponse(service, alice, request.id);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(approvalJson(request));
    expect(shown.body).toMatchObject({
      id: request.id,
      status: 'pending',
      subject: 'agent-7',
      clientId: 'agent',
      connection: 'demo',
      rule: 'orders-writes-need-approval',
      text: 'UPDATE orders SET status = $1 WHERE id = 7',
      parameters: ['paid'],
      approvers: ['approvers'],
      minApprovals: 1,
      approvals: 0,
      createdAt: new Date(request.createdAt).toISOString(),
      expiresAt: new Date(request.expiresAt).toISOString(),
      decisions: [],
      grant: { kind: 'once', ttlMs: 900_000 },
      redeemedAt: null,
      uses: 0,
      grantExpiresAt: null,
      revocation: null,
    });
    expect(approvalResponse(service, agent, request.id).status).toBe(200);
    expect(approvalResponse(service, mallory, request.id)).toEqual({
      status: 403,
      body: {
        error: 'forbidden',
        message:
          `identity "mallory" may not see approval request "${request.id}": only the identity that asked, members of its approvers group "approvers", ` +
          'auditors and admins may; ask your identity provider administrator for membership, then request a new token',
      },
    });
    expect(approvalResponse(service, auditor, 'nope')).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'no approval request "nope"; list the requests you may see with GET /api/approvals' },
    });
  });
});

describe('decisions', () => {
  it('approve: 200 with the approved request, its decision and grant; deciding again is 409', () => {
    const request = ask(service, AGENT);
    const approved = decisionResponse(service, alice, request.id, 'approve', { comment: '  ticket OPS-1  ' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approvals: 1, decisions: [{ subject: 'alice', clientId: 'alice', decision: 'approve', comment: 'ticket OPS-1' }] });
    expect(body(approved).grantExpiresAt).not.toBeNull();
    const again = decisionResponse(service, bob, request.id, 'deny', { comment: 'too late' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'conflict', message: expect.stringContaining('was already approved by alice') });
  });

  it('deny needs a comment (400, nothing recorded); with one it denies', () => {
    const request = ask(service, AGENT);
    for (const comment of [{}, { comment: '' }, { comment: '   ' }]) {
      const refused = decisionResponse(service, alice, request.id, 'deny', comment);
      expect(refused.status).toBe(400);
      expect(body(refused).message).toMatch(/^denying needs a comment/);
    }
    expect(service.get(request.id)?.decisions).toEqual([]);
    const denied = decisionResponse(service, alice, request.id, 'deny', { comment: 'not during the freeze' });
    expect(denied.body).toMatchObject({ status: 'denied', decisions: [{ decision: 'deny', comment: 'not during the freeze' }] });
  });

  it('maps the service\'s refusals to their statuses with its message: self-approval, outsider, unknown id', () => {
    const request = ask(service, { ...AGENT, groups: ['agents', 'approvers'] });
    const self = decisionResponse(service, { identity: { ...AGENT, groups: ['approvers'] }, role: 'caller' }, request.id, 'approve', {});
    expect(self).toMatchObject({ status: 403, body: { error: 'forbidden', message: expect.stringContaining('nobody decides their own request') } });
    const outsider = decisionResponse(service, mallory, request.id, 'approve', {});
    expect(outsider).toMatchObject({ status: 403, body: { error: 'forbidden', message: expect.stringContaining('mallory may not decide approval request') } });
    expect(decisionResponse(service, alice, 'nope', 'approve', {})).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(service.get(request.id)?.status).toBe('pending');
  });

  it('needs min_approvals distinct approvers', () => {
    const request = ask(service, AGENT, { minApprovals: 2 });
    expect(decisionResponse(service, alice, request.id, 'approve', {}).body).toMatchObject({ status: 'pending', approvals: 1 });
    expect(decisionResponse(service, alice, request.id, 'approve', {}).status).toBe(403);
    expect(decisionResponse(service, bob, request.id, 'approve', {}).body).toMatchObject({ status: 'approved', approvals: 2 });
  });
});

describe('revoking', () => {
  const WINDOW = { kind: 'window', durationMs: 30 * 60_000 } as const;

  it('an approver: 200 with the revoked request, who, when and why; the grant releases nothing more', () => {
    const request = ask(service, AGENT, { grant: WINDOW });
    decisionResponse(service, alice, request.id, 'approve', {});
    const revoked = revokeResponse(service, bob, request.id, { comment: '  wrong ticket ' });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      status: 'revoked',
      grant: WINDOW,
      revocation: { subject: 'bob', clientId: 'bob', comment: 'wrong ticket', at: expect.stringMatching(/^2025-01-01T/), asAdmin: false },
    });
    expect(service.redeem({ ...request, operationHash: 'any' })).toBeUndefined();
  });

  it('an admin outside the approvers groups (the caller\'s role), recorded as such', () => {
    const request = ask(service, AGENT);
    decisionResponse(service, alice, request.id, 'approve', {});
    const revoked = revokeResponse(service, caller('root', ['portcullis-admins'], 'admin'), request.id, { comment: 'incident' });
    expect(revoked).toMatchObject({ status: 200, body: { status: 'revoked', revocation: { subject: 'root', asAdmin: true } } });
  });

  it('403 for anyone else (auditors too), 409 for a pending request, 404 for an unknown id, 400 without a comment', () => {
    const request = ask(service, AGENT);
    expect(revokeResponse(service, alice, request.id, { comment: 'no' })).toMatchObject({
      status: 409,
      body: { error: 'conflict', message: expect.stringContaining('is pending, not approved: there is no grant to revoke; deny it instead') },
    });
    decisionResponse(service, alice, request.id, 'approve', {});
    for (const who of [mallory, auditor, agent]) {
      expect(revokeResponse(service, who, request.id, { comment: 'stop' })).toMatchObject({
        status: 403,
        body: { error: 'forbidden', message: expect.stringContaining(`${who.identity.subject} may not revoke the grant of approval request ${request.id}`) },
      });
    }
    expect(revokeResponse(service, alice, 'nope', { comment: 'x' })).toMatchObject({ status: 404, body: { error: 'not_found' } });
    for (const comment of [{}, { comment: '  ' }]) {
      expect(revokeResponse(service, alice, request.id, comment)).toMatchObject({
        status: 400,
        body: { error: 'bad_request', message: expect.stringMatching(/^revoking needs a comment/) },
      });
    }
    expect(service.get(request.id)?.status).toBe('approved');
  });
});

describe('parseDecisionBody', () => {
  it('takes an optional comment to approve, trimmed', () => {
    expect(parseDecisionBody({}, 'approve')).toEqual({ ok: true, value: '' });
    expect(parseDecisionBody({ comment: ' ok ' }, 'approve')).toEqual({ ok: true, value: 'ok' });
  });

  it('refuses anything but an object with a string comment, naming what it got', () => {
    expect(parseDecisionBody([], 'approve')).toEqual({ ok: false, message: 'the request body must be a JSON object such as {"comment": "…"}, not an array' });
    expect(parseDecisionBody('ok', 'approve')).toMatchObject({ ok: false, message: expect.stringContaining('not a string') });
    expect(parseDecisionBody(null, 'deny')).toMatchObject({ ok: false, message: expect.stringContaining('not null') });
    expect(parseDecisionBody({ comment: 5 }, 'approve')).toEqual({ ok: false, message: '"comment" must be a string, not a number' });
    expect(parseDecisionBody({ coment: 'typo' }, 'approve')).toEqual({
      ok: false,
      message: 'unknown field "coment" in the request body; the only field is "comment"',
    });
  });
});

describe('the long poll', () => {
  it('answers as soon as the request is decided', async () => {
    const request = ask(service, AGENT);
    const waiting = approvalWaitResponse(service, agent, request.id, new AbortController().signal);
    decisionResponse(service, alice, request.id, 'approve', {});
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: request.id, status: 'approved' });
  });

  it('answers with the request still pending when its signal aborts (timeout, client gone, shutdown)', async () => {
    const request = ask(service, AGENT);
    const stop = new AbortController();
    const waiting = approvalWaitResponse(service, alice, request.id, stop.signal);
    stop.abort();
    expect((await waiting).body).toMatchObject({ status: 'pending' });
  });

  it('answers a decided request at once, and refuses callers who may not see it without waiting', async () => {
    const request = ask(service, AGENT);
    decisionResponse(service, alice, request.id, 'deny', { comment: 'no' });
    expect((await approvalWaitResponse(service, agent, request.id, new AbortController().signal)).body).toMatchObject({ status: 'denied' });
    const pending = ask(service, AGENT);
    expect((await approvalWaitResponse(service, mallory, pending.id, new AbortController().signal)).status).toBe(403);
    expect((await approvalWaitResponse(service, mallory, 'nope', new AbortController().signal)).status).toBe(404);
  });
});

describe('request parsing', () => {
  it('parseJsonBody: JSON with Content-Type application/json; an empty body is {}', () => {
    const json = Buffer.from('{"comment":"ok"}');
    expect(parseJsonBody('application/json', json)).toEqual({ ok: true, value: { comment: 'ok' } });
    expect(parseJsonBody('Application/JSON; charset="UTF-8"', json)).toEqual({ ok: true, value: { comment: 'ok' } });
    expect(parseJsonBody(undefined, Buffer.alloc(0))).toEqual({ ok: true, value: {} });
  });

  it('parseJsonBody: 415 for another type or charset, 400 for invalid JSON or UTF-8', () => {
    const json = Buffer.from('{}');
    expect(parseJsonBody('application/x-www-form-urlencoded', json)).toEqual({
      ok: false,
      status: 415,
      error: 'unsupported_media_type',
      message: 'the request body must be JSON: send "Content-Type: application/json" (UTF-8), not Content-Type "application/x-www-form-urlencoded"',
    });
    expect(parseJsonBody(undefined, json)).toMatchObject({ status: 415, message: expect.stringContaining('not no Content-Type') });
    expect(parseJsonBody('application/json; charset=latin1', json)).toMatchObject({ status: 415 });
    expect(parseJsonBody('application/json', Buffer.from('{"comment":'))).toMatchObject({ status: 400, message: expect.stringMatching(/^the request body is not valid JSON/) });
    expect(parseJsonBody('application/json', Buffer.from([0x22, 0xff, 0x22]))).toMatchObject({ status: 400, message: expect.stringContaining('not valid UTF-8') });
  });

  it('parseWaitQuery: a duration, 30 s by default, at most 5 min', () => {
    const q = (timeout?: string) => parseWaitQuery(new Map(timeout === undefined ? [] : [['timeout', [timeout]]]));
    expect(q()).toEqual({ ok: true, value: { timeoutMs: 30_000 } });
    expect(q('2m')).toEqual({ ok: true, value: { timeoutMs: 120_000 } });
    expect(q('5m')).toEqual({ ok: true, value: { timeoutMs: 300_000 } });
    for (const bad of ['5m1s', '0', 'soon', '-1s']) {
      expect(q(bad)).toMatchObject({ ok: false, message: expect.stringContaining(`timeout=${JSON.stringify(bad)}: expected a duration from 1ms to 5m`) });
    }
  });

  it('parseApprovalsQuery: one of the statuses', () => {
    expect(parseApprovalsQuery(new Map([['status', ['pending']]]))).toEqual({ ok: true, value: { status: 'pending' } });
    expect(parseApprovalsQuery(new Map())).toEqual({ ok: true, value: { status: undefined } });
    expect(parseApprovalsQuery(new Map([['status', ['open']]]))).toEqual({ ok: false, message: `status="open": expected ${APPROVAL_STATUSES.join(', ')}` });
  });

  it('routes: POST for decisions (405 Allow: POST otherwise), GET and HEAD for the rest', () => {
    expect(matchRoute('POST', '/api/approvals/abc/approve')).toMatchObject({ kind: 'matched', route: { name: 'approval-approve' }, params: { id: 'abc' } });
    expect(matchRoute('POST', '/api/approvals/abc/deny')).toMatchObject({ kind: 'matched', route: { name: 'approval-deny' } });
    expect(matchRoute('POST', '/api/approvals/abc/revoke')).toMatchObject({ kind: 'matched', route: { name: 'approval-revoke', access: 'token' }, params: { id: 'abc' } });
    expect(matchRoute('GET', '/api/approvals/abc/revoke')).toMatchObject({ kind: 'method-not-allowed', allow: 'POST' });
    expect(matchRoute('GET', '/api/approvals/abc/wait')).toMatchObject({ kind: 'matched', route: { name: 'approval-wait' } });
    expect(matchRoute('GET', '/api/approvals/abc/approve')).toEqual({
      kind: 'method-not-allowed',
      allow: 'POST',
      message: 'GET is not allowed on /api/approvals/abc/approve: it changes state; use POST',
    });
    expect(matchRoute('POST', '/api/approvals')).toMatchObject({ kind: 'method-not-allowed', allow: 'GET, HEAD' });
    const unknown = matchRoute('GET', '/api/approval');
    expect(unknown.kind === 'not-found' && unknown.message).toContain('POST /api/approvals/:id/approve, POST /api/approvals/:id/deny');
  });

  it('authorize: the token access level admits any identity, keeping its role', () => {
    const groups = { auditors: ['auditors'], admins: ['portcullis-admins'] };
    expect(authorize({ subject: 'a', groups: ['agents'] }, 'token', groups)).toEqual({ ok: true, role: 'caller' });
    expect(authorize({ subject: 'a', groups: [] }, 'token', groups)).toEqual({ ok: true, role: 'caller' });
    expect(authorize({ subject: 'a', groups: ['auditors'] }, 'token', groups)).toEqual({ ok: true, role: 'auditor' });
    expect(authorize({ subject: 'a', groups: ['portcullis-admins'] }, 'token', groups)).toEqual({ ok: true, role: 'admin' });
    // The other levels are unchanged.
    expect(authorize({ subject: 'a', groups: ['agents'] }, 'auditor', groups).ok).toBe(false);
  });
});
