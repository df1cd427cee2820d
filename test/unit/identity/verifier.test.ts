import { createHmac } from 'node:crypto';
import { exportSPKI, importJWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IssuerConfig } from '../../../src/config/types.js';
import { createLogger } from '../../../src/log.js';
import { TokenVerifier, type TokenVerifierOptions } from '../../../src/identity/verifier.js';
import {
  T0, b64, claims, expectRefusal, issuerConfig, makeKey, sign, startIssuer,
  type TestIssuer, type TestKey,
} from './issuer-fixture.js';

let idp: TestIssuer;
let rsa: TestKey;
let ec: TestKey;
let now: number;
let fetchCalls: number;

const countingFetch: typeof fetch = (input, init) => {
  fetchCalls++;
  return fetch(input, init);
};

function verifier(overrides: Partial<IssuerConfig> = {}, options: TokenVerifierOptions = {}): TokenVerifier {
  // No background key refresh here: a verifier left over from one test must not hit the server in the next.
  const defaults: TokenVerifierOptions = { fetch: countingFetch, now: () => now, keyRefreshIntervalMs: 86_400_000 };
  return new TokenVerifier([issuerConfig(idp.url, overrides)], { ...defaults, ...options });
}

beforeAll(async () => {
  rsa = await makeKey('rsa-1', 'RS256');
  ec = await makeKey('ec-1', 'ES256');
  idp = await startIssuer([rsa, ec]);
});
afterAll(() => idp.stop());
beforeEach(() => {
  now = T0;
  fetchCalls = 0;
  idp.counts.discovery = 0;
  idp.counts.jwks = 0;
  idp.published = [rsa, ec];
});

describe('accepts valid access tokens', () => {
  it('maps an RS256 token with client_id, groups array and scope string', async () => {
    const token = await sign(rsa, claims(idp.url, now, { groups: ['agents', 'readers'], scope: 'db:read  db:write' }));
    const identity = await verifier().verify(token);
    expect(identity).toEqual({
      subject: 'agent-7',
      clientId: 'agent-client',
      groups: ['agents', 'readers'],
      scopes: ['db:read', 'db:write'],
      issuer: idp.url,
      expiresAt: (Math.floor(T0 / 1000) + 600) * 1000,
    });
  });

  it("maps an ES256 Okta-shaped token: cid, a single group string, scp array", async () => {
    const payload = claims(idp.url, now, { client_id: undefined, cid: '0oa-okta', groups: 'agents', scp: ['db:read'] });
    const identity = await verifier().verify(await sign(ec, payload, { typ: 'JWT' }));
    expect(identity.clientId).toBe('0oa-okta');
    expect(identity.groups).toEqual(['agents']);
    expect(identity.scopes).toEqual(['db:read']);
  });

  it('uses the configured groups claim and accepts any configured audience', async () => {
    const payload = claims(idp.url, now, { aud: ['other', 'api://second'], roles: ['dba'], groups: ['ignored'] });
    const v = verifier({ groupsClaim: 'roles', audiences: ['api://portcullis', 'api://second'] });
    expect((await v.verify(await sign(rsa, payload))).groups).toEqual(['dba']);
  });

  it('accepts the other default algorithm families (PS256, ES384, EdDSA)', async () => {
    const extra = await Promise.all([makeKey('ps', 'PS256'), makeKey('es384', 'ES384'), makeKey('ed', 'EdDSA')]);
    idp.published = [rsa, ec, ...extra];
    const v = verifier();
    for (const key of extra) await expect(v.verify(await sign(key, claims(idp.url, now)))).resolves.toBeDefined();
  });

  it('accepts a token without kid when a published key fits the algorithm', async () => {
    const identity = await verifier().verify(await sign(ec, claims(idp.url, now), { kid: null }));
    expect(identity.subject).toBe('agent-7');
  });

  it('accepts a token expired by less than the clock skew', async () => {
    const token = await sign(rsa, claims(idp.url, now - 630_000)); // exp = now - 30 s, skew 60 s
    await expect(verifier().verify(token)).resolves.toMatchObject({ subject: 'agent-7' });
  });
});

