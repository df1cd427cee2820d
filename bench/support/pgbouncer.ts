/**
 * PgBouncer in session mode in front of the benchmark database, as the baseline a
 * connection-level proxy is compared against. Optional: only when `pgbouncer` is on PATH.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, run, Service, waitForPort } from './process.js';

export interface PgbouncerOptions {
  readonly dir: string;
  readonly upstreamPort: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly poolSize: number;
  /** OS user PgBouncer drops to when started as root (it refuses to run as root). */
  readonly runAs: { uid: number; gid: number; name: string } | undefined;
}

export interface Pgbouncer {
  readonly port: number;
  readonly version: string;
  /** The generated pgbouncer.ini (no secrets: they live in the userlist file). */
  readonly ini: string;
  readonly command: string;
  readonly service: Service;
}

export async function pgbouncerVersion(): Promise<string | undefined> {
  try {
    const result = await run('pgbouncer', ['--version']);
    return result.code === 0 ? result.stdout.split('\n')[0]?.trim() : undefined;
  } catch {
    return undefined; // not installed
  }
}

export async function startPgbouncer(options: PgbouncerOptions): Promise<Pgbouncer> {
  const version = await pgbouncerVersion();
  if (!version) throw new Error('pgbouncer is not on PATH');
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const userlist = path.join(dir, 'userlist.txt');
  const iniFile = path.join(dir, 'pgbouncer.ini');
  const ini = [
    '[databases]',
    `${options.database} = host=127.0.0.1 port=${options.upstreamPort} dbname=${options.database}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${userlist}`,
    'pool_mode = session',
    `default_pool_size = ${options.poolSize}`,
    `max_client_conn = ${Math.max(100, options.poolSize * 2)}`,
    `max_db_connections = ${options.poolSize * 2}`,
    'ignore_startup_parameters = extra_float_digits',
    'log_connections = 0',
    'log_disconnections = 0',
    'log_pooler_errors = 1',
    'stats_period = 3600',
    ...(options.runAs ? [`user = ${options.runAs.name}`] : []),
    '',
  ].join('\n');
  // A plaintext userlist entry lets PgBouncer do SCRAM both to the client and to the server.
  writeFileSync(userlist, `"${options.user}" "${options.password}"\n`, { mode: 0o600 });
  writeFileSync(iniFile, ini, { mode: 0o644 });
  if (options.runAs) {
    chmodSync(dir, 0o755);
    for (const f of [dir, userlist, iniFile]) chownSync(f, options.runAs.uid, options.runAs.gid);
  }
  const service = new Service('pgbouncer', 'pgbouncer', [iniFile]);
  await waitForPort(port, service);
  return { port, version, ini, command: `pgbouncer ${iniFile}`, service };
}
