/**
 * Hostile and broken clients (and a dying target) against the PostgreSQL front door.
 * Every case checks what the affected client is told, that its session is closed, that
 * no upstream backend is left behind, and that a bystander agent session opened before
 * the case still works after it.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { startDevIdp, type DevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import {
  AGENT,
  AGENT_DB_PASSWORD,
  demoConnection,
  issuerConfig,
  startStack,
  startTargetPostgres,
  type Stack,
  type StartedPostgres,
} from '../support/stack.js';
import {
  type BackendMessage,
  cstr,
  errorInfo,
  fe,
  int32,
  RawClient,
  typed,
  untyped,
} from '../support/raw-client.js';
import { pollUntil } from '../support/poll.js';
import { freePort } from '../support/ports.js';

const MAX_MESSAGE = 64 * 1024;
const WRONG_PASSWORD = 'definitely-not-the-stored-password-91x';

/** Number of upstream client backends the gateway holds as the agent role. */
async function agentBackends(target: StartedPostgres): Promise<number> {
  const rows = await target.pg.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'agent_rw' AND backend_type = 'client backend'",
  );
  return rows[0]!.n;
}

/** Sends `bytes` on a fresh socket and returns the single FATAL the gateway answers with, after it closed. */
async function fatalFor(port: number, bytes: Buffer): Promise<{ error: ReturnType<typeof errorInfo>; closed: boolean }> {
  const c = await RawClient.open(port);
  c.sendRaw(bytes);
  const error = await c.readError();
  const closed = await c.waitClosed(3000);
  return { error, closed };
}

