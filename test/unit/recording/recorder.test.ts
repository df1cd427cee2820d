import { afterAll, describe, expect, it } from 'vitest';
import { AUDIT_GENESIS, auditEntryHash, eventHash, keyId, sessionGenesis, type CheckpointPayload } from '../../../src/recording/chain.js';
import { CRASH_REASON } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { RecorderError } from '../../../src/recording/recorder.js';
import { captureLogs, fullSession, open, openToAbandon, query, removeTempDirs, startSession, statement, tamper, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

interface EventDbRow {
  session_id: string;
  seq: number;
  time: number;
  type: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

const rows = query;

describe('a session chain', () => {
  it('records start, operation, outcome and end as a hash chain committed to the session id', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    recorder.sessionStarted({
      sessionId: 'sess-1',
      protocol: 'postgres',
      connection: 'prod-db',
      identity: { subject: 'agent-7', clientId: undefined, groups: ['agents', 'readers'] },
      clientAddress: '10.1.2.3:41000',
      tls: false,
    });
    const seq = recorder.operation({
      sessionId: 'sess-1',
      via: 'parse',
      text: 'SELECT * FROM t WHERE id = $1',
      parameters: ['42', null],
      effect: 'allow',
      rule: 'reads-ok',
      reason: 'reads are allowed',
      facts: { statements: [{ kind: 'select' }] },
    });
    expect(seq).toBe(2);
    recorder.outcome({ sessionId: 'sess-1', operationSeq: seq, command: 'SELECT 1', rows: 1, bytes: 12, columns: ['id'], durationMs: 3 });
    const denied = recorder.operation({ sessionId: 'sess-1', via: 'simple-query', text: 'DROP TABLE t', effect: 'deny', rule: 'no-ddl', reason: 'no' });
    recorder.outcome({ sessionId: 'sess-1', operationSeq: denied, durationMs: 0, error: { code: '42501', message: 'refused' } });
    recorder.sessionEnded({ sessionId: 'sess-1', endedBy: 'token-expiry', reason: 'the token expired' });
    recorder.close();

    const events = rows<EventDbRow>(dir, 'SELECT * FROM events ORDER BY seq');
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'session-start'],
      [2, 'operation'],
      [3, 'outcome'],
      [4, 'operation'],
      [5, 'outcome'],
      [6, 'session-end'],
    ]);
    expect(events[0]?.prev_hash).toBe(sessionGenesis('sess-1'));
    for (const [i, e] of events.entries()) {
      if (i > 0) expect(e.prev_hash).toBe(events[i - 1]?.hash);
      expect(e.hash).toBe(eventHash({ sessionId: e.session_id, seq: e.seq, time: e.time, type: e.type as never, payload: e.payload, prevHash: e.prev_hash }));
    }
    expect(JSON.parse(events[0]?.payload as string)).toEqual({
      protocol: 'postgres',
      connection: 'prod-db',
      identity: { subject: 'agent-7', clientId: null, groups: ['agents', 'readers'] },
      clientAddress: '10.1.2.3:41000',
      tls: false,
    });
    expect(JSON.parse(events[1]?.payload as string)).toEqual({
      via: 'parse',
      text: 'SELECT * FROM t WHERE id = $1',
      parameters: ['42', null],
      effect: 'allow',
      rule: 'reads-ok',
      reason: 'reads are allowed',
      facts: { statements: [{ kind: 'select' }] },
    });
    expect(JSON.parse(events[4]?.payload as string)).toEqual({ operationSeq: 4, durationMs: 0, error: { code: '42501', message: 'refused' } });
    expect(JSON.parse(events[5]?.payload as string)).toEqual({ endedBy: 'token-expiry', reason: 'the token expired' });

    const sessions = rows<Record<string, unknown>>(dir, 'SELECT * FROM sessions');
    expect(sessions).toEqual([
      {
        id: 'sess-1',
        protocol: 'postgres',
        connection: 'prod-db',
        subject: 'agent-7',
        started_at: events[0]?.time,
        ended_at: events[5]?.time,
        ended_by: 'token-expiry',
        last_seq: 6,
      },
    ]);
    expect(verify(dir).ok).toBe(true);
  });

  it('seals an ended session into the global chain, which links from the genesis', () => {
    const dir = tempDataDir();
    const recorder = open(dir, { checkpointEvery: 100 });
    fullSession(recorder, 's-1');
    recorder.authFailure({ protocol: 'postgres', clientAddress: '10.0.0.1:1', connection: 'nope', subject: 'agent-9', reason: 'no access' });
    recorder.close();
    const entries = rows<{ seq: number; time: number; type: string; session_id: string | null; payload: string; prev_hash: string; hash: string }>(
      dir,
      'SELECT * FROM audit_log ORDER BY seq',
    );
    expect(entries.map((e) => [e.seq, e.type, e.session_id])).toEqual([
      [1, 'checkpoint', null],
      [2, 'session-seal', 's-1'],
      [3, 'auth-failure', null],
      [4, 'checkpoint', null],
    ]);
    expect(entries[0]?.prev_hash).toBe(AUDIT_GENESIS);
    for (const [i, e] of entries.entries()) {
      if (i > 0) expect(e.prev_hash).toBe(entries[i - 1]?.hash);
      expect(e.hash).toBe(auditEntryHash({ seq: e.seq, time: e.time, type: e.type as never, sessionId: e.session_id, payload: e.payload, prevHash: e.prev_hash }));
    }
    const last = rows<{ hash: string }>(dir, `SELECT hash FROM events WHERE session_id = 's-1' AND seq = 8`)[0];
    expect(JSON.parse(entries[1]?.payload as string)).toEqual({ lastSeq: 8, lastHash: last?.hash, endedBy: 'client' });
    expect(JSON.parse(entries[2]?.payload as string)).toEqual({
      protocol: 'postgres',
      clientAddress: '10.0.0.1:1',
      connection: 'nope',
      subject: 'agent-9',
      reason: 'no access',
    });
    const checkpoint = JSON.parse(entries[3]?.payload as string) as CheckpointPayload;
    expect(checkpoint.covers).toEqual({ seq: 3, hash: entries[2]?.hash });
    expect(checkpoint.keyId).toBe(keyId(FileKeyStore.open(dir).publicKey()));
  });

  it('signs a checkpoint every N global entries, listing the open sessions, and logs each as an anchor', () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const recorder = open(dir, { checkpointEvery: 2, logger: logs.logger });
    startSession(recorder, 'long');
    statement(recorder, 'long', 'SELECT 1');
    fullSession(recorder, 'a');
    fullSession(recorder, 'b');
    const checkpoints = rows<{ seq: number; payload: string }>(dir, `SELECT seq, payload FROM audit_log WHERE type = 'checkpoint' ORDER BY seq`);
    expect(checkpoints.map((c) => c.seq)).toEqual([1, 4]);
    const payload = JSON.parse(checkpoints[1]?.payload as string) as CheckpointPayload;
    const head = rows<{ hash: string }>(dir, `SELECT hash FROM events WHERE session_id = 'long' AND seq = 3`)[0];
    expect(payload.open).toEqual([['long', 3, head?.hash]]);
    expect(logs.anchors().map((a) => a.globalSeq)).toEqual([1, 4]);
    recorder.close();
  });

  it('does not add a checkpoint when restarted after a clean shutdown', () => {
    const dir = tempDataDir();
    const first = open(dir);
    fullSession(first, 's-1');
    first.close();
    open(dir).close();
    open(dir).close();
    expect(rows<{ n: number }>(dir, 'SELECT COUNT(*) AS n FROM audit_log')[0]?.n).toBe(3);
  });

  it('close() ends and seals sessions still open as "shutdown", and signs a final checkpoint', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    startSession(recorder, 'left-open');
    recorder.close();
    recorder.close(); // idempotent
    const end = rows<EventDbRow>(dir, `SELECT * FROM events WHERE type = 'session-end'`)[0];
    expect(JSON.parse(end?.payload as string)).toMatchObject({ endedBy: 'shutdown' });
    expect(verify(dir)).toMatchObject({ ok: true, openSessions: 0, unprotectedTail: { auditEntries: 0, events: 0 } });
  });
});

