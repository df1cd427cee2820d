/**
 * The SQLite store behind a recording journal (`recording.writer: thread`, the gateway's
 * default). A group-commit batch becomes durable as one frame appended to the journal with a
 * single write — then its operations are forwarded — and a writer thread applies the journal
 * to the database in bulk (./journal-writer-worker.ts). Committing to SQLite per batch cost
 * 15–30 µs per event (every session's events land on their own index page, so each commit
 * writes a WAL frame per session), and a thread round trip before every forward; applied in
 * bulk, off the data path, an event costs a fraction of that.
 *
 * Write-before-forward holds: `submit` answers only once the frame is written (to the
 * operating system; with durability `fsync`, also synced) and refuses the batch when it cannot
 * be. The database may run behind the journal — a lock held elsewhere, a full disk — without
 * losing anything: the frames wait in the journal, and at the next start whatever the
 * database lacks is applied from it (./journal-segments.ts) before anything else. How far
 * behind it may fall is bounded: past `maxBacklogBytes` batches are refused (fail closed).
 *
 * Writes outside a batch (start-up recovery, retention, shutdown) go through the journal too,
 * one frame each, so the database takes every write in order from one place. Reads run on the
 * main thread's own connection once the database has caught up with the journal.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { encodeFrame } from './journal-frame.js';
import { applyJournalTail, journalDir, segmentFile, writeAt } from './journal-segments.js';
import { RecorderError } from './recorder.js';
import { DEFAULT_BUSY_TIMEOUT_MS, type Durability, type SqliteStore } from './sqlite-store.js';
import type { AuditEntryRow, ChainHead, EventRow, RecordingStore, SessionRow, SessionRowFilter } from './store.js';
import {
  APPLIED,
  CLOSE,
  PROGRESS,
  SHARED_BYTES,
  sharedViews,
  STATE,
  WAKE,
  WRITTEN,
  WriterState,
  type StoreWrite,
  type WriterData,
  type WriterReport,
} from './journal-protocol.js';
import { silentLogger, type Logger } from '../log.js';

export interface JournalStoreOptions {
  readonly dataDir: string;
  readonly durability?: Durability;
  readonly busyTimeoutMs?: number;
  readonly logger?: Logger;
  /** Batches are refused while more than this many journal bytes wait for the database. Default 64 MiB. */
  readonly maxBacklogBytes?: number;
  /** A new segment is started once the current one holds this many bytes. Default 4 MiB. */
  readonly segmentBytes?: number;
  /** How long the writer thread waits between rounds when nobody wakes it. Default 5 ms. */
  readonly intervalMs?: number;
}

const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;
/**
 * The writer applies what accumulated over this long in one transaction: the longer, the
 * cheaper per event; only readers wait for it (they wake it at once).
 */
const DEFAULT_INTERVAL_MS = 5;
/** How long a reader waits for the database to catch up with the journal before it is refused (normally it takes one round: ms). */
const CATCH_UP_TIMEOUT_MS = 2000;
/** How long start and shutdown wait for the writer thread. */
const WRITER_START_STOP_TIMEOUT_MS = 30_000;
/**
 * The writer only turns frames into SQLite inserts: its objects die young and few. V8's
 * default young generation (16 MiB semi-spaces, all of it touched after a burst) would make
 * a second isolate cost the gateway ~30 MB of RSS under load for nothing.
 */
const WRITER_LIMITS = { maxYoungGenerationSizeMb: 4 };

const HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk (or the file system quota) is full; free space and retry',
  EDQUOT: 'the disk quota is used up; free space and retry',
  EIO: 'an I/O error occurred (failing disk, or removed volume?)',
  EROFS: 'the file system is read-only',
};

export class JournalStore implements RecordingStore {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly totals: BigInt64Array;
  private readonly cells: Int32Array;
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly fsync: boolean;
  private readonly maxBacklogBytes: bigint;
  private readonly segmentBytes: number;
  private segment: number;
  private fd: number;
  /** Bytes in the current segment. */
  private offset = 0;
  /** Bytes in the journal since start (what WRITTEN publishes). */
  private written = 0n;
  /** The writes of the open `begin` transaction, or undefined outside one. */
  private pending: StoreWrite[] | undefined;
  /** The submitted batch, answered at the end of this turn (or by `settle`). */
  private inFlight: { readonly done: (error: RecorderError | undefined) => void; readonly error: RecorderError | undefined } | undefined;
  private closed = false;
  /** Why the journal cannot take batches any more (every later batch fails with it: nothing unrecorded is forwarded). */
  private dead: string | undefined;
  /** Why the writer thread's last round failed, until it catches up. */
  private writerError: string | undefined;

