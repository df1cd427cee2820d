/**
 * Approval steps in the global audit chain: chained, covered by checkpoints, verified, and
 * tampering with one is detected. Fed by a real approvals service, as the gateway wires it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { toApprovalRecord } from '../../../src/approvals/events.js';
import { createApprovalService } from '../../../src/approvals/service.js';
import type { ApprovalService } from '../../../src/approvals/types.js';
import { auditEntryHash } from '../../../src/recording/chain.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { identity } from '../policy/support.js';
import { HELD, newRequest } from '../approvals/support.js';
import { captureLogs, caught, open, query, recorderOverStore, rechainGlobal, removeTempDirs, startSession, statement, summary, tamper, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

interface AuditRow {
  seq: number;
  type: string;
  session_id: string | null;
  payload: string;
}

const dba = (subject: string) => identity({ subject, clientId: `${subject}-cli`, groups: ['dba'] });

/** A service whose steps go to `recorder`, as the gateway wires them. */
function approvalsInto(recorder: ChainRecorder, dataDir: string): ApprovalService {
  return createApprovalService({ dataDir, audit: (event) => recorder.approvalEvent(toApprovalRecord(event)) });
}

/**
 * Global chain: 1 checkpoint · 2 approval requested (A) · 3 approval decision (A) ·
 * 4 approval approved (A) · 5 checkpoint · 6 approval redeemed (A) · 7 approval requested (B) ·
 * 8 approval denied (B) · 9 checkpoint (at close).
 */
function approvalLog(dataDir: string): { a: string; b: string } {
  const recorder = open(dataDir, { checkpointEvery: 3 });
  const service = approvalsInto(recorder, dataDir);
  const a = service.request(newRequest({ minApprovals: 2 }));
  service.decide(a.id, dba('dana'), 'approve', 'one');
  service.decide(a.id, dba('eve'), 'approve', 'two');
  service.markRedeemed(a.id);
  const b = service.request(newRequest({ text: 'DELETE FROM orders', parameters: undefined }));
  service.decide(b.id, dba('dana'), 'deny', 'not today');
  service.close();
  recorder.close();
  return { a: a.id, b: b.id };
}

describe('approval entries', () => {
  it('chain every step into the global log, with no session id, and verify', () => {
    const dir = tempDataDir();
    const { a, b } = approvalLog(dir);
    const rows = query<AuditRow>(dir, 'SELECT seq, type, session_id, payload FROM audit_log ORDER BY seq');
    expect(rows.map((row) => row.type === 'approval' ? `${row.seq} ${JSON.parse(row.payload).kind}` : `${row.seq} ${row.type}`)).toEqual([
      '1 checkpoint',
      '2 requested',
      '3 decision',
      '4 approved',
      '5 checkpoint',
      '6 redeemed',
      '7 requested',
      '8 denied',
      '9 checkpoint',
    ]);
    expect(rows.every((row) => row.session_id === null)).toBe(true);
    const payloads = rows.filter((row) => row.type === 'approval').map((row) => JSON.parse(row.payload) as Record<string, unknown>);
    expect(payloads[0]).toEqual({
      requestId: a,
      kind: 'requested',
      details: expect.objectContaining({
        ...HELD,
        approvers: ['dba'],
        minApprovals: 2,
      }),
    });
    expect(payloads[5]).toEqual({
      requestId: b,
      kind: 'denied',
      details: expect.objectContaining({ status: 'denied', by: { subject: 'dana', clientId: 'dana-cli' }, comment: 'not today' }),
    });
    expect(verify(dir)).toMatchObject({ ok: true, checkedAuditEntries: 9, validCheckpoints: 3, unprotectedTail: { auditEntries: 0 } });
  });

  it('tampering with a step is detected: modified, modified and rechained, deleted', () => {
    const dir = tempDataDir();
    approvalLog(dir);
    const base = tempDataDir();
    approvalLog(base);

    // "denied" rewritten to look approved.
    tamper(dir, (db) => db.prepare(`UPDATE audit_log SET payload = replace(payload, '"denied"', '"approved"') WHERE seq = 8`).run());
    expect(summary(verify(dir))).toEqual(['audit-entry-modified @8']);

    // The same, with every hash recomputed by someone without the signing key: the checkpoint after it no longer verifies.
    tamper(dir, (db) => rechainGlobal(db));
    expect(summary(verify(dir))).toEqual(['checkpoint-signature-invalid @9']);

    // A deleted step (the redemption, so the grant looks unused).
    tamper(base, (db) => db.prepare('DELETE FROM audit_log WHERE seq = 6').run());
    expect(summary(verify(base))).toEqual(['audit-entry-missing @6']);
  });

  it('a malformed approval entry with a valid hash is reported as invalid', () => {
    const dir = tempDataDir();
    approvalLog(dir);
    tamper(dir, (db) => {
      const row = db.prepare('SELECT * FROM audit_log WHERE seq = 9').get() as Record<string, never>;
      const payload = JSON.stringify({ kind: 'approved' }); // no request id
      const entry = { seq: 10, time: row['time'], type: 'approval' as const, sessionId: null, payload, prevHash: row['hash'] };
      db.prepare('INSERT INTO audit_log (seq, time, type, session_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        10, entry.time, entry.type, null, payload, entry.prevHash, auditEntryHash(entry),
      );
    });
    const result = verify(dir);
    expect(summary(result)).toEqual(['audit-entry-invalid @10']);
    expect(result.problems[0]?.problem).toMatch(/approval entry with a malformed payload/);
    expect(result.unprotectedTail).toMatchObject({ auditEntries: 1, fromGlobalSeq: 10 });
  });
});

describe('recording an approval step', () => {
  it('refuses a malformed request id or step kind at once', () => {
    const recorder = open(tempDataDir());
    expect(caught(() => recorder.approvalEvent({ requestId: 'a b', kind: 'requested', payload: {} })).message).toMatch(/an approval id is 1–128 URL-safe characters/);
    expect(caught(() => recorder.approvalEvent({ requestId: 'abc', kind: 'Approved!', payload: {} })).message).toMatch(/a step is a short lowercase word/);
    recorder.close();
  });

  it('under group commit, a step that cannot be written now is kept and written with the next turn', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const { recorder, store } = recorderOverStore(dir, { groupCommit: true, logger: logs.logger });
    const durable = (): Promise<boolean> => new Promise((resolve) => recorder.whenDurable(resolve));
    startSession(recorder, 's1');
    expect(await durable()).toBe(true);

    store.database.pragma(`max_page_count = ${store.database.pragma('page_count', { simple: true }) as number}`);
    expect(() => recorder.approvalEvent({ requestId: 'req-1', kind: 'requested', payload: { text: 'x'.repeat(200_000) } })).not.toThrow();
    store.database.pragma('max_page_count = 1073741823');
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', kind: 'approval', msg: expect.stringMatching(/kept and written/) }));
    expect(query(dir, `SELECT seq FROM audit_log WHERE type = 'approval'`)).toEqual([]);

    statement(recorder, 's1', 'SELECT 1');
    expect(await durable()).toBe(true);
    expect(query<{ payload: string }>(dir, `SELECT payload FROM audit_log WHERE type = 'approval'`).map((row) => JSON.parse(row.payload).requestId)).toEqual(['req-1']);
    recorder.sessionEnded({ sessionId: 's1', endedBy: 'client', reason: 'bye' });
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });
});
