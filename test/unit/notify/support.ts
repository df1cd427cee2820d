/** Injected timers and a log collector for the notification tests. */
import { createLogger, type Logger } from '../../../src/log.js';
import type { Timers } from '../../../src/notify/delivery-queue.js';

interface Pending {
  readonly callback: () => void;
  readonly ms: number;
}

/** Timers that run only when told: tests see every delay asked for and fire them at will. */
export class FakeTimers implements Timers {
  readonly delays: number[] = [];
  private pending: Pending[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { callback, ms };
    this.delays.push(ms);
    this.pending.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((timer) => timer !== handle);
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** Runs the oldest pending timer; false when there is none. */
  fire(): boolean {
    const timer = this.pending.shift();
    timer?.callback();
    return timer !== undefined;
  }
}

/** Lets promise chains and I/O callbacks run (a few turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function collectLogs(): { logger: Logger; lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const logger = createLogger('debug', {}, (line) => {
    raw.push(line);
    lines.push(JSON.parse(line) as LogLine);
  });
  return { logger, lines, text: () => raw.join('\n') };
}
