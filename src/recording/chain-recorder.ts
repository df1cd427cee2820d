/**
 * The Recorder over any RecordingStore: builds each session's hash chain, seals ended
 * sessions into the global chain, signs checkpoints, and prunes expired sessions (retention).
 * Store-agnostic; `openRecorder` (./sqlite-recorder.ts) wires it to the embedded SQLite store.
 *
 * Without group commit every call is one store transaction, committed before it returns;
 * in-memory state (each open session's chain head, the global head) changes only after the
 * commit, so a failed write leaves the recorder consistent and the next call may succeed
 * (say, once disk space is freed). A failed call throws RecorderError, and the caller
 * refuses the operation.
 *
 * With group commit (the gateway) the writes of one event-loop turn share one transaction,
 * so a failure anywhere in the turn — a write, or the commit — loses the whole turn: SQLite
 * itself rolls a transaction back on SQLITE_FULL or an I/O error. The turn then fails as a
 * unit: the transaction is rolled back at once (so nothing later in the turn can land in
 * autocommit, chained onto rolled-back events), every later write of the turn is refused,
 * and at the turn's end every `whenDurable` waiter hears `false` (nothing is forwarded).
 * Recovery is safe because the in-memory heads are restored to the turn's start — which is
 * exactly what the store holds after the rollback; that is checked against the store, and
 * if it does not match, the recorder refuses everything until restart. Records nobody waits
 * for (outcomes, terminal data, session ends, authentication failures, approval steps) are
 * kept and written again at the start of the next turn that can write, so they are not lost
 * to a passing fault.
 */
import {
  AUDIT_GENESIS,
  auditEntryHash,
  type ApprovalEntryPayload,
  eventHash,
  keyId,
  sessionGenesis,
  signCheckpoint,
  type CheckpointPayload,
  type OpenSessionHead,
  type PrunedSession,
  type PrunePayload,
  type SealPayload,
} from './chain.js';
import {
  RecorderError,
  type ApprovalEvent,
  type AuthFailureEvent,
  type EndedBy,
  type OperationEvent,
  type OutcomeEvent,
  type Recorder,
  type SessionEndEvent,
  type SessionStartEvent,
  type TerminalEvent,
} from './recorder.js';
import { selectExpired, type PruneLimits, type RetentionPolicy } from './retention.js';
import type { AuditEntryRow, AuditEntryType, ChainHead, EventRow, EventType, KeyStore, RecordingStore } from './store.js';
import { terminalPayload, terminalPayloadProblem } from './terminal-event.js';
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
  /** Called once the store is closed by `close()` (openRecorder releases the data-directory lock with it). */
  readonly onClose?: () => void;
}

/** One group-commit transaction: the writes of one event-loop turn. */
interface Batch {
  /** The value each session head changed in this batch had before it (first change only), to undo a failure. */
  readonly undo: Map<string, ChainHead | undefined>;
  readonly globalHead: ChainHead | undefined;
  readonly lastCheckpoint: number;
  /** Records of this batch nobody waits for: written again if the batch fails. */
  readonly retry: Deferred[];
  readonly waiters: Array<(durable: boolean) => void>;
  /** Set when a write in the batch failed: the transaction is rolled back, the rest of the turn is refused. */
  failed: RecorderError | undefined;
  /** Store calls that succeeded in it. */
  writes: number;
  /** Checkpoints signed in it, logged (as anchors) once it is committed. */
  readonly checkpoints: { readonly globalSeq: number; readonly anchor: string }[];
  /** Its turn ended while the batch before it was being submitted: it is submitted once that one is answered. */
  due: boolean;
}

/** A record whose caller does not wait for it to be durable. */
type Deferred =
  | { readonly kind: 'outcome'; readonly event: OutcomeEvent }
  | { readonly kind: 'terminal'; readonly event: TerminalEvent }
  | { readonly kind: 'end'; readonly event: SessionEndEvent }
  | { readonly kind: 'auth-failure'; readonly event: AuthFailureEvent }
  | { readonly kind: 'approval'; readonly event: ApprovalEvent };

