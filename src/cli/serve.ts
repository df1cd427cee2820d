import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/issues.js';
import { createLogger } from '../log.js';
import { startGateway } from '../server/gateway.js';
import { ExitCode, untilAborted, type CliCommand } from './command.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the gateway with a config file',
  usage: `Usage: portcullis serve --config FILE

Runs the Portcullis gateway: validates FILE, resolves its secret references, then
listens for agents on every configured front door until SIGINT/SIGTERM, when open
sessions are told the gateway is shutting down and closed cleanly.

With an "admin:" section it also serves HTTP on admin.listen (own port):
  GET /api/sessions, /api/sessions/ID, /api/sessions/ID/events, /api/audit/verify
      need "Authorization: Bearer <OIDC access token>" whose groups include one of
      admin.auditors or admin.admins (401/403 with a JSON error otherwise);
  GET /healthz, /readyz, /metrics (Prometheus) need no token.

Options:
  -c, --config FILE   configuration file (default: $PORTCULLIS_CONFIG)
  -h, --help          show this help

Exit codes: 0 stopped cleanly, 1 invalid configuration, 2 bad command line,
3 a listener (front door or admin API) could not be started (e.g. port in
use).

Examples:
  portcullis serve --config examples/portcullis.yaml
  curl -H "Authorization: Bearer $(portcullis token --issuer http://127.0.0.1:9000 \\
         --client-id auditor --client-secret auditor-secret)" \\
       'http://127.0.0.1:6480/api/sessions?decision=deny&limit=20'`,
  options: { config: { type: 'string', short: 'c' } },
  async run(args, io, signal) {
    const file = (args.values.config as string | undefined) ?? process.env.PORTCULLIS_CONFIG;
    if (!file) {
      io.err('portcullis serve: --config FILE is required (or set PORTCULLIS_CONFIG)');
      return ExitCode.usage;
    }
    let config;
    try {
      config = await loadConfig(file);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.err(err.message);
        return ExitCode.failure;
      }
      throw err;
    }
    const logger = createLogger(config.log.level);
    let gateway;
    try {
      gateway = await startGateway(config, logger);
    } catch (err) {
      logger.error('gateway failed to start', { error: err });
      return ExitCode.unavailable;
    }
    await untilAborted(signal);
    await gateway.close();
    return ExitCode.ok;
  },
};
