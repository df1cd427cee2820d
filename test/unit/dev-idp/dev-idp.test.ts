import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { startDevIdp, type DevIdp } from '../../../src/identity/dev-idp.js';
import { fetchAccessToken, TokenRequestError } from '../../../src/identity/token-client.js';

const TTL = 300;

async function verify(idp: DevIdp, token: string, audience = 'portcullis'): Promise<JWTPayload> {
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { payload } = await jwtVerify(token, jwks, { issuer: idp.issuer, audience, algorithms: ['RS256'] });
  return payload;
}

async function rejection(promise: Promise<unknown>): Promise<TokenRequestError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRequestError);
  return err as TokenRequestError;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('dev IdP with the token client', () => {
  let idp: DevIdp;

  beforeAll(async () => {
    idp = await startDevIdp({
      port: 0,
      accessTokenTtlSeconds: TTL,
      clients: [
        { clientId: 'reporting-agent', clientSecret: 'reporting-secret', groups: ['agents', 'readers'] },
        // Characters that must be form-urlencoded in HTTP Basic (RFC 6749 §2.3.1).
        { clientId: 'ops bot', clientSecret: 'p@ss:w/rd+ %&=', groups: ['dba'] },
      ],
    });
  });
  afterAll(() => idp.close());

  it('serves discovery on loopback with the token endpoint it reports', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery['issuer']).toBe(idp.issuer);
    expect(discovery['token_endpoint']).toBe(idp.tokenEndpoint);
    expect(discovery['grant_types_supported']).toEqual(['client_credentials']);
  });

  it('issues an RS256 JWT access token carrying identity, groups and scope', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await fetchAccessToken({
      issuer: idp.issuer,
      clientId: 'reporting-agent',
      clientSecret: 'reporting-secret',
      scope: 'db:read',
    });
    expect(token.tokenType).toBe('Bearer');
    expect(token.expiresIn).toBe(TTL);

    const header = decodeProtectedHeader(token.accessToken);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toEqual(expect.any(String));
    expect(header.typ).toBe('at+jwt');

    const claims = await verify(idp, token.accessToken);
    expect(claims.iss).toBe(idp.issuer);
    expect(claims.aud).toBe('portcullis');
    expect(claims.sub).toBe('reporting-agent');
    expect(claims['client_id']).toBe('reporting-agent');
    expect(claims['groups']).toEqual(['agents', 'readers']);
    expect(claims['scope']).toBe('db:read');
    expect(claims.exp).toBeGreaterThanOrEqual(before + TTL);
    expect(claims.exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + TTL + 1);
  });

  it('gives each client its own groups, with id and secret form-urlencoded', async () => {
    const token = await fetchAccessToken({ issuer: idp.issuer, clientId: 'ops bot', clientSecret: 'p@ss:w/rd+ %&=' });
    const claims = await verify(idp, token.accessToken);
    expect(claims.sub).toBe('ops bot');
    expect(claims['groups']).toEqual(['dba']);
    expect(claims['scope']).toBeUndefined();
  });

  it('grants only known scopes', async () => {
    const token = await fetchAccessToken({
      issuer: idp.issuer,
      clientId: 'reporting-agent',
      clientSecret: 'reporting-secret',
      scope: 'db:read db:write made-up',
    });
    expect((await verify(idp, token.accessToken))['scope']).toBe('db:read db:write');
  });

  it('accepts client_secret_post too', async () => {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'reporting-agent',
        client_secret: 'reporting-secret',
      }).toString(),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('Bearer');
    expect((await verify(idp, body.access_token)).sub).toBe('reporting-agent');
  });

  it('refuses a wrong secret with invalid_client, without echoing the secret', async () => {
    const secret = 'wrong-secret-4f1c';
    const err = await rejection(fetchAccessToken({ issuer: idp.issuer, clientId: 'reporting-agent', clientSecret: secret }));
    expect(err.failure).toBe('refused');
    expect(err.oauthError).toBe('invalid_client');
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain(secret);
  });

  it('refuses an unknown client', async () => {
    const err = await rejection(fetchAccessToken({ issuer: idp.issuer, clientId: 'nobody', clientSecret: 'x' }));
    expect(err.oauthError).toBe('invalid_client');
  });

  it('reports a wrong issuer path as refused', async () => {
    const err = await rejection(fetchAccessToken({ issuer: `${idp.issuer}/oauth2/default`, clientId: 'a', clientSecret: 'b' }));
    expect(err.failure).toBe('refused');
    expect(err.message).toContain('HTTP 404');
  });

  it('rejects an audience that cannot be a resource indicator before any request', async () => {
    const err = await rejection(
      fetchAccessToken({ issuer: idp.issuer, clientId: 'reporting-agent', clientSecret: 'reporting-secret', audience: 'portcullis' }),
    );
    expect(err.failure).toBe('input');
  });

  it('refuses a resource indicator for another audience', async () => {
    const err = await rejection(
      fetchAccessToken({
        issuer: idp.issuer,
        clientId: 'reporting-agent',
        clientSecret: 'reporting-secret',
        audience: 'https://elsewhere.example/',
      }),
    );
    expect(err.oauthError).toBe('invalid_target');
  });
});

