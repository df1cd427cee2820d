/**
 * `npm run bench:verify` — how fast `portcullis audit verify` checks a recording: events
 * verified per second, offline, from the SQLite file (read-only, in one snapshot), exactly as
 * the command does it. Target (issue 4): ≥ 100 000 events/s.
 *
 * The recording is written by the real recorder (group commit, as the gateway writes):
 * sessions of one start, statements (an operation with facts and its outcome) and an end,
 * sealed into the global chain with a checkpoint every 100 entries; then the oldest tenth
 * is pruned by retention, so the verifier also walks seals whose sessions are gone.
 *
 * Env: BENCH_VERIFY_SESSIONS (2000), BENCH_VERIFY_STATEMENTS (49 per session: 100 events
 * with start and end), BENCH_VERIFY_RUNS (5: verifications timed; the median is reported).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChainRecorder } from '../src/recording/chain-recorder.js';
import { FileKeyStore } from '../src/recording/key-store.js';
import { pruneExpired } from '../src/recording/retention.js';
import { openRecorder } from '../src/recording/sqlite-recorder.js';
import { DATABASE_FILE, SqliteStore } from '../src/recording/sqlite-store.js';
import { verifyAudit, type VerifyResult } from '../src/recording/verify.js';
import { intEnv } from './support/env.js';
import { fmt, markdownTable, mb, median } from './support/table.js';

const settings = {
  sessions: intEnv('BENCH_VERIFY_SESSIONS', 2000, 1),
  statements: intEnv('BENCH_VERIFY_STATEMENTS', 49, 0),
  runs: intEnv('BENCH_VERIFY_RUNS', 5, 1),
};

const TARGET_EVENTS_PER_SECOND = 100_000;
const DAY = 86_400_000;

const FACTS = [{ kind: 'select', class: 'read', tables: [{ schema: 'public', name: 'orders', access: 'read' }] }];

async function record(dataDir: string): Promise<void> {
  let now = Date.UTC(2025, 0, 1);
  const recorder: ChainRecorder = openRecorder(dataDir, { groupCommit: true, now: () => (now += 7) });
  for (let s = 0; s < settings.sessions; s++) {
    const sessionId = `bench-${String(s).padStart(6, '0')}`;
    recorder.sessionStarted({
      sessionId,
      protocol: 'postgres',
      connection: 'demo',
      identity: { subject: 'agent', clientId: 'bench', groups: ['agents'] },
      clientAddress: '127.0.0.1:40000',
      tls: true,
    });
    for (let i = 0; i < settings.statements; i++) {
      const text = `SELECT id, customer_id, amount_cents, status FROM orders WHERE id = ${s * 1000 + i}`;
      const operationSeq = recorder.operation({ sessionId, via: 'simple-query', text, effect: 'allow', rule: 'reads-ok', reason: 'reads are allowed', facts: FACTS });
      recorder.outcome({ sessionId, operationSeq, command: 'SELECT 1', rows: 1, bytes: 64, columns: ['id', 'customer_id', 'amount_cents', 'status'], durationMs: 1 });
    }
    recorder.sessionEnded({ sessionId, endedBy: 'client', reason: 'client disconnected' });
    // Let each turn's group commit happen, as the gateway's event loop does.
    if (s % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => recorder.whenDurable(resolve));
  // The oldest tenth is past a one-day retention a day after the first of them ended.
  const cutoff = Date.UTC(2025, 0, 1) + DAY + Math.floor((now - Date.UTC(2025, 0, 1)) / 10);
  pruneExpired(recorder, { defaultMs: DAY, connections: new Map() }, cutoff);
  recorder.close();
}

function verifyOnce(dataDir: string): { result: VerifyResult; ms: number } {
  const publicKey = FileKeyStore.open(dataDir).publicKey();
  const started = process.hrtime.bigint();
  const store = SqliteStore.open(dataDir, { readonly: true });
  try {
    const result = store.snapshot(() => verifyAudit(store, publicKey));
    return { result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  } finally {
    store.close();
  }
}

async function main(): Promise<void> {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-verify-'));
  const dataDir = path.join(parent, 'data');
  try {
    const building = Date.now();
    await record(dataDir);
    console.log(`recorded ${settings.sessions} sessions in ${fmt((Date.now() - building) / 1000, 1)} s; ${DATABASE_FILE} is ${mb(statSync(path.join(dataDir, DATABASE_FILE)).size)}\n`);

    verifyOnce(dataDir); // warm-up: page cache, JIT
    const runs = Array.from({ length: settings.runs }, () => verifyOnce(dataDir));
    const last = runs[runs.length - 1]!.result;
    if (!last.ok) throw new Error(`the recording does not verify: ${JSON.stringify(last.problems.slice(0, 5))}`);
    const perSecond = runs.map((run) => (run.result.checkedEvents / run.ms) * 1000);
    console.log(
      markdownTable(
        ['events', 'sessions', 'pruned', 'global entries', 'median ms', 'events/s (median)', 'events/s (min)', 'target'],
        [
          [
            fmt(last.checkedEvents),
            fmt(last.checkedSessions),
            fmt(last.prunedSessions),
            fmt(last.checkedAuditEntries),
            fmt(median(runs.map((run) => run.ms)), 1),
            fmt(median(perSecond)),
            fmt(Math.min(...perSecond)),
            `≥ ${fmt(TARGET_EVENTS_PER_SECOND)}`,
          ],
        ],
        ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
    );
    const met = median(perSecond) >= TARGET_EVENTS_PER_SECOND;
    console.log(`\n${met ? 'target met' : 'TARGET MISSED'}: ${fmt(median(perSecond))} events/s (median of ${settings.runs})`);
    if (!met) process.exitCode = 1;
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}

await main();
