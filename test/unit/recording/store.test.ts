import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FileKeyStore, parsePublicKey, publicKeyPem, SIGNING_KEY_FILE } from '../../../src/recording/key-store.js';
import { openRecorder } from '../../../src/recording/sqlite-recorder.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src/recording/sqlite-schema.js';
import { DATABASE_FILE, SqliteStore } from '../../../src/recording/sqlite-store.js';
import { caught, fullSession, open, openToAbandon, recorderOverStore, removeTempDirs, startSession, statement, tamper, tempDataDir, verify } from './support.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

const isRoot = process.getuid?.() === 0;

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
      expect(tables).toEqual(['audit_log', 'events', 'journal_position', 'sessions']);
    });
  });

  it('refuses a database written by a newer release, naming the file and both versions', () => {
    const dir = tempDataDir();
    open(dir).close();
    tamper(dir, (db) => db.pragma('user_version = 99'));
    const file = join(dir, DATABASE_FILE);
    const error = caught(() => open(dir));
    expect(error.message).toContain(file);
    expect(error.message).toContain(`schema version 99, newer than this Portcullis supports (version ${SCHEMA_VERSION})`);
    expect(caught(() => SqliteStore.open(dir, { readonly: true })).message).toContain('schema version 99');
    // Refused without touching it.
    tamper(dir, (db) => expect(db.pragma('user_version', { simple: true })).toBe(99));
  });

  it('upgrades a version-1 database at start (adding the version-2 indexes); a read-only open refuses it until then', () => {
    const dir = tempDataDir();
    mkdirSync(dir, { recursive: true });
    tamper(dir, (db) => {
      db.exec(MIGRATIONS[0] as string);
      db.pragma('user_version = 1');
    });
    expect(caught(() => SqliteStore.open(dir, { readonly: true })).message).toMatch(
      new RegExp(`schema version 1, older than this Portcullis \\(version ${SCHEMA_VERSION}\\): start the gateway once to upgrade it`),
    );
    open(dir).close();
    tamper(dir, (db) => {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const indexes = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL ORDER BY name`).pluck().all();
      expect(indexes).toEqual(['sessions_connection_ended', 'sessions_started_at', 'sessions_subject', 'sessions_unended']);
    });
    expect(verify(dir).ok).toBe(true);
  });

  it('migrations are append-only: migration 1 is exactly as shipped', () => {
    // Databases in the field were created by it: change the schema with a new migration instead.
    expect(createHash('sha256').update(MIGRATIONS[0] as string).digest('hex')).toBe('8f4d646f654e5b9791ccd6a2b7e0a04b77f477f8566328437d486890a649cfb7');
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
    const { recorder, store } = recorderOverStore(dir);
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

describe('indexed reads', () => {
  it('one session, its events and head by id; filtered listings; the connections; expired sessions of one connection', () => {
    const dir = tempDataDir();
    const recorder = open(dir);
    fullSession(recorder, 's-1'); // ends at 00:00:09
    startSession(recorder, 's-2', 'agent-2');
    startSession(recorder, 's-3', 'agent-2', 'prod');
    recorder.sessionEnded({ sessionId: 's-3', endedBy: 'client', reason: 'bye' });
    const store = SqliteStore.open(dir, { readonly: true });
    try {
      expect(store.session('s-1')).toMatchObject({ id: 's-1', connection: 'demo', subject: 'agent-1', endedBy: 'client', lastSeq: 8 });
      expect(store.session('nope')).toBeUndefined();
      expect([...store.sessionEvents('s-1')].map((e) => `${e.seq}:${e.type}`)).toEqual([
        '1:session-start', '2:operation', '3:outcome', '4:operation', '5:outcome', '6:operation', '7:outcome', '8:session-end',
      ]);
      expect([...store.sessionEvents('nope')]).toEqual([]);
      expect(store.sessionHead('s-2')).toMatchObject({ seq: 1 });
      const ids = (filter: Parameters<SqliteStore['findSessions']>[0]): string[] => [...store.findSessions(filter)].map((row) => row.id);
      expect(ids({})).toEqual(['s-1', 's-2', 's-3']);
      expect(ids({ connection: 'prod' })).toEqual(['s-3']);
      expect(ids({ subject: 'agent-2' })).toEqual(['s-2', 's-3']);
      expect(ids({ subject: 'agent-2', connection: 'demo' })).toEqual(['s-2']);
      const s2 = store.session('s-2')?.startedAt as number;
      expect(ids({ since: s2 })).toEqual(['s-2', 's-3']);
      expect(store.sessionConnections()).toEqual(['demo', 'prod']);
      const s1End = store.session('s-1')?.endedAt as number;
      // Only ended sessions, by end time: the open s-2 never, s-1 once its end is before the cut.
      expect(store.endedSessions('demo', s1End, 10)).toEqual([]);
      expect(store.endedSessions('demo', s1End + 1, 10).map((row) => row.id)).toEqual(['s-1']);
      expect(store.endedSessions('demo', Number.MAX_SAFE_INTEGER, 10).map((row) => row.id)).toEqual(['s-1']);
      expect(store.sealOf('s-1')).toMatchObject({ type: 'session-seal', sessionId: 's-1' });
      expect(store.sealOf('s-2')).toBeUndefined();
    } finally {
      store.close();
    }
    recorder.close();
  });

  it('deleteSession removes an ended session\'s row and events, and refuses an open one', () => {
    const dir = tempDataDir();
    const recorder = openToAbandon(dir);
    fullSession(recorder, 'ended');
    startSession(recorder, 'open');
    const store = SqliteStore.open(dir);
    try {
      expect(caught(() => store.deleteSession('open')).message).toMatch(/cannot prune session open: it is not an ended session/);
      store.deleteSession('ended');
      expect(store.session('ended')).toBeUndefined();
      expect([...store.sessionEvents('ended')]).toEqual([]);
      expect([...store.sessionEvents('open')]).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});
