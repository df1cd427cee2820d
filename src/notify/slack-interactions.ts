/**
 * Slack's interactivity requests (`POST /api/slack/interactions` on the admin API): a click on
 * a message's Approve or Deny button becomes the mapped approver's decision.
 *
 * No bearer token: the request is authenticated by Slack's signature over its raw body with
 * the app's signing secret, made within the last 5 minutes (./signing.ts), and each signed
 * request is accepted once (a replay within the window is refused too). The clicking Slack
 * user decides as the identity `notifications.slack.users` maps them to, and only then: the
 * approvals service applies the same rules as to any approver (approvers groups, no
 * self-approval, one decision each). Whatever the outcome, Slack gets its 200 at once (it
 * shows an error otherwise); the approver is told in the channel, privately, when their click
 * decided nothing and why, and the message itself is updated from the audit step the
 * decision makes.
 */
import type { ApprovalService } from '../approvals/types.js';
import { ApprovalError } from '../approvals/types.js';
import type { SlackConfig } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import { BoundedCache } from '../inspect/bounded-cache.js';
import type { Logger } from '../log.js';
import { parseActionId, type SlackDecision } from './slack-message.js';
import { MAX_SIGNATURE_AGE_SECONDS, verifySlackSignature } from './signing.js';
import type { SlackChannel } from './slack.js';

export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The answer to Slack: `body` undefined is an empty 200 (all Slack needs); errors are the admin API's JSON. */
export interface InteractionAnswer {
  readonly status: 200 | 400 | 401 | 415;
  readonly body: { readonly error: string; readonly message: string } | undefined;
}

/** What the admin server needs: the raw body (the signature covers its exact bytes) and the headers. */
export interface SlackInteractionHandler {
  handle(body: Buffer, headers: RequestHeaders): InteractionAnswer;
}

export interface SlackInteractionsDeps {
  readonly config: SlackConfig;
  /** The service deciding (a getter: the notifier exists before the service it is told about). */
  readonly approvals: () => ApprovalService;
  readonly slack: Pick<SlackChannel, 'remember' | 'tell'>;
  readonly logger: Logger;
  /** Epoch ms. */
  readonly now: () => number;
}

/** Signed requests remembered for replay detection (far more than Slack sends in 10 minutes). */
const MAX_REMEMBERED = 10_000;

export class SlackInteractions implements SlackInteractionHandler {
  /** Signature → until when a second request with it is a replay. */
  private readonly seen = new BoundedCache<string, number>(MAX_REMEMBERED);

  constructor(private readonly deps: SlackInteractionsDeps) {}