describe('refuses forged algorithms', () => {
  it('refuses alg none (any spelling)', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, typ: 'JWT' })}.${b64(claims(idp.url, now))}.`;
      await expectRefusal(verifier().verify(token), 'unsupported_alg', token);
    }
    expect(fetchCalls).toBe(0);
  });

  it('refuses HS256 signed with the RSA public key as PEM or JWK bytes', async () => {
    const pem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256')) as CryptoKey);
    for (const secret of [pem, JSON.stringify(rsa.publicJwk)]) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })}.${b64(claims(idp.url, now))}`;
      const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await expectRefusal(verifier().verify(token), 'unsupported_alg', token);
    }
    expect(fetchCalls).toBe(0);
  });

  it('refuses at construction an issuer configured with an HMAC algorithm', () => {
    expect(() => verifier({ algorithms: ['RS256', 'HS256'] })).toThrow(/HS256/);
  });

  it('refuses an algorithm not in the issuer allow-list', async () => {
    const token = await sign(ec, claims(idp.url, now));
    await expectRefusal(verifier({ algorithms: ['RS256'] }).verify(token), 'unsupported_alg', token);
  });

  it('refuses an alg that does not match the published key type', async () => {
    const token = await sign(ec, claims(idp.url, now), { kid: rsa.kid }); // ES256 header, RSA key id
    await expectRefusal(verifier().verify(token), 'unsupported_alg', token);
  });
});

describe('refuses bad tokens', () => {
  it('refuses an unknown kid after exactly one rate-limited refetch', async () => {
    const v = verifier();
    await v.verify(await sign(rsa, claims(idp.url, now))); // warm: discovery + 1 JWKS
    expect(idp.counts.jwks).toBe(1);
    const stranger = await makeKey('not-published', 'ES256');
    const token = await sign(stranger, claims(idp.url, now));
    const err = await expectRefusal(v.verify(token), 'unknown_kid', token);
    expect(err.message).toContain('not-published');
    expect(idp.counts.jwks).toBe(2);
    // A flood of forged kids inside the interval costs the issuer nothing more.
    for (let i = 0; i < 5; i++) {
      await expectRefusal(v.verify(await sign(stranger, claims(idp.url, now, { jti: String(i) }))), 'unknown_kid');
    }
    expect(idp.counts.jwks).toBe(2);
    now += 30_000;
    await expectRefusal(v.verify(await sign(stranger, claims(idp.url, now))), 'unknown_kid');
    expect(idp.counts.jwks).toBe(3);
    expect(idp.counts.discovery).toBe(1);
  });

  it('refuses a tampered payload (bad signature)', async () => {
    const token = await sign(rsa, claims(idp.url, now));
    const [h, , s] = token.split('.');
    const forged = `${h}.${b64(claims(idp.url, now, { sub: 'admin' }))}.${s}`;
    await expectRefusal(verifier().verify(forged), 'bad_signature', forged);
  });

  it('refuses a token without exp', async () => {
    const token = await sign(rsa, claims(idp.url, now, { exp: undefined }));
    const err = await expectRefusal(verifier().verify(token), 'missing_claim', token);
    expect(err.message).toContain('exp');
  });

  it('refuses a token without sub', async () => {
    const token = await sign(rsa, claims(idp.url, now, { sub: undefined }));
    await expectRefusal(verifier().verify(token), 'missing_claim', token);
  });

  it('refuses iat in the future beyond the skew', async () => {
    const token = await sign(rsa, claims(idp.url, now + 5 * 60_000));
    await expectRefusal(verifier().verify(token), 'iat_in_future', token);
  });

  it('refuses nbf in the future beyond the skew', async () => {
    const token = await sign(rsa, claims(idp.url, now, { nbf: Math.floor(now / 1000) + 300 }));
    await expectRefusal(verifier().verify(token), 'not_yet_valid', token);
  });

  it('refuses an untrusted issuer without naming the trusted ones', async () => {
    for (const iss of ['https://evil.example', `${idp.url}/`]) {
      const token = await sign(rsa, claims(iss, now));
      const err = await expectRefusal(verifier().verify(token), 'unknown_issuer', token);
      expect(err.message.replace(iss, '')).not.toContain(idp.url);
    }
    expect(fetchCalls).toBe(0);
  });

  it('refuses the wrong audience', async () => {
    const token = await sign(rsa, claims(idp.url, now, { aud: ['api://someone-else'] }));
    const err = await expectRefusal(verifier().verify(token), 'wrong_audience', token);
    expect(err.message).toContain('api://portcullis');
  });

  it('refuses an expired token with the expiry time in the message', async () => {
    const token = await sign(rsa, claims(idp.url, now - 15 * 60_000));
    const err = await expectRefusal(verifier().verify(token), 'expired', token);
    expect(err.message).toContain(new Date(now - 5 * 60_000).toISOString());
    expect(err.message).toMatch(/obtain a new token/);
  });

  it('refuses a token older than maxTokenAge even if exp is far away', async () => {
    const token = await sign(rsa, claims(idp.url, now - 2 * 3_600_000, { exp: Math.floor(now / 1000) + 3_600 }));
    await expectRefusal(verifier({ maxTokenAgeMs: 3_600_000 }).verify(token), 'token_too_old', token);
  });

  it('refuses ID tokens (nonce, at_hash)', async () => {
    for (const extra of [{ nonce: 'n-0S6_WzA2Mj' }, { at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }]) {
      const token = await sign(rsa, claims(idp.url, now, extra), { typ: 'JWT' });
      await expectRefusal(verifier().verify(token), 'id_token', token);
    }
  });

  it('enforces typ only when strictTyp is set', async () => {
    for (const typ of ['id_token+jwt', 'dpop+jwt']) {
      const token = await sign(rsa, claims(idp.url, now), { typ });
      await expectRefusal(verifier({ strictTyp: true }).verify(token), 'bad_typ', token);
      await expect(verifier().verify(token)).resolves.toMatchObject({ subject: 'agent-7' });
    }
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'JWT']) {
      await expect(verifier({ strictTyp: true }).verify(await sign(rsa, claims(idp.url, now), { typ }))).resolves.toBeDefined();
    }
  });

  it('refuses malformed input before any network or crypto work', async () => {
    const v = verifier();
    const good = await sign(rsa, claims(idp.url, now));
    const inputs = [
      'garbage',
      '',
      good.split('.').slice(0, 2).join('.'),
      `${good}.extra.parts`,
      `${good}${'A'.repeat(16 * 1024)}`,
      `${b64('not json')}.${b64(claims(idp.url, now))}.sig`,
      `${b64({ alg: 'RS256' })}.${b64([1, 2])}.sig`,
      `${b64({ alg: 'RS256' })}.pay load.sig`,
    ];
    for (const input of inputs) await expectRefusal(v.verify(input), 'malformed', input);
    await expectRefusal(v.verify(42 as unknown as string), 'malformed');
    expect(fetchCalls).toBe(0);
  });
});

