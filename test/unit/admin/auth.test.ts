/**
 * Admin API authentication and authorization: bearer parsing, the group decision, and the
 * full outcome with a real TokenVerifier against a real (local) issuer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, authorize, bearerCredentials, headerSafe, wwwAuthenticate, type AdminGroups } from '../../../src/admin/auth.js';
import { TokenVerifier } from '../../../src/identity/verifier.js';
import { freePort } from '../../support/ports.js';
import { b64, claims, issuerConfig, makeKey, sign, startIssuer, T0, type TestIssuer, type TestKey } from '../identity/issuer-fixture.js';

const GROUPS: AdminGroups = { auditors: ['auditors', 'compliance'], admins: ['portcullis-admins'] };

describe('bearerCredentials', () => {
  it('takes "Bearer <token>", any case of the scheme', () => {
    expect(bearerCredentials('Bearer abc.def.ghi')).toEqual({ kind: 'bearer', token: 'abc.def.ghi' });
    expect(bearerCredentials('bearer   abc')).toEqual({ kind: 'bearer', token: 'abc' });
  });

  it('tells a missing header from a malformed one, never echoing the credential', () => {
    expect(bearerCredentials(undefined)).toEqual({ kind: 'none' });
    expect(bearerCredentials('  ')).toEqual({ kind: 'none' });
    const basic = bearerCredentials('Basic c2VjcmV0OnBhc3N3b3Jk');
    expect(basic).toEqual({ kind: 'malformed', message: 'the Authorization header must be "Bearer <access token>", not the Basic scheme' });
    for (const header of ['Bearer', 'Bearer a b', 'c2VjcmV0OnBhc3N3b3Jk']) {
      const result = bearerCredentials(header);
      expect(result.kind, header).toBe('malformed');
      if (result.kind === 'malformed') expect(result.message).not.toContain('c2VjcmV0');
    }
  });
});

describe('authorize', () => {
  it('lets auditors and admins use auditor routes, only admins admin routes', () => {
    expect(authorize({ subject: 'a', groups: ['x', 'compliance'] }, 'auditor', GROUPS)).toEqual({ ok: true, role: 'auditor' });
    expect(authorize({ subject: 'a', groups: ['portcullis-admins'] }, 'auditor', GROUPS)).toEqual({ ok: true, role: 'admin' });
    expect(authorize({ subject: 'a', groups: ['portcullis-admins'] }, 'admin', GROUPS)).toEqual({ ok: true, role: 'admin' });
    expect(authorize({ subject: 'a', groups: ['auditors'] }, 'admin', GROUPS).ok).toBe(false);
  });

  it('names the caller, their groups and the groups needed', () => {
    expect(authorize({ subject: 'agent-7', groups: ['agents'] }, 'auditor', GROUPS)).toEqual({
      ok: false,
      message:
        'identity "agent-7" (groups "agents") may not use this endpoint: it needs membership in one of the groups ' +
        '"auditors", "compliance", "portcullis-admins"; ask your identity provider administrator to add you, then request a new token',
    });
    const none = authorize({ subject: 'svc', groups: [] }, 'admin', GROUPS);
    expect(none.ok === false && none.message).toMatch(/^identity "svc" \(no groups\) may not use this endpoint: it needs membership in the group "portcullis-admins";/);
  });
});

describe('wwwAuthenticate', () => {
  it('builds an RFC 6750 challenge with a header-safe description', () => {
    expect(wwwAuthenticate({})).toEqual({ 'www-authenticate': 'Bearer realm="portcullis-admin"' });
    expect(wwwAuthenticate({ error: 'invalid_token', description: 'issuer "x" is not trusted…\nretry — now\\' })).toEqual({
      'www-authenticate': 'Bearer realm="portcullis-admin", error="invalid_token", error_description="issuer \'x\' is not trusted...?retry - now\'"',
    });
    expect(headerSafe('é')).toBe('?');
  });
});

describe('authenticate (real verifier, real issuer)', () => {
  let issuer: TestIssuer;
  let key: TestKey;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    key = await makeKey('k1');
    issuer = await startIssuer([key]);
    verifier = new TokenVerifier([issuerConfig(issuer.url)], { now: () => T0 });
  });
  afterAll(() => issuer?.stop());

  const token = (extra: Record<string, unknown> = {}): Promise<string> => sign(key, claims(issuer.url, T0, extra));

  it('allows a valid token in an auditors group', async () => {
    const outcome = await authenticate(`Bearer ${await token({ groups: ['compliance'] })}`, 'auditor', GROUPS, verifier);
    expect(outcome).toMatchObject({ kind: 'allowed', role: 'auditor', identity: { subject: 'agent-7', groups: ['compliance'] } });
  });

  it('401 without a token: a challenge without an error code (RFC 6750 §3.1)', async () => {
    const outcome = await authenticate(undefined, 'auditor', GROUPS, verifier);
    expect(outcome).toMatchObject({ kind: 'refused', status: 401, error: 'unauthorized', reason: 'missing-token', headers: { 'www-authenticate': 'Bearer realm="portcullis-admin"' } });
    expect(outcome.kind === 'refused' && outcome.message).toMatch(/send "Authorization: Bearer <token>"/);
  });

  it('401 invalid_token for expired, forged and garbage tokens, with the verifier\'s reason and no part of the token', async () => {
    const expired = await sign(key, claims(issuer.url, T0 - 3_600_000));
    const valid = await token({ groups: ['auditors'] });
    const [h, , s] = valid.split('.');
    const forged = `${h}.${b64({ ...claims(issuer.url, T0), groups: ['portcullis-admins'] })}.${s}`;
    const cases: [string, RegExp][] = [
      [expired, /access token expired at/],
      [forged, /signature does not verify/],
      ['not-a-jwt', /must be a JWT of three dot-separated parts/],
    ];
    for (const [bad, why] of cases) {
      const outcome = await authenticate(`Bearer ${bad}`, 'auditor', GROUPS, verifier);
      if (outcome.kind !== 'refused') throw new Error('expected a refusal');
      expect(outcome.status).toBe(401);
      expect(outcome.error).toBe('invalid_token');
      expect(outcome.message).toMatch(why);
      expect(outcome.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis-admin", error="invalid_token", error_description="invalid access token: /);
      for (const part of bad.split('.')) if (part.length >= 8) expect(JSON.stringify(outcome)).not.toContain(part);
    }
  });

  it('403 insufficient_scope for a valid token outside the groups', async () => {
    const outcome = await authenticate(`Bearer ${await token({ groups: ['agents'] })}`, 'auditor', GROUPS, verifier);
    expect(outcome).toMatchObject({ kind: 'refused', status: 403, error: 'forbidden', reason: 'not-in-group' });
    expect(outcome.kind === 'refused' && outcome.headers['www-authenticate']).toMatch(/error="insufficient_scope", error_description="identity 'agent-7' \(groups 'agents'\) may not use/);
  });

  it('503 with Retry-After when the issuer cannot be reached to fetch its keys', async () => {
    const gone = `http://127.0.0.1:${await freePort()}`;
    const unreachable = new TokenVerifier([issuerConfig(gone)], { now: () => T0, fetchTimeoutMs: 1000 });
    const outcome = await authenticate(`Bearer ${await sign(key, claims(gone, T0, { groups: ['auditors'] }))}`, 'auditor', GROUPS, unreachable);
    expect(outcome).toMatchObject({ kind: 'refused', status: 503, error: 'issuer_unavailable', headers: { 'retry-after': '5' } });
    expect(outcome.kind === 'refused' && outcome.message).toMatch(/^cannot verify the access token right now: /);
  });
});
