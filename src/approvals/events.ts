/**
 * The steps of an approval request the audit log records (issue 5, point 8), and how each
 * becomes a global entry of the tamper-evident log (`Recorder.approvalEvent`). The service
 * emits them; the gateway passes them to the recorder with `toApprovalRecord`.
 */
import type { ApprovalEvent } from '../recording/recorder.js';
import type { ApprovalRequest } from './types.js';

export type ApprovalAuditKind =
  /** A pending request was created (the operation is held, or an identity asked for access to a connection). */
  | 'requested'
  /** The request reached its approvals (`by` made the last one). */
  | 'approved'
  /** An eligible approver (`by`) denied it. */
  | 'denied'
  /** An approval that did not yet reach `minApprovals`. */
  | 'decision'
  /** No decision before its deadline: denied as timed out. */
  | 'expired'
  /**
   * The grant released an operation: a `once` grant its approved operation (then it is used
   * up); a window grant any operation under its rule — one step per operation released.
   */
  | 'redeemed'
  /** An approver or admin (`by`) withdrew the approved grant. */
  | 'revoked';

export interface ApprovalAuditEvent {
  readonly kind: ApprovalAuditKind;
  /** The request as it is after this step. */
  readonly request: ApprovalRequest;
  /** The approver, for `approved`, `denied` and `decision`; who revoked, for `revoked`. */
  readonly by?: { readonly subject: string; readonly clientId: string | undefined };
  readonly comment?: string;
  /** For `redeemed`: the hash of the operation released (a window grant releases operations other than the one approved). */
  readonly releasedOperationHash?: string;
}

/**
 * The recorder entry for a step: the request id and kind, and what an auditor needs to know
 * about it. `requested` carries the whole held operation (text and parameters; the hash in
 * the binding covers exactly these); later steps carry the status and the times that changed.
 * Every step says which kind of request it is about (`requestKind`: `operation` or `access`;
 * not `kind`, which the entry uses for the step).
 */
export function toApprovalRecord(event: ApprovalAuditEvent): ApprovalEvent {
  const { request } = event;
  const by = event.by === undefined ? {} : { by: { subject: event.by.subject, clientId: event.by.clientId ?? null } };
  const comment = event.comment === undefined ? {} : { comment: event.comment };
  // What every step's entry says about the request it belongs to.
  const record = (details: Record<string, unknown>): ApprovalEvent => ({
    requestId: request.id,
    kind: event.kind,
    payload: { requestKind: request.kind, sessionId: request.sessionId, ...details },
  });
  if (event.kind === 'requested') {
    return record({
      subject: request.subject,
      clientId: request.clientId ?? null,
      connection: request.connection,
      rule: request.rule,
      reason: request.reason,
      operationHash: request.operationHash,
      text: request.text,
      parameters: request.parameters ?? null,
      approvers: request.approvers,
      minApprovals: request.minApprovals,
      grant: request.grant,
      createdAt: request.createdAt,
      expiresAt: request.expiresAt,
    });
  }
  return record({
    status: request.status,
    operationHash: request.operationHash,
    ...by,
    ...comment,
    approvals: request.decisions.filter((decision) => decision.decision === 'approve').length,
    minApprovals: request.minApprovals,
    ...(request.grantExpiresAt === undefined ? {} : { grantExpiresAt: request.grantExpiresAt }),
    ...(request.redeemedAt === undefined ? {} : { redeemedAt: request.redeemedAt }),
    ...(event.releasedOperationHash === undefined ? {} : { releasedOperationHash: event.releasedOperationHash, uses: request.uses }),
    ...(request.revocation === undefined ? {} : { revokedAt: request.revocation.at, asAdmin: request.revocation.asAdmin }),
  });
}
