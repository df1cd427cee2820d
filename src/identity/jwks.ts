/**
 * One issuer's signing keys: discovery, JWKS fetch, cache, rotation and outage
 * behaviour. Every network attempt (cold start, unknown `kid`, periodic refresh)
 * goes through one rate limiter and one shared in-flight request, so neither a
 * flood of forged `kid`s nor a connection storm can hammer the issuer, and an
 * issuer outage degrades to "keep using the keys that worked" rather than to
 * refusing every agent.
 */
import { importJWK, type JWK } from 'jose';
import type { IssuerConfig } from '../config/types.js';
import { silentLogger, type Logger } from '../log.js';
import { TokenError, quote } from './errors.js';

/** Told of each key-set load (discovery when needed, then JWKS); loads are rare and rate limited. */
export interface KeyLoadObserver {
  keysLoaded(issuer: string, ok: boolean): void;
}

export interface KeySourceOptions {
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly logger: Logger;
  /** Minimum time between two network attempts for this issuer (unknown kid, cold start retry). */
  readonly refetchIntervalMs: number;
  /** Keys older than this are refreshed in the background while still being served. */
  readonly refreshIntervalMs: number;
  /** Keys older than this are no longer trusted, even through an outage. */
  readonly maxStalenessMs: number;
  /** Upper bound for one HTTP request, headers and body together. */
  readonly fetchTimeoutMs: number;
  /** Upper bound for a discovery document or JWKS body. */
  readonly maxResponseBytes: number;
  readonly observer: KeyLoadObserver;
}

export const DEFAULT_KEY_SOURCE_OPTIONS: KeySourceOptions = {
  // Late-bound so tests (and anything else) that replace globalThis.fetch are honoured.
  fetch: (input, init) => globalThis.fetch(input, init),
  now: Date.now,
  logger: silentLogger,
  refetchIntervalMs: 30_000,
  refreshIntervalMs: 10 * 60_000,
  maxStalenessMs: 24 * 60 * 60_000,
  fetchTimeoutMs: 5_000,
  maxResponseBytes: 256 * 1024,
  observer: { keysLoaded() {} },
};

/** Only asymmetric algorithms: an HMAC "key" would be the issuer's public key, which anyone has. */
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

/** Keys beyond this many in one JWKS are ignored (bounded work per refresh). */
const MAX_KEYS = 100;

interface KeyEntry {
  readonly kid: string | undefined;
  readonly alg: string | undefined;
  /** Public members only: a JWKS that leaks `d` must not turn into a private key here. */
  readonly jwk: JWK;
  /** Imported CryptoKeys by alg; WebCrypto binds a key to one algorithm. */
  readonly imported: Map<string, Promise<CryptoKey>>;
}

interface KeySet {
  readonly keys: readonly KeyEntry[];
  readonly fetchedAt: number;
}

type RefreshOutcome = 'ok' | 'failed' | 'skipped';

export class IssuerKeySource {
  private readonly opts: KeySourceOptions;
  private keySet: KeySet | undefined;
  /** Any network attempt (cold start, retry, periodic refresh). */
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** Refetches caused by an unknown kid: limited separately so a rotation is seen promptly. */
  private lastKidRefetchAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<RefreshOutcome> | undefined;
  private jwksUri: string | undefined;

  constructor(
    private readonly issuer: IssuerConfig,
    options: Partial<KeySourceOptions> = {},
  ) {
    this.opts = { ...DEFAULT_KEY_SOURCE_OPTIONS, ...options };
    this.jwksUri = issuer.jwksUri;
  }

