import { afterAll, describe, expect, it } from 'vitest';
import { RecorderError } from '../../../src/recording/recorder.js';
import { captureLogs, open, query, recorderOverStore, removeTempDirs, startSession, statement, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

function countEvents(dataDir: string): number {
  return query<{ n: number }>(dataDir, 'SELECT count(*) AS n FROM events')[0]?.n ?? -1;
}

const durable = (recorder: { whenDurable(cb: (d: boolean) => void): void }): Promise<boolean> =>
  new Promise((resolve) => recorder.whenDurable(resolve));

describe('group commit (the gateway mode)', () => {
  it('makes one turn of writes durable together, then calls back', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true });
    const before = countEvents(dir);
    startSession(recorder, 's1');
    startSession(recorder, 's2');
    statement(recorder, 's1', 'SELECT 1');
    statement(recorder, 's2', 'SELECT 2');
    // Not yet committed: another connection does not see them.
    expect(countEvents(dir)).toBe(before);
    expect(await durable(recorder)).toBe(true);
    expect(countEvents(dir)).toBe(before + 6);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('calls back at once when nothing is pending', () => {
    const recorder = open(tempDataDir(), { groupCommit: true });
    let called: boolean | undefined;
    recorder.whenDurable((d) => (called = d));
    expect(called).toBe(true);
    recorder.close();
  });

  it('a failed commit fails the whole turn for every waiter; the next turn records again, on the chain as it was', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const { recorder, store } = recorderOverStore(dir, { groupCommit: true, logger: logs.logger, checkpointEvery: 1 });
    startSession(recorder, 's1');
    startSession(recorder, 's2');
    await durable(recorder);
    // The disk fills up at commit time (SQLite reports SQLITE_FULL): simulated at the store, once.
    const commit = store.commit.bind(store);
    store.commit = () => {
      store.commit = commit;
      throw new RecorderError('cannot write to portcullis.db: database or disk is full (SQLITE_FULL)');
    };
    const anchors = logs.anchors().length;
    statement(recorder, 's1', 'SELECT 1');
    recorder.sessionEnded({ sessionId: 's2', endedBy: 'client', reason: 'bye' }); // its seal brings a checkpoint
    expect(await Promise.all([durable(recorder), durable(recorder)])).toEqual([false, false]);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(/commit failed/) }));
    // No anchor was logged for the checkpoint that was rolled back.
    expect(logs.anchors()).toHaveLength(anchors);
    // Recovered: the next statement continues s1's chain from its last durable event, and
    // s2's end (nobody waited for it) is written again first.
    expect(recorder.unavailable()).toBeUndefined();
    expect(statement(recorder, 's1', 'SELECT 2')).toBe(2);
    expect(await durable(recorder)).toBe(true);
    expect(logs.anchors().length).toBeGreaterThan(anchors);
    expect(query(dir, `SELECT session_id AS id, seq FROM events WHERE type = 'session-end'`)).toEqual([{ id: 's2', seq: 2 }]);
    recorder.sessionEnded({ sessionId: 's1', endedBy: 'client', reason: 'bye' });
    recorder.close();
    expect(texts(dir)).toEqual(['SELECT 2']);
    expect(verify(dir, { anchors: logs.anchors() })).toMatchObject({ ok: true, checkedEvents: 6 });
  });

  it('a write failing mid-turn (disk full) rolls the turn back at once: nothing later in it lands, and ends are written next turn', async () => {
    const dir = tempDataDir();
    const { recorder, store } = recorderOverStore(dir, { groupCommit: true });
    for (const id of ['s1', 's2', 's3']) startSession(recorder, id);
    expect(await durable(recorder)).toBe(true);

    // One turn: s1's statement is written, then s2's does not fit on the disk. SQLite rolls
    // the whole transaction back by itself, s1's statement included.
    statement(recorder, 's1', 'SELECT 1');
    const waiters = [durable(recorder)];
    store.database.pragma(`max_page_count = ${store.database.pragma('page_count', { simple: true }) as number}`);
    expect(() => statement(recorder, 's2', `SELECT 2 -- ${'x'.repeat(200_000)}`)).toThrow(/SQLITE_FULL/);
    store.database.pragma('max_page_count = 1073741823');
    // The rest of the turn is refused (it would be chained onto rolled-back events), except
    // records nobody waits for: s3's end is kept and written in the next turn.
    expect(() => statement(recorder, 's1', 'SELECT 3')).toThrow(/SQLITE_FULL/);
    recorder.sessionEnded({ sessionId: 's3', endedBy: 'client', reason: 'bye' });
    waiters.push(durable(recorder));
    expect(await Promise.all(waiters)).toEqual([false, false]);
    expect(countEvents(dir)).toBe(3);

    // The next turn: s1 and s2 carry on from their last durable events, s3's end comes first.
    expect(statement(recorder, 's2', 'SELECT 4')).toBe(2);
    expect(await durable(recorder)).toBe(true);
    expect(texts(dir)).toEqual(['SELECT 4']);
    const ends = query(dir, `SELECT session_id AS id, seq FROM events WHERE type = 'session-end'`);
    expect(ends).toEqual([{ id: 's3', seq: 2 }]);
    recorder.close();
    expect(verify(dir)).toMatchObject({ ok: true });
  });

  it('a first write of the turn that fails loses nothing else: only it is refused, and the turn goes on', async () => {
    const dir = tempDataDir();
    const { recorder, store } = recorderOverStore(dir, { groupCommit: true });
    startSession(recorder, 's1');
    expect(await durable(recorder)).toBe(true);
    store.database.pragma(`max_page_count = ${store.database.pragma('page_count', { simple: true }) as number}`);
    expect(() => statement(recorder, 's1', `SELECT 1 -- ${'x'.repeat(200_000)}`)).toThrow(/SQLITE_FULL/);
    store.database.pragma('max_page_count = 1073741823');
    expect(statement(recorder, 's1', 'SELECT 2')).toBe(2);
    expect(await durable(recorder)).toBe(true);
    recorder.close();
    expect(texts(dir)).toEqual(['SELECT 2']);
    expect(verify(dir).ok).toBe(true);
  });

  it('refuses everything until restart when the store no longer matches the chain heads after a failure', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const { recorder, store } = recorderOverStore(dir, { groupCommit: true, logger: logs.logger });
    startSession(recorder, 's1');
    await durable(recorder);
    // The commit fails and the rollback does not happen: the connection still sees the turn's writes.
    store.commit = () => {
      throw new RecorderError('cannot write to portcullis.db: disk I/O error (SQLITE_IOERR)');
    };
    store.rollback = () => undefined;
    statement(recorder, 's1', 'SELECT 1');
    expect(await durable(recorder)).toBe(false);
    expect(() => statement(recorder, 's1', 'SELECT 2')).toThrow(/no longer matches the recorder's chain heads; restart the gateway/);
    expect(recorder.unavailable()).toMatch(/^recording stopped: after a failed write/);
    let later: boolean | undefined;
    recorder.whenDurable((d) => (later = d));
    expect(later).toBe(false);
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(/until restart/) }));
  });
});

/** The statement texts recorded, in order. */
function texts(dataDir: string): string[] {
  return query<{ payload: string }>(dataDir, `SELECT payload FROM events WHERE type = 'operation' ORDER BY session_id, seq`).map(
    (row) => (JSON.parse(row.payload) as { text: string }).text,
  );
}
