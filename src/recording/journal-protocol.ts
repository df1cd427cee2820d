/** The writes of a recording batch, and what the main thread's JournalStore shares with the journal writer thread. */
import type { MessagePort } from 'node:worker_threads';
import type { Durability } from './sqlite-store.js';
import type { AuditEntryRow, EventRow, RecordingStore, SessionRow } from './store.js';

/** One store write of a batch, as data (a journal frame holds a batch of them as JSON). */
export type StoreWrite =
  | { readonly op: 'insertSession'; readonly session: SessionRow; readonly first: EventRow }
  | { readonly op: 'appendEvent'; readonly event: EventRow }
  | { readonly op: 'markEnded'; readonly sessionId: string; readonly endedAt: number; readonly endedBy: string; readonly lastSeq: number }
  | { readonly op: 'appendAuditEntry'; readonly entry: AuditEntryRow }
  | { readonly op: 'deleteSession'; readonly sessionId: string };

/**
 * What the main thread and the journal writer thread share (./journal-store.ts): one
 * SharedArrayBuffer holding two byte totals and four cells.
 */
export const SHARED_BYTES = 32;
/** BigInt64Array indexes: journal bytes written (main thread), applied to the database (writer). */
export const WRITTEN = 0;
export const APPLIED = 1;
/** Int32Array indexes (after the totals): */
/** Bumped (and notified) by the main thread to make the writer apply now, not at its next interval. */
export const WAKE = 0;
/** Bumped (and notified) by the writer after each change of APPLIED or STATE. */
export const PROGRESS = 1;
export const STATE = 2;
/** Set to 1 by the main thread: apply what is left, close the database, answer CLOSED. */
export const CLOSE = 3;

export const WriterState = { starting: 0, running: 1, failing: 2, closed: 3, cannotOpen: 4 } as const;

export function sharedViews(buffer: SharedArrayBuffer): { readonly totals: BigInt64Array; readonly cells: Int32Array } {
  return { totals: new BigInt64Array(buffer, 0, 2), cells: new Int32Array(buffer, 16, 4) };
}

/** The writer thread's messages: why applying failed (each new reason once), and recovery. */
export type WriterReport = { readonly kind: 'error'; readonly message: string } | { readonly kind: 'caught-up' };

export interface WriterData {
  readonly dataDir: string;
  /** The journal directory (the database's own). */
  readonly journal: string;
  readonly durability: Durability;
  readonly busyTimeoutMs: number;
  readonly port: MessagePort;
  readonly shared: SharedArrayBuffer;
  /** The segment the main thread writes first (the writer starts applying there, at byte 0). */
  readonly firstSegment: number;
  /** How long the writer waits between rounds when nobody wakes it. */
  readonly intervalMs: number;
}

/** Performs one write of a journal frame on a store. */
export function applyWrite(store: RecordingStore, write: StoreWrite): void {
  switch (write.op) {
    case 'insertSession':
      return store.insertSession(write.session, write.first);
    case 'appendEvent':
      return store.appendEvent(write.event);
    case 'markEnded':
      return store.markEnded(write.sessionId, write.endedAt, write.endedBy, write.lastSeq);
    case 'appendAuditEntry':
      return store.appendAuditEntry(write.entry);
    case 'deleteSession':
      return store.deleteSession(write.sessionId);
  }
}
