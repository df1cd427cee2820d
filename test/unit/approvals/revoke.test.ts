/** Revoking a grant (issue 5, point 3): who may, which grants, and what it stops. */
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { operationHash } from '../../../src/approvals/binding.js';
import { MAX_COMMENT_LENGTH } from '../../../src/approvals/rules.js';
import type { ApprovalRequest, ApprovalService, OperationBinding } from '../../../src/approvals/types.js';
import { GRANT_TTL_MS, HELD, T0, TIMEOUT_MS, WINDOW_30M, approvedRequest, identity, newRequest, refusal, removeTempDirs, serviceEachTest } from './support.js';

afterAll(removeTempDirs);

const dana = identity({ subject: 'dana', clientId: 'dana-cli', groups: ['dba'] });
const erin = identity({ subject: 'erin', clientId: 'erin-cli', groups: ['dba'] });
/** In neither the approvers group nor (unless the caller says so) an admin. */
const root = identity({ subject: 'root', clientId: 'ops-cli', groups: ['platform-admins'] });
const mallory = identity({ subject: 'mallory', clientId: 'm-cli', groups: ['contractors'] });

/** The binding of `HELD` as a reconnected agent's front door computes it. */
const heldBinding: OperationBinding = {
  subject: HELD.subject,
  clientId: HELD.clientId,
  connection: HELD.connection,
  rule: HELD.rule,
  operationHash: operationHash(HELD.text, HELD.parameters),
};
const otherStatement: OperationBinding = { ...heldBinding, operationHash: operationHash('DELETE FROM orders WHERE id = 8', undefined) };

const fixture = serviceEachTest();
let service: ApprovalService;
beforeEach(() => {
  ({ service } = fixture.current);
});

const approvedOnce = (): ApprovalRequest => approvedRequest(service, dana);
const approvedWindow = (): ApprovalRequest => approvedRequest(service, dana, { grant: WINDOW_30M });

