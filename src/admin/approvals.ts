/**
 * The approvals endpoints' answers, computed from the ApprovalService: who may see which
 * request, a request as JSON, and approvers' decisions. Pure over the service interface (the
 * server authenticates, reads the body, builds the abort signal and sends the response).
 *
 * Any verified token may call these routes, so seeing a request is decided here, per request:
 * its requester (same subject: the agent waiting on it), members of its approvers groups,
 * and auditors and admins. Deciding and revoking are the service's call (approvers groups, no
 * self-approval, one decision each; revoking also admins), so every valid token may POST and
 * gets the service's refusal.
 */
import type { ReviewGrant } from '../config/types.js';
import {
  ApprovalError,
  type ApprovalDecision,
  type ApprovalKind,
  type ApprovalRequest,
  type ApprovalRevocation,
  type ApprovalService,
  type ApprovalStatus,
} from '../approvals/types.js';
import type { Identity } from '../identity/identity.js';
import type { RecordedParameter } from '../recording/recorder.js';
import { iso, type ApiResponse } from './api.js';
import type { Role } from './auth.js';
import { errorBody } from './http.js';
import type { ApprovalsQuery, Parsed } from './query.js';

/** A verified caller of an approvals route. */
export interface Caller {
  readonly identity: Identity;
  readonly role: Role;
}

export type Decision = 'approve' | 'deny';

/** What a POST to an approval request does: an approver's decision, or withdrawing its grant. */
export type ApprovalAction = Decision | 'revoke';

/** Why `caller` may see `request`, or undefined when they may not. */
export function viewReason(caller: Caller, request: ApprovalRequest): 'oversight' | 'requester' | 'approver' | undefined {
  if (caller.role === 'auditor' || caller.role === 'admin') return 'oversight';
  if (caller.identity.subject === request.subject) return 'requester';
  if (caller.identity.groups.some((group) => request.approvers.includes(group))) return 'approver';
  return undefined;
}

/** The requests `caller` may see, newest first, optionally only those with `query.status`. */
export function approvalsResponse(service: ApprovalService, caller: Caller, query: ApprovalsQuery): ApiResponse {
  const all = service.list(query.status === undefined ? {} : { status: query.status });
  const visible = all.filter((request) => viewReason(caller, request) !== undefined).sort((a, b) => b.createdAt - a.createdAt);
  return { status: 200, body: { approvals: visible.map(approvalJson), total: visible.length } };
}

export function approvalResponse(service: ApprovalService, caller: Caller, id: string): ApiResponse {
  const found = visibleRequest(service, caller, id);
  return found.ok ? { status: 200, body: approvalJson(found.value) } : found.response;
}

/**
 * The request once it is no longer pending, or as it is when `signal` aborts (the long poll's
 * timeout, the client going away, or shutdown): 200 either way, its `status` says which.
 */
export async function approvalWaitResponse(service: ApprovalService, caller: Caller, id: string, signal: AbortSignal): Promise<ApiResponse> {
  const found = visibleRequest(service, caller, id);
  if (!found.ok) return found.response;
  const request = found.value.status === 'pending' ? await service.wait(id, signal) : found.value;
  return { status: 200, body: approvalJson(request) };
}

/** An approver's decision; the service's refusals (ApprovalError) answer with their status and message. */
export function decisionResponse(service: ApprovalService, caller: Caller, id: string, decision: Decision, body: unknown): ApiResponse {
  const comment = parseDecisionBody(body, decision);
  if (!comment.ok) return { status: 400, body: errorBody('bad_request', comment.message) };
  return serviceAnswer(() => service.decide(id, caller.identity, decision, comment.value));
}

/**
 * Withdraws an approved grant: `{"comment": "why"}` (required). Approvers groups' members may,
 * and admins (the caller's role says so: the service does not know the admin groups).
 */
export function revokeResponse(service: ApprovalService, caller: Caller, id: string, body: unknown): ApiResponse {
  const comment = parseDecisionBody(body, 'revoke');
  if (!comment.ok) return { status: 400, body: errorBody('bad_request', comment.message) };
  return serviceAnswer(() => service.revoke(id, caller.identity, comment.value, caller.role === 'admin'));
}

/** The request after a service call, or the service's refusal (ApprovalError) with its status and message. */
function serviceAnswer(call: () => ApprovalRequest): ApiResponse {
  try {
    return { status: 200, body: approvalJson(call()) };
  } catch (error) {
    if (!(error instanceof ApprovalError)) throw error;
    return { status: error.status, body: errorBody(ERROR_CODES[error.status], error.message) };
  }
}

/** The API's `error` code for each status an ApprovalError carries. */
export const ERROR_CODES = { 400: 'bad_request', 403: 'forbidden', 404: 'not_found', 409: 'conflict' } as const;

/**
 * `{"comment": "…"}` (an empty body arrives as `{}`): the comment, trimmed. Optional to
 * approve; required to deny, since the agent is told why, and to revoke. Other fields are
 * refused: a typo would otherwise be silently dropped.
 */
export function parseDecisionBody(body: unknown, action: ApprovalAction): Parsed<string> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: `the request body must be a JSON object such as {"comment": "…"}, not ${describeJson(body)}` };
  }
  const unknown = Object.keys(body).filter((key) => key !== 'comment');
  if (unknown.length > 0) {
    return { ok: false, message: `unknown field ${JSON.stringify(unknown[0])} in the request body; the only field is "comment"` };
  }
  const comment = (body as { comment?: unknown }).comment ?? '';
  if (typeof comment !== 'string') return { ok: false, message: `"comment" must be a string, not ${describeJson(comment)}` };
  const trimmed = comment.trim();
  if (action === 'deny' && trimmed === '') {
    return {
      ok: false,
      message: 'denying needs a comment: the agent is told why its operation was refused; send {"comment": "why it is denied"}',
    };
  }
  if (action === 'revoke' && trimmed === '') {
    return {
      ok: false,
      message: 'revoking needs a comment: it is recorded with the revocation for the agent and auditors; send {"comment": "why it is revoked"}',
    };
  }
  return { ok: true, value: trimmed };
}

