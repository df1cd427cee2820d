/**
 * The Slack message for an approval request, as Block Kit: who asks to run what, where, under
 * which rule, the exact statement, and — while it is pending — Approve and Deny buttons whose
 * action ids carry the request id. Rendered afresh from the request at every step, so the
 * update after a decision is the same message with the outcome instead of the buttons. Pure.
 *
 * Everything that comes from the agent (the statement, its parameters) goes into
 * preformatted rich text, which Slack never interprets; other text is mrkdwn-escaped, so a
 * statement cannot mention @channel or forge a link.
 */
import type { ApprovalAuditEvent } from '../approvals/events.js';
import type { ApprovalRequest } from '../approvals/types.js';
import type { RecordedParameter } from '../recording/recorder.js';
import { approvalLinks, cut } from './payload.js';

export type SlackBlock = Readonly<Record<string, unknown>>;

export interface SlackMessage {
  /** The notification text (and what clients without Block Kit show). */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

export type SlackDecision = 'approve' | 'deny';

/** Slack limits a section's text to 3000 characters; the link has the statement whole. */
export const MAX_SLACK_TEXT_CHARS = 2500;
const MAX_SLACK_PARAMETERS = 20;
/** The reason quotes the statement: with the section's other text it must stay under 3000 characters. */
const MAX_REASON_CHARS = 1000;
const MAX_SLACK_PARAMETER_CHARS = 200;
const HEADER_MAX = 150;

/** `approve:ID` / `deny:ID`. */
export function actionId(decision: SlackDecision, requestId: string): string {
  return `${decision}:${requestId}`;
}

/** The decision and request id a button's action id carries; undefined for anything else. */
export function parseActionId(value: string): { readonly decision: SlackDecision; readonly requestId: string } | undefined {
  const match = /^(approve|deny):([A-Za-z0-9_-]{1,128})$/.exec(value);
  return match === null ? undefined : { decision: match[1] as SlackDecision, requestId: match[2] as string };
}

/** The message for `event.request` as it is after `event`. */
export function slackMessage(event: Pick<ApprovalAuditEvent, 'kind' | 'request' | 'by' | 'comment'>, publicUrl: string | undefined): SlackMessage {
  const { request } = event;
  const who = `${request.subject}${request.clientId === undefined || request.clientId === request.subject ? '' : ` (client ${request.clientId})`}`;
  const status = statusLine(event);
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(`Approval ${request.status === 'pending' ? 'needed' : request.status}: ${request.rule}`, HEADER_MAX - 30), emoji: true } },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*${escape(who)}* wants to run a statement on *${escape(request.connection)}*.\n${escape(cut(request.reason, MAX_REASON_CHARS))}` },
      fields: [
        { type: 'mrkdwn', text: `*Rule*\n${escape(request.rule)}` },
        { type: 'mrkdwn', text: `*Approvers*\n${escape(request.approvers.join(', '))} (${request.minApprovals} needed)` },
        { type: 'mrkdwn', text: `*Expires*\n${slackDate(request.expiresAt)}` },
        { type: 'mrkdwn', text: `*Request*\n${escape(request.id)}` },
      ],
    },
    preformatted(cut(request.text, MAX_SLACK_TEXT_CHARS)),
    ...(request.parameters === undefined || request.parameters.length === 0 ? [] : [preformatted(parameterLines(request.parameters))]),
    { type: 'context', elements: [{ type: 'mrkdwn', text: status }] },
  ];
  if (request.status === 'pending') {
    blocks.push({
      type: 'actions',
      block_id: `portcullis:${request.id}`,
      elements: [
        { type: 'button', action_id: actionId('approve', request.id), value: request.id, style: 'primary', text: { type: 'plain_text', text: 'Approve' } },
        { type: 'button', action_id: actionId('deny', request.id), value: request.id, style: 'danger', text: { type: 'plain_text', text: 'Deny' } },
      ],
    });
  }
  const links = approvalLinks(publicUrl, request.id);
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text:
          (links === undefined ? '' : `<${links.approval}|Request in the admin API> · `) +
          `or from a terminal: \`portcullis approvals ${request.status === 'pending' ? 'approve' : 'show'} ${escape(request.id)}\``,
      },
    ],
  });
  return { text: `${statusTitle(request)}: ${who} on ${request.connection} (rule ${request.rule}, request ${request.id})`, blocks };
}

function statusTitle(request: ApprovalRequest): string {
  return request.status === 'pending' ? 'Approval needed' : `Approval ${request.status}`;
}

/** What happened so far, in one line. */
function statusLine(event: Pick<ApprovalAuditEvent, 'kind' | 'request' | 'by' | 'comment'>): string {
  const { request } = event;
  const approvers = request.decisions.filter((d) => d.decision === 'approve').map((d) => escape(d.subject));
  const said = (comment: string | undefined): string => (comment === undefined || comment === '' ? '' : `: “${escape(cut(comment, 300))}”`);
  switch (request.status) {
    case 'pending':
      return approvers.length === 0
        ? `:hourglass_flowing_sand: Waiting for ${request.minApprovals === 1 ? 'an approver' : `${request.minApprovals} approvers`}`
        : `:hourglass_flowing_sand: Approved by ${approvers.join(', ')}; ${request.minApprovals - approvers.length} more approval(s) needed`;
    case 'approved': {
      const approved = `:white_check_mark: Approved by ${approvers.join(', ')}${said(request.decisions.at(-1)?.comment)}`;
      if (request.grant.kind === 'window' && request.grantExpiresAt !== undefined) {
        return `${approved}. Until ${slackDate(request.grantExpiresAt)}, ${escape(request.subject)} runs statements under this rule on ${escape(request.connection)} without asking`;
      }
      return request.redeemedAt === undefined ? approved : `${approved}. The statement ran at ${slackDate(request.redeemedAt)}`;
    }
    case 'denied': {
      const denial = request.decisions.find((d) => d.decision === 'deny');
      return `:no_entry: Denied by ${escape(denial?.subject ?? 'an approver')}${said(denial?.comment)}`;
    }
    case 'expired':
      return `:alarm_clock: Timed out at ${slackDate(request.expiresAt)}: no decision in time, the agent was refused`;
    default:
      // `revoked`, and any status added later: say who changed it, when known.
      return `:leftwards_arrow_with_hook: ${escape(capitalize(request.status))}${event.by === undefined ? '' : ` by ${escape(event.by.subject)}`}${said(event.comment)}`;
  }
}

function preformatted(text: string): SlackBlock {
  return { type: 'rich_text', elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text }] }] };
}

function parameterLines(parameters: readonly RecordedParameter[]): string {
  const lines = parameters.slice(0, MAX_SLACK_PARAMETERS).map((p, i) => `$${i + 1} = ${showParameter(p)}`);
  if (parameters.length > MAX_SLACK_PARAMETERS) lines.push(`… and ${parameters.length - MAX_SLACK_PARAMETERS} more parameters`);
  return lines.join('\n');
}

function showParameter(parameter: RecordedParameter): string {
  if (parameter === null) return 'NULL';
  if (typeof parameter === 'string') return `'${cut(parameter, MAX_SLACK_PARAMETER_CHARS).replaceAll("'", "''")}'`;
  return `(binary, base64) ${cut(parameter.base64, MAX_SLACK_PARAMETER_CHARS)}`;
}

/** Slack shows it in the reader's time zone; the fallback is UTC. */
function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${new Date(ms).toISOString()}>`;
}

/** mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
