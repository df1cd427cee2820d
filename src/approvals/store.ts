/**
 * Durable approval state: `<dataDir>/approvals.db`, SQLite in WAL mode with `synchronous =
 * NORMAL` (a commit survives the process dying), written synchronously through prepared
 * statements. Rows in, rows out: the rules live in ./rules.ts and the timing in ./service.ts.
 *
 * Every failure throws ApprovalStoreError naming the file and, for SQLite errors, what the
 * error code means (the recording store's hints).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RecordedParameter } from '../recording/recorder.js';
import { createPrivately, DEFAULT_BUSY_TIMEOUT_MS, storeError } from '../recording/sqlite-store.js';
import { grantLifetimeMs } from './rules.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import type { ReviewGrant } from '../config/types.js';
import type { ApprovalDecision, ApprovalKind, ApprovalRequest, ApprovalRevocation, ApprovalStatus, OperationBinding } from './types.js';

export const APPROVALS_DATABASE_FILE = 'approvals.db';

/** The approval state could not be read or written (or the service is closed). */
export class ApprovalStoreError extends Error {
  override readonly name = 'ApprovalStoreError';
}

interface RequestRow {
  id: string;
  kind: ApprovalKind;
  status: ApprovalStatus;
  subject: string;
  clientId: string | null;
  connection: string;
  rule: string;
  operationHash: string;
  groups: string;
  text: string;
  parameters: string | null;
  sessionId: string;
  reason: string;
  approvers: string;
  minApprovals: number;
  createdAt: number;
  expiresAt: number;
  grantKind: ReviewGrant['kind'];
  grantMs: number;
  redeemedAt: number | null;
  uses: number;
  grantExpiresAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
  revokedByClientId: string | null;
  revokedAsAdmin: number | null;
  revokeComment: string | null;
}

interface DecisionRow {
  subject: string;
  clientId: string | null;
  decision: 'approve' | 'deny';
  comment: string;
  at: number;
}

export class ApprovalStore {
  private readonly statements: ReturnType<typeof prepare>;
  private readonly inTransaction: Database.Transaction<(fn: () => unknown) => unknown>;

  private constructor(
    readonly file: string,
    private readonly database: Database.Database,
  ) {
    this.statements = prepare(database);
    this.inTransaction = database.transaction((fn: () => unknown) => fn());
  }