  constructor(
    private readonly inner: SqliteStore,
    options: JournalStoreOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.fsync = options.durability === 'fsync';
    this.maxBacklogBytes = BigInt(options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES);
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    inner.stopAutoCheckpoint();
    this.segment = applyJournalTail(inner, options.dataDir, this.logger);
    this.dir = journalDir(options.dataDir, inner.journalId());
    this.fd = openSegment(this.dir, this.segment, this.fsync);
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    ({ totals: this.totals, cells: this.cells } = sharedViews(shared));
    const channel = new MessageChannel();
    this.port = channel.port1;
    const data: WriterData = {
      dataDir: options.dataDir,
      journal: this.dir,
      durability: options.durability ?? 'process',
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      port: channel.port2,
      shared,
      firstSegment: this.segment,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
    };
    this.worker = new Worker(writerEntry(), { workerData: data, transferList: [channel.port2], resourceLimits: WRITER_LIMITS });
    this.worker.unref();
    this.worker.on('error', (error) => this.lost(`the recording writer thread failed: ${error.message}`));
    this.worker.on('exit', (code) => this.lost(`the recording writer thread exited (code ${code})`));
    // Opened before anyone is served, so a database the writer cannot open stops the start, as inline.
    this.waitForWriter(() => Atomics.load(this.cells, STATE) !== WriterState.starting, WRITER_START_STOP_TIMEOUT_MS);
    if (Atomics.load(this.cells, STATE) !== WriterState.running) {
      const report = receiveMessageOnPort(this.port)?.message as WriterReport | undefined;
      this.closed = true;
      void this.worker.terminate();
      closeSync(this.fd);
      throw new RecorderError(report?.kind === 'error' ? report.message : 'the recording writer thread did not start');
    }
    this.port.on('message', (report: WriterReport) => this.heard(report));
    this.port.unref();
  }

  get file(): string {
    return this.inner.file;
  }

  // ------------------------------------------------------------ group commit

  begin(): void {
    this.pending = [];
  }

  submit(done: (error: RecorderError | undefined) => void): void {
    if (this.inFlight !== undefined) throw new RecorderError('a recording batch is already being committed');
    const writes = this.pending ?? [];
    this.pending = undefined;
    this.inFlight = { done, error: this.append(writes) };
    queueMicrotask(() => this.settle());
  }

  /** Appends the open transaction to the journal now (shutdown, retention). */
  commit(): void {
    this.settle();
    const writes = this.pending;
    this.pending = undefined;
    const error = writes === undefined ? undefined : this.append(writes);
    if (error !== undefined) throw error;
  }

  rollback(): void {
    if (this.pending !== undefined) this.pending = undefined;
    else this.inner.rollback();
  }

  /** Answers the submitted batch (its frame is already written, or it failed). */
  settle(): void {
    const flight = this.inFlight;
    if (flight === undefined) return;
    this.inFlight = undefined;
    flight.done(flight.error);
  }

  /** Writes one frame; the error refusing the batch when it cannot be made durable. */
  private append(writes: readonly StoreWrite[]): RecorderError | undefined {
    if (writes.length === 0) return undefined;
    if (this.dead !== undefined) return new RecorderError(this.dead);
    const backlog = this.written - Atomics.load(this.totals, APPLIED);
    if (backlog > this.maxBacklogBytes) {
      return new RecorderError(
        `cannot record: ${mib(backlog)} MiB of recordings wait in the journal for ${this.inner.file}, which is not taking them ` +
          `(${this.writerError ?? 'the writer thread is behind'}); operations are refused until it catches up`,
      );
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(writes);
    } catch (error) {
      return new RecorderError(`cannot record: ${(error as Error).message}`, { cause: error });
    }
    if (this.offset > 0 && this.offset + frame.length > this.segmentBytes) this.rotate();
    try {
      writeAt(this.fd, frame, this.offset);
      if (this.fsync) fdatasyncSync(this.fd);
    } catch (error) {
      const file = segmentFile(this.dir, this.segment);
      try {
        // Nothing of a refused batch may stay: a later frame goes where this one started.
        ftruncateSync(this.fd, this.offset);
      } catch (truncateError) {
        this.dead = `recording stopped: the journal ${file} could not be cut back after a failed write (${(truncateError as Error).message}); restart the gateway`;
        this.logger.error('recording cannot continue; refusing all further operations until restart', { error: this.dead });
      }
      return journalError(file, error);
    }
    this.offset += frame.length;
    this.written += BigInt(frame.length);
    Atomics.store(this.totals, WRITTEN, this.written);
    return undefined;
  }

