/**
 * Access token → Identity. The order matters: cheap checks that need no keys and
 * no network come first, so garbage and forged-algorithm tokens cost almost nothing;
 * claims are judged only after the signature proves who wrote them.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { compactVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { IssuerConfig } from '../config/types.js';
import { silentLogger, type Logger } from '../log.js';
import { checkAccessTokenClaims, identityFromClaims } from './claims.js';
import { TokenError, quote, type TokenErrorCode } from './errors.js';
import type { Identity } from './identity.js';
import { ASYMMETRIC_ALGORITHMS, IssuerKeySource, type KeyLoadObserver, type KeySourceOptions } from './jwks.js';

/**
 * What the verifier reports for monitoring. Each `verify` call is reported once, as exactly
 * one of cacheHit, shared, verified or refused. Called on the connection path, so an
 * implementation only counts (no I/O).
 */
export interface VerifierObserver extends KeyLoadObserver {
  /** Answered from the cache of verified tokens. */
  cacheHit(): void;
  /** Joined a verification of the same token already in flight (whatever its outcome). */
  shared(): void;
  /** Fully verified (signature and claims) and accepted, in `seconds` (waiting for keys included). */
  verified(seconds: number): void;
  /** Refused, by a full verification or before one began. */
  refused(code: TokenErrorCode): void;
}

export const noopVerifierObserver: VerifierObserver = {
  cacheHit() {},
  shared() {},
  verified() {},
  refused() {},
  keysLoaded() {},
};

export interface TokenVerifierOptions {
  fetch?: typeof fetch;
  now?: () => number;
  logger?: Logger;
  /** Verified tokens remembered (LRU), default 10 000. */
  cacheSize?: number;
  /** At most one key refetch per issuer per this interval, default 30 s. */
  kidRefetchIntervalMs?: number;
  /** How long cached keys keep verifying through an issuer outage, default 24 h. */
  maxKeyStalenessMs?: number;
  /** Age after which keys are refreshed in the background, default 10 min. */
  keyRefreshIntervalMs?: number;
  /** Bound on one discovery/JWKS request, default 5 s. */
  fetchTimeoutMs?: number;
  /** Longest a verification result is reused, default 5 min, so withdrawn keys stop working soon. */
  cacheTtlMs?: number;
  /** Told of each verification's outcome and each key-set load, default none. */
  observer?: VerifierObserver;
}

/** Far above any real access token (Okta's are ~1 KiB), far below anything that costs us. */
const MAX_TOKEN_CHARS = 16 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

interface Issuer {
  readonly config: IssuerConfig;
  readonly keys: IssuerKeySource;
}

export class TokenVerifier {
  private readonly issuers = new Map<string, Issuer>();
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly cache: VerifiedCache;
  private readonly cacheTtlMs: number;
  private readonly observer: VerifierObserver;
  /** Same token arriving concurrently (connection storm) shares one verification. */
  private readonly inflight = new Map<string, Promise<Identity>>();

