/**
 * The approvals service: durable requests (./store.ts), the decision rules (./rules.ts), and
 * the timing around them — each pending request's deadline, and the front doors waiting for
 * a decision.
 *
 * Every step (requested, a decision, expired, redeemed, revoked) is written to the approvals
 * database and handed to the `audit` callback in one transaction: when the callback throws (the
 * recorder cannot take it), the step is rolled back and the error passed to the caller, so
 * nothing is requested, approved or released without its audit event. The one exception is a
 * timeout: a request past its deadline is refused as timed out whether or not that could be
 * written down (fail closed); if it could not, it is written at the next start.
 *
 * Pending requests and grants survive a restart: on start, requests past their deadline are
 * expired (audited) and the others' deadlines armed again.
 *
 * Grants, as the rule said when the request was made (`request.grant`):
 * - `once`: the approval releases its exact operation once, either on the connection that held
 *   it (`markRedeemed`) or, within the rule's `grant_ttl` of the approval, on a new one
 *   (`redeem` with the same binding).
 * - window (`grant: 30m`): for that long after the approval, `redeem` releases any operation
 *   by the same identity (subject and client id) on the same connection under the same rule.
 *   It is not used up. Each operation it releases is its own `redeemed` audit step carrying
 *   the released operation's hash and the use count: the audit log says which approval let
 *   each statement run, at one entry per statement (the statement's own recording is another).
 * Either kind can be revoked while it can still be used (`revoke`); `redeem` then stops
 * returning it. A grant's expiry is a time (`grantExpiresAt`), checked at use: nothing needs
 * to fire when it passes.
 *
 * Access requests (`requestAccess`, ./access.ts) are requests of kind `access`: stored,
 * timed out, decided, revoked and audited exactly like held operations. Their approval is a
 * window grant that `accessGrant` reports to a front door admitting a session; `redeem` and
 * `markRedeemed` never release an operation because of one.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../identity/identity.js';
import { silentLogger, type Logger } from '../log.js';
import { newAccessRequest } from './access.js';
import { operationHash } from './binding.js';
import type { ApprovalAuditEvent } from './events.js';
import { applyDecision, applyRevoke, describeGrant, effectiveStatus, grantLifetimeMs, unusableGrant } from './rules.js';
import { ApprovalStore } from './store.js';
import {
  ApprovalError,
  type AccessGrant,
  type ApprovalRequest,
  type ApprovalService,
  type ApprovalStatus,
  type NewAccessRequest,
  type NewApprovalRequest,
  type OperationBinding,
} from './types.js';

export interface ApprovalServiceOptions {
  /** The gateway's data directory: the state is `<dataDir>/approvals.db`. */
  readonly dataDir: string;
  /** Epoch milliseconds (tests inject a clock). */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Receives every step, inside its transaction (throwing refuses the step). The gateway passes them to the recorder. */
  readonly audit?: (event: ApprovalAuditEvent) => void;
}

/** setTimeout's longest delay; a later deadline is armed again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Opens (creating or migrating) `<dataDir>/approvals.db` and resumes its pending requests. Throws ApprovalStoreError. */
export function createApprovalService(options: ApprovalServiceOptions): ApprovalService {
  const store = ApprovalStore.open(options.dataDir);
  try {
    return new StoredApprovalService(store, options);
  } catch (error) {
    store.close();
    throw error;
  }
}

type Waiter = (request: ApprovalRequest) => void;

class StoredApprovalService implements ApprovalService {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly audit: (event: ApprovalAuditEvent) => void;
  private closed = false;

  constructor(
    private readonly store: ApprovalStore,
    options: ApprovalServiceOptions,
  ) {
    this.now = options.now ?? (() => Date.now());
    this.logger = options.logger ?? silentLogger;
    this.audit = options.audit ?? (() => undefined);
    this.resume();
  }

  request(input: NewApprovalRequest): ApprovalRequest {
    checkNewRequest(input);
    const createdAt = this.now();
    const request: ApprovalRequest = {
      id: newId(),
      kind: 'operation',
      status: 'pending',
      subject: input.subject,
      clientId: input.clientId,
      connection: input.connection,
      rule: input.rule,
      operationHash: input.operationHash,
      groups: [...input.groups],
      text: input.text,
      parameters: input.parameters === undefined ? undefined : [...input.parameters],
      sessionId: input.sessionId,
      reason: input.reason,
      approvers: [...input.review.approvers],
      minApprovals: input.review.minApprovals,
      createdAt,
      expiresAt: createdAt + input.review.timeoutMs,
      decisions: [],
      grant: { ...input.review.grant },
      redeemedAt: undefined,
      uses: 0,
      grantExpiresAt: undefined,
      revocation: undefined,
    };
    this.start(request);
    this.logger.info('approval requested', {
      approvalId: request.id,
      rule: request.rule,
      connection: request.connection,
      subject: request.subject,
      sessionId: request.sessionId,
      expiresAt: new Date(request.expiresAt).toISOString(),
    });
    return request;
  }

