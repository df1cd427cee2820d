/**
 * Access requests (issue 5, point 4): an identity asks for time on a connection with
 * `access.require_approval`; approvers decide it like a held operation; once approved,
 * `accessGrant` admits that identity on that connection, and nothing else, until the
 * requested duration has passed since the approval. Access grants never release operations.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { accessHash, operationHash } from '../../../src/approvals/binding.js';
import { MAX_ACCESS_REASON_LENGTH } from '../../../src/approvals/access.js';
import { APPROVALS_DATABASE_FILE } from '../../../src/approvals/store.js';
import { MIGRATIONS } from '../../../src/approvals/schema.js';
import { ACCESS_REQUEST_RULE, type NewAccessRequest } from '../../../src/approvals/types.js';
import type { AccessApprovalConfig } from '../../../src/config/types.js';
import { withDatabase } from '../recording/support.js';
import { HELD, T0, WINDOW_30M, approvedRequest, identity, newRequest, openService, refusal, removeTempDirs, serviceEachTest, settled, tempDataDir } from './support.js';

afterAll(removeTempDirs);

const fixture = serviceEachTest();
const service = () => fixture.current.service;

const HOUR = 3_600_000;
const CONFIG: AccessApprovalConfig = { approvers: ['dba'], minApprovals: 1, timeoutMs: HOUR, maxDurationMs: 8 * HOUR };
const THIRTY_MINUTES = 30 * 60_000;
const dana = identity({ subject: 'dana', clientId: 'dana-cli', groups: ['dba'] });
const erin = identity({ subject: 'erin', clientId: 'erin-cli', groups: ['dba'] });

/** agent-1 (client ci-bot) asks for 30 minutes on prod-db, unless `over` says otherwise. */
function ask(over: Partial<NewAccessRequest> = {}): NewAccessRequest {
  return {
    subject: HELD.subject,
    clientId: HELD.clientId,
    groups: ['agents'],
    connection: HELD.connection,
    durationMs: THIRTY_MINUTES,
    reason: 'INC-4711: fix stuck orders',
    config: CONFIG,
    ...over,
  };
}

function approvedAccess(over: Partial<NewAccessRequest> = {}) {
  return service().decide(service().requestAccess(ask(over)).id, dana, 'approve', 'ok');
}

/** The access grant of agent-1 (client ci-bot) on prod-db, or of whoever `over` names (`clientId: undefined` meaning none). */
const grantOf = (over: { subject?: string; clientId?: string | undefined; connection?: string } = {}) =>
  service().accessGrant(over.subject ?? HELD.subject, 'clientId' in over ? over.clientId : HELD.clientId, over.connection ?? HELD.connection);

