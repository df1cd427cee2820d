/**
 * The schema of the YAML file as users write it (snake_case, durations and sizes as text,
 * file paths, secret references). One TypeBox definition gives both the JSON Schema that
 * validates the file (and drives editor completion) and the static type of the parsed
 * document. `additionalProperties: false` everywhere so a typo is an error, not a silently
 * ignored setting.
 */
import { Type, type SchemaOptions, type Static } from '@sinclair/typebox';
import type { SqlClass, SqlFlag } from '../inspect/sql/facts.js';
import type { NotificationEvent } from './types.js';
import { DURATION_EXAMPLES, DURATION_PATTERN } from './duration.js';
import { SIZE_EXAMPLES, SIZE_PATTERN } from './size.js';

/** Asymmetric JWS algorithms accepted by default (and the only ones accepted at all, bar Ed25519). */
export const DEFAULT_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
] as const;
export const ALLOWED_ALGORITHMS = [...DEFAULT_ALGORITHMS, 'Ed25519'] as const;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const LISTENER_TLS_MODES = ['disable', 'allow', 'require'] as const;
export const UPSTREAM_TLS_MODES = ['disable', 'prefer', 'require', 'verify-full'] as const;

/** Connection names appear in policy, audit records and client connection strings. */
export const CONNECTION_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

/** Rule names appear in every decision, refusal message and audit record. */
export const RULE_NAME_PATTERN = CONNECTION_NAME_PATTERN;

/**
 * A glob on a schema-qualified name: "schema.name", each side a non-empty run of
 * anything but ".", whitespace, quotes and brackets; "*" matches any run of characters,
 * "?" exactly one. Names are matched as PostgreSQL resolved them, so no quoting.
 */
export const QUALIFIED_GLOB_PATTERN = '^[^.\\s"\\[\\]{}]+\\.[^.\\s"\\[\\]{}]+$';

/** Statement kinds as the inspector names them: parser node names in snake case (`select`, `create_table_as`). */
export const STATEMENT_KIND_PATTERN = '^[a-z][a-z0-9_]*$';

/** A function name for the dangerous-functions list: no schema (matched in every schema), no quoting. */
export const FUNCTION_NAME_PATTERN = '^[^.\\s"]+$';

/** Every SQL class the inspector produces; checked against `SqlClass` below so the two cannot drift. */
export const SQL_CLASSES = ['read', 'write', 'ddl', 'admin', 'transaction', 'session', 'unknown'] as const satisfies readonly SqlClass[];
/** Every flag the inspector produces; checked against `SqlFlag` below. */
export const SQL_FLAGS = [
  'update_without_where',
  'delete_without_where',
  'dynamic_sql',
  'dangerous_function',
  'parse_relevant_setting',
  'copy_server_side',
  'explain_analyze',
] as const satisfies readonly SqlFlag[];
// Compile-time: a class or flag added to facts.ts but not listed here is a type error.
const sqlClassesComplete: Exclude<SqlClass, (typeof SQL_CLASSES)[number]> extends never ? true : never = true;
const sqlFlagsComplete: Exclude<SqlFlag, (typeof SQL_FLAGS)[number]> extends never ? true : never = true;
void sqlClassesComplete;
void sqlFlagsComplete;

export const RULE_EFFECTS = ['allow', 'deny', 'review'] as const;
export const DEFAULT_EFFECTS = ['allow', 'deny'] as const;
/** `process`: survives the gateway process dying; `fsync`: also survives power loss (slower). */
export const DURABILITY_MODES = ['process', 'fsync'] as const;
export const RECORDING_WRITERS = ['thread', 'inline'] as const;
/** Classes a configured dangerous function may put a statement in (a "read" would not be dangerous). */
export const DANGEROUS_FUNCTION_CLASSES = ['write', 'ddl', 'admin', 'session'] as const;

/** Defaults, in file syntax, shared by the schema (as `default` annotations) and the loader. */
export const DEFAULTS = {
  dataDir: '.portcullis',
  logLevel: 'info',
  groupsClaim: 'groups',
  clockSkew: '60s',
  maxTokenAge: '24h',
  strictTyp: false,
  listenAddress: '127.0.0.1:6432',
  allowLoopbackPlaintext: true,
  maxMessageSize: '16MiB',
  tokenExpiryGrace: '0s',
  authTimeout: '15s',
  targetPort: 5432,
  targetTls: 'prefer',
  connectTimeout: '10s',
  defaultEffect: 'deny',
  minApprovals: 1,
  reviewTimeout: '5m',
  reviewGrant: 'once',
  grantTtl: '15m',
  accessRequestTimeout: '1h',
  accessMaxDuration: '8h',
  durability: 'process',
  recordingWriter: 'thread',
  adminAddress: '127.0.0.1:6480',
  sshListenAddress: '127.0.0.1:2222',
  sshTargetPort: 22,
  sshOutputFlush: '50ms',
} as const;

/** What an SSH session can ask for besides running commands (rules match them with `when.ssh.actions`). */
export const SSH_ACTIONS = ['shell', 'sftp', 'port_forward', 'agent_forward', 'x11'] as const;
/** What an SFTP (or scp) request does to a file (rules match them with `when.files.actions`). */
export const FILE_ACTIONS = ['read', 'write', 'list', 'stat', 'mkdir', 'remove', 'rmdir', 'rename', 'setstat', 'symlink'] as const;
/** Why the shell inspector could not know a command line with confidence (src/inspect/shell/facts.ts). */
export const SHELL_FLAGS = ['eval', 'variable_command', 'glob_command', 'stdin_script', 'unsupported'] as const;
/** An OpenSSH SHA-256 host key fingerprint, as `ssh-keygen -lf` prints it. */
export const SSH_FINGERPRINT_PATTERN = '^SHA256:[A-Za-z0-9+/]{43}$';

const SECRET_HINT = 'Secret references "${env:NAME}" and "${file:PATH}" are allowed; "$${" is a literal "${".';

