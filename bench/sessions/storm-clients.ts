/**
 * Child process of bench/sessions.ts: the TLS connection storm. Opens N node-postgres
 * sessions to the gateway at the same instant — TLS with the gateway's certificate pinned
 * as the only CA and verified (STORM_CA_FILE), the same access token as password — and
 * each runs one read (STORM_SQL, which must return exactly one row) and closes. Without
 * STORM_CA_FILE the sessions are plaintext: the baseline storm straight at PostgreSQL. Runs in its own process so the clients' CPU and memory are not
 * the bench's (where the dev IdP lives) and the gateway's RSS stays its own.
 *
 * IPC: child → {type:'ready'} once loaded; parent → {type:'go'}; child → {type:'done',
 * result: StormChildResult} or {type:'error', message}. Settings come from STORM_* env.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import pg from 'pg';

export interface StormChildResult {
  readonly requested: number;
  /** Per successful session: ms from its connect() to authenticated (ReadyForQuery after login). */
  readonly connectMs: readonly number[];
  /** Per successful session: ms for the query's round trip. */
  readonly queryMs: readonly number[];
  /** Sessions that connected, were encrypted and got their one row back. */
  readonly succeeded: number;
  readonly failed: number;
  /** Distinct failure messages (at most 20) and how often each occurred. */
  readonly errors: Readonly<Record<string, number>>;
  /** Successful sessions whose socket was TLS, by protocol version and cipher. */
  readonly tlsProtocols: Readonly<Record<string, number>>;
  readonly tlsCiphers: Readonly<Record<string, number>>;
  /** ms from the first connect() to the last session authenticated. */
  readonly allAuthenticatedMs: number;
  /** ms from the first connect() to the last session closed. */
  readonly allClosedMs: number;
  /** ms the child took to call connect() on every client (how "at once" the storm was). */
  readonly launchMs: number;
  /** CPU the client process used during the storm (user + system), ms: the clients' own share of the machine. */
  readonly cpuMs: number;
}

const MAX_DISTINCT_ERRORS = 20;

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

async function storm(): Promise<StormChildResult> {
  const count = Number(env('STORM_COUNT'));
  const sql = env('STORM_SQL');
  const caFile = process.env['STORM_CA_FILE'];
  const tls = caFile !== undefined && caFile !== '';
  const config: pg.ClientConfig = {
    host: env('STORM_HOST'),
    port: Number(env('STORM_PORT')),
    database: env('STORM_DATABASE'),
    user: env('STORM_USER'),
    password: env('STORM_PASSWORD'),
    // The gateway's self-signed certificate is the only CA trusted, and the name is checked.
    ssl: tls ? { ca: readFileSync(caFile, 'utf8'), rejectUnauthorized: true } : false,
    connectionTimeoutMillis: 90_000,
    query_timeout: 60_000,
  };
  const clients = Array.from({ length: count }, () => {
    const client = new pg.Client(config);
    // A session the server ends must not crash this process; the failure shows in connect/query.
    client.on('error', () => undefined);
    return client;
  });

  const connectMs: number[] = [];
  const queryMs: number[] = [];
  const errors = new Map<string, number>();
  const tlsProtocols = new Map<string, number>();
  const tlsCiphers = new Map<string, number>();
  let failed = 0;
  let lastAuthenticated = 0;
  const bump = (map: Map<string, number>, key: string): void => {
    if (map.has(key) || map.size < MAX_DISTINCT_ERRORS) map.set(key, (map.get(key) ?? 0) + 1);
  };

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sessions: Promise<void>[] = [];
  for (const client of clients) {
    const start = performance.now();
    const connected = client.connect();
    sessions.push(
      (async () => {
        try {
          await connected;
          const authenticated = performance.now();
          const socket = (client as unknown as { connection?: { stream?: Partial<TLSSocket> } }).connection?.stream;
          if (tls && socket?.encrypted !== true) throw new Error('the session is not encrypted (no TLS)');
          const result = await client.query(sql);
          const answered = performance.now();
          if (result.rows.length !== 1) throw new Error(`the storm query returned ${result.rows.length} rows, not 1`);
          connectMs.push(authenticated - start);
          queryMs.push(answered - authenticated);
          lastAuthenticated = Math.max(lastAuthenticated, authenticated - t0);
          if (tls) {
            bump(tlsProtocols, socket?.getProtocol?.() ?? 'unknown');
            bump(tlsCiphers, socket?.getCipher?.()?.name ?? 'unknown');
          }
        } catch (error) {
          failed += 1;
          const e = error as { code?: string; message?: string };
          bump(errors, `${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
        } finally {
          await client.end().catch(() => undefined);
        }
      })(),
    );
  }
  const launchMs = performance.now() - t0;
  await Promise.all(sessions);
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    requested: count,
    connectMs,
    queryMs,
    succeeded: connectMs.length,
    failed,
    errors: Object.fromEntries(errors),
    tlsProtocols: Object.fromEntries(tlsProtocols),
    tlsCiphers: Object.fromEntries(tlsCiphers),
    allAuthenticatedMs: lastAuthenticated,
    allClosedMs: performance.now() - t0,
    launchMs,
  };
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('storm-clients must be started with an IPC channel (child_process.fork)');
  const go = new Promise<void>((resolve, reject) => {
    process.on('message', (message: { type?: string }) => {
      if (message?.type === 'go') resolve();
    });
    process.on('disconnect', () => reject(new Error('the bench went away before the storm')));
  });
  send({ type: 'ready' });
  await go;
  send({ type: 'done', result: await storm() });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
