import type { ShellFlag } from '../inspect/shell/facts.js';
import type { SqlClass, SqlFlag } from '../inspect/sql/facts.js';

/**
 * The validated, secret-resolved configuration the rest of Portcullis consumes.
 * Durations are milliseconds; sizes are bytes. Produced only by `loadConfig`.
 */
export interface Config {
  /** Absolute path of the file this was loaded from (for messages). */
  readonly file: string;
  /** Directory for gateway state (host keys, recordings…); resolved relative to the config file. */
  readonly dataDir: string;
  readonly log: { readonly level: LogLevel };
  readonly identity: IdentityConfig;
  readonly postgres: PostgresListenerConfig | undefined;
  /** Optional so that configs built in code (tests, benches) need not spell it. */
  readonly ssh?: SshListenerConfig | undefined;
  readonly sql: SqlSettings;
  readonly recording: RecordingSettings;
  /** Every rule defined, in file order (connections hold the ones they use). */
  readonly rules: readonly RuleConfig[];
  readonly connections: readonly ConnectionConfig[];
  /** Every masking profile defined, in file order (connections hold the ones they use). */
  readonly masking: readonly MaskingProfileConfig[];
  /** The admin HTTP API; absent when the file has no `admin:` section. */
  readonly admin?: AdminConfig;
  /** Webhooks and Slack told about approval requests (src/notify); absent when the file has no `notifications:` section. */
  readonly notifications?: NotificationsConfig;
}

/** An approval request's step a notification can be about. */
export type NotificationEvent = 'requested' | 'approved' | 'denied' | 'expired' | 'revoked' | 'redeemed';

/** Who is told about approval requests, and how (src/notify). Secrets are resolved; never log them. */
export interface NotificationsConfig {
  /** Base URL of the admin API as approvers reach it (links in notifications); undefined: derived from `admin.listen`. */
  readonly publicUrl: string | undefined;
  readonly webhooks: readonly WebhookConfig[];
  readonly slack: SlackConfig | undefined;
}

export interface WebhookConfig {
  /** Unique; names the webhook in logs (its URL may hold a credential, so it is never logged). */
  readonly name: string;
  readonly url: string;
  /** HMAC-SHA256 key for `X-Portcullis-Signature`. */
  readonly secret: string;
  readonly events: readonly NotificationEvent[];
  readonly timeoutMs: number;
}

export interface SlackConfig {
  /** Slack Web API base URL (`https://slack.com/api`; tests point it at a local double). */
  readonly apiUrl: string;
  /** A bot token (`xoxb-…`) with `chat:write`: messages are posted, then updated with the outcome. */
  readonly botToken: string;
  /** Channel (ID or name) the requests are posted to. */
  readonly channel: string;
  /** Verifies that an interaction (a button click) comes from Slack. */
  readonly signingSecret: string;
  /** Slack user ID → the approver identity their clicks decide as. */
  readonly users: ReadonlyMap<string, SlackApprover>;
  readonly timeoutMs: number;
}

export interface SlackApprover {
  readonly subject: string;
  readonly groups: readonly string[];
}

/** The admin HTTP listener and who may use it (src/admin). */
export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  /** PEM contents (already read from disk); undefined serves plain HTTP. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  /** Groups whose members may read recordings and verify the audit log. */
  readonly auditors: readonly string[];
  /** Groups whose members may use every admin endpoint (a superset of what auditors may). */
  readonly admins: readonly string[];
}

export interface RecordingSettings {
  /** `process` (default): a recorded event survives the process dying; `fsync`: also power loss. */
  readonly durability: 'process' | 'fsync';
  /** `thread` (default): group commits appended to the recording journal, applied to the database by a writer thread; `inline`: committed on the main thread. */
  readonly writer: 'thread' | 'inline';
  /** `retention`: ended sessions are pruned this long (ms) after their end; undefined (default): kept forever. */
  readonly retentionMs?: number | undefined;
}

export interface SqlSettings {
  /** Extends the inspector's built-in list of known-dangerous functions. */
  readonly extraDangerousFunctions: readonly DangerousFunctionConfig[];
}

