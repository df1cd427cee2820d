/**
 * The Slack channel against a local test double of the Slack Web API (./http-double.ts; Slack
 * itself cannot run here): a request is posted with Approve and Deny buttons, later steps
 * update the same message with the outcome, and Slack's refusals are retried or not as they
 * deserve. Steps come from a real approval service (SQLite in a temp dir).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalAuditEvent } from '../../../src/approvals/events.js';
import type { SlackConfig } from '../../../src/config/types.js';
import { fetchTransport } from '../../../src/notify/http.js';
import { SlackChannel } from '../../../src/notify/slack.js';
import { escape, parseActionId } from '../../../src/notify/slack-message.js';
import { identity, newRequest, openService, removeTempDirs, tempDataDir, T0 } from '../approvals/support.js';
import { SLACK_CHANNEL_ID, SLACK_TOKEN, SlackDouble } from './http-double.js';
import { collectLogs, FakeTimers, settle } from './support.js';

let slack: SlackDouble;
const channels: SlackChannel[] = [];

beforeAll(async () => {
  slack = await SlackDouble.start();
});
afterEach(() => {
  channels.splice(0).forEach((channel) => channel.close());
  slack.http.requests.splice(0);
});
afterAll(async () => {
  await slack.close();
  removeTempDirs();
});

function setup() {
  const timers = new FakeTimers();
  const logs = collectLogs();
  const config: SlackConfig = {
    apiUrl: slack.apiUrl,
    botToken: SLACK_TOKEN,
    channel: 'approvals',
    signingSecret: 'slack-signing-secret',
    users: new Map(),
    timeoutMs: 2_000,
  };
  const channel = new SlackChannel(config, { logger: logs.logger, transport: fetchTransport, now: () => T0, publicUrl: () => 'https://portcullis.example', timers, random: () => 0.5 });
  channels.push(channel);
  const { service, events } = openService(tempDataDir(), { now: () => T0 });
  return { channel, timers, logs, service, events };
}

/** Every text in a message's blocks, flattened (what a reader of the message sees). */
function textOf(blocks: unknown): string {
  return JSON.stringify(blocks);
}

function buttonsOf(blocks: unknown): { action_id: string; value: string; style: string }[] {
  const actions = (blocks as { type: string; elements?: unknown[] }[]).find((block) => block.type === 'actions');
  return (actions?.elements ?? []) as { action_id: string; value: string; style: string }[];
}

