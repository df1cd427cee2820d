/**
 * The parent side of the TLS connection storm (storm-clients.ts): fork the client process,
 * wait until it is loaded, then — once the caller has read its "before" counters — let it go.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StormChildResult } from './storm-clients.js';
import { nextMessage } from '../support/child-message.js';

export type { StormChildResult } from './storm-clients.js';

/**
 * What each storm session runs: a read the bench policy allows (reads are narrowed to the
 * pgbench tables, so even `SELECT 1` is refused by default deny) and that returns one row.
 */
export const STORM_SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = 1';

export interface StormOptions {
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** The access token (through the gateway) or the role's password (the baseline). */
  readonly password: string;
  readonly count: number;
  /** The gateway's certificate, pinned as the clients' only CA; undefined: plaintext (the PostgreSQL baseline). */
  readonly caFile: string | undefined;
}

export interface PreparedStorm {
  /** Starts every session at once; resolves when all have closed. */
  run(timeoutMs?: number): Promise<StormChildResult>;
  /** Ends the client process if it is still there (idempotent). */
  kill(): Promise<void>;
  readonly script: string;
}

type ChildMessage = { type: 'ready' } | { type: 'done'; result: StormChildResult } | { type: 'error'; message: string };

export function stormScript(): string {
  const script = fileURLToPath(new URL('./storm-clients.js', import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`tsc -p bench/tsconfig.json\` (npm run bench:sessions does)`);
  return script;
}

export async function prepareStorm(options: StormOptions): Promise<PreparedStorm> {
  const script = stormScript();
  const child = fork(script, [], {
    env: {
      ...process.env,
      STORM_HOST: '127.0.0.1',
      STORM_PORT: String(options.port),
      STORM_DATABASE: options.database,
      STORM_USER: options.user,
      STORM_PASSWORD: options.password,
      STORM_COUNT: String(options.count),
      STORM_CA_FILE: options.caFile ?? '',
      STORM_SQL,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const ready = await nextMessage<ChildMessage>(child, 30_000, 'storm-clients').catch(async (error: unknown) => {
    await kill();
    throw error;
  });
  if (ready.type !== 'ready') {
    await kill();
    throw new Error(`storm clients failed to start: ${ready.type === 'error' ? ready.message : ready.type}`);
  }
  return {
    script,
    kill,
    async run(timeoutMs = 300_000) {
      const done = nextMessage<ChildMessage>(child, timeoutMs, 'storm-clients');
      child.send({ type: 'go' });
      try {
        const message = await done;
        if (message.type !== 'done') throw new Error(`storm clients failed: ${message.type === 'error' ? message.message : message.type}`);
        return message.result;
      } finally {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

