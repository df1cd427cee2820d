/**
 * `replayJournal` against a real SQLite store: what the journal holds beyond the database's
 * journal position is applied and the segments removed; an unfinished frame at the very end
 * is dropped with a warning; any other damage refuses the start and leaves the journal as it is.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../../src/recording/journal-frame.js';
import { listSegments, replayJournal, segmentFile, type Replay } from '../../../src/recording/journal-segments.js';
import { SqliteStore } from '../../../src/recording/sqlite-store.js';
import type { StoreWrite } from '../../../src/recording/journal-protocol.js';
import type { SessionRow } from '../../../src/recording/store.js';
import { caught, captureLogs, EVENT_T0, eventRow, query, removeTempDirs, tempDataDir } from './support.js';

afterAll(removeTempDirs);

const T0 = EVENT_T0;
const event = eventRow;

function started(sessionId: string): StoreWrite {
  const session: SessionRow = {
    id: sessionId,
    protocol: 'postgres',
    connection: 'demo',
    subject: 'agent-1',
    startedAt: T0 + 1000,
    endedAt: null,
    endedBy: null,
    lastSeq: null,
  };
  return { op: 'insertSession', session, first: event(sessionId, 1, 'session-start', { protocol: 'postgres', tls: true }) };
}

function operation(sessionId: string, seq: number, text: string): StoreWrite {
  return { op: 'appendEvent', event: event(sessionId, seq, 'operation', { via: 'simple-query', text, effect: 'allow' }) };
}

function ended(sessionId: string, seq: number): StoreWrite[] {
  return [
    { op: 'appendEvent', event: event(sessionId, seq, 'session-end', { endedBy: 'client', reason: 'client disconnected' }) },
    { op: 'markEnded', sessionId, endedAt: T0 + seq * 1000, endedBy: 'client', lastSeq: seq },
  ];
}

/** A flipped bit inside the frame's payload (a correct length, a checksum that no longer matches). */
function flipped(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  const at = FRAME_HEADER_BYTES + Math.floor((frame.length - FRAME_HEADER_BYTES) / 2);
  copy[at] = (copy[at] as number) ^ 0x04;
  return copy;
}

interface Fixture {
  dir: string;
  journal: string;
  store: SqliteStore;
}

/** A store in a new data directory, with an (empty) journal directory. */
function fixture(): Fixture {
  const dir = tempDataDir();
  const store = SqliteStore.open(dir);
  const journal = join(dir, 'journal');
  mkdirSync(journal);
  return { dir, journal, store };
}

/** Runs `fn` on a fresh fixture, closing its store afterwards. */
function withFixture(fn: (fixture: Fixture) => void): void {
  const opened = fixture();
  try {
    fn(opened);
  } finally {
    opened.store.close();
  }
}

function writeSegment(journal: string, segment: number, ...parts: Buffer[]): Buffer {
  const bytes = Buffer.concat(parts);
  writeFileSync(segmentFile(journal, segment), bytes);
  return bytes;
}

function sessionIds(store: SqliteStore): string[] {
  return [...store.sessions()].map((s) => s.id);
}

function seqs(store: SqliteStore, sessionId: string): number[] {
  return [...store.sessionEvents(sessionId)].map((e) => e.seq);
}

function warnings(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((line) => line['level'] === 'warn');
}

