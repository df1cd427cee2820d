/** Pending requests and grants survive a restart (issue 5, point 8); the state is a database of its own. */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApprovalService } from '../../../src/approvals/service.js';
import { APPROVALS_DATABASE_FILE } from '../../../src/approvals/store.js';
import { SCHEMA_VERSION } from '../../../src/approvals/schema.js';
import { withDatabase } from '../recording/support.js';
import { GRANT_TTL_MS, T0, TIMEOUT_MS, identity, newRequest, openService, removeTempDirs, settled, tempDataDir } from './support.js';

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
      /has schema version 2, newer than this Portcullis supports \(version 1\).*Run that release \(or newer\), or point data_dir elsewhere/,
    );
  });

  it('names the file and the SQLite problem when it is not a database', () => {
    openService(dir).service.close();
    withDatabase(join(dir, APPROVALS_DATABASE_FILE), (db) => db.exec(`PRAGMA journal_mode = DELETE`));
    writeFileSync(join(dir, APPROVALS_DATABASE_FILE), 'x'.repeat(4096));
    expect(() => createApprovalService({ dataDir: dir })).toThrow(/cannot open the approvals database .*approvals\.db: .*SQLITE_NOTADB.*not an SQLite database/);
  });
});
