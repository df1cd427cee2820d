/**
 * Who may call the admin API: an OIDC access token (`Authorization: Bearer …`) verified by
 * the gateway's own TokenVerifier — the same issuers as the data path — whose groups include
 * a configured auditors or admins group (approval routes take any verified token and decide
 * per request: see ./approvals.ts). The refusals follow RFC 6750 (401 with a
 * `WWW-Authenticate: Bearer` challenge, 403 `insufficient_scope`) and, like every refusal in
 * Portcullis, say what to do next. Tokens never reach a log or a message.
 */
import type { Identity } from '../identity/identity.js';
import { TokenError } from '../identity/errors.js';
import type { Access } from './routes.js';

export const REALM = 'portcullis-admin';

export interface AdminGroups {
  /** May read recordings and verify the audit log. */
  readonly auditors: readonly string[];
  /** May use every endpoint. */
  readonly admins: readonly string[];
}

export interface AdminTokenVerifier {
  verify(token: string): Promise<Identity>;
}

/** `caller`: a valid token in neither group (what it may do is decided per request, e.g. approvals). */
export type Role = 'caller' | 'auditor' | 'admin';

export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly message: string }
  | { readonly kind: 'bearer'; readonly token: string };

/** RFC 6750 §2.1: `Bearer` (any case), one space run, then the token. */
export function bearerCredentials(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const match = /^([A-Za-z]+) +(\S+)\s*$/.exec(header);
  if (match === null || match[1]?.toLowerCase() !== 'bearer') {
    const scheme = /^\S+/.exec(header)?.[0] ?? '';
    // Only the scheme is quoted back: whatever follows it may be a credential.
    return {
      kind: 'malformed',
      message: `the Authorization header must be "Bearer <access token>"${/^[A-Za-z]{1,20}$/.test(scheme) && scheme.toLowerCase() !== 'bearer' ? `, not the ${scheme} scheme` : ''}`,
    };
  }
  return { kind: 'bearer', token: match[2] as string };
}

export type Authorization = { readonly ok: true; readonly role: Role } | { readonly ok: false; readonly message: string };

/** Admins may do everything; auditors what `auditor` routes allow; `token` routes take any identity. Pure. */
export function authorize(identity: Pick<Identity, 'subject' | 'groups'>, required: Exclude<Access, 'public'>, groups: AdminGroups): Authorization {
  const has = (list: readonly string[]): boolean => identity.groups.some((group) => list.includes(group));
  if (has(groups.admins)) return { ok: true, role: 'admin' };
  if (required !== 'admin' && has(groups.auditors)) return { ok: true, role: 'auditor' };
  if (required === 'token') return { ok: true, role: 'caller' };
  const needed = required === 'admin' ? groups.admins : [...groups.auditors, ...groups.admins];
  const theirs = identity.groups.length === 0 ? 'no groups' : `groups ${identity.groups.map((g) => JSON.stringify(g)).join(', ')}`;
  return {
    ok: false,
    message:
      `identity ${JSON.stringify(identity.subject)} (${theirs}) may not use this endpoint: it needs membership in ` +
      `${needed.length === 1 ? 'the group' : 'one of the groups'} ${needed.map((g) => JSON.stringify(g)).join(', ')}; ` +
      'ask your identity provider administrator to add you, then request a new token',
  };
}

export type AuthOutcome =
  | { readonly kind: 'allowed'; readonly identity: Identity; readonly role: Role }
  | {
      readonly kind: 'refused';
      readonly status: 401 | 403 | 503;
      readonly error: 'unauthorized' | 'invalid_token' | 'forbidden' | 'issuer_unavailable';
      readonly message: string;
      /** For logs and metrics: why, as a fixed word. */
      readonly reason: string;
      /** Response headers (the WWW-Authenticate challenge). */
      readonly headers: Readonly<Record<string, string>>;
    };

/** Verifies the request's bearer token and checks its groups. Throws only on a verifier bug (not a TokenError). */
export async function authenticate(
  authorizationHeader: string | undefined,
  required: Exclude<Access, 'public'>,
  groups: AdminGroups,
  verifier: AdminTokenVerifier,
): Promise<AuthOutcome> {
  const credentials = bearerCredentials(authorizationHeader);
  if (credentials.kind !== 'bearer') {
    const message =
      credentials.kind === 'none'
        ? 'this endpoint needs an OIDC access token: send "Authorization: Bearer <token>" with a token from a trusted issuer (e.g. from "portcullis token")'
        : `${credentials.message}; send "Authorization: Bearer <token>" with an OIDC access token`;
    // RFC 6750 §3.1: a request without bearer credentials gets a challenge without an error code.
    return refused(401, 'unauthorized', message, credentials.kind === 'none' ? 'missing-token' : 'malformed-header', wwwAuthenticate({}));
  }
  let identity: Identity;
  try {
    identity = await verifier.verify(credentials.token);
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    if (error.code === 'issuer_unavailable') {
      return refused(503, 'issuer_unavailable', `cannot verify the access token right now: ${error.message}`, error.code, { 'retry-after': '5' });
    }
    const message = `invalid access token: ${error.message}`;
    return refused(401, 'invalid_token', message, error.code, wwwAuthenticate({ error: 'invalid_token', description: message }));
  }
  const decision = authorize(identity, required, groups);
  if (!decision.ok) {
    return refused(403, 'forbidden', decision.message, 'not-in-group', wwwAuthenticate({ error: 'insufficient_scope', description: decision.message }));
  }
  return { kind: 'allowed', identity, role: decision.role };
}

function refused(
  status: 401 | 403 | 503,
  error: 'unauthorized' | 'invalid_token' | 'forbidden' | 'issuer_unavailable',
  message: string,
  reason: string,
  headers: Readonly<Record<string, string>>,
): AuthOutcome {
  return { kind: 'refused', status, error, message, reason, headers };
}

/** The `WWW-Authenticate` value: RFC 6750 §3 allows only printable ASCII without `"` and `\` in error_description. */
export function wwwAuthenticate(challenge: { error?: 'invalid_token' | 'insufficient_scope'; description?: string }): { 'www-authenticate': string } {
  const parts = [`realm="${REALM}"`];
  if (challenge.error !== undefined) parts.push(`error="${challenge.error}"`);
  if (challenge.description !== undefined) parts.push(`error_description="${headerSafe(challenge.description)}"`);
  return { 'www-authenticate': `Bearer ${parts.join(', ')}` };
}

/** Text fit for a quoted header parameter: `"` and `\` become `'`, other non-printable or non-ASCII characters are replaced. */
export function headerSafe(text: string): string {
  return text
    .replaceAll('…', '...')
    .replaceAll('—', '-')
    .replace(/["\\]/g, "'")
    .replace(/[^\x20-\x7e]/g, '?');
}
