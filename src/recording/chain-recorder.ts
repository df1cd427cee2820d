/**
 * The Recorder over any RecordingStore: builds each session's hash chain, seals ended
 * sessions into the global chain, and signs checkpoints. Store-agnostic; `openRecorder`
 * (./sqlite-recorder.ts) wires it to the embedded SQLite store.
 *
 * Every call is one store transaction, committed before it returns; in-memory state (each
 * open session's chain head, the global head) changes only after the commit, so a failed
 * write leaves the recorder consistent and the next call may succeed (say, once disk space
 * is freed). A failed call throws RecorderError, and the caller refuses the operation.
 */
import {
  AUDIT_GENESIS,
  auditEntryHash,
  eventHash,
  keyId,
  sessionGenesis,
  signCheckpoint,
  type CheckpointPayload,
  type OpenSessionHead,
  type SealPayload,
} from './chain.js';
import {
  RecorderError,
  type AuthFailureEvent,
  type EndedBy,
  type OperationEvent,
  type OutcomeEvent,
  type Recorder,
  type SessionEndEvent,
  type SessionStartEvent,
} from './recorder.js';
import type { AuditEntryRow, AuditEntryType, ChainHead, EventRow, EventType, KeyStore, RecordingStore } from './store.js';
import { silentLogger, type Logger } from '../log.js';

export interface ChainRecorderOptions {
  /** A signed checkpoint after this many global entries (default 100), besides those at start and close. */
  readonly checkpointEvery?: number;
  readonly logger?: Logger;
  /** Epoch milliseconds (tests inject a clock). */
  readonly now?: () => number;
  /**
   * Group commit (the gateway's mode): the writes of one event-loop turn share one
   * transaction and are durable when `whenDurable` calls back. Off: every call is committed
   * before it returns.
   */
  readonly groupCommit?: boolean;
}

export const DEFAULT_CHECKPOINT_EVERY = 100;

/** Printable ASCII, no spaces: session ids appear in messages, file names and URLs. */
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;

export const CRASH_REASON = 'crash detected at the next start: the gateway stopped without ending this session';
const SHUTDOWN_REASON = 'the gateway shut down while the session was open';

export class ChainRecorder implements Recorder {
  /** Sessions ended with `crash` when this recorder started (the previous process died with them open). */
  readonly recoveredSessions: readonly string[];
  private readonly open = new Map<string, ChainHead>();
  private globalHead: ChainHead | undefined;
  private lastCheckpoint: number;
  private closed = false;
  /** Group commit: a transaction is open for this event-loop turn. */
  private batchOpen = false;
  /** A failed group commit: in-memory heads no longer match the store, so nothing more is recorded. */
  private failure: RecorderError | undefined;
  private readonly durableWaiters: Array<(durable: boolean) => void> = [];
  private readonly groupCommit: boolean;
  private readonly checkpointEvery: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly keyId: string;

