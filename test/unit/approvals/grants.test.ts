/**
 * Grants (issue 5, points 2 and 3). `grant: once`: an approval releases exactly its
 * operation, by its identity, on its connection, once. A window grant (`grant: 30m`): for its
 * duration, any operation under its rule by the same identity on the same connection.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { operationHash } from '../../../src/approvals/binding.js';
import type { ApprovalRequest, ApprovalService, OperationBinding } from '../../../src/approvals/types.js';
import { GRANT_TTL_MS, T0, identity, newRequest, openService, refusal, removeTempDirs, tempDataDir } from './support.js';

afterAll(removeTempDirs);

const approver = identity({ subject: 'dana', clientId: 'dana-cli', groups: ['dba'] });

let opened: ReturnType<typeof openService>;
let service: ApprovalService;
let approved: ApprovalRequest;
/** The binding of the approved request, as a reconnected agent's front door computes it. */
let binding: OperationBinding;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  opened = openService(tempDataDir());
  service = opened.service;
  const request = service.request(newRequest({ text: 'UPDATE orders SET state = $2 WHERE id = $1', parameters: ['7', 'shipped'] }));
  approved = service.decide(request.id, approver, 'approve', 'ok');
  binding = {
    subject: 'agent-1',
    clientId: 'ci-bot',
    connection: 'prod-db',
    rule: 'writes-need-approval',
    operationHash: operationHash('UPDATE orders SET state = $2 WHERE id = $1', ['7', 'shipped']),
  };
});
afterEach(() => {
  service.close();
  vi.useRealTimers();
});

describe('redeem (the agent reconnected and retries)', () => {
  it('releases the identical operation exactly once, recorded and audited', () => {
    vi.advanceTimersByTime(60_000);
    const redeemed = service.redeem(binding);
    expect(redeemed).toMatchObject({ id: approved.id, status: 'approved', redeemedAt: T0 + 60_000 });
    expect(service.get(approved.id)?.redeemedAt).toBe(T0 + 60_000);
    expect(service.redeem(binding)).toBeUndefined();
    expect(opened.kinds()).toEqual([`requested ${approved.id}`, `approved ${approved.id}`, `redeemed ${approved.id}`]);
  });

  it.each<[string, Partial<OperationBinding>]>([
    ['another statement text', { operationHash: operationHash('UPDATE orders SET state = $2 WHERE id = $1 ', ['7', 'shipped']) }],
    ['other parameter values', { operationHash: operationHash('UPDATE orders SET state = $2 WHERE id = $1', ['8', 'shipped']) }],
    ['the same values in binary format', { operationHash: operationHash('UPDATE orders SET state = $2 WHERE id = $1', [{ base64: 'Nw==' }, 'shipped']) }],
    ['another subject', { subject: 'agent-2' }],
    ['another client id', { clientId: 'other-bot' }],
    ['no client id', { clientId: undefined }],
    ['another connection', { connection: 'staging-db' }],
    ['another rule', { rule: 'other-rule' }],
  ])('releases nothing for %s, and the grant stays usable', (_name, change) => {
    expect(service.redeem({ ...binding, ...change })).toBeUndefined();
    expect(service.redeem(binding)?.id).toBe(approved.id);
  });

  it('releases nothing once the grant TTL has passed', () => {
    vi.advanceTimersByTime(GRANT_TTL_MS);
    expect(service.redeem(binding)).toBeUndefined();
    expect(service.get(approved.id)?.redeemedAt).toBeUndefined();
  });

  it('releases nothing before approval, or after a denial', () => {
    const pending = service.request(newRequest({ text: 'DELETE FROM orders', parameters: undefined }));
    const pendingBinding = { ...binding, operationHash: pending.operationHash };
    expect(service.redeem(pendingBinding)).toBeUndefined();
    service.decide(pending.id, approver, 'deny', 'no');
    expect(service.redeem(pendingBinding)).toBeUndefined();
  });

  it('uses the grant expiring first when the same operation was approved twice', () => {
    vi.advanceTimersByTime(1000);
    const second = service.request(newRequest({ text: 'UPDATE orders SET state = $2 WHERE id = $1', parameters: ['7', 'shipped'] }));
    service.decide(second.id, approver, 'approve', '');
    expect(service.redeem(binding)?.id).toBe(approved.id);
    expect(service.redeem(binding)?.id).toBe(second.id);
    expect(service.redeem(binding)).toBeUndefined();
  });
});

describe('markRedeemed (the held connection forwards it)', () => {
  it('uses the grant: it cannot be redeemed again', () => {
    service.markRedeemed(approved.id);
    expect(service.get(approved.id)?.redeemedAt).toBe(T0);
    expect(service.redeem(binding)).toBeUndefined();
    const twice = refusal(() => service.markRedeemed(approved.id));
    expect(twice.status).toBe(409);
    expect(twice.message).toMatch(/was already used at 2025-01-01T00:00:00.000Z: a once grant runs its operation once/);
  });

  it('is refused when the grant was already redeemed on another connection', () => {
    expect(service.redeem(binding)?.id).toBe(approved.id);
    expect(refusal(() => service.markRedeemed(approved.id)).status).toBe(409);
  });

  it('is refused for a request that is not approved, or whose grant expired', () => {
    const pending = service.request(newRequest());
    const error = refusal(() => service.markRedeemed(pending.id));
    expect(error.status).toBe(409);
    expect(error.message).toMatch(/is pending, not approved: its operation must not run/);
    vi.advanceTimersByTime(GRANT_TTL_MS);
    expect(refusal(() => service.markRedeemed(approved.id)).message).toMatch(/expired at 2025-01-01T00:15:00.000Z/);
  });
});

