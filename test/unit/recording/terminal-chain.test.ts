/**
 * Terminal events in the session's hash chain: written by the recorder (checked first),
 * verified like every event (and tampering with one detected), pruned with their session.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { eventHash } from '../../../src/recording/chain.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { RecorderError, type TerminalEvent } from '../../../src/recording/recorder.js';
import { pruneExpired } from '../../../src/recording/retention.js';
import { caught, open, query, recorderOverStore, rechainGlobal, rechainSession, removeTempDirs, summary, tamper, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

const T0 = Date.UTC(2025, 0, 1);

function sshSession(recorder: ChainRecorder, sessionId: string): number {
  recorder.sessionStarted({
    sessionId,
    protocol: 'ssh',
    connection: 'web',
    identity: { subject: 'agent-1', clientId: 'ci-bot', groups: [] },
    clientAddress: '10.0.0.5:41000',
    tls: true,
  });
  return recorder.operation({ sessionId, via: 'exec', text: 'ls -l', effect: 'allow', rule: 'ls-ok', reason: 'listing is allowed' });
}

/** An SSH session with one command's output, omitted bytes and exit (events 1–6, 7 the end). */
function recordCommand(recorder: ChainRecorder, sessionId: string): void {
  const operationSeq = sshSession(recorder, sessionId);
  recorder.terminal({ sessionId, operationSeq, start: T0, code: 'o', pieces: [[0, 'total 0\r\n'], [15, '\x1b[1mx\x1b[0m\r\n']] });
  recorder.terminal({ sessionId, operationSeq, start: T0, code: 'omitted', offsetMs: 20, omittedBytes: 7, limitBytes: 30 });
  recorder.terminal({ sessionId, operationSeq, start: T0, code: 'x', pieces: [[25, '0']] });
  recorder.outcome({ sessionId, operationSeq, command: 'exit 0', bytes: 37, durationMs: 25 });
  recorder.sessionEnded({ sessionId, endedBy: 'client', reason: 'bye' });
}

interface EventDbRow {
  seq: number;
  type: string;
  payload: string;
}

const events = (dir: string, sessionId: string): EventDbRow[] =>
  query<EventDbRow>(dir, 'SELECT seq, type, payload FROM events WHERE session_id = ? ORDER BY seq', sessionId);

describe('ChainRecorder.terminal', () => {
  it('appends terminal events to the session chain, payload keys in a fixed order; verify accepts them', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    recordCommand(recorder, 'ssh-1');
    recorder.close();
    expect(events(dir, 'ssh-1').map((e) => `${e.seq} ${e.type}`)).toEqual([
      '1 session-start',
      '2 operation',
      '3 terminal',
      '4 terminal',
      '5 terminal',
      '6 outcome',
      '7 session-end',
    ]);
    expect(events(dir, 'ssh-1').slice(2, 5).map((e) => e.payload)).toEqual([
      `{"operationSeq":2,"start":${T0},"code":"o","pieces":[[0,"total 0\\r\\n"],[15,"\\u001b[1mx\\u001b[0m\\r\\n"]]}`,
      `{"operationSeq":2,"start":${T0},"code":"omitted","offsetMs":20,"omittedBytes":7,"limitBytes":30}`,
      `{"operationSeq":2,"start":${T0},"code":"x","pieces":[[25,"0"]]}`,
    ]);
    expect(verify(dir)).toMatchObject({ ok: true, checkedEvents: 7, checkedSessions: 1, problems: [] });
  });

  it('refuses a malformed event at once, naming what is wrong, and one for an event that does not exist', () => {
    const recorder = open(tempDataDir());
    const operationSeq = sshSession(recorder, 'ssh-2');
    const base = { sessionId: 'ssh-2', operationSeq, start: T0 };
    const bad: [TerminalEvent, RegExp][] = [
      [{ ...base, code: 'o', pieces: [] }, /no pieces/],
      [{ ...base, code: 'o', pieces: [[10, 'a'], [5, 'b']] }, /offsets go backwards/],
      [{ ...base, code: 'o', pieces: [[-1, 'a']] }, /not \[offsetMs, text\]/],
      [{ ...base, code: 'r', pieces: [[0, '80 by 24']] }, /terminal size "80 by 24" is not COLSxROWS/],
      [{ ...base, code: 'x', pieces: [[0, '']] }, /exit status "" is not a number or a signal name/],
      [{ ...base, code: 'q' as 'o', pieces: [[0, 'a']] }, /unknown terminal code "q"/],
      [{ ...base, code: 'omitted', offsetMs: 0, omittedBytes: 0, limitBytes: 1 }, /omittedBytes is not a positive number/],
      [{ ...base, operationSeq: 1, code: 'o', pieces: [[0, 'a']] }, /operationSeq 1 is not an operation's seq/],
      [{ ...base, operationSeq: 9, code: 'o', pieces: [[0, 'a']] }, /operationSeq 9 is not an event of it/],
    ];
    for (const [event, message] of bad) expect(caught(() => recorder.terminal(event)).message).toMatch(message);
    expect(caught(() => recorder.terminal({ ...base, sessionId: 'nope', code: 'o', pieces: [[0, 'a']] })).message).toMatch(/no such open session/);
    recorder.close();
  });

  it('with group commit, a write that fails is kept and written again with the next turn (nobody waits for it)', async () => {
    const dir = tempDataDir();
    const { recorder, store } = recorderOverStore(dir, { groupCommit: true });
    const operationSeq = sshSession(recorder, 'ssh-3');
    await new Promise((resolve) => recorder.whenDurable(resolve));
    const append = store.appendEvent.bind(store);
    store.appendEvent = () => {
      store.appendEvent = append;
      throw new RecorderError('cannot write to portcullis.db: database or disk is full (SQLITE_FULL)');
    };
    expect(() => recorder.terminal({ sessionId: 'ssh-3', operationSeq, start: T0, code: 'o', pieces: [[0, 'kept']] })).not.toThrow();
    expect(events(dir, 'ssh-3').map((e) => e.type)).toEqual(['session-start', 'operation']);
    recorder.operation({ sessionId: 'ssh-3', via: 'exec', text: 'pwd', effect: 'allow', rule: 'ok', reason: 'ok' });
    await new Promise((resolve) => recorder.whenDurable(resolve));
    expect(events(dir, 'ssh-3').map((e) => e.type)).toEqual(['session-start', 'operation', 'terminal', 'operation']);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });
});