export interface DangerousFunctionConfig {
  /** Bare function name, matched in every schema. */
  readonly name: string;
  readonly class: 'write' | 'ddl' | 'admin' | 'session';
  readonly reason: string;
  /** Executes a SQL string it is given (the inspector flags `dynamic_sql`). */
  readonly dynamicSql: boolean;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface IdentityConfig {
  readonly issuers: readonly IssuerConfig[];
}

export interface IssuerConfig {
  /** Exact expected `iss`. Discovery at `${issuer}/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Expected `aud` (any of). */
  readonly audiences: readonly string[];
  /** Optional JWKS URI override (skips discovery). */
  readonly jwksUri: string | undefined;
  /** Claim holding group names (default `groups`). */
  readonly groupsClaim: string;
  /** Allowed JWS algorithms; asymmetric only (default RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA). */
  readonly algorithms: readonly string[];
  /** Clock skew tolerance, default 60 000 ms. */
  readonly clockSkewMs: number;
  /** Maximum token age since `iat` (default 24 h). */
  readonly maxTokenAgeMs: number;
  /** When true, `typ` must be `at+jwt` or `JWT` (RFC 9068). Default false. */
  readonly strictTyp: boolean;
}

export type ListenerTlsMode = 'disable' | 'allow' | 'require';

export interface PostgresListenerConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: {
    readonly mode: ListenerTlsMode;
    /** PEM contents (already read from disk), present unless mode is `disable`. */
    readonly cert: string | undefined;
    readonly key: string | undefined;
    /** With `require`, still accept plaintext from loopback clients (default true). */
    readonly allowLoopbackPlaintext: boolean;
  };
  /** Largest frontend message accepted, default 1 MiB… 64 MiB configurable. */
  readonly maxMessageBytes: number;
  /** How long after token `exp` a session may continue (default 0). */
  readonly tokenExpiryGraceMs: number;
  /** Time allowed from TCP accept to authenticated (default 15 s). */
  readonly authTimeoutMs: number;
}

export interface SshListenerConfig {
  readonly host: string;
  readonly port: number;
  /** Absolute path of the host private key; undefined: `<dataDir>/ssh_host_ed25519_key`, generated on first start. */
  readonly hostKeyFile: string | undefined;
  readonly tokenExpiryGraceMs: number;
  readonly authTimeoutMs: number;
  /** Longest masked output is held back for the rest of a split value. */
  readonly outputFlushMs: number;
}

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Resolved secrets; never logged. At least one of privateKey and password is set. */
  readonly privateKey: string | undefined;
  readonly passphrase: string | undefined;
  readonly password: string | undefined;
  /** Accepted host key fingerprints, `SHA256:…`. */
  readonly hostKeys: readonly string[];
  readonly connectTimeoutMs: number;
}

export type UpstreamTlsMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface PostgresTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Resolved secret; never logged. Undefined for trust auth. */
  readonly password: string | undefined;
  readonly tls: UpstreamTlsMode;
  /** PEM CA bundle for verify-full (contents). */
  readonly ca: string | undefined;
  readonly connectTimeoutMs: number;
}

export interface AccessList {
  readonly groups: readonly string[];
  readonly subjects: readonly string[];
  readonly clients: readonly string[];
  /**
   * `access.require_approval`: an identity in the list must also hold an approved, unexpired
   * access request for the connection (src/approvals) to open it; undefined: the list alone
   * admits. Optional so that access lists built in code (tests, benches) need not spell it.
   */
  readonly requireApproval?: AccessApprovalConfig | undefined;
}

/** Config of a connection whose sessions need an approved access request (`access.require_approval`). */
export interface AccessApprovalConfig {
  /** Groups whose members may approve an access request (never the requester). */
  readonly approvers: readonly string[];
  /** Distinct approvals needed. */
  readonly minApprovals: number;
  /** How long a request waits for a decision before it expires (`timeout`). */
  readonly timeoutMs: number;
  /** The longest access one request may ask for (`max_duration`). */
  readonly maxDurationMs: number;
}

/** What every connection has, whatever its protocol. */
interface ConnectionCommon {
  readonly name: string;
  readonly access: AccessList;
  /** The rules named in the connection's `rules` list, resolved, in that order. */
  readonly rules: readonly RuleConfig[];
  /** Effect for a statement no rule matches (default `deny`). */
  readonly defaultEffect: 'allow' | 'deny';
  /** `retention`: ms, or null for `forever`; undefined (default): `recording.retention` applies. */
  readonly retentionMs?: number | null | undefined;
  /** The masking profiles named in the connection's `masking` list, resolved, in that order. */
  readonly masking: readonly MaskingProfileConfig[];
  /** `record.result_rows`: how many rows of each statement's (masked) result are recorded; 0 = none. */
  readonly recordResultRows: number;
}

export interface PostgresConnectionConfig extends ConnectionCommon {
  readonly type: 'postgres';
  readonly target: PostgresTarget;
}

export interface SshConnectionConfig extends ConnectionCommon {
  readonly type: 'ssh';
  readonly target: SshTarget;
}

export type ConnectionConfig = PostgresConnectionConfig | SshConnectionConfig;

export type MaskStrategyName = 'redact' | 'partial' | 'hash' | 'null';

