import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { auditEntryHash, type PrunePayload } from '../../../src/recording/chain.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { RecorderError } from '../../../src/recording/recorder.js';
import { KEEP_FOREVER, pruneExpired, startRetention, type RetentionPolicy } from '../../../src/recording/retention.js';
import { pollUntil } from '../../support/poll.js';
import { runCli } from '../cli/run-cli.js';
import {
  captureLogs,
  fullSession,
  open,
  query,
  rechainGlobal,
  recorderOverStore,
  removeTempDirs,
  startSession,
  statement,
  summary,
  tamper,
  tempDataDir,
  verify,
} from './support.js';

afterAll(removeTempDirs);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 0, 1);

/** A clock the test moves: one second per reading, plus jumps. */
function movableClock(): { now: () => number; jump(ms: number): number; at(): number } {
  let t = T0;
  return { now: () => (t += 1000), jump: (ms) => (t += ms), at: () => t };
}

function policy(defaultMs: number | undefined, connections: Record<string, number | null> = {}): RetentionPolicy {
  return { defaultMs, connections: new Map(Object.entries(connections)) };
}

/** A session of 4 events: start, a statement, end. */
function endedOn(recorder: ChainRecorder, sessionId: string, connection = 'demo'): void {
  startSession(recorder, sessionId, 'agent-1', connection);
  statement(recorder, sessionId, 'SELECT 1');
  recorder.sessionEnded({ sessionId, endedBy: 'client', reason: 'bye' });
}

const rows = query;

const sessionIds = (dataDir: string): string[] => rows<{ id: string }>(dataDir, 'SELECT id FROM sessions ORDER BY id').map((r) => r.id);
const eventSessions = (dataDir: string): string[] =>
  rows<{ id: string }>(dataDir, 'SELECT DISTINCT session_id AS id FROM events ORDER BY id').map((r) => r.id);
const globalTypes = (dataDir: string): string[] => rows<{ type: string }>(dataDir, 'SELECT type FROM audit_log ORDER BY seq').map((r) => r.type);

