/**
 * A generic webhook: each approval step it subscribes to becomes one JSON POST (./payload.ts),
 * signed (./signing.ts) and retried with backoff through its own bounded queue.
 *
 * Headers of every attempt:
 *   Content-Type: application/json
 *   X-Portcullis-Event: requested | approved | denied | expired | revoked | redeemed
 *   X-Portcullis-Delivery: <uuid, the same on every attempt of one delivery, and in the body>
 *   X-Portcullis-Timestamp: <Unix seconds at this attempt>
 *   X-Portcullis-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 * Each attempt is signed afresh, so a retry minutes later is still within a receiver's
 * replay window.
 */
import { randomUUID } from 'node:crypto';
import type { ApprovalAuditEvent } from '../approvals/events.js';
import type { NotificationEvent, WebhookConfig } from '../config/types.js';
import { isRetryableStatus } from './backoff.js';
import type { ChannelDeps, NotificationChannel } from './channel.js';
import { DEFAULT_QUEUE_CAPACITY, DeliveryQueue, type AttemptOutcome } from './delivery-queue.js';
import type { HttpAnswer } from './http.js';
import { notificationEvent, webhookBody } from './payload.js';
import { webhookSignature } from './signing.js';

interface Delivery {
  readonly id: string;
  readonly kind: NotificationEvent;
  readonly requestId: string;
  readonly body: string;
}

export class WebhookChannel implements NotificationChannel {
  private readonly queue: DeliveryQueue<Delivery>;

  constructor(
    private readonly config: WebhookConfig,
    private readonly deps: ChannelDeps,
  ) {
    this.queue = new DeliveryQueue<Delivery>({
      ...deps,
      destination: `webhook "${config.name}"`,
      capacity: deps.capacity ?? DEFAULT_QUEUE_CAPACITY,
      attempt: (delivery, _attempt, signal) => this.send(delivery, signal),
      describe: (delivery) => ({ webhook: config.name, delivery: delivery.id, event: delivery.kind, approvalId: delivery.requestId }),
    });
  }

  notify(event: ApprovalAuditEvent): void {
    const kind = notificationEvent(event.kind);
    if (kind === undefined || !this.config.events.includes(kind)) return;
    const id = randomUUID();
    const body = JSON.stringify(webhookBody(event, kind, id, this.deps.now(), this.deps.publicUrl()));
    this.queue.push({ id, kind, requestId: event.request.id, body });
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  close(): void {
    this.queue.close();
  }

  private async send(delivery: Delivery, signal: AbortSignal): Promise<AttemptOutcome> {
    const timestamp = Math.floor(this.deps.now() / 1000);
    const answer = await this.deps.transport({
      url: this.config.url,
      headers: {
        'content-type': 'application/json',
        'x-portcullis-event': delivery.kind,
        'x-portcullis-delivery': delivery.id,
        'x-portcullis-timestamp': String(timestamp),
        'x-portcullis-signature': webhookSignature(this.config.secret, timestamp, delivery.body),
      },
      body: delivery.body,
      timeoutMs: this.config.timeoutMs,
      signal,
    });
    return webhookOutcome(answer);
  }
}

/** 2xx delivered; 429 and 5xx worth retrying; anything else refused for good. */
export function webhookOutcome(answer: Pick<HttpAnswer, 'status' | 'retryAfterMs'>): AttemptOutcome {
  const { status } = answer;
  if (status >= 200 && status <= 299) return { kind: 'delivered' };
  if (isRetryableStatus(status)) {
    return answer.retryAfterMs === undefined ? { kind: 'retry', reason: `HTTP ${status}` } : { kind: 'retry', reason: `HTTP ${status}`, retryAfterMs: answer.retryAfterMs };
  }
  const hint =
    status >= 300 && status <= 399
      ? 'redirects are not followed: configure the final URL'
      : 'the receiver refused it: check the URL, and that the receiver verifies X-Portcullis-Signature with the same secret';
  return { kind: 'failed', reason: `HTTP ${status}: ${hint}` };
}