  /**
   * Loads the chain heads, ends every session the previous process left open (endedBy
   * `crash`), and signs a checkpoint unless the chain already ends with one.
   */
  constructor(
    private readonly store: RecordingStore,
    private readonly keys: KeyStore,
    options: ChainRecorderOptions = {},
  ) {
    const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isInteger(every) || every < 1) throw new RangeError(`checkpointEvery must be a positive integer, got ${every}`);
    this.checkpointEvery = every;
    this.groupCommit = options.groupCommit ?? false;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.keyId = keyId(keys.publicKey());
    this.globalHead = store.auditHead();
    this.lastCheckpoint = store.lastCheckpointSeq();
    this.recoveredSessions = this.recoverCrashed();
    if (!this.endsWithCheckpoint()) this.writeGlobal([], { checkpoint: 'always' });
  }

  sessionStarted(event: SessionStartEvent): void {
    this.assertUsable();
    this.enterBatch();
    const { sessionId } = event;
    if (!SESSION_ID.test(sessionId)) throw new RecorderError(`cannot record session ${JSON.stringify(sessionId)}: a session id is 1–128 printable ASCII characters`);
    if (this.open.has(sessionId)) throw new RecorderError(`cannot record the start of session ${sessionId}: it is already open`);
    const time = this.now();
    const payload = json(`the start of session ${sessionId}`, {
      protocol: event.protocol,
      connection: event.connection,
      identity: { subject: event.identity.subject, clientId: event.identity.clientId ?? null, groups: event.identity.groups },
      clientAddress: event.clientAddress,
      tls: event.tls,
    });
    const first = chainEvent(sessionId, { seq: 0, hash: sessionGenesis(sessionId) }, time, 'session-start', payload);
    const session = {
      id: sessionId,
      protocol: event.protocol,
      connection: event.connection,
      subject: event.identity.subject,
      startedAt: time,
      endedAt: null,
      endedBy: null,
      lastSeq: null,
    };
    this.store.transaction(() => this.store.insertSession(session, first));
    this.open.set(sessionId, first);
  }

  operation(event: OperationEvent): number {
    return this.append(event.sessionId, 'operation', {
      via: event.via,
      text: event.text,
      ...(event.parameters === undefined ? {} : { parameters: event.parameters }),
      effect: event.effect,
      rule: event.rule,
      reason: event.reason,
      ...(event.facts === undefined ? {} : { facts: event.facts }),
    });
  }

  outcome(event: OutcomeEvent): void {
    const head = this.open.get(event.sessionId);
    if (head !== undefined && !(Number.isInteger(event.operationSeq) && event.operationSeq > 1 && event.operationSeq <= head.seq)) {
      throw new RecorderError(`cannot record an outcome in session ${event.sessionId}: operationSeq ${event.operationSeq} is not an event of it`);
    }
    this.append(event.sessionId, 'outcome', {
      operationSeq: event.operationSeq,
      ...(event.command === undefined ? {} : { command: event.command }),
      ...(event.rows === undefined ? {} : { rows: event.rows }),
      ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
      ...(event.columns === undefined ? {} : { columns: event.columns }),
      durationMs: event.durationMs,
      ...(event.error === undefined ? {} : { error: event.error }),
    });
  }

  sessionEnded(event: SessionEndEvent): void {
    this.assertUsable();
    this.enterBatch();
    this.end(event.sessionId, this.requireOpen(event.sessionId, 'end'), event.endedBy, event.reason);
  }

  authFailure(event: AuthFailureEvent): void {
    this.assertUsable();
    this.enterBatch();
    const payload = json('an authentication failure', {
      protocol: event.protocol,
      clientAddress: event.clientAddress,
      connection: event.connection,
      ...(event.subject === undefined ? {} : { subject: event.subject }),
      reason: event.reason,
    });
    this.writeGlobal([{ type: 'auth-failure', sessionId: null, payload }]);
  }

  /**
   * Clean shutdown: ends (endedBy `shutdown`) and seals any session still open, signs a final
   * checkpoint so nothing is left outside one, and closes the store. Call it after the front
   * doors have ended their sessions. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.commitBatch();
    try {
      for (const [sessionId, head] of [...this.open]) this.end(sessionId, head, 'shutdown', SHUTDOWN_REASON);
      if (!this.endsWithCheckpoint()) this.writeGlobal([], { checkpoint: 'always' });
    } finally {
      this.closed = true;
      this.store.close();
    }
  }

  private append(sessionId: string, type: EventType, body: unknown): number {
    this.assertUsable();
    this.enterBatch();
    const head = this.requireOpen(sessionId, type);
    const event = chainEvent(sessionId, head, this.now(), type, json(`an event of session ${sessionId}`, body));
    // One INSERT is atomic by itself; inside a group-commit batch it needs no savepoint.
    if (this.batchOpen) this.store.appendEvent(event);
    else this.store.transaction(() => this.store.appendEvent(event));
    this.open.set(sessionId, event);
    return event.seq;
  }

  /** The session-end event, the index update and the seal, in one transaction. */
  private end(sessionId: string, head: ChainHead, endedBy: EndedBy, reason: string): void {
    const time = this.now();
    const last = chainEvent(sessionId, head, time, 'session-end', json(`the end of session ${sessionId}`, { endedBy, reason }));
    const seal: SealPayload = { lastSeq: last.seq, lastHash: last.hash, endedBy };
    this.writeGlobal([{ type: 'session-seal', sessionId, payload: JSON.stringify(seal) }], {
      before: () => {
        this.store.appendEvent(last);
        this.store.markEnded(sessionId, time, endedBy, last.seq);
      },
      closing: sessionId,
    });
    this.open.delete(sessionId);
  }

  /**
   * Appends global entries (after `options.before`, in the same transaction), plus a signed
   * checkpoint when one is due (or always); updates the in-memory heads only once committed.
   * `options.closing` names a session being ended, left out of the checkpoint's open sessions.
   */
  private writeGlobal(
    entries: readonly { type: AuditEntryType; sessionId: string | null; payload: string }[],
    options: { checkpoint?: 'when-due' | 'always'; before?: () => void; closing?: string } = {},
  ): void {
    const { before, closing } = options;
    const time = this.now();
    let head = this.globalHead;
    let lastCheckpoint = this.lastCheckpoint;
    this.store.transaction(() => {
      before?.();
      for (const entry of entries) {
        const row = chainEntry(head, time, entry.type, entry.sessionId, entry.payload);
        this.store.appendAuditEntry(row);
        head = row;
      }
      if (options.checkpoint === 'always' || (head?.seq ?? 0) - lastCheckpoint >= this.checkpointEvery) {
        const row = this.checkpoint(head, time, closing);
        this.store.appendAuditEntry(row);
        head = row;
        lastCheckpoint = row.seq;
      }
    });
    if (lastCheckpoint !== this.lastCheckpoint && head !== undefined) {
      this.logger.info('audit checkpoint signed', { globalSeq: head.seq, anchor: `${head.seq}:${head.hash}` });
    }
    this.globalHead = head;
    this.lastCheckpoint = lastCheckpoint;
  }

  private checkpoint(head: ChainHead | undefined, time: number, closing: string | undefined): AuditEntryRow {
    const covers = head === undefined ? { seq: 0, hash: AUDIT_GENESIS } : { seq: head.seq, hash: head.hash };
    const open: OpenSessionHead[] = [...this.open]
      .filter(([id]) => id !== closing)
      .map(([id, h]): OpenSessionHead => [id, h.seq, h.hash])
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const body = { covers, open, keyId: this.keyId, time };
    const payload: CheckpointPayload = { covers, open, keyId: this.keyId, signature: signCheckpoint(body, this.keys.signingKey()) };
    return chainEntry(head, time, 'checkpoint', null, JSON.stringify(payload));
  }

  /** Ends every session without an end: the process that recorded it died. */
  private recoverCrashed(): string[] {
    const recovered: string[] = [];
    for (const session of this.store.unendedSessions()) {
      if (session.head === undefined) {
        // Only possible if the file was edited (the index row and first event are written together).
        this.logger.error('recording: session has an index row but no events; left for "portcullis audit verify" to report', {
          sessionId: session.id,
        });
        continue;
      }
      this.end(session.id, session.head, 'crash', CRASH_REASON);
      recovered.push(session.id);
      this.logger.warn('recording: session ended as crashed (the gateway stopped without ending it)', { sessionId: session.id });
    }
    return recovered;
  }

  private endsWithCheckpoint(): boolean {
    return this.globalHead !== undefined && this.globalHead.seq === this.lastCheckpoint;
  }

  private requireOpen(sessionId: string, what: string): ChainHead {
    const head = this.open.get(sessionId);
    if (head === undefined) throw new RecorderError(`cannot record ${what} in session ${JSON.stringify(sessionId)}: no such open session`);
    return head;
  }

  private assertUsable(): void {
    if (this.closed) throw new RecorderError('the recorder is closed (the gateway is shutting down)');
    if (this.failure) throw this.failure;
  }

  whenDurable(callback: (durable: boolean) => void): void {
    if (this.batchOpen) this.durableWaiters.push(callback);
    else callback(this.failure === undefined);
  }

  /**
   * The writes of one event-loop turn share one transaction, committed right after the
   * turn's I/O callbacks (setImmediate): one commit for every session's statements instead
   * of one each. Callers forward only from `whenDurable`, so write-before-forward holds.
   */
  private enterBatch(): void {
    if (this.batchOpen || !this.groupCommit) return;
    this.store.begin();
    this.batchOpen = true;
    setImmediate(() => this.commitBatch());
  }

  private commitBatch(): void {
    if (!this.batchOpen) return;
    this.batchOpen = false;
    let durable = true;
    try {
      this.store.commit();
    } catch (error) {
      durable = false;
      this.failure = error instanceof RecorderError ? error : new RecorderError(`committing recordings failed: ${String(error)}`);
      this.store.rollback();
      this.logger.error('recording commit failed; refusing all further operations until restart', { error: this.failure });
    }
    for (const waiter of this.durableWaiters.splice(0)) waiter(durable);
  }
}

function chainEvent(sessionId: string, previous: ChainHead, time: number, type: EventType, payload: string): EventRow {
  const row = { sessionId, seq: previous.seq + 1, time, type, payload, prevHash: previous.hash };
  return { ...row, hash: eventHash(row) };
}

function chainEntry(
  previous: ChainHead | undefined,
  time: number,
  type: AuditEntryType,
  sessionId: string | null,
  payload: string,
): AuditEntryRow {
  const row = { seq: (previous?.seq ?? 0) + 1, time, type, sessionId, payload, prevHash: previous?.hash ?? AUDIT_GENESIS };
  return { ...row, hash: auditEntryHash(row) };
}

function json(subject: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new RecorderError(`cannot record ${subject}: the event is not JSON-serializable (${(error as Error).message})`, { cause: error });
  }
}
