/**
 * The recording journal on disk: `<dataDir>/journal/<database id>/<16-digit number>.log`
 * segment files of frames (./journal-frame.ts), numbered in the order they were written. The
 * database's journal position says how far they have been applied; `replayJournal` applies
 * the rest — at start, after a crash left recordings in the journal that the database did
 * not have yet. The directory is named by the database's own id, so a journal is only ever
 * applied to the database it was written for (not to a new one after the old was moved aside).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeFrames } from './journal-frame.js';
import { RecorderError } from './recorder.js';
import type { JournalPosition, SqliteStore } from './sqlite-store.js';
import { applyWrite, type StoreWrite } from './journal-protocol.js';
import type { Logger } from '../log.js';

export const JOURNAL_DIR = 'journal';
const SEGMENT_NAME = /^(\d{16})\.log$/;

/** The journal directory of the database whose journal id is `journalId`. */
export function journalDir(dataDir: string, journalId: string): string {
  return join(dataDir, JOURNAL_DIR, journalId);
}

export function segmentFile(dir: string, segment: number): string {
  return join(dir, `${String(segment).padStart(16, '0')}.log`);
}

/** Writes all of `bytes` at `position` of file `fd` (a write may take fewer bytes than asked). */
export function writeAt(fd: number, bytes: Buffer, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** The names in directory `dir`; none when it does not exist (or is not a directory). */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new RecorderError(`cannot read the recording journal ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

/** The segment numbers in `dir`, ascending (none when it does not exist). */
export function listSegments(dir: string): number[] {
  return entries(dir)
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Bytes of the journal the database has not applied yet, from the segments' sizes (for
 * readers of the database alone: while a gateway runs this is what its writer thread has
 * not taken yet; after a crash, what its next start applies).
 */
export function unappliedJournalBytes(dir: string, position: JournalPosition): number {
  let bytes = 0;
  for (const segment of listSegments(dir)) {
    if (segment < position.segment) continue;
    let size: number;
    try {
      size = statSync(segmentFile(dir, segment)).size;
    } catch {
      continue; // removed meanwhile: applied
    }
    bytes += Math.max(0, size - (segment === position.segment ? position.offset : 0));
  }
  return bytes;
}

/** Applies journal batches and moves the journal position past them, in one transaction. */
export function applyFrames(store: SqliteStore, batches: readonly (readonly StoreWrite[])[], to: JournalPosition): void {
  store.transaction(() => {
    for (const batch of batches) for (const write of batch) applyWrite(store, write);
    store.setJournalPosition(to);
  });
}

/** What `replayJournal` did. */
export interface Replay {
  /** Frames applied (batches the previous process had made durable in the journal only). */
  readonly frames: number;
  /** The number the next segment must have: beyond everything the journal position may name. */
  readonly nextSegment: number;
}

/**
 * Applies whatever the journal holds beyond the database's journal position, then removes
 * the segments (everything in them is in the database). Only the last segment may end in an
 * unfinished frame — a batch the crash cut short, never acknowledged, so nothing of it was
 * forwarded (or, with durability `process`, one a power loss took) — and that is dropped;
 * damage anywhere else refuses the start (the journal is evidence: it is left as it is).
 */
export function replayJournal(store: SqliteStore, dir: string, logger: Logger): Replay {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RecorderError(`cannot create the recording journal directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const position = store.journalPosition();
  const segments = listSegments(dir);
  const last = segments.at(-1);
  let frames = 0;
  for (const segment of segments) {
    if (segment < position.segment) continue;
    const file = segmentFile(dir, segment);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new RecorderError(`cannot read the recording journal ${file}: ${(error as Error).message}`, { cause: error });
    }
    const start = segment === position.segment ? position.offset : 0;
    if (start > bytes.length) {
      throw damaged(file, `the database has applied ${start} bytes of it, but it holds ${bytes.length}`);
    }
    const decoded = decodeFrames(bytes, start);
    if (decoded.stop !== undefined) {
      // Cut short, or the file's last frame with its data not all there (zeros where a power
      // loss left the file longer than what reached the disk), or nothing but such zeros.
      const { kind, frameEnd } = decoded.stop;
      const unfinished = kind === 'incomplete' || frameEnd === bytes.length || bytes.subarray(decoded.end).every((byte) => byte === 0);
      if (segment !== last || !unfinished) throw damaged(file, `at byte ${decoded.stop.offset}: ${decoded.stop.detail}`);
      logger.warn('recording journal: dropped the unfinished batch at its end (cut short by a crash; never acknowledged, so nothing of it was forwarded)', {
        file,
        offset: decoded.end,
        bytes: bytes.length - decoded.end,
      });
    }
    if (decoded.batches.length > 0) applyFrames(store, decoded.batches, { segment, offset: decoded.end });
    frames += decoded.batches.length;
  }
  for (const segment of segments) {
    const file = segmentFile(dir, segment);
    try {
      unlinkSync(file);
    } catch (error) {
      throw new RecorderError(`cannot remove the applied recording journal segment ${file}: ${(error as Error).message}`, { cause: error });
    }
  }
  return { frames, nextSegment: Math.max(position.segment, last ?? 0) + 1 };
}

/**
 * At start, whichever way the gateway now records: whatever the journal holds beyond the
 * database is applied first (a recorder committing inline after a crash in journal mode
 * must not chain onto a database that lacks it). Returns the next segment's number.
 */
export function applyJournalTail(store: SqliteStore, dataDir: string, logger: Logger): number {
  const journalId = store.journalId();
  const foreign = foreignJournals(join(dataDir, JOURNAL_DIR), journalId);
  if (foreign.length > 0) {
    const root = join(dataDir, JOURNAL_DIR);
    throw new RecorderError(
      `the recording journal ${root} holds recordings of another database (${foreign.map((id) => join(root, id)).join(', ')}; ` +
        `this database's journal is ${join(root, journalId)}): they were never applied to it, and must not be. ` +
        'Move that database back into place, or move those directories out of the data directory together with it.',
    );
  }
  const replay = replayJournal(store, journalDir(dataDir, journalId), logger);
  if (replay.frames > 0) {
    logger.warn('recording journal: applied the recordings the database lacked after the previous process stopped', { batches: replay.frames });
  }
  return replay.nextSegment;
}

/** The journal directories under `root` other than `journalId`'s that still hold segments. */
function foreignJournals(root: string, journalId: string): string[] {
  return entries(root).filter((name) => name !== journalId && listSegments(join(root, name)).length > 0);
}

function damaged(file: string, detail: string): RecorderError {
  return new RecorderError(
    `the recording journal ${file} is damaged (${detail}): it holds recordings the database may not have. ` +
      `Keep it as evidence; to start without it, move the journal directory aside: ${dirname(file)}, out of the data directory.`,
  );
}
