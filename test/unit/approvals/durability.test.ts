/** Pending requests and grants survive a restart (issue 5, point 8); the state is a database of its own. */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { operationHash } from '../../../src/approvals/binding.js';
import { createApprovalService } from '../../../src/approvals/service.js';
import { APPROVALS_DATABASE_FILE } from '../../../src/approvals/store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src/approvals/schema.js';
import { withDatabase } from '../recording/support.js';
import {
  GRANT_TTL_MS,
  HELD,
  T0,
  TIMEOUT_MS,
  WINDOW_30M,
  approvedRequest,
  identity,
  newRequest,
  openService,
  removeTempDirs,
  settled,
  tempDataDir,
} from './support.js';

afterAll(removeTempDirs);

const approver = identity({ subject: 'dana', clientId: 'dana-cli', groups: ['dba'] });

let dir: string;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  dir = tempDataDir();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('restart', () => {
  it('keeps a pending request pending: wait() works on the new service, and its deadline still fires', async () => {
    const first = openService(dir);
    const request = first.service.request(newRequest({ minApprovals: 2 }));
    first.service.decide(request.id, approver, 'approve', 'one of two');
    first.service.close();

    vi.advanceTimersByTime(60_000);
    const second = openService(dir);
    const reopened = second.service.get(request.id);
    expect(reopened).toMatchObject({ status: 'pending', expiresAt: T0 + TIMEOUT_MS, decisions: [{ subject: 'dana', comment: 'one of two', at: T0 }] });
    expect(reopened).toEqual({ ...request, decisions: reopened?.decisions });
    const waiting = second.service.wait(request.id);
    vi.advanceTimersByTime(TIMEOUT_MS - 60_000 - 1);
    expect(await settled(waiting)).toBe(false);
    vi.advanceTimersByTime(1);
    expect((await waiting).status).toBe('expired');
    expect(second.kinds()).toEqual([`expired ${request.id}`]);
    second.service.close();
  });

  it('a pending request decided after the restart wakes the new waiters', async () => {
    const first = openService(dir);
    const request = first.service.request(newRequest());
    first.service.close();
    const second = openService(dir);
    const waiting = second.service.wait(request.id);
    second.service.decide(request.id, approver, 'approve', '');
    expect((await waiting).status).toBe('approved');
    second.service.close();
  });

  it('expires, with an audit step, a request whose deadline passed while the gateway was down', () => {
    const first = openService(dir);
    const overdue = first.service.request(newRequest());
    vi.advanceTimersByTime(TIMEOUT_MS - 1000);
    const current = first.service.request(newRequest());
    first.service.close();

    vi.setSystemTime(T0 + TIMEOUT_MS + 1);
    const second = openService(dir);
    expect(second.kinds()).toEqual([`expired ${overdue.id}`]);
    expect(second.service.get(overdue.id)?.status).toBe('expired');
    expect(second.service.get(current.id)?.status).toBe('pending');
    second.service.close();
  });

  it('keeps an approved grant redeemable, once, within its TTL', () => {
    const first = openService(dir);
    const request = first.service.request(newRequest());
    first.service.decide(request.id, approver, 'approve', '');
    first.service.close();

    vi.advanceTimersByTime(GRANT_TTL_MS - 1);
    const second = openService(dir);
    expect(second.service.redeem(request)?.id).toBe(request.id);
    second.service.close();
    const third = openService(dir);
    expect(third.service.redeem(request)).toBeUndefined();
    third.service.close();
  });

  it('keeps a window grant releasing other statements, with its use count, until it ends', () => {
    const first = openService(dir);
    const request = approvedRequest(first.service, approver, { grant: WINDOW_30M });
    first.service.markRedeemed(request.id);
    first.service.close();

    vi.advanceTimersByTime(10 * 60_000);
    const second = openService(dir);
    const another = { ...request, operationHash: operationHash('DELETE FROM orders WHERE id = 9', undefined) };
    expect(second.service.redeem(another)).toMatchObject({ id: request.id, uses: 2, grant: WINDOW_30M });
    vi.advanceTimersByTime(20 * 60_000);
    expect(second.service.redeem(another)).toBeUndefined();
    second.service.close();
  });

  it('keeps a revocation: the grant stays revoked, with who, when and why', () => {
    const first = openService(dir);
    const request = approvedRequest(first.service, approver, { grant: WINDOW_30M });
    const revoked = first.service.revoke(request.id, approver, 'done', false);
    first.service.close();

    const second = openService(dir);
    expect(second.service.get(request.id)).toEqual(revoked);
    expect(second.service.redeem(request)).toBeUndefined();
    second.service.close();
  });
});

