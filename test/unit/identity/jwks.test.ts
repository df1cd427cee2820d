/**
 * Key lifecycle through the public verifier: discovery, rotation, outages, bounds.
 * Each test gets its own issuer server so stopping one cannot disturb another.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IssuerConfig } from '../../../src/config/types.js';
import { TokenVerifier, type TokenVerifierOptions } from '../../../src/identity/verifier.js';
import {
  T0, claims, expectRefusal, issuerConfig, makeKey, sign, startIssuer,
  type TestIssuer, type TestKey,
} from './issuer-fixture.js';

let k1: TestKey;
let k2: TestKey;
let now: number;
let idp: TestIssuer;

beforeAll(async () => {
  [k1, k2] = await Promise.all([makeKey('k1', 'ES256'), makeKey('k2', 'ES256')]);
});
beforeEach(async () => {
  now = T0;
  idp = await startIssuer([k1]);
});
afterEach(() => idp.stop());

function verifier(overrides: Partial<IssuerConfig> = {}, options: TokenVerifierOptions = {}): TokenVerifier {
  return new TokenVerifier([issuerConfig(idp.url, overrides)], { now: () => now, ...options });
}

const tokenFor = (key: TestKey, extra = {}): Promise<string> => sign(key, claims(idp.url, now, extra));

/** Background refreshes are fire-and-forget; give them a moment to reach the server. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

describe('key rotation', () => {
  it('picks up a new kid by refetching, and stops accepting a withdrawn one', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    idp.published = [k2]; // issuer rotates: k2 in, k1 out
    now += 60_000;
    await expect(v.verify(await tokenFor(k2))).resolves.toMatchObject({ subject: 'agent-7' });
    expect(idp.counts.jwks).toBe(2);
    const old = await tokenFor(k1, { jti: 'after-rotation' });
    await expectRefusal(v.verify(old), 'unknown_kid', old);
  });

  it('sees a rotation promptly even right after a fetch (kid refetch has its own limit)', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    idp.published = [k1, k2];
    await expect(v.verify(await tokenFor(k2))).resolves.toBeDefined();
    expect(idp.counts.jwks).toBe(2);
  });

  it('shares one refetch among concurrent tokens with a new kid', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    idp.published = [k1, k2];
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFor(k2, { jti: String(i) })));
    await Promise.all(tokens.map((t) => v.verify(t)));
    expect(idp.counts.jwks).toBe(2);
  });

  it('refreshes old keys in the background while still serving them', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    now += 11 * 60_000;
    idp.published = [k2];
    // Served from the cached set; the refresh happens behind it.
    await expect(v.verify(await tokenFor(k1))).resolves.toBeDefined();
    await settle();
    expect(idp.counts.jwks).toBe(2);
    const stale = await tokenFor(k1, { jti: 'x' });
    await expectRefusal(v.verify(stale), 'unknown_kid', stale);
  });
});

describe('issuer outage', () => {
  it('keeps verifying with cached keys when the issuer goes down', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    await idp.stop();
    now += 2 * 60 * 60_000; // well past the refresh interval: refreshes fail, keys stay
    for (let i = 0; i < 3; i++) {
      await expect(v.verify(await tokenFor(k1, { jti: String(i) }))).resolves.toBeDefined();
      await settle();
      now += 31_000;
    }
  });

  it('refuses an unknown kid during an outage cleanly, without crashing', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    await idp.stop();
    const t = await tokenFor(k2);
    await expectRefusal(v.verify(t), 'issuer_unavailable', t); // refetch attempted and failed
    await expectRefusal(v.verify(await tokenFor(k2, { jti: 'again' })), 'unknown_kid'); // rate limited: no attempt
    await expect(v.verify(await tokenFor(k1, { jti: 'known' }))).resolves.toBeDefined();
  });

  it('stops trusting cached keys after the maximum staleness', async () => {
    const v = verifier({}, { maxKeyStalenessMs: 60 * 60_000 });
    await v.verify(await tokenFor(k1));
    await idp.stop();
    now += 61 * 60_000;
    const t = await tokenFor(k1);
    await expectRefusal(v.verify(t), 'issuer_unavailable', t);
  });

  it('keeps the cached keys when a refresh returns an error or an empty key set', async () => {
    const v = verifier();
    await v.verify(await tokenFor(k1));
    for (const broken of [
      (res: import('node:http').ServerResponse) => res.writeHead(500).end('oops'),
      (res: import('node:http').ServerResponse) => res.writeHead(200).end('{"keys":[]}'),
      (res: import('node:http').ServerResponse) => res.writeHead(200).end('<html>maintenance</html>'),
    ]) {
      idp.jwksOverride = broken;
      now += 31_000;
      await expectRefusal(v.verify(await tokenFor(k2)), 'issuer_unavailable');
      await expect(v.verify(await tokenFor(k1, { jti: String(now) }))).resolves.toBeDefined();
    }
  });

  it('cold start with the issuer down → issuer_unavailable, then recovers after the retry interval', async () => {
    let down = true;
    const flakyFetch: typeof fetch = (input, init) =>
      down ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init);
    const v = verifier({}, { fetch: flakyFetch });
    const t = await tokenFor(k1);
    const err = await expectRefusal(v.verify(t), 'issuer_unavailable', t);
    expect(err.message).toMatch(/retry/);
    down = false;
    await expectRefusal(v.verify(t), 'issuer_unavailable', t); // within the retry interval: no hammering
    expect(idp.counts.discovery).toBe(0);
    now += 30_000;
    await expect(v.verify(await tokenFor(k1))).resolves.toBeDefined();
  });

  it('cold start against a closed port → issuer_unavailable', async () => {
    await idp.stop();
    const t = await tokenFor(k1);
    await expectRefusal(verifier().verify(t), 'issuer_unavailable', t);
  });
});

describe('discovery and fetch bounds', () => {
  it('refuses keys when discovery names a different issuer', async () => {
    idp.discoveryIssuer = 'https://impostor.example';
    const t = await tokenFor(k1);
    await expectRefusal(verifier().verify(t), 'issuer_unavailable', t);
    expect(idp.counts.jwks).toBe(0);
  });

  it('uses a configured jwksUri without discovery', async () => {
    await verifier({ jwksUri: `${idp.url}/jwks` }).verify(await tokenFor(k1));
    expect(idp.counts.discovery).toBe(0);
    expect(idp.counts.jwks).toBe(1);
  });

  it('never uses a symmetric (oct) key from the JWKS', async () => {
    idp.jwksOverride = (res) =>
      res.writeHead(200).end(JSON.stringify({ keys: [{ kty: 'oct', kid: 'k1', k: 'c2VjcmV0' }] }));
    const t = await tokenFor(k1);
    await expectRefusal(verifier().verify(t), 'issuer_unavailable', t);
  });

  it('refuses an oversized JWKS', async () => {
    const padding = 'x'.repeat(300 * 1024);
    idp.jwksOverride = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"pad":"${padding}",`); // chunked: no content-length to trust
      res.end(`"keys":${JSON.stringify([k1.publicJwk])}}`);
    };
    const t = await tokenFor(k1);
    await expectRefusal(verifier().verify(t), 'issuer_unavailable', t);
  });

  it('times out a hanging issuer', async () => {
    const hanging = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    try {
      const v = new TokenVerifier([issuerConfig(url)], { now: () => now, fetchTimeoutMs: 200 });
      const started = Date.now();
      const t = await sign(k1, claims(url, now));
      await expectRefusal(v.verify(t), 'issuer_unavailable', t);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });
});
