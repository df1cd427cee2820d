import { describe, expect, it } from 'vitest';
import { checkAccessTokenClaims, identityFromClaims } from '../../../src/identity/claims.js';
import { TokenError, quote } from '../../../src/identity/errors.js';
import { T0, issuerConfig } from './issuer-fixture.js';

const issuer = issuerConfig('https://idp.example/oauth2/default');
const base = { iss: issuer.issuer, sub: 'agent-7', aud: 'api://portcullis', iat: T0 / 1000, exp: T0 / 1000 + 600 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof TokenError ? err.code : `not a TokenError: ${String(err)}`;
  }
}

describe('identityFromClaims', () => {
  it('maps standard claims', () => {
    expect(identityFromClaims({ ...base, client_id: 'c1', groups: ['a', 'b'], scope: 'x y' }, issuer)).toEqual({
      subject: 'agent-7', clientId: 'c1', groups: ['a', 'b'], scopes: ['x', 'y'],
      issuer: issuer.issuer, expiresAt: T0 + 600_000,
    });
  });

  it("maps Okta's cid and scp, and a single group string", () => {
    const id = identityFromClaims({ ...base, cid: '0oa1', scp: ['db:read', 'db:write'], groups: 'agents' }, issuer);
    expect([id.clientId, id.scopes, id.groups]).toEqual(['0oa1', ['db:read', 'db:write'], ['agents']]);
  });

  it('prefers client_id over cid', () => {
    expect(identityFromClaims({ ...base, client_id: 'std', cid: 'okta' }, issuer).clientId).toBe('std');
  });

  it('treats malformed groups and scopes as none (fail closed: fewer rights, not more)', () => {
    for (const groups of [42, { admin: true }, ['ok', 1], null]) {
      expect(identityFromClaims({ ...base, groups }, issuer).groups).toEqual([]);
    }
    const id = identityFromClaims({ ...base, scp: [1, 2] }, issuer);
    expect([id.scopes, id.clientId]).toEqual([[], undefined]);
  });

  it('requires sub and exp', () => {
    expect(codeOf(() => identityFromClaims({ ...base, sub: undefined }, issuer))).toBe('missing_claim');
    expect(codeOf(() => identityFromClaims({ ...base, sub: '' }, issuer))).toBe('missing_claim');
    expect(codeOf(() => identityFromClaims({ ...base, exp: undefined }, issuer))).toBe('missing_claim');
  });
});

describe('checkAccessTokenClaims', () => {
  const check = (payload: Record<string, unknown>, now = T0, cfg = issuer) =>
    codeOf(() => checkAccessTokenClaims(payload, cfg, now));

  it('accepts a valid token, and one without iat (exp still bounds it)', () => {
    expect(check(base)).toBeUndefined();
    expect(check({ ...base, iat: undefined })).toBeUndefined();
  });

  it('refuses each violated rule with its code', () => {
    expect(check({ ...base, iss: 'https://other.example' })).toBe('wrong_issuer');
    expect(check({ ...base, nonce: 'n' })).toBe('id_token');
    expect(check({ ...base, at_hash: 'h' })).toBe('id_token');
    expect(check({ ...base, exp: undefined })).toBe('missing_claim');
    expect(check({ ...base, exp: '2030-01-01' })).toBe('malformed');
    expect(check({ ...base, aud: undefined })).toBe('missing_claim');
    expect(check({ ...base, aud: ['a', 'b'] })).toBe('wrong_audience');
    expect(check({ ...base, aud: [42] })).toBe('wrong_audience');
    expect(check({ ...base, iat: T0 / 1000 + 120 })).toBe('iat_in_future');
    expect(check({ ...base, nbf: T0 / 1000 + 120 })).toBe('not_yet_valid');
    expect(check(base, T0 + 600_000 + 60_000)).toBe('expired');
    expect(check({ ...base, exp: T0 / 1000 + 86_400 * 2 }, T0 + 86_400_000 + 1)).toBe('token_too_old');
  });

  it('applies the clock skew symmetrically', () => {
    expect(check({ ...base, iat: T0 / 1000 + 59, nbf: T0 / 1000 + 59 })).toBeUndefined();
    expect(check(base, T0 + 600_000 + 59_000)).toBeUndefined();
  });
});

describe('quote', () => {
  it('truncates and neutralises untrusted values', () => {
    expect(quote('a\nb')).toBe("'a?b'");
    expect(quote('x'.repeat(500)).length).toBeLessThan(100);
    expect(quote(undefined)).toBe("'undefined'");
  });
});