describe('verification cache', () => {
  it('verifies a repeated token without network calls and still enforces expiry', async () => {
    const v = verifier();
    const token = await sign(rsa, claims(idp.url, now));
    const first = await v.verify(token);
    const calls = fetchCalls;
    expect(calls).toBe(2); // discovery + JWKS
    for (let i = 0; i < 10; i++) expect(await v.verify(token)).toEqual(first);
    expect(fetchCalls).toBe(calls);

    now += 4 * 60_000;
    expect(await v.verify(token)).toEqual(first);
    now += 7 * 60_000; // past exp (10 min) + skew (1 min)
    await expectRefusal(v.verify(token), 'expired', token);
  });

  it('shares work in a connection storm: one verification per token, one key fetch in all', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', {}, (line) => lines.push(line));
    const v = verifier({}, { logger });
    const tokens = await Promise.all([0, 1, 2, 3, 4].map((i) => sign(rsa, claims(idp.url, now, { jti: String(i) }))));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => v.verify(tokens[i % 5]!)));
    expect(new Set(results.map((r) => r.subject))).toEqual(new Set(['agent-7']));
    expect(lines.filter((l) => l.includes('access token verified'))).toHaveLength(5);
    expect(idp.counts.discovery).toBe(1);
    expect(idp.counts.jwks).toBe(1);
  });

  it('is a bounded LRU', async () => {
    // Every real (uncached) verification logs one debug line; cache hits log nothing.
    const lines: string[] = [];
    const logger = createLogger('debug', {}, (line) => lines.push(line));
    const v = verifier({}, { logger, cacheSize: 2 });
    const verified = (): number => lines.filter((l) => l.includes('access token verified')).length;
    const [a, b, c] = await Promise.all([0, 1, 2].map((i) => sign(rsa, claims(idp.url, now, { jti: String(i) }))));
    await v.verify(a!);
    await v.verify(b!);
    await v.verify(a!); // hit: a becomes most recent
    expect(verified()).toBe(2);
    await v.verify(c!); // evicts b
    await v.verify(a!);
    expect(verified()).toBe(3);
    await v.verify(b!);
    expect(verified()).toBe(4);
    expect(lines.join('\n')).not.toContain(a!.split('.')[2]);
  });
});
