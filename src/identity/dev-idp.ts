/**
 * A development OpenID provider: a real, certified `oidc-provider` instance that only
 * speaks the client_credentials grant and issues RS256 JWT access tokens. It lets the
 * gateway be exercised end to end (tests, `portcullis demo`, `portcullis dev-idp`)
 * without an Okta tenant, through exactly the code paths a real issuer uses.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { silentLogger, type Logger } from '../log.js';

export interface DevClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly groups: readonly string[];
}

export interface DevIdpOptions {
  /** Interface to bind; loopback unless you mean to share it. */
  host?: string;
  /** 0 picks an ephemeral port. */
  port?: number;
  clients: readonly DevClient[];
  /** The `aud` of every issued token. */
  audience?: string;
  accessTokenTtlSeconds?: number;
  /** Claim that carries the client's groups. */
  groupsClaim?: string;
  logger?: Logger;
}

export interface DevIdp {
  /** e.g. http://127.0.0.1:9000 — also the `iss` of issued tokens. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  close(): Promise<void>;
}

/** Scopes a client may ask for; requested scopes outside this set are left out of the token. */
export const DEV_IDP_SCOPES: readonly string[] = ['db:read', 'db:write', 'db:admin', 'ssh', 'k8s:read', 'k8s:write', 'http', 'mcp'];

/** Same ceiling as the gateway's default maximum token age: lifetimes stay bounded. */
const MAX_TTL_SECONDS = 24 * 60 * 60;

/** Claims the provider sets itself; a groups claim with one of these names would be silently overwritten. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'cnf', 'authorization_details']);

/** RFC 6749 Appendix A: what client ids and secrets may contain; the provider rejects anything else at request time. */
const VSCHARS = /^[\x20-\x7e]+$/;

export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const settings = validate(options);
  const logger = settings.logger;
  const { Provider, errors } = await loadOidcProvider();

  // The issuer must name the real port, which is only known once listening; requests
  // that race the provider's construction get a 503 instead of an undefined handler.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) return handler(req, res);
    res.writeHead(503).end();
  });
  await listen(server, settings.port, settings.host);
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  try {
    const provider = new Provider(issuer, await providerConfiguration(settings, errors));
    provider.on('server_error', (_ctx, err) => logger.error('dev-idp internal error', { err }));
    provider.on('grant.error', (_ctx, err) => logger.info('dev-idp token request refused', { error: oauthErrorCode(err) }));
    provider.on('client_credentials.issued', (token) => logger.info('dev-idp token issued', { clientId: token.clientId }));
    handler = provider.callback();
  } catch (err) {
    await closeServer(server);
    throw err;
  }

  logger.info('dev-idp listening', { issuer });
  let closing: Promise<void> | undefined;
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    close: () => (closing ??= closeServer(server)),
  };
}

interface Settings {
  host: string;
  port: number;
  audience: string;
  ttl: number;
  groupsClaim: string;
  clients: ReadonlyMap<string, DevClient>;
  logger: Logger;
}