describe('pruning expired sessions', () => {
  it('removes ended sessions whose retention passed since their end, by connection; the chain still verifies', async () => {
    const dir = tempDataDir();
    const clock = movableClock();
    const logs = captureLogs();
    const recorder = open(dir, { now: clock.now, logger: logs.logger });
    endedOn(recorder, 'old');
    endedOn(recorder, 'old-kept', 'audited'); // this connection keeps sessions forever
    startSession(recorder, 'long-open'); // started long ago, still open: never pruned
    clock.jump(DAY + 12 * HOUR);
    endedOn(recorder, 'young');
    clock.jump(12 * HOUR);

    const pruned = pruneExpired(recorder, policy(DAY, { audited: null }), clock.at());
    expect(pruned.map((s) => [s.id, s.connection, s.lastSeq, s.retentionMs])).toEqual([['old', 'demo', 4, DAY]]);
    expect(sessionIds(dir)).toEqual(['long-open', 'old-kept', 'young']);
    expect(eventSessions(dir)).toEqual(['long-open', 'old-kept', 'young']);
    // The pruning is a recorded entry, signed at once by a checkpoint.
    expect(globalTypes(dir).slice(-2)).toEqual(['prune', 'checkpoint']);
    const prune = JSON.parse(rows<{ payload: string }>(dir, `SELECT payload FROM audit_log WHERE type = 'prune'`)[0]?.payload as string) as PrunePayload;
    expect(prune.sessions).toEqual([expect.objectContaining({ id: 'old', lastSeq: 4, sealSeq: expect.any(Number), lastHash: expect.stringMatching(/^[0-9a-f]{64}$/) })]);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'info', msg: expect.stringMatching(/pruned expired sessions/), ids: ['old'] }));

    expect(verify(dir)).toMatchObject({ ok: true, prunedSessions: 1, checkedSessions: 3, openSessions: 1 });
    // Nothing more is due at the same time.
    expect(pruneExpired(recorder, policy(DAY, { audited: null }), clock.at())).toEqual([]);
    recorder.close();

    const cli = await runCli('audit', 'verify', '--data-dir', dir);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/: OK\n/);
    expect(cli.stdout).toContain('pruned by retention: 1 session (their seals and the signed prune entries remain, and verify)');
  });

  it('prunes in bounded transactions: at most maxSessions, and about maxEvents, each with its own entry and checkpoint', () => {
    const dir = tempDataDir();
    const clock = movableClock();
    const recorder = open(dir, { now: clock.now });
    for (let i = 1; i <= 5; i++) endedOn(recorder, `s-${i}`); // 4 events each
    clock.jump(2 * DAY);
    const before = globalTypes(dir).length;

    const first = recorder.pruneExpired(policy(DAY), { maxSessions: 2, now: clock.at() });
    expect(first.pruned.map((s) => s.id)).toEqual(['s-1', 's-2']);
    expect(first.more).toBe(true);
    // Events bound a transaction too (but one always takes at least one session).
    expect(pruneExpired(recorder, policy(DAY), clock.at(), { maxEvents: 6 }).map((s) => s.id)).toEqual(['s-3', 's-4', 's-5']);
    expect(globalTypes(dir).slice(before)).toEqual(['prune', 'checkpoint', 'prune', 'checkpoint', 'prune', 'checkpoint', 'prune', 'checkpoint']);
    recorder.close();
    expect(verify(dir)).toMatchObject({ ok: true, prunedSessions: 5, checkedSessions: 0 });
  });

  it('a failure part-way leaves everything as it was (one transaction), and the next run succeeds', () => {
    const dir = tempDataDir();
    const clock = movableClock();
    const { recorder, store } = recorderOverStore(dir, { now: clock.now });
    for (const id of ['a', 'b', 'c']) endedOn(recorder, id);
    clock.jump(2 * DAY);
    const types = globalTypes(dir);
    const deleteSession = store.deleteSession.bind(store);
    let deleted = 0;
    store.deleteSession = (id) => {
      if (++deleted === 2) throw new RecorderError('cannot write to portcullis.db: disk I/O error (SQLITE_IOERR)');
      deleteSession(id);
    };
    expect(() => recorder.pruneExpired(policy(DAY), { now: clock.at() })).toThrow(/SQLITE_IOERR/);
    expect(sessionIds(dir)).toEqual(['a', 'b', 'c']);
    expect(globalTypes(dir)).toEqual(types);
    expect(verify(dir).ok).toBe(true);

    store.deleteSession = deleteSession;
    expect(pruneExpired(recorder, policy(DAY), clock.at()).map((s) => s.id)).toEqual(['a', 'b', 'c']);
    fullSession(recorder, 'after');
    recorder.close();
    expect(verify(dir)).toMatchObject({ ok: true, prunedSessions: 3, checkedSessions: 1 });
  });

  it('with group commit, the turn\'s pending writes are committed first and the pruning is durable on return', () => {
    const dir = tempDataDir();
    const clock = movableClock();
    const recorder = open(dir, { now: clock.now, groupCommit: true });
    endedOn(recorder, 'old');
    clock.jump(2 * DAY);
    startSession(recorder, 'new');
    expect(pruneExpired(recorder, policy(DAY), clock.at()).map((s) => s.id)).toEqual(['old']);
    // Seen from another connection right away: the batch ('new') and the pruning are committed.
    expect(sessionIds(dir)).toEqual(['new']);
    recorder.close();
    expect(verify(dir)).toMatchObject({ ok: true, prunedSessions: 1 });
  });

  it('never prunes a session whose last event no longer matches its seal (the evidence is kept)', () => {
    const dir = tempDataDir();
    const clock = movableClock();
    const logs = captureLogs();
    const recorder = open(dir, { now: clock.now, logger: logs.logger });
    endedOn(recorder, 'edited');
    clock.jump(2 * DAY);
    tamper(dir, (db) => db.prepare(`UPDATE events SET hash = 'f' || substr(hash, 2) WHERE session_id = 'edited' AND seq = 4`).run());
    expect(pruneExpired(recorder, policy(DAY), clock.at())).toEqual([]);
    expect(sessionIds(dir)).toEqual(['edited']);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', sessionId: 'edited', msg: expect.stringMatching(/not pruning/) }));
    recorder.close();
  });
});

