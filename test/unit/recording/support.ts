/** Real recordings in temp dirs, and the tools a tamperer with write access to the database would use. */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { createLogger, type Logger } from '../../../src/log.js';
import { auditEntryHash, eventHash, keyId, sessionGenesis, signCheckpoint, type CheckpointPayload } from '../../../src/recording/chain.js';
import { ChainRecorder, type ChainRecorderOptions } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore, SIGNING_KEY_FILE } from '../../../src/recording/key-store.js';
import { RecorderError } from '../../../src/recording/recorder.js';
import { openRecorder, type RecorderOptions } from '../../../src/recording/sqlite-recorder.js';
import { DATABASE_FILE, SqliteStore } from '../../../src/recording/sqlite-store.js';
import type { EventRow } from '../../../src/recording/store.js';
import { verifyAudit, type Anchor, type VerifyResult } from '../../../src/recording/verify.js';
import { AUDIT_GENESIS } from '../../../src/recording/chain.js';

const made: string[] = [];

/** A fresh, not yet existing data directory inside a temp dir. */
export function tempDataDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'portcullis-recording-'));
  made.push(parent);
  return join(parent, 'data');
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A deterministic clock: 1 s per reading from 2025-01-01. */
export function fakeClock(): () => number {
  let now = Date.UTC(2025, 0, 1);
  return () => (now += 1000);
}

/** Captures log lines; `anchors()` are the checkpoint anchors the gateway logged. */
export function captureLogs(): { logger: Logger; lines: Record<string, unknown>[]; anchors: () => Anchor[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('debug', {}, (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
  const anchors = (): Anchor[] =>
    lines
      .filter((line) => typeof line['anchor'] === 'string')
      .map((line) => {
        const [seq, hash] = (line['anchor'] as string).split(':');
        return { globalSeq: Number(seq), hash: hash as string };
      });
  return { logger, lines, anchors };
}

export function open(dataDir: string, options: RecorderOptions = {}): ChainRecorder {
  return openRecorder(dataDir, { now: fakeClock(), ...options });
}

/**
 * A recorder over its own store (to reach into), without the data-directory lock: also one
 * to abandon as if its process had been killed (the lock would have died with it), so that
 * `open` on the same directory recovers its sessions.
 */
export function recorderOverStore(dataDir: string, options: ChainRecorderOptions = {}): { recorder: ChainRecorder; store: SqliteStore } {
  const store = SqliteStore.open(dataDir);
  return { recorder: new ChainRecorder(store, FileKeyStore.openOrCreate(dataDir), { now: fakeClock(), ...options }), store };
}

export function openToAbandon(dataDir: string, options: ChainRecorderOptions = {}): ChainRecorder {
  return recorderOverStore(dataDir, options).recorder;
}

/** Runs `fn` and returns the RecorderError it must throw. */
export function caught(fn: () => unknown): RecorderError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RecorderError);
    return error as RecorderError;
  }
  throw new Error('expected a RecorderError');
}

export function startSession(recorder: ChainRecorder, sessionId: string, subject = 'agent-1', connection = 'demo'): void {
  recorder.sessionStarted({
    sessionId,
    protocol: 'postgres',
    connection,
    identity: { subject, clientId: 'ci-bot', groups: ['agents'] },
    clientAddress: '127.0.0.1:50000',
    tls: true,
  });
}

/** An operation and its outcome (two events). */
export function statement(recorder: ChainRecorder, sessionId: string, text: string): number {
  const seq = recorder.operation({ sessionId, via: 'simple-query', text, effect: 'allow', rule: 'reads-ok', reason: 'reads are allowed' });
  recorder.outcome({ sessionId, operationSeq: seq, command: 'SELECT 1', rows: 1, bytes: 10, columns: ['id'], durationMs: 2 });
  return seq;
}

/**
 * A session of 8 events: start (1), three statements (2–7: operation, outcome), end (8).
 * Statement texts are `SELECT <n> FROM orders` with n = 1, 2, 3.
 */
export function fullSession(recorder: ChainRecorder, sessionId: string, end = true): void {
  startSession(recorder, sessionId);
  for (let n = 1; n <= 3; n++) statement(recorder, sessionId, `SELECT ${n} FROM orders`);
  if (end) recorder.sessionEnded({ sessionId, endedBy: 'client', reason: 'client disconnected' });
}

/**
 * Sessions s-a, s-b, s-c (8 events each), one auth failure, closed cleanly. Checkpoints at
 * start (global 1), then every 2 entries, and at close.
 */
export function cleanLog(dataDir: string, options: RecorderOptions = {}): void {
  const recorder = open(dataDir, { checkpointEvery: 2, ...options });
  for (const id of ['s-a', 's-b', 's-c']) fullSession(recorder, id);
  recorder.authFailure({ protocol: 'postgres', clientAddress: '10.0.0.9:4000', connection: 'demo', reason: 'token expired' });
  recorder.close();
}

export function verify(dataDir: string, options: { publicKey?: KeyObject; anchors?: readonly Anchor[] } = {}): VerifyResult {
  const store = SqliteStore.open(dataDir, { readonly: true });
  try {
    const key = options.publicKey ?? FileKeyStore.open(dataDir).publicKey();
    return store.snapshot(() => verifyAudit(store, key, { anchors: options.anchors ?? [] }));
  } finally {
    store.close();
  }
}

