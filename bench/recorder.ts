/**
 * `npm run bench:recorder` — what recording costs, in-process, no network, no gateway: the
 * real SqliteStore (schema, WAL, durability `process`, the recorder's checkpointing off the
 * commit) and the real journal codec (src/recording/journal-frame.ts, journal-segments.ts).
 *
 * "Recording store: group-commit cost" prices a SQLite commit per batch (the old path, and
 * `recording.writer: inline`). Each shape is a batch of `events` events spread over
 * `sessions` sessions (round robin): one statement of one session; a turn of pgbench -c 8
 * (one or two statements from each of 8 sessions); and the large batches a bulk ingester
 * would write (hundreds of events, few sessions each).
 *
 * "Recording journal" prices the gateway's default path (src/recording/journal-store.ts),
 * split where the work is split. The write-before-forward step on the main thread is now the
 * append: a pgbench -c 8 turn (16 events over 8 sessions, an operation and an outcome each)
 * encoded as one frame and written with one positional writeSync at the journal's end. The
 * SQLite work moved to the writer thread, which applies a round's frames (every 5 ms: ~45
 * such turns at ~9,000 TPS) in one transaction: decodeFrames + applyFrames, run here
 * in-process on a store of its own. Their sum per event is set beside the commit per turn,
 * so the old path (a commit per turn) and the new one (append per turn + bulk apply) compare.
 *
 * Reported per unit (commit, turn, apply transaction) and per event: wall time, and the
 * process's user and system CPU (process.cpuUsage, this thread only does the work). The
 * shapes and the journal run interleaved in rounds, so noise affects them alike.
 *
 * Env: BENCH_RECORDER_EVENTS (40000: events per shape per round), BENCH_RECORDER_ROUNDS (3).
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sessionGenesis } from '../src/recording/chain.js';
import { decodeFrames, encodeFrame } from '../src/recording/journal-frame.js';
import { applyFrames, writeAt } from '../src/recording/journal-segments.js';
import { SqliteStore } from '../src/recording/sqlite-store.js';
import type { EventRow, EventType } from '../src/recording/store.js';
import type { StoreWrite } from '../src/recording/journal-protocol.js';
import { intEnv } from './support/env.js';
import { commandOf, reportFigures, type Figure } from './support/report.js';
import { fmt, markdownTable, median } from './support/table.js';

interface Shape {
  readonly name: string;
  readonly events: number;
  readonly sessions: number;
}

/** The commit-per-turn shape the journal replaces (compared in the journal's table). */
const COMMIT_PER_TURN = 'pgbench -c 8, two per session';

const SHAPES: readonly Shape[] = [
  { name: 'one statement', events: 1, sessions: 1 },
  { name: 'pgbench -c 8 turn', events: 8, sessions: 8 },
  { name: COMMIT_PER_TURN, events: 16, sessions: 8 },
  { name: 'bulk: 512 events, 8 sessions', events: 512, sessions: 8 },
  { name: 'bulk: 512 events, 64 sessions', events: 512, sessions: 64 },
];

/** The journal's turn (as COMMIT_PER_TURN: an operation and an outcome from each of 8 sessions) and the writer's round. */
const JOURNAL = { turnEvents: 16, sessions: 8, turnsPerApply: 45 } as const;

interface Sample {
  readonly wallUs: number;
  readonly userUs: number;
  readonly systemUs: number;
  /** Commits, turns appended, or apply transactions. */
  readonly units: number;
  readonly events: number;
}

/** One round of the journal: its turns' appends (units: turns), then their bulk apply (units: transactions). */
interface JournalSample {
  readonly append: Sample;
  readonly apply: Sample;
}

const settings = {
  events: intEnv('BENCH_RECORDER_EVENTS', 40_000, 1_000),
  rounds: intEnv('BENCH_RECORDER_ROUNDS', 3, 1),
};

// A statement event as the PostgreSQL front door records it (pgbench -S, simple protocol).
const PAYLOAD = JSON.stringify({
  kind: 'sql',
  connection: 'bench',
  text: 'SELECT abalance FROM pgbench_accounts WHERE aid = 4711;',
  via: 'simple-query',
  decision: { effect: 'allow', rule: 'reads-ok', reason: 'allowed by rule "reads-ok"' },
});
// Its outcome, as the chain recorder writes it.
const OUTCOME_PAYLOAD = JSON.stringify({ operationSeq: 2, command: 'SELECT 1', rows: 1, bytes: 11, columns: ['abalance'], durationMs: 0.3 });
const HASH = 'a'.repeat(64);

