/**
 * Group commits on the writer thread (`recording.writer: thread`): the same guarantees as
 * committing inline — a waiter hears `true` only once its batch is in the database, a failed
 * batch fails every waiter (and the batch built on top of it), the chain carries on from what
 * was written, and nobody-waits records are written later rather than lost — with real
 * SQLite faults on the writer's connection (a lock held by another connection).
 * The writer thread runs the build's code (dist/), which `npm test` builds first.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_FILE } from '../../../src/recording/sqlite-store.js';
import { captureLogs, open, query, removeTempDirs, startSession, statement, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);

const durable = (recorder: { whenDurable(cb: (d: boolean) => void): void }): Promise<boolean> =>
  new Promise((resolve) => recorder.whenDurable(resolve));

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function events(dataDir: string, sessionId: string): { seq: number; type: string; payload: string }[] {
  return query(dataDir, 'SELECT seq, type, payload FROM events WHERE session_id = ? ORDER BY seq', sessionId);
}

describe('group commit on the writer thread', () => {
  it('a waiter hears true only once its batch is in the database; the chain verifies', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', offload: 'always' });
    startSession(recorder, 's1');
    statement(recorder, 's1', 'SELECT 1');
    const heard = durable(recorder);
    // Handed to the writer at the end of this turn, not before.
    expect(events(dir, 's1')).toEqual([]);
    expect(await heard).toBe(true);
    expect(events(dir, 's1').map((e) => e.type)).toEqual(['session-start', 'operation', 'outcome']);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('turns that end while a batch is being committed join the next batch, in order', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', offload: 'always' });
    startSession(recorder, 's1');
    await durable(recorder);
    const heard: Promise<boolean>[] = [];
    for (let n = 1; n <= 20; n++) {
      statement(recorder, 's1', `SELECT ${n}`);
      heard.push(durable(recorder));
      await nextTurn();
    }
    expect(await Promise.all(heard)).toEqual(heard.map(() => true));
    const texts = events(dir, 's1')
      .filter((e) => e.type === 'operation')
      .map((e) => (JSON.parse(e.payload) as { text: string }).text);
    expect(texts).toEqual(Array.from({ length: 20 }, (_, i) => `SELECT ${i + 1}`));
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('a batch the writer cannot commit fails its waiters and the batch built on it; recording resumes on the chain as written', async () => {
    const dir = tempDataDir();
    const logs = captureLogs();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', offload: 'always', busyTimeoutMs: 20, logger: logs.logger });
    startSession(recorder, 's1');
    startSession(recorder, 's2');
    expect(await durable(recorder)).toBe(true);
    const lastDurable = events(dir, 's1').at(-1)?.seq;

    // Another connection holds the write lock: the writer's BEGIN IMMEDIATE fails (SQLITE_BUSY).
    const other = new Database(join(dir, DATABASE_FILE), { timeout: 0 });
    other.exec('BEGIN EXCLUSIVE');
    const first = recorder.operation({ sessionId: 's1', via: 'simple-query', text: 'DELETE 1', effect: 'allow', rule: 'r', reason: 'ok' });
    const firstHeard = durable(recorder);
    await nextTurn(); // submitted; the next turn's writes wait for its answer
    recorder.outcome({ sessionId: 's1', operationSeq: first, command: 'DELETE 1', rows: 1, bytes: 0, durationMs: 1 });
    recorder.operation({ sessionId: 's2', via: 'simple-query', text: 'DELETE 2', effect: 'allow', rule: 'r', reason: 'ok' });
    const secondHeard = durable(recorder);
    expect(await firstHeard).toBe(false);
    expect(await secondHeard).toBe(false);
    other.exec('ROLLBACK');
    other.close();
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(/commit failed/) }));
    // Nothing of either batch reached the database.
    expect(events(dir, 's1').at(-1)?.seq).toBe(lastDurable);
    expect(events(dir, 's2').map((e) => e.type)).toEqual(['session-start']);

    // The chain carries on from what was written: the next operation takes seq 2 again.
    const again = recorder.operation({ sessionId: 's1', via: 'simple-query', text: 'SELECT again', effect: 'allow', rule: 'r', reason: 'ok' });
    expect(again).toBe((lastDurable ?? 0) + 1);
    expect(await durable(recorder)).toBe(true);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('shutdown waits for the batch in flight and commits the open one', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', offload: 'always' });
    startSession(recorder, 's1');
    await durable(recorder);
    statement(recorder, 's1', 'SELECT in flight');
    const heard = durable(recorder);
    await nextTurn(); // now in flight
    statement(recorder, 's1', 'SELECT still open');
    recorder.close();
    expect(await heard).toBe(true);
    const types = events(dir, 's1').map((e) => e.type);
    expect(types).toEqual(['session-start', 'operation', 'outcome', 'operation', 'outcome', 'session-end']);
    expect(verify(dir).ok).toBe(true);
  });

  it('when-busy: an idle event loop commits here, a busy one hands batches to the writer; both on one chain', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread' });
    const store = (recorder as unknown as { store: { offload(): boolean; submit(done: (e: unknown) => void): void } }).store;
    let submitted = 0;
    const submit = store.submit.bind(store);
    store.submit = (done) => {
      submitted++;
      submit(done);
    };
    await new Promise((resolve) => setTimeout(resolve, 120)); // an idle sampling period or two
    startSession(recorder, 's1');
    statement(recorder, 's1', 'SELECT idle');
    expect(await durable(recorder)).toBe(true);
    expect(submitted).toBe(0);
    // Keep the loop busy for a few sampling periods.
    for (let i = 0; i < 6; i++) {
      const until = Date.now() + 40;
      while (Date.now() < until);
      await nextTurn();
    }
    expect(store.offload()).toBe(true);
    statement(recorder, 's1', 'SELECT busy');
    expect(await durable(recorder)).toBe(true);
    expect(submitted).toBe(1);
    recorder.close();
    expect(events(dir, 's1').filter((e) => e.type === 'operation').map((e) => (JSON.parse(e.payload) as { text: string }).text)).toEqual([
      'SELECT idle',
      'SELECT busy',
    ]);
    expect(verify(dir).ok).toBe(true);
  });

  it('commits do not checkpoint the WAL; the writer thread does, in the background', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread' });
    startSession(recorder, 's1');
    // ~5 MB in one batch: well past SQLite's own autocheckpoint mark (1000 pages of 4 KiB).
    for (let n = 0; n < 4000; n++) statement(recorder, 's1', `SELECT ${n} -- ${'x'.repeat(1000)}`);
    expect(await durable(recorder)).toBe(true);
    const file = join(dir, DATABASE_FILE);
    const before = statSync(file).size;
    expect(before).toBeLessThan(1_000_000);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(4_000_000);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(statSync(file).size).toBeGreaterThan(4_000_000);
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('needs group commit', () => {
    expect(() => open(tempDataDir(), { writer: 'thread' })).toThrow(/needs groupCommit/);
  });
});
