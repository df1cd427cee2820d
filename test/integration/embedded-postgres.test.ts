import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres, type PostgresAuthMethod } from '../../src/demo/embedded-postgres.js';
import { seedDemoDatabase } from '../../src/demo/seed.js';
import { createScramClient, md5Password, md5PasswordHash } from '../../src/protocols/postgres/scram.js';

const ROLES: Array<[string, PostgresAuthMethod]> = [
  ['u_scram', 'scram-sha-256'],
  ['u_md5', 'md5'],
  ['u_password', 'password'],
  ['u_trust', 'trust'],
];
const passwordOf = (role: string): string => `pw-${role}-Secret!`;
// NFKC and SASLprep mapping change this password; PostgreSQL hashed the prepared form.
const UTF8_ROLE = 'u_scram_utf8';
const UTF8_PASSWORD = 'ｐäss\u00adwörd\u2168';

let base: string;
const started: EmbeddedPostgres[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'portcullis-pg-'));
  // mkdtemp makes 0700 dirs; as root, PostgreSQL runs as OS user postgres and must get through.
  await chmod(base, 0o755);
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await rm(base, { recursive: true, force: true });
});

async function start(options: Omit<Parameters<typeof startEmbeddedPostgres>[0], 'dataDir'> & { dataDir?: string }) {
  const t0 = performance.now();
  const server = await startEmbeddedPostgres({ dataDir: path.join(base, 'data'), ...options });
  started.push(server);
  return { server, ms: Math.round(performance.now() - t0) };
}