describe('Slack messages', () => {
  it('post a new request with the exact statement and Approve / Deny buttons carrying its id', async () => {
    const { channel, service, events } = setup();
    const request = service.request(newRequest({ reason: 'Writes need a <DBA> & a ticket' }));
    channel.notify(events[0]!);
    await channel.idle();
    const [post] = slack.calls();
    expect(post).toMatchObject({ method: 'chat.postMessage', authorization: `Bearer ${SLACK_TOKEN}`, body: { channel: 'approvals' } });
    expect(post!.body['text']).toBe(`Approval needed: agent-1 (client ci-bot) on prod-db (rule writes-need-approval, request ${request.id})`);
    const blocks = post!.body['blocks'];
    expect(buttonsOf(blocks)).toEqual([
      expect.objectContaining({ action_id: `approve:${request.id}`, value: request.id, style: 'primary' }),
      expect.objectContaining({ action_id: `deny:${request.id}`, value: request.id, style: 'danger' }),
    ]);
    expect(buttonsOf(blocks).map((button) => parseActionId(button.action_id))).toEqual([
      { decision: 'approve', requestId: request.id },
      { decision: 'deny', requestId: request.id },
    ]);
    // The statement is preformatted rich text, exactly as held; the parameters likewise.
    expect(blocks).toContainEqual({ type: 'rich_text', elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text: 'DELETE FROM orders WHERE id = $1' }] }] });
    expect(blocks).toContainEqual({ type: 'rich_text', elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text: "$1 = '7'" }] }] });
    expect(textOf(blocks)).toContain('Writes need a &lt;DBA&gt; &amp; a ticket');
    expect(textOf(blocks)).toContain(`https://portcullis.example/api/approvals/${request.id}`);
  });

  it('update the posted message with the outcome, without buttons', async () => {
    const { channel, service, events } = setup();
    const request = service.request(newRequest({ minApprovals: 2, approvers: ['dba'] }));
    service.decide(request.id, identity({ subject: 'dba-1', groups: ['dba'] }), 'approve', '');
    service.decide(request.id, identity({ subject: 'dba-2', clientId: 'c2', groups: ['dba'] }), 'approve', 'ticket OPS-1');
    for (const event of events) channel.notify(event);
    await channel.idle();
    const [post, partial, approved] = slack.calls();
    expect(post!.method).toBe('chat.postMessage');
    const ts = slack.posted.at(-1);
    expect(partial).toMatchObject({ method: 'chat.update', body: { channel: SLACK_CHANNEL_ID, ts } });
    expect(textOf(partial!.body['blocks'])).toContain('Approved by dba-1; 1 more approval(s) needed');
    expect(buttonsOf(partial!.body['blocks'])).toHaveLength(2);
    expect(approved).toMatchObject({ method: 'chat.update', body: { channel: SLACK_CHANNEL_ID, ts } });
    expect(textOf(approved!.body['blocks'])).toContain('Approved by dba-1, dba-2: “ticket OPS-1”');
    expect(buttonsOf(approved!.body['blocks'])).toEqual([]);
    expect(approved!.body['text']).toMatch(/^Approval approved: /);
  });

  it('cannot be made to mention @channel or forge links by the statement or a comment', async () => {
    const { channel, service, events } = setup();
    const request = service.request(newRequest({ text: "SELECT '<!channel> <https://evil.example|click>'", parameters: undefined }));
    service.decide(request.id, identity({ subject: 'dba-1', groups: ['dba'] }), 'deny', '<!here> see <https://evil.example|this>');
    for (const event of events) channel.notify(event);
    await channel.idle();
    const update = slack.calls('chat.update')[0]!;
    const mrkdwn = JSON.stringify(update.body['blocks']).match(/"mrkdwn","text":"[^"]*"/g)!.join('\n');
    expect(mrkdwn).not.toContain('<!here>');
    expect(mrkdwn).toContain(escape('<!here>'));
    expect(JSON.stringify(update.body['blocks'])).toContain('"type":"text","text":"SELECT \'<!channel> <https://evil.example|click>\'"');
  });

  it('retry when Slack rate-limits, and give up at once on a configuration error (saying what to do)', async () => {
    const { channel, timers, logs, service, events } = setup();
    slack.failWith('chat.postMessage', { status: 429, headers: { 'retry-after': '3' }, body: '{"ok":false,"error":"ratelimited"}' }, 'not_in_channel');
    service.request(newRequest());
    channel.notify(events[0]!);
    for (let i = 0; i < 50 && slack.calls().length < 1; i++) await settle();
    await settle();
    expect(timers.delays).toEqual([3_000]);
    timers.fire();
    await channel.idle();
    expect(slack.calls('chat.postMessage')).toHaveLength(2);
    expect(logs.lines.at(-1)).toMatchObject({ level: 'error' });
    expect(logs.lines.at(-1)!.msg).toMatch(/Slack chat.postMessage refused it: not_in_channel; invite the app to the channel/);
    expect(logs.text()).not.toContain(SLACK_TOKEN);
  });

  it('for a window grant, say until when it runs statements, and are updated once, not for every statement it releases', async () => {
    const { channel, service, events } = setup();
    const request = service.request(newRequest({ grant: { kind: 'window', durationMs: 30 * 60_000 } }));
    service.decide(request.id, identity({ subject: 'dba-1', groups: ['dba'] }), 'approve', '');
    const binding = { subject: request.subject, clientId: request.clientId, connection: request.connection, rule: request.rule };
    expect(service.redeem({ ...binding, operationHash: 'another statement' })?.id).toBe(request.id);
    expect(service.redeem({ ...binding, operationHash: 'and another' })?.id).toBe(request.id);
    expect(events.map((event) => event.kind)).toEqual(['requested', 'approved', 'redeemed', 'redeemed']);
    for (const event of events) channel.notify(event);
    await channel.idle();
    expect(slack.calls().map((call) => call.method)).toEqual(['chat.postMessage', 'chat.update', 'chat.update']);
    expect(textOf(slack.calls().at(-1)!.body['blocks'])).toMatch(/Approved by dba-1\. Until <!date\^\d+\^[^|]+\|[^>]+>, agent-1 runs statements under this rule on prod-db without asking/);
  });

  it('skip updates of a message they never posted, and update one an interaction told them about', async () => {
    const { channel, service, events } = setup();
    const request = service.request(newRequest());
    service.decide(request.id, identity({ subject: 'dba-1', groups: ['dba'] }), 'approve', '');
    const approved: ApprovalAuditEvent = events.find((event) => event.kind === 'approved')!;
    channel.notify(approved);
    await channel.idle();
    expect(slack.calls()).toEqual([]);
    channel.remember(request.id, { channel: 'C0OTHER', ts: '1600000000.000100' });
    channel.notify(approved);
    await channel.idle();
    expect(slack.calls()).toEqual([expect.objectContaining({ method: 'chat.update', body: expect.objectContaining({ channel: 'C0OTHER', ts: '1600000000.000100' }) })]);
  });
});
