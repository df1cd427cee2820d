/**
 * The embedded state store: one SQLite file, `<dataDir>/portcullis.db`, in WAL mode, written
 * synchronously through prepared statements. WAL lets `portcullis audit verify` (and later
 * the admin API) read a consistent snapshot while the gateway writes.
 *
 * Durability: every write is one transaction, committed before the call returns. With
 * `synchronous = NORMAL` (durability `process`) a commit reaches the operating system before
 * it returns, so it survives the process dying; `FULL` (durability `fsync`) also fsyncs the
 * WAL on every commit, so it survives power loss.
 *
 * One gateway process per data directory: the recorder keeps each open session's chain head
 * in memory, and a second process would take the first one's live sessions for crashed ones.
 * `openRecorder` enforces it with the data-directory lock (./data-dir-lock.ts); read-only
 * opens (verification, listing) need no lock.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RecorderError } from './recorder.js';
import { MIGRATIONS, SCHEMA_VERSION } from './sqlite-schema.js';
import type { AuditEntryRow, ChainHead, EventRow, RecordingStore, SessionRow, SessionRowFilter } from './store.js';

export const DATABASE_FILE = 'portcullis.db';

export type Durability = 'process' | 'fsync';

export interface SqliteStoreOptions {
  /** Default `process`. */
  readonly durability?: Durability;
  /**
   * Open for reading only: nothing is created or migrated, and the schema must be exactly
   * the version this build knows. For verification and listing.
   */
  readonly readonly?: boolean;
  /**
   * How long a write waits for a lock held by another connection before failing. Calls are
   * synchronous (they block the event loop), so keep it short. Default 2000 ms.
   */
  readonly busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 2000;

const SYNCHRONOUS: Readonly<Record<Durability, string>> = { process: 'NORMAL', fsync: 'FULL' };

/** What an SQLite error code means for an operator, and what to do about it. */
const HINTS: Readonly<Record<string, string>> = {
  SQLITE_FULL: 'the disk (or the file system quota) is full; free space and retry',
  SQLITE_BUSY: 'the database is locked by another connection (is another gateway using the same data_dir?)',
  SQLITE_LOCKED: 'the database is locked by another connection (is another gateway using the same data_dir?)',
  SQLITE_READONLY: 'the database file, its -wal or -shm file, or its directory is not writable by this user',
  SQLITE_CANTOPEN: 'the file cannot be opened: check that the data directory exists and is accessible',
  SQLITE_CORRUPT: 'the database file is damaged: keep it as evidence, and restore a backup or move it aside (with the journal directory beside it) to start a new one',
  SQLITE_NOTADB: 'the file is not an SQLite database: keep it as evidence, and restore a backup or move it aside (with the journal directory beside it) to start a new one',
  SQLITE_IOERR: 'an I/O error occurred reading or writing the file (failing disk, full disk, or removed volume?)',
  SQLITE_PERM: 'permission denied',
};

