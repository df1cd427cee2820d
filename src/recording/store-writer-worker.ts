/**
 * The recording writer thread (see ./threaded-store.ts): commits the group-commit batches the
 * main thread hands it, each as one SQLite transaction on its own connection, and answers
 * each with success or the store's error. Its own connection, so the main thread's event loop
 * never waits on SQLite's commit (lock, WAL write, checkpoint) while sessions are served.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RecorderError } from './recorder.js';
import { SqliteStore } from './sqlite-store.js';
import type { WriterAck, WriterData, WriterRequest } from './store-writer-protocol.js';
import { applyWrite, CLOSED_ID } from './store-writer-protocol.js';

/** How often the WAL is checkpointed into the database file. */
const CHECKPOINT_EVERY_MS = 250;

const data = workerData as WriterData;
const counter = new Int32Array(data.signal);
function reply(ack: WriterAck): void {
  data.port.postMessage(ack);
  // Wakes a main thread waiting synchronously for this answer (shutdown, retention).
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

// The main thread waits for this first answer (id 0) before it serves anyone.
let store: SqliteStore | undefined;
try {
  store = SqliteStore.open(data.dataDir, { durability: data.durability, busyTimeoutMs: data.busyTimeoutMs });
  store.stopAutoCheckpoint();
  reply({ id: 0 });
} catch (error) {
  reply({ id: 0, error: error instanceof Error ? error.message : String(error) });
}

// Checkpoints are this thread's job, for both connections: no commit, here or on the main
// thread, pays for one. A failed one (disk full, say) is tried again next time.
setInterval(() => {
  try {
    store?.checkpoint();
  } catch {
    // The WAL keeps the data meanwhile; commits report their own failures.
  }
}, CHECKPOINT_EVERY_MS).unref();

data.port.on('message', (request: WriterRequest) => {
  if (request.type === 'close') {
    store?.close();
    store = undefined;
    reply({ id: CLOSED_ID });
    data.port.close();
    parentPort?.close();
    return;
  }
  if (store === undefined) {
    reply({ id: request.id, error: 'the recording writer thread has no database open' });
    return;
  }
  const current = store;
  try {
    current.begin();
    for (const write of request.writes) applyWrite(current, write);
    current.commit();
    reply({ id: request.id });
  } catch (error) {
    current.rollback();
    reply({ id: request.id, error: error instanceof RecorderError || error instanceof Error ? error.message : String(error) });
  }
});