  /** Opens `<dataDir>/approvals.db`, creating (0600, in a 0700 directory) and migrating it as needed. */
  static open(dataDir: string, options: { readonly busyTimeoutMs?: number } = {}): ApprovalStore {
    const file = join(dataDir, APPROVALS_DATABASE_FILE);
    let database: Database.Database;
    try {
      createPrivately(dataDir, file, 'the approvals database');
      database = new Database(file, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw wrap('cannot open the approvals database', file, error);
    }
    try {
      const mode = database.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new ApprovalStoreError(`cannot switch ${file} to WAL mode (journal_mode is ${String(mode)})`);
      database.pragma('synchronous = NORMAL');
      migrate(database, file);
      return new ApprovalStore(file, database);
    } catch (error) {
      database.close();
      throw wrap('cannot open the approvals database', file, error);
    }
  }

  /**
   * Runs `fn` in one write transaction: all of it is durable when this returns, or none of it
   * (also when `fn` throws: its error is passed on unchanged).
   */
  transaction<T>(fn: () => T): T {
    this.assertOpen();
    let thrownByFn = false;
    try {
      return this.inTransaction.immediate(() => {
        try {
          return fn();
        } catch (error) {
          thrownByFn = true;
          throw error;
        }
      }) as T;
    } catch (error) {
      if (thrownByFn) throw error;
      throw wrap('cannot write to', this.file, error);
    }
  }

  insert(request: ApprovalRequest): void {
    this.guard('cannot write to', () =>
      this.statements.insert.run({
        ...request,
        clientId: request.clientId ?? null,
        groups: JSON.stringify(request.groups),
        parameters: request.parameters === undefined ? null : JSON.stringify(request.parameters),
        approvers: JSON.stringify(request.approvers),
        grantKind: request.grant.kind,
        grantMs: grantLifetimeMs(request.grant),
        redeemedAt: request.redeemedAt ?? null,
        grantExpiresAt: request.grantExpiresAt ?? null,
      }),
    );
  }

  /** Adds an approver's decision and stores the status (still pending, approved or denied) and grant of `request`, the request after it. */
  addDecision(request: ApprovalRequest, decision: ApprovalDecision): void {
    this.guard('cannot write to', () => {
      this.statements.insertDecision.run({ requestId: request.id, ...decision, clientId: decision.clientId ?? null });
      this.expectOne(
        this.statements.decide.run({ id: request.id, status: request.status, grantExpiresAt: request.grantExpiresAt ?? null }),
        request.id,
      );
    });
  }

  /** A pending request that ran out of time. */
  markExpired(id: string): void {
    this.guard('cannot write to', () => this.expectOne(this.statements.expire.run(id), id));
  }

  /**
   * An approved request's grant released an operation at `at`: one more use (the first sets
   * `redeemed_at`). A `once` grant already used does not change (and the call throws).
   */
  recordUse(id: string, at: number): void {
    this.guard('cannot write to', () => this.expectOne(this.statements.use.run({ id, at }), id));
  }

  /** An approved request whose grant was withdrawn. */
  markRevoked(id: string, revocation: ApprovalRevocation): void {
    this.guard('cannot write to', () =>
      this.expectOne(
        this.statements.revoke.run({
          id,
          at: revocation.at,
          by: revocation.subject,
          clientId: revocation.clientId ?? null,
          asAdmin: revocation.asAdmin ? 1 : 0,
          comment: revocation.comment,
        }),
        id,
      ),
    );
  }

  /** The request as stored (its status is not adjusted for a passed deadline; ./rules.ts does that). */
  get(id: string): ApprovalRequest | undefined {
    return this.guard('cannot read', () => {
      const row = this.statements.get.get(id) as RequestRow | undefined;
      return row === undefined ? undefined : this.toRequest(row);
    });
  }

  /** Requests with one of `statuses` (all when undefined), newest first. */
  list(statuses: readonly ApprovalStatus[] | undefined): ApprovalRequest[] {
    return this.guard('cannot read', () => {
      const rows = (statuses === undefined ? this.statements.all.all() : this.statements.withStatus.all(JSON.stringify(statuses))) as RequestRow[];
      return rows.map((row) => this.toRequest(row));
    });
  }

  /**
   * An approved, unused `once` grant for exactly this binding that is still valid at `now`
   * (the one expiring first, if several).
   */
  findOnceGrant(binding: OperationBinding, now: number): ApprovalRequest | undefined {
    return this.findGrant(this.statements.onceGrant, binding, now);
  }

  /**
   * An approved window grant for this identity, connection and rule, whatever the operation,
   * still valid at `now` (the one lasting longest, if several).
   */
  findWindowGrant(binding: OperationBinding, now: number): ApprovalRequest | undefined {
    return this.findGrant(this.statements.windowGrant, binding, now);
  }

  /**
   * An approved access request of this identity (subject and client id) for this connection,
   * still valid at `now` (the one lasting longest, if several).
   */
  findAccessGrant(identity: Pick<OperationBinding, 'subject' | 'clientId' | 'connection'>, now: number): ApprovalRequest | undefined {
    return this.guard('cannot read', () => {
      const row = this.statements.accessGrant.get({ subject: identity.subject, clientId: identity.clientId ?? null, connection: identity.connection, now }) as
        | RequestRow
        | undefined;
      return row === undefined ? undefined : this.toRequest(row);
    });
  }

  close(): void {
    if (this.database.open) this.database.close();
  }

  private findGrant(statement: Database.Statement, binding: OperationBinding, now: number): ApprovalRequest | undefined {
    return this.guard('cannot read', () => {
      const row = statement.get({
        subject: binding.subject,
        clientId: binding.clientId ?? null,
        connection: binding.connection,
        rule: binding.rule,
        operationHash: binding.operationHash,
        now,
      }) as RequestRow | undefined;
      return row === undefined ? undefined : this.toRequest(row);
    });
  }

  private toRequest(row: RequestRow): ApprovalRequest {
    const decisions = (this.statements.decisions.all(row.id) as DecisionRow[]).map(
      (d): ApprovalDecision => ({ subject: d.subject, clientId: d.clientId ?? undefined, decision: d.decision, comment: d.comment, at: d.at }),
    );
    return {
      id: row.id,
      kind: row.kind,
      status: row.status,
      subject: row.subject,
      clientId: row.clientId ?? undefined,
      connection: row.connection,
      rule: row.rule,
      operationHash: row.operationHash,
      groups: stringList(row.groups, `groups of request ${row.id}`, this.file),
      text: row.text,
      parameters: row.parameters === null ? undefined : parameterList(row.parameters, row.id, this.file),
      sessionId: row.sessionId,
      reason: row.reason,
      approvers: stringList(row.approvers, `approvers of request ${row.id}`, this.file),
      minApprovals: row.minApprovals,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      decisions,
      grant: row.grantKind === 'once' ? { kind: 'once', ttlMs: row.grantMs } : { kind: 'window', durationMs: row.grantMs },
      redeemedAt: row.redeemedAt ?? undefined,
      uses: row.uses,
      grantExpiresAt: row.grantExpiresAt ?? undefined,
      revocation: revocationOf(row),
    };
  }

  /** A state change that did not apply means the row was not in the state the service saw: refuse, never half-apply. */
  private expectOne(result: Database.RunResult, id: string): void {
    if (result.changes !== 1) throw new ApprovalStoreError(`approval request ${id} changed under the service (another writer on ${this.file}?)`);
  }

  private assertOpen(): void {
    if (!this.database.open) throw new ApprovalStoreError('the approvals service is closed (the gateway is shutting down)');
  }

  private guard<T>(what: string, fn: () => T): T {
    this.assertOpen();
    try {
      return fn();
    } catch (error) {
      throw wrap(what, this.file, error);
    }
  }
}

const REQUEST_COLUMNS = `id, kind, status, subject, client_id AS clientId, connection, rule, operation_hash AS operationHash, groups, text,
  parameters, session_id AS sessionId, reason, approvers, min_approvals AS minApprovals, created_at AS createdAt,
  expires_at AS expiresAt, grant_kind AS grantKind, grant_ms AS grantMs, redeemed_at AS redeemedAt, uses,
  grant_expires_at AS grantExpiresAt, revoked_at AS revokedAt, revoked_by AS revokedBy, revoked_by_client_id AS revokedByClientId,
  revoked_as_admin AS revokedAsAdmin, revoke_comment AS revokeComment`;

/** The identity and connection a grant is bound to (`clientId` may be NULL: `IS` compares it). */
const SAME_BINDING = 'subject = @subject AND client_id IS @clientId AND connection = @connection AND rule = @rule';

function revocationOf(row: RequestRow): ApprovalRevocation | undefined {
  if (row.revokedAt === null || row.revokedBy === null) return undefined;
  return {
    subject: row.revokedBy,
    clientId: row.revokedByClientId ?? undefined,
    comment: row.revokeComment ?? '',
    at: row.revokedAt,
    asAdmin: row.revokedAsAdmin === 1,
  };
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO requests (id, kind, status, subject, client_id, connection, rule, operation_hash, groups, text, parameters, session_id,
         reason, approvers, min_approvals, created_at, expires_at, grant_kind, grant_ms, redeemed_at, uses, grant_expires_at)
       VALUES (@id, @kind, @status, @subject, @clientId, @connection, @rule, @operationHash, @groups, @text, @parameters, @sessionId,
         @reason, @approvers, @minApprovals, @createdAt, @expiresAt, @grantKind, @grantMs, @redeemedAt, @uses, @grantExpiresAt)`,
    ),
    insertDecision: db.prepare(
      `INSERT INTO decisions (request_id, subject, client_id, decision, comment, at)
       VALUES (@requestId, @subject, @clientId, @decision, @comment, @at)`,
    ),
    decide: db.prepare(`UPDATE requests SET status = @status, grant_expires_at = @grantExpiresAt WHERE id = @id AND status = 'pending'`),
    expire: db.prepare(`UPDATE requests SET status = 'expired' WHERE id = ? AND status = 'pending'`),
    use: db.prepare(
      `UPDATE requests SET redeemed_at = COALESCE(redeemed_at, @at), uses = uses + 1
       WHERE id = @id AND status = 'approved' AND (grant_kind = 'window' OR redeemed_at IS NULL)`,
    ),
    revoke: db.prepare(
      `UPDATE requests SET status = 'revoked', revoked_at = @at, revoked_by = @by, revoked_by_client_id = @clientId,
         revoked_as_admin = @asAdmin, revoke_comment = @comment
       WHERE id = @id AND status = 'approved'`,
    ),
    get: db.prepare(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = ?`),
    all: db.prepare(`SELECT ${REQUEST_COLUMNS} FROM requests ORDER BY created_at DESC, rowid DESC`),
    withStatus: db.prepare(
      `SELECT ${REQUEST_COLUMNS} FROM requests WHERE status IN (SELECT value FROM json_each(?)) ORDER BY created_at DESC, rowid DESC`,
    ),
    onceGrant: db.prepare(
      `SELECT ${REQUEST_COLUMNS} FROM requests
       WHERE status = 'approved' AND kind = 'operation' AND grant_kind = 'once' AND redeemed_at IS NULL AND operation_hash = @operationHash
         AND ${SAME_BINDING} AND grant_expires_at > @now
       ORDER BY grant_expires_at, rowid LIMIT 1`,
    ),
    // No operation hash: a window grant releases any operation under its rule. Never an access
    // request's window (its reserved rule could not match anyway): those admit sessions only.
    windowGrant: db.prepare(
      `SELECT ${REQUEST_COLUMNS} FROM requests
       WHERE status = 'approved' AND kind = 'operation' AND grant_kind = 'window' AND ${SAME_BINDING} AND grant_expires_at > @now
       ORDER BY grant_expires_at DESC, rowid LIMIT 1`,
    ),
    accessGrant: db.prepare(
      `SELECT ${REQUEST_COLUMNS} FROM requests
       WHERE status = 'approved' AND kind = 'access' AND subject = @subject AND client_id IS @clientId AND connection = @connection
         AND grant_expires_at > @now
       ORDER BY grant_expires_at DESC, rowid LIMIT 1`,
    ),
    decisions: db.prepare(`SELECT subject, client_id AS clientId, decision, comment, at FROM decisions WHERE request_id = ? ORDER BY rowid`),
  };
}