describe('revoking', () => {
  it('an unused once grant: redeem no longer releases it, the held connection may not run it, and it is recorded and audited', () => {
    const approved = approvedOnce();
    vi.advanceTimersByTime(60_000);
    const revoked = service.revoke(approved.id, erin, 'wrong customer', false);
    const revocation = { subject: 'erin', clientId: 'erin-cli', comment: 'wrong customer', at: T0 + 60_000, asAdmin: false };
    expect(revoked).toMatchObject({ status: 'revoked', revocation, grantExpiresAt: T0 + GRANT_TTL_MS, uses: 0 });
    expect(service.get(approved.id)).toEqual(revoked);
    expect(service.redeem(heldBinding)).toBeUndefined();
    expect(refusal(() => service.markRedeemed(approved.id)).message).toMatch(/was revoked by erin at 2025-01-01T00:01:00.000Z/);
    expect(service.list({ status: 'revoked' }).map((r) => r.id)).toEqual([approved.id]);
    expect(service.list({ status: 'approved' })).toEqual([]);
    const step = fixture.current.events.at(-1);
    expect(step).toMatchObject({ kind: 'revoked', request: { id: approved.id, status: 'revoked' }, by: { subject: 'erin', clientId: 'erin-cli' }, comment: 'wrong customer' });
  });

  it('an active window grant: it stops releasing statements at once', () => {
    const approved = approvedWindow();
    expect(service.redeem(otherStatement)?.id).toBe(approved.id);
    vi.advanceTimersByTime(5 * 60_000);
    service.revoke(approved.id, dana, 'migration done early', false);
    expect(service.redeem(otherStatement)).toBeUndefined();
    expect(service.redeem(heldBinding)).toBeUndefined();
    expect(service.get(approved.id)).toMatchObject({ status: 'revoked', uses: 1 });
  });

  it('is allowed to an admin outside the approvers groups (the caller says so), and recorded as such', () => {
    const approved = approvedWindow();
    expect(service.revoke(approved.id, root, 'incident', true).revocation).toMatchObject({ subject: 'root', asAdmin: true });
  });

  it.each([
    ['someone in no approvers group', mallory],
    ['an admin group member when the caller does not vouch for it', root],
    ['the requester', identity({ subject: HELD.subject, clientId: HELD.clientId, groups: ['agents'] })],
  ])('is refused (403) to %s, naming who may', (_name, who) => {
    const approved = approvedWindow();
    const error = refusal(() => service.revoke(approved.id, who, 'stop', false));
    expect(error.status).toBe(403);
    expect(error.message).toBe(
      `${who.subject} may not revoke the grant of approval request ${approved.id}: only members of group dba (rule ${HELD.rule}'s approvers) ` +
        'and gateway admins may; ask one of them to revoke it',
    );
    expect(service.redeem(otherStatement)?.id).toBe(approved.id);
  });

  it('is refused (409) for a pending request: deny it instead', () => {
    const pending = service.request(newRequest());
    const error = refusal(() => service.revoke(pending.id, dana, 'no', false));
    expect(error.status).toBe(409);
    expect(error.message).toBe(
      `approval request ${pending.id} is pending, not approved: there is no grant to revoke; deny it instead ("portcullis approvals deny ${pending.id} --comment …")`,
    );
    expect(service.get(pending.id)?.status).toBe('pending');
  });

  it('is refused (409) when there is nothing left to revoke', () => {
    const denied = service.decide(service.request(newRequest()).id, dana, 'deny', 'no');
    expect(refusal(() => service.revoke(denied.id, erin, 'x', false)).message).toMatch(/was already denied by dana at .*; there is nothing left to revoke$/);

    const timedOut = service.request(newRequest());
    const used = approvedOnce();
    service.markRedeemed(used.id);
    expect(refusal(() => service.revoke(used.id, erin, 'x', false)).message).toMatch(/was already used at .*: a once grant runs its operation once; there is nothing left to revoke$/);

    const windowed = approvedWindow();
    service.revoke(windowed.id, dana, 'first', false);
    const twice = refusal(() => service.revoke(windowed.id, erin, 'second', false));
    expect(twice.status).toBe(409);
    expect(twice.message).toMatch(/was approved, then revoked by dana at .*; there is nothing left to revoke$/);

    const ended = approvedWindow();
    vi.advanceTimersByTime(Math.max(30 * 60_000, TIMEOUT_MS));
    expect(refusal(() => service.revoke(ended.id, dana, 'x', false)).message).toMatch(/expired at .*; there is nothing left to revoke$/);
    expect(refusal(() => service.revoke(timedOut.id, dana, 'x', false)).message).toMatch(/timed out at .*; there is nothing left to revoke$/);
  });

  it.each([
    ['no comment', '', /revoking needs a comment/],
    ['a blank comment', '   ', /revoking needs a comment/],
    ['an overlong comment', 'x'.repeat(MAX_COMMENT_LENGTH + 1), /at most 2000 are allowed: shorten it and revoke again/],
    ['a NUL in the comment', 'a\0b', /contains a NUL character/],
  ])('is refused (400) with %s', (_name, comment, message) => {
    const approved = approvedOnce();
    const error = refusal(() => service.revoke(approved.id, dana, comment, false));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
    expect(service.get(approved.id)?.status).toBe('approved');
  });

  it('is refused (404) for an unknown id', () => {
    expect(refusal(() => service.revoke('nope', dana, 'x', true)).status).toBe(404);
  });

  it('is not written when the audit step cannot be', () => {
    let failing = false;
    ({ service } = fixture.reopen({
      audit: (event) => {
        if (failing) throw new Error(`recorder down at ${event.kind}`);
      },
    }));
    const approved = approvedOnce();
    failing = true;
    expect(() => service.revoke(approved.id, dana, 'x', false)).toThrow(/recorder down at revoked/);
    failing = false;
    expect(service.get(approved.id)?.status).toBe('approved');
    expect(service.redeem(heldBinding)?.id).toBe(approved.id);
  });
});
