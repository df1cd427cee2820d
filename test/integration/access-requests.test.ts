/**
 * Time-boxed connection access on the data path: a connection with
 * `access.require_approval` admits an agent only while it holds an approved access request,
 * and ends its sessions when the grant expires. Driven with node-postgres through the real
 * gateway; the request is made and approved through the gateway's approval service (the REST
 * endpoint and CLI over it have their own tests).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessApprovalConfig } from '../../src/config/types.js';
import type { Identity } from '../../src/identity/identity.js';
import { pollUntil } from '../support/poll.js';
import { demoConnection, startStack, type Stack } from '../support/stack.js';

const REQUIRE_APPROVAL: AccessApprovalConfig = { approvers: ['approvers'], minApprovals: 1, timeoutMs: 60_000, maxDurationMs: 8 * 3_600_000 };
const APPROVER: Identity = { subject: 'approver-1', clientId: 'approver-1', groups: ['approvers'], scopes: [], issuer: 'x', expiresAt: Date.now() + 3_600_000 };

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    connections: (postgres) => {
      const demo = demoConnection(postgres);
      return [demo, { ...demo, name: 'gated', access: { ...demo.access, requireApproval: REQUIRE_APPROVAL } }];
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function connectGated(): Promise<pg.Client> {
  const client = new pg.Client(stack.clientConfig(await stack.token(), 'gated'));
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** An access request for the agent, approved by an approver. */
function grantAccess(durationMs: number): string {
  const approvals = stack.gateway.approvals;
  const request = approvals.requestAccess({
    subject: 'agent',
    clientId: 'agent',
    groups: ['agents'],
    connection: 'gated',
    durationMs,
    reason: 'incident 42: read the order queue',
    config: REQUIRE_APPROVAL,
  });
  approvals.decide(request.id, APPROVER, 'approve', 'go ahead');
  return request.id;
}

describe('a connection that requires an approved access request', () => {
  it('refuses an agent without one, saying how to ask; connections without the requirement are unaffected', async () => {
    await expect(connectGated()).rejects.toMatchObject({
      code: '28000',
      message: expect.stringMatching(
        /^connection "gated" needs an approved access request: ask for one with portcullis access request --connection gated --duration 30m/,
      ),
    });
    const open = await stack.connect('demo');
    expect((await open.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await open.end();
  });

  it('admits the agent while the grant lasts, and ends its session when the grant expires', async () => {
    const id = grantAccess(2_000);
    const client = await connectGated();
    const ended = new Promise<Error>((resolve) => client.once('error', resolve));
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const error = (await ended) as Error & { code?: string };
    expect(error.code).toBe('28000');
    expect(error.message).toMatch(new RegExp(`^access to connection "gated" granted by request ${id} ended at .+; ask for access again`));
    await client.end().catch(() => undefined);
    await pollUntil(async () => stack.gateway.approvals.accessGrant('agent', 'agent', 'gated'), (g) => g === undefined, { what: 'the grant to expire' });
    await expect(connectGated()).rejects.toMatchObject({ code: '28000' });
  });

  it('ends the sessions a revoked grant admitted, and admits no new ones', async () => {
    const id = grantAccess(60_000);
    const client = await connectGated();
    const ended = new Promise<Error & { code?: string }>((resolve) => client.once('error', resolve));
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    stack.gateway.approvals.revoke(id, APPROVER, 'incident closed', false);
    const error = await ended;
    expect(error.code).toBe('28000');
    expect(error.message).toBe(`access to connection "gated" (request ${id}) was revoked; ask for access again with portcullis access request`);
    await client.end().catch(() => undefined);
    await expect(connectGated()).rejects.toMatchObject({ code: '28000' });
  });
});
