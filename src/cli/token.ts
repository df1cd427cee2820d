/**
 * `portcullis token`: obtains an access token for an agent and prints only the token,
 * so it can be captured by a shell: `PGPASSWORD=$(portcullis token …)`.
 */
import { fetchAccessToken, TokenRequestError } from '../identity/token-client.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';

const SECRET_ENV = 'PORTCULLIS_CLIENT_SECRET';

const usage = `Usage: portcullis token --issuer URL --client-id ID [--client-secret SECRET]
                        [--audience URI] [--scope "S1 S2"]

Obtains an access token from an OIDC issuer with the OAuth 2.0 client_credentials
grant (client_secret_basic) and prints it, alone, on stdout. Errors go to stderr.

Options:
  --issuer URL            The issuer, exactly as in the tokens' iss claim. Discovery is
                          read from URL/.well-known/openid-configuration (for Okta:
                          https://YOUR-ORG.okta.com/oauth2/default)
  --client-id ID          OAuth client id
  --client-secret SECRET  OAuth client secret. Prefer the ${SECRET_ENV}
                          environment variable: command lines are visible to other
                          local users
  --audience URI          Sent as the resource indicator (RFC 8707); must be an
                          absolute URI. Omit it to get the issuer's default audience
  --scope "S1 S2"         Space-separated scopes to request

Environment:
  ${SECRET_ENV}   The client secret, used when --client-secret is absent

Exit status: 0 token printed; 1 the issuer refused or answered nonsense;
2 bad command line; 3 the issuer could not be reached.

Examples:
  export ${SECRET_ENV}=agent-secret
  PGPASSWORD=$(portcullis token --issuer http://127.0.0.1:9000 --client-id agent) \\
      psql -h GATEWAY-HOST prod-db
  portcullis token --issuer https://example.okta.com/oauth2/default \\
      --client-id 0oa1b2c3 --scope "db:read"
`;

export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'Obtain an access token from an OIDC issuer (client_credentials)',
  usage,
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    audience: { type: 'string' },
    scope: { type: 'string' },
  },
  async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
    const issuer = stringValue(args.values['issuer']);
    const clientId = stringValue(args.values['client-id']);
    const clientSecret = stringValue(args.values['client-secret']) ?? (process.env[SECRET_ENV] || undefined);
    const missing = [
      issuer ? undefined : '--issuer',
      clientId ? undefined : '--client-id',
      clientSecret ? undefined : `--client-secret (or ${SECRET_ENV})`,
    ].filter((m): m is string => m !== undefined);
    if (missing.length || !issuer || !clientId || !clientSecret) {
      return usageError(io, `missing ${missing.join(', ')}`);
    }
    if (args.positionals.length) return usageError(io, `unexpected argument "${args.positionals[0]}"`);

    try {
      const { accessToken } = await fetchAccessToken({
        issuer,
        clientId,
        clientSecret,
        audience: stringValue(args.values['audience']),
        scope: stringValue(args.values['scope']),
        fetch: (input, init) => fetch(input, { ...init, signal: anySignal(init?.signal, signal) }),
      });
      io.out(`${accessToken}\n`);
      return ExitCode.ok;
    } catch (err) {
      if (!(err instanceof TokenRequestError)) throw err;
      if (err.failure === 'input') return usageError(io, err.message);
      io.err(`portcullis token: ${err.message}\n`);
      return err.failure === 'unreachable' ? ExitCode.unavailable : ExitCode.failure;
    }
  },
};

function usageError(io: CliIo, message: string): ExitCode {
  io.err(`portcullis token: ${message}\nRun "portcullis token --help" for usage.\n`);
  return ExitCode.usage;
}

/** Stopping the command (Ctrl-C) also abandons an in-flight request. */
function anySignal(own: AbortSignal | null | undefined, stop: AbortSignal): AbortSignal {
  return own ? AbortSignal.any([own, stop]) : stop;
}

function stringValue(value: CliArgs['values'][string]): string | undefined {
  if (Array.isArray(value)) return stringValue(value[value.length - 1]);
  return typeof value === 'string' && value !== '' ? value : undefined;
}
