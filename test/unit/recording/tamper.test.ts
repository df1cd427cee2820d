/**
 * Every kind of tampering, done to a real database file through a separate connection, is
 * detected and pinpointed. Layout of `cleanLog` (global chain):
 *   1 checkpoint · 2 seal s-a · 3 seal s-b · 4 checkpoint · 5 seal s-c · 6 auth-failure · 7 checkpoint
 * Each session: 1 session-start, 2/3 operation/outcome "SELECT 1 FROM orders", 4/5 "SELECT 2…", 6/7 "SELECT 3…", 8 session-end.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { eventHash } from '../../../src/recording/chain.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import {
  captureLogs,
  cleanLog,
  fullSession,
  open,
  rechainGlobal,
  rechainSession,
  removeTempDirs,
  replaceSigningKey,
  startSession,
  statement,
  summary,
  tamper,
  tempDataDir,
  verify,
} from './support.js';

afterAll(removeTempDirs);

let dir: string;
beforeEach(() => {
  dir = tempDataDir();
  cleanLog(dir);
});

describe('an untouched log', () => {
  it('verifies, with nothing outside a checkpoint after a clean shutdown', () => {
    const result = verify(dir);
    expect(result).toMatchObject({
      ok: true,
      checkedEvents: 24,
      checkedSessions: 3,
      checkedAuditEntries: 7,
      validCheckpoints: 3,
      openSessions: 0,
      unprotectedTail: { auditEntries: 0, events: 0, sessions: 0 },
      problems: [],
    });
    expect(result.head?.globalSeq).toBe(7);
    expect(result.lastCheckpoint?.globalSeq).toBe(7);
  });
});

describe('session events', () => {
  it('a modified payload: that event', () => {
    tamper(dir, (db) => db.prepare(`UPDATE events SET payload = replace(payload, 'SELECT 2', 'SELECT 9') WHERE session_id = 's-b' AND seq = 4`).run());
    const result = verify(dir);
    expect(result.ok).toBe(false);
    expect(summary(result)).toEqual(['event-modified s-b:4']);
    expect(result.problems[0]?.problem).toMatch(/operation event: its contents do not match its hash/);
  });

  it('a modified time or type: that event', () => {
    tamper(dir, (db) => db.prepare(`UPDATE events SET time = time + 1 WHERE session_id = 's-a' AND seq = 3`).run());
    expect(summary(verify(dir))).toEqual(['event-modified s-a:3']);
  });

  it('a modified event whose hash was recomputed: the link from the next event', () => {
    tamper(dir, (db) => {
      const row = db.prepare(`SELECT * FROM events WHERE session_id = 's-b' AND seq = 4`).get() as Record<string, never>;
      const payload = (row['payload'] as string).replace('SELECT 2', 'SELECT 9');
      const hash = eventHash({ sessionId: 's-b', seq: 4, time: row['time'], type: 'operation', payload, prevHash: row['prev_hash'] });
      db.prepare(`UPDATE events SET payload = ?, hash = ? WHERE session_id = 's-b' AND seq = 4`).run(payload, hash);
    });
    expect(summary(verify(dir))).toEqual(['event-link-broken s-b:5']);
  });

  it('a deleted event: the gap', () => {
    tamper(dir, (db) => db.prepare(`DELETE FROM events WHERE session_id = 's-c' AND seq = 4`).run());
    const result = verify(dir);
    expect(summary(result)).toEqual(['event-missing s-c:4']);
    expect(result.problems[0]?.problem).toBe('event 4 is missing (deleted)');
  });

  it('deleted events at the end of a sealed session: truncation against the seal', () => {
    tamper(dir, (db) => {
      db.prepare(`DELETE FROM events WHERE session_id = 's-a' AND seq >= 7`).run();
      db.prepare(`UPDATE sessions SET ended_at = NULL, ended_by = NULL, last_seq = NULL WHERE id = 's-a'`).run();
    });
    const result = verify(dir);
    expect(summary(result)).toEqual(['session-truncated s-a:7 @2']);
    expect(result.problems[0]?.problem).toMatch(/sealed with 8 events at global entry 2, but only 6 remain/);
  });

  it('deleted events renumbered and rechained (no gap left): the seal', () => {
    tamper(dir, (db) => {
      db.prepare(`DELETE FROM events WHERE session_id = 's-b' AND seq IN (4, 5)`).run();
      rechainSession(db, 's-b');
      db.prepare(`UPDATE sessions SET last_seq = 6 WHERE id = 's-b'`).run();
    });
    expect(summary(verify(dir))).toEqual(['session-truncated s-b:7 @3']);
  });

  it('an event inserted after the end, correctly chained: after the end and after the seal', () => {
    tamper(dir, (db) => {
      const last = db.prepare(`SELECT * FROM events WHERE session_id = 's-c' AND seq = 8`).get() as Record<string, never>;
      const row = { sessionId: 's-c', seq: 9, time: last['time'] + 1, type: 'operation' as const, payload: '{"text":"DROP TABLE audit"}', prevHash: last['hash'] };
      db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)').run('s-c', 9, row.time, row.type, row.payload, row.prevHash, eventHash(row));
    });
    expect(summary(verify(dir))).toEqual(['event-after-end s-c:9', 'event-after-seal s-c:9 @5']);
  });

  it('an event inserted in the middle, later events renumbered: where it was inserted', () => {
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET seq = -seq WHERE session_id = 's-b' AND seq >= 4`).run();
      db.prepare(`UPDATE events SET seq = 1 - seq WHERE session_id = 's-b' AND seq < 0`).run();
      const before = db.prepare(`SELECT * FROM events WHERE session_id = 's-b' AND seq = 3`).get() as Record<string, never>;
      const row = { sessionId: 's-b', seq: 4, time: before['time'] + 1, type: 'operation' as const, payload: '{"text":"SELECT 0"}', prevHash: before['hash'] };
      db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)').run('s-b', 4, row.time, row.type, row.payload, row.prevHash, eventHash(row));
    });
    const problems = summary(verify(dir));
    // The inserted event (4) chains correctly; the one it displaced (now 5) no longer links and was renumbered.
    expect(problems.slice(0, 2)).toEqual(['event-link-broken s-b:5', 'event-modified s-b:5']);
    expect(problems.every((p) => p.includes('s-b'))).toBe(true);
  });

  it('reordered events: both positions', () => {
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET seq = -1 WHERE session_id = 's-a' AND seq = 4`).run();
      db.prepare(`UPDATE events SET seq = 4 WHERE session_id = 's-a' AND seq = 6`).run();
      db.prepare(`UPDATE events SET seq = 6 WHERE session_id = 's-a' AND seq = -1`).run();
    });
    expect(summary(verify(dir))).toEqual([
      'event-link-broken s-a:4',
      'event-modified s-a:4',
      'event-link-broken s-a:5',
      'event-link-broken s-a:6',
      'event-modified s-a:6',
      'event-link-broken s-a:7',
    ]);
  });

  it('an event moved into another session: it does not belong there', () => {
    tamper(dir, (db) => {
      db.prepare(`DELETE FROM events WHERE session_id = 's-b' AND seq = 2`).run();
      db.prepare(`UPDATE events SET session_id = 's-b' WHERE session_id = 's-a' AND seq = 2`).run();
    });
    const problems = summary(verify(dir));
    expect(problems).toContain('event-missing s-a:2');
    expect(problems).toContain('event-modified s-b:2');
    expect(problems).toContain('event-link-broken s-b:3');
  });

  it('a whole session rewritten and rechained: its seal no longer matches', () => {
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = replace(payload, 'orders', 'customers') WHERE session_id = 's-a'`).run();
      rechainSession(db, 's-a');
    });
    const result = verify(dir);
    expect(summary(result)).toEqual(['session-seal-mismatch s-a:8 @2']);
    expect(result.problems[0]?.problem).toMatch(/the session's events were rewritten/);
  });

  it('a session rewritten with its seal and the global chain recomputed, but no key: the checkpoints', () => {
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = replace(payload, 'orders', 'customers') WHERE session_id = 's-a'`).run();
      rechainSession(db, 's-a');
      rechainGlobal(db);
    });
    expect(summary(verify(dir))).toEqual(['checkpoint-signature-invalid @4', 'checkpoint-signature-invalid @7']);
  });

  it('a session rewritten and everything re-signed with a replaced key: only an exported public key tells', () => {
    const exported = FileKeyStore.open(dir).publicKey();
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = replace(payload, 'orders', 'customers') WHERE session_id = 's-a'`).run();
      rechainSession(db, 's-a');
      rechainGlobal(db, replaceSigningKey(dir));
    });
    // The documented limit: the key in the data directory was replaced too.
    expect(verify(dir).ok).toBe(true);
    const result = verify(dir, { publicKey: exported });
    expect(summary(result)).toEqual(['checkpoint-wrong-key @1', 'checkpoint-wrong-key @4', 'checkpoint-wrong-key @7']);
    expect(result.validCheckpoints).toBe(0);
    expect(result.unprotectedTail.auditEntries).toBe(7);
  });
});

describe('sessions', () => {
  it('a deleted session: its seal remains', () => {
    tamper(dir, (db) => {
      db.prepare(`DELETE FROM events WHERE session_id = 's-b'`).run();
      db.prepare(`DELETE FROM sessions WHERE id = 's-b'`).run();
    });
    const result = verify(dir);
    expect(summary(result)).toEqual(['session-missing s-b @3']);
    expect(result.problems[0]?.problem).toMatch(/sealed at global entry 3 with 8 events, but none of its events remain: the session was deleted/);
  });

  it('a deleted index row', () => {
    tamper(dir, (db) => db.prepare(`DELETE FROM sessions WHERE id = 's-c'`).run());
    expect(summary(verify(dir))).toEqual(['session-index-missing s-c']);
  });

  it('an edited index row: which fields disagree with the events', () => {
    tamper(dir, (db) => db.prepare(`UPDATE sessions SET subject = 'someone-else', ended_by = 'token-expiry' WHERE id = 's-a'`).run());
    const result = verify(dir);
    expect(summary(result)).toEqual(['session-index-mismatch s-a']);
    expect(result.problems[0]?.problem).toMatch(/subject \(index "someone-else", events "agent-1"\), endedBy \(index "token-expiry", events "client"\)/);
  });

  it('a deleted session whose events remain in the index only', () => {
    tamper(dir, (db) => db.prepare(`DELETE FROM events WHERE session_id = 's-a'`).run());
    expect(summary(verify(dir))).toEqual(['session-missing s-a @2']);
  });
});

describe('the global chain', () => {
  it('a modified entry', () => {
    tamper(dir, (db) => db.prepare(`UPDATE audit_log SET payload = replace(payload, 'token expired', 'ok') WHERE seq = 6`).run());
    expect(summary(verify(dir))).toEqual(['audit-entry-modified @6']);
  });

  it('a deleted seal in the middle: the gap, and its session is unsealed', () => {
    tamper(dir, (db) => db.prepare(`DELETE FROM audit_log WHERE seq = 3`).run());
    const problems = summary(verify(dir));
    // The checkpoint at 4 is genuine (it signed the entry that is now missing): the gap is the problem.
    expect(problems).toEqual(['audit-entry-missing @3', 'session-not-sealed s-b']);
  });

  it('the tail cut back to the last checkpoint: inside the documented window, undetectable', () => {
    // A run that is not shut down cleanly leaves entries after its last checkpoint.
    const live = tempDataDir();
    const recorder = open(live, { checkpointEvery: 3 });
    for (const id of ['s-1', 's-2', 's-3', 's-4']) fullSession(recorder, id); // global: 1 cp, 2–4 seals, 5 cp, 6 seal s-4
    fullSession(recorder, 's-5'); // 7 seal s-5
    const before = verify(live);
    expect(before).toMatchObject({ ok: true, lastCheckpoint: { globalSeq: 5 }, unprotectedTail: { auditEntries: 2, fromGlobalSeq: 6, events: 16, sessions: 2 } });
    tamper(live, (db) => {
      db.prepare(`DELETE FROM audit_log WHERE seq > 5`).run();
      db.prepare(`DELETE FROM events WHERE session_id IN ('s-4', 's-5')`).run();
      db.prepare(`DELETE FROM sessions WHERE id IN ('s-4', 's-5')`).run();
    });
    expect(verify(live)).toMatchObject({ ok: true, head: { globalSeq: 5 }, unprotectedTail: { auditEntries: 0 } });
  });

  it('the tail cut back past the last checkpoint: undetectable alone, detected with an anchor', () => {
    const logs = captureLogs();
    const live = tempDataDir();
    const recorder = open(live, { checkpointEvery: 3, logger: logs.logger });
    for (const id of ['s-1', 's-2', 's-3', 's-4']) fullSession(recorder, id); // 1 cp, 2–4 seals, 5 cp, 6 seal
    const anchors = logs.anchors();
    expect(anchors.map((a) => a.globalSeq)).toEqual([1, 5]);
    tamper(live, (db) => {
      db.prepare(`DELETE FROM audit_log WHERE seq > 3`).run();
      db.prepare(`DELETE FROM events WHERE session_id IN ('s-3', 's-4')`).run();
      db.prepare(`DELETE FROM sessions WHERE id IN ('s-3', 's-4')`).run();
    });
    expect(verify(live).ok).toBe(true);
    const result = verify(live, { anchors });
    expect(summary(result)).toEqual(['anchor-missing @5']);
    expect(result.problems[0]?.problem).toMatch(/the chain ends at entry 3, so it was truncated/);
  });

  it('an anchor whose entry was rewritten', () => {
    const { head } = verify(dir);
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = replace(payload, 'orders', 'x') WHERE session_id = 's-a'`).run();
      rechainSession(db, 's-a');
      rechainGlobal(db, replaceSigningKey(dir));
    });
    expect(summary(verify(dir, { anchors: [{ globalSeq: 7, hash: head?.hash as string }] }))).toEqual(['anchor-mismatch @7']);
  });

  it('the global tail deleted but its sessions kept: they are ended yet unsealed', () => {
    tamper(dir, (db) => db.prepare(`DELETE FROM audit_log WHERE seq >= 5`).run());
    expect(summary(verify(dir))).toEqual(['session-not-sealed s-c']);
  });

  it('a forged checkpoint signature', () => {
    tamper(dir, (db) => {
      const payload = JSON.parse(db.prepare('SELECT payload FROM audit_log WHERE seq = 4').pluck().get() as string) as { signature: string };
      payload.signature = Buffer.alloc(64, 1).toString('base64');
      db.prepare('UPDATE audit_log SET payload = ? WHERE seq = 4').run(JSON.stringify(payload));
      rechainGlobal(db); // hashes recomputed; signatures kept as they are
    });
    // 7 signed the old hash of the chain that now runs through the changed 4.
    expect(summary(verify(dir))).toEqual(['checkpoint-signature-invalid @4', 'checkpoint-signature-invalid @7']);
  });

  it('verifying with another key: every checkpoint names the signer', () => {
    const other = generateKeyPairSync('ed25519').publicKey;
    const result = verify(dir, { publicKey: other });
    expect(summary(result)).toEqual(['checkpoint-wrong-key @1', 'checkpoint-wrong-key @4', 'checkpoint-wrong-key @7']);
    expect(result.problems[0]?.problem).toMatch(/^signed by key [0-9a-f]{16}, not by the key being verified with \([0-9a-f]{16}\)/);
  });
});

describe('open sessions listed in a checkpoint', () => {
  it('their events up to the checkpoint are covered: truncating them is detected', () => {
    const live = tempDataDir();
    const recorder = open(live, { checkpointEvery: 2 });
    startSession(recorder, 'long');
    statement(recorder, 'long', 'SELECT 1');
    fullSession(recorder, 's-1');
    fullSession(recorder, 's-2'); // checkpoint 4 lists "long" open at event 3
    statement(recorder, 'long', 'SELECT 2'); // events 4, 5: after the checkpoint
    const before = verify(live);
    expect(before).toMatchObject({ ok: true, openSessions: 1, unprotectedTail: { auditEntries: 0, events: 2, sessions: 1 } });
    tamper(live, (db) => db.prepare(`DELETE FROM events WHERE session_id = 'long' AND seq >= 3`).run());
    expect(summary(verify(live))).toEqual(['session-truncated long:3 @4']);
  });

  it('deleting such a session entirely is detected', () => {
    const live = tempDataDir();
    const recorder = open(live, { checkpointEvery: 1 });
    startSession(recorder, 'long');
    fullSession(recorder, 's-1');
    tamper(live, (db) => {
      db.prepare(`DELETE FROM events WHERE session_id = 'long'`).run();
      db.prepare(`DELETE FROM sessions WHERE id = 'long'`).run();
    });
    expect(summary(verify(live))).toEqual(['session-missing long @3']);
  });
});

describe('many problems', () => {
  it('are capped, with the rest counted', async () => {
    tamper(dir, (db) => db.prepare(`UPDATE events SET payload = payload || ' '`).run());
    const { SqliteStore } = await import('../../../src/recording/sqlite-store.js');
    const { verifyAudit } = await import('../../../src/recording/verify.js');
    const store = SqliteStore.open(dir, { readonly: true });
    const result = verifyAudit(store, FileKeyStore.open(dir).publicKey(), { maxProblems: 5 });
    store.close();
    expect(result.problems).toHaveLength(5);
    expect(result.omittedProblems).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
  });
});
