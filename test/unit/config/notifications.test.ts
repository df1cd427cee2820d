/** The `notifications:` section: defaults, secret references, and errors that name file, line and path without showing a secret. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

const BASE = `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
admin:
  auditors: [auditors]
`;

const ENV = { HOOK_SECRET: 'a-hook-secret-0123456789abcdef', SLACK_BOT_TOKEN: 'xoxb-1234-5678-abcdef', SLACK_SIGNING_SECRET: 'signing-secret-abcdef0123456789' };

async function load(yaml: string, env: Record<string, string> = ENV, files: Record<string, string> = {}) {
  const dir = tempDir({ 'portcullis.yaml': yaml, ...files });
  return loadConfig(join(dir, 'portcullis.yaml'), { env });
}

const SLACK = `  slack:
    bot_token: \${env:SLACK_BOT_TOKEN}
    channel: C0123456789
    signing_secret: \${env:SLACK_SIGNING_SECRET}
    users:
      U0123ABCD: { subject: alice@example.com, groups: [approvers] }
`;

describe('notifications config', () => {
  it('is absent when the file has none', async () => {
    expect('notifications' in (await load(BASE))).toBe(false);
  });

  it('resolves secrets and applies defaults: every event, 5 s timeouts, Slack\'s API URL', async () => {
    const config = await load(
      `${BASE}notifications:
  public_url: https://portcullis.example.com/
  webhooks:
    - name: ops
      url: https://hooks.example.com/portcullis
      secret: \${env:HOOK_SECRET}
    - name: audit-feed
      url: http://127.0.0.1:9999/in
      secret: \${file:hook-secret}
      events: [approved, denied]
      timeout: 2s
${SLACK}`,
      ENV,
      { 'hook-secret': 'file-secret-0123456789abcdef\n' },
    );
    expect(config.notifications).toEqual({
      publicUrl: 'https://portcullis.example.com',
      webhooks: [
        {
          name: 'ops',
          url: 'https://hooks.example.com/portcullis',
          secret: ENV.HOOK_SECRET,
          events: ['requested', 'approved', 'denied', 'expired', 'revoked', 'redeemed'],
          timeoutMs: 5_000,
        },
        { name: 'audit-feed', url: 'http://127.0.0.1:9999/in', secret: 'file-secret-0123456789abcdef', events: ['approved', 'denied'], timeoutMs: 2_000 },
      ],
      slack: {
        apiUrl: 'https://slack.com/api',
        botToken: ENV.SLACK_BOT_TOKEN,
        channel: 'C0123456789',
        signingSecret: ENV.SLACK_SIGNING_SECRET,
        users: new Map([['U0123ABCD', { subject: 'alice@example.com', groups: ['approvers'] }]]),
        timeoutMs: 5_000,
      },
    });
  });

  it('refuses plaintext URLs beyond loopback, short secrets and duplicate names, at their line', async () => {
    const error = await configError(
      load(`${BASE}notifications:
  webhooks:
    - name: ops
      url: http://hooks.example.com/in
      secret: \${env:SHORT}
    - name: ops
      url: https://hooks.example.com/other
      secret: \${env:HOOK_SECRET}
`, { ...ENV, SHORT: 'tooshort' }),
    );
    expect(error.message).toMatch(/portcullis\.yaml:10:12: notifications\.webhooks\[0\]\.url: expected an https:\/\/ URL \(http:\/\/ only for localhost/);
    const secret = issueAt(error, 'notifications.webhooks[0].secret');
    expect(secret).toMatchObject({ line: 11, message: expect.stringMatching(/is 8 characters long; use at least 16 random characters/) });
    expect(issueAt(error, 'notifications.webhooks[1].name').message).toMatch(/duplicate webhook name "ops"/);
    expect(error.message).not.toContain('tooshort');
  });

  it('refuses an unknown event, suggesting the right one, and an unknown key', async () => {
    const error = await configError(
      load(`${BASE}notifications:
  webhooks:
    - name: ops
      url: https://hooks.example.com/in
      secret: \${env:HOOK_SECRET}
      events: [aproved]
      retries: 3
    - name: other
      url: https://hooks.example.com/in
      secret: \${env:HOOK_SECRET}
      events: [requested, requested]
`),
    );
    expect(issueAt(error, 'notifications.webhooks[1].events[1]').message).toMatch(/duplicate entry "requested"/);
    expect(issueAt(error, 'notifications.webhooks[0].events[0]').message).toMatch(/expected one of "requested", .* got "aproved" \(did you mean "approved"\?\)/);
    expect(issueAt(error, 'notifications.webhooks[0].retries').message).toMatch(/unknown property "retries"; allowed here: name, url, secret, events, timeout/);
  });

  it('refuses Slack without an admin API for its buttons to post to', async () => {
    const error = await configError(load(`identity:\n  issuers:\n    - issuer: http://127.0.0.1:9000\n      audience: portcullis\nnotifications:\n${SLACK}`));
    expect(issueAt(error, 'notifications.slack')).toMatchObject({ line: 7, message: expect.stringMatching(/post to the admin API \(POST \/api\/slack\/interactions\), but there is no admin: section/) });
  });

  it('refuses a token that is not a bot token, a Slack user ID that is not one, and no users at all — without showing the token', async () => {
    const error = await configError(
      load(`${BASE}notifications:
  slack:
    bot_token: \${env:SLACK_BOT_TOKEN}
    channel: C0123456789
    signing_secret: \${env:SLACK_SIGNING_SECRET}
    users:
      alice: { subject: alice@example.com, groups: [approvers] }
`, { ...ENV, SLACK_BOT_TOKEN: 'xoxp-user-token-secret' }),
    );
    expect(issueAt(error, 'notifications.slack.bot_token').message).toMatch(/expected a bot token \(it starts with "xoxb-"\)/);
    expect(issueAt(error, 'notifications.slack.users.alice')).toMatchObject({ line: 13, column: 7, message: expect.stringMatching(/"alice" is not a Slack user ID/) });
    expect(error.message).not.toContain('xoxp-user-token-secret');

    const none = await configError(load(`${BASE}notifications:\n  slack:\n    bot_token: \${env:SLACK_BOT_TOKEN}\n    channel: C1\n    signing_secret: \${env:SLACK_SIGNING_SECRET}\n    users: {}\n`));
    expect(issueAt(none, 'notifications.slack.users').message).toMatch(/no Slack users are mapped to approvers/);
  });

  it('hides a literal secret of the wrong type, and refuses missing groups', async () => {
    const error = await configError(
      load(`${BASE}notifications:
  webhooks:
    - name: ops
      url: https://hooks.example.com/in
      secret: 1234567890123456789
${SLACK.replace('groups: [approvers]', 'groups: []')}`),
    );
    expect(issueAt(error, 'notifications.webhooks[0].secret').message).toBe('expected a non-empty string, got an integer (value hidden)');
    expect(issueAt(error, 'notifications.slack.users.U0123ABCD.groups').message).toMatch(/expected a non-empty list/);
  });

  it('refuses a public_url that is not an http(s) base URL', async () => {
    const error = await configError(load(`${BASE}notifications:\n  public_url: https://portcullis.example.com/?x=1\n`));
    expect(issueAt(error, 'notifications.public_url')).toMatchObject({ line: 8, message: expect.stringMatching(/expected the admin API's base URL as approvers reach it/) });
    await expect(load(`${BASE}notifications:\n  public_url: ftp://portcullis.example.com\n`)).rejects.toThrow(/notifications\.public_url: expected the admin API's base URL/);
  });

  it('is valid as commented out in examples/portcullis.yaml, once uncommented', async () => {
    const example = readFileSync(join(import.meta.dirname, '../../../examples/portcullis.yaml'), 'utf8');
    const lines = example.split('\n');
    const start = lines.findIndex((line) => line.startsWith('# notifications:'));
    expect(start).toBeGreaterThan(0);
    let end = start;
    while (lines[end]?.startsWith('#')) end++;
    const section = lines.slice(start, end).map((line) => line.slice(2)).join('\n');
    const config = await load(`${BASE}${section}\n`, { APPROVALS_WEBHOOK_SECRET: 'example-secret-0123456789', SLACK_BOT_TOKEN: 'xoxb-example', SLACK_SIGNING_SECRET: 'example' });
    expect(config.notifications?.webhooks.map((webhook) => webhook.name)).toEqual(['ops']);
    expect(config.notifications?.slack?.users.get('U0123ABCD')).toEqual({ subject: 'alice@example.com', groups: ['approvers'] });
  });
});