describe('verify and pruned sessions', () => {
  /** Sessions a, b, c ended on day 0; a pruned on day 2 (retention 1 day); the recorder closed. */
  function prunedLog(): string {
    const dir = tempDataDir();
    const clock = movableClock();
    const recorder = open(dir, { now: clock.now, checkpointEvery: 100 });
    for (const id of ['a', 'b', 'c']) endedOn(recorder, id);
    clock.jump(2 * DAY);
    recorder.pruneExpired(policy(DAY), { maxSessions: 1, now: clock.at() });
    recorder.close();
    return dir;
  }

  const deleteSession = (db: Database.Database, id: string): void => {
    db.prepare('DELETE FROM events WHERE session_id = ?').run(id);
    db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  };

  it('a session deleted without a prune entry is still reported as deleted', () => {
    const dir = prunedLog();
    tamper(dir, (db) => deleteSession(db, 'b'));
    const result = verify(dir);
    expect(summary(result)).toEqual([expect.stringMatching(/^session-missing b @\d+$/)]);
    expect(result.prunedSessions).toBe(1);
  });

  it('a prune entry appended without the signing key does not excuse a deletion', () => {
    const dir = prunedLog();
    tamper(dir, (db) => {
      deleteSession(db, 'b');
      const seal = db.prepare(`SELECT seq, payload FROM audit_log WHERE session_id = 'b'`).get() as { seq: number; payload: string };
      const { lastSeq, lastHash } = JSON.parse(seal.payload) as { lastSeq: number; lastHash: string };
      const head = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
      const payload = JSON.stringify({
        sessions: [{ id: 'b', connection: 'demo', sealSeq: seal.seq, lastSeq, lastHash, endedAt: T0, retentionMs: HOUR }],
      });
      const row = { seq: head.seq + 1, time: T0 + 3 * DAY, type: 'prune' as const, sessionId: null, payload, prevHash: head.hash };
      db.prepare('INSERT INTO audit_log (seq, time, type, session_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        row.seq, row.time, row.type, row.sessionId, row.payload, row.prevHash, auditEntryHash(row),
      );
    });
    const result = verify(dir);
    expect(summary(result)).toEqual([expect.stringMatching(/^prune-unsigned @\d+$/), expect.stringMatching(/^session-missing b @\d+$/)]);
    expect(result.problems[0]?.problem).toMatch(/no valid checkpoint follows it .*does not excuse their deletion/);
  });

  it('a prune entry whose retention had not passed is reported, even re-signed', () => {
    const dir = prunedLog();
    tamper(dir, (db) => {
      db.prepare(`UPDATE audit_log SET payload = replace(payload, '"retentionMs":${DAY}', '"retentionMs":${30 * DAY}') WHERE type = 'prune'`).run();
      rechainGlobal(db, FileKeyStore.open(dir).signingKey());
    });
    const result = verify(dir);
    expect(summary(result)).toEqual([expect.stringMatching(/^prune-invalid a @\d+$/), expect.stringMatching(/^session-missing a @\d+$/)]);
    expect(result.problems[0]?.problem).toMatch(/its retention \(2592000000 ms after the end at .*\) had not passed/);
  });

  it('a pruned session whose events were put back is reported', () => {
    const dir = tempDataDir();
    const clock = movableClock();
    const recorder = open(dir, { now: clock.now });
    endedOn(recorder, 'a');
    clock.jump(2 * DAY);
    const saved = tamper(dir, (db) => db.prepare(`SELECT * FROM events WHERE session_id = 'a'`).all() as Record<string, unknown>[]);
    pruneExpired(recorder, policy(DAY), clock.at());
    recorder.close();
    tamper(dir, (db) => {
      const insert = db.prepare('INSERT INTO events (session_id, seq, time, type, payload, prev_hash, hash) VALUES (@session_id, @seq, @time, @type, @payload, @prev_hash, @hash)');
      for (const row of saved) insert.run(row);
    });
    expect(summary(verify(dir))).toEqual([expect.stringMatching(/^session-index-missing a$/), expect.stringMatching(/^prune-invalid a @\d+$/)]);
  });
});

describe('startRetention', () => {
  const FUTURE = Date.UTC(2030, 0, 1);

  it('prunes right away, then on every interval, until stopped', async () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    endedOn(recorder, 'first');
    const logs = captureLogs();
    const stop = startRetention(recorder, policy(DAY), { intervalMs: 20, now: () => FUTURE, logger: logs.logger });
    try {
      await pollUntil(async () => sessionIds(dir), (ids) => ids.length === 0, { intervalMs: 5, what: '"first" pruned at start' });
      endedOn(recorder, 'second');
      await pollUntil(async () => sessionIds(dir), (ids) => ids.length === 0, { intervalMs: 5, what: '"second" pruned by a later run' });
      expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'recording retention: run complete', pruned: 1 }));
    } finally {
      stop();
    }
    endedOn(recorder, 'after-stop');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sessionIds(dir)).toEqual(['after-stop']);
    recorder.close();
    expect(verify(dir)).toMatchObject({ ok: true, prunedSessions: 2 });
  });

  it('a failed run is logged and retried at the next one', async () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    endedOn(recorder, 'x');
    const fail = vi.spyOn(recorder, 'pruneExpired').mockImplementationOnce(() => {
      throw new RecorderError('cannot write to portcullis.db: database is locked (SQLITE_BUSY)');
    });
    const logs = captureLogs();
    const stop = startRetention(recorder, policy(DAY), { intervalMs: 20, now: () => FUTURE, logger: logs.logger });
    try {
      await pollUntil(async () => sessionIds(dir), (ids) => ids.length === 0, { intervalMs: 5, what: 'the retry to prune "x"' });
      expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(/pruning failed; retrying at the next run/) }));
      expect(fail.mock.calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      stop();
      recorder.close();
    }
  });

  it('starts nothing when everything is kept forever', async () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    const prune = vi.spyOn(recorder, 'pruneExpired');
    const stop = startRetention(recorder, KEEP_FOREVER, { intervalMs: 1 });
    stop();
    startRetention(recorder, policy(undefined, { demo: null }), { intervalMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(prune).not.toHaveBeenCalled();
    recorder.close();
  });
});
