/**
 * Counts the HTTP requests the dev IdP serves, by kind, as the IdP sees them. The dev IdP
 * runs in the bench's own process, so Node's `http.server.request.start` diagnostics
 * channel shows every request it receives without touching the IdP or the gateway: the
 * gateway fetching the JWKS once per connection would show here as one request each.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type IdpRequestKind = 'discovery' | 'jwks' | 'token' | 'other';

export type IdpCounts = Readonly<Record<IdpRequestKind, number>>;

export const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** What a request to the IdP was for, from its path (query string ignored). */
export function classifyIdpRequest(url: string, paths: { readonly jwks: string; readonly token: string }): IdpRequestKind {
  const pathname = url.split('?')[0]!.replace(/\/+$/, '') || '/';
  if (pathname === DISCOVERY_PATH) return 'discovery';
  if (pathname === paths.jwks) return 'jwks';
  if (pathname === paths.token) return 'token';
  return 'other';
}

export function zeroCounts(): IdpCounts {
  return { discovery: 0, jwks: 0, token: 0, other: 0 };
}

/** `after − before`, kind by kind. */
export function countsBetween(before: IdpCounts, after: IdpCounts): IdpCounts {
  return { discovery: after.discovery - before.discovery, jwks: after.jwks - before.jwks, token: after.token - before.token, other: after.other - before.other };
}

const CHANNEL = 'http.server.request.start';

interface RequestStart {
  readonly request: IncomingMessage;
  readonly server: Server;
}

export class IdpRequestCounter {
  private readonly counts: Record<IdpRequestKind, number> = { ...zeroCounts() };
  private readonly listener: (message: unknown) => void;

  /** `port`: the IdP's; requests to any other server in this process are not counted. */
  constructor(
    port: number,
    readonly paths: { readonly jwks: string; readonly token: string },
  ) {
    this.listener = (message: unknown) => {
      const { request, server } = message as RequestStart;
      const address = server.address() as AddressInfo | null;
      if (address?.port !== port) return;
      this.counts[classifyIdpRequest(request.url ?? '/', paths)] += 1;
    };
    diagnostics.subscribe(CHANNEL, this.listener);
  }

  snapshot(): IdpCounts {
    return { ...this.counts };
  }

  close(): void {
    diagnostics.unsubscribe(CHANNEL, this.listener);
  }
}

/** The IdP's JWKS and token paths, from its discovery document (fetched once, before anything is counted). */
export async function idpPaths(issuer: string): Promise<{ jwks: string; token: string }> {
  const res = await fetch(`${issuer.replace(/\/+$/, '')}${DISCOVERY_PATH}`);
  if (!res.ok) throw new Error(`the dev IdP's discovery document returned HTTP ${res.status}`);
  const doc = (await res.json()) as { jwks_uri?: unknown; token_endpoint?: unknown };
  if (typeof doc.jwks_uri !== 'string' || typeof doc.token_endpoint !== 'string') {
    throw new Error('the dev IdP\'s discovery document has no jwks_uri or token_endpoint');
  }
  const pathOf = (url: string): string => new URL(url).pathname.replace(/\/+$/, '') || '/';
  return { jwks: pathOf(doc.jwks_uri), token: pathOf(doc.token_endpoint) };
}