function wrap(what: string, file: string, error: unknown): ApprovalStoreError {
  if (error instanceof ApprovalStoreError) return error;
  // The recording store's wording and SQLite error hints, as this module's error type.
  return new ApprovalStoreError(storeError(what, file, error).message, { cause: error });
}

function parseJson(text: string, what: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApprovalStoreError(`${file}: the ${what} are not valid JSON: the file was edited or damaged`);
  }
}

function stringList(text: string, what: string, file: string): string[] {
  const value = parseJson(text, what, file);
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new ApprovalStoreError(`${file}: the ${what} are not a list of names: the file was edited or damaged`);
  }
  return value;
}

function parameterList(text: string, id: string, file: string): RecordedParameter[] {
  const what = `parameters of request ${id}`;
  const value = parseJson(text, what, file);
  const isParameter = (item: unknown): item is RecordedParameter =>
    item === null ||
    typeof item === 'string' ||
    (typeof item === 'object' && !Array.isArray(item) && typeof (item as { base64?: unknown }).base64 === 'string');
  if (!Array.isArray(value) || !value.every(isParameter)) {
    throw new ApprovalStoreError(`${file}: the ${what} are not recorded parameters: the file was edited or damaged`);
  }
  return value;
}

/**
 * Runs the missing migrations, each in its own transaction with its version bump. The last
 * transaction always writes (the version, unchanged), so a file opened read-only by
 * accident is refused at start, not at the first approval request.
 */
function migrate(db: Database.Database, file: string): void {
  for (;;) {
    const done = db.transaction((): boolean => {
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new ApprovalStoreError(
          `${file} has schema version ${version}, newer than this Portcullis supports (version ${SCHEMA_VERSION}): ` +
            'it was written by a newer release. Run that release (or newer), or point data_dir elsewhere; refusing to touch it.',
        );
      }
      if (version < SCHEMA_VERSION) db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${Math.min(version + 1, SCHEMA_VERSION)}`);
      return version === SCHEMA_VERSION;
    }).immediate();
    if (done) return;
  }
}