  handle(body: Buffer, headers: RequestHeaders): InteractionAnswer {
    const { logger } = this.deps;
    const now = this.deps.now();
    const signature = header(headers, 'x-slack-signature');
    const check = verifySlackSignature(this.deps.config.signingSecret, { timestamp: header(headers, 'x-slack-request-timestamp'), signature }, body, now);
    if (!check.ok) {
      logger.warn('Slack interaction refused: bad signature', { reason: check.reason });
      return refuse(401, 'invalid_signature', check.message);
    }
    const key = signature as string;
    if ((this.seen.get(key) ?? 0) > now) {
      logger.warn('Slack interaction refused: replayed', { reason: 'replay' });
      return refuse(401, 'replayed', 'this signed request was already received once; a replay decides nothing');
    }
    // Either side of the signature's window: the timestamp may be up to 5 minutes ahead.
    this.seen.set(key, now + 2 * MAX_SIGNATURE_AGE_SECONDS * 1000);

    const mediaType = (header(headers, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/x-www-form-urlencoded') {
      return refuse(415, 'unsupported_media_type', 'Slack interactions are form-encoded (application/x-www-form-urlencoded) with a "payload" field');
    }
    const payload = parsePayload(body);
    if (payload === undefined) return refuse(400, 'bad_request', 'the request has no "payload" field holding a JSON object, as Slack sends');
    if (payload.type !== 'block_actions' || payload.action === undefined) {
      logger.debug('Slack interaction ignored: not a click on an approval button', { type: payload.type });
      return OK;
    }
    const { decision, requestId } = payload.action;
    if (payload.channel !== undefined && payload.messageTs !== undefined) {
      this.deps.slack.remember(requestId, { channel: payload.channel, ts: payload.messageTs });
    }
    const tell = (text: string): void => {
      if (payload.channel !== undefined) this.deps.slack.tell(requestId, payload.channel, payload.userId, text);
    };
    const approver = this.deps.config.users.get(payload.userId);
    if (approver === undefined) {
      logger.warn('Slack click by a user not mapped to an approver: nothing decided', { approvalId: requestId, slackUser: payload.userId });
      tell(
        `Your Slack account (${payload.userId}) is not mapped to a Portcullis approver, so your click decided nothing. ` +
          `Ask a Portcullis administrator to add it under notifications.slack.users, or decide with your own token: portcullis approvals ${decision} ${requestId}`,
      );
      return OK;
    }
    const identity: Identity = {
      subject: approver.subject,
      clientId: undefined,
      groups: approver.groups,
      scopes: [],
      // Not an OIDC issuer: the decision was authenticated by Slack's signature and the configured mapping.
      issuer: 'slack',
      expiresAt: now,
    };
    const comment = `${decision === 'approve' ? 'approved' : 'denied'} in Slack by ${payload.userName}`;
    try {
      const after = this.deps.approvals().decide(requestId, identity, decision, comment);
      logger.info('approval decision through Slack', { approvalId: requestId, subject: approver.subject, slackUser: payload.userId, decision, status: after.status });
    } catch (error) {
      if (!(error instanceof ApprovalError)) throw error;
      logger.info('approval decision through Slack refused', { approvalId: requestId, subject: approver.subject, slackUser: payload.userId, decision, status: error.status });
      tell(`Your ${verb(decision)} of approval request ${requestId} was refused: ${error.message}`);
    }
    return OK;
  }
}

const OK: InteractionAnswer = { status: 200, body: undefined };

function refuse(status: InteractionAnswer['status'], error: string, message: string): InteractionAnswer {
  return { status, body: { error, message } };
}

function verb(decision: SlackDecision): string {
  return decision === 'approve' ? 'approval' : 'denial';
}

/** One header's value; a repeated one counts as absent (it would be ambiguous). */
function header(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The parts of a `block_actions` payload used here. */
interface Interaction {
  readonly type: string;
  readonly userId: string;
  /** How the approver is named in comments: their Slack handle, else their ID. */
  readonly userName: string;
  readonly channel: string | undefined;
  readonly messageTs: string | undefined;
  /** The first action that is one of our buttons. */
  readonly action: { readonly decision: SlackDecision; readonly requestId: string } | undefined;
}

function parsePayload(body: Buffer): Interaction | undefined {
  const text = new URLSearchParams(body.toString('utf8')).get('payload');
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const user = isObject(value['user']) ? value['user'] : {};
  const container = isObject(value['container']) ? value['container'] : {};
  const channel = isObject(value['channel']) ? value['channel'] : {};
  const message = isObject(value['message']) ? value['message'] : {};
  const userId = str(user['id']);
  if (userId === undefined) return undefined;
  const actions = Array.isArray(value['actions']) ? (value['actions'] as unknown[]) : [];
  const action = actions.map((a) => (isObject(a) ? parseActionId(str(a['action_id']) ?? '') : undefined)).find((a) => a !== undefined);
  const handle = str(user['username']) ?? str(user['name']);
  return {
    type: str(value['type']) ?? '',
    userId,
    userName: handle === undefined ? userId : `@${handle}`,
    channel: str(container['channel_id']) ?? str(channel['id']),
    messageTs: str(container['message_ts']) ?? str(message['ts']),
    action,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
