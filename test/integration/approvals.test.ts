/**
 * Just-in-time approvals on the data path: a statement the gate sends to review is held on
 * the live connection (the agent is told at once, with a NoticeResponse naming the request),
 * then runs once approved, or is refused if denied or not decided in time. Driven with
 * node-postgres and a raw wire client through the real gateway; approvers decide through the
 * gateway's approval service (the HTTP API and CLI over it have their own tests).
 */
import { execFile, execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest, ApprovalService } from '../../src/approvals/types.js';
import type { RuleConfig } from '../../src/config/types.js';
import type { Identity } from '../../src/identity/identity.js';
import { RawClient, errorFields, fe, types } from '../support/raw-client.js';
import { pollUntil } from '../support/poll.js';
import { demoConnection, startStack, type Stack } from '../support/stack.js';

function reviewRule(name: string, table: string, review: Partial<NonNullable<RuleConfig['review']>> = {}): RuleConfig {
  return {
    name,
    when: {
      identity: undefined,
      sql: { classes: ['write'], kinds: undefined, tables: [table], functions: undefined, flags: undefined, unparseable: false },
    },
    effect: 'review',
    reason: `Writes to ${table} need a human approver.`,
    review: { approvers: ['approvers'], minApprovals: 1, timeoutMs: 30_000, grant: { kind: 'once', ttlMs: 15 * 60_000 }, ...review },
  };
}

function approver(subject: string, groups: readonly string[] = ['approvers']): Identity {
  return { subject, clientId: subject, groups, scopes: [], issuer: 'https://idp.example', expiresAt: Date.now() + 3_600_000 };
}

/** The NoticeResponse fields node-postgres hands to 'notice' listeners (the ones read here). */
interface Notice {
  readonly severity?: string | undefined;
  readonly code?: string | undefined;
  readonly message?: string | undefined;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
}

let stack: Stack;
let approvals: ApprovalService;

/** A node-postgres client as the agent, collecting the notices it is sent. */
async function agentClient(): Promise<{ client: pg.Client; notices: Notice[] }> {
  const client = await stack.connect();
  const notices: Notice[] = [];
  client.on('notice', (n) => notices.push(n));
  client.on('error', () => undefined);
  return { client, notices };
}

/** The request the agent was told about, once a notice beyond the first `seen` arrived. */
async function heldRequest(notices: Notice[], seen = 0): Promise<ApprovalRequest> {
  await pollUntil(async () => notices.length, (n) => n > seen, { what: 'the held-for-approval notice', intervalMs: 10 });
  const id = /request ([A-Za-z0-9_-]+)\)/.exec(notices.at(-1)!.message ?? '')?.[1];
  expect(id, notices.at(-1)!.message).toBeDefined();
  return approvals.get(id!)!;
}

async function statusOf(id: number): Promise<string | null> {
  const rows = await stack.postgres.pg.query<{ status: string | null }>('SELECT status FROM orders WHERE id = $1', [id], { database: 'app' });
  return rows[0]?.status ?? null;
}

