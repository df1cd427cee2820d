/**
 * Just-in-time approvals: what a front door asks for when the gate says `review`, and what
 * approvers (through the admin API and CLI) decide. An approval is bound to one exact
 * operation by one identity on one connection (`OperationBinding`): nothing else is released
 * by it.
 */
import type { AccessApprovalConfig, ReviewConfig, ReviewGrant } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import { BUILTIN_RULE } from '../policy/builtin.js';
import type { RecordedParameter } from '../recording/recorder.js';

/**
 * `operation`: an operation held under a review rule, released by the approval's grant.
 * `access`: an identity asked to open a connection with `access.require_approval`
 * (`requestAccess`); its approval admits that identity's sessions on that connection for the
 * requested duration (`accessGrant`) and releases no operation.
 */
export type ApprovalKind = 'operation' | 'access';

/** The rule every access request is recorded under (reserved: no configured rule has it). */
export const ACCESS_REQUEST_RULE = BUILTIN_RULE.accessRequest;

/**
 * `pending` until decided: `approved` (its grant releases operations until it expires or is
 * used up), `denied`, `expired` (no decision in time); an approved grant can become `revoked`.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'revoked';

/** Every status, in lifecycle order (for parsing `?status=` and `--status`). */
export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'revoked'] as const satisfies readonly ApprovalStatus[];
// Compile-time: a status added to ApprovalStatus but not listed here is a type error.
const statusesComplete: Exclude<ApprovalStatus, (typeof APPROVAL_STATUSES)[number]> extends never ? true : never = true;
void statusesComplete;

export function isApprovalStatus(value: string): value is ApprovalStatus {
  return (APPROVAL_STATUSES as readonly string[]).includes(value);
}

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

/**
 * An operation held for approval, or an access request (`kind`). An access request has the
 * same fields, filled as: `rule` ACCESS_REQUEST_RULE; `text` what is asked, in words
 * (`access to connection "prod" for 30m: <reason>`); `operationHash` `accessHash(…)` of it;
 * no `parameters`; `sessionId` empty (there is no session yet); `reason` the requester's; and
 * a window `grant` of the requested duration.
 */
export interface ApprovalRequest extends OperationBinding {
  /** Unguessable, URL-safe. */
  readonly id: string;
  readonly kind: ApprovalKind;
  readonly status: ApprovalStatus;
  readonly groups: readonly string[];
  /** The exact statement text and bind parameters held. */
  readonly text: string;
  readonly parameters: readonly RecordedParameter[] | undefined;
  /** The session the operation was held in ('' for an access request). */
  readonly sessionId: string;
  /** The rule's reason (shown to approvers and to the agent); for an access request, why the requester asked. */
  readonly reason: string;
  /** Groups whose members may approve, and how many distinct approvers are needed. */
  readonly approvers: readonly string[];
  readonly minApprovals: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** When a pending request is denied as timed out. */
  readonly expiresAt: number;
  readonly decisions: readonly ApprovalDecision[];
  /** What the approval releases, as the rule said when the request was made. */
  readonly grant: ReviewGrant;
  /** When the grant was first used (a `once` grant is then used up). */
  readonly redeemedAt: number | undefined;
  /** How many operations the grant released (a `once` grant: at most 1). */
  readonly uses: number;
  /**
   * Set on approval: until when the grant can be used — a `once` grant's operation on a new
   * connection (approval + `grant_ttl`), a window grant's operations (approval + its duration).
   */
  readonly grantExpiresAt: number | undefined;
  /** Set when the status is `revoked`. */
  readonly revocation: ApprovalRevocation | undefined;
}

/** Who withdrew an approved grant, when and why. */
export interface ApprovalRevocation {
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly comment: string;
  /** Epoch ms. */
  readonly at: number;
  /** Revoked as an admin of the gateway, rather than as a member of the rule's approvers groups. */
  readonly asAdmin: boolean;
}