async function connect(server: EmbeddedPostgres, user: string, password: string, ssl: pg.ClientConfig['ssl']) {
  const client = new pg.Client({ host: server.host, port: server.port, user, password, database: 'postgres', ssl });
  await client.connect();
  try {
    const { rows } = await client.query<{ one: number; ssl: boolean }>(
      'SELECT 1 AS one, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres (ssl, per-role auth methods)', () => {
  let server: EmbeddedPostgres;

  beforeAll(async () => {
    const { server: s, ms } = await start({ ssl: true, persistent: false });
    server = s;
    console.info(`startEmbeddedPostgres (fresh cluster, ssl) took ${ms} ms`);
    const t0 = performance.now();
    for (const [role, method] of ROLES) await server.createRole(role, passwordOf(role), method);
    await server.createRole(UTF8_ROLE, UTF8_PASSWORD, 'scram-sha-256');
    console.info(`5 × createRole took ${Math.round(performance.now() - t0)} ms`);
  });

  it('listens on 127.0.0.1 only and has a CA for verify-full', async () => {
    expect(server.host).toBe('127.0.0.1');
    const [settings] = await server.query<{ listen: string; sockets: string; ssl: string }>(
      "SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets, current_setting('ssl') AS ssl",
    );
    expect(settings).toEqual({ listen: '127.0.0.1', sockets: '', ssl: 'on' });
    expect(server.caCertPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // Real verification: our CA, and the cert names 127.0.0.1 and localhost.
    const viaIp = await connect(server, 'u_scram', passwordOf('u_scram'), { ca: server.caCertPem });
    expect(viaIp?.ssl).toBe(true);
    const client = new pg.Client({ host: 'localhost', port: server.port, user: 'u_scram', password: passwordOf('u_scram'), database: 'postgres', ssl: { ca: server.caCertPem } });
    await client.connect();
    await client.end();
  });

  it.each(ROLES)('%s (%s) connects over TLS and in plain', async (role) => {
    expect(await connect(server, role, passwordOf(role), { rejectUnauthorized: false })).toEqual({ one: 1, ssl: true });
    expect(await connect(server, role, passwordOf(role), false)).toEqual({ one: 1, ssl: false });
  });

  it('refuses a wrong password, and a role unknown to pg_hba falls to the scram default', async () => {
    await expect(connect(server, 'u_scram', 'wrong', false)).rejects.toMatchObject({ code: '28P01' });
    await expect(connect(server, 'u_md5', 'wrong', false)).rejects.toMatchObject({ code: '28P01' });
    expect((await rawStartup(server.port, 'postgres', server.superuserPassword)).requests).toEqual([10, 11, 12, 0]);
  });

  it('asks each role for its own method (the per-role pg_hba line wins over the default)', async () => {
    // Authentication request codes: 10 SASL, 11 continue, 12 final, 5 MD5, 3 cleartext, 0 ok.
    expect((await rawStartup(server.port, 'u_scram', passwordOf('u_scram'))).requests).toEqual([10, 11, 12, 0]);
    expect((await rawStartup(server.port, 'u_md5', passwordOf('u_md5'))).requests).toEqual([5, 0]);
    expect((await rawStartup(server.port, 'u_password', passwordOf('u_password'))).requests).toEqual([3, 0]);
    expect((await rawStartup(server.port, 'u_trust', 'irrelevant')).requests).toEqual([0]);
  });

  it('our SCRAM client (with SASLprep) and md5 response satisfy real PostgreSQL', async () => {
    const scram = await rawStartup(server.port, UTF8_ROLE, UTF8_PASSWORD);
    expect(scram).toEqual({ requests: [10, 11, 12, 0], scramVerified: true });
    // node-postgres applies the same mapping, so it must agree with the server too.
    expect(await connect(server, UTF8_ROLE, UTF8_PASSWORD, false)).toEqual({ one: 1, ssl: false });
    // Equivalent spellings are the same password after SASLprep; a different one is not.
    expect((await rawStartup(server.port, UTF8_ROLE, 'pässwördIX')).scramVerified).toBe(true);
    await expect(rawStartup(server.port, UTF8_ROLE, 'passwordIX')).rejects.toThrow(/28P01/);
  });

  it('stores md5(password + user) for the md5 role and a SCRAM verifier for the others', async () => {
    const rows = await server.query<{ rolname: string; rolpassword: string }>(
      "SELECT rolname, rolpassword FROM pg_authid WHERE rolname LIKE 'u\\_%' ORDER BY rolname",
    );
    const stored = Object.fromEntries(rows.map((r) => [r.rolname, r.rolpassword]));
    expect(stored['u_md5']).toMatch(/^md5[0-9a-f]{32}$/);
    expect(stored['u_md5']).toBe(md5PasswordHash('u_md5', passwordOf('u_md5')));
    for (const role of ['u_scram', 'u_password', 'u_trust', UTF8_ROLE]) expect(stored[role]).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('createRole is idempotent and re-passwords an existing role', async () => {
    await server.createRole('u_scram', 'new-password', 'scram-sha-256');
    expect(await connect(server, 'u_scram', 'new-password', false)).toEqual({ one: 1, ssl: false });
    await server.createRole('u_scram', passwordOf('u_scram'), 'scram-sha-256');
    const hba = await server.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_hba_file_rules WHERE 'u_scram' = ANY(user_name)",
    );
    expect(hba[0]?.n).toBe(1);
    await expect(server.createRole('Bad-Name', 'x', 'md5')).rejects.toThrow(/role name/);
  });

  it('seeds the demo database idempotently for the agent role', async () => {
    const seed = { database: 'app', agentRole: 'agent_rw', agentPassword: 'agent-pw' };
    await seedDemoDatabase(server, seed);
    await seedDemoDatabase(server, seed);
    const agent = new pg.Client({ host: server.host, port: server.port, user: 'agent_rw', password: 'agent-pw', database: 'app' });
    await agent.connect();
    try {
      const counts = await agent.query<{ customers: number; orders: number }>(
        'SELECT (SELECT count(*)::int FROM customers) AS customers, (SELECT count(*)::int FROM orders) AS orders',
      );
      expect(counts.rows[0]).toEqual({ customers: 20, orders: 50 });
      const { rows } = await agent.query<{ email: string; card_number: string; phone: string }>('SELECT email, card_number, phone FROM customers');
      for (const row of rows) {
        expect(row.email).toMatch(/@example\.com$/);
        expect(luhnValid(row.card_number), row.card_number).toBe(true);
        expect(row.phone.replace(/\D/g, '')).toMatch(/^1?20255501\d\d$/);
      }
      await agent.query("UPDATE orders SET status = 'paid' WHERE id = 1");
      await agent.query('INSERT INTO orders (customer_id, amount_cents, status) VALUES (1, 100, $1)', ['pending']);
      await expect(agent.query('CREATE TABLE nope (id int)')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await agent.end();
    }
  });

  it('stop() leaves no postgres process for the data dir, and is idempotent', async () => {
    const pid = Number((await readFile(path.join(server.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(isAlive(pid)).toBe(true);
    expect((await childrenOf(pid)).length).toBeGreaterThan(0);
    const t0 = performance.now();
    await server.stop();
    console.info(`stop() took ${Math.round(performance.now() - t0)} ms`);
    await server.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await processesMentioning(server.dataDir)).toEqual([]);
    expect(existsSync(server.dataDir)).toBe(false); // persistent: false
  });
});

describe('startEmbeddedPostgres (persistent cluster reused across restarts)', () => {
  it('reuses the initialized data dir, its superuser password and its role lines', async () => {
    const dataDir = path.join(base, 'persistent');
    const first = await start({ dataDir, authMethod: 'scram-sha-256' });
    await first.server.createRole('u_md5_again', 'pw', 'md5');
    await first.server.stop();

    const second = await start({ dataDir });
    console.info(`startEmbeddedPostgres: fresh ${first.ms} ms, reusing the data dir ${second.ms} ms`);
    expect(second.server.superuserPassword).toBe(first.server.superuserPassword);
    expect((await rawStartup(second.server.port, 'u_md5_again', 'pw')).requests).toEqual([5, 0]);
    await second.server.stop();
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true); // persistent by default
  });
});

// ---- helpers ----------------------------------------------------------------------------

function luhnValid(pan: string): boolean {
  const digits = pan.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return digits.length >= 12 && sum % 10 === 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function procEntries(): Promise<Array<{ pid: number; ppid: number; cmdline: string }>> {
  const out = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      out.push({ pid: Number(name), ppid, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

async function childrenOf(pid: number): Promise<number[]> {
  return (await procEntries()).filter((p) => p.ppid === pid).map((p) => p.pid);
}

async function processesMentioning(dataDir: string): Promise<string[]> {
  return (await procEntries()).filter((p) => p.cmdline.includes(dataDir)).map((p) => p.cmdline);
}

/**
 * A bare-bones frontend that records which authentication requests the server makes and
 * answers them with our own scram.ts / md5Password: proof they work against PostgreSQL.
 */
function rawStartup(port: number, user: string, password: string): Promise<{ requests: number[]; scramVerified?: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const requests: number[] = [];
    let scram: ReturnType<typeof createScramClient> | undefined;
    let buffer = Buffer.alloc(0);
    const send = (type: string, body: Buffer): void => {
      const header = Buffer.alloc(5);
      header.write(type, 0, 'latin1');
      header.writeInt32BE(body.length + 4, 1);
      socket.write(Buffer.concat([header, body]));
    };
    const cstr = (s: string): Buffer => Buffer.from(s + '\0', 'utf8');
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.on('error', fail);
    socket.on('connect', () => {
      const params = Buffer.concat([cstr('user'), cstr(user), cstr('database'), cstr('postgres'), Buffer.from([0])]);
      const head = Buffer.alloc(8);
      head.writeInt32BE(params.length + 8, 0);
      head.writeInt32BE(196608, 4); // protocol 3.0
      socket.write(Buffer.concat([head, params]));
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 5 && buffer.length >= 1 + buffer.readInt32BE(1)) {
        const type = String.fromCharCode(buffer[0]!);
        const body = buffer.subarray(5, 1 + buffer.readInt32BE(1));
        buffer = buffer.subarray(1 + buffer.readInt32BE(1));
        try {
          if (type === 'E') return fail(new Error(`server error ${errorFields(body)}`));
          if (type === 'Z') {
            send('X', Buffer.alloc(0));
            socket.end();
            return resolve({ requests, ...(scram ? { scramVerified: scram.isVerified() } : {}) });
          }
          if (type !== 'R') continue;
          const code = body.readInt32BE(0);
          requests.push(code);
          if (code === 3) send('p', cstr(password));
          if (code === 5) send('p', cstr(md5Password(user, password, body.subarray(4, 8))));
          if (code === 10) {
            scram = createScramClient(password);
            const first = Buffer.from(scram.clientFirstMessage());
            const len = Buffer.alloc(4);
            len.writeInt32BE(first.length, 0);
            send('p', Buffer.concat([cstr('SCRAM-SHA-256'), len, first]));
          }
          if (code === 11) send('p', Buffer.from(scram!.handleServerFirst(body.subarray(4).toString())));
          if (code === 12) scram!.verifyServerFinal(body.subarray(4).toString());
        } catch (error) {
          return fail(error as Error);
        }
      }
    });
  });
}

function errorFields(body: Buffer): string {
  const fields: string[] = [];
  for (let i = 0; i < body.length && body[i] !== 0; ) {
    const end = body.indexOf(0, i + 1);
    fields.push(`${String.fromCharCode(body[i]!)}=${body.subarray(i + 1, end).toString()}`);
    i = end + 1;
  }
  return fields.filter((f) => /^[CM]=/.test(f)).join(' ');
}