  requestAccess(input: NewAccessRequest): ApprovalRequest {
    const request = newAccessRequest(input, newId(), this.now());
    this.start(request);
    this.logger.info('access requested', {
      approvalId: request.id,
      connection: request.connection,
      subject: request.subject,
      durationMs: request.grant.kind === 'window' ? request.grant.durationMs : undefined,
      expiresAt: new Date(request.expiresAt).toISOString(),
    });
    return request;
  }

  accessGrant(subject: string, clientId: string | undefined, connection: string): AccessGrant | undefined {
    const grant = this.store.findAccessGrant({ subject, clientId, connection }, this.now());
    // The query only finds approved access requests, which always have an expiry: anything else admits nothing.
    if (grant === undefined || grant.kind !== 'access' || grant.grantExpiresAt === undefined) return undefined;
    return { requestId: grant.id, expiresAt: grant.grantExpiresAt };
  }

  decide(id: string, approver: Identity, decision: 'approve' | 'deny', comment: string): ApprovalRequest {
    const step = applyDecision(this.require(id), approver, decision, comment, this.now());
    const by = { subject: approver.subject, clientId: approver.clientId };
    this.commit({ kind: step.kind, request: step.request, by, comment }, () => this.store.addDecision(step.request, step.decision));
    if (step.request.status !== 'pending') this.settle(step.request);
    this.logger.info(`approval ${step.kind === 'decision' ? 'decision recorded' : step.kind}`, {
      approvalId: id,
      by: approver.subject,
      decision,
      status: step.request.status,
    });
    return step.request;
  }

  /** The exact operation's `once` grant first (the approval made for it), else a window grant under its rule. */
  redeem(binding: OperationBinding): ApprovalRequest | undefined {
    const now = this.now();
    const grant = this.store.findOnceGrant(binding, now) ?? this.store.findWindowGrant(binding, now);
    // The queries find operation grants only; checked again because releasing by an access grant would open every operation.
    return grant === undefined || grant.kind !== 'operation' ? undefined : this.use(grant, binding.operationHash);
  }

  /**
   * Throws ApprovalError 409 when the request is not approved (or was revoked), its `once`
   * grant was already used (it ran on another connection: `redeem`) or has expired, and 404
   * for an unknown id: then the held operation must not be forwarded. Call it before forwarding.
   */
  markRedeemed(id: string): void {
    const request = this.require(id);
    if (request.kind !== 'operation') {
      throw new ApprovalError(409, `approval request ${id} is an access request: it admits sessions on connection ${request.connection}, and releases no operation`);
    }
    const unusable = unusableGrant(request, this.now());
    if (unusable !== undefined) throw new ApprovalError(409, unusable);
    this.use(request, request.operationHash);
  }

  revoke(id: string, by: Identity, comment: string, asAdmin: boolean): ApprovalRequest {
    const { request: revoked, revocation } = applyRevoke(this.require(id), by, comment, this.now(), asAdmin);
    this.commit({ kind: 'revoked', request: revoked, by: { subject: by.subject, clientId: by.clientId }, comment }, () =>
      this.store.markRevoked(id, revocation),
    );
    this.logger.info('approval grant revoked', { approvalId: id, by: by.subject, asAdmin, rule: revoked.rule, subject: revoked.subject });
    return revoked;
  }

