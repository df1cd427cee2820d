/**
 * Turns the schema-valid raw document into the resolved `Config`: secret references
 * resolved, defaults applied, durations and sizes converted, paths made absolute, PEM files
 * read — and the checks a schema cannot express (duplicates, cross-field rules, ranges of
 * converted values). Every problem is collected, so one run reports them all.
 */
import { dirname, resolve } from 'node:path';
import type {
  AccessList,
  Config,
  ConnectionConfig,
  IssuerConfig,
  MaskingProfileConfig,
  PostgresListenerConfig,
  PostgresTarget,
  RuleConfig,
  SshListenerConfig,
  SshTarget,
} from './types.js';
import { DurationError, formatDuration, parseDuration } from './duration.js';
import { formatPath, IssueList, showValue, type ConfigPath, type PathIssue } from './issues.js';
import {
  DEFAULT_ALGORITHMS,
  DEFAULTS,
  type RawConfig,
  type RawConnection,
  type RawIssuer,
  type RawPostgresConnection,
  type RawPostgresListener,
  type RawSshConnection,
  type RawSshListener,
  SSH_FINGERPRINT_PATTERN,
} from './schema.js';
import { buildDangerousFunctions, buildRules, resolveRuleNames } from './rules.js';
import { buildAccessApproval } from './access-approval.js';
import { buildAdmin } from './admin.js';
import { buildNotifications } from './notifications.js';
import { buildMaskingProfiles, resolveMaskingNames } from './masking.js';
import { describeFsError, describeSecret, resolveTree, type SecretPaths } from './secrets.js';
import { formatSize, parseSize, SizeError } from './size.js';

export interface BuildContext {
  /** Absolute path of the config file. */
  readonly file: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a whole file as UTF-8; throws (with `code`) when it cannot. */
  readFile(absolutePath: string): string;
  /**
   * `placeholder`: secrets that cannot be had (unset variable, unreadable file) and
   * unreadable certificate/key files are not errors; values built from a placeholder are not
   * checked further. The result is only fit for reading the policy (`policy check`), never
   * for serving. Default `error`.
   */
  readonly unavailableSecrets?: 'error' | 'placeholder';
}

export interface BuildResult {
  /** Present only when there are no issues. */
  readonly config: Config | undefined;
  readonly secrets: SecretPaths;
  readonly issues: readonly PathIssue[];
}

const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const MIN_RETENTION_MS = 3_600_000;
const MIN_MESSAGE_BYTES = 8 * 1024;
const MAX_MESSAGE_BYTES = 1024 ** 3;
/** Masked SSH output is held back at most this long: interactive sessions must stay usable. */
const MAX_OUTPUT_FLUSH_MS = 1_000;

