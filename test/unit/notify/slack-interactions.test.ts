/**
 * Slack's button clicks, built and signed exactly as Slack builds and signs them
 * (./http-double.ts `signedAsSlack`), against a real approval service: a correctly signed click
 * by a mapped approver decides; a bad or stale signature, a replay, an unmapped Slack user or
 * an approver the service refuses decides nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { SlackConfig } from '../../../src/config/types.js';
import { SlackInteractions } from '../../../src/notify/slack-interactions.js';
import type { SlackMessageRef } from '../../../src/notify/slack.js';
import { newRequest, openService, removeTempDirs, tempDataDir, T0 } from '../approvals/support.js';
import { blockActionsPayload, signedAsSlack, signedBodyAsSlack, SLACK_CHANNEL_ID } from './http-double.js';
import { collectLogs } from './support.js';

const SIGNING_SECRET = 'slack-app-signing-secret-0123456789';
const NOW_SECONDS = T0 / 1000;

afterAll(removeTempDirs);

function setup(minApprovals = 1) {
  const clock = { now: T0 };
  const { service } = openService(tempDataDir(), { now: () => clock.now });
  const request = service.request(newRequest({ minApprovals }));
  const config: SlackConfig = {
    apiUrl: 'http://127.0.0.1:1/api',
    botToken: 'xoxb-unused',
    channel: 'approvals',
    signingSecret: SIGNING_SECRET,
    users: new Map([
      ['U0DBA1', { subject: 'dba-1', groups: ['dba'] }],
      ['U0DBA2', { subject: 'dba-2', groups: ['dba'] }],
      ['U0DEV', { subject: 'dev-1', groups: ['developers'] }],
      ['U0AGENT', { subject: 'agent-1', groups: ['dba'] }],
    ]),
    timeoutMs: 1_000,
  };
  const told: { requestId: string; channel: string; user: string; text: string }[] = [];
  const remembered: { requestId: string; message: SlackMessageRef }[] = [];
  const logs = collectLogs();
  const interactions = new SlackInteractions({
    config,
    approvals: () => service,
    slack: { remember: (requestId, message) => void remembered.push({ requestId, message }), tell: (requestId, channel, user, text) => void told.push({ requestId, channel, user, text }) },
    logger: logs.logger,
    now: () => clock.now,
  });
  const click = (user: string, decision: 'approve' | 'deny', options: { secret?: string; at?: number } = {}) =>
    signedAsSlack(options.secret ?? SIGNING_SECRET, blockActionsPayload(user, `${decision}:${request.id}`, '1700000000.000042', user.toLowerCase()), options.at ?? NOW_SECONDS);
  const post = (signed: { body: string; headers: Record<string, string> }) => interactions.handle(Buffer.from(signed.body), signed.headers);
  return { service, request, interactions, click, post, told, remembered, logs, clock };
}

describe('a Slack click', () => {
  it('correctly signed, by a mapped approver, approves as that approver (and tells us where the message is)', () => {
    const { service, request, click, post, told, remembered } = setup();
    expect(post(click('U0DBA1', 'approve'))).toEqual({ status: 200, body: undefined });
    expect(service.get(request.id)).toMatchObject({ status: 'approved', decisions: [{ subject: 'dba-1', clientId: undefined, decision: 'approve', comment: 'approved in Slack by @u0dba1' }] });
    expect(remembered).toEqual([{ requestId: request.id, message: { channel: SLACK_CHANNEL_ID, ts: '1700000000.000042' } }]);
    expect(told).toEqual([]);
  });

  it('on Deny denies, with a comment naming the Slack user', () => {
    const { service, request, click, post } = setup();
    expect(post(click('U0DBA2', 'deny')).status).toBe(200);
    expect(service.get(request.id)).toMatchObject({ status: 'denied', decisions: [{ subject: 'dba-2', comment: 'denied in Slack by @u0dba2' }] });
  });

  it('signed with another secret is refused with 401 and decides nothing', () => {
    const { service, request, click, post } = setup();
    expect(post(click('U0DBA1', 'approve', { secret: 'someone-elses-secret' }))).toMatchObject({ status: 401, body: { error: 'invalid_signature' } });
    expect(service.get(request.id)!.status).toBe('pending');
  });

  it('with a tampered body is refused with 401', () => {
    const { service, request, click, post } = setup();
    const signed = click('U0DEV', 'approve');
    const forged = { ...signed, body: signed.body.replace('U0DEV', 'U0DBA1') };
    expect(post(forged)).toMatchObject({ status: 401, body: { error: 'invalid_signature' } });
    expect(service.get(request.id)!.status).toBe('pending');
  });

  it('signed more than 5 minutes ago is refused with 401 (a captured request replayed later)', () => {
    const { service, request, click, post } = setup();
    const answer = post(click('U0DBA1', 'approve', { at: NOW_SECONDS - 301 }));
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_signature', message: expect.stringMatching(/more than 5 minutes/) } });
    expect(service.get(request.id)!.status).toBe('pending');
  });

  it('replayed within the 5 minutes is refused with 401 the second time', () => {
    const { service, request, click, post, told } = setup(2);
    const signed = click('U0DBA1', 'approve');
    expect(post(signed).status).toBe(200);
    expect(post(signed)).toMatchObject({ status: 401, body: { error: 'replayed' } });
    expect(service.get(request.id)!.decisions).toHaveLength(1);
    expect(told).toEqual([]);
  });

  it('without the signature headers is refused with 401', () => {
    const { post, click } = setup();
    const { body } = click('U0DBA1', 'approve');
    expect(post({ body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).toMatchObject({ status: 401 });
  });

  it('by a Slack user not mapped to an approver decides nothing; they are told why and what to do', () => {
    const { service, request, click, post, told, logs } = setup();
    expect(post(click('U0STRANGER', 'approve')).status).toBe(200);
    expect(service.get(request.id)!.status).toBe('pending');
    expect(told).toEqual([
      {
        requestId: request.id,
        channel: SLACK_CHANNEL_ID,
        user: 'U0STRANGER',
        text: expect.stringMatching(/^Your Slack account \(U0STRANGER\) is not mapped to a Portcullis approver, so your click decided nothing\. .*notifications\.slack\.users/),
      },
    ]);
    expect(logs.lines.at(-1)).toMatchObject({ level: 'warn', slackUser: 'U0STRANGER' });
  });

  it('by an approver the service refuses (not in the group, or the requester) decides nothing; they are told the reason', () => {
    const { service, request, click, post, told } = setup();
    post(click('U0DEV', 'approve'));
    post(click('U0AGENT', 'approve'));
    expect(service.get(request.id)!.status).toBe('pending');
    expect(told.map((t) => t.text)).toEqual([
      expect.stringMatching(/^Your approval of approval request .+ was refused: dev-1 may not decide approval request .+ needs a member of group dba/),
      expect.stringMatching(/^Your approval of approval request .+ was refused: .*nobody decides their own request/),
    ]);
  });

  it('with a body that is not Slack\'s form is refused: 415 for JSON, 400 without a payload', () => {
    const { post } = setup();
    expect(post(signedBodyAsSlack(SIGNING_SECRET, '{"payload":{}}', NOW_SECONDS, 'application/json'))).toMatchObject({ status: 415 });
    expect(post(signedBodyAsSlack(SIGNING_SECRET, 'nothing=here', NOW_SECONDS))).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(post(signedBodyAsSlack(SIGNING_SECRET, 'payload=%7Bnot+json', NOW_SECONDS))).toMatchObject({ status: 400 });
  });

  it('of another kind than a button (e.g. a shortcut) is acknowledged and ignored', () => {
    const { service, request, post } = setup();
    const signed = signedAsSlack(SIGNING_SECRET, { type: 'shortcut', user: { id: 'U0DBA1' }, callback_id: 'x' }, NOW_SECONDS);
    expect(post(signed)).toEqual({ status: 200, body: undefined });
    expect(service.get(request.id)!.status).toBe('pending');
  });
});
