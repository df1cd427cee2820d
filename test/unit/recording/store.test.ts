import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { FileKeyStore, parsePublicKey, publicKeyPem, SIGNING_KEY_FILE } from '../../../src/recording/key-store.js';
import { RecorderError } from '../../../src/recording/recorder.js';
import { openRecorder } from '../../../src/recording/sqlite-recorder.js';
import { SCHEMA_VERSION } from '../../../src/recording/sqlite-schema.js';
import { DATABASE_FILE, SqliteStore } from '../../../src/recording/sqlite-store.js';
import { fakeClock, open, removeTempDirs, startSession, statement, tamper, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

const isRoot = process.getuid?.() === 0;

function caught(fn: () => unknown): RecorderError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RecorderError);
    return error as RecorderError;
  }
  throw new Error('expected a RecorderError');
}

describe('files', () => {
  it('creates the data directory 0700, the database and the signing key 0600', () => {
    const dir = tempDataDir();
    open(dir).close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, DATABASE_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it('keeps the signing key across starts, and its public key is exportable', () => {
    const dir = tempDataDir();
    open(dir).close();
    const first = publicKeyPem(FileKeyStore.open(dir).publicKey());
    open(dir).close();
    expect(publicKeyPem(FileKeyStore.openOrCreate(dir).publicKey())).toBe(first);
    expect(first).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(parsePublicKey(first, 'test').asymmetricKeyType).toBe('ed25519');
  });

  it('uses WAL mode', () => {
    const dir = tempDataDir();
    open(dir).close();
    tamper(dir, (db) => expect(db.pragma('journal_mode', { simple: true })).toBe('wal'));
  });
});

describe('schema versions', () => {
  it('migrates a new database to the current version', () => {
    const dir = tempDataDir();
    open(dir).close();
    tamper(dir, (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
      expect(tables).toEqual(['audit_log', 'events', 'sessions']);
    });
  });

  it('refuses a database written by a newer release, naming the file and both versions', () => {
    const dir = tempDataDir();
    open(dir).close();
    tamper(dir, (db) => db.pragma('user_version = 99'));
    const file = join(dir, DATABASE_FILE);
    const error = caught(() => open(dir));
    expect(error.message).toContain(file);
    expect(error.message).toContain('schema version 99, newer than this Portcullis supports (version 1)');
    expect(caught(() => SqliteStore.open(dir, { readonly: true })).message).toContain('schema version 99');
    // Refused without touching it.
    tamper(dir, (db) => expect(db.pragma('user_version', { simple: true })).toBe(99));
  });

  it('a read-only open refuses an empty file instead of creating a schema', () => {
    const dir = tempDataDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DATABASE_FILE), '');
    expect(caught(() => SqliteStore.open(dir, { readonly: true })).message).toMatch(/holds no Portcullis recordings/);
  });
});

describe('durability', () => {
  it('maps "process" (the default) to synchronous = NORMAL and "fsync" to FULL', () => {
    const dir = tempDataDir();
    const normal = SqliteStore.open(dir);
    expect(normal.synchronousLevel()).toBe(1);
    normal.close();
    const explicit = SqliteStore.open(dir, { durability: 'process' });
    expect(explicit.synchronousLevel()).toBe(1);
    explicit.close();
    const full = SqliteStore.open(dir, { durability: 'fsync' });
    expect(full.synchronousLevel()).toBe(2);
    full.close();
  });

  it('openRecorder passes the durability to the store', () => {
    const spy = vi.spyOn(SqliteStore, 'open');
    const dir = tempDataDir();
    const recorder = openRecorder(dir, { durability: 'fsync' });
    expect(spy).toHaveBeenCalledWith(dir, { durability: 'fsync' });
    expect((spy.mock.results[0]?.value as SqliteStore).synchronousLevel()).toBe(2);
    recorder.close();
  });

  it('every call is committed when it returns: another connection sees it at once', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    startSession(recorder, 's');
    const seq = recorder.operation({ sessionId: 's', via: 'q', text: 'DELETE FROM t', effect: 'allow', rule: 'r', reason: 'r' });
    tamper(dir, (db) => {
      const row = db.prepare(`SELECT type, payload FROM events WHERE session_id = 's' AND seq = ?`).get(seq) as { type: string; payload: string };
      expect(row.type).toBe('operation');
      expect(JSON.parse(row.payload)).toMatchObject({ text: 'DELETE FROM t' });
    });
    recorder.close();
  });
});