beforeAll(async () => {
  stack = await startStack({
    connections: (postgres) => [
      demoConnection(postgres, {
        rules: [
          reviewRule('order-writes-need-approval', 'public.orders'),
          reviewRule('customer-writes-need-two', 'public.customers', { minApprovals: 2, timeoutMs: 1_000 }),
          reviewRule('shipment-writes-window', 'public.shipments', { grant: { kind: 'window', durationMs: 30 * 60_000 } }),
        ],
      }),
    ],
  });
  approvals = stack.gateway.approvals!;
  const app = { database: 'app' };
  await stack.postgres.pg.query("INSERT INTO orders (id, status) SELECT g, 'new' FROM generate_series(9001, 9010) g", [], app);
  await stack.postgres.pg.query('CREATE TABLE shipments (id int PRIMARY KEY, status text)', [], app);
  await stack.postgres.pg.query("INSERT INTO shipments SELECT g, 'new' FROM generate_series(1, 10) g", [], app);
  await stack.postgres.pg.query('GRANT SELECT, UPDATE ON shipments TO agent_rw', [], app);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('a statement held for approval', () => {
  it('is held (the agent is told, other sessions carry on), then runs once approved', async () => {
    const { client, notices } = await agentClient();
    try {
      const started = Date.now();
      const update = client.query("UPDATE orders SET status = 'approved-1' WHERE id = 9001");
      const request = await heldRequest(notices);
      expect(notices[0]).toMatchObject({ severity: 'NOTICE', code: '01000' });
      expect(notices[0]!.message).toMatch(/held for approval \(request .+\); it runs once approved/);
      expect(notices[0]!.detail).toMatch(/needs human approval under rule "order-writes-need-approval".*Approvers: group approvers/);
      expect(notices[0]!.hint).toBe(`an approver runs: portcullis approvals approve ${request.id}`);
      expect(request).toMatchObject({ status: 'pending', connection: 'demo', rule: 'order-writes-need-approval', subject: 'agent' });
      expect(request.text).toBe("UPDATE orders SET status = 'approved-1' WHERE id = 9001");

      // Held, not forwarded: the row is unchanged, and another session is not blocked.
      expect(await statusOf(9001)).toBe('new');
      const other = await stack.connect();
      expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await other.end();

      approvals.decide(request.id, approver('approver-1'), 'approve', 'looks fine');
      const result = await update;
      expect(result.rowCount).toBe(1);
      expect(await statusOf(9001)).toBe('approved-1');
      expect(approvals.get(request.id)).toMatchObject({ status: 'approved' });
      expect(approvals.get(request.id)!.redeemedAt).toBeGreaterThanOrEqual(started);
    } finally {
      await client.end();
    }
  });

  it('is refused with the approver\'s comment when denied; the transaction is aborted as for any error', async () => {
    const { client, notices } = await agentClient();
    try {
      await client.query('BEGIN');
      const update = client.query("UPDATE orders SET status = 'denied' WHERE id = 9002");
      const request = await heldRequest(notices);
      approvals.decide(request.id, approver('approver-1'), 'deny', 'not during the freeze');
      await expect(update).rejects.toMatchObject({
        code: '42501',
        message: `Portcullis: approval request ${request.id} was denied by approver-1: not during the freeze (rule "order-writes-need-approval")`,
      });
      await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await client.query('ROLLBACK');
      expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      expect(await statusOf(9002)).toBe('new');
    } finally {
      await client.end();
    }
  });

  it('is refused when no decision comes in time (and one approval of two is not enough)', async () => {
    const { client, notices } = await agentClient();
    try {
      const update = client.query("UPDATE customers SET full_name = 'x' WHERE id = -1");
      const request = await heldRequest(notices);
      approvals.decide(request.id, approver('approver-1'), 'approve', 'one of two');
      await expect(update).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/approval request .+ timed out: no decision within 1s/) });
      expect(approvals.get(request.id)).toMatchObject({ status: 'expired' });
    } finally {
      await client.end();
    }
  });

  it('runs once two distinct approvers approve when the rule needs two (the same approver twice does not count)', async () => {
    const { client, notices } = await agentClient();
    try {
      const update = client.query("UPDATE customers SET full_name = full_name WHERE id = -2");
      const request = await heldRequest(notices);
      approvals.decide(request.id, approver('approver-1'), 'approve', 'first');
      expect(() => approvals.decide(request.id, approver('approver-1'), 'approve', 'again')).toThrow(/already/);
      expect(approvals.get(request.id)).toMatchObject({ status: 'pending' });
      approvals.decide(request.id, approver('approver-3'), 'approve', 'second');
      expect((await update).command).toBe('UPDATE');
      expect(approvals.get(request.id)).toMatchObject({ status: 'approved' });
    } finally {
      await client.end();
    }
  });

  it('holds what the agent pipelined after it, and runs it in order once approved', async () => {
    const c = await RawClient.connect({ port: stack.port, password: await stack.token(), database: 'demo' });
    try {
      c.send(fe.query("UPDATE orders SET status = 'pipelined' WHERE id = 9003"), fe.query("SELECT status FROM orders WHERE id = 9003"));
      const notice = await c.readUntil((m) => m.type === 'N');
      const id = /request ([A-Za-z0-9_-]+)\)/.exec(errorFields(notice.at(-1)!).get('M') ?? '')![1]!;
      approvals.decide(id, approver('approver-2'), 'approve', '');
      expect(types(await c.readUntilReadyForQuery())).toBe('CZ');
      const second = await c.readUntilReadyForQuery();
      expect(types(second)).toBe('TDCZ');
    } finally {
      await c.close();
    }
  });
});

