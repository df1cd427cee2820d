/**
 * `portcullis config check` validates a config file and prints what it resolved to, with
 * every secret shown as where it came from, never as its value. `portcullis config schema`
 * prints the JSON Schema for editor completion.
 */
import { formatDuration } from '../config/duration.js';
import { ConfigError, formatIssue } from '../config/issues.js';
import { configJsonSchema } from '../config/json-schema.js';
import { loadConfigWithSecrets } from '../config/load.js';
import { describeSecret, secretsUnder, type SecretPaths } from '../config/secrets.js';
import { formatSize } from '../config/size.js';
import type { Config, IdentityCondition } from '../config/types.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';

const CONFIG_ENV = 'PORTCULLIS_CONFIG';

export const configCheckCommand: CliCommand = {
  name: 'config check',
  summary: 'Validate a config file and show what it resolves to (secrets hidden)',
  usage: `Usage: portcullis config check [FILE]
       portcullis config check --config FILE

Validates a Portcullis configuration file without starting anything: YAML syntax,
the schema (unknown or misspelled properties, types, ranges), and the rules between
settings (unique connection names, asymmetric token algorithms only, TLS certificate
files readable, every connection open to someone). Secret references ("\${env:NAME}",
"\${file:PATH}") and certificate files are resolved exactly as "portcullis serve"
would, so a missing environment variable is caught here too.

On success prints "FILE: OK — N connections, M issuers" and a summary of the
resolved settings, in which every secret appears as <secret from env:NAME> or
<secret from file:PATH>, never as its value. On failure prints every problem,
one per line, as FILE:LINE:COL: PATH: MESSAGE.

Options:
  -c, --config FILE   configuration file (or give FILE as the argument;
                      default: $${CONFIG_ENV})
  -h, --help          show this help

Exit status: 0 valid; 1 invalid (problems on stderr); 2 bad command line.

Examples:
  portcullis config check portcullis.yaml
  DEMO_DB_PASSWORD=secret portcullis config check --config /etc/portcullis/portcullis.yaml
  portcullis config check examples/portcullis.yaml 2>&1 | grep connections
`,
  options: { config: { type: 'string', short: 'c' } },
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    const flag = args.values['config'];
    const fromFlag = typeof flag === 'string' ? flag : undefined;
    if (args.positionals.length > 1 || (fromFlag !== undefined && args.positionals.length > 0)) {
      return usageError(io, 'give one config file, either as FILE or with --config');
    }
    const file = fromFlag ?? args.positionals[0] ?? (process.env[CONFIG_ENV] || undefined);
    if (file === undefined) return usageError(io, `no config file: give FILE, --config FILE or set ${CONFIG_ENV}`);

    try {
      const { config, secrets } = await loadConfigWithSecrets(file);
      io.out(summarize(file, config, secrets));
      return ExitCode.ok;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const count = error.issues.length;
      io.err(`${error.issues.map((issue) => formatIssue(error.file, issue)).join('\n')}\n${file}: ${count} problem${count === 1 ? '' : 's'}\n`);
      return ExitCode.failure;
    }
  },
};

export const configSchemaCommand: CliCommand = {
  name: 'config schema',
  summary: 'Print the config file JSON Schema (for editor completion)',
  usage: `Usage: portcullis config schema

Prints the JSON Schema (draft-07) of the Portcullis configuration file on stdout.
Editors use it for completion, hover documentation and validation as you type.
"portcullis config check" applies the same schema, plus the rules a schema cannot
express (unique names, readable certificate files, resolvable secrets).

Options:
  -h, --help   show this help

Exit status: 0.

Examples:
  portcullis config schema > portcullis.schema.json
  # then, first line of portcullis.yaml, for the YAML language server (VS Code, Neovim…):
  # yaml-language-server: $schema=./portcullis.schema.json
`,
  options: {},
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    if (args.positionals.length > 0) return usageError(io, `unexpected argument "${args.positionals[0]}"`, 'config schema');
    io.out(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    return ExitCode.ok;
  },
};