describe('PostgreSQL front door: adversarial clients', () => {
  let target: StartedPostgres;
  let stack: Stack;
  let token: string;
  let bystander: pg.Client;
  const bystanderErrors: Error[] = [];
  const logs: Array<Record<string, unknown>> = [];
  let stderrSpy: MockInstance;

  beforeAll(async () => {
    // The gateway logs JSON lines to stderr (debugLogs); keep them for assertions.
    const write = process.stderr.write.bind(process.stderr);
    stderrSpy = vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.startsWith('{"time"')) {
        for (const line of text.split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        return true;
      }
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write);

    target = await startTargetPostgres();
    const deadPort = await freePort();
    stack = await startStack({
      postgres: target,
      debugLogs: true,
      listener: { maxMessageBytes: MAX_MESSAGE },
      connections: (p) => [
        demoConnection(p),
        demoConnection(p, { name: 'nowhere', target: p.target({ port: deadPort, connectTimeoutMs: 2000 }) }),
        demoConnection(p, { name: 'badcreds', target: p.target({ password: WRONG_PASSWORD }) }),
      ],
    });
    token = await stack.token();
    bystander = new pg.Client(stack.clientConfig(token));
    bystander.on('error', (e) => bystanderErrors.push(e));
    await bystander.connect();
  });

  afterEach(async () => {
    // The bystander session, opened before every case, still works after it…
    const r = await bystander.query('SELECT 41 + 1 AS n');
    expect(r.rows[0].n).toBe(42);
    expect(bystanderErrors).toEqual([]);
    // …and the case left no upstream backend behind (only the bystander's remains).
    await pollUntil(() => agentBackends(target), (n) => n === 1, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    await bystander?.end().catch(() => undefined);
    await stack?.close();
    await target?.pg.stop();
    stderrSpy?.mockRestore();
  });

  // ------------------------------------------------------------ before startup

  describe('before startup', () => {
    it('refuses an HTTP request on the header, with a FATAL that says what is wrong', async () => {
      const { error, closed } = await fatalFor(stack.port, Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      expect(error.severity).toBe('FATAL');
      expect(error.code).toBe('08P01');
      expect(error.message).toMatch(/invalid startup packet length \d+/);
      expect(closed).toBe(true);
    });

    it('refuses a startup length below 8', async () => {
      const { error, closed } = await fatalFor(stack.port, Buffer.concat([int32(4), int32(0)]));
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(error.message).toMatch(/invalid message length 4/);
      expect(closed).toBe(true);
    });

    it('refuses a huge declared startup length without waiting for the body', async () => {
      // Only the length word and a few bytes are sent: the refusal comes from the header alone.
      const { error, closed } = await fatalFor(stack.port, Buffer.concat([int32(0x7fffffff), int32(196608)]));
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(error.message).toMatch(/invalid startup packet length 2147483647/);
      expect(closed).toBe(true);
    });

    it('refuses protocol version 2.0 with 0A000', async () => {
      const { error, closed } = await fatalFor(stack.port, fe.startup({ user: 'agent', database: 'demo' }, 0x00020000));
      expect(error).toMatchObject({ severity: 'FATAL', code: '0A000' });
      expect(error.message).toMatch(/unsupported frontend protocol 2\.0/);
      expect(closed).toBe(true);
    });

    it('refuses a startup packet whose parameter list is not terminated', async () => {
      const body = Buffer.concat([int32(196608), cstr('user'), cstr('agent'), cstr('database'), cstr('demo')]);
      const { error, closed } = await fatalFor(stack.port, untyped(body));
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(error.message).toMatch(/startup packet.*unterminated string/);
      expect(closed).toBe(true);
    });

    it('refuses replication connections with 0A000', async () => {
      const { error, closed } = await fatalFor(stack.port, fe.startup({ user: 'agent', database: 'demo', replication: 'database' }));
      expect(error).toMatchObject({ severity: 'FATAL', code: '0A000' });
      expect(error.message).toMatch(/replication connections are not supported/);
      expect(closed).toBe(true);
    });

    it('refuses startup options such as -c search_path', async () => {
      const { error, closed } = await fatalFor(
        stack.port,
        fe.startup({ user: 'agent', database: 'demo', options: '-c search_path=evil' }),
      );
      expect(error).toMatchObject({ severity: 'FATAL', code: '0A000' });
      expect(error.message).toMatch(/startup "options" are not accepted/);
      expect(closed).toBe(true);
    });

    it('answers an empty password with 28P01 "no access token"', async () => {
      const c = await RawClient.open(stack.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'demo' }));
      const auth = await c.readMessage();
      expect(auth.type).toBe('R');
      c.sendRaw(fe.password(''));
      const error = await c.readError();
      expect(error).toMatchObject({ severity: 'FATAL', code: '28P01' });
      expect(error.message).toMatch(/^no access token/);
      expect(await c.waitClosed(3000)).toBe(true);
    });

    it("answers SSLRequest with 'N' when the listener has no TLS, then works in plaintext", async () => {
      const c = await RawClient.open(stack.port);
      c.sendRaw(fe.sslRequest());
      expect((await c.readBytes(1)).toString()).toBe('N');
      await c.authenticate({ password: token, database: 'demo' });
      c.sendRaw(fe.query('SELECT 7 AS seven'));
      const msgs = await c.readUntilReadyForQuery();
      const row = msgs.find((m) => m.type === 'D')!;
      expect(row.body.subarray(6).toString()).toBe('7');
      c.destroy();
    });

    it("answers GSSENCRequest with 'N', then works", async () => {
      const c = await RawClient.open(stack.port);
      c.sendRaw(fe.gssencRequest());
      expect((await c.readBytes(1)).toString()).toBe('N');
      await c.authenticate({ password: token, database: 'demo' });
      c.sendRaw(fe.query('SELECT 1'));
      expect((await c.readUntilReadyForQuery()).map((m) => m.type)).toEqual(['T', 'D', 'C', 'Z']);
      c.destroy();
    });

    it('refuses bytes pipelined right after SSLRequest', async () => {
      const c = await RawClient.open(stack.port);
      c.sendRaw(Buffer.concat([fe.sslRequest(), fe.startup({ user: 'agent', database: 'demo' })]));
      // Nothing but a refusal: no 'N'/'S' answer byte a client could mistake for a go-ahead.
      const error = await c.readError();
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(error.message).toMatch(/unexpected data after SSLRequest/);
      expect(await c.waitClosed(3000)).toBe(true);
    });

    it('negotiates down a 3.2 startup with an unknown _pq_ option, then works', async () => {
      const c = await RawClient.open(stack.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'demo', '_pq_.foo': 'bar' }, 0x00030002));
      const v = await c.readMessage();
      expect(v.type).toBe('v');
      expect(v.body.readInt32BE(0)).toBe(0); // newest minor version supported: 3.0
      expect(v.body.readInt32BE(4)).toBe(1);
      expect(v.body.subarray(8).toString()).toBe('_pq_.foo\0');
      const auth = await c.readMessage();
      expect(auth.type).toBe('R');
      c.sendRaw(fe.password(token));
      const startup = await c.readUntilReadyForQuery(10_000);
      // 3.0 keys: BackendKeyData is processId + 4-byte secret.
      expect(startup.find((m) => m.type === 'K')!.body.length).toBe(8);
      c.sendRaw(fe.query('SELECT current_user'));
      const msgs = await c.readUntilReadyForQuery();
      expect(msgs.find((m) => m.type === 'D')!.body.subarray(6).toString()).toBe('agent_rw');
      c.destroy();
    });
  });

  // ------------------------------------------------------------ after authentication

  describe('after authentication', () => {
    it('refuses an oversized Query on its header with 54000 naming the limit', async () => {
      const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
      const size = 1 << 20;
      // The header and the first KiB only: the refusal must not wait for (or buffer) the rest.
      const header = Buffer.concat([Buffer.from('Q'), int32(size + 4)]);
      client.sendRaw(Buffer.concat([header, Buffer.alloc(1024, 0x20)]));
      const error = await client.readError();
      expect(error).toMatchObject({ severity: 'FATAL', code: '54000' });
      expect(error.message).toMatch(/exceeds the limit of 65536 bytes/);
      expect(error.message).toMatch(new RegExp(`${size + 4} bytes`));
      expect(await client.waitClosed(3000)).toBe(true);
    });

    it('refuses a 1 MiB Query sent in full by node-postgres', async () => {
      const client = new pg.Client(stack.clientConfig(token));
      const errors: Error[] = [];
      client.on('error', (e) => errors.push(e));
      await client.connect();
      const err = (await client.query(`SELECT '${'x'.repeat(1 << 20)}'`).then(
        () => undefined,
        (e: unknown) => e,
      )) as (Error & { code?: string }) | undefined;
      expect(err?.code).toBe('54000');
      expect(err?.message).toMatch(/exceeds the limit of 65536 bytes/);
      await client.end().catch(() => undefined);
    });

    it('refuses a Query without NUL terminator, naming the message', async () => {
      const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
      client.sendRaw(typed('Q', Buffer.from('SELECT 1')));
      const error = await client.readError();
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(error.message).toMatch(/Query.*unterminated string/);
      expect(await client.waitClosed(3000)).toBe(true);
    });

    it('survives a malformed frame pipelined right behind the password', async () => {
      // The frame is read while the token is being verified and handled when the relay starts.
      const c = await RawClient.open(stack.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'demo' }));
      expect((await c.readMessage()).type).toBe('R');
      c.sendRaw(Buffer.concat([fe.password(token), typed('Q', Buffer.from('SELECT 1'))]));
      const msgs = await c.readUntil((m) => m.type === 'E', 10_000);
      expect(msgs.map((m) => m.type)).toContain('Z'); // authenticated first…
      const error = errorInfo(msgs[msgs.length - 1]!);
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' }); // …then refused
      expect(error.message).toMatch(/Query.*unterminated string/);
      expect(await c.waitClosed(3000)).toBe(true);
    });

    it('refuses a negative message length', async () => {
      const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
      client.sendRaw(Buffer.concat([Buffer.from('Q'), int32(-5)]));
      const error = await client.readError();
      expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(error.message).toMatch(/invalid message length -5/);
      expect(await client.waitClosed(3000)).toBe(true);
    });

    it('cleans up after a client that vanishes in the middle of a message, and logs it', async () => {
      const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
      expect(await agentBackends(target)).toBe(2);
      const q = fe.query('SELECT 1');
      client.sendRaw(q.subarray(0, q.length - 3));
      await new Promise((r) => setTimeout(r, 100));
      client.destroy();
      await pollUntil(() => agentBackends(target), (n) => n === 1, { timeoutMs: 10_000 });
      await pollUntil(
        async () => logs.filter((l) => l.msg === 'session closed' && /mid-message/.test(String(l.reason))).length,
        (n) => n > 0,
        { timeoutMs: 5000 },
      );
    });

    it('releases the upstream backend when the client vanishes mid-result', async () => {
      const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
      // Far more rows than any socket buffer: the target is still producing when the client goes.
      // generate_series in the select list streams (ProjectSet); in FROM it would be materialized first.
      client.sendRaw(fe.query("SELECT repeat('x', 1000) AS filler, generate_series(1, 50000000) AS n"));
      const first = await client.readMessage(10_000);
      expect(first.type).toBe('T');
      await pollUntil(async () => client.received, (n) => n > 512 * 1024, { timeoutMs: 10_000, intervalMs: 20 });
      client.destroy();
      await pollUntil(() => agentBackends(target), (n) => n === 1, { timeoutMs: 10_000 });
    });

    it('tells the client when the target kills its backend mid-query (57P01)', async () => {
      const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
      client.sendRaw(fe.query('SELECT pg_sleep(60) AS victim'));
      const [victim] = await pollUntil(
        () =>
          target.pg.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE usename = 'agent_rw' AND query LIKE 'SELECT pg_sleep(60) AS victim%' AND state = 'active'",
          ),
        (rows) => rows.length === 1,
      );
      await target.pg.query('SELECT pg_terminate_backend($1)', [victim!.pid]);
      const error = await client.readError(10_000);
      expect(error).toMatchObject({ severity: 'FATAL', code: '57P01' });
      expect(await client.waitClosed(3000)).toBe(true);
    });
  });

  // ------------------------------------------------------------ target problems

  describe('target problems', () => {
    it('reports an unreachable target with FATAL 08001 and no credentials', async () => {
      const client = new pg.Client(stack.clientConfig(token, 'nowhere'));
      const err = (await client.connect().then(
        () => undefined,
        (e: unknown) => e,
      )) as (Error & { code?: string; severity?: string }) | undefined;
      expect(err?.code).toBe('08001');
      expect(err?.severity).toBe('FATAL');
      expect(err?.message).toMatch(/could not connect to the target of connection "nowhere"/);
      expect(err?.message).not.toContain(AGENT_DB_PASSWORD);
      expect(err?.message).not.toContain('agent_rw');
    });

    it('reports rejected gateway credentials as a configuration problem, revealing neither password nor user', async () => {
      const c = await RawClient.open(stack.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'badcreds' }));
      await c.readMessage();
      c.sendRaw(fe.password(token));
      const msgs: BackendMessage[] = await c.readUntil((m) => m.type === 'E', 10_000);
      const error = errorInfo(msgs[msgs.length - 1]!);
      expect(error).toMatchObject({ severity: 'FATAL', code: '08001' });
      expect(error.message).toMatch(/rejected the gateway's credentials/);
      expect(error.message).toMatch(/gateway configuration problem/);
      const everything = Buffer.concat(msgs.map((m) => m.body)).toString();
      expect(everything).not.toContain(WRONG_PASSWORD);
      expect(everything).not.toContain(AGENT_DB_PASSWORD);
      expect(everything).not.toContain('agent_rw');
      expect(await c.waitClosed(3000)).toBe(true);
    });
  });

  // ------------------------------------------------------------ token lifetime

  describe('token lifetime', () => {
    let shortIdp: DevIdp;
    let shortStack: Stack;
    const shortToken = async (): Promise<{ token: string; expiresAt: number }> => {
      const r = await fetchAccessToken({ issuer: shortIdp.issuer, clientId: AGENT.clientId, clientSecret: AGENT.clientSecret });
      const payload = JSON.parse(Buffer.from(r.accessToken.split('.')[1]!, 'base64url').toString()) as { exp: number };
      return { token: r.accessToken, expiresAt: payload.exp * 1000 };
    };

    beforeAll(async () => {
      shortIdp = await startDevIdp({ port: 0, clients: [AGENT], audience: 'portcullis', accessTokenTtlSeconds: 2 });
      shortStack = await startStack({ postgres: target, extraIssuers: [issuerConfig(shortIdp.issuer, { clockSkewMs: 0 })] });
    });
    afterAll(async () => {
      await shortStack?.close();
      await shortIdp?.close();
    });

    it('ends a session when its token expires, telling the agent to reconnect', async () => {
      const { token: t, expiresAt } = await shortToken();
      const client = await RawClient.connect({ port: shortStack.port, password: t, database: 'demo' });
      client.sendRaw(fe.query('SELECT 1'));
      await client.readUntilReadyForQuery();
      const error = await client.readError(4000);
      const at = Date.now();
      expect(error).toMatchObject({ severity: 'FATAL', code: '28000' });
      expect(error.message).toMatch(/access token expired/);
      expect(error.message).toMatch(/reconnect/);
      expect(at).toBeGreaterThanOrEqual(expiresAt - 50);
      expect(at).toBeLessThan(expiresAt + 1500);
      expect(await client.waitClosed(3000)).toBe(true);
    });

    it('refuses an already-expired token at connect', async () => {
      const { token: t, expiresAt } = await shortToken();
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
      const c = await RawClient.open(shortStack.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'demo' }));
      await c.readMessage();
      c.sendRaw(fe.password(t));
      const error = await c.readError();
      expect(error).toMatchObject({ severity: 'FATAL', code: '28P01' });
      expect(error.message).toMatch(/expired/);
      expect(await c.waitClosed(3000)).toBe(true);
    });
  });

  // ------------------------------------------------------------ timeouts and shutdown

  describe('auth timeout', () => {
    let quick: Stack;
    beforeAll(async () => {
      quick = await startStack({ postgres: target, listener: { authTimeoutMs: 500 } });
    });
    afterAll(async () => {
      await quick?.close();
    });

    it('closes a connection that sends nothing after authTimeoutMs', async () => {
      const started = Date.now();
      const c = await RawClient.open(quick.port);
      const error = await c.readError(3000);
      const elapsed = Date.now() - started;
      expect(error).toMatchObject({ severity: 'FATAL', code: '08006' });
      expect(error.message).toMatch(/authentication not completed within 500 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(2000);
      expect(await c.waitClosed(2000)).toBe(true);
    });

    it('refuses an oversized password message on its header, below the relay limit', async () => {
      // The listener accepts 1 MiB messages once authenticated; before that only a small password message.
      const c = await RawClient.open(quick.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'demo' }));
      expect((await c.readMessage()).type).toBe('R');
      c.sendRaw(Buffer.concat([Buffer.from('p'), int32(256 * 1024), Buffer.alloc(100, 0x41)]));
      const error = await c.readError(3000);
      expect(error).toMatchObject({ severity: 'FATAL', code: '54000' });
      expect(error.message).toMatch(/exceeds the limit of 65535 bytes/);
      expect(await c.waitClosed(2000)).toBe(true);
    });

    it('closes a connection that stalls before sending its password', async () => {
      const c = await RawClient.open(quick.port);
      c.sendRaw(fe.startup({ user: 'agent', database: 'demo' }));
      expect((await c.readMessage()).type).toBe('R');
      const error = await c.readError(3000);
      expect(error).toMatchObject({ severity: 'FATAL', code: '08006' });
      expect(await c.waitClosed(2000)).toBe(true);
    });
  });

  describe('shutdown', () => {
    it('tells an idle session the gateway is shutting down (57P01) and releases its backend', async () => {
      const own = await startStack({ postgres: target });
      let closed = false;
      try {
        const client = await RawClient.connect({ port: own.port, password: await own.token(), database: 'demo' });
        expect(await agentBackends(target)).toBe(2);
        const closing = own.close().then(() => (closed = true));
        const error = await client.readError();
        expect(error).toMatchObject({ severity: 'FATAL', code: '57P01' });
        expect(error.message).toMatch(/shutting down/);
        expect(await client.waitClosed(3000)).toBe(true);
        await closing;
      } finally {
        if (!closed) await own.close();
      }
    });
  });
});
