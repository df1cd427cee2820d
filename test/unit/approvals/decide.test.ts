/** Requests, decisions and who may make them (issue 5, points 5 and 8), on a real approvals database. */
import { newId } from '../../../src/approvals/service.js';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_COMMENT_LENGTH } from '../../../src/approvals/rules.js';
import type { ApprovalService } from '../../../src/approvals/types.js';
import { GRANT_TTL_MS, HELD, T0, TIMEOUT_MS, identity, newRequest, refusal, removeTempDirs, serviceEachTest, settled, type OpenedService } from './support.js';

afterAll(removeTempDirs);

/** A member of group dba; `null`: a token without a client id. */
const dba = (subject: string, clientId: string | null = `${subject}-cli`) => identity({ subject, clientId: clientId ?? undefined, groups: ['dba'] });

const fixture = serviceEachTest();
let opened: OpenedService;
let service: ApprovalService;
beforeEach(() => {
  opened = fixture.current;
  service = opened.service;
});

describe('a request', () => {
  it('is stored pending with its binding, and released by an approval that wait() reports', async () => {
    const request = service.request(newRequest());
    expect(request.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(request).toMatchObject({
      ...HELD,
      status: 'pending',
      approvers: ['dba'],
      minApprovals: 1,
      createdAt: T0,
      expiresAt: T0 + TIMEOUT_MS,
      decisions: [],
      redeemedAt: undefined,
      grantExpiresAt: undefined,
    });
    expect(service.get(request.id)).toEqual(request);
    expect(service.list({ status: 'pending' })).toEqual([request]);

    const waiting = service.wait(request.id);
    expect(await settled(waiting)).toBe(false);
    vi.advanceTimersByTime(30_000);
    const approved = service.decide(request.id, dba('dana'), 'approve', 'ok, one row');
    expect(approved).toMatchObject({
      status: 'approved',
      grantExpiresAt: T0 + 30_000 + GRANT_TTL_MS,
      decisions: [{ subject: 'dana', clientId: 'dana-cli', decision: 'approve', comment: 'ok, one row', at: T0 + 30_000 }],
    });
    expect(await waiting).toEqual(approved);
    expect(service.get(request.id)).toEqual(approved);
    // Once decided, wait() answers at once.
    expect(await service.wait(request.id)).toEqual(approved);
  });

  it('gets unguessable, distinct ids', () => {
    const ids = new Set(Array.from({ length: 20 }, () => service.request(newRequest()).id));
    expect(ids.size).toBe(20);
  });

  it('is refused when its operation hash does not match its text and parameters', () => {
    const error = refusal(() => service.request({ ...newRequest(), parameters: ['8'] }));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/operation hash does not match/);
    expect(service.list()).toEqual([]);
  });

  it('is refused when its rule names no approvers, or bad review settings', () => {
    expect(refusal(() => service.request(newRequest({ approvers: [] }))).message).toMatch(/names no approvers groups.*add review\.approvers/);
    expect(refusal(() => service.request(newRequest({ minApprovals: 0 }))).message).toMatch(/min_approvals must be a positive integer/);
    expect(refusal(() => service.request(newRequest({ timeoutMs: -1 }))).message).toMatch(/timeout must be a positive duration/);
  });

  it('lists newest first, filtered by status', () => {
    const first = service.request(newRequest());
    vi.advanceTimersByTime(1000);
    const second = service.request(newRequest());
    vi.advanceTimersByTime(1000);
    const third = service.request(newRequest());
    service.decide(second.id, dba('dana'), 'deny', 'no');
    expect(service.list().map((r) => r.id)).toEqual([third.id, second.id, first.id]);
    expect(service.list({ status: 'pending' }).map((r) => r.id)).toEqual([third.id, first.id]);
    expect(service.list({ status: 'denied' }).map((r) => r.id)).toEqual([second.id]);
    expect(service.list({ status: 'approved' })).toEqual([]);
  });
});

describe('a denial', () => {
  it('denies at once, carrying the comment to the waiter', async () => {
    const request = service.request(newRequest({ minApprovals: 2 }));
    const waiting = service.wait(request.id);
    const denied = service.decide(request.id, dba('dana'), 'deny', 'not during the freeze');
    expect(denied.status).toBe('denied');
    expect(denied.grantExpiresAt).toBeUndefined();
    expect((await waiting).decisions).toEqual([{ subject: 'dana', clientId: 'dana-cli', decision: 'deny', comment: 'not during the freeze', at: T0 }]);
  });

  it('by one approver denies even after another approved (2 of 3 needed)', () => {
    const request = service.request(newRequest({ minApprovals: 2 }));
    expect(service.decide(request.id, dba('dana'), 'approve', '').status).toBe('pending');
    expect(service.decide(request.id, dba('eve'), 'deny', 'wrong table').status).toBe('denied');
  });
});