  wait(id: string, signal?: AbortSignal): Promise<ApprovalRequest> {
    let request: ApprovalRequest;
    try {
      request = this.require(id);
    } catch (error) {
      return Promise.reject(error);
    }
    if (request.status !== 'pending' || signal?.aborted === true || this.closed) return Promise.resolve(request);
    return new Promise((resolve) => {
      const waiters = this.waiters.get(id) ?? new Set<Waiter>();
      this.waiters.set(id, waiters);
      const onAbort = (): void => finish(this.peek(id) ?? request);
      const finish: Waiter = (result) => {
        waiters.delete(finish);
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      waiters.add(finish);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get(id: string): ApprovalRequest | undefined {
    const request = this.store.get(id);
    return request === undefined ? undefined : this.view(request);
  }

  list(filter: { readonly status?: ApprovalStatus } = {}): ApprovalRequest[] {
    const { status } = filter;
    // A request past its deadline may still be stored as pending for a moment (until its timer runs).
    const stored: readonly ApprovalStatus[] | undefined = status === undefined ? undefined : status === 'expired' ? ['expired', 'pending'] : [status];
    return this.store
      .list(stored)
      .map((request) => this.view(request))
      .filter((request) => status === undefined || request.status === status);
  }

  /** Stops the deadlines, answers every waiter with the request as it is, and closes the database. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const [id, waiters] of [...this.waiters]) {
      const request = this.peek(id);
      if (request !== undefined) for (const waiter of [...waiters]) waiter(request);
    }
    this.waiters.clear();
    this.store.close();
  }

  /** Stores a new pending request (audited) and arms its deadline. */
  private start(request: ApprovalRequest): void {
    this.commit({ kind: 'requested', request }, () => this.store.insert(request));
    this.arm(request);
  }

  /** Records (durably, audited) that the grant releases the operation `operationHash`, and returns the request after it. */
  private use(request: ApprovalRequest, operationHash: string): ApprovalRequest {
    const at = this.now();
    const used: ApprovalRequest = { ...request, redeemedAt: request.redeemedAt ?? at, uses: request.uses + 1 };
    this.commit({ kind: 'redeemed', request: used, releasedOperationHash: operationHash }, () => this.store.recordUse(request.id, at));
    this.logger.info('approval grant used', { approvalId: request.id, grant: describeGrant(request.grant), uses: used.uses, sessionId: request.sessionId });
    return used;
  }

  /** Writes a step and hands it to the audit callback in one transaction (a throwing callback rolls the write back). */
  private commit(event: ApprovalAuditEvent, write: () => void): void {
    this.store.transaction(() => {
      write();
      this.audit(event);
    });
  }

  /** The request with its status as of now. */
  private view(request: ApprovalRequest): ApprovalRequest {
    const status = effectiveStatus(request, this.now());
    return status === request.status ? request : { ...request, status };
  }

  private require(id: string): ApprovalRequest {
    const request = this.get(id);
    if (request === undefined) throw new ApprovalError(404, `there is no approval request ${JSON.stringify(id)}: check the id (list them with "portcullis approvals list")`);
    return request;
  }

  /** The request as it is, or undefined when it cannot be read (closing, or a store failure already reported elsewhere). */
  private peek(id: string): ApprovalRequest | undefined {
    try {
      return this.get(id);
    } catch {
      return undefined;
    }
  }

  /** Expires stored requests past their deadline and arms the others' (after a restart). */
  private resume(): void {
    const now = this.now();
    for (const request of this.store.list(['pending'])) {
      if (now >= request.expiresAt) this.expire(request);
      else this.arm(request);
    }
  }

  private arm(request: ApprovalRequest): void {
    const delay = Math.min(Math.max(request.expiresAt - this.now(), 0), MAX_TIMER_MS);
    const timer = setTimeout(() => this.deadline(request), delay);
    // Pending requests are durable: they need not keep a process alive that is otherwise done.
    timer.unref();
    this.timers.set(request.id, timer);
  }

  private deadline(armed: ApprovalRequest): void {
    this.timers.delete(armed.id);
    if (this.closed) return;
    let request: ApprovalRequest | undefined = armed;
    try {
      request = this.store.get(armed.id);
    } catch (error) {
      this.logger.error('could not read an approval request at its deadline; it is refused as timed out', { approvalId: armed.id, error });
    }
    if (request === undefined || request.status !== 'pending') return;
    // The injected clock (or a wall-clock step) is the authority on the deadline, not the timer.
    if (this.now() < request.expiresAt) return this.arm(request);
    this.expire(request);
  }

  /** Times a pending request out: recorded if possible, and refused (waiters told) in any case. */
  private expire(request: ApprovalRequest): void {
    const expired: ApprovalRequest = { ...request, status: 'expired' };
    try {
      this.commit({ kind: 'expired', request: expired }, () => this.store.markExpired(request.id));
      this.logger.info('approval request timed out', { approvalId: request.id, rule: request.rule, subject: request.subject });
    } catch (error) {
      this.logger.error('could not record that an approval request timed out; it is refused as timed out all the same, and recorded at the next start', {
        approvalId: request.id,
        error,
      });
    }
    this.settle(expired);
  }

  /** The request is decided or timed out: stop its deadline and answer its waiters. */
  private settle(request: ApprovalRequest): void {
    clearTimeout(this.timers.get(request.id));
    this.timers.delete(request.id);
    for (const waiter of [...(this.waiters.get(request.id) ?? [])]) waiter(request);
  }
}

/**
 * Unguessable, URL-safe request ids (128 random bits). Never starting with `-` or `_`: people
 * paste them as command-line arguments, where a leading `-` reads as an option.
 */
export function newId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** Refuses a request the gateway should never make (a front-door or configuration bug): fail closed. */
function checkNewRequest(input: NewApprovalRequest): void {
  const { review } = input;
  const bad = (why: string): never => {
    throw new ApprovalError(400, `cannot hold the operation for approval under rule ${input.rule}: ${why}`);
  };
  if (input.operationHash !== operationHash(input.text, input.parameters)) {
    bad('the operation hash does not match the statement text and parameters (a gateway bug; the operation is refused)');
  }
  if (review.approvers.length === 0) bad('the rule names no approvers groups, so nobody could approve it; add review.approvers to the rule');
  if (!(Number.isSafeInteger(review.minApprovals) && review.minApprovals >= 1)) bad(`min_approvals must be a positive integer, not ${review.minApprovals}`);
  if (!(Number.isSafeInteger(review.timeoutMs) && review.timeoutMs > 0)) bad(`the review timeout must be a positive duration, not ${review.timeoutMs} ms`);
  const grantMs = grantLifetimeMs(review.grant);
  if (!(Number.isSafeInteger(grantMs) && grantMs > 0)) bad(`the grant must last a positive duration, not ${grantMs} ms`);
}
