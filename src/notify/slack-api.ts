/**
 * Calls to the Slack Web API (`POST <api_url>/<method>` with the bot token, JSON body), and
 * what their answers mean for a delivery: Slack answers HTTP 200 with `{"ok": false, "error":
 * "…"}` for most failures, so the status alone does not say whether to retry.
 */
import { isRetryableStatus } from './backoff.js';
import type { AttemptOutcome } from './delivery-queue.js';
import type { HttpAnswer, HttpTransport } from './http.js';

export interface SlackApiOptions {
  /** e.g. `https://slack.com/api`, without a trailing `/`. */
  readonly apiUrl: string;
  readonly botToken: string;
  readonly timeoutMs: number;
  readonly transport: HttpTransport;
}

/** The fields of Slack's answers used here. */
export interface SlackAnswer {
  readonly ok: boolean;
  readonly error?: string;
  /** chat.postMessage: the message's timestamp (its id within the channel). */
  readonly ts?: string;
  /** chat.postMessage: the channel's ID (chat.update needs the ID, not a name). */
  readonly channel?: string;
}

export type SlackCall = { readonly outcome: AttemptOutcome; readonly answer?: SlackAnswer };

export async function callSlack(options: SlackApiOptions, method: string, body: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<SlackCall> {
  const answer = await options.transport({
    url: `${options.apiUrl}/${method}`,
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${options.botToken}` },
    body: JSON.stringify(body),
    timeoutMs: options.timeoutMs,
    signal,
  });
  return slackOutcome(method, answer);
}

/** Slack's errors that are about Slack, not about the request: worth retrying. */
const TRANSIENT_ERRORS = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/** What to tell the operator for the errors a misconfiguration causes. */
const HINTS: ReadonlyMap<string, string> = new Map(Object.entries({
  not_in_channel: 'invite the app to the channel (/invite @your-app in it)',
  channel_not_found: 'check notifications.slack.channel (a channel ID such as C0123456789), and invite the app to it',
  invalid_auth: 'check notifications.slack.bot_token',
  not_authed: 'check notifications.slack.bot_token',
  token_revoked: 'the bot token was revoked: reinstall the app and update notifications.slack.bot_token',
  account_inactive: 'the bot token belongs to a deleted user or app: reinstall the app and update notifications.slack.bot_token',
  missing_scope: 'add the chat:write scope to the app and reinstall it',
  message_not_found: 'the message was deleted in Slack',
  cant_update_message: 'the message was not posted by this app',
}));

export function slackOutcome(method: string, answer: HttpAnswer): SlackCall {
  if (answer.status !== 200) {
    const reason = `Slack ${method} answered HTTP ${answer.status}`;
    if (isRetryableStatus(answer.status)) return { outcome: answer.retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: answer.retryAfterMs } };
    return { outcome: { kind: 'failed', reason: `${reason}: check notifications.slack.api_url` } };
  }
  const parsed = parseAnswer(answer.body);
  if (parsed === undefined) return { outcome: { kind: 'retry', reason: `Slack ${method} answered something other than its JSON` } };
  if (parsed.ok) return { outcome: { kind: 'delivered' }, answer: parsed };
  const error = parsed.error ?? 'unknown_error';
  const reason = `Slack ${method} refused it: ${error}`;
  if (TRANSIENT_ERRORS.has(error)) return { outcome: { kind: 'retry', reason }, answer: parsed };
  const hint = HINTS.get(error);
  return { outcome: { kind: 'failed', reason: hint === undefined ? reason : `${reason}; ${hint}` }, answer: parsed };
}

function parseAnswer(body: string): SlackAnswer | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || typeof (value as { ok?: unknown }).ok !== 'boolean') return undefined;
  const { ok, error, ts, channel } = value as Record<string, unknown>;
  return {
    ok: ok as boolean,
    ...(typeof error === 'string' ? { error } : {}),
    ...(typeof ts === 'string' ? { ts } : {}),
    ...(typeof channel === 'string' ? { channel } : {}),
  };
}
