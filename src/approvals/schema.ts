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
 *
 * Version 2 (grants): requests gain the grant the rule gave (`grant_kind` once|window and
 * `grant_ms`: a once grant's grant_ttl, a window grant's duration), how many operations it
 * released (`uses`), status `revoked` and who revoked it, when, why and whether as an admin.
 * SQLite cannot change a CHECK constraint in place, so both tables are rebuilt (the child
 * first, so the parent is dropped with no rows referring to it; renaming rewrites the
 * decisions' foreign key). Requests made before it were under the only grant that version
 * enforced: once, redeemable for 15 minutes after approval.
 *
 * Version 3 (access requests): requests gain `kind` — `operation` (every request before it)
 * or `access` (an identity asking to open a connection with `access.require_approval`; its
 * rule is `access-request`, its grant a window, its session id empty) — and an index for
 * finding an identity's access grant on a connection when a session opens.
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
  `
  CREATE TABLE requests_v2 (
    id                    TEXT PRIMARY KEY NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'revoked')),
    subject               TEXT NOT NULL,
    client_id             TEXT,
    connection            TEXT NOT NULL,
    rule                  TEXT NOT NULL,
    operation_hash        TEXT NOT NULL,
    groups                TEXT NOT NULL,
    text                  TEXT NOT NULL,
    parameters            TEXT,
    session_id            TEXT NOT NULL,
    reason                TEXT NOT NULL,
    approvers             TEXT NOT NULL,
    min_approvals         INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    grant_kind            TEXT NOT NULL CHECK (grant_kind IN ('once', 'window')),
    grant_ms              INTEGER NOT NULL CHECK (grant_ms > 0),
    redeemed_at           INTEGER,
    uses                  INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    grant_expires_at      INTEGER,
    revoked_at            INTEGER,
    revoked_by            TEXT,
    revoked_by_client_id  TEXT,
    revoked_as_admin      INTEGER,
    revoke_comment        TEXT,
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoked_as_admin IS NOT NULL AND revoke_comment IS NOT NULL))
  );
  INSERT INTO requests_v2 (id, status, subject, client_id, connection, rule, operation_hash, groups, text, parameters, session_id,
      reason, approvers, min_approvals, created_at, expires_at, grant_kind, grant_ms, redeemed_at, uses, grant_expires_at)
    SELECT id, status, subject, client_id, connection, rule, operation_hash, groups, text, parameters, session_id,
      reason, approvers, min_approvals, created_at, expires_at, 'once', 900000, redeemed_at,
      CASE WHEN redeemed_at IS NULL THEN 0 ELSE 1 END, grant_expires_at
    FROM requests ORDER BY rowid;

  CREATE TABLE decisions_v2 (
    request_id  TEXT NOT NULL REFERENCES requests_v2 (id),
    subject     TEXT NOT NULL,
    client_id   TEXT,
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    comment     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    UNIQUE (request_id, subject)
  );
  INSERT INTO decisions_v2 (request_id, subject, client_id, decision, comment, at)
    SELECT request_id, subject, client_id, decision, comment, at FROM decisions ORDER BY rowid;

  DROP TABLE decisions;
  DROP TABLE requests;
  ALTER TABLE requests_v2 RENAME TO requests;
  ALTER TABLE decisions_v2 RENAME TO decisions;

  CREATE INDEX requests_status ON requests (status, created_at);
  CREATE INDEX requests_created ON requests (created_at);
  CREATE INDEX requests_once_grants ON requests (operation_hash) WHERE status = 'approved' AND grant_kind = 'once' AND redeemed_at IS NULL;
  CREATE INDEX requests_window_grants ON requests (subject, connection, rule, grant_expires_at) WHERE status = 'approved' AND grant_kind = 'window';
  `,
  `
  ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'operation' CHECK (kind IN ('operation', 'access'));
  CREATE INDEX requests_access_grants ON requests (subject, connection, grant_expires_at) WHERE status = 'approved' AND kind = 'access';
  `,
];

/** The schema version this build writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;
