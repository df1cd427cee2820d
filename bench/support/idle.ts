/**
 * Idle-session memory: the gateway's RSS before and while N authenticated sessions sit
 * idle on it (each with its upstream connection open). The clients live in a separate
 * process (bench/idle-clients.ts) so only the gateway's memory is counted.
 */
import { fork } from 'node:child_process';
import { delay, rssBytes } from './process.js';
import { median } from './table.js';
import { nextMessage } from './child-message.js';

export interface IdleClientsOptions {
  readonly script: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly token: string;
  readonly count: number;
  readonly concurrency: number;
}

export interface IdleSessions {
  readonly opened: number;
  readonly failed: number;
  readonly firstError: string | undefined;
  close(): Promise<void>;
}

type ChildMessage =
  | { type: 'ready'; opened: number; failed: number; firstError?: string }
  | { type: 'closed' }
  | { type: 'error'; message: string };

/** Forks the client process and resolves once every session is open (or failed). */
export async function openIdleSessions(options: IdleClientsOptions, timeoutMs = 600_000): Promise<IdleSessions> {
  const child = fork(options.script, [], {
    env: {
      ...process.env,
      IDLE_HOST: '127.0.0.1',
      IDLE_PORT: String(options.port),
      IDLE_DATABASE: options.database,
      IDLE_USER: options.user,
      IDLE_PASSWORD: options.token,
      IDLE_COUNT: String(options.count),
      IDLE_CONCURRENCY: String(options.concurrency),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await nextMessage<ChildMessage>(child, timeoutMs, 'idle-clients');
  if (ready.type !== 'ready') {
    child.kill();
    throw new Error(`idle clients failed: ${ready.type === 'error' ? ready.message : ready.type}`);
  }
  return {
    opened: ready.opened,
    failed: ready.failed,
    firstError: ready.firstError,
    async close() {
      if (child.connected) {
        const closed = nextMessage<ChildMessage>(child, 120_000, 'idle-clients').catch(() => undefined);
        child.send({ type: 'close' });
        await closed;
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}


/** Median of a few RSS samples, after letting the process settle. */
export async function settledRss(pid: number, settleMs: number, samples = 5, intervalMs = 400): Promise<number> {
  await delay(settleMs);
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await delay(intervalMs);
    values.push(rssBytes(pid));
  }
  return median(values);
}
