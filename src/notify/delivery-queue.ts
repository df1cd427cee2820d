/**
 * A bounded queue of deliveries to one destination (one webhook, or Slack), sent one at a time
 * in order, each tried again with exponential backoff while its failure is worth retrying.
 *
 * Bounded: when `capacity` deliveries are waiting, the oldest waiting one is dropped (with an
 * error log naming it) to make room — a receiver that is down for long loses its oldest news,
 * never the gateway its memory. `push` only appends and never throws: it is called from the
 * approvals' audit path, which must not wait on the network.
 */
import type { LogFields, Logger } from '../log.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

/** What one attempt came to. */
export type AttemptOutcome =
  | { readonly kind: 'delivered' }
  /** Worth trying again (network error, timeout, 429, 5xx); `retryAfterMs` from the receiver, if it said. */
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  /** Trying again would fail the same way (another 4xx, a refused request): given up at once. */
  | { readonly kind: 'failed'; readonly reason: string };

/** The timer functions the queue waits with (tests inject their own). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    // A retry waiting must not keep a process alive that is otherwise done.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface DeliveryQueueOptions<T> {
  /** Names the destination in logs, e.g. `webhook "ops"` (never a URL: it may hold a credential). */
  readonly destination: string;
  readonly capacity: number;
  /** Sends one delivery. May throw: that counts as a retryable failure. `signal` aborts at close. */
  attempt(item: T, attempt: number, signal: AbortSignal): Promise<AttemptOutcome>;
  /** Log fields identifying a delivery (ids and kinds, never secrets). */
  describe(item: T): LogFields;
  readonly logger: Logger;
  readonly backoff?: BackoffPolicy;
  readonly timers?: Timers;
  /** In [0, 1), for the jitter. */
  readonly random?: () => number;
  /** Told how each delivery ended (not when the queue is closed first): for the audit log. */
  readonly settled?: (report: DeliveryReport) => void;
}

/** How one delivery ended. */
export interface DeliveryReport {
  readonly destination: string;
  /** The delivery's `describe` fields (ids and kinds). */
  readonly fields: LogFields;
  readonly delivered: boolean;
  readonly attempts: number;
  /** Why it was not delivered. */
  readonly reason?: string;
}

/** Waiting deliveries per destination, unless configured otherwise. */
export const DEFAULT_QUEUE_CAPACITY = 1000;

export class DeliveryQueue<T> {
  private readonly waiting: T[] = [];
  private busy = false;
  private closed = false;
  private readonly abort = new AbortController();
  /** The backoff wait in progress, so `close` can cut it short. */
  private sleeping: { handle: unknown; wake: () => void } | undefined;
  private readonly backoff: BackoffPolicy;
  private readonly timers: Timers;
  private readonly random: () => number;
  /** Resolves when the queue is idle (tests, and an orderly close). */
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: DeliveryQueueOptions<T>) {
    if (!(Number.isSafeInteger(options.capacity) && options.capacity > 0)) throw new RangeError(`capacity must be a positive integer, got ${options.capacity}`);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
  }

  /** Deliveries waiting (not counting the one being sent). */
  get size(): number {
    return this.waiting.length;
  }

  push(item: T): void {
    if (this.closed) {
      this.options.logger.warn('notification not sent: the gateway is shutting down', { destination: this.options.destination, ...this.safeDescribe(item) });
      return;
    }
    if (this.waiting.length >= this.options.capacity) {
      const dropped = this.waiting.shift() as T;
      this.options.logger.error(
        `notification queue for ${this.options.destination} is full (${this.options.capacity} waiting): dropped the oldest undelivered notification; ` +
          'the receiver has been failing or slow for a while — check it and the errors logged before this',
        { destination: this.options.destination, capacity: this.options.capacity, ...this.safeDescribe(dropped) },
      );
    }
    this.waiting.push(item);
    this.pump();
  }

  /** Resolves once nothing is waiting or being sent. */
  idle(): Promise<void> {
    if (!this.busy && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops: the delivery in progress is aborted, waiting ones are dropped (and counted in a log line). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.sleeping !== undefined) {
      this.timers.clearTimeout(this.sleeping.handle);
      this.sleeping.wake();
    }
    const dropped = this.waiting.splice(0);
    if (dropped.length > 0) {
      this.options.logger.warn(`${dropped.length} notification(s) for ${this.options.destination} not sent: the gateway is shutting down`, {
        destination: this.options.destination,
        dropped: dropped.length,
      });
    }
    if (!this.busy) this.settleIdle();
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const next = this.waiting.shift();
    if (next === undefined) return this.settleIdle();
    this.busy = true;
    void this.deliver(next).finally(() => {
      this.busy = false;
      if (this.closed) this.settleIdle();
      else this.pump();
    });
  }

  private async deliver(item: T): Promise<void> {
    const { destination, logger } = this.options;
    const described = this.safeDescribe(item);
    const fields = { destination, ...described };
    for (let attempt = 1; ; attempt++) {
      let outcome: AttemptOutcome;
      try {
        outcome = await this.options.attempt(item, attempt, this.abort.signal);
      } catch (error) {
        outcome = { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
      }
      if (this.closed) return;
      if (outcome.kind === 'delivered') {
        logger.debug(`notification delivered to ${destination}`, { ...fields, attempt });
        return this.report({ destination, fields: described, delivered: true, attempts: attempt });
      }
      if (outcome.kind === 'failed') {
        logger.error(`notification to ${destination} failed and is not retried: ${outcome.reason}`, { ...fields, attempt });
        return this.report({ destination, fields: described, delivered: false, attempts: attempt, reason: outcome.reason });
      }
      if (attempt >= this.backoff.maxAttempts) {
        logger.error(`notification to ${destination} given up after ${attempt} attempts: ${outcome.reason}`, { ...fields, attempt });
        return this.report({ destination, fields: described, delivered: false, attempts: attempt, reason: outcome.reason });
      }
      const delayMs = backoffDelay(this.backoff, attempt, this.random(), outcome.retryAfterMs);
      logger.warn(`notification to ${destination} failed (${outcome.reason}); trying again in ${delayMs} ms`, { ...fields, attempt, delayMs });
      await this.sleep(delayMs);
      if (this.closed) return;
    }
  }

  private report(report: DeliveryReport): void {
    try {
      this.options.settled?.(report);
    } catch (error) {
      this.options.logger.error('could not report how a notification ended', { ...report.fields, error });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleeping = undefined;
        resolve();
      };
      this.sleeping = { handle: this.timers.setTimeout(wake, ms), wake };
    });
  }

  private settleIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** `describe` must not be able to break the queue (it runs on every log line). */
  private safeDescribe(item: T): LogFields {
    try {
      return this.options.describe(item);
    } catch {
      return {};
    }
  }
}