class Sessions {
  private readonly seqs: number[];
  private readonly ids: string[];

  constructor(store: SqliteStore, count: number, prefix: string) {
    this.ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}-${crypto.randomUUID()}`);
    this.seqs = this.ids.map(() => 1);
    store.begin();
    for (const id of this.ids) {
      const time = Date.now();
      store.insertSession(
        { id, protocol: 'postgres', connection: 'bench', subject: 'agent', startedAt: time, endedAt: null, endedBy: null, lastSeq: null },
        { sessionId: id, seq: 1, time, type: 'session-start', payload: PAYLOAD, prevHash: sessionGenesis(id), hash: HASH },
      );
    }
    store.commit();
  }

  next(i: number, type: EventType = 'operation', payload = PAYLOAD): EventRow {
    const index = i % this.ids.length;
    const seq = ++this.seqs[index]!;
    return { sessionId: this.ids[index]!, seq, time: Date.now(), type, payload, prevHash: HASH, hash: HASH };
  }
}

function timed(units: number, events: number, work: () => void): Sample {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  work();
  const wallUs = Number(process.hrtime.bigint() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { wallUs, userUs: used.user, systemUs: used.system, units, events };
}

function measure(store: SqliteStore, shape: Shape, sessions: Sessions, totalEvents: number): Sample {
  const commits = Math.max(1, Math.floor(totalEvents / shape.events));
  const sample = timed(commits, commits * shape.events, () => {
    let i = 0;
    for (let c = 0; c < commits; c++) {
      store.begin();
      for (let e = 0; e < shape.events; e++) store.appendEvent(sessions.next(i++));
      store.commit();
    }
  });
  // The recorder checkpoints on its writer thread, never inside a commit: likewise here, between samples.
  store.checkpoint();
  return sample;
}

/** A journal segment file and the database its frames are applied to (each its own, in `dir`). */
class Journal {
  private readonly fd: number;
  private readonly store: SqliteStore;
  private readonly sessions: Sessions;
  /** Bytes in the segment (where the next frame goes). */
  private offset = 0;

  constructor(dir: string) {
    this.fd = openSync(path.join(dir, 'journal.log'), 'w');
    this.store = SqliteStore.open(dir, { durability: 'process' });
    this.store.stopAutoCheckpoint();
    this.sessions = new Sessions(this.store, JOURNAL.sessions, 'j');
  }

  measure(totalEvents: number): JournalSample {
    const transactions = Math.max(1, Math.floor(totalEvents / (JOURNAL.turnEvents * JOURNAL.turnsPerApply)));
    const turns = Array.from({ length: transactions * JOURNAL.turnsPerApply }, () => this.turn());
    const events = turns.length * JOURNAL.turnEvents;
    const frames: Buffer[] = [];
    const first = this.offset;
    const append = timed(turns.length, events, () => {
      for (const writes of turns) {
        const frame = encodeFrame(writes);
        writeAt(this.fd, frame, this.offset);
        this.offset += frame.length;
        frames.push(frame);
      }
    });
    // What the writer thread reads in a round: the bytes of 45 frames.
    const rounds = Array.from({ length: transactions }, (_, t) => Buffer.concat(frames.slice(t * JOURNAL.turnsPerApply, (t + 1) * JOURNAL.turnsPerApply)));
    let applied = first;
    const apply = timed(transactions, events, () => {
      for (const bytes of rounds) {
        const decoded = decodeFrames(bytes);
        if (decoded.stop !== undefined) throw new Error(`journal frames did not decode: ${decoded.stop.detail}`);
        applied += decoded.end;
        applyFrames(this.store, decoded.batches, { segment: 1, offset: applied });
      }
    });
    this.store.checkpoint();
    return { append, apply };
  }

  close(): void {
    closeSync(this.fd);
    this.store.close();
  }

  /** A turn's writes: each session's operation, then each one's outcome. */
  private turn(): StoreWrite[] {
    return Array.from({ length: JOURNAL.turnEvents }, (_, e): StoreWrite => {
      const outcome = e >= JOURNAL.sessions;
      return { op: 'appendEvent', event: this.sessions.next(e, outcome ? 'outcome' : 'operation', outcome ? OUTCOME_PAYLOAD : PAYLOAD) };
    });
  }
}

interface Costs {
  readonly unitWall: number;
  readonly eventWall: number;
  readonly eventUser: number;
  readonly eventSystem: number;
}

function costs(samples: readonly Sample[]): Costs {
  const perUnit = (f: (x: Sample) => number): number => median(samples.map((x) => f(x) / x.units));
  const perEvent = (f: (x: Sample) => number): number => median(samples.map((x) => f(x) / x.events));
  return { unitWall: perUnit((x) => x.wallUs), eventWall: perEvent((x) => x.wallUs), eventUser: perEvent((x) => x.userUs), eventSystem: perEvent((x) => x.systemUs) };
}

const eventCells = (c: Costs): string[] => [fmt(c.eventWall, 1), fmt(c.eventUser, 1), fmt(c.eventSystem, 1)];

function main(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-recorder-'));
  const journalDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-recorder-journal-'));
  try {
    const store = SqliteStore.open(dir, { durability: 'process' });
    store.stopAutoCheckpoint();
    const sessions = SHAPES.map((shape, i) => new Sessions(store, shape.sessions, `s${i}`));
    const journal = new Journal(journalDir);
    // Warm-up: page cache, statement preparation, JIT.
    const warmUp = Math.min(settings.events, 5_000);
    SHAPES.forEach((shape, i) => measure(store, shape, sessions[i]!, warmUp));
    journal.measure(warmUp);
    const samples = SHAPES.map(() => [] as Sample[]);
    const journalSamples: JournalSample[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      SHAPES.forEach((shape, i) => samples[i]!.push(measure(store, shape, sessions[i]!, settings.events)));
      journalSamples.push(journal.measure(settings.events));
    }
    store.close();
    journal.close();

    const rows = SHAPES.map((shape, i) => ({ shape, ...costs(samples[i]!) }));
    console.log(`# Recording store: group-commit cost (${settings.rounds} rounds × ${settings.events} events per shape, medians)\n`);
    console.log(
      markdownTable(
        ['batch', 'events', 'sessions', 'µs per commit (wall)', 'µs per event (wall)', 'user µs per event', 'system µs per event'],
        rows.map((r) => [r.shape.name, String(r.shape.events), String(r.shape.sessions), fmt(r.unitWall, 1), ...eventCells(r)]),
        ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
    );

    const append = costs(journalSamples.map((s) => s.append));
    const apply = costs(journalSamples.map((s) => s.apply));
    // Append and apply of a round cover the same events: their sum per event, median over rounds.
    const both = (f: (x: Sample) => number): number => median(journalSamples.map((s) => (f(s.append) + f(s.apply)) / s.append.events));
    const total: Costs = { unitWall: NaN, eventWall: both((x) => x.wallUs), eventUser: both((x) => x.userUs), eventSystem: both((x) => x.systemUs) };
    const commit = rows.find((r) => r.shape.name === COMMIT_PER_TURN)!;
    const turnEvents = JOURNAL.turnEvents * JOURNAL.turnsPerApply;
    console.log(`\n# Recording journal: append per turn + bulk apply (same rounds, medians; turn: ${JOURNAL.turnEvents} events over ${JOURNAL.sessions} sessions)\n`);
    console.log(
      markdownTable(
        ['step', 'events per unit', 'µs per unit (wall)', 'µs per event (wall)', 'user µs per event', 'system µs per event'],
        [
          ['append (main thread): encodeFrame + writeSync, per turn', String(JOURNAL.turnEvents), fmt(append.unitWall, 1), ...eventCells(append)],
          [`apply (writer thread's work, here in-process): ${JOURNAL.turnsPerApply} turns per transaction`, String(turnEvents), fmt(apply.unitWall, 1), ...eventCells(apply)],
          ['journal total per event (append + apply)', '', '', ...eventCells(total)],
          [`old path: a commit per turn (${COMMIT_PER_TURN})`, String(commit.shape.events), fmt(commit.unitWall, 1), ...eventCells(commit)],
        ],
        ['left', 'right', 'right', 'right', 'right', 'right'],
      ),
    );

    const figures: Figure[] = [
      ...rows.map((r) => ({ name: `recording store, ${r.shape.name}: µs per event (wall)`, value: r.eventWall, unit: 'µs' })),
      { name: 'recording journal, pgbench -c 8 turn: append µs per event (wall)', value: append.eventWall, unit: 'µs' },
      { name: `recording journal, apply ${JOURNAL.turnsPerApply} turns per transaction: µs per event (wall)`, value: apply.eventWall, unit: 'µs' },
      { name: 'recording journal, pgbench -c 8 turn: append + apply µs per event (wall)', value: total.eventWall, unit: 'µs' },
    ];
    reportFigures({ bench: 'bench:recorder', command: commandOf('bench:recorder', 'BENCH_RECORDER_'), figures });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(journalDir, { recursive: true, force: true });
  }
}

main();