describe('recorded result rows', () => {
  it('travel inside the outcome event, hash-chained like the rest, and the log still verifies', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    startSession(recorder, 'rows');
    const seq = recorder.operation({ sessionId: 'rows', via: 'simple-query', text: 'SELECT id, email, photo FROM customers', effect: 'allow', rule: 'reads-ok', reason: 'ok' });
    const resultRows = [
      ['1', '[EMAIL]', null],
      ['2', { text: 'first chars', totalChars: 5000 }, { base64: 'AAH/' }],
      ['3', '\u001b[2J \u202e', { base64: 'AAEC', totalBytes: 700 }],
    ];
    recorder.outcome({ sessionId: 'rows', operationSeq: seq, command: 'SELECT 40', rows: 40, bytes: 800, columns: ['id', 'email', 'photo'], resultRows, durationMs: 5 });
    recorder.sessionEnded({ sessionId: 'rows', endedBy: 'client', reason: 'client disconnected' });
    recorder.close();

    const outcome = rows<EventDbRow>(dir, `SELECT * FROM events WHERE type = 'outcome'`)[0] as EventDbRow;
    expect(JSON.parse(outcome.payload)).toEqual({ operationSeq: seq, command: 'SELECT 40', rows: 40, bytes: 800, columns: ['id', 'email', 'photo'], resultRows, durationMs: 5 });
    expect(verify(dir)).toMatchObject({ ok: true, checkedSessions: 1 });

    // A recorded row is covered by the chain: changing one value is caught.
    const edited = outcome.payload.replace('[EMAIL]', 'alice@example.com');
    expect(edited).not.toBe(outcome.payload);
    tamper(dir, (db) => db.prepare(`UPDATE events SET payload = ? WHERE session_id = 'rows' AND seq = ?`).run(edited, outcome.seq));
    expect(verify(dir).ok).toBe(false);
  });
});