function usageError(io: CliIo, message: string, command = 'config check'): ExitCode {
  io.err(`portcullis ${command}: ${message}\nRun "portcullis ${command} --help" for usage.\n`);
  return ExitCode.usage;
}

/**
 * A readable account of the resolved config. Every value that may come from the file is
 * printed through `show`, which substitutes the secret's origin for anything built from a
 * secret reference, so adding a line here cannot leak one by accident.
 */
function summarize(file: string, config: Config, secrets: SecretPaths): string {
  const show = (path: string, value: string | number | boolean | readonly string[]): string => {
    const sources = secretsUnder(secrets, path);
    if (sources.length > 0) return describeSecret(sources);
    return Array.isArray(value) ? (value.length === 0 ? '(none)' : value.join(', ')) : String(value);
  };
  const { issuers } = config.identity;
  const lines = [
    `${file}: OK — ${plural(config.connections.length, 'connection')}, ${plural(issuers.length, 'issuer')}`,
    `data_dir: ${show('data_dir', config.dataDir)}`,
    `log.level: ${config.log.level}`,
  ];
  issuers.forEach((issuer, i) => {
    const at = `identity.issuers[${i}]`;
    lines.push(
      `issuer ${show(`${at}.issuer`, issuer.issuer)}`,
      `  audience: ${show(`${at}.audience`, issuer.audiences)}`,
      `  jwks_uri: ${issuer.jwksUri === undefined ? '(discovery)' : show(`${at}.jwks_uri`, issuer.jwksUri)}`,
      `  groups_claim: ${show(`${at}.groups_claim`, issuer.groupsClaim)}`,
      `  algorithms: ${issuer.algorithms.join(', ')}`,
      `  clock_skew: ${formatDuration(issuer.clockSkewMs)}, max_token_age: ${formatDuration(issuer.maxTokenAgeMs)}, strict_typ: ${issuer.strictTyp}`,
    );
  });
  const pg = config.postgres;
  if (pg === undefined) {
    lines.push('listen.postgres: (not listening)');
  } else {
    const at = 'listen.postgres';
    const host = show(`${at}.address`, pg.host.includes(':') ? `[${pg.host}]` : pg.host);
    const address = host.startsWith('<secret') ? host : `${host}:${pg.port}`;
    const plaintext = pg.tls.mode === 'require' && pg.tls.allowLoopbackPlaintext ? ', loopback plaintext allowed' : '';
    lines.push(
      `listen.postgres: ${address}`,
      `  tls: ${pg.tls.mode}${pg.tls.mode === 'disable' ? '' : ' (certificate and key loaded)'}${plaintext}`,
      `  max_message_size: ${formatSize(pg.maxMessageBytes)}, auth_timeout: ${formatDuration(pg.authTimeoutMs)}, token_expiry_grace: ${formatDuration(pg.tokenExpiryGraceMs)}`,
    );
  }
  const ssh = config.ssh;
  if (ssh === undefined) {
    lines.push('listen.ssh: (not listening)');
  } else {
    const host = show('listen.ssh.address', ssh.host.includes(':') ? `[${ssh.host}]` : ssh.host);
    lines.push(
      `listen.ssh: ${host.startsWith('<secret') ? host : `${host}:${ssh.port}`}`,
      `  host_key: ${ssh.hostKeyFile ?? '<data_dir>/ssh_host_ed25519_key (generated on first start)'}, auth_timeout: ${formatDuration(ssh.authTimeoutMs)}, token_expiry_grace: ${formatDuration(ssh.tokenExpiryGraceMs)}, output_flush: ${formatDuration(ssh.outputFlushMs)}`,
    );
  }
  const admin = config.admin;
  if (admin === undefined) {
    lines.push('admin: (no admin API)');
  } else {
    lines.push(
      `admin: ${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${admin.port}${admin.tls === undefined ? ' (plain HTTP)' : ' (TLS, certificate and key loaded)'}`,
      `  auditors: ${show('admin.auditors', admin.auditors)}; admins: ${show('admin.admins', admin.admins)}`,
    );
  }
  const notifications = config.notifications;
  if (notifications !== undefined) {
    // Names and events only: URLs may carry credentials, and secrets are never printed.
    notifications.webhooks.forEach((webhook) => lines.push(`notify webhook ${webhook.name}: events ${webhook.events.join(', ')}`));
    if (notifications.slack !== undefined) lines.push(`notify slack: channel ${notifications.slack.channel}`);
  }
  config.connections.forEach((connection, i) => {
    const at = `connections[${i}]`;
    const target = `${at}.target`;
    const secret = (key: string, value: string | undefined): string =>
      secretsUnder(secrets, `${target}.${key}`).length > 0
        ? show(`${target}.${key}`, '')
        : value === undefined
          ? '(none)'
          : '<literal in the config file; prefer ${env:NAME} or ${file:PATH}>';
    lines.push(`connection ${connection.name} (${connection.type})`);
    if (connection.type === 'postgres') {
      const t = connection.target;
      lines.push(
        `  target: host ${show(`${target}.host`, t.host)}, port ${t.port}, database ${show(`${target}.database`, t.database)}, user ${show(`${target}.user`, t.user)}`,
        `  password: ${secret('password', t.password)}`,
        `  tls: ${t.tls}${t.ca === undefined ? '' : ' (CA bundle loaded)'}, connect_timeout: ${formatDuration(t.connectTimeoutMs)}`,
      );
    } else {
      const t = connection.target;
      lines.push(
        `  target: host ${show(`${target}.host`, t.host)}, port ${t.port}, user ${show(`${target}.user`, t.user)}`,
        `  private_key: ${secret('private_key', t.privateKey)}; password: ${secret('password', t.password)}`,
        `  host_key: ${t.hostKeys.join(', ')}, connect_timeout: ${formatDuration(t.connectTimeoutMs)}`,
      );
    }
    lines.push(
      `  access: groups ${show(`${at}.access.groups`, connection.access.groups)}; subjects ${show(`${at}.access.subjects`, connection.access.subjects)}; clients ${show(`${at}.access.clients`, connection.access.clients)}`,
    );
    const gate = connection.access.requireApproval;
    if (gate !== undefined) {
      lines.push(
        `  require_approval: approvers ${gate.approvers.join(', ')}, min_approvals ${gate.minApprovals}, timeout ${formatDuration(gate.timeoutMs)}, max_duration ${formatDuration(gate.maxDurationMs)}`,
      );
    }
     if (connection.masking.length > 0) lines.push(`  masking: ${connection.masking.map((p) => p.name).join(', ')}`);
    if (connection.recordResultRows > 0) lines.push(`  record: first ${connection.recordResultRows} result rows of each statement (masked)`);
  });
  // Detector and column names only: the hash key is a secret and is never printed.
  for (const profile of config.masking) {
    const who = profile.for === undefined ? 'everyone' : describeWho(profile.for);
    lines.push(
      `masking profile ${profile.name}: for ${who}; detectors ${profile.detectors.length === 0 ? '(none)' : profile.detectors.join(', ')}; strategy ${profile.strategy}`,
      `  columns: ${profile.columns.length === 0 ? '(none)' : profile.columns.map((c) => `${c.pattern} ${c.strategy}`).join(', ')}`,
      `  expressions: ${profile.expressions}, deny_predicates: ${profile.denyPredicates}${profile.hashKey === undefined ? '' : `, hash_key: ${show(`masking[${config.masking.indexOf(profile)}].hash_key`, '')}`}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function describeWho(c: IdentityCondition): string {
  const parts = [
    c.groups === undefined ? undefined : `groups ${c.groups.join(', ')}`,
    c.subjects === undefined ? undefined : `subjects ${c.subjects.join(', ')}`,
    c.clients === undefined ? undefined : `clients ${c.clients.join(', ')}`,
  ].filter((p) => p !== undefined);
  return parts.join(' and ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