/** The answer when the gateway runs without an ApprovalService. */
export function approvalsDisabledResponse(): ApiResponse {
  return {
    status: 404,
    body: errorBody('not_found', 'approvals are not enabled on this gateway: no rule with effect "review" can be approved here; check the gateway\'s configuration'),
  };
}

/** A request as the API shows it (and the CLI reads it): times as ISO 8601 (UTC), absent values as null. */
export interface ApprovalJson {
  readonly id: string;
  /** `operation` (held under a review rule) or `access` (asked for with POST /api/access-requests). */
  readonly kind: ApprovalKind;
  readonly status: ApprovalStatus;
  readonly subject: string;
  readonly clientId: string | null;
  readonly groups: readonly string[];
  readonly connection: string;
  /** The session the operation was held in; null for an access request (there is no session yet). */
  readonly sessionId: string | null;
  /** The review rule; `access-request` for an access request. */
  readonly rule: string;
  /** The rule's reason; for an access request, the requester's. */
  readonly reason: string;
  /** The statement held; for an access request, what is asked: `access to connection "prod" for 30m: <reason>`. */
  readonly text: string;
  readonly parameters: readonly RecordedParameter[] | null;
  readonly operationHash: string;
  readonly approvers: readonly string[];
  readonly minApprovals: number;
  /** How many distinct approvers have approved so far. */
  readonly approvals: number;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decisions: readonly DecisionJson[];
  /** What an approval releases: `{"kind": "once", "ttlMs": …}` or `{"kind": "window", "durationMs": …}`. */
  readonly grant: ReviewGrant;
  /** When the grant first released an operation. */
  readonly redeemedAt: string | null;
  /** How many operations the grant released. */
  readonly uses: number;
  /** Until when the approved grant can be used (null before approval). */
  readonly grantExpiresAt: string | null;
  /** Who revoked the grant, when and why (status `revoked`), else null. */
  readonly revocation: RevocationJson | null;
}

export interface RevocationJson {
  readonly subject: string;
  readonly clientId: string | null;
  readonly comment: string;
  readonly at: string;
  readonly asAdmin: boolean;
}

export interface DecisionJson {
  readonly subject: string;
  readonly clientId: string | null;
  readonly decision: Decision;
  readonly comment: string;
  readonly at: string;
}

export function approvalJson(request: ApprovalRequest): ApprovalJson {
  return {
    id: request.id,
    kind: request.kind,
    status: request.status,
    subject: request.subject,
    clientId: request.clientId ?? null,
    groups: request.groups,
    connection: request.connection,
    sessionId: request.kind === 'access' ? null : request.sessionId,
    rule: request.rule,
    reason: request.reason,
    text: request.text,
    parameters: request.parameters ?? null,
    operationHash: request.operationHash,
    approvers: request.approvers,
    minApprovals: request.minApprovals,
    approvals: request.decisions.filter((d) => d.decision === 'approve').length,
    createdAt: iso(request.createdAt),
    expiresAt: iso(request.expiresAt),
    decisions: request.decisions.map(decisionJson),
    grant: request.grant,
    redeemedAt: request.redeemedAt === undefined ? null : iso(request.redeemedAt),
    uses: request.uses,
    grantExpiresAt: request.grantExpiresAt === undefined ? null : iso(request.grantExpiresAt),
    revocation: request.revocation === undefined ? null : revocationJson(request.revocation),
  };
}

function revocationJson(revocation: ApprovalRevocation): RevocationJson {
  const { subject, clientId, comment, at, asAdmin } = revocation;
  return { subject, clientId: clientId ?? null, comment, at: iso(at), asAdmin };
}

function decisionJson(decision: ApprovalDecision): DecisionJson {
  return { subject: decision.subject, clientId: decision.clientId ?? null, decision: decision.decision, comment: decision.comment, at: iso(decision.at) };
}

type Found = { readonly ok: true; readonly value: ApprovalRequest } | { readonly ok: false; readonly response: ApiResponse };

/** The request when it exists and `caller` may see it; else the 404 or 403 to answer. */
function visibleRequest(service: ApprovalService, caller: Caller, id: string): Found {
  const request = service.get(id);
  if (request === undefined) {
    return {
      ok: false,
      response: { status: 404, body: errorBody('not_found', `no approval request ${JSON.stringify(id)}; list the requests you may see with GET /api/approvals`) },
    };
  }
  if (viewReason(caller, request) !== undefined) return { ok: true, value: request };
  const groups = request.approvers.map((g) => JSON.stringify(g)).join(', ');
  const approvers = request.approvers.length === 0 ? '' : `members of its approvers ${request.approvers.length === 1 ? 'group' : 'groups'} ${groups}, `;
  return {
    ok: false,
    response: {
      status: 403,
      body: errorBody(
        'forbidden',
        `identity ${JSON.stringify(caller.identity.subject)} may not see approval request ${JSON.stringify(id)}: only the identity that asked, ` +
          `${approvers}auditors and admins may; ` +
          'ask your identity provider administrator for membership, then request a new token',
      ),
    },
  };
}

/** A JSON value's kind, for messages (never the value: it may be long or hold anything). */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
