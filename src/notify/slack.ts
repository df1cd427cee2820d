/**
 * Slack: each new approval request is posted to the channel (chat.postMessage) with Approve
 * and Deny buttons; every later step updates that message (chat.update) with the outcome.
 * Replies to one approver (chat.postEphemeral) say why their click decided nothing.
 *
 * All calls go through one queue, in order, so an update is never sent before the message it
 * updates has been posted. Where each request's message is (channel and `ts`) is kept in
 * memory, bounded; after a restart a click on an older message tells us again (the
 * interaction carries it), and until then its updates are skipped.
 */
import type { ApprovalAuditEvent } from '../approvals/events.js';
import type { SlackConfig } from '../config/types.js';
import { BoundedCache } from '../inspect/bounded-cache.js';
import type { ChannelDeps, NotificationChannel } from './channel.js';
import { DEFAULT_QUEUE_CAPACITY, DeliveryQueue, type AttemptOutcome } from './delivery-queue.js';
import { callSlack, type SlackApiOptions } from './slack-api.js';
import { slackMessage } from './slack-message.js';

/** Where a request's message is: what chat.update needs. */
export interface SlackMessageRef {
  readonly channel: string;
  readonly ts: string;
}

type SlackJob =
  | { readonly kind: 'post' | 'update'; readonly event: ApprovalAuditEvent }
  | { readonly kind: 'ephemeral'; readonly requestId: string; readonly channel: string; readonly user: string; readonly text: string };

/** Messages remembered for updates (about a day of a busy gateway's requests). */
const MAX_TRACKED_MESSAGES = 10_000;

export class SlackChannel implements NotificationChannel {
  private readonly queue: DeliveryQueue<SlackJob>;
  private readonly messages = new BoundedCache<string, SlackMessageRef>(MAX_TRACKED_MESSAGES);
  private readonly api: SlackApiOptions;

  constructor(
    private readonly config: SlackConfig,
    private readonly deps: ChannelDeps,
  ) {
    this.api = { apiUrl: config.apiUrl, botToken: config.botToken, timeoutMs: config.timeoutMs, transport: deps.transport };
    this.queue = new DeliveryQueue<SlackJob>({
      ...deps,
      destination: 'Slack',
      capacity: deps.capacity ?? DEFAULT_QUEUE_CAPACITY,
      attempt: (job, _attempt, signal) => this.send(job, signal),
      describe: (job) =>
        job.kind === 'ephemeral' ? { slack: job.kind, approvalId: job.requestId } : { slack: job.kind, event: job.event.kind, approvalId: job.event.request.id },
    });
  }

  /**
   * A new request is posted; any later step updates its message — except a window grant's
   * uses after its first, which would change nothing in it (and could be thousands).
   */
  notify(event: ApprovalAuditEvent): void {
    if (event.kind === 'redeemed' && event.request.uses > 1) return;
    this.queue.push({ kind: event.kind === 'requested' ? 'post' : 'update', event });
  }

  /** Where a request's message is, as an interaction with it tells us (e.g. after a restart). */
  remember(requestId: string, message: SlackMessageRef): void {
    this.messages.set(requestId, message);
  }

  /** A reply only `user` sees, in `channel`. */
  tell(requestId: string, channel: string, user: string, text: string): void {
    this.queue.push({ kind: 'ephemeral', requestId, channel, user, text });
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  close(): void {
    this.queue.close();
  }

  private async send(job: SlackJob, signal: AbortSignal): Promise<AttemptOutcome> {
    if (job.kind === 'ephemeral') {
      return (await callSlack(this.api, 'chat.postEphemeral', { channel: job.channel, user: job.user, text: job.text }, signal)).outcome;
    }
    const { request } = job.event;
    const message = slackMessage(job.event, this.deps.publicUrl());
    if (job.kind === 'post') {
      const call = await callSlack(this.api, 'chat.postMessage', { channel: this.config.channel, ...message, unfurl_links: false, unfurl_media: false }, signal);
      if (call.outcome.kind === 'delivered' && call.answer?.ts !== undefined) {
        this.messages.set(request.id, { channel: call.answer.channel ?? this.config.channel, ts: call.answer.ts });
      }
      return call.outcome;
    }
    const where = this.messages.get(request.id);
    if (where === undefined) {
      this.deps.logger.debug('no Slack message to update for this approval request (not posted, or posted before a restart)', { approvalId: request.id, event: job.event.kind });
      return { kind: 'delivered' };
    }
    return (await callSlack(this.api, 'chat.update', { channel: where.channel, ts: where.ts, ...message }, signal)).outcome;
  }
}