/** What one `pruneExpired` call removed. */
export interface PruneBatch {
  readonly pruned: readonly PrunedSession[];
  /** More sessions had expired than the limits allowed in one transaction. */
  readonly more: boolean;
}

/** Deferred records kept across failed batches, at most (beyond: dropped, loudly). */
const MAX_DEFERRED = 10_000;
/** Errors thrown by the store (as opposed to refusals of bad input), tagged when they pass `write`. */
const storeFailures = new WeakSet<Error>();

export const DEFAULT_CHECKPOINT_EVERY = 100;

/** Printable ASCII, no spaces: session ids appear in messages, file names and URLs. */
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;
/** Approval request ids are URL-safe; steps are short lowercase words (`requested`, `approved`, …). */
const APPROVAL_ID = /^[A-Za-z0-9_-]{1,128}$/;
const APPROVAL_KIND = /^[a-z][a-z-]{0,31}$/;

export const CRASH_REASON = 'crash detected at the next start: the gateway stopped without ending this session';
const SHUTDOWN_REASON = 'the gateway shut down while the session was open';

export class ChainRecorder implements Recorder {
  /** Sessions ended with `crash` when this recorder started (the previous process died with them open). */
  readonly recoveredSessions: readonly string[];
  private readonly open = new Map<string, ChainHead>();
  private globalHead: ChainHead | undefined;
  private lastCheckpoint: number;
  private closed = false;
  /** Set while shutdown or retention commits synchronously: nothing is submitted meanwhile. */
  private draining = false;
  /** Group commit: the transaction of this event-loop turn. */
  private batch: Batch | undefined;
  /** Asynchronous group commit (a store with `submit`): the batch being answered; the next one waits for it. */
  private inFlight: Batch | undefined;
  /** Records of failed batches, written again at the start of the next batch. */
  private deferred: Deferred[] = [];
  /** In-memory heads could not be brought back in line with the store: nothing more is recorded. */
  private failure: RecorderError | undefined;
  private readonly groupCommit: boolean;
  private readonly onClose: (() => void) | undefined;
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
    this.onClose = options.onClose;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.keyId = keyId(keys.publicKey());
    this.globalHead = store.auditHead();
    this.lastCheckpoint = store.lastCheckpointSeq();
    this.recoveredSessions = this.recoverCrashed();
    if (!this.endsWithCheckpoint()) this.writeGlobal([], { checkpoint: 'always' });
  }

  sessionStarted(event: SessionStartEvent): void {
    this.beginWrite();
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
    this.write(() => this.store.transaction(() => this.store.insertSession(session, first)));
    this.setHead(sessionId, first);
  }

  operation(event: OperationEvent): number {
    this.beginWrite();
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
    this.deferrable({ kind: 'outcome', event });
  }

  terminal(event: TerminalEvent): void {
    // Checked here, not when written: a malformed event must throw to its caller, never sit in the retry queue.
    const problem = terminalPayloadProblem(terminalPayload(event));
    if (problem !== undefined) throw new RecorderError(`cannot record terminal data in session ${JSON.stringify(event.sessionId)}: ${problem}`);
    this.deferrable({ kind: 'terminal', event });
  }

  sessionEnded(event: SessionEndEvent): void {
    this.deferrable({ kind: 'end', event });
  }

  authFailure(event: AuthFailureEvent): void {
    this.deferrable({ kind: 'auth-failure', event });
  }

  approvalEvent(event: ApprovalEvent): void {
    // Checked here, not when written: a malformed step must throw to its caller, never sit in the retry queue.
    if (!APPROVAL_ID.test(event.requestId)) {
      throw new RecorderError(`cannot record an approval step for request ${JSON.stringify(event.requestId)}: an approval id is 1–128 URL-safe characters`);
    }
    if (!APPROVAL_KIND.test(event.kind)) {
      throw new RecorderError(`cannot record approval step ${JSON.stringify(event.kind)} of request ${event.requestId}: a step is a short lowercase word`);
    }
    this.deferrable({ kind: 'approval', event });
  }

  /**
   * Removes whole ended sessions whose retention (`policy`, by connection) has passed by
   * `options.now` (default: the recorder's clock), at most `options.maxSessions` sessions and
   * about `options.maxEvents` events per call (one transaction: call again while `more`).
   * Deleting their events and index rows, the `prune` entry naming each one's seal, and a
   * signed checkpoint are one transaction, so the chain stays verifiable and a crash leaves
   * either all of it or none. Never part of a group commit: durable when it returns.
   */
  pruneExpired(policy: RetentionPolicy, options: PruneLimits & { readonly now?: number } = {}): PruneBatch {
    this.assertUsable();
    this.commitNow();
    this.assertUsable();
    const now = options.now ?? this.now();
    const { sessions, more } = selectExpired(this.store, policy, now, options, this.logger);
    const pruned = sessions.filter((session) => !this.open.has(session.id));
    if (pruned.length === 0) return { pruned, more: false };
    const payload: PrunePayload = { sessions: pruned };
    this.writeGlobal([{ type: 'prune', sessionId: null, payload: JSON.stringify(payload) }], {
      checkpoint: 'always',
      time: now,
      before: () => {
        for (const session of pruned) this.store.deleteSession(session.id);
      },
    });
    this.logger.info('recording retention: pruned expired sessions', {
      sessions: pruned.length,
      events: pruned.reduce((sum, session) => sum + session.lastSeq, 0),
      globalSeq: this.globalHead?.seq,
      ids: pruned.map((session) => session.id),
    });
    return { pruned, more };
  }

  /**
   * Clean shutdown: ends (endedBy `shutdown`) and seals any session still open, signs a final
   * checkpoint so nothing is left outside one, and closes the store. Call it after the front
   * doors have ended their sessions. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.commitNow();
    try {
      try {
        this.replayDeferred();
      } catch (error) {
        this.logger.error('recording: records kept from failed writes could not be written at shutdown; they are lost', {
          error,
          lost: this.deferred.map((record) => record.kind),
        });
      }
      for (const [sessionId, head] of [...this.open]) this.end(sessionId, head, 'shutdown', SHUTDOWN_REASON);
      if (!this.endsWithCheckpoint()) this.writeGlobal([], { checkpoint: 'always' });
    } finally {
      this.closed = true;
      try {
        this.store.close();
      } finally {
        this.onClose?.();
      }
    }
  }

  private append(sessionId: string, type: EventType, body: unknown): number {
    const head = this.requireOpen(sessionId, type);
    const event = chainEvent(sessionId, head, this.now(), type, json(`an event of session ${sessionId}`, body));
    // One INSERT is atomic by itself; inside a group-commit batch it needs no savepoint.
    this.write(() => (this.batch !== undefined ? this.store.appendEvent(event) : this.store.transaction(() => this.store.appendEvent(event))));
    this.setHead(sessionId, event);
    return event.seq;
  }

  /** Writes a record nobody waits for; with group commit, a store failure keeps it for the next batch instead of losing it. */
  private deferrable(record: Deferred): void {
    this.assertUsable();
    if (!this.groupCommit) return this.apply(record);
    if (this.batch?.failed !== undefined) return this.defer([record]);
    try {
      this.beginWrite();
      this.apply(record);
    } catch (error) {
      if (!(error instanceof Error) || !storeFailures.has(error)) throw error;
      this.logger.warn('recording: could not write a record now; it is kept and written with the next recorded operation', {
        kind: record.kind,
        error,
      });
      this.defer([record]);
    }
  }

  private apply(record: Deferred): void {
    switch (record.kind) {
      case 'outcome': {
        const { event } = record;
        this.checkOperationSeq(event.sessionId, event.operationSeq, 'an outcome');
        this.append(event.sessionId, 'outcome', {
          operationSeq: event.operationSeq,
          ...(event.command === undefined ? {} : { command: event.command }),
          ...(event.rows === undefined ? {} : { rows: event.rows }),
          ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
          ...(event.columns === undefined ? {} : { columns: event.columns }),
          ...(event.resultRows === undefined ? {} : { resultRows: event.resultRows }),
          durationMs: event.durationMs,
          ...(event.error === undefined ? {} : { error: event.error }),
        });
        break;
      }
      case 'terminal': {
        const { event } = record;
        this.checkOperationSeq(event.sessionId, event.operationSeq, 'terminal data');
        this.append(event.sessionId, 'terminal', terminalPayload(event));
        break;
      }
      case 'end': {
        const { event } = record;
        this.end(event.sessionId, this.requireOpen(event.sessionId, 'end'), event.endedBy, event.reason);
        break;
      }
      case 'auth-failure': {
        const { event } = record;
        const payload = json('an authentication failure', {
          protocol: event.protocol,
          clientAddress: event.clientAddress,
          connection: event.connection,
          ...(event.subject === undefined ? {} : { subject: event.subject }),
          reason: event.reason,
        });
        this.writeGlobal([{ type: 'auth-failure', sessionId: null, payload }]);
        break;
      }
      case 'approval': {
        const { event } = record;
        const body: ApprovalEntryPayload = { requestId: event.requestId, kind: event.kind, details: event.payload ?? null };
        const payload = json(`approval step ${event.kind} of request ${event.requestId}`, body);
        this.writeGlobal([{ type: 'approval', sessionId: null, payload }]);
        break;
      }
    }
    this.batch?.retry.push(record);
  }

  /** An outcome or terminal data names an event before it (the operation); an unknown session is refused when appended. */
  private checkOperationSeq(sessionId: string, operationSeq: number, what: string): void {
    const head = this.open.get(sessionId);
    if (head !== undefined && !(Number.isInteger(operationSeq) && operationSeq > 1 && operationSeq <= head.seq)) {
      throw new RecorderError(`cannot record ${what} in session ${sessionId}: operationSeq ${operationSeq} is not an event of it`);
    }
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
    this.setHead(sessionId, undefined);
  }

  /**
   * Appends global entries (after `options.before`, in the same transaction), plus a signed
   * checkpoint when one is due (or always); updates the in-memory heads only once committed.
   * `options.closing` names a session being ended, left out of the checkpoint's open sessions.
   */
  private writeGlobal(
    entries: readonly { type: AuditEntryType; sessionId: string | null; payload: string }[],
    options: { checkpoint?: 'when-due' | 'always'; before?: () => void; closing?: string; time?: number } = {},
  ): void {
    const { before, closing } = options;
    const time = options.time ?? this.now();
    let head = this.globalHead;
    let lastCheckpoint = this.lastCheckpoint;
    this.write(() => this.store.transaction(() => {
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
    }));
    if (lastCheckpoint !== this.lastCheckpoint && head !== undefined) {
      // An anchor is logged once durable: one from a batch that then failed would name an entry that never was.
      const signed = { globalSeq: head.seq, anchor: `${head.seq}:${head.hash}` };
      if (this.batch !== undefined) this.batch.checkpoints.push(signed);
      else this.logger.info('audit checkpoint signed', signed);
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

  /**
   * Why the recorder refuses everything until restart (closed, or its state could not be
   * restored after a failed write), or undefined while it records. A failed turn alone does
   * not count: the next one records again. For readiness probes.
   */
  unavailable(): string | undefined {
    if (this.closed) return 'the recorder is closed (the gateway is shutting down)';
    return this.failure?.message;
  }

  whenDurable(callback: (durable: boolean) => void): void {
    if (this.batch !== undefined) this.batch.waiters.push(callback);
    else callback(this.failure === undefined);
  }

  /** Checks the recorder can write and, with group commit, joins (or opens) this turn's batch. */
  private beginWrite(): void {
    this.assertUsable();
    if (!this.groupCommit) return;
    if (this.batch !== undefined) {
      if (this.batch.failed !== undefined) throw this.batch.failed;
      return;
    }
    this.write(() => this.store.begin());
    const batch: Batch = {
      undo: new Map(),
      globalHead: this.globalHead,
      lastCheckpoint: this.lastCheckpoint,
      retry: [],
      waiters: [],
      failed: undefined,
      writes: 0,
      checkpoints: [],
      due: false,
    };
    this.batch = batch;
    setImmediate(() => this.commitBatch(batch));
    this.replayDeferred();
  }

  /**
   * Runs one store call. A failure inside a batch rolls the transaction back now (SQLite may
   * already have done so), so no later write of this turn can land in autocommit on top of
   * rolled-back events. If the batch held nothing yet, nothing is lost: only this write is
   * refused and the turn goes on. Otherwise the batch fails: the rest of the turn is refused
   * and it is undone at the turn's end.
   */
  private write<T>(fn: () => T): T {
    const batch = this.batch;
    try {
      const result = fn();
      if (batch !== undefined) batch.writes++;
      return result;
    } catch (error) {
      const failure = error instanceof RecorderError ? error : new RecorderError(`recording failed: ${String(error)}`, { cause: error });
      storeFailures.add(failure);
      if (batch !== undefined && batch.failed === undefined) {
        this.store.rollback();
        if (batch.writes === 0 && batch.waiters.length === 0) {
          this.batch = undefined;
        } else {
          batch.failed = failure;
          this.logger.error('recording write failed; refusing the operations of this event-loop turn (nothing of it is forwarded)', {
            error: failure,
          });
        }
      }
      throw failure;
    }
  }

  private setHead(sessionId: string, head: ChainHead | undefined): void {
    if (this.batch !== undefined && !this.batch.undo.has(sessionId)) this.batch.undo.set(sessionId, this.open.get(sessionId));
    if (head === undefined) this.open.delete(sessionId);
    else this.open.set(sessionId, head);
  }

  /**
   * The writes of one event-loop turn share one transaction, committed right after the
   * turn's I/O callbacks (setImmediate): one commit for every session's statements instead
   * of one each. Callers forward only from `whenDurable`, so write-before-forward holds.
   */
  private commitBatch(batch: Batch | undefined): void {
    if (batch === undefined || this.batch !== batch) return;
    if (this.store.submit !== undefined && !this.draining) {
      return this.submitBatch(batch);
    }
    this.batch = undefined;
    let failure = batch.failed;
    if (failure === undefined) {
      try {
        this.store.commit();
      } catch (error) {
        failure = error instanceof RecorderError ? error : new RecorderError(`committing recordings failed: ${String(error)}`, { cause: error });
        this.store.rollback();
        this.logger.error('recording commit failed; the operations of this event-loop turn are refused (nothing of it was forwarded)', {
          error: failure,
        });
      }
    }
    if (failure !== undefined) this.recover(batch, failure);
    else for (const signed of batch.checkpoints) this.logger.info('audit checkpoint signed', signed);
    const durable = failure === undefined;
    for (const waiter of batch.waiters) waiter(durable);
  }

  /**
   * Asynchronous group commit (the journal): the batch goes to the store, and its waiters hear
   * when it is durable. While one batch is being answered the next one keeps collecting the
   * turns' writes, and goes as soon as the first is answered.
   */
  private submitBatch(batch: Batch): void {
    if (this.inFlight !== undefined) {
      batch.due = true;
      return;
    }
    this.batch = undefined;
    if (batch.failed !== undefined) {
      this.store.rollback();
      this.recover(batch, batch.failed);
      for (const waiter of batch.waiters) waiter(false);
      return;
    }
    this.inFlight = batch;
    this.store.submit!((error) => this.submitted(batch, error));
  }

  /** The answer for the batch in flight. A failure also fails the batch built on top of it, which is not submitted. */
  private submitted(batch: Batch, failure: RecorderError | undefined): void {
    this.inFlight = undefined;
    if (failure === undefined) {
      for (const signed of batch.checkpoints) this.logger.info('audit checkpoint signed', signed);
      for (const waiter of batch.waiters) waiter(true);
    } else {
      this.logger.error('recording commit failed; the operations of this event-loop turn are refused (nothing of it was forwarded)', { error: failure });
      const next = this.batch;
      if (next !== undefined) {
        // Chained onto events that were never written: undone too (newest first, so the heads end as they were before `batch`).
        this.batch = undefined;
        this.store.rollback();
        this.restore(next);
      }
      // `submit` answers a failure only when nothing of the batch was written: the heads at its
      // start are the store's. (Reading them back would wait for the store to catch up, which
      // is what may be failing.)
      this.restore(batch);
      for (const waiter of batch.waiters) waiter(false);
      for (const waiter of next?.waiters ?? []) waiter(false);
    }
    if (this.batch?.due === true && !this.draining) this.submitBatch(this.batch);
  }

  /** Shutdown and retention write here and now: the batch in flight is answered first, then the open one is committed on this thread. */
  private commitNow(): void {
    this.draining = true;
    try {
      this.store.settle?.();
      this.commitBatch(this.batch);
    } finally {
      this.draining = false;
    }
  }

  /** Undoes a batch in memory: the heads as they were at its start, its records kept for the next batch. */
  private restore(batch: Batch): void {
    for (const [sessionId, head] of batch.undo) {
      if (head === undefined) this.open.delete(sessionId);
      else this.open.set(sessionId, head);
    }
    this.globalHead = batch.globalHead;
    this.lastCheckpoint = batch.lastCheckpoint;
    this.defer(batch.retry, true);
  }

  /** After a failed batch: the heads as they were at its start (what the store holds after the rollback), and its records kept. */
  private recover(batch: Batch, cause: RecorderError): void {
    this.restore(batch);
    try {
      const stored = this.store.auditHead();
      const mismatch =
        !sameHead(stored, this.globalHead) ||
        this.store.lastCheckpointSeq() !== this.lastCheckpoint ||
        [...batch.undo.keys()].some((sessionId) => !sameHead(this.store.sessionHead(sessionId), this.open.get(sessionId)));
      if (!mismatch) return;
      this.failure = new RecorderError(
        `recording stopped: after a failed write (${cause.message}) the database no longer matches the recorder's chain heads; restart the gateway`,
        { cause },
      );
    } catch (error) {
      this.failure = new RecorderError(
        `recording stopped: after a failed write (${cause.message}) the database could not be read back (${(error as Error).message}); restart the gateway`,
        { cause },
      );
    }
    this.logger.error('recording cannot continue; refusing all further operations until restart', { error: this.failure });
  }

  /** Keeps records to write again; a failed batch's own records go `first`, before those deferred while it failed. */
  private defer(records: readonly Deferred[], first = false): void {
    if (records.length === 0) return;
    const all = first ? [...records, ...this.deferred] : [...this.deferred, ...records];
    this.deferred = all.slice(0, MAX_DEFERRED);
    if (all.length > MAX_DEFERRED) {
      this.logger.error('recording: too many records waiting to be written again after failures; dropping the newest', {
        dropped: all.length - MAX_DEFERRED,
      });
    }
  }

  /**
   * Writes the records failed batches kept, first thing in a new batch (or at close). One
   * that no longer applies (its session did not survive the failure) is dropped; a store
   * failure keeps the rest for the next batch.
   */
  private replayDeferred(): void {
    if (this.deferred.length === 0) return;
    const records = this.deferred;
    this.deferred = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Deferred;
      try {
        this.apply(record);
      } catch (error) {
        if (error instanceof Error && storeFailures.has(error)) {
          this.defer(records.slice(i));
          throw error;
        }
        this.logger.warn('recording: dropped a record kept from a failed write; it no longer applies', { kind: record.kind, error });
      }
    }
  }
}

function sameHead(a: ChainHead | undefined, b: ChainHead | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.seq === b.seq && a.hash === b.hash;
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
