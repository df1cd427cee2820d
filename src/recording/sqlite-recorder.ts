/**
 * The gateway's recorder: the chained recorder over the embedded SQLite store and the signing
 * key file, both in the data directory. Call `openRecorder` once at start, before accepting
 * connections (it ends and seals the sessions a crashed predecessor left open), and `close()`
 * at shutdown after the front doors have ended their sessions.
 */
import { ChainRecorder, type ChainRecorderOptions } from './chain-recorder.js';
import { lockDataDir } from './data-dir-lock.js';
import { FileKeyStore } from './key-store.js';
import { SqliteStore, type Durability } from './sqlite-store.js';
import type { RecordingStore } from './store.js';
import { applyJournalTail } from './journal-segments.js';
import { JournalStore } from './journal-store.js';
import { silentLogger } from '../log.js';

export interface RecorderOptions extends Omit<ChainRecorderOptions, 'onClose'> {
  /** `config.recording.durability`; default `process`. */
  readonly durability?: Durability;
  /**
   * How long a write waits on a lock held by another connection: default 2000 ms, but 250 ms
   * with group commit, where every session of the gateway waits with it (calls are
   * synchronous). Only a fault holds that lock — the data-directory lock keeps other gateways
   * out, and readers never block the writer in WAL mode — so failing fast (refusing the
   * operations of one turn, which the agent may retry) beats freezing every session.
   */
  readonly busyTimeoutMs?: number;
  /**
   * `thread`: each group-commit batch is appended to the recording journal and a writer thread
   * applies the journal to the database in bulk (./journal-store.ts) — the gateway's default;
   * needs `groupCommit`. `inline` (default here): committed to the database on the calling thread.
   */
  readonly writer?: RecordingWriter;
  /** With the journal: batches are refused while more than this many bytes wait for the database (default 64 MiB). */
  readonly maxJournalBacklogBytes?: number;
}

export type RecordingWriter = 'thread' | 'inline';

export const GROUP_COMMIT_BUSY_TIMEOUT_MS = 250;

/**
 * Takes the data directory's gateway lock (`<dataDir>/gateway.lock`: a second gateway on the
 * same directory is refused, naming the first one's pid), then opens `<dataDir>/portcullis.db`
 * (created 0600 in a 0700 directory, migrated), applies whatever `<dataDir>/journal/` holds
 * beyond it (either writer), and opens `<dataDir>/audit-signing-key.pem` (generated 0600 if
 * missing). `close()` releases the lock. Throws RecorderError.
 */
export function openRecorder(dataDir: string, options: RecorderOptions = {}): ChainRecorder {
  const lock = lockDataDir(dataDir, options.logger === undefined ? {} : { logger: options.logger });
  try {
    const busyTimeoutMs = options.busyTimeoutMs ?? (options.groupCommit === true ? GROUP_COMMIT_BUSY_TIMEOUT_MS : undefined);
    const sqlite = SqliteStore.open(dataDir, {
      ...(options.durability === undefined ? {} : { durability: options.durability }),
      ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
    });
    let store: RecordingStore = sqlite;
    if (options.writer !== 'thread') {
      try {
        applyJournalTail(sqlite, dataDir, options.logger ?? silentLogger);
      } catch (error) {
        sqlite.close();
        throw error;
      }
    } else {
      if (options.groupCommit !== true) {
        sqlite.close();
        throw new RangeError('the recording journal takes group-commit batches: it needs groupCommit');
      }
      try {
        store = new JournalStore(sqlite, {
          dataDir,
          ...(options.durability === undefined ? {} : { durability: options.durability }),
          ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
          ...(options.maxJournalBacklogBytes === undefined ? {} : { maxBacklogBytes: options.maxJournalBacklogBytes }),
        });
      } catch (error) {
        sqlite.close();
        throw error;
      }
    }
    try {
      return new ChainRecorder(store, FileKeyStore.openOrCreate(dataDir), { ...options, onClose: () => lock.release() });
    } catch (error) {
      store.close();
      throw error;
    }
  } catch (error) {
    lock.release();
    throw error;
  }
}