/** Wraps any failure into a RecorderError saying what failed, on which file, and what it means. */
export function storeError(what: string, file: string, error: unknown): RecorderError {
  if (error instanceof RecorderError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const hint = code === undefined ? undefined : (HINTS[code] ?? HINTS[code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1')]);
  return new RecorderError(`${what} ${file}: ${message}${code === undefined ? '' : ` (${code})`}${hint === undefined ? '' : `: ${hint}`}`, {
    cause: error,
  });
}

type SessionDbRow = SessionRow;

/** A place in the recording journal: a segment's number and a byte offset in it. */
export interface JournalPosition {
  readonly segment: number;
  readonly offset: number;
}

export class SqliteStore implements RecordingStore {
  /** The underlying connection, for tests and diagnostics only: everything else goes through the interfaces. */
  readonly database: Database.Database;
  private readonly statements: ReturnType<typeof prepare>;
  private readonly inTransaction: Database.Transaction<(fn: () => unknown) => unknown>;

  private constructor(
    readonly file: string,
    database: Database.Database,
  ) {
    this.database = database;
    this.statements = prepare(database);
    this.inTransaction = database.transaction((fn: () => unknown) => fn());
  }

  /** Opens (creating and migrating unless read-only) `<dataDir>/portcullis.db`. Throws RecorderError. */
  static open(dataDir: string, options: SqliteStoreOptions = {}): SqliteStore {
    const file = join(dataDir, DATABASE_FILE);
    const readonly = options.readonly === true;
    if (!readonly) createPrivately(dataDir, file);
    let database: Database.Database;
    try {
      database = new Database(file, { readonly, fileMustExist: readonly, timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw storeError('cannot open the recording database', file, error);
    }
    try {
      if (readonly) {
        checkVersion(database, file, true);
      } else {
        const mode = database.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new RecorderError(`cannot switch ${file} to WAL mode (journal_mode is ${String(mode)})`);
        database.pragma(`synchronous = ${SYNCHRONOUS[options.durability ?? 'process']}`);
        migrate(database, file);
      }
      return new SqliteStore(file, database);
    } catch (error) {
      database.close();
      throw storeError('cannot open the recording database', file, error);
    }
  }

  /**
   * Commits on this connection no longer checkpoint the WAL (SQLite's default does, every
   * 1000 pages, inside whichever commit crosses the mark — an fsync or two in that commit's
   * latency); another connection's `checkpoint()` must then (the recording writer thread's).
   */
  stopAutoCheckpoint(): void {
    this.guard('cannot configure', () => this.database.pragma('wal_autocheckpoint = 0'));
  }

  /** Copies committed WAL pages into the database file, waiting for no reader or writer (PASSIVE). */
  checkpoint(): void {
    this.guard('cannot checkpoint', () => this.database.pragma('wal_checkpoint(PASSIVE)'));
  }

  /** The connection's `synchronous` setting, as SQLite reports it: 1 NORMAL, 2 FULL. */
  synchronousLevel(): number {
    return this.database.pragma('synchronous', { simple: true }) as number;
  }

  transaction<T>(fn: () => T): T {
    return this.guard('cannot write to', () => this.inTransaction.immediate(fn) as T);
  }

  begin(): void {
    this.guard('cannot write to', () => this.database.exec('BEGIN IMMEDIATE'));
  }

  commit(): void {
    this.guard('cannot write to', () => this.database.exec('COMMIT'));
  }

  rollback(): void {
    try {
      if (this.database.inTransaction) this.database.exec('ROLLBACK');
    } catch {
      // The connection is unusable anyway; the recorder already refuses further writes.
    }
  }

  snapshot<T>(fn: () => T): T {
    return this.guard('cannot read', () => this.inTransaction.deferred(fn) as T);
  }

  insertSession(session: SessionRow, first: EventRow): void {
    this.guard('cannot write to', () => {
      this.statements.insertSession.run(session);
      this.statements.insertEvent.run(first);
    });
  }

  appendEvent(event: EventRow): void {
    this.guard('cannot write to', () => this.statements.insertEvent.run(event));
  }

  markEnded(sessionId: string, endedAt: number, endedBy: string, lastSeq: number): void {
    this.guard('cannot write to', () => this.statements.markEnded.run({ id: sessionId, endedAt, endedBy, lastSeq }));
  }

  unendedSessions(): readonly (SessionRow & { readonly head: ChainHead | undefined })[] {
    return this.guard('cannot read', () =>
      (this.statements.unended.all() as SessionDbRow[]).map((session) => ({
        ...session,
        head: this.statements.sessionHead.get(session.id) as ChainHead | undefined,
      })),
    );
  }

  sessions(): Iterable<SessionRow> {
    return this.rows<SessionRow>(this.statements.sessions);
  }

  events(): Iterable<EventRow> {
    return this.rows<EventRow>(this.statements.events);
  }

  session(sessionId: string): SessionRow | undefined {
    return this.guard('cannot read', () => this.statements.session.get(sessionId) as SessionRow | undefined);
  }

  sessionEvents(sessionId: string): Iterable<EventRow> {
    return this.rows<EventRow>(this.statements.sessionEvents, sessionId);
  }

  sessionHead(sessionId: string): ChainHead | undefined {
    return this.guard('cannot read', () => this.statements.sessionHead.get(sessionId) as ChainHead | undefined);
  }

  findSessions(filter: SessionRowFilter): Iterable<SessionRow> {
    const conditions: string[] = [];
    if (filter.connection !== undefined) conditions.push('connection = @connection');
    if (filter.subject !== undefined) conditions.push('subject = @subject');
    if (filter.since !== undefined) conditions.push('started_at >= @since');
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
    const statement = this.guard('cannot read', () =>
      this.database.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions ${where} ORDER BY started_at, id`),
    );
    return this.rows<SessionRow>(statement, filter);
  }

  sessionConnections(): readonly string[] {
    return this.guard('cannot read', () => this.statements.connections.pluck().all() as string[]);
  }

  endedSessions(connection: string, endedBefore: number, limit: number): readonly SessionRow[] {
    return this.guard('cannot read', () => this.statements.endedSessions.all(connection, endedBefore, limit) as SessionRow[]);
  }

  deleteSession(sessionId: string): void {
    this.guard('cannot write to', () => {
      if (this.statements.deleteSessionRow.run(sessionId).changes !== 1) {
        throw new RecorderError(`cannot prune session ${sessionId}: it is not an ended session in the index`);
      }
      this.statements.deleteSessionEvents.run(sessionId);
    });
  }

  appendAuditEntry(entry: AuditEntryRow): void {
    this.guard('cannot write to', () => this.statements.insertAudit.run(entry));
  }

  auditHead(): ChainHead | undefined {
    return this.guard('cannot read', () => this.statements.auditHead.get() as ChainHead | undefined);
  }

  lastCheckpointSeq(): number {
    return this.guard('cannot read', () => (this.statements.lastCheckpoint.pluck().get() as number | null) ?? 0);
  }

  auditEntries(): Iterable<AuditEntryRow> {
    return this.rows<AuditEntryRow>(this.statements.auditEntries);
  }

  sealOf(sessionId: string): AuditEntryRow | undefined {
    return this.guard('cannot read', () => this.statements.sealOf.get(sessionId) as AuditEntryRow | undefined);
  }

  /** How far the recording journal has been applied (./journal-store.ts). */
  journalPosition(): JournalPosition {
    return this.guard('cannot read', () => this.statements.journalPosition.get() as JournalPosition);
  }

  /** This database's journal id (random, fixed at creation): its journal is `journal/<id>/`. */
  journalId(): string {
    return this.guard('cannot read', () => this.statements.journalId.pluck().get() as string);
  }

  /** Moves the journal position: call inside the transaction that applies the frames it covers. */
  setJournalPosition(position: JournalPosition): void {
    this.guard('cannot write to', () => this.statements.setJournalPosition.run(position));
  }

  close(): void {
    if (this.database.open) this.database.close();
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw storeError(what, this.file, error);
    }
  }

  /** Streams a query's rows, wrapping errors (a corrupt page may only show up mid-scan). */
  private *rows<T>(statement: Database.Statement, ...parameters: unknown[]): Generator<T> {
    try {
      for (const row of statement.iterate(...parameters)) yield row as T;
    } catch (error) {
      throw storeError('cannot read', this.file, error);
    }
  }
}

function prepare(db: Database.Database) {
  return {
    insertSession: db.prepare(
      `INSERT INTO sessions (id, protocol, connection, subject, started_at, ended_at, ended_by, last_seq)
       VALUES (@id, @protocol, @connection, @subject, @startedAt, @endedAt, @endedBy, @lastSeq)`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO events (session_id, seq, time, type, payload, prev_hash, hash)
       VALUES (@sessionId, @seq, @time, @type, @payload, @prevHash, @hash)`,
    ),
    markEnded: db.prepare(
      `UPDATE sessions SET ended_at = @endedAt, ended_by = @endedBy, last_seq = @lastSeq WHERE id = @id AND ended_at IS NULL`,
    ),
    unended: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE ended_at IS NULL ORDER BY started_at, id`),
    sessionHead: db.prepare(`SELECT seq, hash FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1`),
    sessions: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY id`),
    events: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY session_id, seq`),
    session: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`),
    sessionEvents: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE session_id = ? ORDER BY seq`),
    // The distinct connections by skipping through the (connection, ended_at) index: one
    // lookup per connection, not a scan of every session.
    connections: db.prepare(
      `WITH RECURSIVE names (name) AS (
         SELECT MIN(connection) FROM sessions
         UNION ALL
         SELECT (SELECT MIN(connection) FROM sessions WHERE connection > names.name) FROM names WHERE names.name IS NOT NULL
       )
       SELECT name FROM names WHERE name IS NOT NULL`,
    ),
    endedSessions: db.prepare(
      `SELECT ${SESSION_COLUMNS} FROM sessions
       WHERE connection = ? AND ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at, id LIMIT ?`,
    ),
    deleteSessionRow: db.prepare(`DELETE FROM sessions WHERE id = ? AND ended_at IS NOT NULL`),
    deleteSessionEvents: db.prepare(`DELETE FROM events WHERE session_id = ?`),
    insertAudit: db.prepare(
      `INSERT INTO audit_log (seq, time, type, session_id, payload, prev_hash, hash)
       VALUES (@seq, @time, @type, @sessionId, @payload, @prevHash, @hash)`,
    ),
    auditHead: db.prepare(`SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`),
    lastCheckpoint: db.prepare(`SELECT MAX(seq) FROM audit_log WHERE type = 'checkpoint'`),
    auditEntries: db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY seq`),
    sealOf: db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE session_id = ? AND type = 'session-seal' ORDER BY seq LIMIT 1`),
    journalPosition: db.prepare(`SELECT segment, offset FROM journal_position WHERE id = 1`),
    journalId: db.prepare(`SELECT database_id FROM journal_position WHERE id = 1`),
    setJournalPosition: db.prepare(`UPDATE journal_position SET segment = @segment, offset = @offset WHERE id = 1`),
  };
}

const EVENT_COLUMNS = 'session_id AS sessionId, seq, time, type, payload, prev_hash AS prevHash, hash';
const AUDIT_COLUMNS = 'seq, time, type, session_id AS sessionId, payload, prev_hash AS prevHash, hash';

const SESSION_COLUMNS =
  'id, protocol, connection, subject, started_at AS startedAt, ended_at AS endedAt, ended_by AS endedBy, last_seq AS lastSeq';

/** The data directory 0700 and the database file 0600 (SQLite gives its -wal and -shm files the same mode). */
export function createPrivately(dataDir: string, file: string, what = 'the recording database'): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw storeError('cannot create the data directory for', file, error);
  }
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw storeError(`cannot create ${what}`, file, error);
  }
}

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function checkVersion(db: Database.Database, file: string, exact: boolean): number {
  const version = userVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new RecorderError(
      `${file} has schema version ${version}, newer than this Portcullis supports (version ${SCHEMA_VERSION}): ` +
        'it was written by a newer release. Run that release (or newer), or point data_dir elsewhere; refusing to touch it.',
    );
  }
  if (exact && version < SCHEMA_VERSION) {
    throw new RecorderError(
      version === 0
        ? `${file} holds no Portcullis recordings (no schema): is data_dir right?`
        : `${file} has schema version ${version}, older than this Portcullis (version ${SCHEMA_VERSION}): start the gateway once to upgrade it, or use the release that wrote it`,
    );
  }
  return version;
}

/**
 * Runs the missing migrations, each in its own transaction together with its version bump.
 * The last transaction always writes (the version, unchanged), so a file SQLite silently
 * opened read-only (permissions, a read-only mount) is refused at start, not at the first
 * recorded operation.
 */
function migrate(db: Database.Database, file: string): void {
  checkVersion(db, file, false);
  for (;;) {
    const done = db.transaction(() => {
      const version = checkVersion(db, file, false); // re-read under the write lock
      if (version === SCHEMA_VERSION) {
        db.pragma(`user_version = ${version}`);
        return true;
      }
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
      return false;
    }).immediate();
    if (done) return;
  }
}
