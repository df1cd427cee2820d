/**
 * Builds the `admin:` section: where the admin HTTP API listens, its optional TLS, and the
 * groups allowed in.
 */
import type { AdminConfig } from './types.js';
import type { ConfigPath, IssueList } from './issues.js';
import { DEFAULTS, type RawAdmin } from './schema.js';

/** The Builder's listener helpers (build.ts), so both listeners parse and report the same way. */
export interface ListenerHelpers {
  address(value: string, path: ConfigPath): { host: string; port: number };
  pem(file: string, path: ConfigPath, what: string, marker: RegExp): string | undefined;
}

export interface AdminBuildContext {
  readonly listener: ListenerHelpers;
  readonly issues: IssueList;
  /** Issuers configured: without one no token could ever be accepted. */
  readonly issuerCount: number;
}

export function buildAdmin(raw: RawAdmin, path: ConfigPath, ctx: AdminBuildContext): AdminConfig {
  const { issues, listener } = ctx;
  const { host, port } = listener.address(raw.listen ?? DEFAULTS.adminAddress, [...path, 'listen']);
  const auditors = raw.auditors ?? [];
  const admins = raw.admins ?? [];
  if (auditors.length + admins.length === 0) {
    issues.add(path, 'the admin API has no auditors or admins groups: nobody could use it; add admin.auditors and/or admin.admins (group names from your issuer\'s groups claim)');
  }
  if (ctx.issuerCount === 0) {
    issues.add(
      [...path, 'auditors'],
      'the admin API authenticates callers with OIDC access tokens, but identity.issuers is empty: configure the issuer that gives your auditors their tokens',
    );
  }
  let tls: AdminConfig['tls'];
  if (raw.tls !== undefined) {
    const tlsPath = [...path, 'tls'];
    const cert = listener.pem(raw.tls.cert_file, [...tlsPath, 'cert_file'], 'certificate', /-----BEGIN CERTIFICATE-----/);
    const key = listener.pem(raw.tls.key_file, [...tlsPath, 'key_file'], 'private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    if (cert !== undefined && key !== undefined) tls = { cert, key };
  }
  return { host, port, tls, auditors, admins };
}
