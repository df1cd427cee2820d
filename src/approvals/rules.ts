/**
 * Who may decide an approval request and revoke its grant, what a decision or a revocation
 * does to it (issue 5, points 3 and 5), and whether a grant can still be used. Pure: a request
 * and an action in, the request after it out, or an ApprovalError saying why the action was
 * refused and what to do instead.
 */
import type { ReviewGrant } from '../config/types.js';
import { formatDuration } from '../config/duration.js';
import type { Identity } from '../identity/identity.js';
import { ApprovalError, type ApprovalDecision, type ApprovalRequest, type ApprovalRevocation, type ApprovalStatus } from './types.js';

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

/** How long after its approval a grant can be used: a `once` grant's `grant_ttl`, a window grant's duration. */
export function grantLifetimeMs(grant: ReviewGrant): number {
  return grant.kind === 'once' ? grant.ttlMs : grant.durationMs;
}

/** The grant as the config spells it, for messages: `once` or `30m`. */
export function describeGrant(grant: ReviewGrant): string {
  return grant.kind === 'once' ? 'once' : formatDuration(grant.durationMs);
}

/**
 * Why an approved request's grant cannot release an operation at `now` (words for an
 * approver or a log), or undefined when it can: not approved, revoked, a `once` grant already
 * used, or past its `grantExpiresAt`.
 */
export function unusableGrant(request: ApprovalRequest, now: number): string | undefined {
  const { id } = request;
  if (request.status === 'revoked' && request.revocation !== undefined) {
    const { subject, at } = request.revocation;
    return `the grant of approval request ${id} was revoked by ${subject} at ${iso(at)}`;
  }
  if (request.status !== 'approved') return `approval request ${id} is ${request.status}, not approved: its operation must not run`;
  if (request.grant.kind === 'once' && request.redeemedAt !== undefined) {
    return `the grant of approval request ${id} was already used at ${iso(request.redeemedAt)}: a once grant runs its operation once`;
  }
  if (request.grantExpiresAt !== undefined && now >= request.grantExpiresAt) {
    return `the grant of approval request ${id} expired at ${iso(request.grantExpiresAt)}: ask for approval again`;
  }
  return undefined;
}

/**
 * Applies an approver's decision. Refusals, in this order: 400 the decision or comment is
 * malformed; 409 the request is no longer pending; 403 the approver is the requester (same
 * subject, or same client id), is in none of the approvers groups, or already decided it.
 * One deny denies; `minApprovals` distinct approving subjects approve, and the approval opens
 * the request's grant until `at + grantLifetimeMs(grant)`.
 */
export function applyDecision(request: ApprovalRequest, approver: Approver, decision: 'approve' | 'deny', comment: string, at: number): DecisionStep {
  const { id } = request;
  if (decision !== 'approve' && decision !== 'deny') {
    throw new ApprovalError(400, `the decision must be "approve" or "deny", not ${JSON.stringify(decision)}`);
  }
  checkComment(comment, 'decide');

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
      `${approver.subject} may not decide approval request ${id}: ${approvalNeed(request)} needs a member of ${plural('group', request.approvers)} ${groups}, ` +
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
  return {
    kind: 'approved',
    decision: recorded,
    request: { ...request, decisions, status: 'approved', grantExpiresAt: at + grantLifetimeMs(request.grant) },
  };
}

/**
 * Revokes an approved grant. Refusals, in this order: 400 the comment is missing or malformed;
 * 403 `by` is neither an admin (`asAdmin`) nor in one of the rule's approvers groups; 409 the
 * request is pending (deny it instead), was denied, expired or already revoked, or its grant
 * is used up or expired (nothing left to revoke).
 */
export function applyRevoke(
  request: ApprovalRequest,
  by: Approver,
  comment: string,
  at: number,
  asAdmin: boolean,
): { readonly revocation: ApprovalRevocation; readonly request: ApprovalRequest } {
  const { id } = request;
  checkComment(comment, 'revoke');
  if (comment.trim() === '') {
    throw new ApprovalError(400, 'revoking needs a comment: it is recorded with the revocation and tells the agent and auditors why; give one and revoke again');
  }
  const groups = request.approvers.join(', ');
  if (!asAdmin && !by.groups.some((group) => request.approvers.includes(group))) {
    throw new ApprovalError(
      403,
      `${by.subject} may not revoke the grant of approval request ${id}: only members of ${plural('group', request.approvers)} ${groups} ` +
        `(${approvalNeed(request)}'s approvers) and gateway admins may; ask one of them to revoke it`,
    );
  }
  const status = effectiveStatus(request, at);
  if (status === 'pending') {
    throw new ApprovalError(409, `approval request ${id} is pending, not approved: there is no grant to revoke; deny it instead ("portcullis approvals deny ${id} --comment …")`);
  }
  const unusable = unusableGrant({ ...request, status }, at);
  if (unusable !== undefined) {
    const why = status === 'approved' ? unusable : `approval request ${id} ${notPending(request, status)}`;
    throw new ApprovalError(409, `${why}; there is nothing left to revoke`);
  }
  const revocation: ApprovalRevocation = { subject: by.subject, clientId: by.clientId, comment, at, asAdmin };
  return { revocation, request: { ...request, status: 'revoked', revocation } };
}

/** Comments travel to agents, chat messages and the audit log: text, bounded, no NUL. */
function checkComment(comment: string, action: 'decide' | 'revoke'): void {
  if (typeof comment !== 'string') throw new ApprovalError(400, `the comment must be text${action === 'decide' ? ' (it may be empty)' : ''}`);
  if (comment.length > MAX_COMMENT_LENGTH) {
    throw new ApprovalError(400, `the comment is ${comment.length} characters long; at most ${MAX_COMMENT_LENGTH} are allowed: shorten it and ${action} again`);
  }
  if (comment.includes('\0')) throw new ApprovalError(400, `the comment contains a NUL character, which cannot be sent to the agent: remove it and ${action} again`);
}

/** Why a request can no longer be decided, in words for the approver. */
function notPending(request: ApprovalRequest, status: ApprovalStatus): string {
  if (status === 'expired') {
    const again = request.kind === 'access' ? 'it may ask for access again' : 'the agent was told it was denied; it may retry the operation to ask again';
    return `timed out at ${iso(request.expiresAt)} (${again})`;
  }
  if (status === 'revoked' && request.revocation !== undefined) {
    return `was approved, then revoked by ${request.revocation.subject} at ${iso(request.revocation.at)}`;
  }
  const last = request.decisions.at(-1);
  return `was already ${status}${last === undefined ? '' : ` by ${last.subject} at ${iso(last.at)}`}`;
}

/** What needs the approvers, for messages: a review rule, or a connection's `access.require_approval`. */
function approvalNeed(request: Pick<ApprovalRequest, 'kind' | 'rule' | 'connection'>): string {
  return request.kind === 'access' ? `access to connection ${request.connection}` : `rule ${request.rule}`;
}

function plural(word: string, items: readonly unknown[]): string {
  return items.length === 1 ? word : `${word}s`;
}

/** An epoch-ms time as approvers and agents read it. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