  /** Starts the next segment; if it cannot be created, the current one grows on. */
  private rotate(): void {
    let fd: number;
    try {
      fd = openSegment(this.dir, this.segment + 1, this.fsync);
    } catch (error) {
      this.logger.warn('recording journal: cannot start a new segment; the current one grows on', { error });
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.segment += 1;
    this.offset = 0;
  }

  /**
   * Waits until the database holds everything the journal does, so that reads see every
   * recorded write. Refused when it does not catch up in time.
   */
  private catchUp(): void {
    this.settle();
    if (this.dead !== undefined) throw new RecorderError(this.dead);
    const target = this.written;
    const caughtUp = (): boolean => Atomics.load(this.totals, APPLIED) >= target;
    if (caughtUp()) return;
    const asked = Atomics.load(this.cells, PROGRESS);
    Atomics.add(this.cells, WAKE, 1);
    Atomics.notify(this.cells, WAKE);
    const caught = this.waitForWriter(caughtUp, CATCH_UP_TIMEOUT_MS, () => {
      this.pump();
      // A round that failed after we asked: waiting longer would only block every session.
      return this.dead !== undefined || (Atomics.load(this.cells, PROGRESS) !== asked && Atomics.load(this.cells, STATE) === WriterState.failing);
    });
    if (caught) return;
    if (this.dead !== undefined) throw new RecorderError(this.dead);
    throw new RecorderError(
      `cannot read ${this.inner.file}: it has not caught up with the recording journal ` +
        `(${this.writerError ?? 'the writer thread is behind'}); the recordings are safe in the journal, try again later`,
    );
  }

  /**
   * Blocks until `ready()` holds, checking again each time the writer signals progress; false
   * once `timeoutMs` has passed or `giveUp()` says waiting is pointless.
   */
  private waitForWriter(ready: () => boolean, timeoutMs: number, giveUp: () => boolean = () => false): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.cells, PROGRESS);
      if (ready()) return true;
      const left = deadline - Date.now();
      if (left <= 0 || giveUp()) return false;
      Atomics.wait(this.cells, PROGRESS, seen, Math.min(left, 100));
    }
  }

  /** Handles the writer's reports now (a blocked event loop would deliver them only later). */
  private pump(): void {
    for (let message = receiveMessageOnPort(this.port); message !== undefined; message = receiveMessageOnPort(this.port)) {
      this.heard(message.message as WriterReport);
    }
  }

  private heard(report: WriterReport): void {
    if (report.kind === 'error') {
      this.writerError = report.message;
      this.logger.error('recording database is not taking the journal: recordings wait in the journal (nothing is lost); operations are refused if too many wait', {
        error: report.message,
      });
    } else {
      this.writerError = undefined;
      this.logger.info('recording database caught up with the journal');
    }
  }

  private lost(reason: string): void {
    if (this.closed) return;
    this.dead ??= reason;
  }

  // ------------------------------------------------------------ writes: joined to the open batch, or a frame of their own

  private write(write: StoreWrite): void {
    this.transaction(() => this.pending?.push(write));
  }

  /** Outside a batch, `fn`'s writes are one frame, appended before this returns (start-up recovery, retention, shutdown). */
  transaction<T>(fn: () => T): T {
    if (this.pending !== undefined) return fn();
    this.settle();
    this.pending = [];
    let writes: StoreWrite[];
    let result: T;
    try {
      result = fn();
    } finally {
      writes = this.pending;
      this.pending = undefined;
    }
    const error = this.append(writes);
    if (error !== undefined) throw error;
    return result;
  }

  insertSession(session: SessionRow, first: EventRow): void {
    this.write({ op: 'insertSession', session, first });
  }

  appendEvent(event: EventRow): void {
    this.write({ op: 'appendEvent', event });
  }

  markEnded(sessionId: string, endedAt: number, endedBy: string, lastSeq: number): void {
    this.write({ op: 'markEnded', sessionId, endedAt, endedBy, lastSeq });
  }

  appendAuditEntry(entry: AuditEntryRow): void {
    this.write({ op: 'appendAuditEntry', entry });
  }

  deleteSession(sessionId: string): void {
    this.write({ op: 'deleteSession', sessionId });
  }

  // ------------------------------------------------------------ reads: once the database has caught up

  unendedSessions(): readonly (SessionRow & { readonly head: ChainHead | undefined })[] {
    this.catchUp();
    return this.inner.unendedSessions();
  }

  sessions(): Iterable<SessionRow> {
    this.catchUp();
    return this.inner.sessions();
  }

  events(): Iterable<EventRow> {
    this.catchUp();
    return this.inner.events();
  }

  session(sessionId: string): SessionRow | undefined {
    this.catchUp();
    return this.inner.session(sessionId);
  }

  sessionEvents(sessionId: string): Iterable<EventRow> {
    this.catchUp();
    return this.inner.sessionEvents(sessionId);
  }

  sessionHead(sessionId: string): ChainHead | undefined {
    this.catchUp();
    return this.inner.sessionHead(sessionId);
  }

  findSessions(filter: SessionRowFilter): Iterable<SessionRow> {
    this.catchUp();
    return this.inner.findSessions(filter);
  }

  sessionConnections(): readonly string[] {
    this.catchUp();
    return this.inner.sessionConnections();
  }

  endedSessions(connection: string, endedBefore: number, limit: number): readonly SessionRow[] {
    this.catchUp();
    return this.inner.endedSessions(connection, endedBefore, limit);
  }

  auditHead(): ChainHead | undefined {
    this.catchUp();
    return this.inner.auditHead();
  }

  lastCheckpointSeq(): number {
    this.catchUp();
    return this.inner.lastCheckpointSeq();
  }

  auditEntries(): Iterable<AuditEntryRow> {
    this.catchUp();
    return this.inner.auditEntries();
  }

  sealOf(sessionId: string): AuditEntryRow | undefined {
    this.catchUp();
    return this.inner.sealOf(sessionId);
  }

  snapshot<T>(fn: () => T): T {
    this.catchUp();
    return this.inner.snapshot(fn);
  }

  /**
   * Lets the writer apply what is left and close its connection (after close() the files are
   * free). Whatever the database could not take stays in the journal for the next start.
   */
  close(): void {
    if (this.closed) return;
    this.settle();
    this.closed = true;
    if (this.dead === undefined) {
      Atomics.store(this.cells, CLOSE, 1);
      Atomics.add(this.cells, WAKE, 1);
      Atomics.notify(this.cells, WAKE);
      this.waitForWriter(() => Atomics.load(this.cells, STATE) === WriterState.closed, WRITER_START_STOP_TIMEOUT_MS);
    }
    this.pump();
    closeSync(this.fd);
    if (this.dead === undefined && Atomics.load(this.totals, APPLIED) === this.written) {
      try {
        unlinkSync(segmentFile(this.dir, this.segment));
      } catch {
        // Applied already: the next start removes it.
      }
    } else {
      this.logger.warn('recording journal: the database has not caught up; the next start applies the rest from the journal', {
        bytes: Number(this.written - Atomics.load(this.totals, APPLIED)),
      });
    }
    this.port.close();
    this.inner.close();
  }
}

