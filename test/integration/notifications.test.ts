/**
 * Notifications end to end, through a real gateway (embedded PostgreSQL, the dev OIDC issuer,
 * node-postgres as the agent, the admin API on its own port): a statement held for approval is
 * announced to a local webhook receiver (which verifies the signature exactly as the README
 * tells receivers to) and to a local test double of the Slack Web API (Slack itself cannot run
 * here: the double answers chat.postMessage / chat.update / chat.postEphemeral as Slack does
 * and records the calls). Button clicks are posted to the admin API's
 * /api/slack/interactions built and signed exactly as Slack builds and signs them.
 *
 * The gateway is composed here from the stack's parts rather than with `startStack`, because
 * the stack has no way yet to pass a `notifications:` section to the gateway.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config, NotificationsConfig, RuleConfig } from '../../src/config/types.js';
import { startDevIdp, type DevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { silentLogger } from '../../src/log.js';
import type { WebhookBody } from '../../src/notify/payload.js';
import type { ApprovalEntryPayload } from '../../src/recording/chain.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { pollUntil } from '../support/poll.js';
import { identity, rule } from '../unit/policy/support.js';
import { adminConfig, AGENT, APPROVER, demoConnection, issuerConfig, listenerConfig, startTargetPostgres, type StartedPostgres } from '../support/stack.js';
import { blockActionsPayload, HttpDouble, signedAsSlack, SLACK_CHANNEL_ID, SLACK_TOKEN, SlackDouble, type Answer, type RecordedRequest } from '../unit/notify/http-double.js';

const WEBHOOK_SECRET = 'integration-webhook-secret-0123456789';
const SIGNING_SECRET = 'integration-slack-signing-secret-0123';
/** Mapped to an approver; a stranger is not. */
const SLACK_APPROVER = 'U0APPROVER';
const SLACK_STRANGER = 'U0STRANGER';

const ORDER_WRITES = rule('order-writes-need-approval', 'review', {
  sql: { classes: ['write'], tables: ['public.orders'] },
  reason: 'Writes to orders need a human approver.',
});
const RULE: RuleConfig = { ...ORDER_WRITES, review: { ...ORDER_WRITES.review!, approvers: ['approvers'], timeoutMs: 60_000 } };

let postgres: StartedPostgres;
let idp: DevIdp;
let gateway: Gateway;
let dataDir: string;
let receiver: HttpDouble;
let slack: SlackDouble;
/** What the webhook receiver answers next (then 200). */
const script: Answer[] = [];
let adminBase: string;