  /**
   * The public keys that may have signed a token with this `kid` and `alg`.
   * Throws TokenError unknown_kid, unsupported_alg or issuer_unavailable.
   */
  async keysFor(kid: string | undefined, alg: string): Promise<readonly CryptoKey[]> {
    let set = this.usableSet();
    let justFetched = false;
    if (set === undefined) {
      // Cold start, or keys too stale to trust: we must wait for the network.
      justFetched = (await this.refresh('no usable cached keys', 'keys')) === 'ok';
      set = this.usableSet();
      if (set === undefined) throw this.unavailable();
    } else if (this.opts.now() - set.fetchedAt > this.opts.refreshIntervalMs) {
      // Serve the cached keys now; pick up rotations (and removals) in the background.
      void this.refresh('periodic refresh', 'keys');
    }

    let matching = matchKid(set, kid);
    if (matching.length === 0 && !justFetched) {
      // A new kid usually means the issuer rotated keys: look once, rate limited.
      const outcome = await this.refresh(`unknown kid ${quote(kid ?? '(none)')}`, 'kid');
      set = this.usableSet();
      matching = set === undefined ? [] : matchKid(set, kid);
      // During an outage we cannot tell "retired key" from "new key we cannot see yet".
      if (matching.length === 0 && (outcome === 'failed' || set === undefined)) throw this.unavailable();
    }
    if (matching.length === 0) throw this.unknownKid(kid);

    const usable = matching.filter((k) => keyFitsAlg(k, alg));
    if (usable.length === 0) {
      throw new TokenError(
        'unsupported_alg',
        kid === undefined
          ? `access token says alg ${quote(alg)}, but issuer ${quote(this.issuer.issuer)} publishes no key of that kind; the token was not produced by this issuer's signing key`
          : `access token says alg ${quote(alg)}, but the issuer's key ${quote(kid)} is a different kind of key; the token was not produced by this issuer's signing key`,
      );
    }
    const keys = await Promise.all(usable.map((k) => this.importKey(k, alg)));
    const ok = keys.filter((k): k is CryptoKey => k !== undefined);
    if (ok.length === 0) throw this.unavailable();
    return ok;
  }

  private usableSet(): KeySet | undefined {
    const set = this.keySet;
    if (set === undefined) return undefined;
    return this.opts.now() - set.fetchedAt <= this.opts.maxStalenessMs ? set : undefined;
  }