describe('upgrading a version 1 database (before grants)', () => {
  /** A data dir whose approvals.db is at schema version 1, with a pending, an approved and a used request. */
  function versionOne(): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    withDatabase(join(dir, APPROVALS_DATABASE_FILE), (db) => {
      db.pragma('journal_mode = WAL');
      db.exec(MIGRATIONS[0] as string);
      db.pragma('user_version = 1');
      const insert = db.prepare(
        `INSERT INTO requests (id, status, subject, client_id, connection, rule, operation_hash, groups, text, parameters, session_id,
           reason, approvers, min_approvals, created_at, expires_at, redeemed_at, grant_expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, '["agents"]', ?, '["7"]', 'sess-1', 'why', '["dba"]', 1, ?, ?, ?, ?)`,
      );
      const hash = operationHash(HELD.text, HELD.parameters);
      const row = (id: string, status: string, redeemedAt: number | null, grantExpiresAt: number | null) =>
        insert.run(id, status, HELD.subject, HELD.clientId, HELD.connection, HELD.rule, hash, HELD.text, T0, T0 + TIMEOUT_MS, redeemedAt, grantExpiresAt);
      row('pending-1', 'pending', null, null);
      row('approved-1', 'approved', null, T0 + GRANT_TTL_MS);
      row('used-1', 'approved', T0 + 1000, T0 + GRANT_TTL_MS);
      db.prepare(`INSERT INTO decisions VALUES ('approved-1', 'dana', 'dana-cli', 'approve', 'ok', ?)`).run(T0);
    });
  }

  it('keeps every request and decision, as once grants redeemable for 15 minutes, and their behaviour', () => {
    versionOne();
    const { service } = openService(dir);
    expect(service.get('pending-1')).toMatchObject({ status: 'pending', grant: { kind: 'once', ttlMs: 15 * 60_000 }, uses: 0, revocation: undefined });
    expect(service.get('approved-1')).toMatchObject({ status: 'approved', uses: 0, decisions: [{ subject: 'dana', comment: 'ok', at: T0 }] });
    expect(service.get('used-1')).toMatchObject({ uses: 1, redeemedAt: T0 + 1000 });
    expect(service.redeem({ ...HELD, operationHash: operationHash(HELD.text, HELD.parameters) })?.id).toBe('approved-1');
    expect(service.decide('pending-1', approver, 'approve', 'later').grantExpiresAt).toBe(T0 + GRANT_TTL_MS);
    service.close();
    withDatabase(join(dir, APPROVALS_DATABASE_FILE), (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.pragma('foreign_key_check')).toEqual([]);
      // The decisions still refer to the requests table (renaming rewrote the foreign key).
      expect(() => db.prepare(`INSERT INTO decisions VALUES ('nope', 'x', NULL, 'approve', '', 0)`).run()).toThrow(/FOREIGN KEY constraint failed/);
      expect(db.prepare(`SELECT name FROM sqlite_master WHERE name LIKE '%_v2'`).all()).toEqual([]);
    });
  });
});

describe('the approvals database', () => {
  it('is <dataDir>/approvals.db, private, WAL, synchronous NORMAL, at the current schema version', () => {
    const { service } = openService(dir);
    service.close();
    const file = join(dir, APPROVALS_DATABASE_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    withDatabase(file, (db) => {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    });
  });

  it('refuses a database written by a newer release, saying what to do', () => {
    openService(dir).service.close();
    withDatabase(join(dir, APPROVALS_DATABASE_FILE), (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
    expect(() => createApprovalService({ dataDir: dir })).toThrow(
      new RegExp(`has schema version ${SCHEMA_VERSION + 1}, newer than this Portcullis supports \\(version ${SCHEMA_VERSION}\\).*Run that release \\(or newer\\), or point data_dir elsewhere`),
    );
  });

  it('names the file and the SQLite problem when it is not a database', () => {
    openService(dir).service.close();
    withDatabase(join(dir, APPROVALS_DATABASE_FILE), (db) => db.exec(`PRAGMA journal_mode = DELETE`));
    writeFileSync(join(dir, APPROVALS_DATABASE_FILE), 'x'.repeat(4096));
    expect(() => createApprovalService({ dataDir: dir })).toThrow(/cannot open the approvals database .*approvals\.db: .*SQLITE_NOTADB.*not an SQLite database/);
  });
});
