/**
 * The recording journal's writer thread (see ./journal-store.ts): applies the frames the main
 * thread appended to the journal to the database, in bulk — everything that arrived since its
 * last round in one transaction, together with the journal position — and removes segments
 * once applied. Checkpoints the WAL for both connections. It runs a loop of its own (its event
 * loop is never needed): each round applies, then sleeps until the interval passes or the main
 * thread wakes it (a reader waiting for the database to catch up, or shutdown).
 *
 * A round that fails (the database locked or the disk full) leaves the frames in the journal
 * and is tried again next round: the recordings are durable already, only the database is
 * behind. The main thread hears why, and refuses operations once too much waits.
 */
import { closeSync, openSync, readSync, unlinkSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { decodeFrames, FRAME_HEADER_BYTES, type DecodedFrames } from './journal-frame.js';
import { applyFrames, segmentFile } from './journal-segments.js';
import { SqliteStore } from './sqlite-store.js';
import {
  APPLIED,
  CLOSE,
  PROGRESS,
  sharedViews,
  STATE,
  WAKE,
  WRITTEN,
  WriterState,
  type WriterData,
  type WriterReport,
} from './journal-protocol.js';

/** How often the WAL is checkpointed into the database file. */
const CHECKPOINT_EVERY_MS = 250;
/** At most this much of the journal is read and applied per transaction (more goes in the next one, at once). */
const MAX_READ_BYTES = 8 * 1024 * 1024;

const data = workerData as WriterData;
const { totals, cells } = sharedViews(data.shared);
const dir = data.journal;

function signal(state?: number): void {
  if (state !== undefined) Atomics.store(cells, STATE, state);
  Atomics.add(cells, PROGRESS, 1);
  Atomics.notify(cells, PROGRESS);
}

function report(message: WriterReport): void {
  data.port.postMessage(message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let segment = data.firstSegment;
let offset = 0;
let applied = 0n;
let fd: number | undefined;
let lastError: string | undefined;

/** Up to `length` bytes of the current segment from `offset` (fewer at its end). */
function read(length: number): Buffer {
  fd ??= openSync(segmentFile(dir, segment), 'r');
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, bytes, filled, length - filled, offset + filled);
    if (n === 0) break;
    filled += n;
  }
  return bytes.subarray(0, filled);
}

/** The current segment is used up: the main thread has moved on to the next one. */
function nextSegment(): void {
  if (fd !== undefined) closeSync(fd);
  fd = undefined;
  try {
    // Everything in it is in the database (the position says so): it is no longer needed.
    unlinkSync(segmentFile(dir, segment));
  } catch {
    // Left behind, it is removed at the next start (the position is past it).
  }
  segment += 1;
  offset = 0;
}

function failed(message: string): void {
  if (message !== lastError) report({ kind: 'error', message });
  lastError = message;
  // Every failed round is signalled: a reader waiting for the database stops at the first one after it asked.
  signal(WriterState.failing);
}

/**
 * The whole frames at the current position, from a read of at most `want` bytes — or of all
 * of the first frame, when it is larger than that. Undefined at the current segment's end.
 */
function readFrames(want: number): DecodedFrames | undefined {
  const bytes = read(want);
  if (bytes.length === 0) return undefined;
  const decoded = decodeFrames(bytes);
  const cutByRead = decoded.batches.length === 0 && decoded.stop?.kind === 'incomplete' && bytes.length === want;
  return cutByRead && bytes.length >= FRAME_HEADER_BYTES ? decodeFrames(read(FRAME_HEADER_BYTES + bytes.readUInt32LE(0))) : decoded;
}

/** Applies every frame written so far; stops at the first refusal (the database, or the journal), reported. */
function applyAll(store: SqliteStore): void {
  const target = Atomics.load(totals, WRITTEN);
  while (applied < target) {
    let decoded: DecodedFrames | undefined;
    try {
      decoded = readFrames(Math.min(Number(target - applied), MAX_READ_BYTES));
    } catch (error) {
      return failed(`cannot read the recording journal segment ${segmentFile(dir, segment)}: ${messageOf(error)}`);
    }
    if (decoded === undefined) {
      // Bytes are still due, so they are in the next segment: this one is complete.
      nextSegment();
      continue;
    }
    if (decoded.batches.length === 0) {
      return failed(
        `the recording journal segment ${segmentFile(dir, segment)} is damaged at byte ${offset}` +
          `${decoded.stop === undefined ? '' : ` (${decoded.stop.detail})`}: the database cannot catch up; restart the gateway`,
      );
    }
    try {
      applyFrames(store, decoded.batches, { segment, offset: offset + decoded.end });
    } catch (error) {
      return failed(messageOf(error));
    }
    offset += decoded.end;
    applied += BigInt(decoded.end);
    Atomics.store(totals, APPLIED, applied);
    if (lastError !== undefined) {
      lastError = undefined;
      report({ kind: 'caught-up' });
      signal(WriterState.running);
    } else {
      signal();
    }
  }
}

function run(): void {
  let store: SqliteStore;
  try {
    store = SqliteStore.open(data.dataDir, { durability: data.durability, busyTimeoutMs: data.busyTimeoutMs });
    store.stopAutoCheckpoint();
  } catch (error) {
    report({ kind: 'error', message: messageOf(error) });
    signal(WriterState.cannotOpen);
    return;
  }
  signal(WriterState.running);
  let checkpointed = Date.now();
  for (;;) {
    const closing = Atomics.load(cells, CLOSE) === 1;
    const woken = Atomics.load(cells, WAKE);
    applyAll(store);
    if (Date.now() - checkpointed >= CHECKPOINT_EVERY_MS) {
      checkpointed = Date.now();
      try {
        store.checkpoint();
      } catch {
        // The WAL keeps the data meanwhile; a failed checkpoint (disk full, say) is tried again next time.
      }
    }
    if (closing) break;
    Atomics.wait(cells, WAKE, woken, data.intervalMs);
  }
  // What could not be applied stays in the journal: the next start applies it.
  if (fd !== undefined) closeSync(fd);
  store.close();
}

run();
if (Atomics.load(cells, STATE) !== WriterState.cannotOpen) signal(WriterState.closed);
data.port.close();
