import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { RecorderError } from '../../../src/recording/recorder.js';
import { DATABASE_FILE, SqliteStore } from '../../../src/recording/sqlite-store.js';
import { open, removeTempDirs, startSession, statement, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

function countEvents(dataDir: string): number {
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    db.close();
  }
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

  it('a failed commit is reported to every waiter and the recorder then refuses (fail closed)', async () => {
    const dir = tempDataDir();
    const store = SqliteStore.open(dir);
    const recorder = new ChainRecorder(store, FileKeyStore.openOrCreate(dir), { groupCommit: true });
    startSession(recorder, 's1');
    await durable(recorder);
    // The disk fills up at commit time (SQLite reports SQLITE_FULL): simulated at the store.
    store.commit = () => {
      throw new RecorderError('cannot write to portcullis.db: database or disk is full (SQLITE_FULL)');
    };
    statement(recorder, 's1', 'SELECT 1');
    expect(await Promise.all([durable(recorder), durable(recorder)])).toEqual([false, false]);
    expect(() => statement(recorder, 's1', 'SELECT 2')).toThrow(/disk is full/);
    let later: boolean | undefined;
    recorder.whenDurable((d) => (later = d));
    expect(later).toBe(false);
  });
});
