/** The messages between the main thread's ThreadedStore and the recording writer thread. */
import type { MessagePort } from 'node:worker_threads';
import type { Durability } from './sqlite-store.js';
import type { AuditEntryRow, EventRow, RecordingStore, SessionRow } from './store.js';

/** One store write of a batch, as data (it crosses to the writer thread by structured clone). */
export type StoreWrite =
  | { readonly op: 'insertSession'; readonly session: SessionRow; readonly first: EventRow }
  | { readonly op: 'appendEvent'; readonly event: EventRow }
  | { readonly op: 'markEnded'; readonly sessionId: string; readonly endedAt: number; readonly endedBy: string; readonly lastSeq: number }
  | { readonly op: 'appendAuditEntry'; readonly entry: AuditEntryRow }
  | { readonly op: 'deleteSession'; readonly sessionId: string };

export type WriterRequest = { readonly type: 'commit'; readonly id: number; readonly writes: readonly StoreWrite[] } | { readonly type: 'close' };

/** The answer to one commit (id 0: to opening the database): `error` (the store's message) when nothing of it was written. */
/** The id of the answer to `close`: the writer's connection is closed. */
export const CLOSED_ID = -1;

export interface WriterAck {
  readonly id: number;
  readonly error?: string;
}

export interface WriterData {
  readonly dataDir: string;
  readonly durability: Durability;
  readonly busyTimeoutMs: number;
  readonly port: MessagePort;
  /** An Int32Array's buffer: the writer adds 1 at [0] after each answer, for a main thread waiting synchronously. */
  readonly signal: SharedArrayBuffer;
}

/** Performs one write on a store (the main thread's, or the writer thread's). */
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
