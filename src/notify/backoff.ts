/**
 * When a failed delivery is tried again, and which failures are worth trying again. Pure.
 */

export interface BackoffPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Delay after the first failure; doubled after each further one. */
  readonly baseMs: number;
  /** No delay is longer (a `Retry-After` included). */
  readonly maxMs: number;
  /** ± this fraction of the delay, at random: receivers recovering from an outage are not hit by every sender at once. */
  readonly jitter: number;
}

/** 5 attempts: after 1 s, 2 s, 4 s and 8 s (each ± 20 %). */
export const DEFAULT_BACKOFF: BackoffPolicy = { maxAttempts: 5, baseMs: 1_000, maxMs: 60_000, jitter: 0.2 };

/**
 * The delay before attempt `failed + 1`, after `failed` failed attempts (1, 2, …). `random` is
 * in [0, 1): 0.5 gives the exact doubling. A receiver's `Retry-After` is honoured when longer.
 */
export function backoffDelay(policy: BackoffPolicy, failed: number, random: number, retryAfterMs?: number): number {
  const exponential = Math.min(policy.baseMs * 2 ** (failed - 1), policy.maxMs);
  const jittered = Math.round(exponential * (1 + policy.jitter * (2 * random - 1)));
  return Math.min(Math.max(jittered, retryAfterMs ?? 0), policy.maxMs);
}

/**
 * Worth trying again: the receiver is overloaded (429) or failing (5xx). Any other 4xx says
 * the request itself is refused (a wrong URL, a bad secret), and so will its retries; a 3xx is
 * not followed (a redirect could send the signed body elsewhere).
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/** `Retry-After` as milliseconds: delta-seconds, or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(at - nowMs, 0);
}
