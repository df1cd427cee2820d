/**
 * Access requests (issue 5, point 4): an identity asks to open a connection with
 * `access.require_approval` for a while, and says why. Pure: what the agent sent in, the
 * request to store out, or an ApprovalError 400 saying what to change.
 *
 * An access request is an ApprovalRequest like a held operation, so approvers list, decide,
 * revoke and wait on it with the same rules and endpoints; what it asks for is spelled in
 * `text` (`access to connection "prod" for 30m: <reason>`), and its approval opens a window
 * grant of the requested duration, starting at the approval, that admits sessions only.
 */
import { formatDuration } from '../config/duration.js';
import { accessHash } from './binding.js';
import { ACCESS_REQUEST_RULE, ApprovalError, type ApprovalRequest, type NewAccessRequest } from './types.js';

/** The reason travels to approvers' terminals, chat messages and the audit log: kept short. */
export const MAX_ACCESS_REASON_LENGTH = 1000;

/** What approvers read: `access to connection "prod" for 30m: <reason>`. */
export function accessRequestText(connection: string, durationMs: number, reason: string): string {
  return `access to connection ${JSON.stringify(connection)} for ${formatDuration(durationMs)}: ${reason}`;
}

/**
 * The pending request to store for `input`, made at `createdAt` with id `id`. Throws
 * ApprovalError 400: no reason, a reason too long or holding a NUL, a duration that is not a
 * positive whole number of milliseconds or is longer than the connection's `max_duration`; or
 * a connection config nobody could approve under (a gateway bug: fail closed).
 */
export function newAccessRequest(input: NewAccessRequest, id: string, createdAt: number): ApprovalRequest {
  const { connection, durationMs, config } = input;
  const bad = (why: string): never => {
    throw new ApprovalError(400, `cannot request access to connection ${JSON.stringify(connection)}: ${why}`);
  };
  if (typeof connection !== 'string' || connection === '') bad('name the connection');
  if (config.approvers.length === 0) bad('its access.require_approval names no approvers groups, so nobody could approve it; report this to a Portcullis administrator');
  if (!(Number.isSafeInteger(config.minApprovals) && config.minApprovals >= 1)) bad(`its min_approvals must be a positive integer, not ${config.minApprovals}`);
  if (!(Number.isSafeInteger(config.timeoutMs) && config.timeoutMs > 0)) bad(`its request timeout must be a positive duration, not ${config.timeoutMs} ms`);
  if (!(Number.isSafeInteger(durationMs) && durationMs > 0)) bad(`the duration must be a positive duration such as "30m", not ${String(durationMs)} ms`);
  if (durationMs > config.maxDurationMs) {
    bad(`${formatDuration(durationMs)} is longer than this connection allows (max_duration ${formatDuration(config.maxDurationMs)}): ask for ${formatDuration(config.maxDurationMs)} or less`);
  }
  const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
  if (reason === '') bad('give a reason: approvers decide on it, and it is recorded in the audit log');
  if (reason.length > MAX_ACCESS_REASON_LENGTH) bad(`the reason is ${reason.length} characters long; at most ${MAX_ACCESS_REASON_LENGTH} are allowed: shorten it`);
  if (reason.includes('\0')) bad('the reason contains a NUL character: remove it');
  return {
    id,
    kind: 'access',
    status: 'pending',
    subject: input.subject,
    clientId: input.clientId,
    connection,
    rule: ACCESS_REQUEST_RULE,
    operationHash: accessHash(connection, durationMs, reason),
    groups: [...input.groups],
    text: accessRequestText(connection, durationMs, reason),
    parameters: undefined,
    sessionId: '',
    reason,
    approvers: [...config.approvers],
    minApprovals: config.minApprovals,
    createdAt,
    expiresAt: createdAt + config.timeoutMs,
    decisions: [],
    grant: { kind: 'window', durationMs },
    redeemedAt: undefined,
    uses: 0,
    grantExpiresAt: undefined,
    revocation: undefined,
  };
}