describe('requestAccess', () => {
  it('records a pending access request, audited, that approvers see like any request', () => {
    const request = service().requestAccess(ask({ reason: '  INC-4711: fix stuck orders \n' }));
    expect(request).toMatchObject({
      kind: 'access',
      status: 'pending',
      subject: 'agent-1',
      clientId: 'ci-bot',
      groups: ['agents'],
      connection: 'prod-db',
      rule: ACCESS_REQUEST_RULE,
      text: 'access to connection "prod-db" for 30m: INC-4711: fix stuck orders',
      reason: 'INC-4711: fix stuck orders',
      parameters: undefined,
      sessionId: '',
      approvers: ['dba'],
      minApprovals: 1,
      createdAt: T0,
      expiresAt: T0 + HOUR,
      grant: { kind: 'window', durationMs: THIRTY_MINUTES },
      operationHash: accessHash('prod-db', THIRTY_MINUTES, 'INC-4711: fix stuck orders'),
      grantExpiresAt: undefined,
    });
    expect(ACCESS_REQUEST_RULE).toBe('access-request');
    expect(service().get(request.id)).toEqual(request);
    expect(service().list({ status: 'pending' })).toEqual([request]);
    expect(fixture.current.kinds()).toEqual([`requested ${request.id}`]);
    expect(fixture.current.events[0]?.request.kind).toBe('access');
  });

  it.each<[string, Partial<NewAccessRequest>, RegExp]>([
    ['a duration over max_duration', { durationMs: 8 * HOUR + 1 }, /8h1ms is longer than this connection allows \(max_duration 8h\): ask for 8h or less/],
    ['a zero duration', { durationMs: 0 }, /the duration must be a positive duration such as "30m", not 0 ms/],
    ['a fractional duration', { durationMs: 1.5 }, /the duration must be a positive duration/],
    ['a negative duration', { durationMs: -60_000 }, /the duration must be a positive duration/],
    ['no reason', { reason: '' }, /give a reason: approvers decide on it/],
    ['a blank reason', { reason: ' \n\t ' }, /give a reason/],
    ['a reason too long', { reason: 'x'.repeat(MAX_ACCESS_REASON_LENGTH + 1) }, new RegExp(`the reason is ${MAX_ACCESS_REASON_LENGTH + 1} characters long; at most ${MAX_ACCESS_REASON_LENGTH}`)],
    ['a NUL in the reason', { reason: 'fix\0it' }, /the reason contains a NUL character/],
    ['a config without approvers', { config: { ...CONFIG, approvers: [] } }, /names no approvers groups, so nobody could approve it/],
    ['a config with min_approvals 0', { config: { ...CONFIG, minApprovals: 0 } }, /min_approvals must be a positive integer, not 0/],
  ])('refuses %s with 400, recording nothing', (_name, over, message) => {
    const error = refusal(() => service().requestAccess(ask(over)));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^cannot request access to connection "prod-db": /);
    expect(error.message).toMatch(message);
    expect(service().list()).toEqual([]);
    expect(fixture.current.events).toEqual([]);
  });

  it('accepts exactly max_duration', () => {
    expect(service().requestAccess(ask({ durationMs: 8 * HOUR })).grant).toEqual({ kind: 'window', durationMs: 8 * HOUR });
  });

  it('expires undecided after the configured timeout: audited, waiters told, no grant', async () => {
    const request = service().requestAccess(ask());
    const waiting = service().wait(request.id);
    vi.advanceTimersByTime(HOUR - 1);
    expect(await settled(waiting)).toBe(false);
    vi.advanceTimersByTime(1);
    expect((await waiting).status).toBe('expired');
    expect(grantOf()).toBeUndefined();
    expect(fixture.current.kinds()).toEqual([`requested ${request.id}`, `expired ${request.id}`]);
    expect(refusal(() => service().decide(request.id, dana, 'approve', 'late')).message).toMatch(/timed out at .* \(it may ask for access again\)/);
  });
});

describe('deciding an access request: the same rules as a held operation', () => {
  it('refuses self-approval, by subject or by client id', () => {
    const request = service().requestAccess(ask());
    const self = refusal(() => service().decide(request.id, identity({ subject: 'agent-1', clientId: 'other', groups: ['dba'] }), 'approve', ''));
    expect(self.status).toBe(403);
    expect(self.message).toMatch(/was made by subject agent-1, and nobody decides their own request/);
    const sameClient = refusal(() => service().decide(request.id, identity({ subject: 'someone', clientId: 'ci-bot', groups: ['dba'] }), 'approve', ''));
    expect(sameClient.message).toMatch(/was made by client ci-bot/);
    expect(service().get(request.id)?.status).toBe('pending');
  });

  it('refuses an approver outside the approvers groups, naming the connection', () => {
    const request = service().requestAccess(ask());
    const error = refusal(() => service().decide(request.id, identity({ subject: 'mallory', clientId: 'm', groups: ['agents'] }), 'approve', ''));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/^mallory may not decide approval request \S+: access to connection prod-db needs a member of group dba, and mallory is in group agents/);
  });

  it('needs min_approvals distinct approvers, and one deny denies', () => {
    const two = service().requestAccess(ask({ config: { ...CONFIG, minApprovals: 2 } }));
    expect(service().decide(two.id, dana, 'approve', '').status).toBe('pending');
    expect(grantOf()).toBeUndefined();
    expect(refusal(() => service().decide(two.id, dana, 'approve', '')).message).toMatch(/dana already approved/);
    expect(service().decide(two.id, erin, 'approve', '').status).toBe('approved');

    const denied = service().requestAccess(ask({ connection: 'staging-db' }));
    expect(service().decide(denied.id, dana, 'deny', 'not today').status).toBe('denied');
    expect(grantOf({ connection: 'staging-db' })).toBeUndefined();
    expect(fixture.current.kinds()).toEqual([`requested ${two.id}`, `decision ${two.id}`, `approved ${two.id}`, `requested ${denied.id}`, `denied ${denied.id}`]);
  });
});