export function buildConfig(raw: RawConfig, ctx: BuildContext): BuildResult {
  const dir = dirname(ctx.file);
  const issues = new IssueList();
  // Policy is not secret, and rule reasons are shown to agents: secret references are only
  // resolved outside it, so a reference in a reason can never leak a secret to an agent.
  const { rules: rawRules, sql: rawSql, recording: rawRecording, ...settings } = raw;
  const resolved = resolveTree(settings, {
    env: ctx.env,
    readFile: ctx.readFile,
    baseDir: dir,
    unavailable: ctx.unavailableSecrets ?? 'error',
  });
  for (const issue of resolved.issues) issues.add(issue.path, issue.message);
  const b = new Builder(dir, ctx, issues, resolved.secrets, resolved.placeholders);
  const r = resolved.value;

  const rules = buildRules(rawRules ?? [], { issues, duration: (value, path, bounds) => b.duration(value, path, bounds) });
  const rulesByName = new Map<string, RuleConfig>();
  for (const rule of rules) if (!rulesByName.has(rule.name)) rulesByName.set(rule.name, rule);

  const masking = buildMaskingProfiles(r.masking ?? [], { issues, isPlaceholder: (path) => b.isPlaceholder(path) });
  const maskingByName = new Map<string, MaskingProfileConfig>();
  for (const profile of masking) if (!maskingByName.has(profile.name)) maskingByName.set(profile.name, profile);

  const issuers = (r.identity?.issuers ?? []).map((issuer, i) => b.issuer(issuer, ['identity', 'issuers', i]));
  b.noDuplicates(issuers.map((issuer) => issuer.issuer), (i) => ['identity', 'issuers', i, 'issuer'], 'issuer');
  const connections = (r.connections ?? []).map((connection, i) => b.connection(connection, ['connections', i], rulesByName, maskingByName, r.admin !== undefined));
  b.noDuplicates(connections.map((connection) => connection.name), (i) => ['connections', i, 'name'], 'connection name');
  if (connections.length > 0 && issuers.length === 0) {
    issues.add(
      ['identity', 'issuers'],
      'at least one issuer is required when connections are defined: without one no agent could authenticate to use them',
    );
  }
  const listener = r.listen?.postgres;
  const admin = r.admin === undefined ? undefined : buildAdmin(r.admin, ['admin'], { listener: b, issues, issuerCount: issuers.length });
  const notifications =
    r.notifications === undefined
      ? undefined
      : buildNotifications(r.notifications, ['notifications'], {
          issues,
          duration: (value, path, bounds) => b.duration(value, path, bounds),
          url: (value, path) => b.url(value, path),
          noDuplicates: (values, pathOf, what) => b.noDuplicates(values, pathOf, what),
          isPlaceholder: (path) => b.isPlaceholder(path),
          hasAdmin: admin !== undefined,
        });
  const config: Config = {
    file: ctx.file,
    dataDir: resolve(dir, r.data_dir ?? DEFAULTS.dataDir),
    log: { level: r.log?.level ?? DEFAULTS.logLevel },
    identity: { issuers },
    postgres: listener === undefined ? undefined : b.postgresListener(listener, ['listen', 'postgres']),
    ...(r.listen?.ssh === undefined ? {} : { ssh: b.sshListener(r.listen.ssh, ['listen', 'ssh']) }),
    sql: { extraDangerousFunctions: buildDangerousFunctions(rawSql?.extra_dangerous_functions ?? [], issues) },
    recording: {
      durability: rawRecording?.durability ?? DEFAULTS.durability,
      writer: rawRecording?.writer ?? DEFAULTS.recordingWriter,
      ...(rawRecording?.retention === undefined ? {} : { retentionMs: b.retention(rawRecording.retention, ['recording', 'retention']) ?? undefined }),
    },
    rules,
    connections,
    masking,
    ...(admin === undefined ? {} : { admin }),
    ...(notifications === undefined ? {} : { notifications }),
  };
  const all = issues.all;
  return { config: all.length === 0 ? config : undefined, secrets: resolved.secrets, issues: all };
}

/** Conversion helpers sharing the issue list; each returns a placeholder when it reports an issue. */
class Builder {
  constructor(
    private readonly dir: string,
    private readonly ctx: BuildContext,
    private readonly issues: IssueList,
    private readonly secrets: SecretPaths,
    private readonly placeholders: ReadonlySet<string>,
  ) {}

  issuer(raw: RawIssuer, path: ConfigPath): IssuerConfig {
    this.url(raw.issuer, [...path, 'issuer']);
    if (raw.jwks_uri !== undefined) this.url(raw.jwks_uri, [...path, 'jwks_uri']);
    return {
      issuer: raw.issuer,
      audiences: typeof raw.audience === 'string' ? [raw.audience] : raw.audience,
      jwksUri: raw.jwks_uri,
      groupsClaim: raw.groups_claim ?? DEFAULTS.groupsClaim,
      algorithms: raw.algorithms ?? [...DEFAULT_ALGORITHMS],
      clockSkewMs: this.duration(raw.clock_skew ?? DEFAULTS.clockSkew, [...path, 'clock_skew'], { max: MAX_CLOCK_SKEW_MS }),
      maxTokenAgeMs: this.duration(raw.max_token_age ?? DEFAULTS.maxTokenAge, [...path, 'max_token_age'], { positive: true }),
      strictTyp: raw.strict_typ ?? DEFAULTS.strictTyp,
    };
  }