describe('dev IdP options', () => {
  it('uses a URI audience as the resource indicator and a custom groups claim', async () => {
    const audience = 'https://gateway.example/';
    const idp = await startDevIdp({
      audience,
      groupsClaim: 'roles',
      clients: [{ clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] }],
    });
    try {
      const explicit = await fetchAccessToken({ issuer: idp.issuer, clientId: 'agent', clientSecret: 'agent-secret', audience });
      const defaulted = await fetchAccessToken({ issuer: idp.issuer, clientId: 'agent', clientSecret: 'agent-secret' });
      for (const token of [explicit, defaulted]) {
        const claims = await verify(idp, token.accessToken, audience);
        expect(claims.aud).toBe(audience);
        expect(claims['roles']).toEqual(['agents']);
        expect(claims['groups']).toBeUndefined();
      }
    } finally {
      await idp.close();
    }
  });

  it('rejects unbounded lifetimes, reserved group claims and duplicate clients', async () => {
    const clients = [{ clientId: 'a', clientSecret: 'b', groups: [] }];
    await expect(startDevIdp({ clients, accessTokenTtlSeconds: 7 * 86_400 })).rejects.toThrow(RangeError);
    await expect(startDevIdp({ clients, groupsClaim: 'sub' })).rejects.toThrow(RangeError);
    await expect(startDevIdp({ clients: [...clients, ...clients] })).rejects.toThrow(/duplicate/);
    await expect(startDevIdp({ clients: [] })).rejects.toThrow(RangeError);
    await expect(startDevIdp({ clients: [{ clientId: 'a', clientSecret: 'sécret', groups: [] }] })).rejects.toThrow(/VSCHAR/);
  });

  it('frees its port on close, even with kept-alive connections', async () => {
    const idp = await startDevIdp({ clients: [{ clientId: 'a', clientSecret: 'b', groups: [] }] });
    await fetchAccessToken({ issuer: idp.issuer, clientId: 'a', clientSecret: 'b' });
    const port = Number(new URL(idp.issuer).port);
    expect(await portIsFree(port)).toBe(false);
    await idp.close();
    await idp.close();
    expect(await portIsFree(port)).toBe(true);
  });

  it('reports an issuer that is not listening as unreachable', async () => {
    const idp = await startDevIdp({ clients: [{ clientId: 'a', clientSecret: 'b', groups: [] }] });
    await idp.close();
    const err = await rejection(fetchAccessToken({ issuer: idp.issuer, clientId: 'a', clientSecret: 'b', timeoutMs: 2_000 }));
    expect(err.failure).toBe('unreachable');
    expect(err.message).toContain('ECONNREFUSED');
  });
});
