/**
 * `portcullis dev-idp`: runs the development OpenID provider in the foreground so an
 * agent can get real tokens without an Okta tenant.
 */
import { DEV_IDP_SCOPES, startDevIdp, type DevClient, type DevIdp } from '../identity/dev-idp.js';
import { createLogger } from '../log.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';

const DEFAULT_CLIENT = 'agent:agent-secret:agents';

const usage = `Usage: portcullis dev-idp [options]

Runs a development OpenID provider (oidc-provider) that issues short-lived RS256 JWT
access tokens with the OAuth 2.0 client_credentials grant. Tokens carry sub and
client_id (the client id), scope, aud (the audience) and the client's groups in the
"groups" claim. Signing keys are generated at start: restarting invalidates tokens.
Scopes a client may request: ${DEV_IDP_SCOPES.join(' ')}.
For development and demos only: clients and secrets come from the command line.

Options:
  --port N                   Port to listen on (default 9000; 0 picks a free one)
  --host HOST                Interface to bind (default 127.0.0.1)
  --audience AUD             The aud claim of issued tokens (default portcullis)
  --ttl SECONDS              Access token lifetime, 1–86400 (default 600)
  --client ID:SECRET[:GROUP,GROUP...]
                             A client that may obtain tokens; repeatable. The secret
                             cannot contain ":". Default: ${DEFAULT_CLIENT}

Runs until interrupted (Ctrl-C). On start it prints the issuer URL and, for each
client, the command that obtains a token.

Examples:
  portcullis dev-idp
  portcullis dev-idp --port 9100 --ttl 300 \\
      --client ci-bot:s3cret:agents,readers --client admin-bot:0ther:dba
  # in another shell, with the default client:
  TOKEN=$(portcullis token --issuer http://127.0.0.1:9000 \\
      --client-id agent --client-secret agent-secret)
`;

export const devIdpCommand: CliCommand = {
  name: 'dev-idp',
  summary: 'Run a development OpenID provider that issues agent tokens',
  usage,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    audience: { type: 'string' },
    ttl: { type: 'string' },
    client: { type: 'string', multiple: true },
  },
  async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
    const parsed = parseArgs(args);
    if (typeof parsed === 'string') {
      io.err(`portcullis dev-idp: ${parsed}\nRun "portcullis dev-idp --help" for usage.\n`);
      return ExitCode.usage;
    }
    if (signal.aborted) return ExitCode.ok;

    let idp: DevIdp;
    try {
      const logger = createLogger('info', { component: 'dev-idp' }, (line) => io.err(`${line}\n`));
      idp = await startDevIdp({ ...parsed, logger });
    } catch (err) {
      io.err(`portcullis dev-idp: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
      return ExitCode.unavailable;
    }

    io.out(`Dev IdP issuer: ${idp.issuer}\n`);
    io.out(`Tokens: aud=${parsed.audience}, lifetime ${parsed.accessTokenTtlSeconds}s, RS256 (key generated at start)\n`);
    for (const client of parsed.clients) {
      const groups = client.groups.length ? client.groups.join(',') : '(none)';
      io.out(`\nClient ${client.clientId} (groups: ${groups}) gets a token with:\n  ${tokenCommandFor(idp.issuer, client)}\n`);
    }

    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await idp.close();
    return ExitCode.ok;
  },
};

interface ParsedArgs {
  host: string;
  port: number;
  audience: string;
  accessTokenTtlSeconds: number;
  clients: DevClient[];
}

/** Returns the options, or a message saying what is wrong with the command line. */
function parseArgs(args: CliArgs): ParsedArgs | string {
  const port = parseInteger(args.values['port'], 9000);
  if (port === undefined || port > 65535) return '--port must be a number from 0 to 65535';
  const ttl = parseInteger(args.values['ttl'], 600);
  if (ttl === undefined || ttl < 1 || ttl > 86_400) return '--ttl must be a number of seconds from 1 to 86400';
  const host = stringValue(args.values['host']) ?? '127.0.0.1';
  const audience = stringValue(args.values['audience']) ?? 'portcullis';
  if (!host || !audience) return '--host and --audience must not be empty';
  if (args.positionals.length) return `unexpected argument "${args.positionals[0]}"`;

  const specs = listValue(args.values['client']);
  const clients: DevClient[] = [];
  for (const spec of specs.length ? specs : [DEFAULT_CLIENT]) {
    const client = parseClient(spec);
    if (typeof client === 'string') return client;
    if (clients.some((c) => c.clientId === client.clientId)) return `--client "${client.clientId}" is given twice`;
    clients.push(client);
  }
  return { host, port, audience, accessTokenTtlSeconds: ttl, clients };
}

function parseClient(spec: string): DevClient | string {
  const parts = spec.split(':');
  const [clientId, clientSecret, groupList] = parts;
  const problem = `--client "${spec.split(':')[0]}:…" must look like ID:SECRET or ID:SECRET:GROUP,GROUP`;
  if (parts.length < 2 || parts.length > 3 || !clientId || !clientSecret) return problem;
  const groups = groupList === undefined ? [] : groupList.split(',');
  if (groups.some((g) => g.trim() === '')) return `${problem} (empty group name)`;
  return { clientId, clientSecret, groups: groups.map((g) => g.trim()) };
}

/** The exact command to paste, quoted for a POSIX shell. */
function tokenCommandFor(issuer: string, client: DevClient): string {
  return ['portcullis', 'token', '--issuer', issuer, '--client-id', client.clientId, '--client-secret', client.clientSecret]
    .map(shellQuote)
    .join(' ');
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function parseInteger(value: CliArgs['values'][string], fallback: number): number | undefined {
  const text = stringValue(value);
  if (text === undefined) return fallback;
  return /^\d{1,6}$/.test(text) ? Number(text) : undefined;
}

function stringValue(value: CliArgs['values'][string]): string | undefined {
  if (Array.isArray(value)) return stringValue(value[value.length - 1]);
  return typeof value === 'string' ? value : undefined;
}

function listValue(value: CliArgs['values'][string]): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}
