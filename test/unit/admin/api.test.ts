/** The admin API's answers over a real recording (ChainRecorder on SQLite in a temp dir). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionEventsResponse, sessionResponse, sessionsResponse, verifyResponse } from '../../../src/admin/api.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { SqliteStore } from '../../../src/recording/sqlite-store.js';
import { fullSession, open, removeTempDirs, startSession, tamper, tempDataDir } from '../recording/support.js';

let dir: string;
let recorder: ChainRecorder;

/** s-a: 8 events, ended by the client (00:00:02–00:00:09); s-b: open, one refused statement (from 00:00:11). */
beforeAll(() => {
  dir = tempDataDir();
  recorder = open(dir);
  fullSession(recorder, 's-a');
  startSession(recorder, 's-b', 'agent-2');
  recorder.operation({ sessionId: 's-b', via: 'simple-query', text: 'DELETE FROM orders', effect: 'deny', rule: 'no-writes', reason: 'read-only' });
});

afterAll(() => {
  recorder.close();
  removeTempDirs();
});

function withStore<T>(fn: (store: SqliteStore) => T): T {
  const store = SqliteStore.open(dir, { readonly: true });
  try {
    return store.snapshot(() => fn(store));
  } finally {
    store.close();
  }
}

describe('sessionsResponse', () => {
  it('lists newest first with ISO times, counts and the total', () => {
    const { status, body } = withStore((store) => sessionsResponse(store, { filter: {}, limit: 100 }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ total: 2, limit: 100, truncated: false });
    const [b, a] = (body as { sessions: Record<string, unknown>[] }).sessions;
    expect(b).toMatchObject({ id: 's-b', subject: 'agent-2', startedAt: '2025-01-01T00:00:11.000Z', endedAt: null, durationMs: null, statements: 1, refused: 1 });
    expect(a).toMatchObject({
      id: 's-a',
      connection: 'demo',
      protocol: 'postgres',
      clientId: 'ci-bot',
      groups: ['agents'],
      tls: true,
      startedAt: '2025-01-01T00:00:02.000Z',
      endedAt: '2025-01-01T00:00:09.000Z',
      durationMs: 7000,
      endedBy: 'client',
      events: 8,
      statements: 3,
      decisions: { allow: 3, deny: 0, review: 0 },
    });
  });

  it('filters, and keeps the newest when the limit cuts', () => {
    const denied = withStore((store) => sessionsResponse(store, { filter: { decision: 'deny' }, limit: 100 })).body as { sessions: { id: string }[] };
    expect(denied.sessions.map((s) => s.id)).toEqual(['s-b']);
    const limited = withStore((store) => sessionsResponse(store, { filter: {}, limit: 1 })).body;
    expect(limited).toMatchObject({ sessions: [{ id: 's-b' }], total: 2, limit: 1, truncated: true });
  });
});

describe('sessionResponse and sessionEventsResponse', () => {
  it('gives one session\'s summary, or a 404 that says where to look', () => {
    expect(withStore((store) => sessionResponse(store, 's-a'))).toMatchObject({ status: 200, body: { id: 's-a', events: 8 } });
    expect(withStore((store) => sessionResponse(store, 'nope'))).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'no session "nope" is recorded; list the recorded sessions with GET /api/sessions' },
    });
    expect(withStore((store) => sessionEventsResponse(store, 'nope', { after: 0, limit: 10 })).status).toBe(404);
  });

  it('gives the events with decoded payloads and chain hashes, a page at a time', () => {
    const first = withStore((store) => sessionEventsResponse(store, 's-a', { after: 0, limit: 3 }));
    const body = first.body as { sessionId: string; events: Record<string, unknown>[]; next: number | null };
    expect(body.sessionId).toBe('s-a');
    expect(body.events.map((e) => e['seq'])).toEqual([1, 2, 3]);
    expect(body.events[0]).toMatchObject({ type: 'session-start', time: '2025-01-01T00:00:02.000Z', payload: { connection: 'demo', tls: true } });
    expect(body.events[1]).toMatchObject({ type: 'operation', payload: { text: 'SELECT 1 FROM orders', effect: 'allow', rule: 'reads-ok' } });
    expect(body.events[2]).toMatchObject({ type: 'outcome', payload: { operationSeq: 2, rows: 1 } });
    expect(body.events[1]?.['prevHash']).toBe(body.events[0]?.['hash']);
    expect(body.events[0]?.['hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(body.next).toBe(3);
    const last = withStore((store) => sessionEventsResponse(store, 's-a', { after: 3, limit: 10 })).body as typeof body;
    expect(last.events.map((e) => e['seq'])).toEqual([4, 5, 6, 7, 8]);
    expect(last.next).toBeNull();
  });
});

describe('verifyResponse', () => {
  it('reports ok, then the exact event that was modified', () => {
    const key = FileKeyStore.open(dir).publicKey();
    const clean = withStore((store) => verifyResponse(store, key, []));
    expect(clean.status).toBe(200);
    expect(clean.body).toMatchObject({ ok: true, problems: [], checkedSessions: 2, openSessions: 1, publicKey: { from: 'data-dir' } });

    tamper(dir, (db) => db.prepare("UPDATE events SET payload = replace(payload, 'SELECT 2', 'SELECT 9') WHERE session_id = 's-a' AND seq = 4").run());
    const tampered = withStore((store) => verifyResponse(store, key, []));
    expect(tampered.status).toBe(200);
    expect(tampered.body).toMatchObject({ ok: false, problems: [{ code: 'event-modified', sessionId: 's-a', seq: 4 }] });
  });
});
