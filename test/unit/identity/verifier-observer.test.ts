/**
 * What the verifier reports to its observer (and so to /metrics): each verify() call as
 * exactly one of cache hit, shared, verified or refused, and each issuer key-set load.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenErrorCode } from '../../../src/identity/errors.js';
import { TokenVerifier, type VerifierObserver } from '../../../src/identity/verifier.js';
import { PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import { parseExposition } from '../admin/exposition.js';
import { T0, claims, expectRefusal, issuerConfig, makeKey, sign, startIssuer, type TestIssuer, type TestKey } from './issuer-fixture.js';

/** Every call, in order, so a test also sees what was reported that it did not expect. */
class RecordingObserver implements VerifierObserver {
  readonly events: string[] = [];
  readonly seconds: number[] = [];
  cacheHit(): void {
    this.events.push('cacheHit');
  }
  shared(): void {
    this.events.push('shared');
  }
  verified(seconds: number): void {
    this.events.push('verified');
    this.seconds.push(seconds);
  }
  refused(code: TokenErrorCode): void {
    this.events.push(`refused:${code}`);
  }
  keysLoaded(issuer: string, ok: boolean): void {
    this.events.push(`keysLoaded:${issuer === idp.url ? 'idp' : issuer}:${ok ? 'ok' : 'failed'}`);
  }
  count(event: string): number {
    return this.events.filter((e) => e === event).length;
  }
}

let idp: TestIssuer;
let key: TestKey;
let now: number;

function verifier(observer: VerifierObserver): TokenVerifier {
  // No background key refresh: a verifier left over from one test must not report in the next.
  return new TokenVerifier([issuerConfig(idp.url)], { now: () => now, keyRefreshIntervalMs: 86_400_000, observer });
}

const tokenFor = (extra = {}): Promise<string> => sign(key, claims(idp.url, now, extra));

beforeAll(async () => {
  key = await makeKey('k1', 'ES256');
  idp = await startIssuer([key]);
});
afterAll(() => idp.stop());
beforeEach(() => {
  now = T0;
  idp.published = [key];
  idp.jwksOverride = undefined;
});

describe('verifier observer', () => {
  it('counts concurrent presentations of one token as one verification and the rest as shared, then cache hits', async () => {
    const observer = new RecordingObserver();
    const v = verifier(observer);
    const token = await tokenFor();
    const identities = await Promise.all(Array.from({ length: 5 }, () => v.verify(token)));
    expect(identities.every((i) => i.subject === 'agent-7')).toBe(true);
    expect(observer.events.filter((e) => !e.startsWith('shared'))).toEqual(['keysLoaded:idp:ok', 'verified']);
    expect(observer.count('shared')).toBe(4);
    expect(observer.seconds).toHaveLength(1);
    expect(observer.seconds[0]).toBeGreaterThan(0);
    expect(observer.seconds[0]).toBeLessThan(5);

    await v.verify(token);
    expect(observer.events.at(-1)).toBe('cacheHit');
    expect(observer.events).toHaveLength(7);
  });

  it('reports each refusal by its code, counts callers that joined a refused verification as shared, and caches nothing', async () => {
    const observer = new RecordingObserver();
    const v = verifier(observer);
    const expired = await tokenFor({ iat: Math.floor(now / 1000) - 3600, exp: Math.floor(now / 1000) - 1800 });
    await Promise.all([expectRefusal(v.verify(expired), 'expired'), expectRefusal(v.verify(expired), 'expired')]);
    expect(observer.events).toEqual(['shared', 'keysLoaded:idp:ok', 'refused:expired']);

    await expectRefusal(v.verify(expired), 'expired');
    expect(observer.events.at(-1)).toBe('refused:expired'); // verified again, not a cache hit
    await expectRefusal(v.verify('x'.repeat(17 * 1024)), 'malformed'); // refused before any verification
    await expectRefusal(v.verify(await sign(key, claims('https://elsewhere.example', now))), 'unknown_issuer');
    expect(observer.events.slice(3)).toEqual(['refused:expired', 'refused:malformed', 'refused:unknown_issuer']);
    expect(observer.count('verified')).toBe(0);
  });

  it('reports a failed key load and the refusal it causes', async () => {
    const observer = new RecordingObserver();
    const v = verifier(observer);
    idp.jwksOverride = (res) => res.writeHead(500).end();
    await expectRefusal(v.verify(await tokenFor()), 'issuer_unavailable');
    expect(observer.events).toEqual(['keysLoaded:idp:failed', 'refused:issuer_unavailable']);
  });
});

describe('PrometheusMetrics as the verifier observer', () => {
  it('exposes every outcome, refusal code and configured issuer at zero from the start', () => {
    const s = parseExposition(new PrometheusMetrics({ connections: [], issuers: ['https://idp.example'], processMetrics: false }).render());
    for (const result of ['cached', 'shared', 'verified']) expect(s.get(`portcullis_token_verifications_total{result="${result}",reason=""}`)).toBe(0);
    for (const code of ['malformed', 'bad_signature', 'expired', 'wrong_audience', 'issuer_unavailable']) {
      expect(s.get(`portcullis_token_verifications_total{result="refused",reason="${code}"}`)).toBe(0);
    }
    expect([...s.keys()].filter((k) => k.startsWith('portcullis_token_verifications_total{result="refused"'))).toHaveLength(15);
    expect(s.get('portcullis_issuer_key_loads_total{issuer="https://idp.example",result="ok"}')).toBe(0);
    expect(s.get('portcullis_issuer_key_loads_total{issuer="https://idp.example",result="failed"}')).toBe(0);
    expect(s.get('portcullis_token_verification_duration_seconds_count')).toBe(0);
  });

  it('counts what a real verifier reports', async () => {
    const metrics = new PrometheusMetrics({ connections: [], issuers: [idp.url], processMetrics: false });
    const v = verifier(metrics.tokens);
    const token = await tokenFor();
    await Promise.all([v.verify(token), v.verify(token), v.verify(token)]);
    await v.verify(token);
    await expectRefusal(v.verify('not.a.jwt'), 'malformed');
    const s = parseExposition(metrics.render());
    expect(s.get('portcullis_token_verifications_total{result="verified",reason=""}')).toBe(1);
    expect(s.get('portcullis_token_verifications_total{result="shared",reason=""}')).toBe(2);
    expect(s.get('portcullis_token_verifications_total{result="cached",reason=""}')).toBe(1);
    expect(s.get('portcullis_token_verifications_total{result="refused",reason="malformed"}')).toBe(1);
    expect(s.get('portcullis_token_verifications_total{result="refused",reason="expired"}')).toBe(0);
    expect(s.get(`portcullis_issuer_key_loads_total{issuer="${idp.url}",result="ok"}`)).toBe(1);
    expect(s.get(`portcullis_issuer_key_loads_total{issuer="${idp.url}",result="failed"}`)).toBe(0);
    expect(s.get('portcullis_token_verification_duration_seconds_count')).toBe(1);
    expect(s.get('portcullis_token_verification_duration_seconds_sum')).toBeGreaterThan(0);
    expect(s.get('portcullis_token_verification_duration_seconds_bucket{le="+Inf"}')).toBe(1);
  });
});
