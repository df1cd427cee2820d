/**
 * TLS on both sides of the gateway and every password method PostgreSQL speaks to it:
 * client → gateway (listener TLS modes), gateway → target (upstream TLS modes and
 * scram-sha-256 / md5 / password / trust roles).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresAuthMethod } from '../../src/demo/embedded-postgres.js';
import {
  AGENT_DB_PASSWORD,
  demoConnection,
  startStack,
  startTargetPostgres,
  type Stack,
  type StartedPostgres,
} from '../support/stack.js';
import {
  fe,
  RawClient,
} from '../support/raw-client.js';

interface Cert {
  readonly cert: string;
  readonly key: string;
}

function selfSigned(dir: string, name: string): Cert {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days', '1', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

type ConnectError = Error & { code?: string; severity?: string };

async function connectError(config: pg.ClientConfig): Promise<ConnectError | undefined> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  return client.connect().then(
    async () => {
      await client.end();
      return undefined;
    },
    (e: ConnectError) => e,
  );
}

async function queryOne<R extends pg.QueryResultRow>(config: pg.ClientConfig, sql: string): Promise<R> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows[0]!;
  } finally {
    await client.end();
  }
}

let target: StartedPostgres;
let certDir: string;
let gatewayCert: Cert;
let strangerCert: Cert;

beforeAll(async () => {
  certDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-tls-test-'));
  gatewayCert = selfSigned(certDir, 'gateway');
  strangerCert = selfSigned(certDir, 'stranger');
  target = await startTargetPostgres();
});

afterAll(async () => {
  await target?.pg.stop();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

describe('client-side TLS on the listener', () => {
  let strict: Stack;
  let lenient: Stack;
  let token: string;

  beforeAll(async () => {
    const tlsListener = (allowLoopbackPlaintext: boolean) => ({
      tls: { mode: 'require' as const, cert: gatewayCert.cert, key: gatewayCert.key, allowLoopbackPlaintext },
    });
    strict = await startStack({ postgres: target, listener: tlsListener(false) });
    lenient = await startStack({ postgres: target, listener: tlsListener(true) });
    token = await strict.token();
  });
  afterAll(async () => {
    await strict?.close();
    await lenient?.close();
  });

  it('refuses plaintext with a FATAL telling the client to use sslmode=require', async () => {
    const err = await connectError({ ...strict.clientConfig(token), ssl: false });
    expect(err?.severity).toBe('FATAL');
    expect(err?.code).toBe('28000');
    expect(err?.message).toMatch(/TLS is required: reconnect with sslmode=require/);
  });

  it('refuses plaintext before asking for the token (the token is never sent in cleartext)', async () => {
    const c = await RawClient.open(strict.port);
    c.sendRaw(fe.startup({ user: 'agent', database: 'demo' }));
    const first = await c.readMessage();
    expect(first.type).toBe('E'); // not 'R': no password request over plaintext
    expect(await c.waitClosed(3000)).toBe(true);
  });

  it('serves node-postgres over TLS without verification (sslmode=require)', async () => {
    const row = await queryOne<{ u: string }>({ ...strict.clientConfig(token), ssl: { rejectUnauthorized: false } }, 'SELECT current_user AS u');
    expect(row.u).toBe('agent_rw');
  });

  it('serves node-postgres verifying the certificate and server name (sslmode=verify-full)', async () => {
    const config = { ...strict.clientConfig(token), ssl: { ca: gatewayCert.cert, servername: 'localhost', rejectUnauthorized: true } };
    const row = await queryOne<{ n: number }>(config, 'SELECT 1 AS n');
    expect(row.n).toBe(1);
    // The verification is real: another CA is not accepted.
    const err = await connectError({ ...config, ssl: { ca: strangerCert.cert, servername: 'localhost' } });
    expect(err?.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('presents the configured certificate and speaks the protocol inside TLS', async () => {
    const c = await RawClient.open(strict.port);
    c.sendRaw(fe.sslRequest());
    expect((await c.readBytes(1)).toString()).toBe('S');
    await c.startTls({ ca: gatewayCert.cert, servername: 'localhost', rejectUnauthorized: true });
    const peer = (c.socket as tls.TLSSocket).getPeerCertificate();
    expect(peer.subject.CN).toBe('localhost');
    await c.authenticate({ password: token, database: 'demo' });
    c.sendRaw(fe.query('SELECT 1'));
    expect((await c.readUntilReadyForQuery()).map((m) => m.type)).toEqual(['T', 'D', 'C', 'Z']);
    c.destroy();
  });

  it('accepts plaintext from loopback when allowLoopbackPlaintext is true', async () => {
    const row = await queryOne<{ u: string }>({ ...lenient.clientConfig(await lenient.token()), ssl: false }, 'SELECT current_user AS u');
    expect(row.u).toBe('agent_rw');
  });
});

describe('upstream password methods', () => {
  const roles: Array<{ role: string; method: PostgresAuthMethod; password: string }> = [
    { role: 'role_scram', method: 'scram-sha-256', password: 'scram-secret-1' },
    { role: 'role_md5', method: 'md5', password: 'md5-secret-2' },
    { role: 'role_cleartext', method: 'password', password: 'cleartext-secret-3' },
    { role: 'role_trust', method: 'trust', password: 'unused-secret-4' },
  ];
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    for (const r of roles) await target.pg.createRole(r.role, r.password, r.method);
    stack = await startStack({
      postgres: target,
      connections: (p) =>
        roles.map((r) =>
          demoConnection(p, {
            name: r.role,
            target: p.target({ user: r.role, password: r.method === 'trust' ? undefined : r.password }),
          }),
        ),
    });
    token = await stack.token();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['role_scram', 'scram-sha-256:role_scram'],
    ['role_md5', 'md5:role_md5'],
    ['role_cleartext', 'password:role_cleartext'],
    ['role_trust', null],
  ])('authenticates to the target as %s with the stored credentials', async (role, systemUser) => {
    // system_user records how the target authenticated this backend (NULL for trust).
    const row = await queryOne<{ u: string; s: string | null }>(
      stack.clientConfig(token, role),
      'SELECT current_user AS u, system_user AS s',
    );
    expect(row.u).toBe(role);
    expect(row.s).toBe(systemUser);
  });
});

describe('upstream TLS modes', () => {
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    const ca = target.pg.caCertPem;
    expect(ca).toBeTruthy();
    stack = await startStack({
      postgres: target,
      connections: (p) => [
        demoConnection(p, { name: 'up_disable', target: p.target({ tls: 'disable' }) }),
        demoConnection(p, { name: 'up_prefer', target: p.target({ tls: 'prefer' }) }),
        demoConnection(p, { name: 'up_require', target: p.target({ tls: 'require' }) }),
        demoConnection(p, { name: 'up_verify_ip', target: p.target({ tls: 'verify-full', ca }) }),
        demoConnection(p, { name: 'up_verify_name', target: p.target({ tls: 'verify-full', ca, host: 'localhost' }) }),
        demoConnection(p, { name: 'up_wrong_ca', target: p.target({ tls: 'verify-full', ca: strangerCert.cert }) }),
      ],
    });
    token = await stack.token();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['up_disable', false],
    ['up_prefer', true],
    ['up_require', true],
    ['up_verify_ip', true],
    ['up_verify_name', true],
  ])('%s: the target backend sees ssl = %s', async (name, ssl) => {
    const row = await queryOne<{ ssl: boolean; u: string }>(
      stack.clientConfig(token, name),
      'SELECT ssl, current_user AS u FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(row).toEqual({ ssl, u: 'agent_rw' });
  });

  it('verify-full with a CA that did not sign the target certificate fails with FATAL 08001 about TLS, revealing no secrets', async () => {
    const err = await connectError(stack.clientConfig(token, 'up_wrong_ca'));
    expect(err?.severity).toBe('FATAL');
    expect(err?.code).toBe('08001');
    expect(err?.message).toMatch(/could not connect to the target of connection "up_wrong_ca"/);
    expect(err?.message).toMatch(/TLS/);
    expect(err?.message).not.toContain(AGENT_DB_PASSWORD);
    expect(err?.message).not.toContain('agent_rw');
    expect(err?.message).not.toContain(token);
  });
});
