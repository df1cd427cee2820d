/**
 * The SQLite store with its group commits on a writer thread (`recording.writer: thread`, the
 * gateway's default). Committing a batch — SQLite's locks, the WAL write, checkpoints, an
 * fsync with durability `fsync` — costs the event loop more than building it, and every
 * session waits while it runs; here the main thread only hands the batch's writes over and
 * serves sessions until the writer answers. What callers see is unchanged: an operation is
 * forwarded only once its batch is durable (ChainRecorder waits for `submit`'s answer).
 *
 * Everything else — reads, and writes outside a submitted batch (start-up recovery,
 * retention, shutdown) — runs on the main thread's own connection, after `settle` has
 * waited for the batch in flight, so the two connections never write at the same time.
 */
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { RecorderError } from './recorder.js';
import { DEFAULT_BUSY_TIMEOUT_MS, type Durability, type SqliteStore } from './sqlite-store.js';
import type { AuditEntryRow, ChainHead, EventRow, RecordingStore, SessionRow, SessionRowFilter } from './store.js';
import { applyWrite, CLOSED_ID, type StoreWrite, type WriterAck, type WriterData, type WriterRequest } from './store-writer-protocol.js';

export interface ThreadedStoreOptions {
  readonly dataDir: string;
  readonly durability?: Durability;
  readonly busyTimeoutMs?: number;
  /** `when-busy` (default): batches go to the writer while the event loop is busy, else commit here; `always`. */
  readonly offload?: Offload;
}

export type Offload = 'when-busy' | 'always';

/** How long one blocking wait for the writer lasts before checking again (it is woken at once when it answers). */
const SETTLE_SLICE_MS = 100;
/**
 * Handing a batch to the writer costs a round trip between threads (tens of µs of latency)
 * but frees the event loop for the commit's duration. Worth it when the loop is busy — many
 * sessions waiting to be served — not for a lone session, whose statement would only wait
 * longer. Busy: the event loop was at least this utilized over the last sample.
 */
const BUSY_UTILIZATION = 0.5;
const UTILIZATION_SAMPLE_MS = 50;
/**
 * The writer only turns batches into SQLite inserts: its objects die young and few. V8's
 * default young generation (16 MiB semi-spaces, all of it touched after a burst) would make
 * a second isolate cost the gateway ~30 MB of RSS under load for nothing.
 */
const WRITER_LIMITS = { maxYoungGenerationSizeMb: 4 };

export class ThreadedStore implements RecordingStore {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  /** The writes of the open `begin` transaction, or undefined outside one. */
  private pending: StoreWrite[] | undefined;
  private inFlight: { readonly id: number; readonly done: (error: RecorderError | undefined) => void } | undefined;
  private nextId = 1;
  private closed = false;
  /** Why the writer thread is gone (every later batch fails with it: nothing unrecorded is forwarded). */
  private dead: string | undefined;
  private busy = false;
  private readonly always: boolean;
  private readonly sampler: NodeJS.Timeout;