/** Creates a segment; with `fsync`, its directory entry is synced too (a synced frame in a file a power loss unlinked would be lost). */
function openSegment(dir: string, segment: number, fsync: boolean): number {
  const file = segmentFile(dir, segment);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'wx', 0o600);
    if (fsync) {
      const dirFd = openSync(dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    }
    return fd;
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    throw journalError(file, error, 'cannot create');
  }
}

function journalError(file: string, error: unknown, what = 'cannot write to'): RecorderError {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = code === undefined ? undefined : HINTS[code];
  return new RecorderError(
    `${what} the recording journal ${file}: ${(error as Error).message}${hint === undefined ? '' : `: ${hint}`}`,
    { cause: error },
  );
}

function mib(bytes: bigint): string {
  return (Number(bytes) / (1024 * 1024)).toFixed(1);
}

/**
 * The writer thread's entry, compiled next to this module. Under the test runner this module
 * is TypeScript source, which a worker thread cannot load: the build's copy in dist/ is used
 * (`npm test` builds first).
 */
function writerEntry(): string {
  const sibling = fileURLToPath(new URL('./journal-writer-worker.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  const built = sibling.replace(/([\\/])src([\\/]recording[\\/])/, '$1dist$2');
  if (existsSync(built)) return built;
  throw new RecorderError(`the recording writer thread's code is missing (${sibling}): run \`npm run build\``);
}