describe('refusals (RecorderError)', () => {
  const dir = tempDataDir();
  const recorder = open(dir);
  startSession(recorder, 'open-one');

  it('an operation in an unknown session', () => {
    expect(() => statement(recorder, 'nope', 'SELECT 1')).toThrow(new RecorderError('cannot record operation in session "nope": no such open session'));
  });

  it('starting a session twice', () => {
    expect(() => startSession(recorder, 'open-one')).toThrow(/already open/);
  });

  it('a session id that is not 1–128 printable ASCII characters', () => {
    for (const id of ['', 'has space', 'x'.repeat(129), 'tab\t', 'é']) expect(() => startSession(recorder, id)).toThrow(RecorderError);
  });

  it('an outcome for a seq that is not an event of the session', () => {
    expect(() => recorder.outcome({ sessionId: 'open-one', operationSeq: 99, durationMs: 1 })).toThrow(/operationSeq 99/);
  });

  it('a payload that is not JSON-serializable', () => {
    expect(() =>
      recorder.operation({ sessionId: 'open-one', via: 'q', text: 'x', effect: 'allow', rule: 'r', reason: 'r', facts: { n: 1n } }),
    ).toThrow(/not JSON-serializable/);
  });

  it('anything after close()', () => {
    recorder.close();
    expect(() => startSession(recorder, 'later')).toThrow(/the recorder is closed/);
    expect(() => recorder.authFailure({ protocol: 'postgres', clientAddress: 'x', connection: 'y', reason: 'z' })).toThrow(RecorderError);
  });

  it('none of the refusals left a trace in the chain', () => {
    expect(verify(dir).ok).toBe(true);
  });
});

describe('crash recovery', () => {
  it('a session left open by a dead gateway is ended as "crash" at the next start, and the log verifies', () => {
    const dir = tempDataDir();
    const dead = openToAbandon(dir, { checkpointEvery: 100 });
    startSession(dead, 'in-flight');
    statement(dead, 'in-flight', 'UPDATE orders SET total = 0');
    statement(dead, 'in-flight', 'SELECT 1');
    fullSession(dead, 'done');
    // `dead` is abandoned, as if the process had been killed: no end, no close, no final checkpoint.
    const before = verify(dir);
    expect(before).toMatchObject({ ok: true, openSessions: 1 });

    const logs = captureLogs();
    const next = open(dir, { logger: logs.logger });
    expect(next.recoveredSessions).toEqual(['in-flight']);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', sessionId: 'in-flight' }));
    const events = rows<EventDbRow>(dir, `SELECT * FROM events WHERE session_id = 'in-flight' ORDER BY seq`);
    expect(events.map((e) => e.type)).toEqual(['session-start', 'operation', 'outcome', 'operation', 'outcome', 'session-end']);
    expect(JSON.parse(events[5]?.payload as string)).toEqual({ endedBy: 'crash', reason: CRASH_REASON });
    expect(rows(dir, `SELECT ended_by, last_seq FROM sessions WHERE id = 'in-flight'`)).toEqual([{ ended_by: 'crash', last_seq: 6 }]);
    const seals = rows<{ payload: string }>(dir, `SELECT payload FROM audit_log WHERE session_id = 'in-flight'`);
    expect(JSON.parse(seals[0]?.payload as string)).toMatchObject({ lastSeq: 6, endedBy: 'crash' });

    // The recovery is signed at start: nothing is left outside a checkpoint.
    expect(verify(dir)).toMatchObject({ ok: true, openSessions: 0, unprotectedTail: { auditEntries: 0, events: 0 } });

    // And the new recorder carries on the chain.
    fullSession(next, 'after');
    next.close();
    expect(verify(dir)).toMatchObject({ ok: true, checkedSessions: 3 });
  });

  it('a session whose index row has no events (an edited file) is left for verify to report, not fatal', () => {
    const dir = tempDataDir();
    open(dir).close();
    tamper(dir, (db) => db.prepare(`INSERT INTO sessions (id, protocol, connection, subject, started_at) VALUES ('ghost', 'postgres', 'c', 's', 1)`).run());
    const logs = captureLogs();
    const recorder = open(dir, { logger: logs.logger });
    expect(recorder.recoveredSessions).toEqual([]);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', sessionId: 'ghost' }));
    recorder.close();
    expect(verify(dir).problems.map((p) => p.code)).toEqual(['session-events-missing']);
  });
});