  constructor(
    private readonly inner: SqliteStore,
    options: ThreadedStoreOptions,
  ) {
    this.always = options.offload === 'always';
    inner.stopAutoCheckpoint();
    const channel = new MessageChannel();
    this.port = channel.port1;
    const data: WriterData = {
      dataDir: options.dataDir,
      durability: options.durability ?? 'process',
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      port: channel.port2,
      signal: this.signal.buffer as SharedArrayBuffer,
    };
    this.worker = new Worker(writerEntry(), { workerData: data, transferList: [channel.port2], resourceLimits: WRITER_LIMITS });
    this.worker.unref();
    this.worker.on('error', (error) => this.lost(`the recording writer thread failed: ${error.message}`));
    this.worker.on('exit', (code) => this.lost(`the recording writer thread exited (code ${code})`));
    this.port.on('message', (ack: WriterAck) => this.answer(ack));
    this.port.unref();
    // Opened before anyone is served, so a database the writer cannot open stops the start, as inline.
    let opened: RecorderError | undefined;
    this.inFlight = { id: 0, done: (error) => (opened = error) };
    this.settle();
    if (opened !== undefined) {
      this.closed = true;
      void this.worker.terminate();
      throw opened;
    }
    let last = performance.eventLoopUtilization();
    this.sampler = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.busy = performance.eventLoopUtilization(now, last).utilization >= BUSY_UTILIZATION;
      last = now;
    }, UTILIZATION_SAMPLE_MS);
    this.sampler.unref();
  }

  get file(): string {
    return this.inner.file;
  }

  // ------------------------------------------------------------ group commit

  begin(): void {
    this.pending = [];
  }

  offload(): boolean {
    return this.always || this.busy;
  }

  submit(done: (error: RecorderError | undefined) => void): void {
    if (this.inFlight !== undefined) throw new RecorderError('a recording batch is already being committed');
    const writes = this.pending ?? [];
    this.pending = undefined;
    const id = this.nextId++;
    this.inFlight = { id, done };
    if (this.dead !== undefined) {
      setImmediate(() => this.answer({ id, error: this.dead }));
      return;
    }
    const request: WriterRequest = { type: 'commit', id, writes };
    // Someone waits for this answer: it keeps the process alive until it comes.
    this.port.ref();
    this.port.postMessage(request);
  }

  /** Commits the open transaction here, on the main thread's connection (shutdown, retention). */
  commit(): void {
    this.settle();
    const writes = this.pending;
    this.pending = undefined;
    if (writes !== undefined && writes.length > 0) this.inner.transaction(() => writes.forEach((write) => applyWrite(this.inner, write)));
  }

  rollback(): void {
    if (this.pending !== undefined) this.pending = undefined;
    else this.inner.rollback();
  }

  settle(): void {
    while (this.inFlight !== undefined) {
      if (this.dead !== undefined) {
        this.answer({ id: this.inFlight.id, error: this.dead });
        continue;
      }
      const seen = Atomics.load(this.signal, 0);
      const message = receiveMessageOnPort(this.port);
      if (message !== undefined) this.answer(message.message as WriterAck);
      else Atomics.wait(this.signal, 0, seen, SETTLE_SLICE_MS);
    }
  }

  private lost(reason: string): void {
    this.dead ??= reason;
    if (this.inFlight !== undefined) this.answer({ id: this.inFlight.id, error: this.dead });
  }

  private answer(ack: WriterAck): void {
    const flight = this.inFlight;
    if (flight === undefined || flight.id !== ack.id) return;
    this.inFlight = undefined;
    this.port.unref();
    if (ack.error === undefined) flight.done(undefined);
    else flight.done(new RecorderError(ack.id === 0 ? ack.error : `cannot write to ${this.inner.file}: ${ack.error}`));
  }

  // ------------------------------------------------------------ writes: joined to the open batch, or here

  private write(write: StoreWrite): void {
    if (this.pending !== undefined) this.pending.push(write);
    else {
      this.settle();
      applyWrite(this.inner, write);
    }
  }

  transaction<T>(fn: () => T): T {
    if (this.pending !== undefined) return fn();
    this.settle();
    return this.inner.transaction(fn);
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

  // ------------------------------------------------------------ reads: what is committed

  unendedSessions(): readonly (SessionRow & { readonly head: ChainHead | undefined })[] {
    this.settle();
    return this.inner.unendedSessions();
  }

  sessions(): Iterable<SessionRow> {
    this.settle();
    return this.inner.sessions();
  }

  events(): Iterable<EventRow> {
    this.settle();
    return this.inner.events();
  }

  session(sessionId: string): SessionRow | undefined {
    this.settle();
    return this.inner.session(sessionId);
  }

  sessionEvents(sessionId: string): Iterable<EventRow> {
    this.settle();
    return this.inner.sessionEvents(sessionId);
  }

  sessionHead(sessionId: string): ChainHead | undefined {
    this.settle();
    return this.inner.sessionHead(sessionId);
  }

  findSessions(filter: SessionRowFilter): Iterable<SessionRow> {
    this.settle();
    return this.inner.findSessions(filter);
  }

  sessionConnections(): readonly string[] {
    this.settle();
    return this.inner.sessionConnections();
  }

  endedSessions(connection: string, endedBefore: number, limit: number): readonly SessionRow[] {
    this.settle();
    return this.inner.endedSessions(connection, endedBefore, limit);
  }

  auditHead(): ChainHead | undefined {
    this.settle();
    return this.inner.auditHead();
  }

  lastCheckpointSeq(): number {
    this.settle();
    return this.inner.lastCheckpointSeq();
  }

  auditEntries(): Iterable<AuditEntryRow> {
    this.settle();
    return this.inner.auditEntries();
  }

  sealOf(sessionId: string): AuditEntryRow | undefined {
    this.settle();
    return this.inner.sealOf(sessionId);
  }

  snapshot<T>(fn: () => T): T {
    this.settle();
    return this.inner.snapshot(fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sampler);
    this.settle();
    // Waits for the writer to close its connection: after close() the files are free (to move, unmount, reopen).
    if (this.dead === undefined) {
      this.inFlight = { id: CLOSED_ID, done: () => undefined };
      const request: WriterRequest = { type: 'close' };
      this.port.postMessage(request);
      this.settle();
    }
    this.port.close();
    this.inner.close();
  }
}

/**
 * The writer thread's entry, compiled next to this module. Under the test runner this module
 * is TypeScript source, which a worker thread cannot load: the build's copy in dist/ is used
 * (`npm test` builds first).
 */
function writerEntry(): string {
  const sibling = fileURLToPath(new URL('./store-writer-worker.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  const built = sibling.replace(/([\\/])src([\\/]recording[\\/])/, '$1dist$2');
  if (existsSync(built)) return built;
  throw new RecorderError(`the recording writer thread's code is missing (${sibling}): run \`npm run build\``);
}