function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** Titled so that error messages can say "expected a duration" rather than list the union's branches. */
function Duration(description: string, defaultValue?: string) {
  return Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Number({ minimum: 0 })], {
    title: 'Duration',
    description: `${description} A duration such as ${DURATION_EXAMPLES}, or a number of seconds.`,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });
}

/**
 * `review.grant`: "once", or a duration (a time window). Titled for error messages, like
 * Duration; "session" (accepted, never enforced, by earlier releases) gets its own message.
 */
function Grant() {
  return Type.Union([Type.Literal('once'), Type.String({ pattern: DURATION_PATTERN }), Type.Number({ minimum: 0 })], {
    title: 'Grant',
    description:
      'What an approval lets the agent run. "once" (default): exactly the approved statement, with the same parameters, one time. ' +
      `A duration such as "30m" (at most 24h; ${DURATION_EXAMPLES}, or a number of seconds): for that long after the approval, ` +
      'any statement this rule sends to review, by the same identity on the same connection, runs without asking again. ' +
      'Either can be revoked with "portcullis approvals revoke ID".',
    default: DEFAULTS.reviewGrant,
  });
}

/** How long ended sessions are kept: a duration or "forever". Titled for error messages, like Duration. */
function Retention(description: string) {
  return Type.Union([Type.Literal('forever'), Type.String({ pattern: DURATION_PATTERN }), Type.Number({ minimum: 0 })], {
    title: 'Retention',
    description: `${description} ${RETENTION_HELP}`,
  });
}

export const RETENTION_EXAMPLES = '"90d", "30d", "12h" (at least 1h), or "forever"';
const RETENTION_HELP =
  `A duration such as ${RETENTION_EXAMPLES}. Sessions are pruned whole, by end time, in the background; each pruning is ` +
  'itself a signed entry of the audit log, so "portcullis audit verify" still checks the chain.';

function Size(description: string, defaultValue: string) {
  return Type.Union([Type.String({ pattern: SIZE_PATTERN }), Type.Integer({ minimum: 0 })], {
    title: 'Size',
    description: `${description} A size such as ${SIZE_EXAMPLES}.`,
    default: defaultValue,
  });
}

const NonEmptyString = (description: string, options: SchemaOptions = {}) =>
  Type.String({ minLength: 1, description, ...options });

const NonEmptyList = <T extends ReturnType<typeof Type.String>>(item: T, description: string) =>
  Type.Array(item, { minItems: 1, uniqueItems: true, description });

const IssuerSchema = Type.Object(
  {
    issuer: NonEmptyString('Exact expected "iss" claim; also the base URL for OIDC discovery. https:// (http:// only for loopback).', {
      examples: ['https://example.okta.com/oauth2/default'],
    }),
    audience: Type.Union(
      [
        NonEmptyString('Expected "aud" value.'),
        Type.Array(NonEmptyString('Expected "aud" value.'), { minItems: 1, description: 'Accepted "aud" values (any of).' }),
      ],
      { description: 'Expected "aud" claim: one value or a list (a token must carry at least one of them).' },
    ),
    jwks_uri: Type.Optional(NonEmptyString('JWKS URL; when set, OIDC discovery is skipped.')),
    groups_claim: Type.Optional(
      NonEmptyString('Claim holding the caller\'s group names.', { default: DEFAULTS.groupsClaim }),
    ),
    algorithms: Type.Optional(
      Type.Array(
        StringEnum(ALLOWED_ALGORITHMS, {
          description: 'A JWS algorithm. Asymmetric only: HS256/HS384/HS512 and "none" are refused.',
        }),
        {
          minItems: 1,
          uniqueItems: true,
          description: 'Allowed token signature algorithms.',
          default: [...DEFAULT_ALGORITHMS],
        },
      ),
    ),
    clock_skew: Type.Optional(Duration('Tolerance for exp/nbf/iat checks; at most 5m.', DEFAULTS.clockSkew)),
    max_token_age: Type.Optional(Duration('Refuse tokens issued ("iat") longer ago than this.', DEFAULTS.maxTokenAge)),
    strict_typ: Type.Optional(
      Type.Boolean({
        description: 'Require the token header "typ" to be "at+jwt" or "JWT" (RFC 9068).',
        default: DEFAULTS.strictTyp,
      }),
    ),
  },
  { additionalProperties: false, description: 'One trusted OIDC issuer.' },
);