describe('min_approvals: 2 of 3', () => {
  it('needs two distinct approvers; the third is too late', async () => {
    const request = service.request(newRequest({ minApprovals: 2, approvers: ['dba', 'sre'] }));
    const waiting = service.wait(request.id);
    const one = service.decide(request.id, dba('dana'), 'approve', 'looks right');
    expect(one.status).toBe('pending');
    expect(one.grantExpiresAt).toBeUndefined();
    expect(await settled(waiting)).toBe(false);

    const again = refusal(() => service.decide(request.id, dba('dana'), 'approve', 'really'));
    expect(again.status).toBe(403);
    expect(again.message).toMatch(/dana already approved approval request .* each approver decides once: it needs 2 distinct approvers/);

    const two = service.decide(request.id, identity({ subject: 'sam', clientId: 'sam-cli', groups: ['sre'] }), 'approve', '');
    expect(two.status).toBe('approved');
    expect(two.decisions.map((d) => d.subject)).toEqual(['dana', 'sam']);
    expect((await waiting).status).toBe('approved');

    const late = refusal(() => service.decide(request.id, dba('carl'), 'approve', ''));
    expect(late.status).toBe(409);
    expect(late.message).toMatch(/was already approved by sam at 2025-01-01T00:00:00.000Z; only a pending request can be decided/);
  });

  it('a second decision by the same subject under another client id is still refused', () => {
    const request = service.request(newRequest({ minApprovals: 2 }));
    service.decide(request.id, dba('dana', 'cli-a'), 'approve', '');
    expect(refusal(() => service.decide(request.id, dba('dana', 'cli-b'), 'deny', '')).status).toBe(403);
    expect(service.get(request.id)?.status).toBe('pending');
  });
});

describe('who may decide', () => {
  it('not the requester (same subject), even in an approvers group', () => {
    const request = service.request(newRequest());
    const error = refusal(() => service.decide(request.id, identity({ subject: 'agent-1', clientId: 'other', groups: ['dba'] }), 'approve', ''));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/made by subject agent-1, and nobody decides their own request: ask another member of group dba/);
    expect(service.get(request.id)?.decisions).toEqual([]);
  });

  it('not the requester\'s client (same client id, another subject)', () => {
    const request = service.request(newRequest());
    const error = refusal(() => service.decide(request.id, identity({ subject: 'dana', clientId: 'ci-bot', groups: ['dba'] }), 'approve', ''));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/made by client ci-bot/);
  });

  it('an approver without a client id may decide a request without one', () => {
    const request = service.request(newRequest({ clientId: undefined }));
    const approved = service.decide(request.id, dba('dana', null), 'approve', '');
    expect(approved.status).toBe('approved');
    expect(approved.decisions[0]?.clientId).toBeUndefined();
    expect(service.get(request.id)?.clientId).toBeUndefined();
  });

  it('not someone outside the approvers groups: the refusal names the groups needed', () => {
    const request = service.request(newRequest({ approvers: ['dba', 'sre'] }));
    const error = refusal(() => service.decide(request.id, identity({ subject: 'mallory', clientId: 'm', groups: ['agents', 'DBA'] }), 'approve', ''));
    expect(error.status).toBe(403);
    expect(error.message).toBe(
      `mallory may not decide approval request ${request.id}: rule writes-need-approval needs a member of groups dba, sre, ` +
        'and mallory is in groups agents, DBA; ask a member of dba, sre to decide it',
    );
    expect(refusal(() => service.decide(request.id, identity({ subject: 'nobody', clientId: 'n', groups: [] }), 'deny', '')).message).toMatch(
      /nobody is in no groups/,
    );
    expect(service.get(request.id)?.status).toBe('pending');
  });
});

describe('refused decisions', () => {
  it('unknown id: 404 from decide, wait, markRedeemed', async () => {
    expect(refusal(() => service.decide('nope', dba('dana'), 'approve', '')).status).toBe(404);
    expect(refusal(() => service.markRedeemed('nope')).status).toBe(404);
    await expect(service.wait('nope')).rejects.toMatchObject({ name: 'ApprovalError', status: 404, message: expect.stringMatching(/no approval request "nope"/) });
    expect(service.get('nope')).toBeUndefined();
  });

  it('a decided request: 409', () => {
    const request = service.request(newRequest());
    service.decide(request.id, dba('dana'), 'deny', 'no');
    const error = refusal(() => service.decide(request.id, dba('eve'), 'approve', ''));
    expect(error.status).toBe(409);
    expect(error.message).toMatch(/was already denied by dana/);
  });

  it('a comment longer than the limit, or with NUL, or a decision that is neither: 400, nothing recorded', () => {
    const request = service.request(newRequest());
    const long = refusal(() => service.decide(request.id, dba('dana'), 'deny', 'x'.repeat(MAX_COMMENT_LENGTH + 1)));
    expect(long.status).toBe(400);
    expect(long.message).toMatch(/2001 characters long; at most 2000/);
    expect(refusal(() => service.decide(request.id, dba('dana'), 'deny', 'a\0b')).status).toBe(400);
    expect(refusal(() => service.decide(request.id, dba('dana'), 'maybe' as 'approve', '')).status).toBe(400);
    expect(service.get(request.id)?.decisions).toEqual([]);
    expect(service.decide(request.id, dba('dana'), 'deny', 'y'.repeat(MAX_COMMENT_LENGTH)).status).toBe('denied');
  });
});

