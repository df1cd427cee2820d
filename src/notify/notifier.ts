/**
 * Tells webhooks and Slack about approval steps (issue 5, point 7), off the data path.
 *
 * The approvals service hands every step to its audit callback inside the transaction that
 * writes it; the gateway passes it on here after the recorder took it. `notify` only appends
 * to a list and returns: the steps are looked at on the next turn of the event loop, after the
 * transaction is over, and a step that did not commit (the write failed after the callback)
 * is not announced. Each channel then builds and sends its message through its own bounded,
 * retrying queue. Nothing here throws into the caller, and nothing waits on the network
 * before an operation is held or released.
 */
import type { ApprovalAuditEvent } from '../approvals/events.js';
import type { ApprovalService } from '../approvals/types.js';
import type { NotificationsConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ChannelDeps, ChannelTuning, NotificationChannel } from './channel.js';
import { fetchTransport, type HttpTransport } from './http.js';
import { SlackInteractions, type SlackInteractionHandler } from './slack-interactions.js';
import { SlackChannel } from './slack.js';
import { WebhookChannel } from './webhook.js';

export interface NotifierOptions extends ChannelTuning {
  readonly logger: Logger;
  /** The service whose steps are announced and which Slack clicks decide (a getter: it is created after the notifier). */
  readonly approvals: () => ApprovalService;
  /** The admin API's base URL for links, once known. */
  readonly publicUrl: () => string | undefined;
  readonly transport?: HttpTransport;
  readonly now?: () => number;
}

export interface Notifier {
  /** Takes a step the audit log took. Never throws, never waits. */
  notify(event: ApprovalAuditEvent): void;
  /** Set when Slack is configured: what the admin API's /api/slack/interactions answers with. */
  readonly slackInteractions: SlackInteractionHandler | undefined;
  /** Resolves when every channel has sent (or given up on) everything queued so far (tests). */
  idle(): Promise<void>;
  /** Drops what is still queued (logged) and aborts what is in flight. */
  close(): void;
}

/** Steps taken in one turn of the event loop before they are handed on; more are dropped (logged). */
const MAX_PENDING_STEPS = 10_000;

export function createNotifier(config: NotificationsConfig, options: NotifierOptions): Notifier {
  const { logger } = options;
  const deps: ChannelDeps = { ...options, transport: options.transport ?? fetchTransport, now: options.now ?? (() => Date.now()) };
  const channels: NotificationChannel[] = config.webhooks.map((webhook) => new WebhookChannel(webhook, { ...deps, logger: logger.child({ webhook: webhook.name }) }));
  let slackInteractions: SlackInteractions | undefined;
  if (config.slack !== undefined) {
    const slack = new SlackChannel(config.slack, { ...deps, logger: logger.child({ channel: 'slack' }) });
    channels.push(slack);
    slackInteractions = new SlackInteractions({ config: config.slack, approvals: options.approvals, slack, logger: logger.child({ channel: 'slack' }), now: deps.now });
  }

  let pending: ApprovalAuditEvent[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let closed = false;

  const flush = (): void => {
    scheduled = undefined;
    const steps = pending;
    pending = [];
    for (const event of steps) {
      try {
        if (!committed(options.approvals(), event)) {
          logger.warn('approval step not announced: it was not recorded (see the error logged for it)', { approvalId: event.request.id, event: event.kind });
          continue;
        }
        for (const channel of channels) channel.notify(event);
      } catch (error) {
        logger.error('could not queue a notification for an approval step', { approvalId: event.request.id, event: event.kind, error });
      }
    }
  };

  return {
    slackInteractions,
    notify(event) {
      if (closed || channels.length === 0) return;
      if (pending.length >= MAX_PENDING_STEPS) {
        logger.error('approval step not announced: too many at once', { approvalId: event.request.id, event: event.kind, limit: MAX_PENDING_STEPS });
        return;
      }
      pending.push(event);
      scheduled ??= setImmediate(flush);
    },
    async idle() {
      // Steps taken this turn are handed on first; a channel's sends may then queue more (none do today).
      await new Promise<void>((resolve) => setImmediate(resolve));
      await Promise.all(channels.map((channel) => channel.idle()));
    },
    close() {
      if (closed) return;
      closed = true;
      if (scheduled !== undefined) clearImmediate(scheduled);
      if (pending.length > 0) logger.warn(`${pending.length} approval step(s) not announced: the gateway is shutting down`);
      pending = [];
      for (const channel of channels) channel.close();
    },
  };
}

/**
 * Whether the step is in the approvals database: the request exists and has at least the
 * decisions and uses of its grant the step reports. (A timeout is announced either way: the request
 * is refused as timed out whether or not that could be written.)
 */
export function committed(approvals: Pick<ApprovalService, 'get'>, event: ApprovalAuditEvent): boolean {
  const stored = approvals.get(event.request.id);
  if (stored === undefined) return false;
  return stored.decisions.length >= event.request.decisions.length && stored.uses >= event.request.uses;
}
