/**
 * What the recorder and the verifier need from a state store, and nothing more, so that a
 * PostgreSQL-backed store (for several gateway replicas) can replace the embedded SQLite
 * one without touching the front doors. Rows are stored exactly as hashed: `payload` is
 * JSON text and is hashed as that text, so a store must give back the same string.
 *
 * Stores throw `RecorderError` (from ./recorder.js) on every failure.
 */
import type { KeyObject } from 'node:crypto';
import type { RecorderError } from './recorder.js';

/**
 * Event types within one session's chain, in the order they may appear (`terminal`: an SSH
 * operation's terminal I/O, between the operation and its outcome).
 */
export const EVENT_TYPES = ['session-start', 'operation', 'outcome', 'terminal', 'session-end'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Entries of the global audit chain. */
export const AUDIT_ENTRY_TYPES = ['session-seal', 'auth-failure', 'checkpoint', 'prune', 'approval'] as const;
export type AuditEntryType = (typeof AUDIT_ENTRY_TYPES)[number];

/** One event of a session's hash chain. */
export interface EventRow {
  readonly sessionId: string;
  /** 1, 2, … without gaps within a session. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly time: number;
  readonly type: EventType;
  /** JSON text, hashed as stored. */
  readonly payload: string;
  /** Hex SHA-256: the previous event's `hash`, or `sessionGenesis(sessionId)` for seq 1. */
  readonly prevHash: string;
  /** Hex SHA-256 of `eventHashInput(row)`. */
  readonly hash: string;
}

/**
 * One entry of the global audit chain. The chain is what makes whole sessions (through
 * their seals) and the order of everything tamper-evident.
 */
export interface AuditEntryRow {
  /** 1, 2, … without gaps. */
  readonly seq: number;
  readonly time: number;
  readonly type: AuditEntryType;
  /** The sealed session (session-seal only; a prune entry lists its sessions in its payload). */
  readonly sessionId: string | null;
  readonly payload: string;
  readonly prevHash: string;
  readonly hash: string;
}

/**
 * The sessions index: a summary for listing and crash recovery, derived from the session's
 * events (which are what the hashes protect; `verifyAudit` checks the two agree).
 */
export interface SessionRow {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly startedAt: number;
  /** Set once the session has ended. */
  readonly endedAt: number | null;
  readonly endedBy: string | null;
  /** Seq of the session-end event, once ended. */
  readonly lastSeq: number | null;
}

/** The newest link of a chain. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** What `findSessions` filters on (all given conditions must hold). */
export interface SessionRowFilter {
  readonly connection?: string;
  readonly subject?: string;
  /** Epoch ms: sessions started at or after it. */
  readonly since?: number;
}

/** Sessions and their event chains. */
export interface SessionStore {
  /** Adds the session's index row and its first event, atomically. */
  insertSession(session: SessionRow, first: EventRow): void;
  appendEvent(event: EventRow): void;
  /** Records the end in the index (its session-end event is appended separately, in the same transaction). */
  markEnded(sessionId: string, endedAt: number, endedBy: string, lastSeq: number): void;
  /** Sessions with no end, and the head of each one's chain (for crash recovery). */
  unendedSessions(): readonly (SessionRow & { readonly head: ChainHead | undefined })[];
  /** Every session in the index, in id order. */
  sessions(): Iterable<SessionRow>;
  /** Every event of every session, ordered by session id then seq (streamed: memory does not grow). */
  events(): Iterable<EventRow>;
  /** One session's index row (by its id, without a scan). */
  session(sessionId: string): SessionRow | undefined;
  /** One session's events in seq order (streamed, read through the (session_id, seq) index). */
  sessionEvents(sessionId: string): Iterable<EventRow>;
  /** The newest event of one session. */
  sessionHead(sessionId: string): ChainHead | undefined;
  /** Index rows matching `filter`, oldest start first (then by id), filtered by the store. */
  findSessions(filter: SessionRowFilter): Iterable<SessionRow>;
  /** The connection names that have sessions (for retention, which differs per connection). */
  sessionConnections(): readonly string[];
  /** Ended sessions of `connection` that ended before `endedBefore`, oldest end first, at most `limit`. */
  endedSessions(connection: string, endedBefore: number, limit: number): readonly SessionRow[];
  /** Deletes an ENDED session's index row and events (retention); throws if it is not an ended session. */
  deleteSession(sessionId: string): void;
}

/** The global chain: session seals, authentication failures, approval steps, signed checkpoints. */
export interface AuditLog {
  appendAuditEntry(entry: AuditEntryRow): void;
  auditHead(): ChainHead | undefined;
  /** Global seq of the newest checkpoint entry (0 when there is none). */
  lastCheckpointSeq(): number;
  /** Every entry in seq order (streamed). */
  auditEntries(): Iterable<AuditEntryRow>;
  /** The session-seal entry of a session (through the session index of the audit log). */
  sealOf(sessionId: string): AuditEntryRow | undefined;
}

/** The store the recorder writes through: both chains, changed together atomically. */
export interface RecordingStore extends SessionStore, AuditLog {
  /** Runs `fn` in one transaction: everything it writes is durable when this returns, or nothing is. */
  transaction<T>(fn: () => T): T;
  /**
   * Group commit: `begin` opens a transaction that the writes of `transaction()` calls join
   * (as savepoints) until `commit`; nothing in it is durable before `commit` returns.
   */
  begin(): void;
  commit(): void;
  /** Abandons an open `begin` transaction (after a failed commit). Never throws. */
  rollback(): void;
  /** Runs `fn` against one consistent snapshot (for verification while the gateway writes). */
  snapshot<T>(fn: () => T): T;
  close(): void;
  /**
   * Asynchronous group commit (a store that has it: the journal): makes the open `begin`
   * transaction durable and calls `done` when it is, or with the error when nothing of it was
   * written — never from within `submit`: later in the turn, or from within `settle`. One at a time.
   */
  submit?(done: (error: RecorderError | undefined) => void): void;
  /** Waits (blocking) until the submitted transaction is answered, calling its `done` first. */
  settle?(): void;
}

/** What the verifier reads: the rows, nothing else. */
export type AuditSource = Pick<SessionStore, 'sessions' | 'events'> & Pick<AuditLog, 'auditEntries'>;

/** The checkpoint signing key. */
export interface KeyStore {
  /** Ed25519 private key. */
  signingKey(): KeyObject;
  /** Ed25519 public key (what verifiers are given). */
  publicKey(): KeyObject;
}
