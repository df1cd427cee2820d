/**
 * Who may decide an approval request, and what a decision does to it (issue 5, point 5).
 * Pure: a request and a decision in, the request after it out, or an ApprovalError saying
 * why the decision was refused and what to do instead.
 */
import type { Identity } from '../identity/identity.js';
import { ApprovalError, type ApprovalDecision, type ApprovalRequest, type ApprovalStatus } from './types.js';

/** Comments travel to the agent in an ErrorResponse and to chat messages: kept short. */
export const MAX_COMMENT_LENGTH = 2000;

export type Approver = Pick<Identity, 'subject' | 'clientId' | 'groups'>;

/** What one decision did: the recorded decision, the request after it, and the audit step it is. */
export interface DecisionStep {
  readonly kind: 'approved' | 'denied' | 'decision';
  readonly decision: ApprovalDecision;
  readonly request: ApprovalRequest;
}

/**
 * The status a request has at `now`: a pending request past its deadline has timed out, even
 * before the service's timer has written that down.
 */
export function effectiveStatus(request: Pick<ApprovalRequest, 'status' | 'expiresAt'>, now: number): ApprovalStatus {
  return request.status === 'pending' && now >= request.expiresAt ? 'expired' : request.status;
}

/**
 * Applies an approver's decision. Refusals, in this order: 400 the decision or comment is
 * malformed; 409 the request is no longer pending; 403 the approver is the requester (same
 * subject, or same client id), is in none of the approvers groups, or already decided it.
 * One deny denies; `minApprovals` distinct approving subjects approve, and the approval opens
 * a `once` grant until `at + grantTtlMs`.
 */
export function applyDecision(
  request: ApprovalRequest,
  approver: Approver,
  decision: 'approve' | 'deny',
  comment: string,
  at: number,
  grantTtlMs: number,
): DecisionStep {
  const { id } = request;
  if (decision !== 'approve' && decision !== 'deny') {
    throw new ApprovalError(400, `the decision must be "approve" or "deny", not ${JSON.stringify(decision)}`);
  }
  if (typeof comment !== 'string') throw new ApprovalError(400, 'the comment must be text (it may be empty)');
  if (comment.length > MAX_COMMENT_LENGTH) {
    throw new ApprovalError(400, `the comment is ${comment.length} characters long; at most ${MAX_COMMENT_LENGTH} are allowed: shorten it and decide again`);
  }
  if (comment.includes('\0')) throw new ApprovalError(400, 'the comment contains a NUL character, which cannot be sent to the agent: remove it and decide again');

  const status = effectiveStatus(request, at);
  if (status !== 'pending') throw new ApprovalError(409, `approval request ${id} ${notPending(request, status)}; only a pending request can be decided`);

  const groups = request.approvers.join(', ');
  if (approver.subject === request.subject || (approver.clientId !== undefined && approver.clientId === request.clientId)) {
    const how = approver.subject === request.subject ? `subject ${approver.subject}` : `client ${approver.clientId}`;
    throw new ApprovalError(
      403,
      `approval request ${id} was made by ${how}, and nobody decides their own request: ask another member of ${plural('group', request.approvers)} ${groups} to decide it`,
    );
  }
  if (!approver.groups.some((group) => request.approvers.includes(group))) {
    const theirs = approver.groups.length === 0 ? 'no groups' : `${plural('group', approver.groups)} ${approver.groups.join(', ')}`;
    throw new ApprovalError(
      403,
      `${approver.subject} may not decide approval request ${id}: rule ${request.rule} needs a member of ${plural('group', request.approvers)} ${groups}, ` +
        `and ${approver.subject} is in ${theirs}; ask a member of ${groups} to decide it`,
    );
  }
  const earlier = request.decisions.find((d) => d.subject === approver.subject);
  if (earlier !== undefined) {
    throw new ApprovalError(
      403,
      `${approver.subject} already ${earlier.decision === 'approve' ? 'approved' : 'denied'} approval request ${id} at ${iso(earlier.at)}; ` +
        `each approver decides once: it needs ${request.minApprovals} distinct approvers, so ask another member of ${groups}`,
    );
  }

  const recorded: ApprovalDecision = { subject: approver.subject, clientId: approver.clientId, decision, comment, at };
  const decisions = [...request.decisions, recorded];
  if (decision === 'deny') return { kind: 'denied', decision: recorded, request: { ...request, decisions, status: 'denied' } };
  const approvals = decisions.filter((d) => d.decision === 'approve').length;
  if (approvals < request.minApprovals) return { kind: 'decision', decision: recorded, request: { ...request, decisions } };
  return { kind: 'approved', decision: recorded, request: { ...request, decisions, status: 'approved', grantExpiresAt: at + grantTtlMs } };
}

/** Why a request can no longer be decided, in words for the approver. */
function notPending(request: ApprovalRequest, status: ApprovalStatus): string {
  if (status === 'expired') {
    return `timed out at ${iso(request.expiresAt)} (the agent was told it was denied; it may retry the operation to ask again)`;
  }
  const last = request.decisions.at(-1);
  return `was already ${status}${last === undefined ? '' : ` by ${last.subject} at ${iso(last.at)}`}`;
}

function plural(word: string, items: readonly unknown[]): string {
  return items.length === 1 ? word : `${word}s`;
}

/** An epoch-ms time as approvers and agents read it. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
