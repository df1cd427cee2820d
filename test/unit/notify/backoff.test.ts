/** When deliveries are retried: exponential delays with jitter, Retry-After, and which statuses are worth it. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, isRetryableStatus, parseRetryAfter } from '../../../src/notify/backoff.js';

describe('backoffDelay', () => {
  it('doubles from 1 s: 1 s, 2 s, 4 s, 8 s without jitter (random 0.5)', () => {
    expect([1, 2, 3, 4].map((failed) => backoffDelay(DEFAULT_BACKOFF, failed, 0.5))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it('jitters by at most ±20 %', () => {
    expect(backoffDelay(DEFAULT_BACKOFF, 3, 0)).toBe(3_200);
    expect(backoffDelay(DEFAULT_BACKOFF, 3, 0.999_999)).toBe(4_800);
  });

  it('is capped, and honours a longer Retry-After up to the cap', () => {
    expect(backoffDelay(DEFAULT_BACKOFF, 20, 0.5)).toBe(DEFAULT_BACKOFF.maxMs);
    expect(backoffDelay(DEFAULT_BACKOFF, 1, 0.5, 30_000)).toBe(30_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 3, 0.5, 10)).toBe(4_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 1, 0.5, 3_600_000)).toBe(DEFAULT_BACKOFF.maxMs);
  });
});

describe('isRetryableStatus', () => {
  it('retries 429 and 5xx only', () => {
    expect([429, 500, 502, 503, 599].every(isRetryableStatus)).toBe(true);
    expect([200, 301, 400, 401, 403, 404, 410, 422].some(isRetryableStatus)).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.UTC(2025, 0, 1);
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter(new Date(now + 12_000).toUTCString(), now)).toBe(12_000);
    expect(parseRetryAfter(new Date(now - 12_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
