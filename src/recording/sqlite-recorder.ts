/**
 * The gateway's recorder: the chained recorder over the embedded SQLite store and the signing
 * key file, both in the data directory. Call `openRecorder` once at start, before accepting
 * connections (it ends and seals the sessions a crashed predecessor left open), and `close()`
 * at shutdown after the front doors have ended their sessions.
 */
import { ChainRecorder, type ChainRecorderOptions } from './chain-recorder.js';
import { FileKeyStore } from './key-store.js';
import { SqliteStore, type Durability } from './sqlite-store.js';

export interface RecorderOptions extends ChainRecorderOptions {
  /** `config.recording.durability`; default `process`. */
  readonly durability?: Durability;
  /** How long a write waits on a lock held by another connection (default 2000 ms). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens `<dataDir>/portcullis.db` (created 0600 in a 0700 directory, migrated) and
 * `<dataDir>/audit-signing-key.pem` (generated 0600 if missing). Throws RecorderError.
 */
export function openRecorder(dataDir: string, options: RecorderOptions = {}): ChainRecorder {
  const store = SqliteStore.open(dataDir, {
    ...(options.durability === undefined ? {} : { durability: options.durability }),
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
  });
  try {
    return new ChainRecorder(store, FileKeyStore.openOrCreate(dataDir), options);
  } catch (error) {
    store.close();
    throw error;
  }
}