describe('replayJournal', () => {
  it('applies every batch of every segment from position (0,0), moves the position to the end, and removes the segments', () => {
    withFixture(({ dir, journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1'), operation('s-a', 3, 'SELECT 2')]);
      const f3 = encodeFrame([started('s-b'), ...ended('s-a', 4)]);
      const f4 = encodeFrame([operation('s-b', 2, "SELECT 'naïve ☃'")]);
      writeSegment(journal, 1, f1, f2);
      const last = writeSegment(journal, 2, f3, f4);
      const logs = captureLogs();

      const replay: Replay = replayJournal(store, journal, logs.logger);

      expect(replay).toEqual({ frames: 4, nextSegment: 3 });
      expect(sessionIds(store)).toEqual(['s-a', 's-b']);
      expect(seqs(store, 's-a')).toEqual([1, 2, 3, 4]);
      expect(seqs(store, 's-b')).toEqual([1, 2]);
      expect(store.session('s-a')).toMatchObject({ endedAt: T0 + 4000, endedBy: 'client', lastSeq: 4 });
      expect(store.session('s-b')?.endedAt).toBeNull();
      expect(query<{ payload: string }>(dir, `SELECT payload FROM events WHERE session_id = 's-b' AND seq = 2`)[0]?.payload).toBe(
        JSON.stringify({ via: 'simple-query', text: "SELECT 'naïve ☃'", effect: 'allow' }),
      );
      expect(store.journalPosition()).toEqual({ segment: 2, offset: last.length });
      expect(listSegments(journal)).toEqual([]);
      expect(existsSync(segmentFile(journal, 1))).toBe(false);
      expect(existsSync(segmentFile(journal, 2))).toBe(false);
      expect(warnings(logs.lines)).toEqual([]);

      // A second start finds nothing left to do.
      expect(replayJournal(store, journal, logs.logger)).toEqual({ frames: 0, nextSegment: 3 });
      expect(seqs(store, 's-a')).toEqual([1, 2, 3, 4]);
    });
  });

  it('applies only the frames after a position in the middle of a segment, then the next segments whole', () => {
    withFixture(({ journal, store }) => {
      const first = [started('s-a')];
      const f1 = encodeFrame(first);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      const f4 = encodeFrame([operation('s-a', 4, 'SELECT 3')]);
      writeSegment(journal, 1, f1, f2, f3);
      // The next segment is read from its start, not from the position's offset.
      const two = writeSegment(journal, 2, f4);
      // The database already has the first frame, and says so.
      store.transaction(() => {
        for (const write of first) if (write.op === 'insertSession') store.insertSession(write.session, write.first);
        store.setJournalPosition({ segment: 1, offset: f1.length });
      });

      // Re-applying the first frame would fail on the duplicate session (and event).
      expect(replayJournal(store, journal, captureLogs().logger)).toEqual({ frames: 3, nextSegment: 3 });
      expect(sessionIds(store)).toEqual(['s-a']);
      expect(seqs(store, 's-a')).toEqual([1, 2, 3, 4]);
      expect(store.journalPosition()).toEqual({ segment: 2, offset: two.length });
      expect(listSegments(journal)).toEqual([]);
    });
  });

  it('skips segments before the position segment (already applied), and removes them too', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      writeSegment(journal, 4, f1);
      const five = writeSegment(journal, 5, f2, f3);
      store.transaction(() => {
        const write = started('s-a');
        if (write.op === 'insertSession') store.insertSession(write.session, write.first);
        store.appendEvent(event('s-a', 2, 'operation', { via: 'simple-query', text: 'SELECT 1', effect: 'allow' }));
        store.setJournalPosition({ segment: 5, offset: f2.length });
      });

      expect(replayJournal(store, journal, captureLogs().logger)).toEqual({ frames: 1, nextSegment: 6 });
      expect(seqs(store, 's-a')).toEqual([1, 2, 3]);
      expect(store.journalPosition()).toEqual({ segment: 5, offset: five.length });
      expect(listSegments(journal)).toEqual([]);
    });
  });

  it('numbers the next segment after the position when every segment left is older than it', () => {
    withFixture(({ journal, store }) => {
      // A segment before the position segment: all of it is already in the database.
      writeSegment(journal, 2, encodeFrame([started('s-a')]));
      store.transaction(() => store.setJournalPosition({ segment: 5, offset: 0 }));
      expect(replayJournal(store, journal, captureLogs().logger)).toEqual({ frames: 0, nextSegment: 6 });
      expect(sessionIds(store)).toEqual([]);
      expect(store.journalPosition()).toEqual({ segment: 5, offset: 0 });
      expect(listSegments(journal)).toEqual([]);
    });
  });

  it('drops a partial frame at the end of the last segment with a warning, applying everything before it', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      const f4 = encodeFrame([operation('s-a', 4, 'SELECT 3 -- never acknowledged')]);
      const cut = Math.floor(f4.length / 2);
      writeSegment(journal, 1, f1, f2);
      writeSegment(journal, 2, f3, f4.subarray(0, cut));
      const logs = captureLogs();

      const replay = replayJournal(store, journal, logs.logger);

      expect(replay).toEqual({ frames: 3, nextSegment: 3 });
      expect(seqs(store, 's-a')).toEqual([1, 2, 3]);
      expect(store.journalPosition()).toEqual({ segment: 2, offset: f3.length });
      const warned = warnings(logs.lines);
      expect(warned).toHaveLength(1);
      expect(warned[0]?.['msg']).toContain('dropped the unfinished batch');
      expect(warned[0]).toMatchObject({ file: segmentFile(journal, 2), offset: f3.length, bytes: cut });
      expect(listSegments(journal)).toEqual([]);
    });
  });

  it('drops a partial frame header (fewer than 8 bytes) at the end of the only segment', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      writeSegment(journal, 0, f1, f2.subarray(0, 5));
      const logs = captureLogs();
      expect(replayJournal(store, journal, logs.logger)).toEqual({ frames: 1, nextSegment: 1 });
      expect(seqs(store, 's-a')).toEqual([1]);
      expect(store.journalPosition()).toEqual({ segment: 0, offset: f1.length });
      expect(warnings(logs.lines)).toHaveLength(1);
      expect(warnings(logs.lines)[0]).toMatchObject({ file: segmentFile(journal, 0), offset: f1.length, bytes: 5 });
    });
  });

  it.each([3, 8, 100, 4096])('treats %i zero bytes after the last frame of the last segment as unfinished, dropped with a warning', (zeros) => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      writeSegment(journal, 1, f1, f2, Buffer.alloc(zeros));
      const logs = captureLogs();

      expect(replayJournal(store, journal, logs.logger)).toEqual({ frames: 2, nextSegment: 2 });
      expect(seqs(store, 's-a')).toEqual([1, 2]);
      expect(store.journalPosition()).toEqual({ segment: 1, offset: f1.length + f2.length });
      const warned = warnings(logs.lines);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ file: segmentFile(journal, 1), offset: f1.length + f2.length, bytes: zeros });
      expect(listSegments(journal)).toEqual([]);
    });
  });

  it('refuses damage in a segment that is not the last, naming the file and applying nothing of it; the journal is left in place', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      const one = writeSegment(journal, 1, f1, flipped(f2));
      const two = writeSegment(journal, 2, f3);
      const logs = captureLogs();

      const error = caught(() => replayJournal(store, journal, logs.logger));

      expect(error.message).toContain(segmentFile(journal, 1));
      expect(error.message).toContain('damaged');
      expect(error.message).toContain(`at byte ${f1.length}`);
      expect(error.message).toContain('checksum');
      expect(error.message).toContain('move the journal directory aside');
      // Not even the whole frame before the damage in that segment.
      expect(sessionIds(store)).toEqual([]);
      expect(store.journalPosition()).toEqual({ segment: 0, offset: 0 });
      expect(listSegments(journal)).toEqual([1, 2]);
      expect(readFileSync(segmentFile(journal, 1)).equals(one)).toBe(true);
      expect(readFileSync(segmentFile(journal, 2)).equals(two)).toBe(true);
      expect(warnings(logs.lines)).toEqual([]);
    });
  });

  it('refuses damage in a middle segment after applying the segments before it (their position recorded)', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      const one = writeSegment(journal, 1, f1);
      writeSegment(journal, 2, flipped(f2));
      writeSegment(journal, 3, f3);

      const error = caught(() => replayJournal(store, journal, captureLogs().logger));

      expect(error.message).toContain(segmentFile(journal, 2));
      expect(error.message).not.toContain(segmentFile(journal, 1));
      expect(seqs(store, 's-a')).toEqual([1]);
      expect(store.journalPosition()).toEqual({ segment: 1, offset: one.length });
      expect(listSegments(journal)).toEqual([1, 2, 3]);

      // The next start, with the damage still there, applies nothing twice and still refuses.
      expect(caught(() => replayJournal(store, journal, captureLogs().logger)).message).toContain(segmentFile(journal, 2));
      expect(seqs(store, 's-a')).toEqual([1]);
    });
  });

  it('refuses a frame cut short in a segment that is not the last (only the last may end unfinished)', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      writeSegment(journal, 1, f1, f2.subarray(0, f2.length - 1));
      writeSegment(journal, 2, f3);

      const error = caught(() => replayJournal(store, journal, captureLogs().logger));

      expect(error.message).toContain(segmentFile(journal, 1));
      expect(error.message).toContain('damaged');
      expect(error.message).toContain('move the journal directory aside');
      expect(sessionIds(store)).toEqual([]);
      expect(listSegments(journal)).toEqual([1, 2]);
    });
  });

  it('refuses zero bytes at the end of a segment that is not the last', () => {
    withFixture(({ journal, store }) => {
      writeSegment(journal, 1, encodeFrame([started('s-a')]), Buffer.alloc(100));
      writeSegment(journal, 2, encodeFrame([operation('s-a', 2, 'SELECT 1')]));
      expect(caught(() => replayJournal(store, journal, captureLogs().logger)).message).toContain(segmentFile(journal, 1));
      expect(sessionIds(store)).toEqual([]);
      expect(listSegments(journal)).toEqual([1, 2]);
    });
  });

  it('drops the last frame of the last segment when its payload is damaged (what a power loss left of an unsynced write)', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      writeSegment(journal, 1, f1, flipped(f2));
      const logs = captureLogs();

      const replay = replayJournal(store, journal, logs.logger);

      expect(replay.frames).toBe(1);
      expect(sessionIds(store)).toEqual(['s-a']);
      expect(store.journalPosition()).toEqual({ segment: 1, offset: f1.length });
      expect(warnings(logs.lines)).toHaveLength(1);
    });
  });

  it('drops a last frame whose header landed but whose payload is zeros (the file grew before its data reached the disk)', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const torn = Buffer.from(f2);
      torn.fill(0, FRAME_HEADER_BYTES + 5);
      writeSegment(journal, 1, f1, torn);
      const logs = captureLogs();

      expect(replayJournal(store, journal, logs.logger).frames).toBe(1);
      expect(store.journalPosition()).toEqual({ segment: 1, offset: f1.length });
      expect(warnings(logs.lines)).toHaveLength(1);
    });
  });

  it('refuses a last frame whose checksums match but which holds no recording batch (forged, not torn)', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      // A payload the store does not take, with checksums that match.
      const payload = Buffer.from('[{"op":"deleteSession","sessionId":7}]');
      const header = Buffer.alloc(FRAME_HEADER_BYTES);
      header.writeUInt32LE(payload.length, 0);
      header.writeUInt32LE(crc32(payload), 4);
      header.writeUInt32LE(crc32(header.subarray(0, 8)), 8);
      writeSegment(journal, 1, f1, header, payload);
      const error = caught(() => replayJournal(store, journal, captureLogs().logger));
      expect(error.message).toContain('does not hold a recording batch');
      expect(sessionIds(store)).toEqual([]);
    });
  });

  it('refuses damage in the last segment that has whole frames after it', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const f2 = encodeFrame([operation('s-a', 2, 'SELECT 1')]);
      const f3 = encodeFrame([operation('s-a', 3, 'SELECT 2')]);
      writeSegment(journal, 1, flipped(f1), f2, f3);
      const error = caught(() => replayJournal(store, journal, captureLogs().logger));
      expect(error.message).toContain(segmentFile(journal, 1));
      expect(error.message).toContain('at byte 0');
      expect(sessionIds(store)).toEqual([]);
      expect(listSegments(journal)).toEqual([1]);
    });
  });

  it('refuses a position beyond the end of its segment, naming the file', () => {
    withFixture(({ journal, store }) => {
      const f1 = encodeFrame([started('s-a')]);
      const bytes = writeSegment(journal, 3, f1);
      store.transaction(() => store.setJournalPosition({ segment: 3, offset: bytes.length + 10 }));

      const error = caught(() => replayJournal(store, journal, captureLogs().logger));

      expect(error.message).toContain(segmentFile(journal, 3));
      expect(error.message).toContain(`applied ${bytes.length + 10} bytes of it, but it holds ${bytes.length}`);
      expect(error.message).toContain('move the journal directory aside');
      expect(sessionIds(store)).toEqual([]);
      expect(store.journalPosition()).toEqual({ segment: 3, offset: bytes.length + 10 });
      expect(listSegments(journal)).toEqual([3]);
    });
  });

  it('accepts a position exactly at the end of its segment (nothing to apply)', () => {
    withFixture(({ journal, store }) => {
      const bytes = writeSegment(journal, 3, encodeFrame([started('s-a')]));
      store.transaction(() => store.setJournalPosition({ segment: 3, offset: bytes.length }));
      expect(replayJournal(store, journal, captureLogs().logger)).toEqual({ frames: 0, nextSegment: 4 });
      expect(sessionIds(store)).toEqual([]);
      expect(store.journalPosition()).toEqual({ segment: 3, offset: bytes.length });
      expect(listSegments(journal)).toEqual([]);
    });
  });

  it('creates a missing journal directory (0700) and returns no frames, the next segment after the position', () => {
    const dir = tempDataDir();
    const store = SqliteStore.open(dir);
    try {
      const journal = join(dir, 'journal');
      expect(existsSync(journal)).toBe(false);

      expect(replayJournal(store, journal, captureLogs().logger)).toEqual({ frames: 0, nextSegment: 1 });
      expect(statSync(journal).isDirectory()).toBe(true);
      expect(statSync(journal).mode & 0o777).toBe(0o700);
      expect(store.journalPosition()).toEqual({ segment: 0, offset: 0 });

      const other = join(dir, 'journal-2');
      store.transaction(() => store.setJournalPosition({ segment: 7, offset: 123 }));
      expect(replayJournal(store, other, captureLogs().logger)).toEqual({ frames: 0, nextSegment: 8 });
      expect(existsSync(other)).toBe(true);
    } finally {
      store.close();
    }
  });

  it('ignores files in the journal directory that are not segments', () => {
    withFixture(({ journal, store }) => {
      writeFileSync(join(journal, 'notes.txt'), 'not a segment');
      writeFileSync(join(journal, '1.log'), 'not a segment either');
      writeSegment(journal, 1, encodeFrame([started('s-a')]));
      expect(replayJournal(store, journal, captureLogs().logger)).toEqual({ frames: 1, nextSegment: 2 });
      expect(sessionIds(store)).toEqual(['s-a']);
      expect(existsSync(join(journal, 'notes.txt'))).toBe(true);
      expect(existsSync(join(journal, '1.log'))).toBe(true);
    });
  });
});