const IdentitySchema = Type.Object(
  {
    issuers: Type.Optional(
      Type.Array(IssuerSchema, {
        description: 'Trusted OIDC issuers. At least one is required when any connection is defined.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Who may call the gateway: the OIDC issuers whose access tokens are accepted.' },
);

const ListenerTlsSchema = Type.Object(
  {
    mode: Type.Optional(
      StringEnum(LISTENER_TLS_MODES, {
        description: 'Client-side TLS: "disable", "allow" (client chooses) or "require". Default "allow" when cert_file is set, else "disable".',
      }),
    ),
    cert_file: Type.Optional(NonEmptyString(`PEM certificate chain file, relative to the config file. ${SECRET_HINT}`)),
    key_file: Type.Optional(NonEmptyString(`PEM private key file, relative to the config file. ${SECRET_HINT}`)),
    allow_loopback_plaintext: Type.Optional(
      Type.Boolean({
        description: 'With mode "require", still accept plaintext from loopback clients.',
        default: DEFAULTS.allowLoopbackPlaintext,
      }),
    ),
  },
  { additionalProperties: false, description: 'TLS between agents and the gateway.' },
);

const PostgresListenerSchema = Type.Object(
  {
    address: Type.Optional(
      NonEmptyString('host:port to listen on ("[::1]:6432" for IPv6; port 0 picks a free port).', {
        default: DEFAULTS.listenAddress,
      }),
    ),
    tls: Type.Optional(ListenerTlsSchema),
    max_message_size: Type.Optional(
      Size('Largest message accepted from a client, 8KiB–1GiB.', DEFAULTS.maxMessageSize),
    ),
    token_expiry_grace: Type.Optional(
      Duration('How long a session may continue after its token expires.', DEFAULTS.tokenExpiryGrace),
    ),
    auth_timeout: Type.Optional(Duration('Time allowed from connect to authenticated.', DEFAULTS.authTimeout)),
  },
  { additionalProperties: false, description: 'The PostgreSQL front door. Omit to not listen for PostgreSQL clients.' },
);

const SshListenerSchema = Type.Object(
  {
    address: Type.Optional(
      NonEmptyString('host:port to listen on ("[::1]:2222" for IPv6; port 0 picks a free port).', { default: DEFAULTS.sshListenAddress }),
    ),
    host_key_file: Type.Optional(
      NonEmptyString(
        'The gateway\'s SSH host private key (OpenSSH or PEM format), relative to the config file. Default: ' +
          '<data_dir>/ssh_host_ed25519_key, generated on first start (its fingerprint is logged, and printed by "portcullis ssh host-key").',
      ),
    ),
    token_expiry_grace: Type.Optional(Duration('How long a session may continue after its token expires.', DEFAULTS.tokenExpiryGrace)),
    auth_timeout: Type.Optional(Duration('Time allowed from connect to authenticated.', DEFAULTS.authTimeout)),
    output_flush: Type.Optional(
      Duration(
        'Longest that masked command output is held back waiting for the rest of a value split across chunks (interactive output is delayed at most this long).',
        DEFAULTS.sshOutputFlush,
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'The SSH front door: agents connect as "ssh -p PORT <connection>@gateway" with their OIDC access token as the password. Omit to not listen for SSH clients.',
  },
);

const ListenSchema = Type.Object(
  { postgres: Type.Optional(PostgresListenerSchema), ssh: Type.Optional(SshListenerSchema) },
  { additionalProperties: false, description: 'Front doors the gateway listens on.' },
);

const PostgresTargetSchema = Type.Object(
  {
    host: NonEmptyString(`Target server host name or IP address. ${SECRET_HINT}`),
    port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: 'Target server port.', default: DEFAULTS.targetPort }),
    ),
    database: NonEmptyString(`Database to connect to. ${SECRET_HINT}`),
    user: NonEmptyString(`Database user the gateway logs in as (agents never see it). ${SECRET_HINT}`),
    password: Type.Optional(
      Type.String({
        writeOnly: true,
        description: `Password for "user"; omit for trust auth. Prefer a secret reference to a literal. ${SECRET_HINT}`,
        examples: ['${env:DB_PASSWORD}', '${file:./secrets/db-password}'],
      }),
    ),
    tls: Type.Optional(
      StringEnum(UPSTREAM_TLS_MODES, {
        description: 'TLS to the target: "disable", "prefer", "require" (encrypt, no verification) or "verify-full" (verify certificate and host name).',
        default: DEFAULTS.targetTls,
      }),
    ),
    ca_file: Type.Optional(
      NonEmptyString('PEM CA bundle used with tls "verify-full", relative to the config file (default: system CAs).'),
    ),
    connect_timeout: Type.Optional(Duration('Time allowed to connect to the target.', DEFAULTS.connectTimeout)),
  },
  { additionalProperties: false, description: 'The PostgreSQL server behind this connection and the credentials Portcullis injects.' },
);

const SshTargetSchema = Type.Object(
  {
    host: NonEmptyString(`Target SSH server host name or IP address. ${SECRET_HINT}`),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Target SSH server port.', default: DEFAULTS.sshTargetPort })),
    user: NonEmptyString(`User the gateway logs in as (agents never see it). ${SECRET_HINT}`),
    private_key: Type.Optional(
      Type.String({
        minLength: 1,
        writeOnly: true,
        description: `Private key (OpenSSH or PEM text) the gateway logs in with; use a secret reference. ${SECRET_HINT}`,
        examples: ['${file:./secrets/target_ed25519}', '${env:TARGET_SSH_KEY}'],
      }),
    ),
    passphrase: Type.Optional(Type.String({ minLength: 1, writeOnly: true, description: `Passphrase of an encrypted private_key. ${SECRET_HINT}` })),
    password: Type.Optional(
      Type.String({ minLength: 1, writeOnly: true, description: `Password the gateway logs in with (when there is no private_key). ${SECRET_HINT}` }),
    ),
    host_key: Type.Union(
      [
        NonEmptyString(`A fingerprint "SHA256:…". ${SECRET_HINT}`),
        NonEmptyList(NonEmptyString(`A fingerprint "SHA256:…". ${SECRET_HINT}`), 'Several accepted fingerprints (e.g. during a key rotation).'),
      ],
      {
        description:
          'The target\'s host key fingerprint(s), "SHA256:…" as "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" prints it. ' +
          'The gateway refuses to connect to a target presenting any other key.',
      },
    ),
    connect_timeout: Type.Optional(Duration('Time allowed to connect to the target.', DEFAULTS.connectTimeout)),
  },
  { additionalProperties: false, description: 'The SSH server behind this connection and the credentials Portcullis injects.' },
);

const AccessApprovalSchema = Type.Object(
  {
    approvers: NonEmptyList(NonEmptyString('A group name.'), 'Groups whose members may approve an access request (never the identity that asked).'),
    min_approvals: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10, description: 'Distinct approvals needed.', default: DEFAULTS.minApprovals }),
    ),
    timeout: Type.Optional(
      Duration('How long an access request waits for a decision before it expires (and is refused); at most 7d.', DEFAULTS.accessRequestTimeout),
    ),
    max_duration: Type.Optional(
      Duration('The longest access one request may ask for (its "duration"); at most 7d.', DEFAULTS.accessMaxDuration),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Time-boxed access: besides being in the access list, an identity needs an approved access request to open this connection ' +
      '("portcullis access request --connection NAME --duration 30m --reason …", or POST /api/access-requests). Once approved it may ' +
      'open the connection until the requested duration has passed since the approval; sessions still open then are ended.',
  },
);

