/**
 * Read-side helpers over a SessionStore, for `portcullis sessions …` (and later the admin
 * API): session summaries with their statement and refusal counts, one session's events,
 * and the decoded payloads of the event types the recorder writes.
 *
 * Reads go through the store's indexes: one session's row and events by its id, and the
 * listing filtered (connection, subject, start time) by the store, so `sessions show ID`
 * reads that session only and a filtered list reads only the sessions it lists. Memory holds
 * only the summaries or the one session asked for.
 */
import type { OperationEvent, OutcomeEvent } from './recorder.js';
import type { EventRow, EventType, SessionRow, SessionStore } from './store.js';
import type { TerminalPayload } from './terminal-event.js';

export type SessionReader = Pick<SessionStore, 'session' | 'sessionEvents' | 'findSessions'>;

/** What `session-start` records. */
export interface StartPayload {
  readonly protocol: string;
  readonly connection: string;
  readonly identity: { readonly subject: string; readonly clientId: string | null; readonly groups: readonly string[] };
  readonly clientAddress: string;
  readonly tls: boolean;
}

/** What `operation` records: the recorder's event without the session id. */
export type OperationPayload = Omit<OperationEvent, 'sessionId'>;

/** What `outcome` records. */
export type OutcomePayload = Omit<OutcomeEvent, 'sessionId'>;

/** What `session-end` records. */
export interface EndPayload {
  readonly endedBy: string;
  readonly reason: string;
}

export type DecodedEvent =
  | (EventBase & { readonly type: 'session-start'; readonly data: StartPayload })
  | (EventBase & { readonly type: 'operation'; readonly data: OperationPayload })
  | (EventBase & { readonly type: 'outcome'; readonly data: OutcomePayload })
  | (EventBase & { readonly type: 'terminal'; readonly data: TerminalPayload })
  | (EventBase & { readonly type: 'session-end'; readonly data: EndPayload });

interface EventBase {
  readonly sessionId: string;
  readonly seq: number;
  readonly time: number;
}

/** An event with its payload parsed. Payloads are written by the recorder only, so they are trusted to have its shape. */
export function decodeEvent(row: EventRow): DecodedEvent {
  return { sessionId: row.sessionId, seq: row.seq, time: row.time, type: row.type, data: JSON.parse(row.payload) } as DecodedEvent;
}

/** A session as listed: its index row, who started it, and what happened in it. */
export interface SessionSummary {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly clientId: string | null;
  readonly groups: readonly string[];
  readonly clientAddress: string | null;
  readonly tls: boolean | null;
  readonly startedAt: number;
  /** null while the session is open. */
  readonly endedAt: number | null;
  readonly endedBy: string | null;
  readonly endReason: string | null;
  readonly events: number;
  /** Operation events (every statement the agent sent, allowed or not). */
  readonly statements: number;
  /** Operations decided `deny`. */
  readonly refused: number;
  /** Operations by decision. */
  readonly decisions: Readonly<Record<OperationPayload['effect'], number>>;
}

export interface SessionFilter {
  readonly connection?: string;
  readonly subject?: string;
  /** Epoch ms: sessions started at or after it. */
  readonly since?: number;
  /** Sessions with at least one operation of this decision. */
  readonly decision?: OperationPayload['effect'];
}

/** The sessions matching `filter`, oldest first (then by id). */
export function listSessions(store: SessionReader, filter: SessionFilter = {}): SessionSummary[] {
  const summaries: SessionSummary[] = [];
  const rows = store.findSessions({
    ...(filter.connection === undefined ? {} : { connection: filter.connection }),
    ...(filter.subject === undefined ? {} : { subject: filter.subject }),
    ...(filter.since === undefined ? {} : { since: filter.since }),
  });
  for (const row of rows) {
    const summary = summarize(store, row);
    if (filter.decision === undefined || summary.decisions[filter.decision] > 0) summaries.push(summary);
  }
  return summaries;
}

/** One session's summary and events (in seq order), or undefined when the store has no such session. */
export function findSession(store: SessionReader, id: string): { summary: SessionSummary; events: EventRow[] } | undefined {
  const row = store.session(id);
  if (row === undefined) return undefined;
  const events: EventRow[] = [];
  const summary = summarize(store, row, (event) => events.push(event));
  return { summary, events };
}

/** A session's summary from its index row and its events (read through the index), each also passed to `keep`. */
function summarize(store: SessionReader, row: SessionRow, keep?: (event: EventRow) => void): SessionSummary {
  const summary = emptySummary(row);
  for (const event of store.sessionEvents(row.id)) {
    keep?.(event);
    addEvent(summary, event);
  }
  return summary;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function emptySummary(row: SessionRow): Mutable<SessionSummary> {
  return {
    id: row.id,
    protocol: row.protocol,
    connection: row.connection,
    subject: row.subject,
    clientId: null,
    groups: [],
    clientAddress: null,
    tls: null,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    endedBy: row.endedBy,
    endReason: null,
    events: 0,
    statements: 0,
    refused: 0,
    decisions: { allow: 0, deny: 0, review: 0 },
  };
}

function addEvent(summary: Mutable<SessionSummary>, row: EventRow): void {
  summary.events++;
  const type: EventType = row.type;
  if (type === 'outcome' || type === 'terminal') return;
  const event = decodeEvent(row);
  switch (event.type) {
    case 'session-start':
      summary.clientId = event.data.identity.clientId;
      summary.groups = event.data.identity.groups;
      summary.clientAddress = event.data.clientAddress;
      summary.tls = event.data.tls;
      break;
    case 'operation': {
      summary.statements++;
      const effect = event.data.effect;
      if (effect === 'deny') summary.refused++;
      summary.decisions = { ...summary.decisions, [effect]: (summary.decisions[effect] ?? 0) + 1 };
      break;
    }
    case 'session-end':
      summary.endReason = event.data.reason;
      break;
    default:
      break;
  }
}
