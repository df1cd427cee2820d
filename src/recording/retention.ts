/**
 * Retention: an ended session is pruned — its events and index row deleted — once it ended
 * longer ago than its connection's retention (`connections[].retention`, else
 * `recording.retention`; neither set: kept forever). Whole sessions only, never an open one.
 *
 * The chain stays verifiable: each transaction that deletes sessions also appends a `prune`
 * entry naming each one's seal, and a signed checkpoint (ChainRecorder.pruneExpired);
 * `verifyAudit` accepts a sealed session without events only when such an entry covers it.
 * The global chain itself is never pruned: a seal and a prune line per session remain.
 *
 * `startRetention` runs it in the background — right after start, then every hour — in
 * bounded transactions (a few hundred sessions, about ten thousand events each) with a turn
 * of the event loop between them, since the store is synchronous.
 */
import type { PrunedSession } from './chain.js';
import type { PruneBatch } from './chain-recorder.js';
import type { AuditLog, SessionStore } from './store.js';
import { parseSeal } from './verify.js';
import { silentLogger, type Logger } from '../log.js';

/** How long ended sessions are kept, in ms (undefined: forever). */
export interface RetentionPolicy {
  /** `recording.retention`: for connections without their own. */
  readonly defaultMs: number | undefined;
  /** `connections[].retention`: ms, or null for `forever`. Connections not listed use the default. */
  readonly connections: ReadonlyMap<string, number | null>;
}

export const KEEP_FOREVER: RetentionPolicy = { defaultMs: undefined, connections: new Map() };

export interface PruneLimits {
  /** Sessions per transaction (default 200). */
  readonly maxSessions?: number;
  /** Events per transaction, about (default 10 000): a transaction takes at least one session, however long. */
  readonly maxEvents?: number;
}

export const DEFAULT_RETENTION_INTERVAL_MS = 3_600_000;
const DEFAULT_MAX_SESSIONS = 200;
const DEFAULT_MAX_EVENTS = 10_000;

/** The policy the configuration sets. */
export function retentionPolicy(config: {
  readonly recording: { readonly retentionMs?: number | undefined };
  readonly connections: readonly { readonly name: string; readonly retentionMs?: number | null | undefined }[];
}): RetentionPolicy {
  const connections = new Map<string, number | null>();
  for (const connection of config.connections) {
    if (connection.retentionMs !== undefined) connections.set(connection.name, connection.retentionMs);
  }
  return { defaultMs: config.recording.retentionMs, connections };
}

/** The retention of `connection`'s sessions (ms), or undefined when they are kept forever. */
export function retentionFor(policy: RetentionPolicy, connection: string): number | undefined {
  const own = policy.connections.get(connection);
  return own === null ? undefined : (own ?? policy.defaultMs);
}

/** Whether the policy can ever prune anything (otherwise no timer is started). */
export function prunesAnything(policy: RetentionPolicy): boolean {
  return policy.defaultMs !== undefined || [...policy.connections.values()].some((ms) => ms !== null);
}

type ExpiredSource = Pick<SessionStore, 'sessionConnections' | 'endedSessions' | 'sessionHead'> & Pick<AuditLog, 'sealOf'>;

/**
 * The expired sessions to prune in one transaction, oldest end first per connection, within
 * `limits`; `more` when some were left for the next one. A session whose seal is missing or
 * does not match its last event is never pruned (that would destroy the evidence): it is
 * logged for "portcullis audit verify" to report.
 */
export function selectExpired(
  store: ExpiredSource,
  policy: RetentionPolicy,
  now: number,
  limits: PruneLimits,
  logger: Logger,
): { sessions: PrunedSession[]; more: boolean } {
  const maxSessions = limits.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
  const sessions: PrunedSession[] = [];
  let events = 0;
  let more = false;
  for (const connection of store.sessionConnections()) {
    const retentionMs = retentionFor(policy, connection);
    if (retentionMs === undefined) continue;
    const limit = maxSessions - sessions.length + 1;
    const rows = store.endedSessions(connection, now - retentionMs, limit);
    if (rows.length === limit) more = true;
    for (const row of rows) {
      const lastSeq = row.lastSeq ?? 0;
      if (sessions.length >= maxSessions || (sessions.length > 0 && events + lastSeq > maxEvents)) return { sessions, more: true };
      const sealEntry = store.sealOf(row.id);
      const seal = sealEntry === undefined ? undefined : parseSeal(sealEntry.payload);
      const head = store.sessionHead(row.id);
      if (sealEntry === undefined || seal === undefined || head === undefined || head.seq !== seal.lastSeq || head.hash !== seal.lastHash) {
        logger.error('recording retention: not pruning a session whose seal is missing or does not match its events; run "portcullis audit verify"', {
          sessionId: row.id,
        });
        continue;
      }
      sessions.push({
        id: row.id,
        connection,
        sealSeq: sealEntry.seq,
        lastSeq: seal.lastSeq,
        lastHash: seal.lastHash,
        endedAt: row.endedAt as number,
        retentionMs,
      });
      events += lastSeq;
    }
    if (sessions.length >= maxSessions) break;
  }
  return { sessions, more };
}

/** What retention drives: ChainRecorder. */
export interface Pruner {
  pruneExpired(policy: RetentionPolicy, options?: PruneLimits & { readonly now?: number }): PruneBatch;
}

/** Prunes everything expired at `now`, one bounded transaction after another (synchronously); returns what was pruned. */
export function pruneExpired(recorder: Pruner, policy: RetentionPolicy, now: number = Date.now(), limits: PruneLimits = {}): PrunedSession[] {
  const pruned: PrunedSession[] = [];
  for (;;) {
    const batch = recorder.pruneExpired(policy, { ...limits, now });
    pruned.push(...batch.pruned);
    if (!batch.more) return pruned;
  }
}

export interface RetentionOptions extends PruneLimits {
  /** Between runs (default 1 h). The first run starts right away. */
  readonly intervalMs?: number;
  readonly logger?: Logger;
  /** Epoch ms (tests inject a clock). */
  readonly now?: () => number;
}

/**
 * Prunes in the background: a run right away, then one every `intervalMs`; each run is a
 * series of bounded transactions with a turn of the event loop between them. A failed run is
 * logged and retried at the next one. Returns `stop` (call it before closing the recorder);
 * timers do not keep the process alive. Starts nothing when the policy keeps everything.
 */
export function startRetention(recorder: Pruner, policy: RetentionPolicy, options: RetentionOptions = {}): () => void {
  if (!prunesAnything(policy)) return () => undefined;
  const intervalMs = options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
  const logger = options.logger ?? silentLogger;
  const clock = options.now ?? Date.now;
  const limits: PruneLimits = {
    ...(options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions }),
    ...(options.maxEvents === undefined ? {} : { maxEvents: options.maxEvents }),
  };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let step: NodeJS.Immediate | undefined;

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(run, delayMs);
    timer.unref();
  };
  function run(): void {
    const now = clock();
    let total = 0;
    const next = (): void => {
      step = undefined;
      if (stopped) return;
      let batch: PruneBatch;
      try {
        batch = recorder.pruneExpired(policy, { ...limits, now });
      } catch (error) {
        logger.error('recording retention: pruning failed; retrying at the next run', { error, nextRunInMs: intervalMs });
        schedule(intervalMs);
        return;
      }
      total += batch.pruned.length;
      if (batch.more) {
        step = setImmediate(next);
        step.unref();
        return;
      }
      if (total > 0) logger.info('recording retention: run complete', { pruned: total });
      schedule(intervalMs);
    };
    next();
  }

  schedule(0);
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    if (step !== undefined) clearImmediate(step);
  };
}