const AccessSchema = Type.Object(
  {
    groups: Type.Optional(Type.Array(NonEmptyString('A group name.'), { description: 'Callers in any of these groups (from the issuer\'s groups claim).' })),
    subjects: Type.Optional(Type.Array(NonEmptyString('A "sub" value.'), { description: 'Callers with any of these "sub" claims.' })),
    clients: Type.Optional(
      Type.Array(NonEmptyString('A client id.'), { description: 'Callers whose token was issued to any of these client ids ("client_id", or "cid" on Okta).' }),
    ),
    require_approval: Type.Optional(AccessApprovalSchema),
  },
  { additionalProperties: false, description: 'Who may open this connection at all; at least one entry is required.' },
);

const IdentityConditionSchema = Type.Object(
  {
    groups: Type.Optional(NonEmptyList(NonEmptyString('A group name.'), 'The caller is in any of these groups.')),
    subjects: Type.Optional(NonEmptyList(NonEmptyString('A "sub" value.'), 'The caller\'s "sub" claim is any of these.')),
    clients: Type.Optional(NonEmptyList(NonEmptyString('A client id.'), 'The caller\'s token was issued to any of these client ids.')),
  },
  {
    additionalProperties: false,
    description: 'Who the rule applies to. Every key given must match (AND); within a list, any entry (OR). Omit to apply to everyone.',
  },
);

/** Masking profile names share the connection/rule name syntax. */
export const MASKING_PROFILE_NAME_PATTERN = CONNECTION_NAME_PATTERN;
export const MASK_STRATEGY_NAMES = ['redact', 'partial', 'hash', 'null'] as const;
/** A detector label: what `redact` writes between brackets. */
export const MASK_LABEL_PATTERN = '^[A-Z][A-Z0-9_]{0,31}$';
/**
 * A column rule's key: "schema.table.column" (each part a glob), or a bare column-name glob
 * ("*password*") that matches that column in every table and view.
 */
export const COLUMN_GLOB_PATTERN = '^[^.\\s"\\[\\]{}]+(\\.[^.\\s"\\[\\]{}]+\\.[^.\\s"\\[\\]{}]+)?$';

const MaskStrategySchema = StringEnum(MASK_STRATEGY_NAMES, {
  description:
    '"redact": [LABEL] in place of the value; "partial": keep the last 4 letters or digits (e.g. **** **** **** 1111); "hash": a ' +
    'deterministic keyed token (equal values give equal tokens, so joins and grouping still work; needs hash_key); "null": SQL NULL. ' +
    'On a column that is not text (int, uuid, date…) every strategy but "hash" on text gives NULL, never text the client could not decode.',
});

const ColumnRuleSchema = Type.Union(
  [
    MaskStrategySchema,
    Type.Object(
      {
        strategy: MaskStrategySchema,
        label: Type.Optional(Type.String({ pattern: MASK_LABEL_PATTERN, description: 'What "redact" writes, e.g. EMAIL gives [EMAIL]. Default MASKED.' })),
      },
      { additionalProperties: false },
    ),
  ],
  { title: 'ColumnRule', description: 'A strategy name, or { strategy, label }.' },
);

const CustomDetectorSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$', description: 'Unique among detectors; lower-case kebab-case.' }),
    label: Type.Optional(Type.String({ pattern: MASK_LABEL_PATTERN, description: 'What "redact" writes; default the name in upper case.' })),
    pattern: NonEmptyString('A JavaScript regular expression (without slashes) matching the value.'),
    case_insensitive: Type.Optional(Type.Boolean({ description: 'Match the pattern without regard to case.' })),
    validator: Type.Optional(StringEnum(['luhn', 'mod97'] as const, { description: 'Reject matches that fail this checksum (Luhn for card-like numbers, ISO 7064 mod-97 for IBAN-like codes).' })),
    context: Type.Optional(
      Type.Object(
        {
          words: NonEmptyList(NonEmptyString('A word.'), 'Words of which one must appear shortly before the match (case-insensitive).'),
          before: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'How many characters before the match to look in (default 40).' })),
        },
        { additionalProperties: false, description: 'Words that must appear shortly before a match for it to count (e.g. "employee" before an id).' },
      ),
    ),
    deny: Type.Optional(Type.Array(NonEmptyString('An exact value.'), { description: 'Exact values never masked (known test or public values).' })),
  },
  { additionalProperties: false, description: 'A detector of your own: a pattern, an optional checksum, context words and exceptions.' },
);

const MaskingProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: MASKING_PROFILE_NAME_PATTERN, description: 'Unique; connections list the profiles that apply to them by name.' }),
    for: Type.Optional(IdentityConditionSchema),
    detectors: Type.Optional(
      Type.Array(NonEmptyString('A detector name.'), {
        uniqueItems: true,
        description:
          'Content detectors run on every text value of every result: built-in names (see "portcullis mask check --help"), "default" ' +
          'for the default set, and the names of this profile\'s custom_detectors. Default: ["default"]. [] turns content detection off.',
      }),
    ),
    custom_detectors: Type.Optional(Type.Array(CustomDetectorSchema, { description: 'Detectors of your own, run when listed in "detectors".' })),
    phone_regions: Type.Optional(
      NonEmptyList(Type.String({ pattern: '^[A-Z]{2}$', description: 'An ISO 3166 region code.' }), 'Where national phone numbers (without +country code) are recognized from. Default ["US"].'),
    ),
    strategy: Type.Optional(Type.Union([Type.Literal('redact'), Type.Literal('partial'), Type.Literal('hash'), Type.Literal('null')], {
      title: 'Strategy',
      description: 'How values the content detectors find are masked: "redact" (default), "partial", "hash" or "null" (the whole value).',
    })),
    columns: Type.Optional(
      Type.Record(Type.String({ pattern: COLUMN_GLOB_PATTERN }), ColumnRuleSchema, {
        additionalProperties: false,
        description:
          'Columns masked whatever their content, by "schema.table.column" (each part a glob: "public.customers.email", "*.*.ssn") ' +
          'or a bare column-name glob ("*password*", "*token*"). Also applies where the column is selected under another name, ' +
          'through views, subqueries and CTEs; an expression computed from a masked column is masked whole (see "expressions").',
      }),
    ),
    expressions: Type.Optional(
      StringEnum(['mask', 'refuse'] as const, {
        description: 'An output computed from a masked column (lower(email), row_to_json(c)…): "mask" the whole value (default) or "refuse" the statement.',
      }),
    ),
    deny_predicates: Type.Optional(
      Type.Boolean({
        description:
          'Refuse statements that filter, join, group or sort on masked columns (WHERE email LIKE \'a%\' would otherwise let an agent ' +
          'infer values one probe at a time). Default false.',
      }),
    ),
    hash_key: Type.Optional(NonEmptyString(`The key of the "hash" strategy (at least 16 bytes). ${SECRET_HINT}`)),
  },
  { additionalProperties: false, description: 'What is masked in results, for whom.' },
);

