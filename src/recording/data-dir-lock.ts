/**
 * One gateway per data directory. The recorder keeps each open session's chain head in
 * memory and, at start, ends every session it finds open as crashed: a second gateway on the
 * same directory would take the first one's live sessions for crashed ones and fork their
 * chains. So `openRecorder` takes this lock first and holds it until `close()`.
 *
 * The lock is `<dataDir>/gateway.lock`, a tiny SQLite database: the holder keeps a write
 * transaction open (an fcntl lock) for its whole life, which the operating system releases
 * when the process dies however it dies (kill -9 included), so a crashed gateway never
 * leaves a stale lock behind, whatever its pid or host name was (containers restart as pid 1
 * under a new host name). The file also holds the owner's pid, host name and start time, which
 * stay readable while it is locked, to name the other gateway in the refusal; a row left by a
 * holder that died is reported as a warning when the lock is taken over.
 *
 * Read-only tools (`audit verify`, `sessions …`) never take the lock: they work while a
 * gateway runs. Nothing in the process may open this file except through SQLite: closing any
 * other descriptor of it would drop the process's fcntl locks on it (POSIX semantics).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import { RecorderError } from './recorder.js';
import { createPrivately } from './sqlite-store.js';

export const LOCK_FILE = 'gateway.lock';

/** Who holds (or last held) the lock. */
export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  /** Epoch ms. */
  readonly startedAt: number;
}

export interface DataDirLock {
  readonly file: string;
  /** Releases the lock (idempotent). */
  release(): void;
}

const SCHEMA = 'CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL, hostname TEXT NOT NULL, started_at INTEGER NOT NULL)';
const READ_OWNER = 'SELECT pid, hostname, started_at AS startedAt FROM owner LIMIT 1';

/** Takes the data directory's gateway lock; throws RecorderError naming the other gateway when it is held. */
export function lockDataDir(dataDir: string, options: { readonly logger?: Logger } = {}): DataDirLock {
  const file = join(dataDir, LOCK_FILE);
  createPrivately(dataDir, file, 'the gateway lock file');
  let db: Database.Database;
  try {
    // No busy wait: a held lock is an answer, not something to wait for.
    db = new Database(file, { timeout: 0 });
  } catch (error) {
    throw unusable(file, error);
  }
  try {
    db.exec(SCHEMA);
    acquire(db, dataDir, file);
    const previous = db.prepare(READ_OWNER).get() as LockOwner | undefined;
    if (previous !== undefined) {
      options.logger?.warn('data directory lock: the previous gateway did not release it (it crashed or was killed); taking it over', {
        lockFile: file,
        previousPid: previous.pid,
        previousHost: previous.hostname,
        previousStartedAt: new Date(previous.startedAt).toISOString(),
      });
    }
    db.prepare('DELETE FROM owner').run();
    db.prepare('INSERT INTO owner (pid, hostname, started_at) VALUES (?, ?, ?)').run(process.pid, hostname(), Date.now());
    // Commit the owner row so others can read it, then hold the lock again. Another process
    // slipping in between is refused by us or refuses us — never both hold it.
    db.exec('COMMIT');
    acquire(db, dataDir, file);
  } catch (error) {
    db.close();
    if (error instanceof RecorderError) throw error;
    throw unusable(file, error);
  }
  return {
    file,
    release() {
      if (!db.open) return;
      try {
        db.exec('ROLLBACK');
        db.prepare('DELETE FROM owner').run();
      } catch {
        // The lock goes with the connection anyway; a leftover row only means a warning at the next start.
      } finally {
        db.close();
      }
    },
  };
}

/** Opens the write transaction that is the lock. */
function acquire(db: Database.Database, dataDir: string, file: string): void {
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_BUSY') throw error;
    throw heldBy(db, dataDir, file);
  }
}

function heldBy(db: Database.Database, dataDir: string, file: string): RecorderError {
  let owner: LockOwner | undefined;
  try {
    owner = db.prepare(READ_OWNER).get() as LockOwner | undefined;
  } catch {
    owner = undefined;
  }
  const who =
    owner === undefined
      ? 'another process (it has not recorded its pid yet)'
      : `process ${owner.pid} on ${owner.hostname === hostname() ? 'this host' : `host ${owner.hostname}`}, running since ${new Date(owner.startedAt).toISOString()}`;
  return new RecorderError(
    `another Portcullis gateway is using the data directory ${dataDir}: ${who} holds its lock (${file}). ` +
      'Only one gateway may use a data directory: stop that one first, or give this one its own data_dir.',
  );
}

function unusable(file: string, error: unknown): RecorderError {
  const message = error instanceof Error ? error.message : String(error);
  return new RecorderError(
    `cannot lock the data directory with ${file}: ${message}. It holds no recordings: if no gateway is running, delete it and start again.`,
    { cause: error },
  );
}