describe('failures throw RecorderError with a clear message', () => {
  it('a corrupt database file', () => {
    const dir = tempDataDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DATABASE_FILE), 'this is not a database, it is a shopping list\n'.repeat(200));
    const error = caught(() => open(dir));
    expect(error.message).toContain(join(dir, DATABASE_FILE));
    expect(error.message).toMatch(/SQLITE_NOTADB.*not an SQLite database: keep it as evidence/);
  });

  it('a data directory that is a file', () => {
    const dir = tempDataDir();
    mkdirSync(join(dir, '..'), { recursive: true });
    writeFileSync(dir, 'x');
    expect(caught(() => open(dir)).message).toMatch(/cannot create the data directory/);
  });

  it.skipIf(isRoot)('a read-only database file', () => {
    const dir = tempDataDir();
    open(dir).close();
    chmodSync(join(dir, DATABASE_FILE), 0o400);
    expect(caught(() => open(dir)).message).toMatch(/readonly|read-only|not writable/i);
  });

  it('a full disk: the write fails, nothing half-written remains, and recording resumes once there is space', () => {
    const dir = tempDataDir();
    const store = SqliteStore.open(dir);
    const recorder = new ChainRecorder(store, FileKeyStore.openOrCreate(dir), { now: fakeClock() });
    startSession(recorder, 's');
    const pages = store.database.pragma('page_count', { simple: true }) as number;
    store.database.pragma(`max_page_count = ${pages}`);
    const huge = 'SELECT 1 -- ' + 'x'.repeat(200_000);
    const error = caught(() => recorder.operation({ sessionId: 's', via: 'q', text: huge, effect: 'allow', rule: 'r', reason: 'r' }));
    expect(error.message).toMatch(/cannot write to .*portcullis\.db: database or disk is full \(SQLITE_FULL\): the disk .* is full/);
    expect(error.cause).toBeDefined();
    store.database.pragma('max_page_count = 1073741823');
    expect(statement(recorder, 's', 'SELECT 2')).toBe(2);
    recorder.sessionEnded({ sessionId: 's', endedBy: 'client', reason: 'bye' });
    recorder.close();
    expect(verify(dir)).toMatchObject({ ok: true, checkedEvents: 4 });
  });

  it('a database locked by another connection: fails after the busy timeout, then works again', () => {
    const dir = tempDataDir();
    const recorder = open(dir, { busyTimeoutMs: 50 });
    startSession(recorder, 's');
    const other = new Database(join(dir, DATABASE_FILE));
    other.exec('BEGIN IMMEDIATE');
    try {
      const error = caught(() => statement(recorder, 's', 'SELECT 1'));
      expect(error.message).toMatch(/database is locked \(SQLITE_BUSY\): the database is locked by another connection/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    statement(recorder, 's', 'SELECT 1');
    recorder.close();
    expect(verify(dir).ok).toBe(true);
  });

  it('a signing key file that is not Ed25519', () => {
    const dir = tempDataDir();
    mkdirSync(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, SIGNING_KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(caught(() => open(dir)).message).toMatch(/holds a ec key; the audit signing key must be Ed25519/);
  });

  it('a missing signing key when only reading', () => {
    const dir = tempDataDir();
    expect(caught(() => FileKeyStore.open(dir)).message).toMatch(/no audit signing key at .*audit-signing-key\.pem: the gateway creates it at its first start/);
  });
});
