/**
 * The schema of the YAML file as users write it (snake_case, durations and sizes as text,
 * file paths, secret references). One TypeBox definition gives both the JSON Schema that
 * validates the file (and drives editor completion) and the static type of the parsed
 * document. `additionalProperties: false` everywhere so a typo is an error, not a silently
 * ignored setting.
 */
import { Type, type SchemaOptions, type Static } from '@sinclair/typebox';
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
} as const;

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

function Size(description: string, defaultValue: string) {
  return Type.Union([Type.String({ pattern: SIZE_PATTERN }), Type.Integer({ minimum: 0 })], {
    title: 'Size',
    description: `${description} A size such as ${SIZE_EXAMPLES}.`,
    default: defaultValue,
  });
}

const NonEmptyString = (description: string, options: SchemaOptions = {}) =>
  Type.String({ minLength: 1, description, ...options });

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

const ListenSchema = Type.Object(
  { postgres: Type.Optional(PostgresListenerSchema) },
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

const AccessSchema = Type.Object(
  {
    groups: Type.Optional(Type.Array(NonEmptyString('A group name.'), { description: 'Callers in any of these groups (from the issuer\'s groups claim).' })),
    subjects: Type.Optional(Type.Array(NonEmptyString('A "sub" value.'), { description: 'Callers with any of these "sub" claims.' })),
    clients: Type.Optional(
      Type.Array(NonEmptyString('A client id.'), { description: 'Callers whose token was issued to any of these client ids ("client_id", or "cid" on Okta).' }),
    ),
  },
  { additionalProperties: false, description: 'Who may open this connection at all; at least one entry is required.' },
);

const ConnectionSchema = Type.Object(
  {
    name: Type.String({
      pattern: CONNECTION_NAME_PATTERN,
      description: 'Unique name: lowercase letters, digits, "_" and "-", up to 63 characters. Agents use it as the database name.',
    }),
    type: Type.Literal('postgres', { description: 'Protocol of the target.' }),
    target: PostgresTargetSchema,
    access: Type.Optional(AccessSchema),
  },
  { additionalProperties: false, description: 'A target agents may reach through the gateway.' },
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
export type RawConnection = Static<typeof ConnectionSchema>;
