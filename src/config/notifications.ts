/**
 * Builds the `notifications:` section: generic webhooks and Slack, told about approval
 * requests (src/notify). The schema has checked the shape; this checks what it cannot — URLs
 * a network attacker could not redirect, secrets long enough to sign with, a bot token where
 * one is needed, Slack user IDs, and that Slack's buttons have an admin API to post to.
 * Secrets are never shown in a message: only where they came from.
 */
import type { ConfigPath, IssueList } from './issues.js';
import { NOTIFICATION_DEFAULTS, NOTIFICATION_EVENTS, type RawNotifications } from './schema.js';
import type { NotificationsConfig, SlackApprover, SlackConfig, WebhookConfig } from './types.js';

/** What the Builder (build.ts) lends: its checks report into the same issue list, the same way. */
export interface NotificationsBuildContext {
  readonly issues: IssueList;
  duration(value: string | number, path: ConfigPath, bounds: { positive?: boolean; max?: number }): number;
  /** https://, or http:// on loopback only (reports an issue otherwise). */
  url(value: string, path: ConfigPath): void;
  noDuplicates(values: readonly string[], pathOf: (index: number) => ConfigPath, what: string): void;
  /** The value at `path` stands for a secret that could not be had (`policy check`): not checked further. */
  isPlaceholder(path: ConfigPath): boolean;
  /** Slack's buttons post to the admin API. */
  readonly hasAdmin: boolean;
}

/** Shorter HMAC keys are guessable offline from one signed delivery. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;
const MAX_TIMEOUT_MS = 60_000;
/** Slack user IDs: "U…" (or "W…" on Enterprise Grid), upper-case letters and digits. */
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

export function buildNotifications(raw: RawNotifications, path: ConfigPath, ctx: NotificationsBuildContext): NotificationsConfig {
  const webhooks = (raw.webhooks ?? []).map((webhook, i) => buildWebhook(webhook, [...path, 'webhooks', i], ctx));
  ctx.noDuplicates(
    webhooks.map((webhook) => webhook.name),
    (i) => [...path, 'webhooks', i, 'name'],
    'webhook name',
  );
  const slack = raw.slack === undefined ? undefined : buildSlack(raw.slack, [...path, 'slack'], ctx);
  return { publicUrl: raw.public_url === undefined ? undefined : publicUrl(raw.public_url, [...path, 'public_url'], ctx), webhooks, slack };
}

type RawWebhook = NonNullable<RawNotifications['webhooks']>[number];
type RawSlack = NonNullable<RawNotifications['slack']>;

function buildWebhook(raw: RawWebhook, path: ConfigPath, ctx: NotificationsBuildContext): WebhookConfig {
  ctx.url(raw.url, [...path, 'url']);
  const secretPath = [...path, 'secret'];
  if (!ctx.isPlaceholder(secretPath) && raw.secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    ctx.issues.add(
      secretPath,
      `the webhook secret is ${raw.secret.length} characters long; use at least ${MIN_WEBHOOK_SECRET_LENGTH} random characters ` +
        '(e.g. from "openssl rand -hex 32"), kept in an environment variable or file: ${env:NAME} or ${file:PATH}',
    );
  }
  return {
    name: raw.name,
    url: raw.url,
    secret: raw.secret,
    events: raw.events ?? [...NOTIFICATION_EVENTS],
    timeoutMs: ctx.duration(raw.timeout ?? NOTIFICATION_DEFAULTS.timeout, [...path, 'timeout'], { positive: true, max: MAX_TIMEOUT_MS }),
  };
}

function buildSlack(raw: RawSlack, path: ConfigPath, ctx: NotificationsBuildContext): SlackConfig {
  const { issues } = ctx;
  if (!ctx.hasAdmin) {
    issues.add(
      path,
      'Slack\'s Approve and Deny buttons post to the admin API (POST /api/slack/interactions), but there is no admin: section: ' +
        'add one, and set the Slack app\'s Interactivity Request URL to <notifications.public_url>/api/slack/interactions',
    );
  }
  const apiUrl = (raw.api_url ?? NOTIFICATION_DEFAULTS.slackApiUrl).replace(/\/+$/, '');
  if (raw.api_url !== undefined) ctx.url(raw.api_url, [...path, 'api_url']);
  const tokenPath = [...path, 'bot_token'];
  if (!ctx.isPlaceholder(tokenPath) && !raw.bot_token.startsWith('xoxb-')) {
    issues.add(
      tokenPath,
      'expected a bot token (it starts with "xoxb-"): messages are posted with chat.postMessage and updated with chat.update, which ' +
        'need one with the chat:write scope; copy it from the Slack app\'s "OAuth & Permissions" page',
    );
  }
  const users = new Map<string, SlackApprover>();
  const userIds = Object.keys(raw.users);
  if (userIds.length === 0) {
    issues.add(
      [...path, 'users'],
      'no Slack users are mapped to approvers, so every click on Approve or Deny would be refused; map Slack user IDs ' +
        '(profile → ⋮ → "Copy member ID") to approver identities: users: { U0123ABCD: { subject: alice@example.com, groups: [approvers] } }',
    );
  }
  for (const id of userIds) {
    const user = raw.users[id];
    if (user === undefined) continue;
    if (!SLACK_USER_ID.test(id)) {
      issues.add(
        [...path, 'users', id],
        `${JSON.stringify(id.slice(0, 40))} is not a Slack user ID (such as "U0123ABCD"): a user's ID is on their Slack profile, under ⋮ → "Copy member ID"`,
        'key',
      );
    }
    users.set(id, { subject: user.subject, groups: user.groups });
  }
  return {
    apiUrl,
    botToken: raw.bot_token,
    channel: raw.channel,
    signingSecret: raw.signing_secret,
    users,
    timeoutMs: ctx.duration(raw.timeout ?? NOTIFICATION_DEFAULTS.timeout, [...path, 'timeout'], { positive: true, max: MAX_TIMEOUT_MS }),
  };
}

/** An http(s) base URL for links, without query or fragment; its trailing "/" dropped. */
function publicUrl(value: string, path: ConfigPath, ctx: NotificationsBuildContext): string {
  if (ctx.isPlaceholder(path)) return value;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || !(url.protocol === 'https:' || url.protocol === 'http:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    ctx.issues.add(
      path,
      'expected the admin API\'s base URL as approvers reach it, such as "https://portcullis.example.com" (http or https, no query, fragment or credentials)',
    );
    return value;
  }
  return value.replace(/\/+$/, '');
}
