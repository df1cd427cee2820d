/**
 * What a notification says about an approval step: the webhook JSON body, and the links
 * notifications carry. Pure. The request is shown exactly as the admin API shows it
 * (`approvalJson`), so a receiver can follow the link and find the same object.
 */
import { approvalJson, type ApprovalJson } from '../admin/approvals.js';
import type { ApprovalAuditEvent } from '../approvals/events.js';
import { NOTIFICATION_EVENTS } from '../config/schema.js';
import type { NotificationEvent } from '../config/types.js';
import type { RecordedParameter } from '../recording/recorder.js';

/** The kinds webhooks may subscribe to; other audit steps (a partial approval) only update Slack's message. */
export function notificationEvent(kind: string): NotificationEvent | undefined {
  return (NOTIFICATION_EVENTS as readonly string[]).includes(kind) ? (kind as NotificationEvent) : undefined;
}

export interface ApprovalLinks {
  /** `GET` shows the request; `POST …/approve` and `…/deny` decide it (with the approver's token). */
  readonly approval: string;
  readonly approve: string;
  readonly deny: string;
}

/** Links into the admin API, when its public base URL is known. */
export function approvalLinks(publicUrl: string | undefined, id: string): ApprovalLinks | undefined {
  if (publicUrl === undefined) return undefined;
  const approval = `${publicUrl}/api/approvals/${encodeURIComponent(id)}`;
  return { approval, approve: `${approval}/approve`, deny: `${approval}/deny` };
}

/**
 * Statements can be megabytes long and a queue holds a thousand deliveries: beyond these,
 * text and parameters are cut (and `truncated` says so; the link has them whole).
 */
export const MAX_TEXT_CHARS = 16 * 1024;
export const MAX_PARAMETER_CHARS = 1024;
export const MAX_PARAMETERS = 100;

export interface WebhookBody {
  /** Also in `X-Portcullis-Delivery`: the same across retries, so receivers can drop repeats. */
  readonly delivery: string;
  readonly kind: NotificationEvent;
  /** ISO 8601: when the notification was made. */
  readonly occurredAt: string;
  /** The request after this step, as `GET /api/approvals/ID` shows it. */
  readonly request: ApprovalJson;
  /** The approver, for approved and denied; who revoked, for revoked. */
  readonly by: { readonly subject: string; readonly clientId: string | null } | null;
  readonly comment: string | null;
  /** For redeemed: the hash of the operation released (a window grant releases others than the one approved). */
  readonly releasedOperationHash: string | null;
  /** Whether `request.text` or `request.parameters` were cut to fit. */
  readonly truncated: boolean;
  readonly links: ApprovalLinks | null;
}

export function webhookBody(event: ApprovalAuditEvent, kind: NotificationEvent, delivery: string, now: number, publicUrl: string | undefined): WebhookBody {
  const full = approvalJson(event.request);
  const text = cut(full.text, MAX_TEXT_CHARS);
  const parameters = full.parameters === null ? null : cutParameters(full.parameters);
  const truncated = text !== full.text || (parameters !== null && parameters !== full.parameters);
  return {
    delivery,
    kind,
    occurredAt: new Date(now).toISOString(),
    request: truncated ? { ...full, text, parameters } : full,
    by: event.by === undefined ? null : { subject: event.by.subject, clientId: event.by.clientId ?? null },
    comment: event.comment ?? null,
    releasedOperationHash: event.releasedOperationHash ?? null,
    truncated,
    links: approvalLinks(publicUrl, event.request.id) ?? null,
  };
}

/** `text` if it fits, else its first `max` characters and a note saying how much is missing. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

/** The same list when nothing needed cutting (so the caller can tell by identity). */
function cutParameters(parameters: readonly RecordedParameter[]): readonly RecordedParameter[] {
  const fits = (p: RecordedParameter): boolean => p === null || (typeof p === 'string' ? p.length <= MAX_PARAMETER_CHARS : p.base64.length <= MAX_PARAMETER_CHARS);
  if (parameters.length <= MAX_PARAMETERS && parameters.every(fits)) return parameters;
  return parameters
    .slice(0, MAX_PARAMETERS)
    .map((p) => (p === null ? null : typeof p === 'string' ? cut(p, MAX_PARAMETER_CHARS) : { base64: cut(p.base64, MAX_PARAMETER_CHARS) }));
}
