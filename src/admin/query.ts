/**
 * Query parameters of the admin API, parsed into what the recording queries take. Pure:
 * each parser returns the value or a message naming the parameter and what it expects.
 */
import { APPROVAL_STATUSES, isApprovalStatus, type ApprovalStatus } from '../approvals/types.js';
import { DurationError, formatDuration, parseDuration } from '../config/duration.js';
import type { SessionFilter } from '../recording/session-query.js';
import type { Anchor } from '../recording/verify.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

type Params = ReadonlyMap<string, readonly string[]>;

export const DEFAULT_SESSION_LIMIT = 100;
export const MAX_SESSION_LIMIT = 1000;
export const DEFAULT_EVENT_LIMIT = 1000;
export const MAX_EVENT_LIMIT = 10_000;

const DECISIONS = ['allow', 'deny', 'review'] as const;

export interface SessionsQuery {
  readonly filter: SessionFilter;
  readonly limit: number;
}

export function parseSessionsQuery(params: Params): Parsed<SessionsQuery> {
  const filter: { -readonly [K in keyof SessionFilter]: SessionFilter[K] } = {};
  const connection = first(params, 'connection');
  const subject = first(params, 'subject');
  if (connection !== undefined) filter.connection = connection;
  if (subject !== undefined) filter.subject = subject;
  const since = first(params, 'since');
  if (since !== undefined) {
    const at = parseInstant(since);
    if (at === undefined) {
      return fail(`since=${JSON.stringify(since)}: expected an ISO 8601 time ("2025-01-31", "2025-01-31T09:00:00Z") or epoch milliseconds`);
    }
    filter.since = at;
  }
  const decision = first(params, 'decision');
  if (decision !== undefined) {
    if (!(DECISIONS as readonly string[]).includes(decision)) return fail(`decision=${JSON.stringify(decision)}: expected allow, deny or review`);
    filter.decision = decision as (typeof DECISIONS)[number];
  }
  const limit = parseLimit(params, DEFAULT_SESSION_LIMIT, MAX_SESSION_LIMIT);
  if (!limit.ok) return limit;
  return { ok: true, value: { filter, limit: limit.value } };
}

export interface EventsQuery {
  /** Only events with a greater seq (0: from the first). */
  readonly after: number;
  readonly limit: number;
}

export function parseEventsQuery(params: Params): Parsed<EventsQuery> {
  const afterText = first(params, 'after');
  let after = 0;
  if (afterText !== undefined) {
    if (!/^\d{1,15}$/.test(afterText)) return fail(`after=${JSON.stringify(afterText)}: expected an event seq (a whole number ≥ 0), such as the "next" of the previous page`);
    after = Number(afterText);
  }
  const limit = parseLimit(params, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT);
  if (!limit.ok) return limit;
  return { ok: true, value: { after, limit: limit.value } };
}

/** `anchor=SEQ:HASH`, repeatable: global entries kept elsewhere that must still be there. */
export function parseVerifyQuery(params: Params): Parsed<{ readonly anchors: readonly Anchor[] }> {
  const anchors: Anchor[] = [];
  for (const value of params.get('anchor') ?? []) {
    const match = /^(\d{1,15}):([0-9a-fA-F]{64})$/.exec(value);
    if (match === null) return fail(`anchor=${JSON.stringify(value)}: expected SEQ:HASH (a global entry number, ":", its 64-digit hex hash)`);
    anchors.push({ globalSeq: Number(match[1]), hash: (match[2] as string).toLowerCase() });
  }
  return { ok: true, value: { anchors } };
}

/** The statuses are the approvals' (src/approvals/types.ts); re-exported for the API's callers. */
export { APPROVAL_STATUSES, isApprovalStatus };

export interface ApprovalsQuery {
  readonly status: ApprovalStatus | undefined;
}

export function parseApprovalsQuery(params: Params): Parsed<ApprovalsQuery> {
  const status = first(params, 'status');
  if (status === undefined) return { ok: true, value: { status: undefined } };
  if (!isApprovalStatus(status)) return fail(`status=${JSON.stringify(status)}: expected ${APPROVAL_STATUSES.join(', ')}`);
  return { ok: true, value: { status } };
}

export const DEFAULT_WAIT_MS = 30_000;
/** A long poll holds a connection (and a slot under any proxy's timeout): bounded. */
export const MAX_WAIT_MS = 5 * 60_000;

/** `timeout=30s`: how long a long poll waits for a decision (a duration, default 30 s, at most 5 min). */
export function parseWaitQuery(params: Params): Parsed<{ readonly timeoutMs: number }> {
  const text = first(params, 'timeout');
  if (text === undefined) return { ok: true, value: { timeoutMs: DEFAULT_WAIT_MS } };
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(text);
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    timeoutMs = NaN;
  }
  if (!(timeoutMs >= 1 && timeoutMs <= MAX_WAIT_MS)) {
    return fail(`timeout=${JSON.stringify(text)}: expected a duration from 1ms to ${formatDuration(MAX_WAIT_MS)} such as "30s" or "2m"; wait again for longer`);
  }
  return { ok: true, value: { timeoutMs } };
}

/** An ISO 8601 date or date-time, or whole epoch milliseconds. */
export function parseInstant(value: string): number | undefined {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

function parseLimit(params: Params, fallback: number, max: number): Parsed<number> {
  const text = first(params, 'limit');
  if (text === undefined) return { ok: true, value: fallback };
  const limit = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= max)) return fail(`limit=${JSON.stringify(text)}: expected a whole number from 1 to ${max}`);
  return { ok: true, value: limit };
}

function first(params: Params, name: string): string | undefined {
  return params.get(name)?.[0];
}

function fail<T>(message: string): Parsed<T> {
  return { ok: false, message };
}