  /** Rate limited and shared: concurrent callers wait on the same request. Never rejects. */
  private refresh(reason: string, kind: 'keys' | 'kid'): Promise<RefreshOutcome> {
    if (this.inflight !== undefined) return this.inflight;
    const now = this.opts.now();
    const last = kind === 'kid' ? this.lastKidRefetchAt : this.lastAttemptAt;
    if (now - last < this.opts.refetchIntervalMs) return Promise.resolve('skipped');
    this.lastAttemptAt = now;
    if (kind === 'kid') this.lastKidRefetchAt = now;
    this.opts.logger.debug('fetching issuer keys', { issuer: this.issuer.issuer, reason });
    const attempt = this.load().then(
      (keys): RefreshOutcome => {
        // Replace, not merge: keys the issuer withdrew must stop verifying.
        this.keySet = { keys, fetchedAt: this.opts.now() };
        this.opts.observer.keysLoaded(this.issuer.issuer, true);
        return 'ok';
      },
      (err: unknown): RefreshOutcome => {
        // Keep the previous key set: a failed refresh never discards keys that worked.
        this.opts.logger.warn('issuer key refresh failed; keeping cached keys', {
          issuer: this.issuer.issuer,
          reason,
          error: err instanceof Error ? err.message : String(err),
          cachedKeys: this.keySet?.keys.length ?? 0,
        });
        this.opts.observer.keysLoaded(this.issuer.issuer, false);
        return 'failed';
      },
    );
    this.inflight = attempt.finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<KeyEntry[]> {
    const jwksUri = this.jwksUri ?? (await this.discover());
    try {
      return parseJwks(await this.fetchJson(jwksUri));
    } catch (err) {
      // The issuer may have moved its JWKS; rediscover next time (unless pinned by config).
      if (this.issuer.jwksUri === undefined) this.jwksUri = undefined;
      throw err;
    }
  }

  private async discover(): Promise<string> {
    const url = `${this.issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const doc = await this.fetchJson(url);
    if (!isObject(doc)) throw new Error('discovery document is not a JSON object');
    // Exact match (OIDC Discovery §4.3): otherwise one issuer could vouch for another's keys.
    if (doc['issuer'] !== this.issuer.issuer) {
      throw new Error(`discovery document names issuer ${quote(doc['issuer'])}, expected ${quote(this.issuer.issuer)}`);
    }
    const jwksUri = doc['jwks_uri'];
    if (typeof jwksUri !== 'string') throw new Error('discovery document has no jwks_uri');
    const parsed = new URL(jwksUri);
    const issuerIsHttps = new URL(this.issuer.issuer).protocol === 'https:';
    if (parsed.protocol !== 'https:' && (issuerIsHttps || parsed.protocol !== 'http:')) {
      throw new Error(`discovery jwks_uri ${quote(jwksUri)} must use https`);
    }
    this.jwksUri = jwksUri;
    return jwksUri;
  }

  /** GET a JSON document with a hard time and size bound. */
  private async fetchJson(url: string): Promise<unknown> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${this.opts.fetchTimeoutMs} ms`)),
      this.opts.fetchTimeoutMs,
    );
    try {
      const res = await this.opts.fetch(url, { signal: controller.signal, headers: { accept: 'application/json' } });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`GET ${url} returned HTTP ${res.status}`);
      }
      const text = await readBounded(res, this.opts.maxResponseBytes, url);
      return JSON.parse(text) as unknown;
    } finally {
      clearTimeout(timer);
    }
  }

  private async importKey(entry: KeyEntry, alg: string): Promise<CryptoKey | undefined> {
    let pending = entry.imported.get(alg);
    if (pending === undefined) {
      pending = importJWK(entry.jwk, alg).then((key) => {
        if (key instanceof Uint8Array) throw new Error('symmetric key'); // unreachable: kty filtered
        return key;
      });
      entry.imported.set(alg, pending);
    }
    try {
      return await pending;
    } catch (err) {
      this.opts.logger.warn('issuer published a key that cannot be imported', {
        issuer: this.issuer.issuer,
        kid: entry.kid,
        alg,
        error: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    }
  }

  private unknownKid(kid: string | undefined): TokenError {
    return new TokenError(
      'unknown_kid',
      kid === undefined
        ? `access token has no "kid" header and issuer ${quote(this.issuer.issuer)} publishes no matching key; request a token signed with the issuer's current key`
        : `access token was signed with key id ${quote(kid)}, which issuer ${quote(this.issuer.issuer)} does not publish; the token is forged or its key was retired — obtain a new token and reconnect`,
    );
  }

  private unavailable(): TokenError {
    return new TokenError(
      'issuer_unavailable',
      `Portcullis could not obtain the signing keys of issuer ${quote(this.issuer.issuer)} (the issuer is unreachable or published no usable keys); this is not a problem with your token — retry in a minute`,
    );
  }
}

async function readBounded(res: Response, maxBytes: number, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${url} response is ${declared} bytes, over the ${maxBytes}-byte limit`);
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`GET ${url} response exceeds the ${maxBytes}-byte limit`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Keep only public signature keys of kinds we can verify with, stripped to public members. */
function parseJwks(body: unknown): KeyEntry[] {
  if (!isObject(body) || !Array.isArray(body['keys'])) throw new Error('JWKS has no "keys" array');
  const entries: KeyEntry[] = [];
  for (const raw of body['keys'].slice(0, MAX_KEYS)) {
    if (!isObject(raw)) continue;
    if (raw['use'] !== undefined && raw['use'] !== 'sig') continue;
    const ops = raw['key_ops'];
    if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) continue;
    const jwk = publicJwk(raw);
    if (jwk === undefined) continue;
    const kid = typeof raw['kid'] === 'string' ? raw['kid'] : undefined;
    const alg = typeof raw['alg'] === 'string' ? raw['alg'] : undefined;
    entries.push({ kid, alg, jwk, imported: new Map() });
  }
  // An empty set is treated as a failed fetch, so a broken issuer response cannot wipe good keys.
  if (entries.length === 0) throw new Error('JWKS contains no usable signature keys');
  return entries;
}

function publicJwk(raw: Record<string, unknown>): JWK | undefined {
  const s = (name: string): string | undefined => (typeof raw[name] === 'string' ? (raw[name] as string) : undefined);
  const kty = s('kty');
  if (kty === 'RSA') {
    const n = s('n'), e = s('e');
    return n && e ? { kty, n, e } : undefined;
  }
  if (kty === 'EC') {
    const crv = s('crv'), x = s('x'), y = s('y');
    return crv && x && y ? { kty, crv, x, y } : undefined;
  }
  if (kty === 'OKP') {
    const crv = s('crv'), x = s('x');
    return crv && x ? { kty, crv, x } : undefined;
  }
  return undefined; // 'oct' and anything unknown: never a verification key here
}

function matchKid(set: KeySet, kid: string | undefined): readonly KeyEntry[] {
  return kid === undefined ? set.keys : set.keys.filter((k) => k.kid === kid);
}

function keyFitsAlg(key: KeyEntry, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  const { kty, crv } = key.jwk;
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return kty === 'RSA';
  if (alg === 'ES256') return kty === 'EC' && crv === 'P-256';
  if (alg === 'ES384') return kty === 'EC' && crv === 'P-384';
  if (alg === 'ES512') return kty === 'EC' && crv === 'P-521';
  if (alg === 'EdDSA' || alg === 'Ed25519') return kty === 'OKP' && crv === 'Ed25519';
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
