/**
 * Just-in-time approvals: what a front door asks for when the gate says `review`, and what
 * approvers (through the admin API and CLI) decide. An approval is bound to one exact
 * operation by one identity on one connection (`OperationBinding`): nothing else is released
 * by it.
 */
import type { ReviewConfig } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import type { RecordedParameter } from '../recording/recorder.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** Who asked for what: the approval releases exactly this. */
export interface OperationBinding {
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly connection: string;
  readonly rule: string;
  /** `operationHash(text, parameters)` (./binding.ts). */
  readonly operationHash: string;
}

export interface ApprovalDecision {
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly decision: 'approve' | 'deny';
  readonly comment: string;
  /** Epoch ms. */
  readonly at: number;
}

export interface ApprovalRequest extends OperationBinding {
  /** Unguessable, URL-safe. */
  readonly id: string;
  readonly status: ApprovalStatus;
  readonly groups: readonly string[];
  /** The exact statement text and bind parameters held. */
  readonly text: string;
  readonly parameters: readonly RecordedParameter[] | undefined;
  /** The session the operation was held in. */
  readonly sessionId: string;
  /** The rule's reason (shown to approvers and to the agent). */
  readonly reason: string;
  /** Groups whose members may approve, and how many distinct approvers are needed. */
  readonly approvers: readonly string[];
  readonly minApprovals: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** When a pending request is denied as timed out. */
  readonly expiresAt: number;
  readonly decisions: readonly ApprovalDecision[];
  /** Set once the approved operation ran (a `once` grant is used up). */
  readonly redeemedAt: number | undefined;
  /** Until when an approved, unredeemed `once` grant can be redeemed on a new connection. */
  readonly grantExpiresAt: number | undefined;
}

export interface NewApprovalRequest extends OperationBinding {
  readonly groups: readonly string[];
  readonly text: string;
  readonly parameters: readonly RecordedParameter[] | undefined;
  readonly sessionId: string;
  readonly reason: string;
  readonly review: ReviewConfig;
}

/** Why an approver's request was refused; `status` is the HTTP status the API answers with. */
export class ApprovalError extends Error {
  override readonly name = 'ApprovalError';
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export interface ApprovalService {
  /**
   * An approved, unredeemed grant for exactly this binding (e.g. the agent reconnected after
   * its connection closed while waiting), marked redeemed; undefined when there is none.
   */
  redeem(binding: OperationBinding): ApprovalRequest | undefined;
  /** Records a new pending request (durably) and starts its timeout. */
  request(input: NewApprovalRequest): ApprovalRequest;
  /**
   * Resolves once the request is no longer pending (approved, denied or expired), or when
   * `signal` aborts (then with the request as it is).
   */
  wait(id: string, signal?: AbortSignal): Promise<ApprovalRequest>;
  /**
   * Marks an approved request's operation as run (its `once` grant is used up). Called by the
   * front door that held it when it forwards it.
   */
  markRedeemed(id: string): void;
  /**
   * An approver's decision. Throws ApprovalError: 404 unknown id; 409 not pending; 403 the
   * approver is not in the rule's approvers groups, or is the requester (same subject or client
   * id), or already decided it. One deny denies; `minApprovals` distinct approvals approve.
   */
  decide(id: string, approver: Identity, decision: 'approve' | 'deny', comment: string): ApprovalRequest;
  get(id: string): ApprovalRequest | undefined;
  list(filter?: { readonly status?: ApprovalStatus }): ApprovalRequest[];
  close(): void;
}