/** A separate connection to the database file, as a tamperer would open it. */
export function tamper<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  return withDatabase(join(dataDir, DATABASE_FILE), fn);
}

/** Rows of a query on the database file, read through a separate read-only connection. */
export function query<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  return withDatabase(join(dataDir, DATABASE_FILE), (db) => db.prepare(sql).all(...params) as T[], { readonly: true });
}

/** A connection of its own to an SQLite file, closed after `fn`. */
export function withDatabase<T>(file: string, fn: (db: Database.Database) => T, options: Database.Options = {}): T {
  const db = new Database(file, options);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface EventDbRow {
  session_id: string;
  seq: number;
  time: number;
  type: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

/** Recomputes one session's chain from its rows as they now are (an attacker covering tracks); returns its new head. */
export function rechainSession(db: Database.Database, sessionId: string): { seq: number; hash: string } {
  const rows = db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY seq').all(sessionId) as EventDbRow[];
  let prevHash = sessionGenesis(sessionId);
  let seq = 0;
  const update = db.prepare('UPDATE events SET seq = ?, prev_hash = ?, hash = ? WHERE session_id = ? AND seq = ?');
  // Renumber through negative seqs so the unique index never sees a duplicate.
  rows.forEach((row, i) => update.run(-(i + 1), row.prev_hash, row.hash, sessionId, row.seq));
  for (const row of rows) {
    seq++;
    const hash = eventHash({ sessionId, seq, time: row.time, type: row.type as never, payload: row.payload, prevHash });
    update.run(seq, prevHash, hash, sessionId, -seq);
    prevHash = hash;
  }
  return { seq, hash: prevHash };
}

interface AuditDbRow {
  seq: number;
  time: number;
  type: string;
  session_id: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

/**
 * Recomputes the global chain: seals re-pointed at their sessions' current heads, every hash
 * recomputed, and checkpoints re-signed with `signingKey` (or left with their old, now wrong,
 * signatures when there is none).
 */
export function rechainGlobal(db: Database.Database, signingKey?: KeyObject): void {
  const heads = new Map(
    (db.prepare('SELECT session_id AS id, MAX(seq) AS seq FROM events GROUP BY session_id').all() as { id: string; seq: number }[]).map((r) => [
      r.id,
      { seq: r.seq, hash: (db.prepare('SELECT hash FROM events WHERE session_id = ? AND seq = ?').pluck().get(r.id, r.seq) as string) },
    ]),
  );
  const rows = db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as AuditDbRow[];
  const update = db.prepare('UPDATE audit_log SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?');
  let prev = { seq: 0, hash: AUDIT_GENESIS };
  for (const row of rows) {
    let payload = row.payload;
    if (row.type === 'session-seal' && row.session_id !== null) {
      const head = heads.get(row.session_id);
      const seal = JSON.parse(payload) as { lastSeq: number; lastHash: string; endedBy: string };
      if (head !== undefined) payload = JSON.stringify({ ...seal, lastSeq: head.seq, lastHash: head.hash });
    } else if (row.type === 'checkpoint') {
      const old = JSON.parse(payload) as CheckpointPayload;
      const open = old.open.map(([id, seq, hash]) => {
        const head = heads.get(id);
        return [id, seq, head !== undefined && head.seq === seq ? head.hash : hash] as const;
      });
      if (signingKey === undefined) {
        payload = JSON.stringify({ ...old, covers: { seq: prev.seq, hash: prev.hash }, open });
      } else {
        const body = { covers: { seq: prev.seq, hash: prev.hash }, open, keyId: keyId(signingKey), time: row.time };
        payload = JSON.stringify({ covers: body.covers, open, keyId: body.keyId, signature: signCheckpoint(body, signingKey) });
      }
    }
    const prevHash = prev.hash;
    const hash = auditEntryHash({ seq: row.seq, time: row.time, type: row.type as never, sessionId: row.session_id, payload, prevHash });
    update.run(payload, prevHash, hash, row.seq);
    prev = { seq: row.seq, hash };
  }
}

/** Replaces the data directory's signing key with a new one (as a tamperer with disk access could); returns it. */
export function replaceSigningKey(dataDir: string): KeyObject {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dataDir, SIGNING_KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  return privateKey;
}

/** The problems as `code session:seq @global`, compact for assertions. */
export function summary(result: VerifyResult): string[] {
  return result.problems.map(
    (p) => `${p.code}${p.sessionId === undefined ? '' : ` ${p.sessionId}`}${p.seq === undefined ? '' : `:${p.seq}`}${p.globalSeq === undefined ? '' : ` @${p.globalSeq}`}`,
  );
}

/** Event rows' times count from here (eventRow). */
export const EVENT_T0 = Date.UTC(2025, 0, 1);

/**
 * An event row with made-up (well-formed, not chained) hashes: for store and journal tests
 * that move rows, not verify them.
 */
export function eventRow(sessionId: string, seq: number, type: EventRow['type'], payload: unknown): EventRow {
  const hex = (text: string): string => createHash('sha256').update(text).digest('hex');
  return {
    sessionId,
    seq,
    time: EVENT_T0 + seq * 1000,
    type,
    payload: JSON.stringify(payload),
    prevHash: hex(`${sessionId}:${seq - 1}`),
    hash: hex(`${sessionId}:${seq}`),
  };
}