  constructor(issuers: readonly IssuerConfig[], options: TokenVerifierOptions = {}) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.cache = new VerifiedCache(options.cacheSize ?? 10_000);
    this.cacheTtlMs = options.cacheTtlMs ?? 5 * 60_000;
    this.observer = options.observer ?? noopVerifierObserver;
    const keyOptions: Partial<KeySourceOptions> = {
      now: this.now,
      logger: this.logger,
      observer: this.observer,
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.kidRefetchIntervalMs !== undefined && { refetchIntervalMs: options.kidRefetchIntervalMs }),
      ...(options.maxKeyStalenessMs !== undefined && { maxStalenessMs: options.maxKeyStalenessMs }),
      ...(options.keyRefreshIntervalMs !== undefined && { refreshIntervalMs: options.keyRefreshIntervalMs }),
      ...(options.fetchTimeoutMs !== undefined && { fetchTimeoutMs: options.fetchTimeoutMs }),
    };
    for (const config of issuers) {
      // Fail loudly at startup rather than quietly accept a forgeable algorithm later.
      const bad = config.algorithms.filter((a) => !ASYMMETRIC_ALGORITHMS.has(a));
      if (bad.length > 0) throw new Error(`issuer ${config.issuer}: algorithms ${bad.join(', ')} are not allowed (asymmetric only)`);
      if (this.issuers.has(config.issuer)) throw new Error(`issuer ${config.issuer} is configured twice`);
      this.issuers.set(config.issuer, { config, keys: new IssuerKeySource(config, keyOptions) });
    }
  }

  /** Verify an access token; throws TokenError with an agent-actionable message. */
  async verify(token: string): Promise<Identity> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) {
      throw this.refuse(new TokenError('malformed', `access token is not a string of at most ${MAX_TOKEN_CHARS} characters; present the raw JWT access token`));
    }
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(key, this.now());
    if (cached !== undefined) {
      this.observer.cacheHit();
      return cached;
    }
    const pending = this.inflight.get(key);
    if (pending !== undefined) {
      this.observer.shared();
      return pending;
    }

    const attempt = this.verifyUncached(token, key);
    this.inflight.set(key, attempt);
    try {
      return await attempt;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async verifyUncached(token: string, cacheKey: string): Promise<Identity> {
    const started = performance.now();
    try {
      const identity = await this.check(token, cacheKey);
      this.observer.verified((performance.now() - started) / 1000);
      this.logger.debug('access token verified', { issuer: identity.issuer, subject: identity.subject });
      return identity;
    } catch (err) {
      throw this.refuse(err instanceof TokenError ? err : mapJoseError(err));
    }
  }

  private refuse(error: TokenError): TokenError {
    this.observer.refused(error.code);
    this.logger.debug('access token refused', { code: error.code, reason: error.message });
    return error;
  }

  private async check(token: string, cacheKey: string): Promise<Identity> {
    const parts = token.split('.');
    if (parts.length !== 3) {
      throw new TokenError('malformed', parts.length === 5
        ? 'access token is an encrypted JWT (JWE); Portcullis accepts signed JWT access tokens only'
        : `access token must be a JWT of three dot-separated parts, got ${parts.length}; present the raw access token, not an opaque or wrapped one`);
    }
    const [h, p, sig] = parts as [string, string, string];
    if (h === '' || p === '' || !BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(sig)) {
      throw new TokenError('malformed', 'access token parts are not base64url; present the raw JWT access token');
    }
    // Decoded without trust: used only to pick the issuer, algorithm and key.
    const header = decodeJsonPart(h, 'header');
    const claimed = decodeJsonPart(p, 'payload');

    const iss = claimed['iss'];
    if (typeof iss !== 'string') {
      throw new TokenError('missing_claim', 'access token has no "iss" (issuer) claim; present an access token from a trusted OIDC issuer');
    }
    // Deliberately does not list the trusted issuers: that is configuration, not the agent's business.
    const issuer = this.issuers.get(iss);
    if (issuer === undefined) {
      throw new TokenError('unknown_issuer', `access token issuer ${quote(iss)} is not trusted by this gateway; obtain a token from the identity provider your operator configured`);
    }
    const { config } = issuer;

    const alg = header['alg'];
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.has(alg) || !config.algorithms.includes(alg)) {
      throw new TokenError('unsupported_alg', `access token algorithm ${quote(alg)} is not accepted (allowed: ${config.algorithms.join(', ')}); unsigned and shared-secret (HS*) tokens are always refused`);
    }
    if (config.strictTyp) checkTyp(header['typ']);
    const kid = header['kid'];
    if (kid !== undefined && typeof kid !== 'string') {
      throw new TokenError('malformed', 'access token "kid" header is not a string; present a token issued by your identity provider');
    }

    const payload = await verifySignature(token, await issuer.keys.keysFor(kid, alg), alg);
    const now = this.now();
    checkAccessTokenClaims(payload, config, now);
    const identity = identityFromClaims(payload, config);
    this.remember(cacheKey, identity, payload, config, now);
    return identity;
  }

  private remember(cacheKey: string, identity: Identity, payload: JWTPayload, config: IssuerConfig, now: number): void {
    // Reuse only as long as a fresh verification would still accept the token.
    let until = Math.min(identity.expiresAt + config.clockSkewMs, now + this.cacheTtlMs);
    if (typeof payload.iat === 'number') until = Math.min(until, payload.iat * 1000 + config.maxTokenAgeMs);
    this.cache.set(cacheKey, identity, until);
  }
}

function decodeJsonPart(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenError('malformed', `access token ${what} is not a base64url-encoded JSON object; present the raw JWT access token`);
  }
  return value as Record<string, unknown>;
}

function checkTyp(typ: unknown): void {
  // RFC 9068 says at+jwt; many issuers (Okta included) still send JWT.
  if (typeof typ !== 'string' || !ACCEPTED_TYP.has(typ.toLowerCase())) {
    throw new TokenError('bad_typ', `access token header typ ${quote(typ ?? '(none)')} is not an access token type (expected at+jwt or JWT); request an access token, not an ID or logout token`);
  }
}

/** Try each candidate key (normally one); the payload returned is the verified one, never the pre-decoded copy. */
async function verifySignature(token: string, keys: readonly CryptoKey[], alg: string): Promise<JWTPayload> {
  let lastFailure: unknown;
  for (const key of keys) {
    try {
      const { payload } = await compactVerify(token, key, { algorithms: [alg] });
      const value: unknown = JSON.parse(new TextDecoder().decode(payload));
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new joseErrors.JWTInvalid('payload');
      return value as JWTPayload;
    } catch (err) {
      if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) throw err;
      lastFailure = err;
    }
  }
  throw mapJoseError(lastFailure ?? new joseErrors.JWSSignatureVerificationFailed());
}

/** jose's messages describe jose; ours tell the agent what to do. The original stays as `cause` for logs. */
function mapJoseError(err: unknown): TokenError {
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new TokenError('bad_signature', 'access token signature does not verify: it was altered or not signed by its issuer; obtain a new token from your identity provider', { cause: err });
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return new TokenError('unsupported_alg', 'access token uses an algorithm or header feature this gateway does not accept; request a standard RS256/ES256-signed access token', { cause: err });
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid || err instanceof SyntaxError) {
    return new TokenError('malformed', 'access token is not a well-formed signed JWT; present the raw access token from your identity provider', { cause: err });
  }
  return new TokenError('bad_signature', 'access token could not be verified; obtain a new token from your identity provider', { cause: err });
}

/** Bounded LRU of verified tokens, keyed by SHA-256 so the cache never holds a usable token. */
class VerifiedCache {
  private readonly entries = new Map<string, { identity: Identity; until: number }>();

  constructor(private readonly max: number) {}

  get(key: string, now: number): Identity | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (now >= entry.until) return undefined; // expired: re-verify, which yields the precise refusal
    this.entries.set(key, entry); // most recently used goes last
    return entry.identity;
  }

  set(key: string, identity: Identity, until: number): void {
    if (this.max <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { identity, until });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