const CONNECTION_COMMON = {
    name: Type.String({
      pattern: CONNECTION_NAME_PATTERN,
      description: 'Unique name: lowercase letters, digits, "_" and "-", up to 63 characters. Agents use it as the database name (PostgreSQL) or the user name (SSH).',
    }),
    access: Type.Optional(AccessSchema),
    rules: Type.Optional(
      Type.Array(
        Type.String({ pattern: RULE_NAME_PATTERN, description: 'The name of a rule defined under the top-level "rules".' }),
        {
          uniqueItems: true,
          description:
            'Names of the rules that decide statements on this connection (defined under the top-level "rules"). ' +
            'Every matching rule counts, whatever its position: the most restrictive effect wins (deny > review > allow).',
        },
      ),
    ),
    default: Type.Optional(
      StringEnum(DEFAULT_EFFECTS, {
        description: 'Effect for a statement no rule of this connection matches: "deny" (fail closed) or "allow".',
        default: DEFAULTS.defaultEffect,
      }),
    ),
    retention: Type.Optional(
      Retention('How long this connection\'s recorded sessions are kept after they end, overriding recording.retention.'),
    ),
    masking: Type.Optional(
      Type.Array(Type.String({ pattern: MASKING_PROFILE_NAME_PATTERN, description: 'The name of a profile under the top-level "masking".' }), {
        uniqueItems: true,
        description:
          'Masking profiles applied to results on this connection. Each applies to the identities its "for" matches (everyone without ' +
          'one); when several apply, a column gets the most restrictive of their rules (null > redact > hash > partial).',
      }),
    ),
    record: Type.Optional(
      Type.Object(
        {
          result_rows: Type.Optional(
            Type.Integer({ minimum: 0, maximum: 10_000, description: 'Record the first N rows of each statement\'s result (after masking). Default 0.' }),
          ),
        },
        { additionalProperties: false, description: 'What is recorded of this connection\'s sessions besides statements and outcomes.' },
      ),
    ),
};

const PostgresConnectionSchema = Type.Object(
  {
    ...CONNECTION_COMMON,
    type: Type.Literal('postgres', { description: 'Protocol of the target.' }),
    target: PostgresTargetSchema,
  },
  { additionalProperties: false, description: 'A PostgreSQL target agents may reach through the gateway.' },
);

const SshConnectionSchema = Type.Object(
  {
    ...CONNECTION_COMMON,
    type: Type.Literal('ssh', { description: 'Protocol of the target.' }),
    target: SshTargetSchema,
  },
  { additionalProperties: false, description: 'An SSH target agents may reach through the gateway.' },
);

const ConnectionSchema = Type.Union([PostgresConnectionSchema, SshConnectionSchema], {
  description: 'A target agents may reach through the gateway ("type" says which protocol).',
});



const GLOB_HELP =
  'A glob "schema.name": "*" matches any run of characters, "?" one character; case-sensitive, on names as ' +
  'PostgreSQL resolved them (unquoted identifiers folded to lower case).';

