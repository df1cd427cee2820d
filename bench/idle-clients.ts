/**
 * Child process of bench/pg.ts: opens N authenticated, idle PostgreSQL sessions and holds
 * them until told to close. Runs in its own process so that the clients' memory is not
 * counted against the gateway's.
 *
 * IPC: parent → {type:'close'}; child → {type:'ready', opened, failed, firstError}, {type:'closed'}.
 * Settings come from the environment (IDLE_*), the token in IDLE_PASSWORD.
 */
import pg from 'pg';

interface Settings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  count: number;
  concurrency: number;
}

function settings(): Settings {
  const env = (name: string): string => {
    const value = process.env[name];
    if (value === undefined || value === '') throw new Error(`${name} is not set`);
    return value;
  };
  return {
    host: env('IDLE_HOST'),
    port: Number(env('IDLE_PORT')),
    database: env('IDLE_DATABASE'),
    user: env('IDLE_USER'),
    password: env('IDLE_PASSWORD'),
    count: Number(env('IDLE_COUNT')),
    concurrency: Number(process.env.IDLE_CONCURRENCY ?? '32'),
  };
}

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('idle-clients must be started with an IPC channel (child_process.fork)');
  const s = settings();
  const clients: pg.Client[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < s.count) {
      next += 1;
      const client = new pg.Client({ host: s.host, port: s.port, database: s.database, user: s.user, password: s.password });
      // An idle session ended by the server (e.g. at shutdown) must not crash this process.
      client.on('error', () => undefined);
      try {
        await client.connect();
        clients.push(client);
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        await client.end().catch(() => undefined);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, s.concurrency) }, worker));
  send({ type: 'ready', opened: clients.length, failed, firstError });

  await new Promise<void>((resolve) => {
    process.on('message', (message: { type?: string }) => {
      if (message?.type === 'close') resolve();
    });
    process.on('disconnect', () => resolve());
  });
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  send({ type: 'closed' });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
