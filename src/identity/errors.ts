/**
 * Why a token was refused. The code is for programs (metrics, tests, protocol
 * mapping); the message is for the agent, which is often an LLM: it says what was
 * wrong and what to do next. Messages never contain the token or its signature
 * (invariant 7 without leaking credentials into logs or client error frames).
 */
/** Every code, for programs that need them all (metrics create a series per code up front). */
export const TOKEN_ERROR_CODES = [
  'malformed',
  'unsupported_alg',
  'unknown_issuer',
  'unknown_kid',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'iat_in_future',
  'missing_claim',
  'wrong_issuer',
  'wrong_audience',
  'token_too_old',
  'id_token',
  'bad_typ',
  'issuer_unavailable',
] as const;

export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];

export class TokenError extends Error {
  override readonly name = 'TokenError';

  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MAX_QUOTED = 80;

/**
 * Quote an untrusted value (a header or claim taken from the token) for a message.
 * Truncated and stripped of control characters, so an attacker cannot smuggle a
 * long payload or forged log lines through our error text.
 */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_QUOTED ? `'${clean.slice(0, MAX_QUOTED)}…'` : `'${clean}'`;
}

/** ISO-8601 for an epoch-milliseconds instant, for "expired at …" messages. */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}