const SqlConditionSchema = Type.Object(
  {
    class: Type.Optional(
      Type.Array(
        StringEnum(SQL_CLASSES, { description: 'A statement class.' }),
        {
          minItems: 1,
          uniqueItems: true,
          description:
            'The statement\'s class is any of these: read, write, ddl, admin, transaction, session, unknown. ' +
            'Only an allow rule listing "unknown" itself lifts the built-in "unknown-statement" guard.',
        },
      ),
    ),
    kind: Type.Optional(
      NonEmptyList(
        Type.String({ pattern: STATEMENT_KIND_PATTERN, description: 'A statement kind, e.g. "select", "insert", "create_table_as".' }),
        'The statement\'s kind is any of these (the parser\'s statement node in snake case, without "Stmt").',
      ),
    ),
    tables: Type.Optional(
      NonEmptyList(
        Type.String({ pattern: QUALIFIED_GLOB_PATTERN, description: `A table glob. ${GLOB_HELP}`, examples: ['public.*', 'app.orders'] }),
        'Tables the statement touches. In an allow rule EVERY table touched must match one of these globs, and the ' +
          'statement must touch at least one table; in a deny or review rule ANY touched table matching is enough. ' +
          'An unqualified table counts as "public.<name>" (or "pg_catalog.<name>" when it starts with "pg_", as ' +
          'PostgreSQL resolves it) for allow rules, and as "<any schema>.<name>" for deny and review rules.',
      ),
    ),
    functions: Type.Optional(
      NonEmptyList(
        Type.String({ pattern: QUALIFIED_GLOB_PATTERN, description: `A function glob. ${GLOB_HELP}`, examples: ['pg_catalog.*', 'app.report_*'] }),
        'Functions the statement calls. In an allow rule EVERY function called must match and the statement must call ' +
          'at least one; in a deny or review rule ANY called function matching is enough. An unqualified function counts ' +
          'as "pg_catalog.<name>" for allow rules and as "<any schema>.<name>" for deny and review rules.',
      ),
    ),
    flags: Type.Optional(
      Type.Array(StringEnum(SQL_FLAGS, { description: 'A fact flag.' }), {
        minItems: 1,
        uniqueItems: true,
        description:
          'The statement has any of these flags. Only an allow rule listing "dynamic_sql" or "parse_relevant_setting" ' +
          'itself lifts the built-in guard of that name.',
      }),
    ),
    unparseable: Type.Optional(
      Type.Literal(true, {
        description:
          'Matches input PostgreSQL\'s parser rejects (which is otherwise denied by the built-in "unparseable-sql" guard). ' +
          'Cannot be combined with other sql conditions: unparseable input has no facts.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'What the statement does, from the SQL inspector\'s facts. Every key given must match (AND); within a list, any entry (OR).',
  },
);

const ShellConditionSchema = Type.Object(
  {
    programs: Type.Optional(
      NonEmptyList(
        NonEmptyString('A program glob: a bare name ("rm", "python*") or a path ("/usr/bin/*").'),
        'Programs the command line runs (after quote removal, through sudo, env, xargs, sh -c … wrappers). A bare name matches ' +
          'the program\'s name; a glob with "/" matches its path as written. In an allow rule a bare name admits the program only when ' +
          'run by name or from a system directory (/bin, /usr/bin, /sbin, /usr/sbin, /usr/local/bin), never "./rm" or "/tmp/ls".',
      ),
    ),
    args: Type.Optional(
      NonEmptyList(
        NonEmptyString('An argument glob, e.g. "-rf", "-*r*", "/var/log/*".'),
        'Arguments. In an allow rule EVERY argument must match one of these globs; in a deny or review rule ANY argument matching is enough.',
      ),
    ),
    writes: Type.Optional(
      NonEmptyList(
        NonEmptyString('A path glob, e.g. "/tmp/*".'),
        'Files written by redirections (">", ">>", "&>", …). In an allow rule every file written must match (and an allow rule without ' +
          '"writes" admits no command that writes a file other than /dev/null); in a deny or review rule any matching is enough.',
      ),
    ),
    flags: Type.Optional(
      Type.Array(StringEnum(SHELL_FLAGS, { description: 'Why the inspector could not know the command line with confidence.' }), {
        minItems: 1,
        uniqueItems: true,
        description:
          'The command line has any of these flags (eval, variable_command, glob_command, stdin_script, unsupported). Flagged lines are ' +
          'never allowed: only review or deny rules may name flags.',
      }),
    ),
    unparseable: Type.Optional(
      Type.Literal(true, {
        description: 'Matches command lines the shell inspector cannot parse (otherwise denied by the built-in "unparseable-command" guard). Only for review or deny rules.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'What an SSH command line runs, from the shell inspector\'s facts. Every key given must match (AND); within a list, any entry (OR).',
  },
);

const FilesConditionSchema = Type.Object(
  {
    actions: Type.Optional(
      Type.Array(StringEnum(FILE_ACTIONS, { description: 'A file action.' }), {
        minItems: 1,
        uniqueItems: true,
        description:
          'The SFTP/scp request is any of these: read (open for reading), write (open for writing or creating), list (a directory), ' +
          'stat, mkdir, remove, rmdir, rename, setstat (permissions, owner, times), symlink.',
      }),
    ),
    paths: Type.Optional(
      NonEmptyList(
        NonEmptyString('An absolute path glob, e.g. "/var/log/*" ("*" also crosses "/").'),
        'Paths, resolved against the target user\'s home directory with ".." removed. In an allow rule every path the request ' +
          'names must match (a rename names two); in a deny or review rule any is enough.',
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'What an SFTP or scp request does to which file. Every key given must match (AND); within a list, any entry (OR).',
  },
);

const SshConditionSchema = Type.Object(
  {
    actions: Type.Array(StringEnum(SSH_ACTIONS, { description: 'An SSH session action.' }), {
      minItems: 1,
      uniqueItems: true,
      description:
        'The session asks for any of these: "shell" (an interactive shell), "sftp" (the SFTP subsystem, also used by scp), ' +
        '"port_forward" (-L and -R), "agent_forward" (-A), "x11" (never offered). Forwarding is refused unless an allow rule lists it here.',
    }),
  },
  { additionalProperties: false, description: 'What an SSH session asks for besides running a command.' },
);

const ReviewSchema = Type.Object(
  {
    approvers: NonEmptyList(NonEmptyString('A group name.'), 'Groups whose members may approve.'),
    min_approvals: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10, description: 'Approvals needed.', default: DEFAULTS.minApprovals }),
    ),
    timeout: Type.Optional(Duration('How long the statement is held for approval before it is denied; at most 24h.', DEFAULTS.reviewTimeout)),
    grant: Type.Optional(Grant()),
    grant_ttl: Type.Optional(
      Duration(
        'With grant: once, how long after the approval the approved statement can still run on a new connection ' +
          '(the agent\'s connection closed while it waited; agents reconnect and retry); at most 24h.',
        DEFAULTS.grantTtl,
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Human approval for a "review" rule: the statement is held on the live connection until enough approvers approve it (then it runs), one denies it, or the timeout passes (then it is refused).',
  },
);

const RuleSchema = Type.Object(
  {
    name: Type.String({
      pattern: RULE_NAME_PATTERN,
      description: 'Unique name: lowercase letters, digits, "_" and "-", up to 63 characters. Shown in every decision.',
    }),
    when: Type.Object(
      {
        identity: Type.Optional(IdentityConditionSchema),
        sql: Type.Optional(SqlConditionSchema),
        shell: Type.Optional(ShellConditionSchema),
        ssh: Type.Optional(SshConditionSchema),
        files: Type.Optional(FilesConditionSchema),
      },
      {
        additionalProperties: false,
        description: 'When the rule applies: every condition given must match (AND). "{}" matches every statement.',
      },
    ),
    effect: StringEnum(RULE_EFFECTS, {
      description:
        '"allow", "deny" or "review" (hold for human approval). Of all rules matching a statement, the most ' +
        'restrictive wins: deny > review > allow.',
    }),
    reason: Type.Optional(
      NonEmptyString(
        'Told to the agent (often an LLM) when this rule refuses a statement: why, and what it can do instead. Required for deny and review.',
      ),
    ),
    review: Type.Optional(ReviewSchema),
  },
  { additionalProperties: false, description: 'A policy rule: conditions on the caller and the statement, and an effect.' },
);

const DangerousFunctionSchema = Type.Object(
  {
    name: Type.String({
      pattern: FUNCTION_NAME_PATTERN,
      description: 'Function name without schema; matched case-insensitively, in every schema, however the call is quoted.',
    }),
    class: StringEnum(DANGEROUS_FUNCTION_CLASSES, {
      description:
        'Class a statement calling it gets at least: "write", "ddl", "admin" or "session" — so a reads-only policy ' +
        'refuses it. Never lowers the class of a built-in dangerous function.',
    }),
    reason: NonEmptyString('What it does that makes it dangerous ("deletes old orders"); shown in facts and refusals.'),
    dynamic_sql: Type.Optional(
      Type.Boolean({
        description: 'The function executes a SQL string it is given: calls get the "dynamic_sql" flag (denied unless explicitly allowed).',
        default: false,
      }),
    ),
  },
  { additionalProperties: false, description: 'A function with side effects or privileged reach.' },
);

const SqlSettingsSchema = Type.Object(
  {
    extra_dangerous_functions: Type.Optional(
      Type.Array(DangerousFunctionSchema, {
        description:
          'Functions to treat like the built-in dangerous ones (set_config, pg_read_file, dblink…): a statement calling ' +
          'one gets its class and the "dangerous_function" flag.',
      }),
    ),
  },
  { additionalProperties: false, description: 'How SQL is inspected. Secret references are not resolved here.' },
);

const RecordingSchema = Type.Object(
  {
    durability: Type.Optional(
      StringEnum(DURABILITY_MODES, {
        description:
          'When a recorded event counts as written (it is written before the operation is forwarded): "process" — it ' +
          'survives the gateway process dying (kill -9, crash), not a power loss or OS crash; "fsync" — every write ' +
          'is flushed to disk first, so it also survives power loss, at a cost in latency.',
        default: DEFAULTS.durability,
      }),
    ),
    writer: Type.Optional(
      StringEnum(RECORDING_WRITERS, {
        description:
          'How recorded events are written: "thread" — each event-loop turn\'s events are appended to the recording ' +
          'journal (data_dir/journal/) in one write, and a writer thread applies the journal to portcullis.db in bulk ' +
          '(the default; the journal\'s tail is applied at the next start after a crash); "inline" — committed to ' +
          'portcullis.db on the main thread. Either way an operation is forwarded only once its event is written.',
        default: DEFAULTS.recordingWriter,
      }),
    ),
    retention: Type.Optional(
      Retention('How long recorded sessions are kept after they end (default: forever); a connection\'s own retention overrides it.'),
    ),
  },
  {
    additionalProperties: false,
    description: 'Session recording and the tamper-evident audit log, kept in data_dir (portcullis.db).',
  },
);

const AdminTlsSchema = Type.Object(
  {
    cert_file: NonEmptyString(`PEM certificate chain file, relative to the config file. ${SECRET_HINT}`),
    key_file: NonEmptyString(`PEM private key file, relative to the config file. ${SECRET_HINT}`),
  },
  { additionalProperties: false, description: 'Serve the admin API over HTTPS (callers send bearer tokens: use it beyond loopback).' },
);

const AdminSchema = Type.Object(
  {
    listen: Type.Optional(
      NonEmptyString('host:port for the admin HTTP API, /healthz, /readyz and /metrics ("[::1]:6480" for IPv6; port 0 picks a free port).', {
        default: DEFAULTS.adminAddress,
      }),
    ),
    auditors: Type.Optional(
      NonEmptyList(NonEmptyString('A group name.'), 'Callers in any of these groups (from their access token) may read recordings and verify the audit log.'),
    ),
    admins: Type.Optional(
      NonEmptyList(NonEmptyString('A group name.'), 'Callers in any of these groups may use every admin endpoint (today the same as auditors).'),
    ),
    tls: Type.Optional(AdminTlsSchema),
  },
  {
    additionalProperties: false,
    description:
      'The admin HTTP API (sessions, audit verification) and the health and Prometheus metrics endpoints, on their own ' +
      'port. /api/* needs an OIDC access token from a configured issuer whose groups include an auditors or admins ' +
      'group; /healthz, /readyz and /metrics are unauthenticated. Omit to not listen.',
  },
);

/** The approval steps a webhook can be told about (`notifications.webhooks[].events`). */
export const NOTIFICATION_EVENTS = ['requested', 'approved', 'denied', 'expired', 'revoked', 'redeemed'] as const satisfies readonly NotificationEvent[];
const notificationEventsComplete: Exclude<NotificationEvent, (typeof NOTIFICATION_EVENTS)[number]> extends never ? true : never = true;
void notificationEventsComplete;

/** Defaults of the `notifications:` section, in file syntax. */
export const NOTIFICATION_DEFAULTS = {
  timeout: '5s',
  slackApiUrl: 'https://slack.com/api',
} as const;

const WebhookSchema = Type.Object(
  {
    name: Type.String({ pattern: CONNECTION_NAME_PATTERN, description: 'Unique name, shown in logs instead of the URL (which may hold a credential).' }),
    url: NonEmptyString(`Where the JSON is POSTed: https:// (http:// only for localhost/127.0.0.1/[::1]). ${SECRET_HINT}`),
    secret: Type.String({
      minLength: 1,
      writeOnly: true,
      description:
        'Key for the X-Portcullis-Signature header (HMAC-SHA256 of "<X-Portcullis-Timestamp>.<raw body>"), at least 16 characters; ' +
        `use a secret reference, e.g. \${env:WEBHOOK_SECRET}. ${SECRET_HINT}`,
      examples: ['${env:APPROVALS_WEBHOOK_SECRET}', '${file:./secrets/webhook-secret}'],
    }),
    events: Type.Optional(
      Type.Array(StringEnum(NOTIFICATION_EVENTS, { description: 'An approval step.' }), {
        minItems: 1,
        uniqueItems: true,
        description: 'Which steps are sent (default: all of them).',
        default: [...NOTIFICATION_EVENTS],
      }),
    ),
    timeout: Type.Optional(Duration('How long one delivery attempt may take; at most 60s.', NOTIFICATION_DEFAULTS.timeout)),
  },
  {
    additionalProperties: false,
    description:
      'A webhook told about approval requests: a signed JSON POST per step, retried with backoff (5 attempts) on network errors, 429 and 5xx.',
  },
);

const SlackApproverSchema = Type.Object(
  {
    subject: NonEmptyString('The approver identity\'s subject, as in their OIDC token ("sub"); decisions are recorded under it.'),
    groups: NonEmptyList(NonEmptyString('A group name.'), 'Their groups: they may decide requests whose rule lists one of them in review.approvers.'),
  },
  { additionalProperties: false, description: 'The approver a Slack user decides as.' },
);

const SlackSchema = Type.Object(
  {
    bot_token: Type.String({
      minLength: 1,
      writeOnly: true,
      description: `Bot token (xoxb-…) with the chat:write scope: requests are posted with chat.postMessage and updated with chat.update. ${SECRET_HINT}`,
      examples: ['${env:SLACK_BOT_TOKEN}'],
    }),
    channel: NonEmptyString('Channel ID (e.g. "C0123456789") the requests are posted to; invite the app to it.'),
    signing_secret: Type.String({
      minLength: 1,
      writeOnly: true,
      description: `The Slack app's signing secret: button clicks (POST /api/slack/interactions) are accepted only when signed with it. ${SECRET_HINT}`,
      examples: ['${env:SLACK_SIGNING_SECRET}'],
    }),
    users: Type.Record(Type.String(), SlackApproverSchema, {
      description:
        'Slack user ID (e.g. "U0123ABCD") → the approver identity their clicks decide as. A click by anyone else decides nothing. ' +
        'Whoever controls these Slack accounts approves as these identities: map only people who may approve.',
    }),
    api_url: Type.Optional(
      NonEmptyString('Slack Web API base URL: https:// (http:// only for loopback).', { default: NOTIFICATION_DEFAULTS.slackApiUrl }),
    ),
    timeout: Type.Optional(Duration('How long one Slack API call may take; at most 60s.', NOTIFICATION_DEFAULTS.timeout)),
  },
  {
    additionalProperties: false,
    description:
      'Post each approval request to a Slack channel with Approve and Deny buttons, and update the message with the outcome. ' +
      'Needs the admin: section: the Slack app\'s Interactivity Request URL is <public_url>/api/slack/interactions.',
  },
);

const NotificationsSchema = Type.Object(
  {
    public_url: Type.Optional(
      NonEmptyString(
        'Base URL of the admin API as approvers reach it, e.g. "https://portcullis.example.com" (links in notifications: ' +
          '<public_url>/api/approvals/ID). Default: derived from admin.listen.',
      ),
    ),
    webhooks: Type.Optional(Type.Array(WebhookSchema, { description: 'Generic webhooks (JSON over HTTPS, HMAC-signed).' })),
    slack: Type.Optional(SlackSchema),
  },
  {
    additionalProperties: false,
    description:
      'Who is told when an operation is held for approval, and of each later step. Delivered in the background: a slow or failing ' +
      'receiver never delays the data path.',
  },
);

export const RawConfigSchema = Type.Object(
  {
    data_dir: Type.Optional(
      NonEmptyString('Directory for gateway state, relative to the config file.', { default: DEFAULTS.dataDir }),
    ),
    log: Type.Optional(
      Type.Object(
        { level: Type.Optional(StringEnum(LOG_LEVELS, { description: 'Lowest level logged.', default: DEFAULTS.logLevel })) },
        { additionalProperties: false, description: 'Logging (JSON lines on stderr).' },
      ),
    ),
    identity: Type.Optional(IdentitySchema),
    listen: Type.Optional(ListenSchema),
    sql: Type.Optional(SqlSettingsSchema),
    recording: Type.Optional(RecordingSchema),
    admin: Type.Optional(AdminSchema),
    notifications: Type.Optional(NotificationsSchema),
    rules: Type.Optional(
      Type.Array(RuleSchema, {
        description:
          'Policy rules. A connection uses the rules it names in its "rules" list; a statement no rule matches gets ' +
          'the connection\'s "default". Input the parser rejects, statements of unknown kind, dynamic SQL and ' +
          'parse-relevant settings are denied by built-in guards unless an allow rule names them explicitly. ' +
          'Secret references are not resolved in rules: reasons are shown to agents.',
      }),
    ),
    masking: Type.Optional(Type.Array(MaskingProfileSchema, { description: 'Masking profiles; connections name the ones they use.' })),
    connections: Type.Optional(Type.Array(ConnectionSchema, { description: 'Targets reachable through the gateway.' })),
  },
  {
    additionalProperties: false,
    description: `Portcullis gateway configuration. ${SECRET_HINT}`,
  },
);

/** The parsed file after schema validation, before defaults, conversions and secret resolution. */
export type RawConfig = Static<typeof RawConfigSchema>;
export type RawIssuer = Static<typeof IssuerSchema>;
export type RawPostgresListener = Static<typeof PostgresListenerSchema>;
export type RawSshListener = Static<typeof SshListenerSchema>;
export type RawPostgresConnection = Static<typeof PostgresConnectionSchema>;
export type RawSshConnection = Static<typeof SshConnectionSchema>;
export type RawConnection = Static<typeof ConnectionSchema>;
export type RawAccessApproval = Static<typeof AccessApprovalSchema>;
export type RawRule = Static<typeof RuleSchema>;
export type RawDangerousFunction = Static<typeof DangerousFunctionSchema>;
export type RawAdmin = Static<typeof AdminSchema>;
export type RawNotifications = Static<typeof NotificationsSchema>;
export type RawMaskingProfile = Static<typeof MaskingProfileSchema>;
export type RawCustomDetector = Static<typeof CustomDetectorSchema>;