describe('accessGrant', () => {
  it('nothing before approval; once approved, the grant until approval + duration, then nothing', () => {
    const request = service().requestAccess(ask());
    expect(grantOf()).toBeUndefined();
    vi.advanceTimersByTime(10 * 60_000);
    const approved = service().decide(request.id, dana, 'approve', 'go');
    const until = T0 + 10 * 60_000 + THIRTY_MINUTES;
    expect(approved).toMatchObject({ status: 'approved', grantExpiresAt: until });
    expect(grantOf()).toEqual({ requestId: request.id, expiresAt: until });
    vi.advanceTimersByTime(THIRTY_MINUTES - 1);
    expect(grantOf()).toEqual({ requestId: request.id, expiresAt: until });
    vi.advanceTimersByTime(1);
    expect(grantOf()).toBeUndefined();
    // Reading the grant records nothing: the session it admits is recorded by the front door.
    expect(fixture.current.kinds()).toEqual([`requested ${request.id}`, `approved ${request.id}`]);
  });

  it.each<[string, Parameters<typeof grantOf>[0]]>([
    ['another subject', { subject: 'agent-2' }],
    ['another client id', { clientId: 'other-bot' }],
    ['no client id', { clientId: undefined }],
    ['another connection', { connection: 'staging-db' }],
  ])('admits nobody else: not %s', (_name, other) => {
    approvedAccess();
    expect(grantOf(other)).toBeUndefined();
    expect(grantOf()).toBeDefined();
  });

  it('matches an identity without a client id exactly', () => {
    const approved = approvedAccess({ clientId: undefined });
    expect(grantOf({ clientId: undefined })).toEqual({ requestId: approved.id, expiresAt: T0 + THIRTY_MINUTES });
    expect(grantOf()).toBeUndefined();
  });

  it('nothing after a revocation (audited); an approver or an admin may revoke', () => {
    const approved = approvedAccess();
    const revoked = service().revoke(approved.id, erin, 'incident over', false);
    expect(revoked).toMatchObject({ status: 'revoked', revocation: { subject: 'erin', comment: 'incident over', asAdmin: false } });
    expect(grantOf()).toBeUndefined();
    expect(fixture.current.kinds()).toEqual([`requested ${approved.id}`, `approved ${approved.id}`, `revoked ${approved.id}`]);

    const again = approvedAccess();
    const outsider = identity({ subject: 'mallory', clientId: 'm', groups: ['agents'] });
    expect(refusal(() => service().revoke(again.id, outsider, 'x', false)).message).toMatch(
      /only members of group dba \(access to connection prod-db's approvers\) and gateway admins may/,
    );
    expect(service().revoke(again.id, outsider, 'as admin', true).status).toBe('revoked');
    expect(grantOf()).toBeUndefined();
  });

  it('reports the grant lasting longest when there are several', () => {
    const short = approvedAccess({ durationMs: 60 * 60_000 });
    vi.advanceTimersByTime(60_000);
    const long = approvedAccess({ durationMs: 2 * HOUR });
    vi.advanceTimersByTime(60_000);
    approvedAccess({ durationMs: 10 * 60_000 });
    expect(grantOf()).toEqual({ requestId: long.id, expiresAt: T0 + 60_000 + 2 * HOUR });
    service().revoke(long.id, dana, 'too long', false);
    expect(grantOf()).toEqual({ requestId: short.id, expiresAt: T0 + HOUR });
  });
});

describe('access grants release no operation', () => {
  it('redeem() releases nothing for the identity and connection of an approved access request, under any rule or hash', () => {
    const approved = approvedAccess();
    for (const binding of [
      { ...HELD, operationHash: operationHash(HELD.text, HELD.parameters) },
      { ...HELD, rule: ACCESS_REQUEST_RULE, operationHash: operationHash(HELD.text, HELD.parameters) },
      { ...HELD, rule: ACCESS_REQUEST_RULE, operationHash: approved.operationHash },
      { ...HELD, rule: ACCESS_REQUEST_RULE, operationHash: operationHash(approved.text, undefined) },
    ]) {
      expect(service().redeem(binding)).toBeUndefined();
    }
    expect(service().get(approved.id)).toMatchObject({ uses: 0, redeemedAt: undefined });
    expect(fixture.current.kinds()).toEqual([`requested ${approved.id}`, `approved ${approved.id}`]);
  });

  it('markRedeemed() refuses an access request with 409', () => {
    const approved = approvedAccess();
    const error = refusal(() => service().markRedeemed(approved.id));
    expect(error.status).toBe(409);
    expect(error.message).toBe(`approval request ${approved.id} is an access request: it admits sessions on connection prod-db, and releases no operation`);
    expect(service().get(approved.id)?.uses).toBe(0);
  });

  it('an operation window grant is unaffected: it still releases its rule, and admits no session', () => {
    const window = approvedRequest(service(), dana, { grant: WINDOW_30M });
    expect(grantOf()).toBeUndefined();
    expect(service().redeem({ ...HELD, operationHash: operationHash('UPDATE orders SET x = 1', undefined) })?.id).toBe(window.id);
    expect(service().get(window.id)?.kind).toBe('operation');
  });
});

describe('durability', () => {
  it('a pending access request and an approved grant survive a restart', async () => {
    const dir = tempDataDir();
    const first = openService(dir);
    const approved = first.service.decide(first.service.requestAccess(ask()).id, dana, 'approve', 'ok');
    const pending = first.service.requestAccess(ask({ connection: 'staging-db' }));
    first.service.close();

    const second = openService(dir);
    expect(second.service.get(approved.id)).toEqual(approved);
    expect(second.service.accessGrant(HELD.subject, HELD.clientId, HELD.connection)).toEqual({ requestId: approved.id, expiresAt: T0 + THIRTY_MINUTES });
    const waiting = second.service.wait(pending.id);
    vi.advanceTimersByTime(HOUR);
    expect((await waiting).status).toBe('expired');
    second.service.close();
  });

  it('requests stored before access requests existed (schema version 2) are operations, and still release their operations', () => {
    const dir = tempDataDir();
    const old = openService(dir);
    const approved = approvedRequest(old.service, dana);
    old.service.close();
    // Back to version 2: drop what migration 3 added.
    withDatabase(join(dir, APPROVALS_DATABASE_FILE), (db) => {
      db.exec('DROP INDEX requests_access_grants; ALTER TABLE requests DROP COLUMN kind');
      db.pragma('user_version = 2');
    });
    expect(MIGRATIONS).toHaveLength(3);
    const reopened = openService(dir);
    expect(reopened.service.get(approved.id)).toEqual(approved);
    expect(reopened.service.get(approved.id)?.kind).toBe('operation');
    expect(reopened.service.redeem({ ...HELD, operationHash: approved.operationHash })?.id).toBe(approved.id);
    reopened.service.close();
  });
});

it('newRequest still makes operation requests', () => {
  expect(service().request(newRequest()).kind).toBe('operation');
});