describe('the timeout', () => {
  it('expires a pending request at its deadline: waiters hear it, decisions are refused', async () => {
    const request = service.request(newRequest());
    const waiting = service.wait(request.id);
    vi.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(await settled(waiting)).toBe(false);
    expect(service.get(request.id)?.status).toBe('pending');
    vi.advanceTimersByTime(1);
    expect((await waiting).status).toBe('expired');
    expect(service.list({ status: 'expired' }).map((r) => r.id)).toEqual([request.id]);
    expect(service.list({ status: 'pending' })).toEqual([]);
    const error = refusal(() => service.decide(request.id, dba('dana'), 'approve', ''));
    expect(error.status).toBe(409);
    expect(error.message).toMatch(/timed out at 2025-01-01T00:05:00.000Z/);
    expect(opened.kinds()).toEqual([`requested ${request.id}`, `expired ${request.id}`]);
  });

  it('past the deadline a request counts as expired even before its timer has run', () => {
    let now = T0;
    ({ service } = fixture.reopen({ now: () => now }));
    const request = service.request(newRequest());
    now += TIMEOUT_MS; // the clock moved, the timer has not fired
    expect(service.get(request.id)?.status).toBe('expired');
    expect(service.list({ status: 'expired' })).toHaveLength(1);
    expect(refusal(() => service.decide(request.id, dba('dana'), 'approve', '')).status).toBe(409);
  });
});

describe('wait', () => {
  it('resolves with the request as it is when the signal aborts', async () => {
    const request = service.request(newRequest());
    const controller = new AbortController();
    const waiting = service.wait(request.id, controller.signal);
    controller.abort();
    expect(await waiting).toMatchObject({ id: request.id, status: 'pending' });
    // An already aborted signal answers at once.
    expect((await service.wait(request.id, AbortSignal.abort())).status).toBe('pending');
    // The aborted waiter is gone: the decision still reaches another one.
    const other = service.wait(request.id);
    service.decide(request.id, dba('dana'), 'approve', '');
    expect((await other).status).toBe('approved');
  });

  it('close() answers pending waiters with the request as it is', async () => {
    const request = service.request(newRequest());
    const waiting = [service.wait(request.id), service.wait(request.id)];
    service.close();
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual(['pending', 'pending']);
    expect(() => service.get(request.id)).toThrow(/approvals service is closed/);
  });
});

describe('the audit callback', () => {
  it('hears every step, with who decided and their comment', () => {
    const request = service.request(newRequest({ minApprovals: 2 }));
    service.decide(request.id, dba('dana'), 'approve', 'one');
    service.decide(request.id, dba('eve', null), 'approve', 'two');
    service.markRedeemed(request.id);
    expect(opened.events.map((e) => [e.kind, e.request.status, e.by, e.comment])).toEqual([
      ['requested', 'pending', undefined, undefined],
      ['decision', 'pending', { subject: 'dana', clientId: 'dana-cli' }, 'one'],
      ['approved', 'approved', { subject: 'eve', clientId: undefined }, 'two'],
      ['redeemed', 'approved', undefined, undefined],
    ]);
    expect(opened.events[3]?.request.redeemedAt).toBe(T0);
  });

  it('a step the audit log refuses does not happen', () => {
    let fail = false;
    ({ service } = fixture.reopen({
      audit: () => {
        if (fail) throw new Error('recorder closed');
      },
    }));
    fail = true;
    expect(() => service.request(newRequest())).toThrow('recorder closed');
    expect(service.list()).toEqual([]);
    fail = false;
    const request = service.request(newRequest());
    fail = true;
    expect(() => service.decide(request.id, dba('dana'), 'approve', '')).toThrow('recorder closed');
    expect(service.get(request.id)).toMatchObject({ status: 'pending', decisions: [] });
    fail = false;
    service.decide(request.id, dba('dana'), 'approve', '');
    fail = true;
    expect(() => service.markRedeemed(request.id)).toThrow('recorder closed');
    expect(service.get(request.id)?.redeemedAt).toBeUndefined();
  });

  it('a timeout the audit log refuses still denies', async () => {
    const logs: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (msg: string) => void logs.push(msg), child: () => logger };
    ({ service } = fixture.reopen({ logger, audit: (e) => { if (e.kind === 'expired') throw new Error('disk full'); } }));
    const request = service.request(newRequest());
    const waiting = service.wait(request.id);
    vi.advanceTimersByTime(TIMEOUT_MS);
    expect((await waiting).status).toBe('expired');
    expect(service.get(request.id)?.status).toBe('expired');
    expect(logs).toEqual([expect.stringMatching(/could not record that an approval request timed out; it is refused as timed out all the same/)]);
  });
});

describe('request ids', () => {
  it('are 22 URL-safe characters that never start with "-" or "_" (they are pasted as command-line arguments)', () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