  postgresListener(raw: RawPostgresListener, path: ConfigPath): PostgresListenerConfig {
    const { host, port } = this.address(raw.address ?? DEFAULTS.listenAddress, [...path, 'address']);
    const tls = raw.tls ?? {};
    const tlsPath = [...path, 'tls'];
    const mode = tls.mode ?? (tls.cert_file === undefined ? 'disable' : 'allow');
    let cert: string | undefined;
    let key: string | undefined;
    // With TLS disabled the files are not needed, so they are not read (nor required to exist).
    if (mode !== 'disable') {
      const needs = `tls mode "${mode}" needs a certificate and key: set cert_file and key_file`;
      if (tls.cert_file === undefined) this.issues.add([...tlsPath, 'cert_file'], needs);
      else cert = this.pem(tls.cert_file, [...tlsPath, 'cert_file'], 'certificate', /-----BEGIN CERTIFICATE-----/);
      if (tls.key_file === undefined) this.issues.add([...tlsPath, 'key_file'], needs);
      else key = this.pem(tls.key_file, [...tlsPath, 'key_file'], 'private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    }
    return {
      host,
      port,
      tls: {
        mode,
        cert,
        key,
        allowLoopbackPlaintext: tls.allow_loopback_plaintext ?? DEFAULTS.allowLoopbackPlaintext,
      },
      maxMessageBytes: this.size(raw.max_message_size ?? DEFAULTS.maxMessageSize, [...path, 'max_message_size'], {
        min: MIN_MESSAGE_BYTES,
        max: MAX_MESSAGE_BYTES,
      }),
      tokenExpiryGraceMs: this.duration(raw.token_expiry_grace ?? DEFAULTS.tokenExpiryGrace, [...path, 'token_expiry_grace'], {}),
      authTimeoutMs: this.duration(raw.auth_timeout ?? DEFAULTS.authTimeout, [...path, 'auth_timeout'], { positive: true }),
    };
  }

  connection(
    raw: RawConnection,
    path: ConfigPath,
    rulesByName: ReadonlyMap<string, RuleConfig>,
    maskingByName: ReadonlyMap<string, MaskingProfileConfig>,
    hasAdmin: boolean,
  ): ConnectionConfig {
    const common = {
      name: raw.name,
      access: this.access(raw, path, hasAdmin),
      rules: resolveRuleNames(raw.rules ?? [], [...path, 'rules'], rulesByName, this.issues),
      defaultEffect: raw.default ?? DEFAULTS.defaultEffect,
      ...(raw.retention === undefined ? {} : { retentionMs: this.retention(raw.retention, [...path, 'retention']) }),
      masking: resolveMaskingNames(raw.masking ?? [], [...path, 'masking'], maskingByName, this.issues),
      recordResultRows: raw.record?.result_rows ?? 0,
    };
    const targetPath = [...path, 'target'];
    if (raw.type === 'ssh') return { ...common, type: 'ssh', target: this.sshTarget(raw.target, targetPath) };
    return { ...common, type: 'postgres', target: this.postgresTarget(raw.target, targetPath) };
  }

  private postgresTarget(t: RawPostgresConnection['target'], targetPath: ConfigPath): PostgresTarget {
    const tls = t.tls ?? DEFAULTS.targetTls;
    let ca: string | undefined;
    if (t.ca_file !== undefined) {
      if (tls === 'verify-full') {
        ca = this.pem(t.ca_file, [...targetPath, 'ca_file'], 'CA certificate', /-----BEGIN CERTIFICATE-----/);
      } else {
        // Silently ignoring it would leave the user believing the server is verified.
        this.issues.add(
          [...targetPath, 'ca_file'],
          `ca_file is only used with tls "verify-full", but tls is "${tls}" (which does not verify the server): set tls: verify-full or remove ca_file`,
        );
      }
    }
    return {
      host: t.host,
      port: t.port ?? DEFAULTS.targetPort,
      database: t.database,
      user: t.user,
      password: t.password,
      tls,
      ca,
      connectTimeoutMs: this.duration(t.connect_timeout ?? DEFAULTS.connectTimeout, [...targetPath, 'connect_timeout'], { positive: true }),
    };
  }

  private sshTarget(t: RawSshConnection['target'], targetPath: ConfigPath): SshTarget {
    if (t.private_key === undefined && t.password === undefined) {
      this.issues.add(
        targetPath,
        'an SSH target needs the credentials Portcullis logs in with: set private_key (preferred, as a secret reference such as "${file:./secrets/id_ed25519}") or password',
      );
    }
    if (t.private_key !== undefined && !this.isPlaceholder([...targetPath, 'private_key']) && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t.private_key)) {
      this.issues.add([...targetPath, 'private_key'], 'expected a private key in OpenSSH or PEM format ("-----BEGIN … PRIVATE KEY-----"); got something else');
    }
    const hostKeys = typeof t.host_key === 'string' ? [t.host_key] : t.host_key;
    hostKeys.forEach((fingerprint, i) => {
      const at = typeof t.host_key === 'string' ? [...targetPath, 'host_key'] : [...targetPath, 'host_key', i];
      if (!this.isPlaceholder(at) && !new RegExp(SSH_FINGERPRINT_PATTERN).test(fingerprint)) {
        this.issues.add(at, `expected a host key fingerprint "SHA256:" + 43 base64 characters, as "ssh-keygen -lf KEY.pub" prints it; got ${this.show(fingerprint, at)}`);
      }
    });
    if (t.passphrase !== undefined && t.private_key === undefined) {
      this.issues.add([...targetPath, 'passphrase'], 'passphrase is only used to decrypt private_key, which is not set: remove passphrase or set private_key');
    }
    return {
      host: t.host,
      port: t.port ?? DEFAULTS.sshTargetPort,
      user: t.user,
      privateKey: t.private_key,
      passphrase: t.passphrase,
      password: t.password,
      hostKeys,
      connectTimeoutMs: this.duration(t.connect_timeout ?? DEFAULTS.connectTimeout, [...targetPath, 'connect_timeout'], { positive: true }),
    };
  }

  sshListener(raw: RawSshListener, path: ConfigPath): SshListenerConfig {
    const { host, port } = this.address(raw.address ?? DEFAULTS.sshListenAddress, [...path, 'address']);
    return {
      host,
      port,
      hostKeyFile: raw.host_key_file === undefined ? undefined : resolve(this.dir, raw.host_key_file),
      tokenExpiryGraceMs: this.duration(raw.token_expiry_grace ?? DEFAULTS.tokenExpiryGrace, [...path, 'token_expiry_grace'], {}),
      authTimeoutMs: this.duration(raw.auth_timeout ?? DEFAULTS.authTimeout, [...path, 'auth_timeout'], { positive: true }),
      outputFlushMs: this.duration(raw.output_flush ?? DEFAULTS.sshOutputFlush, [...path, 'output_flush'], { positive: true, max: MAX_OUTPUT_FLUSH_MS }),
    };
  }

  private access(raw: RawConnection, path: ConfigPath, hasAdmin: boolean): AccessList {
    const required = raw.access?.require_approval;
    const access: AccessList = {
      groups: raw.access?.groups ?? [],
      subjects: raw.access?.subjects ?? [],
      clients: raw.access?.clients ?? [],
      ...(required === undefined
        ? {}
        : {
            requireApproval: buildAccessApproval(required, [...path, 'access', 'require_approval'], {
              issues: this.issues,
              duration: (value, at, bounds) => this.duration(value, at, bounds),
              hasAdmin,
              connection: raw.name,
            }),
          }),
    };
    if (access.groups.length + access.subjects.length + access.clients.length === 0) {
      this.issues.add(
        [...path, 'access'],
        `connection "${raw.name}" has an empty access list: nobody could open it; add access.groups, access.subjects or access.clients`,
      );
    }
    return access;
  }

  noDuplicates(values: readonly string[], pathOf: (index: number) => ConfigPath, what: string): void {
    const first = new Map<string, number>();
    values.forEach((value, index) => {
      const earlier = first.get(value);
      if (earlier === undefined) first.set(value, index);
      else this.issues.add(pathOf(index), `duplicate ${what} ${this.show(value, pathOf(index))} (already used at ${formatPath(pathOf(earlier))})`);
    });
  }

  duration(value: string | number, path: ConfigPath, bounds: { positive?: boolean; max?: number }): number {
    try {
      const ms = parseDuration(value);
      if (bounds.max !== undefined && ms > bounds.max) {
        this.issues.add(path, `must be at most ${formatDuration(bounds.max)}, got ${showValue(value)}`);
      } else if (bounds.positive === true && ms === 0) {
        this.issues.add(path, `must be greater than 0, got ${showValue(value)}`);
      }
      return ms;
    } catch (error) {
      if (!(error instanceof DurationError)) throw error;
      this.issues.add(path, error.message);
      return 0;
    }
  }

  /** A retention in ms, or null for "forever". At least an hour: a bare number is seconds, and "90" meant as days would prune almost at once. */
  retention(value: string | number, path: ConfigPath): number | null {
    if (value === 'forever') return null;
    const ms = this.duration(value, path, { positive: true });
    if (ms > 0 && ms < MIN_RETENTION_MS) {
      this.issues.add(path, `must be at least ${formatDuration(MIN_RETENTION_MS)} (or "forever"), got ${showValue(value)}: a bare number is seconds — write e.g. "90d"`);
    }
    return ms;
  }

  private size(value: string | number, path: ConfigPath, bounds: { min: number; max: number }): number {
    try {
      const bytes = parseSize(value);
      if (bytes < bounds.min || bytes > bounds.max) {
        this.issues.add(path, `must be between ${formatSize(bounds.min)} and ${formatSize(bounds.max)}, got ${showValue(value)}`);
      }
      return bytes;
    } catch (error) {
      if (!(error instanceof SizeError)) throw error;
      this.issues.add(path, error.message);
      return 0;
    }
  }

  /** "host:port" or "[v6]:port"; port 0 asks the OS for a free port (tests, the demo). */
  address(value: string, path: ConfigPath): { host: string; port: number } {
    if (this.isPlaceholder(path)) return { host: value, port: 0 };
    const match = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]\s]+):(\d+)$/.exec(value);
    const port = Number(match?.[2]);
    if (match === null || port > 65535) {
      this.issues.add(
        path,
        `expected host:port with port 0–65535, such as "127.0.0.1:6432" or "[::1]:6432", got ${this.show(value, path)}`,
      );
      return { host: '', port: 0 };
    }
    return { host: match[1] ?? '', port };
  }

  /** What the gateway fetches (token keys) or sends (notifications) must not be open to a network attacker: https, or http on loopback only. */
  url(value: string, path: ConfigPath): void {
    if (this.isPlaceholder(path)) return;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    const loopback = url !== undefined && /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(url.hostname);
    if (url === undefined || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
      this.issues.add(path, `expected an https:// URL (http:// only for localhost/127.0.0.1/[::1]), got ${this.show(value, path)}`);
    }
  }

  pem(file: string, path: ConfigPath, what: string, marker: RegExp): string | undefined {
    if (this.issues.has(path)) return undefined; // its secret reference already failed
    if (this.isPlaceholder(path)) return undefined;
    const shown = this.show(file, path);
    const absolute = resolve(this.dir, file);
    let text: string;
    try {
      text = this.ctx.readFile(absolute);
    } catch (error) {
      // Key material is as secret as a password: a policy-only load does not need it.
      if (this.ctx.unavailableSecrets === 'placeholder') return undefined;
      this.issues.add(path, `cannot read ${what} file ${shown} (${this.isSecret(path) ? 'path hidden' : absolute}): ${describeFsError(error)}`);
      return undefined;
    }
    if (!marker.test(text)) {
      this.issues.add(path, `${shown} does not contain a PEM ${what} (no "-----BEGIN …-----" block)`);
      return undefined;
    }
    return text;
  }

  isPlaceholder(path: ConfigPath): boolean {
    return this.placeholders.has(formatPath(path));
  }

  private isSecret(path: ConfigPath): boolean {
    return this.secrets.has(formatPath(path));
  }

  /** A value for a message — unless it was built from a secret, which is named instead. */
  private show(value: string, path: ConfigPath): string {
    const sources = this.secrets.get(formatPath(path));
    return sources === undefined ? showValue(value) : describeSecret(sources);
  }
}
