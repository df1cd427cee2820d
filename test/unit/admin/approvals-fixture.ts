/** Approval requests made the way the front door makes them, for the admin API and CLI tests. */
import { afterEach, beforeEach } from 'vitest';
import { operationHash } from '../../../src/approvals/binding.js';
import { createApprovalService } from '../../../src/approvals/service.js';
import type { ApprovalRequest, ApprovalService, NewApprovalRequest } from '../../../src/approvals/types.js';
import type { ReviewGrant } from '../../../src/config/types.js';
import type { Identity } from '../../../src/identity/identity.js';
import { fakeClock, removeTempDirs, tempDataDir } from '../recording/support.js';

/**
 * Registers hooks giving each test a real ApprovalService of its own (SQLite in a temp dir,
 * closed after the test) whose clock advances 1 s per reading, so requests made in a row have
 * distinct creation times. Returns a getter for the current test's service.
 */
export function serviceEachTest(): () => ApprovalService {
  let service: ApprovalService | undefined;
  beforeEach(() => {
    service = createApprovalService({ dataDir: tempDataDir(), now: fakeClock() });
  });
  afterEach(() => {
    service?.close();
    removeTempDirs();
  });
  return () => {
    if (service === undefined) throw new Error('serviceEachTest(): the service exists only inside a test');
    return service;
  };
}

export function identity(subject: string, groups: readonly string[], clientId: string | undefined = subject): Identity {
  return { subject, clientId, groups, scopes: [], issuer: 'https://idp.example', expiresAt: Date.now() + 3_600_000 };
}

export interface AskOptions {
  readonly text?: string;
  readonly parameters?: NewApprovalRequest['parameters'];
  readonly approvers?: readonly string[];
  readonly minApprovals?: number;
  readonly timeoutMs?: number;
  readonly rule?: string;
  /** Default: once, redeemable for 15 minutes. */
  readonly grant?: ReviewGrant;
}

/** A pending request by `requester` (an agent) held under a review rule on connection `demo`. */
export function ask(service: ApprovalService, requester: Pick<Identity, 'subject' | 'clientId' | 'groups'>, options: AskOptions = {}): ApprovalRequest {
  const text = options.text ?? 'UPDATE orders SET status = $1 WHERE id = 7';
  const parameters = 'parameters' in options ? options.parameters : ['paid'];
  return service.request({
    subject: requester.subject,
    clientId: requester.clientId,
    groups: requester.groups,
    connection: 'demo',
    rule: options.rule ?? 'orders-writes-need-approval',
    operationHash: operationHash(text, parameters),
    text,
    parameters,
    sessionId: 'session-1',
    reason: 'Writes to orders need a human approver.',
    review: {
      approvers: options.approvers ?? ['approvers'],
      minApprovals: options.minApprovals ?? 1,
      timeoutMs: options.timeoutMs ?? 600_000,
      grant: options.grant ?? { kind: 'once', ttlMs: 900_000 },
    },
  });
}