function validate(options: DevIdpOptions): Settings {
  const ttl = options.accessTokenTtlSeconds ?? 600;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw new RangeError(`accessTokenTtlSeconds must be a whole number of seconds between 1 and ${MAX_TTL_SECONDS}`);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0–65535, got ${port}`);
  const groupsClaim = options.groupsClaim ?? 'groups';
  if (!groupsClaim || RESERVED_CLAIMS.has(groupsClaim)) {
    throw new RangeError(`groupsClaim "${groupsClaim}" is empty or a reserved token claim`);
  }
  const audience = options.audience ?? 'portcullis';
  if (!audience) throw new RangeError('audience must not be empty');
  if (options.clients.length === 0) throw new RangeError('at least one client is required');
  const clients = new Map<string, DevClient>();
  for (const client of options.clients) {
    if (!VSCHARS.test(client.clientId) || !VSCHARS.test(client.clientSecret)) {
      throw new RangeError('every clientId and clientSecret must be non-empty printable ASCII (RFC 6749 VSCHAR)');
    }
    if (clients.has(client.clientId)) throw new RangeError(`duplicate clientId "${client.clientId}"`);
    clients.set(client.clientId, { ...client, groups: [...client.groups] });
  }
  return { host: options.host ?? '127.0.0.1', port, audience, ttl, groupsClaim, clients, logger: options.logger ?? silentLogger };
}

/**
 * RFC 8707 resource indicators must be absolute URIs, but audiences such as
 * `portcullis` are not. Such an audience gets a private URN as its indicator; it is
 * only ever used as the default, so clients never need to know it.
 */
function resourceIndicatorFor(audience: string): string {
  return URL.canParse(audience) && !audience.includes('#') ? audience : `urn:portcullis:dev-idp:audience:${encodeURIComponent(audience)}`;
}

/** The parts of oidc-provider's token model this file reads. */
interface IssuedToken {
  readonly kind: string;
  readonly clientId: string;
  readonly resourceServer?: { readonly accessTokenTTL?: number };
}

async function providerConfiguration(settings: Settings, errors: OidcProviderModule['errors']): Promise<Record<string, unknown>> {
  const resource = resourceIndicatorFor(settings.audience);
  const resourceServer = {
    audience: settings.audience,
    accessTokenFormat: 'jwt',
    accessTokenTTL: settings.ttl,
    scope: DEV_IDP_SCOPES.join(' '),
    jwt: { sign: { alg: 'RS256' } },
  };
  const ttl = (_ctx: unknown, token: IssuedToken): number => token.resourceServer?.accessTokenTTL ?? settings.ttl;

  return {
    jwks: { keys: [await freshSigningKey()] },
    // Issued tokens are self-contained JWTs that are never looked up again, so no state is kept.
    adapter: DiscardingAdapter,
    clients: [...settings.clients.values()].map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    // Both methods are accepted for every client whatever its registered method.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: [],
    scopes: [...DEV_IDP_SCOPES],
    clientBasedCORS: () => false,
    // Errors stay JSON even for browsers; the default HTML page also prints a console notice.
    renderError: (ctx: { type: string; body: unknown }, out: unknown) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    ttl: { AccessToken: ttl, ClientCredentials: ttl },
    extraTokenClaims: (_ctx: unknown, token: IssuedToken) =>
      token.kind === 'ClientCredentials'
        ? { [settings.groupsClaim]: [...(settings.clients.get(token.clientId)?.groups ?? [])] }
        : undefined,
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      dPoP: { enabled: false },
      introspection: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      registration: { enabled: false },
      revocation: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== resource) throw new errors.InvalidTarget(`this issuer only serves the audience "${settings.audience}"`);
          return resourceServer;
        },
      },
    },
  };
}

async function freshSigningKey(): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  // A thumbprint kid changes whenever the key does, so a verifier's cached JWKS never
  // matches a previous run's key by kid.
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

/** A storage adapter that stores nothing: every lookup misses, which is correct for this provider. */
class DiscardingAdapter {
  async upsert(): Promise<void> {}
  async find(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

/**
 * The slice of oidc-provider's API used here. The package ships no type declarations,
 * so its untyped surface is confined to this interface and `loadOidcProvider`.
 */
interface OidcProviderModule {
  readonly Provider: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  readonly errors: { readonly InvalidTarget: new (description?: string) => Error };
}

interface OidcProvider {
  on(event: 'server_error' | 'grant.error', listener: (ctx: unknown, err: unknown) => void): void;
  on(event: 'client_credentials.issued', listener: (token: IssuedToken) => void): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}

const RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime';

/**
 * Loaded lazily so that merely importing this file (every CLI run does) costs nothing.
 * On Node 20 the module warns once, while loading, that it wants Node 22; it works on
 * Node 20, so that one line is dropped and every other warning passes through.
 */
function loadOidcProvider(): Promise<OidcProviderModule> {
  // One load per process: concurrent loads would interleave the console.warn swap.
  return (oidcProviderModule ??= importOidcProvider());
}

let oidcProviderModule: Promise<OidcProviderModule> | undefined;

async function importOidcProvider(): Promise<OidcProviderModule> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes(RUNTIME_WARNING)) return;
    warn(...args);
  };
  try {
    // A non-literal specifier: a literal one would make TypeScript demand the missing declarations.
    const specifier: string = 'oidc-provider';
    return (await import(specifier)) as OidcProviderModule;
  } finally {
    console.warn = warn;
  }
}

function oauthErrorCode(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'error' in err && typeof err.error === 'string') return err.error;
  return 'unknown';
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // fetch keeps connections alive; without this, close() would wait for their idle timeout.
    server.closeAllConnections();
  });
}
