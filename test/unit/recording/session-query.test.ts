import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { findSession, listSessions } from '../../../src/recording/session-query.js';
import { SqliteStore } from '../../../src/recording/sqlite-store.js';
import { fullSession, open, removeTempDirs, startSession, statement, tempDataDir } from './support.js';

/** s-1 (demo, agent-1, ended), s-2 (demo, agent-2, open, one refusal), s-3 (prod, agent-2, ended); the recorder stays open. */
let dir: string;
let recorder: ChainRecorder;
beforeAll(() => {
  dir = tempDataDir();
  recorder = open(dir);
  fullSession(recorder, 's-1');
  startSession(recorder, 's-2', 'agent-2');
  statement(recorder, 's-2', 'SELECT 1');
  recorder.operation({ sessionId: 's-2', via: 'simple-query', text: 'DROP TABLE t', effect: 'deny', rule: 'no-ddl', reason: 'no' });
  startSession(recorder, 's-3', 'agent-2', 'prod');
  recorder.sessionEnded({ sessionId: 's-3', endedBy: 'client', reason: 'bye' });
});
afterAll(() => {
  recorder.close();
  removeTempDirs();
});

/** The store with its full-table scans spied on: session queries must not use them. */
function withStore<T>(fn: (store: SqliteStore) => T): T {
  const store = SqliteStore.open(dir, { readonly: true });
  const scans = [vi.spyOn(store, 'events'), vi.spyOn(store, 'sessions')];
  try {
    return fn(store);
  } finally {
    for (const scan of scans) expect(scan).not.toHaveBeenCalled();
    store.close();
  }
}

describe('session queries read through the indexes, never scanning every event', () => {
  it('findSession reads the one session', () => {
    withStore((store) => {
      const events = vi.spyOn(store, 'sessionEvents');
      const found = findSession(store, 's-2');
      expect(found?.summary).toMatchObject({ id: 's-2', subject: 'agent-2', statements: 2, refused: 1, events: 4, endedAt: null });
      expect(found?.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(events.mock.calls).toEqual([['s-2']]);
      expect(findSession(store, 'unknown')).toBeUndefined();
    });
  });

  it('listSessions filters by connection, subject and start time in the store, and by decision on what it reads', () => {
    withStore((store) => {
      const events = vi.spyOn(store, 'sessionEvents');
      const ids = (filter: Parameters<typeof listSessions>[1]): string[] => listSessions(store, filter).map((s) => s.id);
      expect(ids({})).toEqual(['s-1', 's-2', 's-3']);
      events.mockClear();
      expect(ids({ connection: 'prod' })).toEqual(['s-3']);
      expect(events.mock.calls).toEqual([['s-3']]);
      expect(ids({ subject: 'agent-2' })).toEqual(['s-2', 's-3']);
      expect(ids({ subject: 'agent-2', decision: 'deny' })).toEqual(['s-2']);
      const since = store.session('s-2')?.startedAt as number;
      expect(ids({ since })).toEqual(['s-2', 's-3']);
      expect(ids({ connection: 'nope' })).toEqual([]);
    });
  });
});
