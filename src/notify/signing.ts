/**
 * HMAC-SHA256 signatures, both ways: the ones Portcullis puts on its webhook deliveries, and
 * the ones Slack puts on the interactions it posts back. Pure (the clock is a parameter).
 *
 * Webhooks: `X-Portcullis-Signature: sha256=<hex>` where hex is
 * HMAC-SHA256(key = the webhook's secret, message = `${X-Portcullis-Timestamp}.${raw body}`),
 * the timestamp being Unix seconds at signing. Signing the timestamp with the body lets a
 * receiver refuse an old delivery replayed at it (check it is within 5 minutes).
 *
 * Slack (https://api.slack.com/authentication/verifying-requests-from-slack):
 * `X-Slack-Signature: v0=<hex>` where hex is HMAC-SHA256(key = signing secret,
 * message = `v0:${X-Slack-Request-Timestamp}:${raw body}`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far a signed timestamp may be from now, either way, before the request is refused as a replay. */
export const MAX_SIGNATURE_AGE_SECONDS = 5 * 60;

export function hmacSha256Hex(key: string, message: string | Buffer): string {
  return createHmac('sha256', key).update(message).digest('hex');
}

/** The `X-Portcullis-Signature` value for a delivery body signed at `timestamp` (Unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${hmacSha256Hex(secret, `${timestamp}.${body}`)}`;
}

/** The `X-Slack-Signature` value Slack sends with `body` at `timestamp` (the header's text, as sent). */
export function slackSignature(signingSecret: string, timestamp: string, body: Buffer | string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest('hex')}`;
}

export type SignatureCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** For logs and metrics: a fixed word. */
      readonly reason: 'missing' | 'malformed-timestamp' | 'stale' | 'mismatch';
      /** For the caller: what is wrong (never the expected signature). */
      readonly message: string;
    };

/**
 * Whether a request carries Slack's signature over exactly `body`, made within
 * `MAX_SIGNATURE_AGE_SECONDS` of `nowMs` (a captured request replayed later is refused).
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: { readonly timestamp: string | undefined; readonly signature: string | undefined },
  body: Buffer,
  nowMs: number,
): SignatureCheck {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || signature === undefined) {
    return refused('missing', 'the request has no X-Slack-Request-Timestamp and X-Slack-Signature headers: only Slack may post here');
  }
  if (!/^\d{1,12}$/.test(timestamp)) return refused('malformed-timestamp', 'X-Slack-Request-Timestamp is not a Unix time in seconds');
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SIGNATURE_AGE_SECONDS) {
    return refused(
      'stale',
      `the request was signed more than ${MAX_SIGNATURE_AGE_SECONDS / 60} minutes from now (a replay, or this host's clock is wrong: check NTP)`,
    );
  }
  if (!constantTimeEqual(signature, slackSignature(signingSecret, timestamp, body))) {
    return refused('mismatch', 'X-Slack-Signature does not match the body: it was not signed with this app\'s signing secret (check notifications.slack.signing_secret)');
  }
  return { ok: true };
}

/** Equal strings, compared in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function refused(reason: Exclude<SignatureCheck, { ok: true }>['reason'], message: string): SignatureCheck {
  return { ok: false, reason, message };
}