describe('verifying terminal events', () => {
  it('a modified terminal event: that event; recomputed chains and re-signed checkpoints: a malformed one is still reported', () => {
    const dir = tempDataDir();
    const recorder = open(dir, { checkpointEvery: 1 });
    recordCommand(recorder, 'ssh-t');
    recorder.close();

    tamper(dir, (db) => db.prepare(`UPDATE events SET payload = replace(payload, 'total 0', 'total 9') WHERE session_id = 'ssh-t' AND seq = 3`).run());
    const modified = verify(dir);
    expect(summary(modified)).toEqual(['event-modified ssh-t:3']);
    expect(modified.problems[0]?.problem).toMatch(/^terminal event: its contents do not match its hash/);

    // Someone with the signing key rewrites history so every hash matches: only the shape gives it away.
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = '{"operationSeq":5,"start":0,"code":"o","pieces":[[0,"x"]]}' WHERE session_id = 'ssh-t' AND seq = 4`).run();
      db.prepare(`UPDATE events SET payload = '{"operationSeq":2,"start":0,"code":"r","pieces":[[0,"huge"]]}' WHERE session_id = 'ssh-t' AND seq = 5`).run();
      rechainSession(db, 'ssh-t');
      rechainGlobal(db, FileKeyStore.open(dir).signingKey());
    });
    const rewritten = verify(dir);
    expect(summary(rewritten)).toEqual(['event-invalid ssh-t:4', 'event-invalid ssh-t:5']);
    expect(rewritten.problems.map((p) => p.problem)).toEqual([
      'terminal event: operationSeq 5 does not name an earlier event',
      'terminal event: terminal size "huge" is not COLSxROWS',
    ]);
  });

  it('a deleted terminal event: the gap', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    recordCommand(recorder, 'ssh-d');
    recorder.close();
    tamper(dir, (db) => db.prepare(`DELETE FROM events WHERE session_id = 'ssh-d' AND type = 'terminal' AND seq = 4`).run());
    expect(summary(verify(dir))).toEqual(['event-missing ssh-d:4']);
  });

  it('an event recomputed with its hash after editing: the link from the next event', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    recordCommand(recorder, 'ssh-h');
    recorder.close();
    tamper(dir, (db) => {
      const row = db.prepare(`SELECT * FROM events WHERE session_id = 'ssh-h' AND seq = 3`).get() as Record<string, never>;
      const payload = (row['payload'] as string).replace('total 0', 'nothing');
      const hash = eventHash({ sessionId: 'ssh-h', seq: 3, time: row['time'], type: 'terminal', payload, prevHash: row['prev_hash'] });
      db.prepare(`UPDATE events SET payload = ?, hash = ? WHERE session_id = 'ssh-h' AND seq = 3`).run(payload, hash);
    });
    expect(summary(verify(dir))).toEqual(['event-link-broken ssh-h:4']);
  });
});

describe('retention', () => {
  it('prunes an SSH session with its terminal events; the chain still verifies', () => {
    const dir = tempDataDir();
    let now = T0;
    const recorder = open(dir, { now: () => (now += 1000) });
    recordCommand(recorder, 'ssh-old');
    now += 2 * 86_400_000;
    recordCommand(recorder, 'ssh-new');
    const pruned = pruneExpired(recorder, { defaultMs: 86_400_000, connections: new Map() }, now);
    expect(pruned.map((s) => [s.id, s.lastSeq])).toEqual([['ssh-old', 7]]);
    recorder.close();
    expect(query<{ id: string }>(dir, 'SELECT DISTINCT session_id AS id FROM events').map((r) => r.id)).toEqual(['ssh-new']);
    expect(verify(dir)).toMatchObject({ ok: true, prunedSessions: 1, checkedSessions: 1 });
  });
});
