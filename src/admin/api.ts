/**
 * The admin API's answers, computed from a read-only recording store: session summaries,
 * one session's events, and audit verification. Pure over the store interfaces (the server
 * opens the store and turns these into HTTP responses).
 *
 * Times are ISO 8601 strings (UTC); durations are milliseconds. Each event carries its
 * decoded payload and its chain hashes, so a caller can see what happened and match it
 * against `portcullis sessions export`.
 */
import type { KeyObject } from 'node:crypto';
import { keyId } from '../recording/chain.js';
import { decodeEvent, findSession, listSessions, type SessionReader, type SessionSummary } from '../recording/session-query.js';
import type { AuditSource, EventRow } from '../recording/store.js';
import { verifyAudit, type Anchor } from '../recording/verify.js';
import type { EventsQuery, SessionsQuery } from './query.js';

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

/** Matching sessions, newest first, at most `limit` of them. */
export function sessionsResponse(store: SessionReader, query: SessionsQuery): ApiResponse {
  const all = listSessions(store, query.filter);
  const newestFirst = all.reverse();
  const sessions = newestFirst.slice(0, query.limit).map(sessionJson);
  return { status: 200, body: { sessions, total: newestFirst.length, limit: query.limit, truncated: newestFirst.length > query.limit } };
}

export function sessionResponse(store: SessionReader, id: string): ApiResponse {
  const found = findSession(store, id);
  if (found === undefined) return noSuchSession(id);
  return { status: 200, body: sessionJson(found.summary) };
}

/** One page of a session's events: those after `query.after`, up to `limit`; `next` is the `after` of the next page. */
export function sessionEventsResponse(store: SessionReader, id: string, query: EventsQuery): ApiResponse {
  const found = findSession(store, id);
  if (found === undefined) return noSuchSession(id);
  const remaining = found.events.filter((event) => event.seq > query.after);
  const page = remaining.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    status: 200,
    body: {
      sessionId: id,
      events: page.map(eventJson),
      next: remaining.length > page.length && last !== undefined ? last.seq : null,
    },
  };
}

/**
 * Runs `verifyAudit` (synchronously: it blocks the process for as long as it reads, about a
 * second per 100 000 events). 200 whatever it finds: `ok` and `problems` say what that is.
 */
export function verifyResponse(store: AuditSource, publicKey: KeyObject, anchors: readonly Anchor[]): ApiResponse {
  const result = verifyAudit(store, publicKey, { anchors });
  return {
    status: 200,
    body: {
      ...result,
      publicKey: {
        id: keyId(publicKey),
        from: 'data-dir',
        note:
          'verified with the public key in the gateway\'s data directory, which whoever can rewrite the database can replace too; ' +
          'for tamper evidence, also verify offline with an exported key: portcullis audit verify --public-key FILE',
      },
    },
  };
}

export function sessionJson(summary: SessionSummary): Record<string, unknown> {
  return {
    ...summary,
    startedAt: iso(summary.startedAt),
    endedAt: summary.endedAt === null ? null : iso(summary.endedAt),
    durationMs: summary.endedAt === null ? null : summary.endedAt - summary.startedAt,
  };
}

export function eventJson(row: EventRow): Record<string, unknown> {
  return { seq: row.seq, time: iso(row.time), type: row.type, payload: decodeEvent(row).data, prevHash: row.prevHash, hash: row.hash };
}

function noSuchSession(id: string): ApiResponse {
  return {
    status: 404,
    body: { error: 'not_found', message: `no session ${JSON.stringify(id)} is recorded; list the recorded sessions with GET /api/sessions` },
  };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
