/**
 * Webhook deliveries over real HTTP to a local receiver, for steps of a real approval service
 * (SQLite in a temp dir): the JSON body, the signature (verified here with node:crypto, as a
 * receiver would), retries of 5xx with the same delivery id and a fresh signature, no retry of
 * other 4xx, subscriptions, truncation of huge statements, and logs without secrets.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalAuditEvent } from '../../../src/approvals/events.js';
import type { NotificationEvent, WebhookConfig } from '../../../src/config/types.js';
import { fetchTransport } from '../../../src/notify/http.js';
import { MAX_TEXT_CHARS, type WebhookBody } from '../../../src/notify/payload.js';
import { WebhookChannel } from '../../../src/notify/webhook.js';
import { identity, newRequest, openService, removeTempDirs, tempDataDir, T0 } from '../approvals/support.js';
import { HttpDouble, type Answer, type RecordedRequest } from './http-double.js';
import { collectLogs, FakeTimers, settle } from './support.js';

const SECRET = 'webhook-secret-for-tests-0123456789';
let receiver: HttpDouble;
let script: Answer[] = [];
const channels: WebhookChannel[] = [];

beforeAll(async () => {
  receiver = await HttpDouble.start(() => script.shift() ?? { status: 204 });
});
afterEach(() => {
  channels.splice(0).forEach((channel) => channel.close());
  receiver.requests.splice(0);
  script = [];
});
afterAll(async () => {
  await receiver.close();
  removeTempDirs();
});

function setup(events?: readonly NotificationEvent[]) {
  const clock = { now: T0 };
  const timers = new FakeTimers();
  const logs = collectLogs();
  const config: WebhookConfig = {
    name: 'ops',
    url: `${receiver.base}/hooks/portcullis?token=url-credential`,
    secret: SECRET,
    events: events ?? ['requested', 'approved', 'denied', 'expired', 'revoked', 'redeemed'],
    timeoutMs: 2_000,
  };
  const channel = new WebhookChannel(config, {
    logger: logs.logger,
    transport: fetchTransport,
    now: () => clock.now,
    publicUrl: () => 'https://portcullis.example',
    timers,
    random: () => 0.5,
  });
  channels.push(channel);
  const { service, events: steps } = openService(tempDataDir(), { now: () => clock.now });
  return { channel, clock, timers, logs, service, steps };
}

/** Verifies a delivery exactly as the README tells receivers to; returns its parsed body. */
function verified(request: RecordedRequest): WebhookBody {
  const timestamp = String(request.headers['x-portcullis-timestamp']);
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`;
  const got = String(request.headers['x-portcullis-signature']);
  expect(got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected)), 'signature verifies').toBe(true);
  return JSON.parse(request.body) as WebhookBody;
}

function stepOf(steps: ApprovalAuditEvent[], kind: string): ApprovalAuditEvent {
  const step = steps.find((event) => event.kind === kind);
  expect(step, `a ${kind} step`).toBeDefined();
  return step!;
}

describe('webhook deliveries', () => {
  it('POST a signed JSON description of the request: who, what, where, which rule, status, links', async () => {
    const { channel, service, steps } = setup();
    const request = service.request(newRequest());
    channel.notify(stepOf(steps, 'requested'));
    await channel.idle();

    expect(receiver.requests).toHaveLength(1);
    const [delivery] = receiver.requests;
    expect(delivery!.method).toBe('POST');
    expect(delivery!.path).toBe('/hooks/portcullis?token=url-credential');
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(delivery!.headers['x-portcullis-event']).toBe('requested');
    expect(delivery!.headers['x-portcullis-timestamp']).toBe(String(T0 / 1000));
    const body = verified(delivery!);
    expect(delivery!.headers['x-portcullis-delivery']).toBe(body.delivery);
    expect(body).toMatchObject({
      kind: 'requested',
      occurredAt: new Date(T0).toISOString(),
      by: null,
      comment: null,
      truncated: false,
      request: {
        id: request.id,
        status: 'pending',
        subject: 'agent-1',
        clientId: 'ci-bot',
        connection: 'prod-db',
        rule: 'writes-need-approval',
        reason: 'writes to orders need approval',
        text: 'DELETE FROM orders WHERE id = $1',
        parameters: ['7'],
        approvers: ['dba'],
        minApprovals: 1,
        decisions: [],
        expiresAt: new Date(request.expiresAt).toISOString(),
      },
      links: {
        approval: `https://portcullis.example/api/approvals/${request.id}`,
        approve: `https://portcullis.example/api/approvals/${request.id}/approve`,
        deny: `https://portcullis.example/api/approvals/${request.id}/deny`,
      },
    });
  });

  it('say who decided, with their comment, and the decisions so far', async () => {
    const { channel, service, steps } = setup();
    const request = service.request(newRequest());
    service.decide(request.id, identity({ subject: 'dba-1', clientId: 'dba-cli', groups: ['dba'] }), 'deny', 'not during the freeze');
    channel.notify(stepOf(steps, 'denied'));
    await channel.idle();
    const body = verified(receiver.requests[0]!);
    expect(body).toMatchObject({
      kind: 'denied',
      by: { subject: 'dba-1', clientId: 'dba-cli' },
      comment: 'not during the freeze',
      request: { status: 'denied', decisions: [{ subject: 'dba-1', decision: 'deny', comment: 'not during the freeze' }] },
    });
  });

  it('are retried after a 500 with the same delivery id and a fresh signature, then delivered', async () => {
    const { channel, clock, timers, service, steps } = setup();
    script = [{ status: 500 }, { status: 200 }];
    service.request(newRequest());
    channel.notify(stepOf(steps, 'requested'));
    for (let i = 0; i < 50 && receiver.requests.length < 1; i++) await settle();
    expect(receiver.requests).toHaveLength(1);
    await settle();
    expect(timers.delays).toEqual([1_000]);
    clock.now += 1_000;
    timers.fire();
    await channel.idle();
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests;
    expect(verified(second!).delivery).toBe(verified(first!).delivery);
    expect(second!.headers['x-portcullis-delivery']).toBe(first!.headers['x-portcullis-delivery']);
    expect(Number(second!.headers['x-portcullis-timestamp'])).toBe(Number(first!.headers['x-portcullis-timestamp']) + 1);
    expect(second!.headers['x-portcullis-signature']).not.toBe(first!.headers['x-portcullis-signature']);
    expect(timers.waiting).toBe(0);
  });

  it('are not retried after a 4xx other than 429, which is logged without the URL or the secret', async () => {
    const { channel, timers, logs, service, steps } = setup();
    script = [{ status: 410 }];
    service.request(newRequest());
    channel.notify(stepOf(steps, 'requested'));
    await channel.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(timers.delays).toEqual([]);
    expect(logs.lines.at(-1)).toMatchObject({ level: 'error', webhook: 'ops', event: 'requested' });
    expect(logs.lines.at(-1)!.msg).toMatch(/webhook "ops" failed and is not retried: HTTP 410: the receiver refused it/);
    expect(logs.text()).not.toContain(SECRET);
    expect(logs.text()).not.toContain('url-credential');
  });

  it('are sent only for the steps subscribed to', async () => {
    const { channel, service, steps } = setup(['approved']);
    const request = service.request(newRequest());
    service.decide(request.id, identity({ subject: 'dba-1', groups: ['dba'] }), 'approve', 'ok');
    for (const step of steps) channel.notify(step);
    await channel.idle();
    expect(receiver.requests.map((r) => r.headers['x-portcullis-event'])).toEqual(['approved']);
  });

  it('cut a huge statement to fit, and say so', async () => {
    const { channel, service, steps } = setup();
    const text = `INSERT INTO t VALUES ('${'x'.repeat(MAX_TEXT_CHARS * 2)}')`;
    service.request(newRequest({ text, parameters: undefined }));
    channel.notify(stepOf(steps, 'requested'));
    await channel.idle();
    const body = verified(receiver.requests[0]!);
    expect(body.truncated).toBe(true);
    expect(body.request.text.startsWith(text.slice(0, MAX_TEXT_CHARS))).toBe(true);
    expect(body.request.text).toMatch(/… \[\d+ more characters\]$/);
    expect(receiver.requests[0]!.body.length).toBeLessThan(MAX_TEXT_CHARS + 4096);
  });
});