describe('what an approval releases', () => {
  it('binds to the exact statement, values and identity: an approval granted after the agent left runs once on a new connection', async () => {
    const first = await agentClient();
    const sql = 'UPDATE orders SET status = $1 WHERE id = $2';
    const held = first.client.query(sql, ['reconnected', 9004]);
    held.catch(() => undefined);
    const request = await heldRequest(first.notices);
    expect(request.parameters).toEqual(['reconnected', '9004']);
    await first.client.end(); // the agent gives up waiting
    approvals.decide(request.id, approver('approver-1'), 'approve', 'ok');
    expect(await statusOf(9004)).toBe('new');

    const second = await agentClient();
    try {
      // Different values: not released by it, held again.
      const other = second.client.query(sql, ['reconnected', 9005]);
      other.catch(() => undefined);
      const again = await heldRequest(second.notices);
      expect(again.id).not.toBe(request.id);
      approvals.decide(again.id, approver('approver-1'), 'deny', 'only 9004');
      await expect(other).rejects.toMatchObject({ code: '42501' });

      // The exact operation runs at once, without a new request…
      const before = second.notices.length;
      expect((await second.client.query(sql, ['reconnected', 9004])).rowCount).toBe(1);
      expect(second.notices.length).toBe(before);
      expect(approvals.get(request.id)!.redeemedAt).toBeDefined();
      // …and only once.
      const twice = second.client.query(sql, ['reconnected', 9004]);
      twice.catch(() => undefined);
      const third = await heldRequest(second.notices, before);
      expect(third.id).not.toBe(request.id);
      approvals.decide(third.id, approver('approver-1'), 'deny', 'once is enough');
      await expect(twice).rejects.toMatchObject({ code: '42501' });
    } finally {
      await second.client.end();
    }
  });

  it('refuses self-approval and approvers outside the rule\'s groups', async () => {
    const { client, notices } = await agentClient();
    try {
      const update = client.query("UPDATE orders SET status = 'self' WHERE id = 9006");
      update.catch(() => undefined);
      const request = await heldRequest(notices);
      expect(() => approvals.decide(request.id, { ...approver('agent', ['approvers']), clientId: 'agent' }, 'approve', '')).toThrow(/own/);
      expect(() => approvals.decide(request.id, approver('contractor-1', ['contractors']), 'approve', '')).toThrow(/approvers/);
      expect(approvals.get(request.id)).toMatchObject({ status: 'pending' });
      approvals.decide(request.id, approver('approver-1'), 'deny', 'cleanup');
      await expect(update).rejects.toMatchObject({ code: '42501' });
      expect(await statusOf(9006)).toBe('new');
    } finally {
      await client.end();
    }
  });
});

