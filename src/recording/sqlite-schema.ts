/**
 * The SQLite schema, as an append-only list of migrations: migration i takes the database
 * from version i to i + 1 (`PRAGMA user_version`). Never edit a shipped migration; add one.
 *
 * Version 1:
 *   sessions   the index used for listing and crash recovery (one row per session; derived
 *              from the session's events, which are what the hashes protect)
 *   events     each session's hash chain: (session_id, seq) unique, seq 1…n
 *   audit_log  the global chain: session seals, authentication failures, signed checkpoints
 *
 * Version 2 (indexed reads and retention):
 *   sessions_connection_ended  listing by connection; the expired sessions of one connection
 *                              (retention differs per connection); the distinct connections
 *   sessions_subject           listing by subject
 *
 * Version 3 (the recording journal, ./journal-store.ts):
 *   journal_position  how far the journal has been applied: every segment before `segment`,
 *                     and `segment` up to byte `offset`; moved in the same transaction as
 *                     the writes it covers, so a restart replays exactly what is missing.
 *                     `database_id` (random) names this database's journal directory, so a
 *                     journal is never applied to another database
 *
 * Events are a rowid table (not WITHOUT ROWID) because a payload can be as large as the
 * biggest statement a client may send.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    protocol    TEXT NOT NULL,
    connection  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    ended_by    TEXT,
    last_seq    INTEGER
  );
  CREATE INDEX sessions_started_at ON sessions (started_at);
  CREATE INDEX sessions_unended ON sessions (id) WHERE ended_at IS NULL;

  CREATE TABLE events (
    session_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    type        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (session_id, seq)
  );

  CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    type        TEXT NOT NULL,
    session_id  TEXT,
    payload     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
  );
  CREATE INDEX audit_log_session ON audit_log (session_id) WHERE session_id IS NOT NULL;
  CREATE INDEX audit_log_checkpoints ON audit_log (seq) WHERE type = 'checkpoint';
  `,
  `
  CREATE INDEX sessions_connection_ended ON sessions (connection, ended_at);
  CREATE INDEX sessions_subject ON sessions (subject, started_at);
  `,
  `
  CREATE TABLE journal_position (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    database_id  TEXT NOT NULL,
    segment      INTEGER NOT NULL,
    offset       INTEGER NOT NULL
  );
  INSERT INTO journal_position (id, database_id, segment, offset) VALUES (1, lower(hex(randomblob(8))), 0, 0);
  `,
];

/** The schema version this build writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;
