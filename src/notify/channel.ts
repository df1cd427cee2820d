/**
 * What every notification channel (webhooks, Slack) is to the notifier, and what they share:
 * a logger, the HTTP transport, the clock and timers (tests inject them), and the links base.
 */
import type { ApprovalAuditEvent } from '../approvals/events.js';
import type { Logger } from '../log.js';
import type { BackoffPolicy } from './backoff.js';
import type { DeliveryReport, Timers } from './delivery-queue.js';
import type { HttpTransport } from './http.js';

export interface NotificationChannel {
  /** Queues what this channel sends about a committed approval step. Never waits on the network. */
  notify(event: ApprovalAuditEvent): void;
  /** Resolves when nothing is waiting or being sent (tests; never needed on the data path). */
  idle(): Promise<void>;
  /** Aborts what is in flight and drops what waits. */
  close(): void;
}

/** How deliveries are paced and bounded (defaults otherwise; tests set them). */
export interface ChannelTuning {
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  /** Waiting deliveries per destination (default DEFAULT_QUEUE_CAPACITY). */
  readonly capacity?: number;
  /** Told how each delivery ended (the gateway records it as a `notified` approval step). */
  readonly settled?: (report: DeliveryReport) => void;
}

export interface ChannelDeps extends ChannelTuning {
  readonly logger: Logger;
  readonly transport: HttpTransport;
  /** Epoch ms. */
  readonly now: () => number;
  /** The admin API's base URL for links, once known (it may be a port chosen at start). */
  readonly publicUrl: () => string | undefined;
}
