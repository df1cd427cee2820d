/**
 * A real stack for integration tests: embedded PostgreSQL (SCRAM, TLS on), the dev
 * OIDC issuer and the gateway, each on an ephemeral loopback port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { AdminConfig, Config, ConnectionConfig, IssuerConfig, PostgresConnectionConfig, PostgresListenerConfig, PostgresTarget, RecordingSettings } from '../../src/config/types.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/demo/embedded-postgres.js';
import { seedDemoDatabase } from '../../src/demo/seed.js';
import { startDevIdp, type DevClient, type DevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { silentLogger, createLogger } from '../../src/log.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';

export const AGENT: DevClient = { clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] };
export const OUTSIDER: DevClient = { clientId: 'outsider', clientSecret: 'outsider-secret', groups: ['contractors'] };
/** Two members of `approvers` (rules' review.approvers in tests), for 2-of-N approvals, and an auditor. */
export const APPROVER: DevClient = { clientId: 'approver', clientSecret: 'approver-secret', groups: ['approvers'] };
export const APPROVER_2: DevClient = { clientId: 'approver-2', clientSecret: 'approver-2-secret', groups: ['approvers'] };
export const AUDITOR: DevClient = { clientId: 'auditor', clientSecret: 'auditor-secret', groups: ['auditors'] };
export const AGENT_DB_PASSWORD = 'agent-db-password-not-for-agents';

export function issuerConfig(issuer: string, overrides: Partial<IssuerConfig> = {}): IssuerConfig {
  return {
    issuer,
    audiences: ['portcullis'],
    jwksUri: undefined,
    groupsClaim: 'groups',
    algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
    clockSkewMs: 60_000,
    maxTokenAgeMs: 3_600_000,
    strictTyp: false,
    ...overrides,
  };
}

export function listenerConfig(overrides: Partial<PostgresListenerConfig> = {}): PostgresListenerConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    tls: { mode: 'disable', cert: undefined, key: undefined, allowLoopbackPlaintext: true },
    maxMessageBytes: 1 << 20,
    tokenExpiryGraceMs: 0,
    authTimeoutMs: 10_000,
    ...overrides,
  };
}

export interface StartedPostgres {
  readonly pg: EmbeddedPostgres;
  target(overrides?: Partial<PostgresTarget>): PostgresTarget;
}

/** Embedded PostgreSQL with TLS on and the seeded demo database `app`. */
export async function startTargetPostgres(): Promise<StartedPostgres> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-it-pg-'));
  const pgServer = await startEmbeddedPostgres({ dataDir, port: 0, ssl: true, persistent: false });
  await seedDemoDatabase(pgServer, { database: 'app', agentRole: 'agent_rw', agentPassword: AGENT_DB_PASSWORD });
  return {
    pg: pgServer,
    target: (overrides = {}) => ({
      host: '127.0.0.1',
      port: pgServer.port,
      database: 'app',
      user: 'agent_rw',
      password: AGENT_DB_PASSWORD,
      tls: 'disable',
      ca: undefined,
      connectTimeoutMs: 5_000,
      ...overrides,
    }),
  };
}

export interface Stack {
  readonly postgres: StartedPostgres;
  readonly idp: DevIdp;
  readonly gateway: Gateway;
  readonly port: number;
  /** The gateway's data directory (recordings). */
  readonly dataDir: string;
  token(client?: DevClient): Promise<string>;
  /** node-postgres client config for connection `database` with the given token. */
  clientConfig(password: string, database?: string): pg.ClientConfig;
  /** A connected node-postgres client as the agent. */
  connect(database?: string): Promise<pg.Client>;
  /** Stops the gateway cleanly and starts it again on the same port and data directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  readonly postgres?: StartedPostgres;
  readonly listener?: Partial<PostgresListenerConfig>;
  readonly connections?: (postgres: StartedPostgres) => ConnectionConfig[];
  readonly extraIssuers?: readonly IssuerConfig[];
  readonly debugLogs?: boolean;
  /** Also serve the admin API (on 127.0.0.1, a free port unless given; groups `auditors` and `portcullis-admins` unless given). */
  readonly admin?: Partial<AdminConfig>;
  /** Recording settings over the defaults (durability `process`, writer `thread`). */
  readonly recording?: Partial<RecordingSettings>;
  /** The gateway's data directory (default: a new temp dir). */
  readonly dataDir?: string;
}

export function demoConnection(postgres: StartedPostgres, overrides: Partial<PostgresConnectionConfig> = {}): PostgresConnectionConfig {
  return {
    name: 'demo',
    type: 'postgres',
    target: postgres.target(),
    access: { groups: ['agents'], subjects: [], clients: [] },
    // Relay tests exercise the protocol, not policy: every statement is allowed.
    rules: [],
    defaultEffect: 'allow',
    masking: [],
    recordResultRows: 0,
    ...overrides,
  };
}

export function adminConfig(overrides: Partial<AdminConfig> = {}): AdminConfig {
  return { host: '127.0.0.1', port: 0, tls: undefined, auditors: ['auditors'], admins: ['portcullis-admins'], ...overrides };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ownsPostgres = !options.postgres;
  const postgres = options.postgres ?? (await startTargetPostgres());
  const idp = await startDevIdp({ port: 0, clients: [AGENT, OUTSIDER, APPROVER, APPROVER_2, AUDITOR], audience: 'portcullis' });
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'portcullis-it-data-'));
  const config: Config = {
    file: '<test>',
    dataDir,
    log: { level: 'debug' },
    identity: { issuers: [issuerConfig(idp.issuer), ...(options.extraIssuers ?? [])] },
    postgres: listenerConfig(options.listener),
    sql: { extraDangerousFunctions: [] },
    recording: { durability: 'process', writer: 'thread', ...options.recording },
    rules: [],
    masking: [],
    connections: options.connections ? options.connections(postgres) : [demoConnection(postgres)],
    ...(options.admin ? { admin: adminConfig(options.admin) } : {}),
  };
  const logger = options.debugLogs ? createLogger('debug') : silentLogger;
  let gateway = await startGateway(config, logger);
  const port = gateway.postgres!.port;
  const token = async (client: DevClient = AGENT): Promise<string> =>
    (await fetchAccessToken({ issuer: idp.issuer, clientId: client.clientId, clientSecret: client.clientSecret })).accessToken;
  const clientConfig = (password: string, database = 'demo'): pg.ClientConfig => ({
    host: '127.0.0.1',
    port,
    database,
    user: 'agent',
    password,
  });
  return {
    postgres,
    idp,
    get gateway() {
      return gateway;
    },
    port,
    dataDir,
    token,
    clientConfig,
    async connect(database = 'demo') {
      const client = new pg.Client(clientConfig(await token(), database));
      await client.connect();
      return client;
    },
    async restart() {
      await gateway.close();
      const admin = config.admin && gateway.admin ? { admin: { ...config.admin, port: gateway.admin.port } } : {};
      gateway = await startGateway({ ...config, postgres: { ...config.postgres!, port }, ...admin }, logger);
    },
    async close() {
      await gateway.close();
      await idp.close();
      if (ownsPostgres) await postgres.pg.stop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
