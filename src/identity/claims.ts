/**
 * What a verified access token's claims must say, and what they mean. Pure: the
 * caller has already checked the signature; these functions only look at the
 * payload and a clock reading, so every rule here is unit-testable without keys.
 */
import type { JWTPayload } from 'jose';
import type { IssuerConfig } from '../config/types.js';
import { TokenError, isoTime, quote } from './errors.js';
import type { Identity } from './identity.js';

/**
 * Refuse a signature-verified payload that is not a currently valid access token
 * for us (RFC 9068 §4). `nowMs` is epoch milliseconds.
 */
export function checkAccessTokenClaims(payload: JWTPayload, issuer: IssuerConfig, nowMs: number): void {
  if (payload.iss !== issuer.issuer) {
    throw new TokenError('wrong_issuer', `access token issuer ${quote(payload.iss)} does not match the issuer whose key signed it; obtain a token from a trusted issuer`);
  }
  // ID tokens are signed by the same keys and often carry the same aud (client id):
  // without this check an ID token leaked from a web login would open a session.
  for (const claim of ['nonce', 'at_hash'] as const) {
    if (payload[claim] !== undefined) {
      throw new TokenError('id_token', `this is an OpenID Connect ID token (it has a "${claim}" claim), not an access token; request an access token from the issuer and present that instead`);
    }
  }
  const exp = numericDate(payload, 'exp');
  if (exp === undefined) {
    throw new TokenError('missing_claim', 'access token has no "exp" (expiry) claim; Portcullis only accepts tokens that expire — request a standard short-lived access token');
  }
  const nbf = numericDate(payload, 'nbf');
  const iat = numericDate(payload, 'iat');
  checkAudience(payload.aud, issuer.audiences);

  const skew = issuer.clockSkewMs;
  if (iat !== undefined && iat > nowMs + skew) {
    throw new TokenError('iat_in_future', `access token says it was issued at ${isoTime(iat)}, which is in the future (gateway time ${isoTime(nowMs)}); a clock is wrong — obtain a new token and, if this repeats, report the clock difference`);
  }
  if (nbf !== undefined && nbf > nowMs + skew) {
    throw new TokenError('not_yet_valid', `access token is not valid before ${isoTime(nbf)} (gateway time ${isoTime(nowMs)}); wait until then or obtain a token that is valid now`);
  }
  if (exp <= nowMs - skew) {
    throw new TokenError('expired', `access token expired at ${isoTime(exp)} (gateway time ${isoTime(nowMs)}); obtain a new token and reconnect`);
  }
  // Without iat the age is unknown; exp (required above) still bounds the token.
  if (iat !== undefined && nowMs - iat > issuer.maxTokenAgeMs) {
    throw new TokenError('token_too_old', `access token was issued at ${isoTime(iat)}, more than ${Math.round(issuer.maxTokenAgeMs / 60_000)} minutes ago, the oldest this gateway accepts; obtain a fresh token and reconnect`);
  }
}

/** A NumericDate claim in epoch ms; undefined when absent; malformed when not a number. */
function numericDate(payload: JWTPayload, claim: 'exp' | 'nbf' | 'iat'): number | undefined {
  const value: unknown = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TokenError('malformed', `access token "${claim}" claim is not a number of seconds since the epoch; request a standard access token`);
  }
  return value * 1000;
}

function checkAudience(aud: unknown, accepted: readonly string[]): void {
  const wanted = accepted.map((a) => quote(a)).join(' or ');
  if (aud === undefined) {
    throw new TokenError('missing_claim', `access token has no "aud" (audience) claim; request a token for audience ${wanted}`);
  }
  const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!list.some((a) => typeof a === 'string' && accepted.includes(a))) {
    throw new TokenError('wrong_audience', `access token audience ${quote(aud)} is not accepted by this gateway; request a token for audience ${wanted}`);
  }
}

export function identityFromClaims(payload: JWTPayload, issuer: IssuerConfig): Identity {
  const { sub, exp } = payload;
  if (typeof sub !== 'string' || sub === '') {
    throw new TokenError(
      'missing_claim',
      'access token has no "sub" (subject) claim, so it does not say who is acting; request a token that identifies your client or user',
    );
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new TokenError(
      'missing_claim',
      'access token has no numeric "exp" (expiry) claim; Portcullis only accepts tokens that expire — request a standard short-lived access token',
    );
  }
  return {
    subject: sub,
    clientId: clientIdOf(payload),
    groups: stringList(payload[issuer.groupsClaim]),
    scopes: scopesOf(payload),
    issuer: issuer.issuer,
    expiresAt: exp * 1000,
  };
}

function clientIdOf(payload: JWTPayload): string | undefined {
  // RFC 9068 names it client_id; Okta's org/custom authorization servers use cid.
  for (const claim of ['client_id', 'cid']) {
    const value = payload[claim];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

function scopesOf(payload: JWTPayload): readonly string[] {
  const { scope, scp } = payload;
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s !== '');
  // Okta (and Azure AD's scp as a string) — accept either shape under scp too.
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s !== '');
  return stringList(scp);
}

/** An array of strings, or one string; anything else (numbers, objects, mixed arrays) counts as none. */
function stringList(value: unknown): readonly string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) {
    return value.filter((v) => v !== '');
  }
  return [];
}
