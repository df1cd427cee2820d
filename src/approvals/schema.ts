/**
 * The approvals database schema (`<dataDir>/approvals.db`), as an append-only list of
 * migrations: migration i takes the database from version i to i + 1 (`PRAGMA
 * user_version`). Never edit a shipped migration; add one.
 *
 * A file of its own, not the recording database: the recorder holds a write transaction
 * across an event-loop turn on its connection (group commit), so a second writer on that
 * file in the same thread would wait for a lock nobody releases until its timeout.
 *
 * Version 1:
 *   requests   one row per approval request: the binding (subject, client id, connection,
 *              rule, operation hash), the held operation, the review settings it was asked
 *              under, its status and times. JSON text for lists (groups, approvers, parameters).
 *   decisions  each approver's decision, at most one per approver subject per request.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE requests (
    id                TEXT PRIMARY KEY NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    subject           TEXT NOT NULL,
    client_id         TEXT,
    connection        TEXT NOT NULL,
    rule              TEXT NOT NULL,
    operation_hash    TEXT NOT NULL,
    groups            TEXT NOT NULL,
    text              TEXT NOT NULL,
    parameters        TEXT,
    session_id        TEXT NOT NULL,
    reason            TEXT NOT NULL,
    approvers         TEXT NOT NULL,
    min_approvals     INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    redeemed_at       INTEGER,
    grant_expires_at  INTEGER
  );
  CREATE INDEX requests_status ON requests (status, created_at);
  CREATE INDEX requests_created ON requests (created_at);
  CREATE INDEX requests_grants ON requests (operation_hash) WHERE status = 'approved' AND redeemed_at IS NULL;

  CREATE TABLE decisions (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    subject     TEXT NOT NULL,
    client_id   TEXT,
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    comment     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    UNIQUE (request_id, subject)
  );
  `,
];

/** The schema version this build writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;