describe('a window grant (grant: 30m)', () => {
  const WINDOW_MS = 30 * 60_000;
  /** When the window request below is approved. */
  const APPROVED_AT = T0 + 10_000;
  let windowed: ApprovalRequest;
  /** The window request's binding with another operation under the same rule. */
  const other = (text: string, parameters: readonly string[] | undefined = undefined): OperationBinding => ({
    ...binding,
    rule: 'orders-writes-30m',
    operationHash: operationHash(text, parameters),
  });

  beforeEach(() => {
    const request = service.request(newRequest({ rule: 'orders-writes-30m', text: 'DELETE FROM orders WHERE id = 1', parameters: undefined, grant: { kind: 'window', durationMs: WINDOW_MS } }));
    vi.advanceTimersByTime(10_000);
    windowed = service.decide(request.id, approver, 'approve', 'for the migration');
    // The held connection runs the approved statement itself.
    service.markRedeemed(windowed.id);
  });

  it('opens for its duration from the approval, carrying its grant', () => {
    expect(windowed).toMatchObject({ status: 'approved', grant: { kind: 'window', durationMs: WINDOW_MS }, grantExpiresAt: APPROVED_AT + WINDOW_MS });
    expect(service.get(windowed.id)).toMatchObject({ redeemedAt: APPROVED_AT, uses: 1 });
  });

  it('releases other statements under the same rule by the same identity on the same connection, without being used up; each use audited', () => {
    const first = other('UPDATE orders SET state = $1 WHERE id = $2', ['paid', '3']);
    const second = other('INSERT INTO orders (id) VALUES (9)');
    vi.advanceTimersByTime(60_000);
    expect(service.redeem(first)).toMatchObject({ id: windowed.id, uses: 2, redeemedAt: APPROVED_AT });
    expect(service.redeem(second)).toMatchObject({ id: windowed.id, uses: 3 });
    expect(service.redeem(first)).toMatchObject({ id: windowed.id, uses: 4 });
    expect(service.get(windowed.id)).toMatchObject({ status: 'approved', uses: 4, redeemedAt: APPROVED_AT });

    const redeemed = opened.events.filter((event) => event.kind === 'redeemed' && event.request.id === windowed.id);
    expect(redeemed.map((event) => [event.releasedOperationHash, event.request.uses])).toEqual([
      [windowed.operationHash, 1],
      [first.operationHash, 2],
      [second.operationHash, 3],
      [first.operationHash, 4],
    ]);
  });

  it.each<[string, Partial<OperationBinding>]>([
    ['another subject', { subject: 'agent-2' }],
    ['another client id', { clientId: 'other-bot' }],
    ['no client id', { clientId: undefined }],
    ['another connection', { connection: 'staging-db' }],
    ['another rule', { rule: 'writes-need-approval' }],
  ])('releases nothing for %s', (_name, change) => {
    const probe = { ...other('DELETE FROM orders WHERE id = 2'), ...change };
    expect(service.redeem(probe)).toBeUndefined();
    expect(service.get(windowed.id)?.uses).toBe(1);
  });

  it('ends exactly at approval + its duration (the injected clock), for redeem and for the held connection', () => {
    const probe = other('DELETE FROM orders WHERE id = 2');
    vi.setSystemTime(APPROVED_AT + WINDOW_MS - 1);
    expect(service.redeem(probe)?.id).toBe(windowed.id);
    vi.setSystemTime(APPROVED_AT + WINDOW_MS);
    expect(service.redeem(probe)).toBeUndefined();
    expect(refusal(() => service.markRedeemed(windowed.id)).message).toMatch(/expired at 2025-01-01T00:30:10.000Z: ask for approval again/);
    expect(service.get(windowed.id)).toMatchObject({ status: 'approved', uses: 2 });
  });

  it('lets the held connection run its statement again while it lasts (it is not a once grant)', () => {
    service.markRedeemed(windowed.id);
    expect(service.get(windowed.id)?.uses).toBe(2);
  });

  it('a once grant for exactly the operation is used before a window grant under the same rule', () => {
    const request = service.request(newRequest({ rule: 'orders-writes-30m', text: 'DELETE FROM orders WHERE id = 5', parameters: undefined }));
    service.decide(request.id, approver, 'approve', '');
    const probe = other('DELETE FROM orders WHERE id = 5');
    expect(service.redeem(probe)?.id).toBe(request.id);
    expect(service.redeem(probe)?.id).toBe(windowed.id);
  });
});