export interface NewApprovalRequest extends OperationBinding {
  readonly groups: readonly string[];
  readonly text: string;
  readonly parameters: readonly RecordedParameter[] | undefined;
  readonly sessionId: string;
  readonly reason: string;
  readonly review: ReviewConfig;
}

/** What an agent asks for with `POST /api/access-requests` (identity from its token, config from its connection). */
export interface NewAccessRequest {
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly groups: readonly string[];
  readonly connection: string;
  /** How long the access lasts once approved, at most `config.maxDurationMs`. */
  readonly durationMs: number;
  /** Why, for the approvers: non-empty, at most MAX_ACCESS_REASON_LENGTH characters. */
  readonly reason: string;
  /** The connection's `access.require_approval`. */
  readonly config: AccessApprovalConfig;
}

/** What `accessGrant` returns: the approved request that admits the session, and until when. */
export interface AccessGrant {
  readonly requestId: string;
  /** Epoch ms: sessions it admitted are ended then. */
  readonly expiresAt: number;
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
   * A grant that releases this operation now, its use recorded (and audited); undefined when
   * there is none. Either an approved, unused `once` grant for exactly this binding (e.g. the
   * agent reconnected after its connection closed while waiting), which is then used up; or an
   * active window grant (`grant: 30m`) for the same identity, connection and rule, whatever the
   * operation, which stays usable until it expires or is revoked. Never an access request's
   * grant: those admit sessions (`accessGrant`), they release no operation.
   */
  redeem(binding: OperationBinding): ApprovalRequest | undefined;
  /** Records a new pending request (durably) and starts its timeout. */
  request(input: NewApprovalRequest): ApprovalRequest;
  /**
   * The approved, unexpired, unrevoked access grant of this identity (same subject and client
   * id) for this connection (latest expiry), or undefined. Reads only: nothing is recorded.
   * Throws ApprovalStoreError when the state cannot be read (refuse the session: fail closed).
   */
  accessGrant(subject: string, clientId: string | undefined, connection: string): AccessGrant | undefined;
  /**
   * Records a pending access request (durably, audited) and starts its timeout; it is decided,
   * revoked and waited on like any request. Throws ApprovalError 400 for a bad duration or
   * reason, or a duration above `config.maxDurationMs`.
   */
  requestAccess(input: NewAccessRequest): ApprovalRequest;
  /**
   * Resolves once the request is no longer pending (approved, denied or expired), or when
   * `signal` aborts (then with the request as it is).
   */
  wait(id: string, signal?: AbortSignal): Promise<ApprovalRequest>;
  /**
   * Records that an approved request's own operation runs (a `once` grant is used up; a window
   * grant counts a use). Called by the front door that held it, before it forwards it.
   * Throws ApprovalError 409 when the grant can no longer be used (used up, expired, revoked),
   * or the request is an access request (it releases no operation).
   */
  markRedeemed(id: string): void;
  /**
   * An approver's decision. Throws ApprovalError: 404 unknown id; 409 not pending; 403 the
   * approver is not in the rule's approvers groups, or is the requester (same subject or client
   * id), or already decided it. One deny denies; `minApprovals` distinct approvals approve.
   */
  decide(id: string, approver: Identity, decision: 'approve' | 'deny', comment: string): ApprovalRequest;
  /**
   * Withdraws an approved grant that can still be used (a `once` grant not yet used, a window
   * grant not yet expired): `redeem` no longer returns it, and its status becomes `revoked`.
   * Allowed to members of the rule's approvers groups, and to gateway admins (`asAdmin`, which
   * the caller decides from the admin groups). Throws ApprovalError: 400 no comment; 404 unknown
   * id; 403 not allowed; 409 not approved (a pending request is denied instead) or nothing left
   * to revoke.
   */
  revoke(id: string, by: Identity, comment: string, asAdmin: boolean): ApprovalRequest;
  get(id: string): ApprovalRequest | undefined;
  list(filter?: { readonly status?: ApprovalStatus }): ApprovalRequest[];
  close(): void;
}
