/**
 * `npm run bench:recorder` — what one group commit of the recording store costs, in-process:
 * the real SqliteStore (schema, WAL, durability `process`, the recorder's checkpointing
 * off the commit) committing batches of session events, no network, no gateway.
 *
 * It prices the write-before-forward step of every recorded statement. Each shape is a
 * batch of `events` events spread over `sessions` sessions (round robin): one statement of
 * one session; a turn of pgbench -c 8 (one or two statements from each of 8 sessions); and
 * the large batches a bulk ingester would write (hundreds of events, few sessions each).
 * Reported per commit and per event: wall time, and the process's user and system CPU
 * (process.cpuUsage, this thread only does the work). The shapes run interleaved in rounds.
 *
 * Env: BENCH_RECORDER_EVENTS (40000: events per shape per round), BENCH_RECORDER_ROUNDS (3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sessionGenesis } from '../src/recording/chain.js';
import { SqliteStore } from '../src/recording/sqlite-store.js';
import type { EventRow } from '../src/recording/store.js';
import { intEnv } from './support/env.js';
import { commandOf, reportFigures, type Figure } from './support/report.js';
import { fmt, markdownTable } from './support/table.js';

interface Shape {
  readonly name: string;
  readonly events: number;
  readonly sessions: number;
}

const SHAPES: readonly Shape[] = [
  { name: 'one statement', events: 1, sessions: 1 },
  { name: 'pgbench -c 8 turn', events: 8, sessions: 8 },
  { name: 'pgbench -c 8, two per session', events: 16, sessions: 8 },
  { name: 'bulk: 512 events, 8 sessions', events: 512, sessions: 8 },
  { name: 'bulk: 512 events, 64 sessions', events: 512, sessions: 64 },
];

interface Sample {
  readonly wallUs: number;
  readonly userUs: number;
  readonly systemUs: number;
  readonly commits: number;
  readonly events: number;
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

  next(i: number): EventRow {
    const index = i % this.ids.length;
    const seq = ++this.seqs[index]!;
    return { sessionId: this.ids[index]!, seq, time: Date.now(), type: 'operation', payload: PAYLOAD, prevHash: HASH, hash: HASH };
  }
}

function measure(store: SqliteStore, shape: Shape, sessions: Sessions, totalEvents: number): Sample {
  const commits = Math.max(1, Math.floor(totalEvents / shape.events));
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let i = 0;
  for (let c = 0; c < commits; c++) {
    store.begin();
    for (let e = 0; e < shape.events; e++) store.appendEvent(sessions.next(i++));
    store.commit();
  }
  const wallUs = Number(process.hrtime.bigint() - start) / 1000;
  const used = process.cpuUsage(cpu);
  // The recorder checkpoints on its writer thread, never inside a commit: likewise here, between samples.
  store.checkpoint();
  return { wallUs, userUs: used.user, systemUs: used.system, commits, events: commits * shape.events };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function main(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-recorder-'));
  try {
    const store = SqliteStore.open(dir, { durability: 'process' });
    store.stopAutoCheckpoint();
    const sessions = SHAPES.map((shape, i) => new Sessions(store, shape.sessions, `s${i}`));
    // Warm-up: page cache, statement preparation, JIT.
    SHAPES.forEach((shape, i) => measure(store, shape, sessions[i]!, Math.min(settings.events, 5_000)));
    const samples = SHAPES.map(() => [] as Sample[]);
    for (let round = 0; round < settings.rounds; round++) {
      SHAPES.forEach((shape, i) => samples[i]!.push(measure(store, shape, sessions[i]!, settings.events)));
    }
    store.close();

    const rows = SHAPES.map((shape, i) => {
      const s = samples[i]!;
      const perCommit = (f: (x: Sample) => number): number => median(s.map((x) => f(x) / x.commits));
      const perEvent = (f: (x: Sample) => number): number => median(s.map((x) => f(x) / x.events));
      return {
        shape,
        commitWall: perCommit((x) => x.wallUs),
        eventWall: perEvent((x) => x.wallUs),
        eventUser: perEvent((x) => x.userUs),
        eventSystem: perEvent((x) => x.systemUs),
      };
    });
    console.log(`# Recording store: group-commit cost (${settings.rounds} rounds × ${settings.events} events per shape, medians)\n`);
    console.log(
      markdownTable(
        ['batch', 'events', 'sessions', 'µs per commit (wall)', 'µs per event (wall)', 'user µs per event', 'system µs per event'],
        rows.map((r) => [r.shape.name, String(r.shape.events), String(r.shape.sessions), fmt(r.commitWall, 1), fmt(r.eventWall, 1), fmt(r.eventUser, 1), fmt(r.eventSystem, 1)]),
        ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
    );
    const figures: Figure[] = rows.map((r) => ({ name: `recording store, ${r.shape.name}: µs per event (wall)`, value: r.eventWall, unit: 'µs' }));
    reportFigures({ bench: 'bench:recorder', command: commandOf('bench:recorder', 'BENCH_RECORDER_'), figures });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
