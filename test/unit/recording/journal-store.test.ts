/**
 * The recording journal (`recording.writer: thread`): a batch is durable once its frame is in
 * the journal — before the database has it — and the writer thread applies the journal to
 * the database in bulk. With real SQLite faults on the writer's connection (a lock held by
 * another connection): nothing is lost while the database is behind, readers wait for it (or
 * are refused when it cannot catch up), too large a backlog refuses batches (fail closed), and
 * what the database lacked at shutdown is applied from the journal at the next start.
 * The writer thread runs the build's code (dist/), which `npm test` builds first.
 */
import Database from 'better-sqlite3';
import { renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { JournalStore } from '../../../src/recording/journal-store.js';
import { journalDir, listSegments, segmentFile } from '../../../src/recording/journal-segments.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { RecorderError } from '../../../src/recording/recorder.js';
import { DATABASE_FILE, SqliteStore } from '../../../src/recording/sqlite-store.js';
import type { RecordingStore } from '../../../src/recording/store.js';
import { captureLogs, fakeClock, open, query, removeTempDirs, startSession, statement, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

const durable = (recorder: { whenDurable(cb: (d: boolean) => void): void }): Promise<boolean> =>
  new Promise((resolve) => recorder.whenDurable(resolve));

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function events(dataDir: string, sessionId: string): { seq: number; type: string; payload: string }[] {
  return query(dataDir, 'SELECT seq, type, payload FROM events WHERE session_id = ? ORDER BY seq', sessionId);
}

function texts(dataDir: string, sessionId: string): string[] {
  return events(dataDir, sessionId)
    .filter((e) => e.type === 'operation')
    .map((e) => (JSON.parse(e.payload) as { text: string }).text);
}

/** Polls until `check` holds (the writer applies on its own schedule), failing after `ms`. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

/** The data directory's journal: named by its database's journal id. */
function journalOf(dir: string): string {
  return journalDir(dir, query<{ id: string }>(dir, 'SELECT database_id AS id FROM journal_position')[0]!.id);
}

function storeOf(recorder: ChainRecorder): RecordingStore {
  return (recorder as unknown as { store: RecordingStore }).store;
}

function lockDatabase(dir: string): Database.Database {
  const other = new Database(join(dir, DATABASE_FILE), { timeout: 5000 });
  other.exec('BEGIN EXCLUSIVE');
  return other;
}

function release(other: Database.Database): void {
  other.exec('ROLLBACK');
  other.close();
}

/**
 * Session s1 started (and in the database), then `statements` recorded while another
 * connection locks the database — the last one in the turn of the shutdown — and the gateway
 * shut down: what the database lacks stays in the journal.
 */
async function shutDownLocked(dir: string, statements: readonly string[]): Promise<void> {
  const recorder = open(dir, { groupCommit: true, writer: 'thread', busyTimeoutMs: 20 });
  startSession(recorder, 's1');
  expect(await durable(recorder)).toBe(true);
  await eventually(() => events(dir, 's1').length === 1);
  const other = lockDatabase(dir);
  try {
    for (const [i, text] of statements.entries()) {
      statement(recorder, 's1', text);
      if (i < statements.length - 1) expect(await durable(recorder)).toBe(true);
    }
    recorder.close();
  } finally {
    release(other);
  }
}

describe('the recording journal', () => {
  it('a waiter hears true once its batch is in the journal; the writer applies it on its own; reads wait for it', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread' });
    const [segment] = listSegments(journalOf(dir));
    expect(segment).toBeDefined();
    const journalBytes = (): number => statSync(segmentFile(journalOf(dir), segment!)).size;
    const before = journalBytes(); // the checkpoint signed at start
    startSession(recorder, 's1');
    statement(recorder, 's1', 'SELECT 1');
    const heard = durable(recorder);
    // Appended at the end of this turn, not before.
    expect(journalBytes()).toBe(before);
    expect(await heard).toBe(true);
    expect(journalBytes()).toBeGreaterThan(before);
    await eventually(() => events(dir, 's1').length === 3);
    statement(recorder, 's1', 'SELECT 2');
    expect(await durable(recorder)).toBe(true);
    // A read through the store sees everything recorded so far, whether applied yet or not.
    expect([...storeOf(recorder).sessionEvents('s1')].map((e) => e.type)).toEqual(['session-start', 'operation', 'outcome', 'operation', 'outcome']);
    recorder.close();
    // A clean shutdown leaves no journal behind: all of it is in the database.
    expect(listSegments(journalOf(dir))).toEqual([]);
    expect(verify(dir).ok).toBe(true);
  });

  it('turns keep their order', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread' });
    startSession(recorder, 's1');
    await durable(recorder);
    const heard: Promise<boolean>[] = [];
    for (let n = 1; n <= 20; n++) {
      statement(recorder, 's1', `SELECT ${n}`);
      heard.push(durable(recorder));
      await nextTurn();
    }
    expect(await Promise.all(heard)).toEqual(heard.map(() => true));
    recorder.close();
    expect(texts(dir, 's1')).toEqual(Array.from({ length: 20 }, (_, i) => `SELECT ${i + 1}`));
    expect(verify(dir).ok).toBe(true);
  });

  it('the database locked by another connection: batches stay durable in the journal; the database catches up once released', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', busyTimeoutMs: 20, logger: logs.logger });
    startSession(recorder, 's1');
    expect(await durable(recorder)).toBe(true);
    await eventually(() => events(dir, 's1').length === 1);

    const other = lockDatabase(dir);
    try {
      for (let n = 1; n <= 5; n++) {
        statement(recorder, 's1', `UPDATE ${n}`);
        expect(await durable(recorder)).toBe(true);
      }
      await eventually(() => logs.lines.some((line) => line['level'] === 'error' && /not taking the journal/.test(String(line['msg']))));
      expect(events(dir, 's1').map((e) => e.type)).toEqual(['session-start']);
    } finally {
      release(other);
    }
    await eventually(() => texts(dir, 's1').length === 5);
    expect(texts(dir, 's1')).toEqual(['UPDATE 1', 'UPDATE 2', 'UPDATE 3', 'UPDATE 4', 'UPDATE 5']);
    await eventually(() => logs.lines.some((line) => /caught up with the journal/.test(String(line['msg']))));
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('a read while the database cannot catch up is refused, saying the recordings are safe in the journal', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', busyTimeoutMs: 20 });
    startSession(recorder, 's1');
    expect(await durable(recorder)).toBe(true);
    const other = lockDatabase(dir);
    try {
      statement(recorder, 's1', 'SELECT during the lock');
      expect(await durable(recorder)).toBe(true);
      let refused: unknown;
      try {
        [...storeOf(recorder).sessionEvents('s1')];
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(RecorderError);
      expect((refused as Error).message).toMatch(/has not caught up with the recording journal .*safe in the journal/);
    } finally {
      release(other);
    }
    expect([...storeOf(recorder).sessionEvents('s1')]).toHaveLength(3);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('too much waiting in the journal: batches are refused (nothing forwarded) until the database catches up; the chain goes on', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', busyTimeoutMs: 20, maxJournalBacklogBytes: 4000, logger: logs.logger });
    startSession(recorder, 's1');
    expect(await durable(recorder)).toBe(true);
    await eventually(() => events(dir, 's1').length === 1);
    const other = lockDatabase(dir);
    let accepted = 0;
    let refusedText: string | undefined;
    try {
      for (let n = 1; n <= 40 && refusedText === undefined; n++) {
        const text = `SELECT ${n} -- ${'x'.repeat(400)}`;
        statement(recorder, 's1', text);
        if (await durable(recorder)) accepted++;
        else refusedText = text;
      }
      expect(refusedText).toBeDefined();
      // About 4000 bytes' worth went in before the refusal (each statement is ~1 KB of frame).
      expect(accepted).toBeGreaterThanOrEqual(2);
      expect(accepted).toBeLessThan(10);
      expect(logs.lines).toContainEqual(
        expect.objectContaining({ level: 'error', error: expect.objectContaining({ message: expect.stringMatching(/MiB of recordings wait in the journal/) }) }),
      );
    } finally {
      release(other);
    }
    await eventually(() => texts(dir, 's1').length === accepted);
    statement(recorder, 's1', 'SELECT after');
    expect(await durable(recorder)).toBe(true);
    recorder.close();
    const recorded = texts(dir, 's1');
    expect(recorded).toHaveLength(accepted + 1);
    expect(recorded).not.toContain(refusedText);
    expect(recorded.at(-1)).toBe('SELECT after');
    expect(verify(dir).ok).toBe(true);
  });

  it('shut down while the database is locked: the rest stays in the journal, and the next start applies it', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    await shutDownLocked(dir, ['SELECT before shutdown', 'SELECT in the last turn']);
    expect(events(dir, 's1').map((e) => e.type)).toEqual(['session-start']);
    expect(listSegments(journalOf(dir))).toHaveLength(1);

    const reopened = open(dir, { groupCommit: true, writer: 'thread', logger: logs.logger });
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/applied the recordings the database lacked/) }));
    expect(texts(dir, 's1')).toEqual(['SELECT before shutdown', 'SELECT in the last turn']);
    expect(events(dir, 's1').at(-1)?.type).toBe('session-end');
    reopened.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('a recorder that now commits inline applies what a journal left first, and chains on from it', async () => {
    const dir = tempDataDir();
    await shutDownLocked(dir, ['SELECT in the journal only']);
    const logs = captureLogs();
    const inline = open(dir, { logger: logs.logger });
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/applied the recordings the database lacked/) }));
    expect(listSegments(journalOf(dir))).toEqual([]);
    startSession(inline, 's2');
    statement(inline, 's2', 'SELECT inline');
    inline.close();
    expect(texts(dir, 's1')).toEqual(['SELECT in the journal only']);
    expect(texts(dir, 's2')).toEqual(['SELECT inline']);
    expect(verify(dir).ok).toBe(true);
  });

  it('a journal is only applied to its own database: one left beside a new database refuses the start', async () => {
    const dir = tempDataDir();
    await shutDownLocked(dir, ['SELECT in the old database']);
    const oldJournal = journalOf(dir);
    expect(listSegments(oldJournal)).toHaveLength(1);
    // The operator moves the database aside (the journal stays) and starts on a new one.
    renameSync(join(dir, DATABASE_FILE), join(dir, 'old.db'));
    for (const suffix of ['-wal', '-shm']) rmSync(join(dir, `${DATABASE_FILE}${suffix}`), { force: true });
    let refused: unknown;
    try {
      open(dir, { groupCommit: true, writer: 'thread' }).close();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RecorderError);
    expect((refused as Error).message).toMatch(/holds recordings of another database .*never applied to it/);
    expect(listSegments(oldJournal)).toHaveLength(1);
  });

  it('segments: a new one once the current is full; applied ones are removed', async () => {
    const dir = tempDataDir();
    const store = new JournalStore(SqliteStore.open(dir), { dataDir: dir, segmentBytes: 2048 });
    const recorder = new ChainRecorder(store, FileKeyStore.openOrCreate(dir), { now: fakeClock(), groupCommit: true });
    startSession(recorder, 's1');
    const first = listSegments(journalOf(dir))[0]!;
    for (let n = 1; n <= 30; n++) {
      statement(recorder, 's1', `SELECT ${n} -- ${'y'.repeat(300)}`);
      expect(await durable(recorder)).toBe(true);
    }
    await eventually(() => texts(dir, 's1').length === 30);
    const segments = listSegments(journalOf(dir));
    // 30 frames of ~1 KB in 2 KiB segments: many were started, and those applied are gone.
    expect(segments.at(-1)! - first).toBeGreaterThan(8);
    expect(segments.length).toBeLessThanOrEqual(2);
    recorder.close();
    expect(listSegments(journalOf(dir))).toEqual([]);
    expect(verify(dir).ok).toBe(true);
  });

  it('the writer thread checkpoints the WAL into the database file', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread' });
    startSession(recorder, 's1');
    // ~5 MB in one batch: well past SQLite's own autocheckpoint mark (1000 pages of 4 KiB), which the connections do not use.
    for (let n = 0; n < 4000; n++) statement(recorder, 's1', `SELECT ${n} -- ${'x'.repeat(1000)}`);
    expect(await durable(recorder)).toBe(true);
    const file = join(dir, DATABASE_FILE);
    await eventually(() => statSync(file).size > 4_000_000);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('durability fsync: appends synced (and the segment\'s directory entry) record as usual', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', durability: 'fsync' });
    startSession(recorder, 's1');
    statement(recorder, 's1', 'SELECT synced');
    expect(await durable(recorder)).toBe(true);
    recorder.close();
    expect(texts(dir, 's1')).toEqual(['SELECT synced']);
    expect(verify(dir).ok).toBe(true);
  });

  it('needs group commit', () => {
    expect(() => open(tempDataDir(), { writer: 'thread' })).toThrow(/needs groupCommit/);
  });
});
