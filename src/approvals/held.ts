/**
 * What a front door tells an agent about an operation held for approval, in words every
 * protocol uses the same way (a PostgreSQL NoticeResponse, an SSH stderr line).
 */
import type { Decision } from '../policy/operation.js';
import type { ApprovalRequest } from './types.js';

export interface HeldMessage {
  /** That it is held, under which request, and until when. */
  readonly message: string;
  /** Why (the rule's reason) and who may approve. */
  readonly detail: string;
  /** The command an approver runs. */
  readonly hint: string;
}

export function heldMessage(request: ApprovalRequest, timeoutMs: number, what: string): HeldMessage {
  return {
    message:
      `Portcullis: this ${what} is held for approval (request ${request.id}); it runs once approved, ` +
      `and is refused if denied or not decided within ${formatDuration(timeoutMs)}` +
      (request.grant.kind === 'window'
        ? `; an approval also lets your other ${what}s under rule "${request.rule}" on this connection run for ${formatDuration(request.grant.durationMs)}`
        : ''),
    detail: `${request.reason} Approvers: group ${request.approvers.join(', ')}${request.minApprovals > 1 ? ` (${request.minApprovals} needed)` : ''}.`,
    hint: `an approver runs: portcullis approvals approve ${request.id}`,
  };
}

export function approvalsUnavailable(decision: Decision): Decision {
  return {
    ...decision,
    effect: 'deny',
    reason: `${decision.reason} Approvals are not available on this gateway right now, so it was refused; ask a human operator.`,
  };
}

/** What the agent is told when a held operation is not approved. */
export function approvalRefusal(decision: Decision, request: ApprovalRequest): Decision {
  const denial = request.decisions.find((d) => d.decision === 'deny');
  const reason =
    request.status === 'denied' && denial !== undefined
      ? `approval request ${request.id} was denied by ${denial.subject}: ${denial.comment}`
      : request.status === 'approved' || request.status === 'revoked'
        ? `approval request ${request.id} was approved, but its grant was used up, has expired or was revoked; retry to ask again`
        : `approval request ${request.id} timed out: no decision within ${formatDuration(request.expiresAt - request.createdAt)}; ` +
          'ask an approver to look at it sooner, then retry';
  return { ...decision, effect: 'deny', reason: `${reason} (rule "${decision.rule}")` };
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes}m` : `${Math.round(minutes / 60)}h`;
}
