/** What the admin-API commands' unit tests share: a request as the API shows it, and an environment without PORTCULLIS_URL/TOKEN. */
import { afterEach, beforeEach } from 'vitest';
import type { ApprovalJson } from '../../../src/admin/approvals.js';

/** A pending operation held by agent-7 on demo under rule orders-writes, created 09:30 (UTC) and expiring 09:35, unless `overrides` say otherwise. */
export function approvalJsonFixture(overrides: Partial<ApprovalJson> = {}): ApprovalJson {
  return {
    id: 'Zx3kQ9',
    kind: 'operation',
    status: 'pending',
    subject: 'agent-7',
    clientId: 'agent',
    groups: ['agents'],
    connection: 'demo',
    sessionId: 'session-1',
    rule: 'orders-writes',
    reason: 'Writes to orders need approval.',
    text: 'UPDATE orders SET status = $1\nWHERE id = 7',
    parameters: ['paid', null, { base64: 'AAE=' }],
    operationHash: 'ab'.repeat(32),
    approvers: ['approvers'],
    minApprovals: 1,
    approvals: 0,
    createdAt: '2025-01-01T09:30:00.000Z',
    expiresAt: '2025-01-01T09:35:00.000Z',
    decisions: [],
    grant: { kind: 'once', ttlMs: 900_000 },
    redeemedAt: null,
    uses: 0,
    grantExpiresAt: null,
    revocation: null,
    ...overrides,
  };
}

/** Registers hooks giving each test an environment without PORTCULLIS_URL and PORTCULLIS_TOKEN (restored after it). */
export function withoutAdminEnv(): void {
  const saved = { url: process.env['PORTCULLIS_URL'], token: process.env['PORTCULLIS_TOKEN'] };
  beforeEach(() => {
    delete process.env['PORTCULLIS_URL'];
    delete process.env['PORTCULLIS_TOKEN'];
  });
  afterEach(() => {
    for (const [name, value] of [['PORTCULLIS_URL', saved.url], ['PORTCULLIS_TOKEN', saved.token]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}