/** A masking profile (src/masking/policy.ts compiles it). `hashKey` is a resolved secret: never log it. */
export interface MaskingProfileConfig {
  readonly name: string;
  /** Who it applies to; undefined: everyone. */
  readonly for: IdentityCondition | undefined;
  /** Detector names as written: built-in names, "default", and names of `customDetectors`. */
  readonly detectors: readonly string[];
  readonly customDetectors: readonly CustomDetectorConfig[];
  readonly phoneRegions: readonly string[];
  /** How content findings are masked. */
  readonly strategy: MaskStrategyName;
  readonly columns: readonly ColumnRuleConfig[];
  readonly expressions: 'mask' | 'refuse';
  readonly denyPredicates: boolean;
  readonly hashKey: string | undefined;
}

export interface ColumnRuleConfig {
  /** As written: "schema.table.column" globs, or a bare column-name glob. */
  readonly pattern: string;
  readonly strategy: MaskStrategyName;
  readonly label: string;
}

export interface CustomDetectorConfig {
  readonly name: string;
  readonly label: string;
  readonly pattern: string;
  readonly caseInsensitive: boolean;
  readonly validator: 'luhn' | 'mod97' | undefined;
  readonly context: { readonly words: readonly string[]; readonly before: number } | undefined;
  readonly deny: readonly string[];
}

export type RuleEffect = 'allow' | 'deny' | 'review';

/** One policy rule; semantics in src/policy/gate.ts. */
export interface RuleConfig {
  readonly name: string;
  readonly when: RuleConditions;
  readonly effect: RuleEffect;
  /** For the agent; always set for deny and review. */
  readonly reason: string | undefined;
  /** Set exactly when effect is `review`. */
  readonly review: ReviewConfig | undefined;
}

/** Every condition that is not undefined must match (AND); each list matches any of its entries. */
export interface RuleConditions {
  readonly identity: IdentityCondition | undefined;
  readonly sql: SqlCondition | undefined;
  /** Optional so that rules built in code (tests, benches) need not spell the conditions of other protocols. */
  readonly shell?: ShellCondition | undefined;
  readonly ssh?: SshCondition | undefined;
  readonly files?: FilesCondition | undefined;
}

export type FileAction = 'read' | 'write' | 'list' | 'stat' | 'mkdir' | 'remove' | 'rmdir' | 'rename' | 'setstat' | 'symlink';

/** Conditions on an SFTP request (src/protocols/ssh/sftp-bridge.ts). */
export interface FilesCondition {
  readonly actions: readonly FileAction[] | undefined;
  /** Globs on absolute, normalized paths (`*` crosses `/`). */
  readonly paths: readonly string[] | undefined;
}

/** Conditions on an SSH command line's inspector facts (src/inspect/shell). */
export interface ShellCondition {
  /** Globs on the program name (bare) or its path (with `/`). */
  readonly programs: readonly string[] | undefined;
  readonly args: readonly string[] | undefined;
  /** Globs on files written by redirections. */
  readonly writes: readonly string[] | undefined;
  readonly flags: readonly ShellFlag[] | undefined;
  /** Matches command lines the inspector could not parse (and only those). */
  readonly unparseable: boolean;
}

export type SshAction = 'shell' | 'sftp' | 'port_forward' | 'agent_forward' | 'x11';

export interface SshCondition {
  readonly actions: readonly SshAction[];
}

export interface IdentityCondition {
  readonly groups: readonly string[] | undefined;
  readonly subjects: readonly string[] | undefined;
  readonly clients: readonly string[] | undefined;
}

export interface SqlCondition {
  readonly classes: readonly SqlClass[] | undefined;
  readonly kinds: readonly string[] | undefined;
  /** Globs on `schema.table`. */
  readonly tables: readonly string[] | undefined;
  /** Globs on `schema.function`. */
  readonly functions: readonly string[] | undefined;
  readonly flags: readonly SqlFlag[] | undefined;
  /** Matches input the parser rejected (and only that). */
  readonly unparseable: boolean;
}

export interface ReviewConfig {
  /** Groups whose members may approve. */
  readonly approvers: readonly string[];
  readonly minApprovals: number;
  readonly timeoutMs: number;
  /** What an approval lets the agent run (`grant`, and `grant_ttl` for `once`). */
  readonly grant: ReviewGrant;
}

/**
 * What an approval under a review rule releases (src/approvals). Both kinds are usable from
 * the approval until approval + `ttlMs` / `durationMs`, and can be revoked before then.
 */
export type ReviewGrant =
  /** `grant: once`: the approved operation runs one time — on the connection that held it, or within `ttlMs` (`grant_ttl`) on a new one. */
  | { readonly kind: 'once'; readonly ttlMs: number }
  /** `grant: 30m`: for `durationMs`, any operation under the same rule by the same identity on the same connection runs without asking again. */
  | { readonly kind: 'window'; readonly durationMs: number };
