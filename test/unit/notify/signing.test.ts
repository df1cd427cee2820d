/**
 * Signatures: the HMAC primitive against RFC 4231, the webhook scheme against a vector computed
 * with openssl, and Slack's scheme against the example Slack publishes in "Verifying requests
 * from Slack" (secret, timestamp, slash-command body and the signature they give).
 */
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, hmacSha256Hex, slackSignature, verifySlackSignature, webhookSignature } from '../../../src/notify/signing.js';

// Slack's published example.
const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const SLACK_TIMESTAMP = '1531420618';
const SLACK_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
  '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands' +
  '%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const SLACK_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const AT_SIGNING = Number(SLACK_TIMESTAMP) * 1000;

function check(overrides: { secret?: string; timestamp?: string | undefined; signature?: string | undefined; body?: string; now?: number } = {}) {
  const headers = {
    timestamp: 'timestamp' in overrides ? overrides.timestamp : SLACK_TIMESTAMP,
    signature: 'signature' in overrides ? overrides.signature : SLACK_SIGNATURE,
  };
  return verifySlackSignature(overrides.secret ?? SLACK_SECRET, headers, Buffer.from(overrides.body ?? SLACK_BODY), overrides.now ?? AT_SIGNING);
}

describe('HMAC-SHA256', () => {
  it('matches RFC 4231 test case 2', () => {
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('webhook signatures', () => {
  it('sign "<timestamp>.<body>" (vector from: printf %s \'1700000000.{"kind":"requested"}\' | openssl dgst -sha256 -hmac SECRET)', () => {
    expect(webhookSignature('a-webhook-secret-of-32-characters', 1700000000, '{"kind":"requested"}')).toBe(
      'sha256=045e53482a75e6349de9472d8e59a722b81da2342a52f78ef4287964eaaf5d2d',
    );
  });

  it('change with the timestamp, the body and the secret', () => {
    const base = webhookSignature('a-webhook-secret-of-32-characters', 1700000000, '{}');
    expect(webhookSignature('a-webhook-secret-of-32-characters', 1700000001, '{}')).not.toBe(base);
    expect(webhookSignature('a-webhook-secret-of-32-characters', 1700000000, '{ }')).not.toBe(base);
    expect(webhookSignature('another-webhook-secret-32-chars!!', 1700000000, '{}')).not.toBe(base);
  });
});

describe('Slack signatures', () => {
  it('reproduce the example Slack documents', () => {
    expect(slackSignature(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY)).toBe(SLACK_SIGNATURE);
    expect(check()).toEqual({ ok: true });
  });

  it('are accepted up to 5 minutes either side of now, and refused as stale beyond', () => {
    expect(check({ now: AT_SIGNING + 300_000 })).toEqual({ ok: true });
    expect(check({ now: AT_SIGNING - 300_000 })).toEqual({ ok: true });
    expect(check({ now: AT_SIGNING + 301_000 })).toMatchObject({ ok: false, reason: 'stale' });
    expect(check({ now: AT_SIGNING - 301_000 })).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('are refused for another secret, a changed body, or a changed timestamp', () => {
    expect(check({ secret: 'not-the-signing-secret' })).toMatchObject({ ok: false, reason: 'mismatch', message: expect.stringMatching(/signing_secret/) });
    expect(check({ body: SLACK_BODY.replace('roadrunner', 'coyote') })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(check({ timestamp: '1531420619', now: AT_SIGNING })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('are refused when missing or malformed, saying which', () => {
    expect(check({ signature: undefined })).toMatchObject({ ok: false, reason: 'missing' });
    expect(check({ timestamp: undefined })).toMatchObject({ ok: false, reason: 'missing' });
    expect(check({ timestamp: '1531420618.5' })).toMatchObject({ ok: false, reason: 'malformed-timestamp' });
    expect(check({ signature: SLACK_SIGNATURE.toUpperCase() })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(check({ signature: 'v0=' })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('never put the expected signature in the refusal', () => {
    const result = check({ secret: 'other' });
    expect(JSON.stringify(result)).not.toContain(slackSignature('other', SLACK_TIMESTAMP, SLACK_BODY).slice(3));
  });
});

describe('constantTimeEqual', () => {
  it('compares whole strings of any length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});