const PSQL = ((): string | undefined => {
  try {
    return execFileSync('sh', ['-c', 'command -v psql'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

/** The pending request holding `text`, once it exists. */
async function pendingFor(text: string): Promise<ApprovalRequest> {
  const found = await pollUntil(
    async () => stack.gateway.approvals.list({ status: 'pending' }).find((r) => r.text === text),
    (r) => r !== undefined,
    { what: `a pending request for ${text}`, intervalMs: 20 },
  );
  return found!;
}

describe('held statements from other clients, and across a restart', () => {
  it.skipIf(!PSQL)(`psql shows the notice, waits, and prints the result once approved${PSQL ? '' : ' (skipped: no psql)'}`, async () => {
    const text = "UPDATE orders SET status = 'psql' WHERE id = 9007";
    const token = await stack.token();
    const run = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        PSQL!,
        ['-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(stack.port), '-U', 'agent', '-d', 'demo', '-c', text],
        { env: { ...process.env, PGPASSWORD: token, PGSSLMODE: 'disable' }, timeout: 30_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    const request = await pendingFor(text);
    approvals.decide(request.id, approver('approver-2'), 'approve', 'psql ok');
    const result = await run;
    expect(result).toMatchObject({ code: 0, stdout: 'UPDATE 1\n' });
    expect(result.stderr).toContain(`NOTICE:  Portcullis: this statement is held for approval (request ${request.id})`);
    expect(await statusOf(9007)).toBe('psql');
  });

  it('a request pending when the gateway restarts can still be approved, and the agent runs it once on reconnecting', async () => {
    const text = "UPDATE orders SET status = 'after-restart' WHERE id = 9008";
    const { client } = await agentClient();
    const held = client.query(text);
    held.catch(() => undefined);
    const request = await pendingFor(text);
    await stack.restart(); // ends the agent's session (57P01); the request stays pending
    await expect(held).rejects.toMatchObject({ code: '57P01' });
    await client.end().catch(() => undefined);
    approvals = stack.gateway.approvals;
    expect(approvals.get(request.id)).toMatchObject({ status: 'pending' });
    approvals.decide(request.id, approver('approver-1'), 'approve', 'after the restart');
    const again = await agentClient();
    try {
      expect((await again.client.query(text)).rowCount).toBe(1);
      expect(again.notices).toEqual([]);
      expect(await statusOf(9008)).toBe('after-restart');
    } finally {
      await again.client.end();
    }
  });
});

describe('grant: 30m', () => {
  it('releases the agent\'s other writes under the rule, here and on a new connection, until revoked; other rules still ask', async () => {
    const { client, notices } = await agentClient();
    const first = client.query("UPDATE shipments SET status = 'w1' WHERE id = 1");
    const request = await heldRequest(notices);
    expect(notices[0]!.message).toMatch(/also lets your other statements under rule "shipment-writes-window" on this connection run for 30m/);
    approvals.decide(request.id, approver('approver-1'), 'approve', 'window');
    expect((await first).rowCount).toBe(1);
    // Other statements and parameters: no new request.
    expect((await client.query("UPDATE shipments SET status = 'w2' WHERE id = 2")).rowCount).toBe(1);
    expect((await client.query('UPDATE shipments SET status = $1 WHERE id = $2', ['w3', 3])).rowCount).toBe(1);
    expect(notices).toHaveLength(1);
    const fresh = await agentClient();
    expect((await fresh.client.query("UPDATE shipments SET status = 'w4' WHERE id = 4")).rowCount).toBe(1);
    expect(fresh.notices).toHaveLength(0);
    expect(approvals.get(request.id)).toMatchObject({ status: 'approved', uses: 4 });

    // Another rule still asks.
    const orders = fresh.client.query("UPDATE orders SET status = 'x' WHERE id = 9010");
    const other = await heldRequest(fresh.notices);
    expect(other.rule).toBe('order-writes-need-approval');
    approvals.decide(other.id, approver('approver-1'), 'deny', 'no');
    await expect(orders).rejects.toThrow(/denied by approver-1: no/);
    await fresh.client.end();

    approvals.revoke(request.id, approver('approver-1'), 'done', false);
    const again = client.query("UPDATE shipments SET status = 'w5' WHERE id = 5");
    const next = await heldRequest(notices, 1);
    expect(next.id).not.toBe(request.id);
    approvals.decide(next.id, approver('approver-1'), 'deny', 'revoked now');
    await expect(again).rejects.toThrow(/revoked now/);
    await client.end();
  });
});
