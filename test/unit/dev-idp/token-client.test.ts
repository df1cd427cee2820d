import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAccessToken, TokenRequestError } from '../../../src/identity/token-client.js';

/** Real HTTP servers that misbehave the ways real issuers and proxies do. */
const servers: Server[] = [];

async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function json(res: Parameters<RequestListener>[1], status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** An issuer whose discovery works and whose token endpoint is `token`. */
async function issuerWithTokenEndpoint(token: RequestListener): Promise<string> {
  const base = await serve((req, res) => {
    if (req.url === '/oauth2/default/.well-known/openid-configuration') {
      json(res, 200, { issuer: `${base}/oauth2/default`, token_endpoint: `${base}/oauth2/default/v1/token` });
    } else if (req.url === '/oauth2/default/v1/token' && req.method === 'POST') {
      token(req, res);
    } else {
      json(res, 404, {});
    }
  });
  return `${base}/oauth2/default`;
}

async function failure(options: Parameters<typeof fetchAccessToken>[0]): Promise<TokenRequestError> {
  const err = await fetchAccessToken(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRequestError);
  return err as TokenRequestError;
}

describe('fetchAccessToken against issuers with a path (Okta custom authorization servers)', () => {
  it('discovers under the issuer path and sends Basic credentials, scope and resource', async () => {
    let seen: { authorization?: string; body: string } | undefined;
    const issuer = await issuerWithTokenEndpoint((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen = { authorization: req.headers.authorization, body };
        json(res, 200, { access_token: 'a.b.c', token_type: 'Bearer', expires_in: '3600' });
      });
    });
    const token = await fetchAccessToken({
      issuer,
      clientId: '0oa1b2c3',
      clientSecret: 'se cret+/',
      scope: 'db:read db:write',
      audience: 'api://default',
    });
    expect(token).toEqual({ accessToken: 'a.b.c', tokenType: 'Bearer', expiresIn: 3600 });
    expect(Buffer.from(seen!.authorization!.replace('Basic ', ''), 'base64').toString()).toBe('0oa1b2c3:se+cret%2B%2F');
    const params = new URLSearchParams(seen!.body);
    expect(params.get('grant_type')).toBe('client_credentials');
    expect(params.get('scope')).toBe('db:read db:write');
    expect(params.get('resource')).toBe('api://default');
  });

  it('redacts a secret the issuer echoes back', async () => {
    const issuer = await issuerWithTokenEndpoint((_req, res) =>
      json(res, 401, { error: 'invalid_client', error_description: 'bad secret hunter2 for client' }),
    );
    const err = await failure({ issuer, clientId: 'c', clientSecret: 'hunter2' });
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain('hunter2');
  });

  it('treats a 5xx without an OAuth error as the issuer being unavailable', async () => {
    const issuer = await issuerWithTokenEndpoint((_req, res) => res.writeHead(503).end('upstream down'));
    expect((await failure({ issuer, clientId: 'c', clientSecret: 's' })).failure).toBe('unreachable');
  });

  it('refuses oversized and malformed token responses', async () => {
    const big = await issuerWithTokenEndpoint((_req, res) => json(res, 200, { access_token: 'x'.repeat(1024 * 1024) }));
    expect((await failure({ issuer: big, clientId: 'c', clientSecret: 's' })).failure).toBe('invalid_response');
    const typeless = await issuerWithTokenEndpoint((_req, res) => json(res, 200, { access_token: 'a.b.c' }));
    expect((await failure({ issuer: typeless, clientId: 'c', clientSecret: 's' })).failure).toBe('invalid_response');
  });

  it('rejects a discovery document that names another issuer', async () => {
    const base = await serve((_req, res) => json(res, 200, { issuer: 'https://evil.example', token_endpoint: 'https://evil.example/token' }));
    const err = await failure({ issuer: base, clientId: 'c', clientSecret: 's' });
    expect(err.failure).toBe('invalid_response');
    expect(err.message).toContain('evil.example');
  });

  it('gives up on an issuer that never answers', async () => {
    const issuer = await serve(() => undefined);
    const err = await failure({ issuer, clientId: 'c', clientSecret: 's', timeoutMs: 200 });
    expect(err.failure).toBe('unreachable');
    expect(err.message).toContain('200 ms');
  });

  it('rejects unusable options before any request', async () => {
    for (const options of [
      { issuer: 'not a url', clientId: 'c', clientSecret: 's' },
      { issuer: 'ftp://example.com', clientId: 'c', clientSecret: 's' },
      { issuer: 'http://127.0.0.1:1', clientId: '', clientSecret: 's' },
      { issuer: 'http://127.0.0.1:1', clientId: 'c', clientSecret: 's', audience: 'portcullis' },
    ]) {
      expect((await failure(options)).failure).toBe('input');
    }
  });
});