beforeAll(async () => {
  receiver = await HttpDouble.start(() => script.shift() ?? { status: 200 });
  slack = await SlackDouble.start();
  postgres = await startTargetPostgres();
  idp = await startDevIdp({ port: 0, clients: [AGENT, APPROVER], audience: 'portcullis' });
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-it-notify-'));
  const notifications: NotificationsConfig = {
    publicUrl: undefined,
    webhooks: [{ name: 'ops', url: `${receiver.base}/portcullis`, secret: WEBHOOK_SECRET, events: ['requested', 'approved', 'denied', 'redeemed'], timeoutMs: 2_000 }],
    slack: {
      apiUrl: slack.apiUrl,
      botToken: SLACK_TOKEN,
      channel: 'approvals',
      signingSecret: SIGNING_SECRET,
      users: new Map([[SLACK_APPROVER, { subject: 'slack-approver', groups: ['approvers'] }]]),
      timeoutMs: 2_000,
    },
  };
  const config: Config = {
    file: '<test>',
    dataDir,
    log: { level: 'debug' },
    identity: { issuers: [issuerConfig(idp.issuer)] },
    postgres: listenerConfig(),
    sql: { extraDangerousFunctions: [] },
    recording: { durability: 'process', writer: 'thread' },
    rules: [RULE],
    masking: [],
    connections: [demoConnection(postgres, { rules: [RULE] })],
    admin: adminConfig(),
    notifications,
  };
  gateway = await startGateway(config, silentLogger);
  adminBase = `http://127.0.0.1:${gateway.admin!.port}`;
  await postgres.pg.query("INSERT INTO orders (id, status) SELECT g, 'new' FROM generate_series(9101, 9110) g", [], { database: 'app' });
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await idp?.close();
  await postgres?.pg.stop();
  await receiver?.close();
  await slack?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

async function agent(): Promise<pg.Client> {
  const token = (await fetchAccessToken({ issuer: idp.issuer, clientId: AGENT.clientId, clientSecret: AGENT.clientSecret })).accessToken;
  const client = new pg.Client({ host: '127.0.0.1', port: gateway.postgres!.port, database: 'demo', user: 'agent', password: token });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The deliveries the receiver got (their signatures verified), optionally of one request. */
function deliveries(requestId?: string): { request: RecordedRequest; body: WebhookBody }[] {
  return receiver.requests
    .map((request) => ({ request, body: verifiedBody(request) }))
    .filter(({ body }) => requestId === undefined || body.request.id === requestId);
}

/** Verifies a delivery as a receiver should: HMAC-SHA256(secret, "<timestamp>.<raw body>"), timestamp within 5 minutes. */
function verifiedBody(request: RecordedRequest): WebhookBody {
  const timestamp = String(request.headers['x-portcullis-timestamp']);
  const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`);
  const got = Buffer.from(String(request.headers['x-portcullis-signature']));
  expect(got.length === expected.length && timingSafeEqual(got, expected), 'the webhook signature verifies').toBe(true);
  expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
  return JSON.parse(request.body) as WebhookBody;
}

/** Holds `sql` and returns the pending query and the request id, as the webhook announced it. */
async function hold(client: pg.Client, sql: string): Promise<{ query: Promise<pg.QueryResult>; id: string }> {
  const before = new Set(deliveries().map(({ body }) => body.request.id));
  const query = client.query(sql);
  query.catch(() => undefined);
  const fresh = await pollUntil(
    async () => deliveries().filter(({ body }) => body.kind === 'requested' && !before.has(body.request.id)),
    (found) => found.length > 0,
    { what: 'the webhook delivery for the held statement', intervalMs: 20 },
  );
  return { query, id: fresh[0]!.body.request.id };
}

/** Posts a Slack interaction to the admin API. */
async function postInteraction(signed: { body: string; headers: Record<string, string> }): Promise<{ status: number; text: string }> {
  const response = await fetch(`${adminBase}/api/slack/interactions`, { method: 'POST', headers: signed.headers, body: signed.body });
  return { status: response.status, text: await response.text() };
}

/** The `ts` of the Slack message posted about request `id`, once it is posted. */
async function messageTs(id: string): Promise<string> {
  const index = await pollUntil(
    async () => slack.calls('chat.postMessage').findIndex((call) => JSON.stringify(call.body).includes(id)),
    (found) => found >= 0,
    { what: 'the Slack message', intervalMs: 20 },
  );
  return slack.posted[index]!;
}

/** A click on a button of the message `ts`, as Slack posts it: signed now (or `at`) with the signing secret (or `secret`). */
function click(user: string, decision: 'approve' | 'deny', id: string, ts: string, options: { secret?: string; at?: number } = {}) {
  const payload = blockActionsPayload(user, `${decision}:${id}`, ts, user === SLACK_APPROVER ? 'approver.in.slack' : 'stranger');
  return signedAsSlack(options.secret ?? SIGNING_SECRET, payload, options.at ?? Math.floor(Date.now() / 1000));
}

async function statusOf(id: number): Promise<string | null> {
  const rows = await postgres.pg.query<{ status: string | null }>('SELECT status FROM orders WHERE id = $1', [id], { database: 'app' });
  return rows[0]?.status ?? null;
}


/** The `approval` entries of the audit chain for one request, as recorded (read-only, like an auditor). */
function auditApprovalEntries(requestId: string): ApprovalEntryPayload[] {
  const db = new Database(path.join(dataDir, 'portcullis.db'), { readonly: true });
  try {
    const rows = db.prepare("SELECT payload FROM audit_log WHERE type = 'approval' ORDER BY seq").pluck().all() as string[];
    return rows.map((row) => JSON.parse(row) as ApprovalEntryPayload).filter((entry) => entry.requestId === requestId);
  } finally {
    db.close();
  }
}

describe('a held statement is announced', () => {
  it('to the webhook, signed, retried after a 500, with a link into the admin API; and to Slack, with buttons', async () => {
    script.push({ status: 500 });
    const client = await agent();
    try {
      const { query, id } = await hold(client, "UPDATE orders SET status = 'announced' WHERE id = 9101");
      // The first attempt got the 500; the second (after about a second) the 200, with the same delivery id.
      const attempts = await pollUntil(async () => deliveries(id), (found) => found.length >= 2, { what: 'the retried delivery', intervalMs: 50 });
      expect(attempts[0]!.request.headers['x-portcullis-delivery']).toBe(attempts[1]!.request.headers['x-portcullis-delivery']);
      expect(attempts[1]!.body).toMatchObject({
        kind: 'requested',
        request: {
          id,
          status: 'pending',
          subject: 'agent',
          connection: 'demo',
          rule: 'order-writes-need-approval',
          reason: expect.stringMatching(/Writes to orders need a human approver\.$/),
          text: "UPDATE orders SET status = 'announced' WHERE id = 9101",
          approvers: ['approvers'],
        },
        links: { approval: `${adminBase}/api/approvals/${id}` },
      });

      await messageTs(id);
      const post = slack.calls('chat.postMessage').find((call) => JSON.stringify(call.body).includes(id));
      expect(post!.body['channel']).toBe('approvals');
      expect(JSON.stringify(post!.body['blocks'])).toContain(`"action_id":"approve:${id}"`);
      expect(JSON.stringify(post!.body['blocks'])).toContain(`"action_id":"deny:${id}"`);

      // Being notified is an audit step of the request too, once the delivery ended.
      const notified = await pollUntil(
        async () => auditApprovalEntries(id).filter((e) => e.kind === 'notified'),
        (found) => found.some((e) => (e.details as { destination?: string }).destination?.startsWith('webhook') === true),
        { what: 'the notified audit entry' },
      );
      expect(notified.find((e) => (e.details as { destination: string }).destination.startsWith('webhook'))!.details).toMatchObject({
        event: 'requested',
        delivered: true,
        attempts: 2,
      });

      // Still held: announcing it released nothing.
      expect(await statusOf(9101)).toBe('new');
      gateway.approvals.decide(id, identity({ subject: 'cli-approver', clientId: 'cli', groups: ['approvers'] }), 'deny', 'done here');
      await expect(query).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
  });
});

describe('a click in Slack', () => {
  it('on Approve, correctly signed by a mapped approver, releases the held statement and updates the message', async () => {
    const client = await agent();
    try {
      const { query, id } = await hold(client, "UPDATE orders SET status = 'approved-in-slack' WHERE id = 9102");
      const ts = await messageTs(id);
      const answer = await postInteraction(click(SLACK_APPROVER, 'approve', id, ts));
      expect(answer).toEqual({ status: 200, text: '' });

      expect((await query).rowCount).toBe(1);
      expect(await statusOf(9102)).toBe('approved-in-slack');
      expect(gateway.approvals.get(id)).toMatchObject({ status: 'approved', decisions: [{ subject: 'slack-approver', comment: 'approved in Slack by @approver.in.slack' }] });

      const updates = await pollUntil(async () => slack.calls('chat.update').filter((call) => call.body['ts'] === ts), (found) => found.length >= 2, {
        what: 'the message updated with the outcome',
        intervalMs: 20,
      });
      expect(updates[0]!.body['channel']).toBe(SLACK_CHANNEL_ID);
      expect(JSON.stringify(updates[0]!.body['blocks'])).toContain('Approved by slack-approver');
      expect(JSON.stringify(updates[0]!.body['blocks'])).not.toContain('"type":"actions"');
      expect(JSON.stringify(updates.at(-1)!.body['blocks'])).toContain('. The statement ran at');
      const kinds = await pollUntil(async () => deliveries(id).map(({ body }) => body.kind), (found) => found.includes('redeemed'), { what: 'the redeemed delivery', intervalMs: 20 });
      expect(kinds).toEqual(['requested', 'approved', 'redeemed']);
      expect(deliveries(id)[1]!.body).toMatchObject({ by: { subject: 'slack-approver', clientId: null }, comment: 'approved in Slack by @approver.in.slack' });
    } finally {
      await client.end();
    }
  });

  it('decides nothing when wrongly signed, stale, replayed or by an unmapped user; a correct Deny then refuses the statement', async () => {
    const client = await agent();
    try {
      const { query, id } = await hold(client, "UPDATE orders SET status = 'never' WHERE id = 9103");
      const ts = await messageTs(id);

      const wrong = await postInteraction(click(SLACK_APPROVER, 'approve', id, ts, { secret: 'not-the-signing-secret' }));
      expect(wrong.status).toBe(401);
      expect(JSON.parse(wrong.text)).toMatchObject({ error: 'invalid_signature' });
      const stale = await postInteraction(click(SLACK_APPROVER, 'approve', id, ts, { at: Math.floor(Date.now() / 1000) - 6 * 60 }));
      expect(stale.status).toBe(401);
      expect(JSON.parse(stale.text).message).toMatch(/more than 5 minutes/);

      const stranger = click(SLACK_STRANGER, 'approve', id, ts);
      expect((await postInteraction(stranger)).status).toBe(200);
      const ephemeral = await pollUntil(async () => slack.calls('chat.postEphemeral'), (found) => found.length > 0, { what: 'the reply to the stranger', intervalMs: 20 });
      expect(ephemeral[0]!.body).toMatchObject({ channel: SLACK_CHANNEL_ID, user: SLACK_STRANGER, text: expect.stringMatching(/not mapped to a Portcullis approver/) });
      const replay = await postInteraction(stranger);
      expect(replay.status).toBe(401);
      expect(JSON.parse(replay.text)).toMatchObject({ error: 'replayed' });

      expect(gateway.approvals.get(id)).toMatchObject({ status: 'pending', decisions: [] });
      expect(await statusOf(9103)).toBe('new');

      expect((await postInteraction(click(SLACK_APPROVER, 'deny', id, ts))).status).toBe(200);
      await expect(query).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/denied by slack-approver: denied in Slack by @approver\.in\.slack/) });
      expect(await statusOf(9103)).toBe('new');
      expect(slack.calls('chat.postEphemeral')).toHaveLength(1);
    } finally {
      await client.end();
    }
  });

  it('is answered on POST only, and needs Slack\'s signature rather than a token', async () => {
    const response = await fetch(`${adminBase}/api/slack/interactions`, { method: 'GET' });
    expect(response.status).toBe(405);
    const unsigned = await fetch(`${adminBase}/api/slack/interactions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' });
    expect(unsigned.status).toBe(401);
  });
});
