import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FileKeyStore, publicKeyPem, SIGNING_KEY_FILE } from '../../../src/recording/key-store.js';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../../src/recording/sqlite-store.js';
import { cleanLog, open, rechainGlobal, rechainSession, removeTempDirs, replaceSigningKey, startSession, statement, tamper, tempDataDir } from '../recording/support.js';
import { runCli } from './run-cli.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.unstubAllEnvs();
});

const run = runCli;

/** A cleanly closed log and its exported public key (kept outside the data directory). */
function logWithExportedKey(): { dir: string; keyFile: string } {
  const dir = tempDataDir();
  cleanLog(dir);
  const keyFile = join(dirname(dir), 'audit.pub.pem');
  writeFileSync(keyFile, publicKeyPem(FileKeyStore.open(dir).publicKey()));
  return { dir, keyFile };
}

describe('portcullis audit pubkey', () => {
  it('prints the PEM public key of the data directory', async () => {
    const dir = tempDataDir();
    cleanLog(dir);
    const r = await run('audit', 'pubkey', '--data-dir', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(publicKeyPem(FileKeyStore.open(dir).publicKey()));
    expect(r.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  });

  it('finds the data directory through --config (secrets need not be set)', async () => {
    const dir = tempDataDir();
    cleanLog(dir);
    const config = join(dirname(dir), 'portcullis.yaml');
    writeFileSync(
      config,
      `data_dir: ./data
recording: { durability: fsync }
identity:
  issuers: [{ issuer: "http://127.0.0.1:9000", audience: portcullis }]
connections:
  - name: demo
    type: postgres
    target: { host: 127.0.0.1, database: app, user: u, password: "\${env:PC_AUDIT_TEST_UNSET}" }
    access: { groups: [agents] }
`,
    );
    const r = await run('audit', 'pubkey', '--config', config);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('BEGIN PUBLIC KEY');
    vi.stubEnv('PORTCULLIS_CONFIG', config);
    expect((await run('audit', 'pubkey')).code).toBe(0);
  });

  it('exits 1 when the data directory has no key', async () => {
    const r = await run('audit', 'pubkey', '-d', tempDataDir());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no audit signing key at .*: the gateway creates it at its first start/);
  });

  it('exits 2 on a bad command line', async () => {
    vi.stubEnv('PORTCULLIS_CONFIG', '');
    expect((await run('audit', 'pubkey')).code).toBe(2);
    expect((await run('audit', 'pubkey', '--data-dir', 'a', '--config', 'b')).stderr).toContain('not both');
    expect((await run('audit', 'pubkey', 'extra')).code).toBe(2);
  });
});

describe('portcullis audit verify', () => {
  it('exits 0 on an untouched log and says what it checked', async () => {
    const { dir, keyFile } = logWithExportedKey();
    const r = await run('audit', 'verify', '--data-dir', dir, '--public-key', keyFile);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${join(dir, 'portcullis.db')}: OK`);
    expect(r.stdout).toContain('checked: 3 sessions, 24 events, 7 global entries (3 valid checkpoints)');
    expect(r.stdout).toMatch(/head: 7:[0-9a-f]{64} {2}\(keep it; pass it later as --anchor\)/);
    expect(r.stdout).toContain('not yet covered by a checkpoint: nothing');
    expect(r.stdout).toContain(`from ${keyFile}`);
    expect(r.stderr).toBe('');
  });

  it('exits 1 and prints each problem with its session and event', async () => {
    const { dir, keyFile } = logWithExportedKey();
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = replace(payload, 'SELECT 2', 'SELECT 9') WHERE session_id = 's-b' AND seq = 4`).run();
      db.prepare(`DELETE FROM events WHERE session_id = 's-c' AND seq = 6`).run();
    });
    const r = await run('audit', 'verify', '-d', dir, '-k', keyFile);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('session s-b, event 4: operation event: its contents do not match its hash (modified or moved)\n');
    expect(r.stdout).toContain('session s-c, event 6: event 6 is missing (deleted)\n');
    expect(r.stdout).toContain(': FAILED — 2 problems');
  });

  it('--json prints the whole result', async () => {
    const { dir, keyFile } = logWithExportedKey();
    tamper(dir, (db) => {
      db.prepare(`DELETE FROM events WHERE session_id = 's-a'`).run();
      db.prepare(`DELETE FROM sessions WHERE id = 's-a'`).run();
    });
    const r = await run('audit', 'verify', '-d', dir, '-k', keyFile, '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      ok: false,
      database: join(dir, 'portcullis.db'),
      publicKey: { from: keyFile },
      checkedSessions: 2,
      problems: [{ code: 'session-missing', sessionId: 's-a', globalSeq: 2, problem: expect.stringContaining('the session was deleted') }],
      unprotectedTail: { auditEntries: 0, events: 0, sessions: 0 },
    });
  });

  it('says how much of the journal the database has not applied yet (after a crash, or while it was locked at shutdown)', async () => {
    const dir = tempDataDir();
    const recorder = open(dir, { groupCommit: true, writer: 'thread', busyTimeoutMs: 20 });
    startSession(recorder, 's1');
    await new Promise<boolean>((resolve) => recorder.whenDurable(resolve));
    const other = new Database(join(dir, DATABASE_FILE), { timeout: 5000 });
    other.exec('BEGIN EXCLUSIVE');
    try {
      statement(recorder, 's1', 'SELECT left in the journal');
      expect(await new Promise<boolean>((resolve) => recorder.whenDurable(resolve))).toBe(true);
      recorder.close();
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const pending = await run('audit', 'verify', '-d', dir, '--json');
    const bytes = (JSON.parse(pending.stdout) as { unappliedJournalBytes: number }).unappliedJournalBytes;
    expect(bytes).toBeGreaterThan(0);
    expect(pending.stderr).toContain(`note: ${bytes} bytes of recordings in ${join(dir, 'journal')}/`);
    expect(pending.stderr).toContain('are not in the database yet, and were not verified');

    // The next start applies them: nothing is left.
    open(dir, { groupCommit: true, writer: 'thread' }).close();
    const applied = await run('audit', 'verify', '-d', dir, '--json');
    expect(applied.code).toBe(0);
    expect((JSON.parse(applied.stdout) as { unappliedJournalBytes: number }).unappliedJournalBytes).toBe(0);
    expect(applied.stderr).not.toContain('not in the database yet');
  });

  it('uses the given public key, not the data directory\'s: a re-signed log fails', async () => {
    const { dir, keyFile } = logWithExportedKey();
    tamper(dir, (db) => {
      db.prepare(`UPDATE events SET payload = replace(payload, 'orders', 'users') WHERE session_id = 's-a'`).run();
      rechainSession(db, 's-a');
      rechainGlobal(db, replaceSigningKey(dir));
    });
    const fooled = await run('audit', 'verify', '-d', dir);
    expect(fooled.code).toBe(0);
    expect(fooled.stderr).toMatch(/note: verified with the public key in the data directory[\s\S]*pass --public-key/);
    const r = await run('audit', 'verify', '-d', dir, '--public-key', keyFile);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/global entry 1: signed by key [0-9a-f]{16}, not by the key being verified with/);
  });

  it('--anchor detects a truncated chain', async () => {
    const { dir, keyFile } = logWithExportedKey();
    const first = await run('audit', 'verify', '-d', dir, '-k', keyFile, '--json');
    const head = (JSON.parse(first.stdout) as { head: { globalSeq: number; hash: string } }).head;
    tamper(dir, (db) => {
      db.prepare('DELETE FROM audit_log WHERE seq > 4').run();
      db.prepare(`DELETE FROM events WHERE session_id = 's-c'`).run();
      db.prepare(`DELETE FROM sessions WHERE id = 's-c'`).run();
    });
    expect((await run('audit', 'verify', '-d', dir, '-k', keyFile)).code).toBe(0);
    const r = await run('audit', 'verify', '-d', dir, '-k', keyFile, '--anchor', `${head.globalSeq}:${head.hash}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('global entry 7: the anchored global entry is missing: the chain ends at entry 4, so it was truncated');
  });

  it('exits 1 with a clear message when there is nothing to verify', async () => {
    const { keyFile } = logWithExportedKey();
    const empty = tempDataDir();
    const r = await run('audit', 'verify', '-d', empty, '-k', keyFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no recordings in .* \(no portcullis\.db\): is the data directory right\?/);
    const noKey = await run('audit', 'verify', '-d', empty);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain(SIGNING_KEY_FILE);
  });

  it('refuses a private key or a non-Ed25519 key as --public-key', async () => {
    const { dir } = logWithExportedKey();
    const privateFile = join(dirname(dir), 'private.pem');
    writeFileSync(privateFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const privateRun = await run('audit', 'verify', '-d', dir, '-k', privateFile);
    expect(privateRun.code).toBe(1);
    expect(privateRun.stderr).toContain('holds a private key; give the public key');
    const ecFile = join(dirname(dir), 'ec.pem');
    writeFileSync(ecFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
    expect((await run('audit', 'verify', '-d', dir, '-k', ecFile)).stderr).toContain('holds a ec key; the audit signing key is Ed25519');
    expect((await run('audit', 'verify', '-d', dir, '-k', join(dir, 'nope.pem'))).stderr).toContain('cannot read public key file');
  });

  it('exits 2 on a bad command line', async () => {
    vi.stubEnv('PORTCULLIS_CONFIG', '');
    const none = await run('audit', 'verify');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no data directory: give --data-dir DIR, --config FILE or set PORTCULLIS_CONFIG');
    const anchor = await run('audit', 'verify', '-d', 'x', '--anchor', '7:abc');
    expect(anchor.code).toBe(2);
    expect(anchor.stderr).toContain('expected SEQ:HASH');
    expect((await run('audit', 'verify', '--frobnicate')).code).toBe(2);
    expect((await run('audit', 'verify', '-d', 'a', '-c', 'b')).code).toBe(2);
    const badConfig = await run('audit', 'verify', '--config', join(tempDataDir(), 'missing.yaml'));
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain('cannot read config file');
  });

  it('--help documents the options, the exit status and the tamper-evidence caveat', async () => {
    const r = await run('audit', 'verify', '--help');
    expect(r.code).toBe(0);
    for (const text of ['--public-key FILE', '--anchor SEQ:HASH', '--json', '--data-dir DIR', 'Exit status: 0', 'replace that key']) {
      expect(r.stdout).toContain(text);
    }
    expect((await run('audit', 'pubkey', '--help')).stdout).toMatch(/^Usage: portcullis audit pubkey/);
    expect((await run('--help')).stdout).toMatch(/audit verify +Check recordings/);
  });
});
